//! A map that remembers which keys were changed since it was last asked.
//!
//! The published read model (`publish`) rebuilds only the views whose state changed. Rather
//! than trusting every call site to say so, the state the views read lives in `Tracked`
//! maps: the only ways to change an entry (`get_mut`, `insert`, `remove`, `entry`) record
//! its key, so no change can escape the compiler. Reads are free.

use std::borrow::Borrow;
use std::collections::hash_map::{self, HashMap};
use std::collections::HashSet;
use std::hash::Hash;

#[derive(Debug)]
pub(super) struct Tracked<K, V> {
    entries: HashMap<K, V>,
    /// Keys changed, added or removed since the last `take_changed`.
    changed: HashSet<K>,
}

impl<K, V> Default for Tracked<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            changed: HashSet::new(),
        }
    }
}

impl<K: Eq + Hash + Clone, V> Tracked<K, V> {
    fn mark<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if !self.changed.contains(key) {
            self.changed.insert(key.to_owned());
        }
    }

    /// The keys changed since the last call, forgetting them.
    pub(super) fn take_changed(&mut self) -> HashSet<K> {
        std::mem::take(&mut self.changed)
    }

    #[cfg(test)]
    fn changed_len(&self) -> usize {
        self.changed.len()
    }

    pub(super) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key)
    }

    pub(super) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.contains_key(key)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn keys(&self) -> hash_map::Keys<'_, K, V> {
        self.entries.keys()
    }

    pub(super) fn values(&self) -> hash_map::Values<'_, K, V> {
        self.entries.values()
    }

    pub(super) fn iter(&self) -> hash_map::Iter<'_, K, V> {
        self.entries.iter()
    }

    pub(super) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let value = self.entries.get_mut(key)?;
        if !self.changed.contains(key) {
            self.changed.insert(key.to_owned());
        }
        Some(value)
    }

    pub(super) fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.mark(&key);
        self.entries.insert(key, value)
    }

    pub(super) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let removed = self.entries.remove(key);
        if removed.is_some() {
            self.mark(key);
        }
        removed
    }

    pub(super) fn entry(&mut self, key: K) -> hash_map::Entry<'_, K, V> {
        self.mark(&key);
        self.entries.entry(key)
    }
}

impl<K: Eq + Hash + Clone, V, Q> std::ops::Index<&Q> for Tracked<K, V>
where
    K: Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    type Output = V;

    fn index(&self, key: &Q) -> &V {
        &self.entries[key]
    }
}

impl<'a, K, V> IntoIterator for &'a Tracked<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = hash_map::Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_to_change_an_entry_marks_its_key() {
        let mut map: Tracked<String, u32> = Tracked::default();
        map.insert("a".to_owned(), 1);
        *map.entry("b".to_owned()).or_default() += 1;
        assert_eq!(map.take_changed().len(), 2);
        if let Some(v) = map.get_mut("a") {
            *v += 1;
        }
        map.remove("b");
        let changed = map.take_changed();
        assert!(changed.contains("a") && changed.contains("b"));
    }

    #[test]
    fn reading_or_missing_keys_mark_nothing() {
        let mut map: Tracked<String, u32> = Tracked::default();
        map.insert("a".to_owned(), 1);
        map.take_changed();
        let _ = (map.get("a"), map.contains_key("a"), map.iter().count());
        assert!(map.get_mut("zz").is_none());
        assert!(map.remove("zz").is_none());
        assert_eq!(map.changed_len(), 0);
    }
}
