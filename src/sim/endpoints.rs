//! Simulated endpoints: agents' desk phones (keyed by SIP user) and callers, plus the
//! parsing of `originate` arguments and dial strings that decides which phone a leg reaches.
//!
//! Owns no state of its own: the switch keeps phones and calls; this module defines what
//! they are and how a dial string maps to them.

use std::time::Duration;

/// How a simulated phone reacts to an INVITE. Changeable at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneBehavior {
    /// 180 Ringing at once, 200 OK after `after`.
    Answer { after: Duration },
    /// 486 Busy Here → `USER_BUSY`.
    Busy,
    /// 603 Decline → `CALL_REJECTED`.
    Reject,
    /// 180 and then silence until `originate_timeout` → `NO_ANSWER`.
    NoAnswer,
    /// Not registered: `user/…` fails with `USER_NOT_REGISTERED`, `sofia/…` with
    /// `NORMAL_TEMPORARY_FAILURE` (nothing listening).
    Unregistered,
}

/// A desk phone registered as SIP `user`.
#[derive(Clone, Debug)]
pub struct PhoneSpec {
    pub user: String,
    pub behavior: PhoneBehavior,
    /// The phone sends BYE this long after answering.
    pub hangup_after_talk: Option<Duration>,
}

impl PhoneSpec {
    /// A phone that answers after `after`.
    pub fn answering(user: impl Into<String>, after: Duration) -> Self {
        PhoneSpec {
            user: user.into(),
            behavior: PhoneBehavior::Answer { after },
            hangup_after_talk: None,
        }
    }
}

/// An inbound call placed by a simulated caller.
#[derive(Clone, Debug)]
pub struct CallSpec {
    pub caller_number: String,
    pub caller_name: String,
    /// Destination number, matched against the configured entry points.
    pub destination: String,
    /// Hang up (CANCEL/BYE) if not bridged within this time.
    pub patience: Option<Duration>,
    /// Hang up this long after being bridged (or, when transferred before ever being
    /// bridged, this long after the transfer).
    pub talk_time: Option<Duration>,
}

impl CallSpec {
    /// A caller `number` ("Caller <number>") dialing `destination`, no timers.
    pub fn new(number: impl Into<String>, destination: impl Into<String>) -> Self {
        let number = number.into();
        CallSpec {
            caller_name: format!("Caller {number}"),
            caller_number: number,
            destination: destination.into(),
            patience: None,
            talk_time: None,
        }
    }
}

/// Where a dial string points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `user/<user>[@domain]`: a directory user, resolved through its registration.
    User { user: String, domain: String },
    /// `sofia/<profile>/<user>@<host>[:port]`: a direct SIP URI.
    Sofia {
        profile: String,
        user: String,
        host: String,
    },
    /// Any other endpoint type (loopback, verto, gateways…): not implemented here.
    Unsupported(String),
}

impl Target {
    pub fn parse(dial: &str) -> Target {
        if let Some(rest) = dial.strip_prefix("user/") {
            let (user, domain) = rest.split_once('@').unwrap_or((rest, "127.0.0.1"));
            return Target::User {
                user: user.to_string(),
                domain: domain.to_string(),
            };
        }
        if let Some(rest) = dial.strip_prefix("sofia/") {
            if let Some((profile, uri)) = rest.split_once('/') {
                let uri = uri.strip_prefix("sip:").unwrap_or(uri);
                let (user, host) = uri.split_once('@').unwrap_or((uri, "127.0.0.1"));
                if profile != "gateway" {
                    return Target::Sofia {
                        profile: profile.to_string(),
                        user: user.to_string(),
                        host: host.to_string(),
                    };
                }
            }
        }
        Target::Unsupported(dial.to_string())
    }

    /// The SIP user the phone is keyed by.
    pub fn user(&self) -> Option<&str> {
        match self {
            Target::User { user, .. } | Target::Sofia { user, .. } => Some(user),
            Target::Unsupported(_) => None,
        }
    }
}

/// A parsed `originate` argument string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginateRequest {
    /// `{…}` then `[…]` variables, in the order given (later wins on duplicates).
    pub vars: Vec<(String, String)>,
    /// The first leg's dial string (further `,`/`|` legs are not modelled).
    pub dial: String,
    /// Application run on answer (`park` for `&park()`), and its argument.
    pub app: String,
    pub app_arg: String,
}

impl OriginateRequest {
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an `originate` argument string was refused (the switch answers `-USAGE: …`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginateParseError {
    #[error("missing dial string or application")]
    Usage,
    #[error("unterminated variable block")]
    Unterminated,
}

/// Parses `{a=b,c='d e'}[x=y]sofia/internal/u@h &park()`.
pub fn parse_originate(arg: &str) -> Result<OriginateRequest, OriginateParseError> {
    let mut rest = arg.trim();
    let mut vars = Vec::new();
    for (open, close) in [('{', '}'), ('<', '>'), ('[', ']')] {
        if let Some(stripped) = rest.strip_prefix(open) {
            let end = find_close(stripped, close).ok_or(OriginateParseError::Unterminated)?;
            parse_vars(&stripped[..end], &mut vars);
            rest = &stripped[end + 1..];
        }
    }
    let (dial_all, tail) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    if dial_all.is_empty() || tail.is_empty() {
        return Err(OriginateParseError::Usage);
    }
    // Only the first leg of a ring-all/failover list is modelled.
    let first = dial_all.split([',', '|']).next().unwrap_or(dial_all);
    let mut dial = first;
    if let Some(stripped) = first.strip_prefix('[') {
        let end = find_close(stripped, ']').ok_or(OriginateParseError::Unterminated)?;
        parse_vars(&stripped[..end], &mut vars);
        dial = &stripped[end + 1..];
    }
    let app_part = tail.split_whitespace().next().unwrap_or("");
    let (app, app_arg) = if let Some(a) = app_part.strip_prefix('&') {
        match a.split_once('(') {
            Some((name, args)) => (
                name.to_string(),
                args.strip_suffix(')').unwrap_or(args).to_string(),
            ),
            None => (a.to_string(), String::new()),
        }
    } else {
        // An extension: the simulator parks the leg as our dialplan would.
        ("park".to_string(), String::new())
    };
    Ok(OriginateRequest {
        vars,
        dial: dial.to_string(),
        app,
        app_arg,
    })
}

fn find_close(s: &str, close: char) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '\'' => quoted = !quoted,
            c if c == close && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_vars(block: &str, out: &mut Vec<(String, String)>) {
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut items = Vec::new();
    for c in block.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '\'' => quoted = !quoted,
            ',' if !quoted => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    items.push(cur);
    for item in items {
        if let Some((k, v)) = item.split_once('=') {
            let k = k.trim();
            if !k.is_empty() {
                out.push((k.to_string(), v.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn originate_with_quoted_values_and_park() {
        let r = parse_originate(
            "{origination_uuid=u1,originate_timeout=20,origination_caller_id_name='Doe, John'}user/1001 &park()",
        );
        let r = r.expect("parses");
        assert_eq!(r.var("origination_uuid"), Some("u1"));
        assert_eq!(r.var("origination_caller_id_name"), Some("Doe, John"));
        assert_eq!(r.dial, "user/1001");
        assert_eq!(r.app, "park");
    }

    #[test]
    fn per_leg_vars_and_sofia_targets() {
        let r = parse_originate("{originate_timeout=10}[origination_uuid=u2]sofia/internal/agent1@127.0.0.1:5071 &park()")
            .expect("parses");
        assert_eq!(r.var("origination_uuid"), Some("u2"));
        assert_eq!(
            Target::parse(&r.dial),
            Target::Sofia {
                profile: "internal".into(),
                user: "agent1".into(),
                host: "127.0.0.1:5071".into()
            }
        );
    }

    #[test]
    fn originate_without_application_is_usage_error() {
        assert_eq!(parse_originate(""), Err(OriginateParseError::Usage));
        assert_eq!(
            parse_originate("user/1001"),
            Err(OriginateParseError::Usage)
        );
    }
}
