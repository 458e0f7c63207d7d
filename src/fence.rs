//! Whether this process may command switches: the fencing of a controller pair.
//!
//! Two controllers on one database must never both drive a switch. The leader holds a lease in
//! the database; each renewal extends this local deadline to a point that ends before the
//! database's lease does (measured from before the renewal was sent), so once a standby may
//! take over, the deposed leader's own clock has already closed its fence. Every path that
//! writes to a switch asks [`Fence::permits`] right before writing. A lone controller (SQLite,
//! the demo, the tests) uses an open fence.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A shared "may command until" deadline. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fence {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Never closes (a lone controller).
    open: bool,
    /// Nanoseconds since [`base`] until which commands may go; 0: none.
    until: AtomicU64,
    /// Set once leadership is lost: nothing re-opens it.
    revoked: AtomicBool,
    /// Commands refused by this fence.
    refused: AtomicU64,
}

/// The process's reference instant (monotonic).
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn nanos_since_base(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(base()).as_nanos()).unwrap_or(u64::MAX)
}

impl Fence {
    /// A fence that always permits: the only controller of its database.
    pub fn open() -> Fence {
        Fence::new(true)
    }

    /// A fence that permits nothing until [`Fence::extend`]: a controller of a pair.
    pub fn closed() -> Fence {
        Fence::new(false)
    }

    fn new(open: bool) -> Fence {
        base();
        Fence {
            inner: Arc::new(Inner {
                open,
                until: AtomicU64::new(0),
                revoked: AtomicBool::new(false),
                refused: AtomicU64::new(0),
            }),
        }
    }

    /// Whether a command may be written now.
    pub fn permits(&self) -> bool {
        if self.inner.open {
            return true;
        }
        !self.inner.revoked.load(Ordering::SeqCst)
            && nanos_since_base(Instant::now()) < self.inner.until.load(Ordering::SeqCst)
    }

    /// [`Fence::permits`], counting a refusal.
    pub fn check(&self) -> bool {
        let permits = self.permits();
        if !permits {
            self.inner.refused.fetch_add(1, Ordering::Relaxed);
        }
        permits
    }

    /// Commands may go until `sent_at + lease - margin` (never moves the deadline back, never
    /// re-opens a revoked fence). `sent_at` is taken before the renewal was sent.
    pub fn extend(&self, sent_at: Instant, lease: Duration, margin: Duration) {
        let until = nanos_since_base(sent_at + lease.saturating_sub(margin));
        self.inner.until.fetch_max(until, Ordering::SeqCst);
    }

    /// Closes the fence for good: leadership is lost.
    pub fn revoke(&self) {
        self.inner.revoked.store(true, Ordering::SeqCst);
    }

    /// How many commands it refused.
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_fence_always_permits() {
        let fence = Fence::open();
        fence.revoke();
        assert!(fence.permits());
    }

    #[test]
    fn a_closed_fence_permits_only_within_its_lease_and_never_after_a_revoke() {
        let fence = Fence::closed();
        assert!(!fence.check());
        let now = Instant::now();
        fence.extend(now, Duration::from_secs(3), Duration::from_millis(500));
        assert!(fence.permits());
        // An older renewal does not shorten the deadline.
        fence.extend(
            now - Duration::from_secs(10),
            Duration::from_secs(3),
            Duration::ZERO,
        );
        assert!(fence.permits());
        fence.revoke();
        assert!(!fence.check());
        fence.extend(Instant::now(), Duration::from_secs(3), Duration::ZERO);
        assert!(!fence.permits());
        assert_eq!(fence.refused(), 2);
    }

    #[test]
    fn a_lease_shorter_than_its_margin_permits_nothing() {
        let fence = Fence::closed();
        fence.extend(
            Instant::now(),
            Duration::from_millis(100),
            Duration::from_millis(200),
        );
        assert!(!fence.permits());
    }
}
