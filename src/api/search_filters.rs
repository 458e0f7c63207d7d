//! Filters the history searches share (`GET /v1/calls`, `GET /v1/recordings`): a time range
//! in RFC 3339 or unix milliseconds, and the agent an agent's token is narrowed to.

use super::{Principal, Problem};
use crate::engine::{AgentId, Timestamp};

/// A time given as RFC 3339 or as unix milliseconds.
pub(super) fn parse_time(field: &str, raw: &str) -> Result<Timestamp, Problem> {
    if let Ok(ms) = raw.parse::<i64>() {
        return Ok(Timestamp::from_millis(ms));
    }
    raw.parse::<jiff::Timestamp>()
        .map(|t| Timestamp::from_millis(t.as_millisecond()))
        .map_err(|_| {
            Problem::bad_request(format!(
                "{field} {raw:?} is not a time: give RFC 3339 (2024-05-01T08:00:00Z) or unix \
                 milliseconds"
            ))
        })
}

/// `[start, end)` from two optional times, each named as its parameter; refused when the start
/// is not before the end.
pub(super) fn time_range(
    (start_name, start): (&str, Option<&str>),
    (end_name, end): (&str, Option<&str>),
) -> Result<(Option<Timestamp>, Option<Timestamp>), Problem> {
    let start = start.map(|s| parse_time(start_name, s)).transpose()?;
    let end = end.map(|s| parse_time(end_name, s)).transpose()?;
    if let (Some(start), Some(end)) = (start, end) {
        if start >= end {
            return Err(Problem::bad_request(format!(
                "{start_name} must be before {end_name}"
            )));
        }
    }
    Ok((start, end))
}

/// The agent a search is narrowed to: the one `asked`, or for an agent's token its own agent
/// (asking for another is refused with `not_yours`). `None` for an agent's token without an
/// agent, which sees nothing.
pub(super) fn agent_scope(
    who: &Principal,
    asked: Option<String>,
    not_yours: fn(&Principal) -> Problem,
) -> Result<Option<Option<AgentId>>, Problem> {
    let asked = asked
        .map(|a| AgentId::new(a).map_err(|e| Problem::bad_request(format!("agent: {e}"))))
        .transpose()?;
    match who.only_agent() {
        None => Ok(Some(asked)),
        Some(None) => Ok(None),
        Some(Some(me)) if asked.as_ref().is_some_and(|a| a != me) => Err(not_yours(who)),
        Some(Some(me)) => Ok(Some(Some(me.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_or_unix_milliseconds() {
        assert_eq!(
            parse_time("since", "1700000000000").ok(),
            Some(Timestamp::from_millis(1_700_000_000_000))
        );
        assert_eq!(
            parse_time("since", "2023-11-14T22:13:20Z").ok(),
            Some(Timestamp::from_millis(1_700_000_000_000))
        );
        assert_eq!(
            parse_time("since", "2023-11-14T23:13:20+01:00").ok(),
            Some(Timestamp::from_millis(1_700_000_000_000))
        );
        assert!(parse_time("since", "yesterday").is_err());
        assert!(parse_time("since", "2023-11-14").is_err());
    }

    #[test]
    fn a_range_must_start_before_it_ends() {
        assert!(time_range(("from", Some("2000")), ("to", Some("1000"))).is_err());
        assert!(time_range(("from", Some("1000")), ("to", Some("1000"))).is_err());
        assert_eq!(
            time_range(("from", Some("1000")), ("to", None)).ok(),
            Some((Some(Timestamp::from_millis(1000)), None))
        );
    }
}
