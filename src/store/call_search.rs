//! Searching the call history (`GET /v1/calls` with filters): by time range, queue, agent,
//! outcome and caller number, newest first, a page at a time with a keyset cursor.
//!
//! Only the filters given enter the query, and each has an index that leads with it and goes on
//! with `(entered_at, id)` (migration 0015), so a page costs a walk down one index from the
//! cursor, not a scan and a sort of the month: the cursor is the last row's `(entered_at, id)`,
//! which stays valid while calls are added (new calls are newer, on pages before it).
//!
//! A number (exact or a prefix) is searched on its own index on SQLite, which has no statistics
//! to weigh it against the time range; PostgreSQL's planner chooses by its statistics.
//!
//! A queue matches the queue a call entered and the one it last overflowed into: the two are
//! searched as two index walks of a page each, merged (a single `OR` would make the database
//! collect and sort every match of the period).

use std::fmt;

use serde::{Serialize, Serializer};

use super::rows::{call_row, CallRow};
use super::{Backend, Store, StoreError};
use crate::engine::{AgentId, CallId, CallOutcome, QueueId, Timestamp};

/// The calls a search may be limited to by how they ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    Ended(CallOutcome),
    /// Not ended yet (waiting, ringing or talking).
    Active,
}

impl OutcomeFilter {
    /// `completed`, `abandoned`, ... (a call outcome) or `active`.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "active" {
            return Some(Self::Active);
        }
        CallOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .map(Self::Ended)
    }

    /// Every value `parse` accepts, for error messages and the docs.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = CallOutcome::ALL.iter().map(|o| o.as_str()).collect();
        names.push("active");
        names
    }
}

/// The caller's number: exactly, or starting with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberFilter {
    Exact(String),
    Prefix(String),
}

impl NumberFilter {
    /// `+4930123` is exact; `+4930*` a prefix (a `*` only at the end).
    pub fn parse(s: &str) -> Option<Self> {
        let (body, prefix) = match s.strip_suffix('*') {
            Some(body) => (body, true),
            None => (s, false),
        };
        if body.is_empty() || body.contains('*') || body.chars().any(char::is_control) {
            return None;
        }
        Some(if prefix {
            Self::Prefix(body.to_owned())
        } else {
            Self::Exact(body.to_owned())
        })
    }
}

/// Where a page of calls ends: the next page starts after it (older).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCursor {
    pub entered_at: Timestamp,
    pub id: CallId,
}

impl fmt::Display for CallCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.entered_at.as_millis(), self.id)
    }
}

impl std::str::FromStr for CallCursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("{s:?} is not a cursor: pass the \"next_cursor\" of the previous page");
        let (at, id) = s.split_once('_').ok_or_else(bad)?;
        Ok(Self {
            entered_at: Timestamp::from_millis(at.parse().map_err(|_| bad())?),
            id: CallId::parse(id).map_err(|_| bad())?,
        })
    }
}

impl Serialize for CallCursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a search asks for; every filter given must hold. Newest first (by entry time, then id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSearch {
    /// Entered at or after.
    pub from: Option<Timestamp>,
    /// Entered before.
    pub to: Option<Timestamp>,
    /// Entered this queue or overflowed into it.
    pub queue: Option<QueueId>,
    /// Answered by this agent.
    pub agent: Option<AgentId>,
    pub outcome: Option<OutcomeFilter>,
    pub number: Option<NumberFilter>,
    /// At most this many (at least one).
    pub limit: u32,
    /// Only calls after this cursor (older).
    pub after: Option<CallCursor>,
}

impl Default for CallSearch {
    fn default() -> Self {
        Self {
            from: None,
            to: None,
            queue: None,
            agent: None,
            outcome: None,
            number: None,
            limit: 50,
            after: None,
        }
    }
}

/// One page of a search, and where the next starts when there may be more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSearchPage {
    pub calls: Vec<CallRow>,
    pub next: Option<CallCursor>,
}

enum Bound {
    Int(i64),
    Text(String),
}

/// The columns a search returns (as `history::CALL_COLUMNS`, from the table aliased `c`).
const COLUMNS: &str = "c.disposition, c.id, c.switch, c.caller_channel, c.queue_id, \
     c.caller_number, c.caller_name, c.destination, c.priority, c.entered_at, c.answered_at, \
     c.ended_at, c.agent_id, c.agent_channel, c.wait_ms, c.talk_ms, c.outcome, c.hangup_cause, \
     c.hold_ms, c.holds";

/// `LIKE` pattern of a prefix, its wildcards escaped (with `\`).
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for ch in prefix.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// The first string after every string that starts with `prefix`, in byte order (SQLite's
/// `BINARY` collation): the prefix with its last character moved one up. `None` when no such
/// string exists (a prefix of only `char::MAX`).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl Store {
    /// Calls matching `search`, newest first (by entry time, then id), at most `search.limit`,
    /// with the cursor of the next page when there may be one. Calls in progress are in the
    /// history from the moment they enter a queue, so they are found too (`outcome` null).
    pub async fn search_calls(&self, search: &CallSearch) -> Result<CallSearchPage, StoreError> {
        let limit = search.limit.max(1);
        let mut bound: Vec<Bound> = Vec::new();
        let mut bind = |value: Bound| {
            bound.push(value);
            format!("${}", bound.len())
        };
        let mut conditions: Vec<String> = Vec::new();
        if let Some(from) = search.from {
            let p = bind(Bound::Int(from.as_millis()));
            conditions.push(format!("c.entered_at >= {p}"));
        }
        // One upper bound only, the tighter of `to` and the cursor: SQLite bounds an index range
        // by one of them and would check the other row by row from the end of the period.
        let cursor_bounds = match (search.to, search.after) {
            (Some(to), Some(after)) => after.entered_at < to,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if let (true, Some(after)) = (cursor_bounds, search.after) {
            let at = bind(Bound::Int(after.entered_at.as_millis()));
            let id = bind(Bound::Text(after.id.to_string()));
            // The first term alone bounds the index range; the second settles ties.
            conditions.push(format!(
                "c.entered_at <= {at} AND (c.entered_at < {at} OR c.id < {id})"
            ));
        } else if let Some(to) = search.to {
            // Every call before `to` is also after a cursor at or past it.
            let p = bind(Bound::Int(to.as_millis()));
            conditions.push(format!("c.entered_at < {p}"));
        }
        if let Some(agent) = &search.agent {
            let p = bind(Bound::Text(agent.as_str().to_owned()));
            conditions.push(format!("c.agent_id = {p}"));
        }
        match search.outcome {
            None => {}
            Some(OutcomeFilter::Active) => conditions.push("c.ended_at IS NULL".to_owned()),
            Some(OutcomeFilter::Ended(outcome)) => {
                let p = bind(Bound::Text(outcome.as_str().to_owned()));
                conditions.push(format!("c.outcome = {p}"));
            }
        }
        match &search.number {
            None => {}
            Some(NumberFilter::Exact(number)) => {
                let p = bind(Bound::Text(number.clone()));
                conditions.push(format!("c.caller_number = {p}"));
            }
            // PostgreSQL: LIKE, on the `text_pattern_ops` index (right in any collation).
            // SQLite: LIKE there ignores case and no index; a range in byte order uses one.
            Some(NumberFilter::Prefix(prefix)) => match self.backend {
                Backend::Postgres => {
                    let p = bind(Bound::Text(like_prefix(prefix)));
                    conditions.push(format!("c.caller_number LIKE {p}"));
                }
                Backend::Sqlite => {
                    let p = bind(Bound::Text(prefix.clone()));
                    conditions.push(format!("c.caller_number >= {p}"));
                    if let Some(end) = prefix_end(prefix) {
                        let e = bind(Bound::Text(end));
                        conditions.push(format!("c.caller_number < {e}"));
                    }
                }
            },
        }
        let page = bind(Bound::Int(i64::from(limit) + 1));
        let order = "ORDER BY c.entered_at DESC, c.id DESC";
        // SQLite keeps no statistics that would tell it a number is rarer than a month: without
        // the hint it walks the time index and checks every call's number.
        let sqlite = self.backend == Backend::Sqlite;
        let calls = match &search.number {
            Some(_) if sqlite => "calls c INDEXED BY calls_by_caller_number",
            _ => "calls c",
        };
        // Nor that few calls ever move: it would walk another filter's index to find them.
        let moved_calls = if sqlite {
            "calls c INDEXED BY calls_by_current_queue"
        } else {
            "calls c"
        };
        let sql = match &search.queue {
            None => {
                let filter = where_clause(&conditions);
                format!("SELECT {COLUMNS} FROM {calls} {filter} {order} LIMIT {page}")
            }
            Some(queue) => {
                let q = bind(Bound::Text(queue.as_str().to_owned()));
                let entered =
                    where_clause(&[conditions.clone(), vec![format!("c.queue_id = {q}")]].concat());
                let moved = where_clause(
                    &[
                        conditions.clone(),
                        vec![
                            format!("c.current_queue = {q}"),
                            format!("c.queue_id <> {q}"),
                        ],
                    ]
                    .concat(),
                );
                format!(
                    "SELECT {COLUMNS} FROM calls c WHERE c.id IN ( \
                     SELECT id FROM (SELECT c.id FROM {calls} {entered} {order} LIMIT {page}) e \
                     UNION ALL \
                     SELECT id FROM (SELECT c.id FROM {moved_calls} {moved} {order} LIMIT {page}) m) \
                     {order} LIMIT {page}"
                )
            }
        };
        let mut query = sqlx::query(&sql);
        for value in bound {
            query = match value {
                Bound::Int(n) => query.bind(n),
                Bound::Text(s) => query.bind(s),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut calls = rows.iter().map(call_row).collect::<Result<Vec<_>, _>>()?;
        let more = calls.len() > limit as usize;
        calls.truncate(limit as usize);
        let next = calls.last().filter(|_| more).map(|last| CallCursor {
            entered_at: last.entered_at,
            id: last.id,
        });
        Ok(CallSearchPage { calls, next })
    }
}

fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_star_makes_a_prefix_and_a_star_elsewhere_is_refused() {
        assert_eq!(
            NumberFilter::parse("+4930*"),
            Some(NumberFilter::Prefix("+4930".into()))
        );
        assert_eq!(
            NumberFilter::parse("+4930123"),
            Some(NumberFilter::Exact("+4930123".into()))
        );
        assert_eq!(NumberFilter::parse("*"), None);
        assert_eq!(NumberFilter::parse("+49*30*"), None);
        assert_eq!(NumberFilter::parse(""), None);
    }

    #[test]
    fn a_prefix_range_ends_at_the_prefix_with_its_last_character_moved_up() {
        assert_eq!(prefix_end("+4930").as_deref(), Some("+4931"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
    }

    #[test]
    fn like_wildcards_in_a_prefix_are_escaped() {
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_refuses_anything_else() {
        let cursor = CallCursor {
            entered_at: Timestamp::from_millis(1_700_000_000_123),
            id: CallId::from_uuid(uuid::Uuid::nil()),
        };
        assert_eq!(cursor.to_string().parse::<CallCursor>(), Ok(cursor));
        for bad in [
            "",
            "12",
            "x_00000000-0000-0000-0000-000000000000",
            "12_nope",
        ] {
            assert!(bad.parse::<CallCursor>().is_err(), "{bad}");
        }
    }

    #[test]
    fn outcome_names_are_the_call_outcomes_and_active() {
        assert_eq!(
            OutcomeFilter::parse("abandoned"),
            Some(OutcomeFilter::Ended(CallOutcome::Abandoned))
        );
        assert_eq!(OutcomeFilter::parse("active"), Some(OutcomeFilter::Active));
        assert_eq!(OutcomeFilter::parse("gone"), None);
        assert_eq!(OutcomeFilter::names().len(), CallOutcome::ALL.len() + 1);
    }
}
