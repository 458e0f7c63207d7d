//! `GET /v1/calls` with filters or a cursor: a search of the call history (time range, queue,
//! agent, outcome, caller number), newest first, a page at a time.
//!
//! Without any of them the route answers as it always has (the live calls and the most recent
//! history, `active` and `recent`), so existing callers keep working; with one, it answers
//! `calls` and `next_cursor`. Calls in progress are in the history from the moment they enter a
//! queue, so a search finds them too (with a null `outcome`), in their place by entry time.

use axum::Json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::auth::Principal;
use super::search_filters::{agent_scope, time_range};
use super::{ApiState, Problem};
use crate::engine::QueueId;
use crate::store::{CallCursor, CallSearch, NumberFilter, OutcomeFilter};

/// The most calls one page may hold.
const MAX_LIMIT: u32 = 1000;

/// The longest caller number (or prefix) a search takes.
const MAX_NUMBER: usize = 64;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CallsQuery {
    /// At most this many calls (default 50, at most 1000). Alone, it keeps the unfiltered
    /// answer (`active` and `recent`).
    limit: Option<u32>,
    /// Calls that entered at or after this time: RFC 3339 (`2026-11-01T08:00:00Z`) or unix
    /// milliseconds.
    from: Option<String>,
    /// Calls that entered before this time: RFC 3339 or unix milliseconds.
    to: Option<String>,
    /// A queue id: calls that entered it or overflowed into it.
    queue: Option<String>,
    /// An agent id: calls that agent answered (an agent's token may give only its own).
    agent: Option<String>,
    /// `completed`, `abandoned`, `lost`, `overflowed`, `callback_failed`, `transferred`, or
    /// `active` (not ended yet).
    outcome: Option<String>,
    /// The caller's number exactly (`+4930123456`), or a prefix ending in `*` (`+4930*`).
    number: Option<String>,
    /// The `next_cursor` of the previous page: the calls after it (older).
    cursor: Option<String>,
}

impl CallsQuery {
    /// Whether the query asks for a search rather than the unfiltered answer.
    pub(super) fn searches(&self) -> bool {
        self.from.is_some()
            || self.to.is_some()
            || self.queue.is_some()
            || self.agent.is_some()
            || self.outcome.is_some()
            || self.number.is_some()
            || self.cursor.is_some()
    }

    /// The limit of the unfiltered answer, which has always clamped it.
    pub(super) fn clamped_limit(&self) -> u32 {
        self.limit.unwrap_or(50).clamp(1, MAX_LIMIT)
    }
}

fn not_yours(who: &Principal) -> Problem {
    Problem::forbidden(format!(
        "token {:?} is an agent's: it searches only the calls its own agent answered",
        who.token
    ))
}

/// The search a query asks for, narrowed to the calls the agent answered for an agent's token;
/// `None` for an agent token without an agent, which sees nothing.
fn search_of(query: CallsQuery, who: &Principal) -> Result<Option<CallSearch>, Problem> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request(format!(
            "limit {limit} is out of range: 1 to {MAX_LIMIT}"
        )));
    }
    let (from, to) = time_range(("from", query.from.as_deref()), ("to", query.to.as_deref()))?;
    let Some(agent) = agent_scope(who, query.agent, not_yours)? else {
        return Ok(None);
    };
    let queue = query
        .queue
        .map(|q| QueueId::new(q).map_err(|e| Problem::bad_request(format!("queue: {e}"))))
        .transpose()?;
    let outcome = query
        .outcome
        .as_deref()
        .map(|o| {
            OutcomeFilter::parse(o).ok_or_else(|| {
                Problem::bad_request(format!(
                    "outcome {o:?} is not one of {}",
                    OutcomeFilter::names().join(", ")
                ))
            })
        })
        .transpose()?;
    let number = query
        .number
        .as_deref()
        .map(|n| {
            NumberFilter::parse(n)
                .filter(|_| n.chars().count() <= MAX_NUMBER)
                .ok_or_else(|| {
                    Problem::bad_request(format!(
                        "number {n:?}: give the caller's number (1 to {MAX_NUMBER} characters), \
                         or a prefix of it ending in * (\"+4930*\"); * only at the end"
                    ))
                })
        })
        .transpose()?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<CallCursor>()
                .map_err(|e| Problem::bad_request(format!("cursor: {e}")))
        })
        .transpose()?;
    Ok(Some(CallSearch {
        from,
        to,
        queue,
        agent,
        outcome,
        number,
        limit,
        after,
    }))
}

/// The search's page: `calls` newest first and `next_cursor` (null on the last page).
pub(super) async fn search(
    state: &ApiState,
    who: &Principal,
    query: CallsQuery,
) -> Result<Json<serde_json::Value>, Problem> {
    let Some(search) = search_of(query, who)? else {
        return Ok(Json(json!({ "calls": [], "next_cursor": null })));
    };
    let page = state
        .store
        .search_calls(&search)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(
        json!({ "calls": page.calls, "next_cursor": page.next }),
    ))
}
