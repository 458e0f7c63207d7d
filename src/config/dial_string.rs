//! `DialString`: how to reach an agent's phone, restricted to forms that cannot smuggle
//! dial-string options, extra endpoints or ESL lines into an originate.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

const MAX_LEN: usize = 256;

const FORMS: &str = "user/<name>[@domain], sofia/<profile>/<user>@<host>[:port], \
     loopback/<ext>[/<context>] (FreeSWITCH), PJSIP/<endpoint> or PJSIP/<number>@<endpoint> (Asterisk)";

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{} is not a safe dial string: {reason} (expected {FORMS})", super::shown(.value))]
pub struct DialStringError {
    pub value: String,
    pub reason: String,
}

/// A validated dial string: `user/<name>[@domain]`, `sofia/<profile>/<user>@<host>[:port]` or
/// `loopback/<ext>[/<context>]` (FreeSWITCH), or `PJSIP/<endpoint>` or
/// `PJSIP/<number>@<endpoint>` (Asterisk), each part made only of `[A-Za-z0-9._+-]` (hosts of
/// `[A-Za-z0-9._-]`).
///
/// The ESL adapter splices it into `originate {...}<dial string> &park()`, so nothing in it may
/// open a variable block (`{`, `[`, `<`), separate endpoints (`,`, `|`, `:_:`), end an argument
/// (space) or end a command (newline). The character set rules all of those out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DialString(String);

impl DialString {
    pub fn parse(value: &str) -> Result<Self, DialStringError> {
        validate(value).map_err(|reason| DialStringError {
            value: value.to_owned(),
            reason,
        })?;
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DialString {
    type Error = DialStringError;
    fn try_from(value: String) -> Result<Self, DialStringError> {
        Self::parse(&value)
    }
}

impl From<DialString> for String {
    fn from(d: DialString) -> String {
        d.0
    }
}

impl fmt::Display for DialString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.len() > MAX_LEN {
        return Err(format!("it is longer than {MAX_LEN} characters"));
    }
    if let Some(bad) = value.chars().find(|&c| !dial_char(c)) {
        return Err(format!("{bad:?} is not allowed"));
    }
    let mut parts = value.split('/');
    let endpoint = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    match (endpoint, rest.as_slice()) {
        ("user", [target]) => {
            let (name, domain) = match target.split_once('@') {
                Some((name, domain)) => (name, Some(domain)),
                None => (*target, None),
            };
            word("user name", name)?;
            if let Some(domain) = domain {
                host("domain", domain)?;
            }
            Ok(())
        }
        ("sofia", [profile, target]) => {
            host("sofia profile", profile)?;
            let (user, host_port) = target
                .split_once('@')
                .ok_or_else(|| "a sofia dial string needs <user>@<host>".to_owned())?;
            word("sofia user", user)?;
            host_and_port(host_port)
        }
        ("loopback", [ext]) => word("loopback extension", ext),
        ("loopback", [ext, context]) => {
            word("loopback extension", ext)?;
            host("loopback context", context)
        }
        // Asterisk: an endpoint, or a number dialled through an endpoint (a trunk).
        ("PJSIP", [target]) => match target.split_once('@') {
            Some((number, endpoint)) => {
                word("PJSIP number", number)?;
                word("PJSIP endpoint", endpoint)
            }
            None => word("PJSIP endpoint", target),
        },
        ("user" | "sofia" | "loopback" | "PJSIP", _) => Err(format!(
            "wrong number of '/'-separated parts for {endpoint}"
        )),
        _ => Err(format!(
            "endpoint {endpoint:?} is not user, sofia, loopback or PJSIP"
        )),
    }
}

/// `<host>[:<port>]` of a sofia dial string.
fn host_and_port(host_port: &str) -> Result<(), String> {
    let host_part = match host_port.split_once(':') {
        Some((h, port)) => {
            match port.parse::<u16>() {
                Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
                _ => return Err(format!("port {port:?} is not a number from 1 to 65535")),
            }
            h
        }
        None => host_port,
    };
    host("sofia host", host_part)
}

/// What a callback's dial template puts where the customer's number goes.
pub const NUMBER_PLACEHOLDER: &str = "{number}";

const TEMPLATE_FORMS: &str = "user/{number}[@domain], sofia/gateway/<gateway>/{number}, \
     sofia/<profile>/{number}@<host>[:port] or loopback/{number}[/<context>], \
     with fixed digits around {number} allowed (9{number})";

/// The longest template: room is left for a 32-character number within the dial-string limit.
const TEMPLATE_MAX_LEN: usize = MAX_LEN - 32;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{} is not a safe dial template: {reason} (expected {TEMPLATE_FORMS})", super::shown(.value))]
pub struct DialTemplateError {
    pub value: String,
    pub reason: String,
}

/// Checks how a customer is called back: a dial string as for agents, plus
/// `sofia/gateway/<gateway>/<number>`, in which [`NUMBER_PLACEHOLDER`] appears exactly once and
/// only in the part that names who is called (never in a host, domain, profile, gateway or
/// context).
///
/// Outside the placeholder the same characters as in [`DialString`] are allowed, so the template
/// cannot open a variable block (`{`, `[`, `<`), add legs (`,`, `|`, `:_:`), quote, or end an
/// argument or a command. The number that replaces the placeholder is digits and a leading `+`.
pub fn check_dial_template(value: &str) -> Result<(), DialTemplateError> {
    validate_template(value).map_err(|reason| DialTemplateError {
        value: value.to_owned(),
        reason,
    })
}

fn validate_template(value: &str) -> Result<(), String> {
    validate_placeholder(value, NUMBER_PLACEHOLDER, "the number to call")
}

/// The template rules, for `placeholder` standing for `who`.
fn validate_placeholder(value: &str, placeholder: &str, who: &str) -> Result<(), String> {
    match value.matches(placeholder).count() {
        0 => return Err(format!("it has no {placeholder} for {who}")),
        1 => {}
        n => return Err(format!("{placeholder} appears {n} times, not once")),
    }
    if value.len() > TEMPLATE_MAX_LEN {
        return Err(format!("it is longer than {TEMPLATE_MAX_LEN} characters"));
    }
    let rest = value.replacen(placeholder, "", 1);
    if let Some(bad) = rest.chars().find(|&c| !dial_char(c)) {
        return Err(format!("{bad:?} is not allowed"));
    }
    // Fixed parts are checked first, so a misplaced placeholder is named where it is.
    // Where the number goes: the placeholder, with whatever fixed characters surround it.
    let number = |what: &str, s: &str| {
        if !s.contains(placeholder) {
            return Err(format!("{placeholder} must be in the {what}"));
        }
        word(what, &s.replacen(placeholder, "0", 1))
    };
    // Everything else is fixed.
    let fixed = |what: &str, s: &str| {
        if s.contains(placeholder) {
            return Err(format!("{placeholder} stands for {who}, not the {what}"));
        }
        host(what, s)
    };
    let mut parts = value.split('/');
    let endpoint = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    match (endpoint, rest.as_slice()) {
        ("user", [target]) => match target.split_once('@') {
            Some((name, domain)) => {
                fixed("domain", domain)?;
                number("user name", name)
            }
            None => number("user name", target),
        },
        ("sofia", ["gateway", gateway, target]) => {
            fixed("gateway", gateway)?;
            number("number", target)
        }
        ("sofia", [profile, target]) => {
            fixed("sofia profile", profile)?;
            let (user, host_port) = target
                .split_once('@')
                .ok_or_else(|| "a sofia dial string needs <user>@<host>".to_owned())?;
            if host_port.contains(placeholder) {
                return Err(format!(
                    "{placeholder} stands for {who}, not the sofia host"
                ));
            }
            host_and_port(host_port)?;
            number("sofia user", user)
        }
        ("loopback", [ext]) => number("loopback extension", ext),
        ("loopback", [ext, context]) => {
            fixed("loopback context", context)?;
            number("loopback extension", ext)
        }
        ("PJSIP", [target]) => match target.split_once('@') {
            Some((who, endpoint)) => {
                fixed("PJSIP endpoint", endpoint)?;
                number("PJSIP number", who)
            }
            None => number("PJSIP endpoint", target),
        },
        ("user" | "sofia" | "loopback" | "PJSIP", _) => Err(format!(
            "wrong number of '/'-separated parts for {endpoint}"
        )),
        _ => Err(format!(
            "endpoint {endpoint:?} is not user, sofia, loopback or PJSIP"
        )),
    }
}

/// What a route to another switch's users puts where the agent's SIP user goes.
pub const USER_PLACEHOLDER: &str = "{user}";

const REACH_FORMS: &str = "sofia/gateway/<gateway>/{user}, sofia/<profile>/{user}@<host>[:port], \
     user/{user}[@domain] or loopback/{user}[/<context>]";

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{} is not a safe route to another switch's users: {reason} (expected {REACH_FORMS})", super::shown(.value))]
pub struct ReachTemplateError {
    pub value: String,
    pub reason: String,
}

/// Checks how a switch dials the users registered on another one (`[switch.reach]`): the
/// rules of [`check_dial_template`], with [`USER_PLACEHOLDER`] (the agent's SIP user, once, and
/// only where the called user goes) as the only placeholder.
pub fn check_reach_template(value: &str) -> Result<(), ReachTemplateError> {
    let other = value.replace(USER_PLACEHOLDER, "");
    let reason = if other.contains('{') || other.contains('}') {
        Err(format!("{USER_PLACEHOLDER} is the only placeholder"))
    } else {
        validate_placeholder(value, USER_PLACEHOLDER, "the agent's SIP user")
    };
    reason.map_err(|reason| ReachTemplateError {
        value: value.to_owned(),
        reason,
    })
}

fn dial_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | ':' | '+' | '-' | '/')
}

/// A user, extension or number: `[A-Za-z0-9._+-]`, not empty.
fn word(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    match s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')))
    {
        Some(c) => Err(format!("{c:?} is not allowed in the {what}")),
        None => Ok(()),
    }
}

/// A host, domain, profile or context: `[A-Za-z0-9._-]`, not empty.
fn host(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    match s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(c) => Err(format!("{c:?} is not allowed in the {what}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_asterisk_forms_and_refuses_what_could_reach_another_endpoint() {
        for ok in [
            "PJSIP/agent1",
            "PJSIP/+15551234@trunk",
            "PJSIP/9{number}@trunk",
        ] {
            let parsed = if ok.contains(NUMBER_PLACEHOLDER) {
                check_dial_template(ok).map(|_| ())
            } else {
                DialString::parse(ok)
                    .map(|_| ())
                    .map_err(|e| DialTemplateError {
                        value: e.value,
                        reason: e.reason,
                    })
            };
            assert!(parsed.is_ok(), "{ok:?} rejected: {parsed:?}");
        }
        for bad in [
            "PJSIP/",
            "PJSIP/agent1&app=x",
            "PJSIP/agent1,PJSIP/agent2",
            "PJSIP/agent1/sip:x@host",
            "PJSIP/1@trunk@x",
            "PJSIP/@trunk",
        ] {
            assert!(DialString::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_dial_template("PJSIP/100@{number}").is_err());
    }

    #[test]
    fn accepts_the_three_documented_forms() {
        for ok in [
            "user/1001",
            "user/1001@pbx.example.com",
            "user/+4930123_4.x-y",
            "sofia/internal/1001@10.0.0.5",
            "sofia/external/alice@sip.example.com:5080",
            "loopback/1001",
            "loopback/1001/default",
        ] {
            assert!(DialString::parse(ok).is_ok(), "{ok:?} rejected");
        }
    }

    #[test]
    fn rejects_anything_that_could_add_options_endpoints_or_commands() {
        for bad in [
            "user/1001,sofia/evil",
            "{foo=bar}user/1001",
            "[foo=bar]user/1001",
            "<foo=bar>user/1001",
            "user/1001 &bridge(x)",
            "user/10\n01",
            "user/1001\r\napi shutdown",
            "user/1001|user/1002",
            "user/1001;fs_path=sip:evil",
            "user/1001:_:user/1002",
            "user/1001/extra",
            "user/",
            "user/@domain",
            "user/1001@",
            "user/1001@a@b",
            "sofia/internal/1001",
            "sofia/internal/1001@host:0",
            "sofia/internal/1001@host:99999",
            "sofia/internal/1001@host:5060:1",
            "sofia/gateway/gw/1001",
            "loopback/1001/default/extra",
            "group/support",
            "error/USER_BUSY",
            "",
        ] {
            assert!(DialString::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn dial_templates_take_the_number_where_a_user_or_extension_goes() {
        for ok in [
            "sofia/gateway/pstn/{number}",
            "sofia/gateway/pstn/9{number}",
            "sofia/external/{number}@sip.example.com:5080",
            "user/{number}@pbx.example.com",
            "user/{number}",
            "loopback/{number}/outbound",
        ] {
            assert_eq!(check_dial_template(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn dial_templates_without_one_placeholder_or_with_unsafe_parts_are_rejected() {
        for (bad, reason) in [
            ("sofia/gateway/pstn/5551234", "has no {number}"),
            ("sofia/gateway/pstn/{number}{number}", "appears 2 times"),
            ("sofia/gateway/{number}/1", "not the gateway"),
            ("user/1000@{number}", "not the domain"),
            ("sofia/internal/1000@{number}", "not the sofia host"),
            ("loopback/100/{number}", "not the loopback context"),
            (
                "sofia/gateway/pstn/{number},user/1001",
                "',' is not allowed",
            ),
            (
                "sofia/gateway/pstn/{number}|user/1001",
                "'|' is not allowed",
            ),
            (
                "{origination_caller_id_number=1}sofia/gateway/pstn/{number}",
                "'{' is not allowed",
            ),
            (
                "[leg_timeout=1]sofia/gateway/pstn/{number}",
                "'[' is not allowed",
            ),
            ("<x=y>sofia/gateway/pstn/{number}", "'<' is not allowed"),
            ("sofia/gateway/pstn/{number} &park()", "' ' is not allowed"),
            (
                "sofia/gateway/pstn/{number}\napi shutdown",
                "'\\n' is not allowed",
            ),
            ("sofia/gateway/pstn/'{number}'", "'\\'' is not allowed"),
            ("sofia/gateway/pstn/\"{number}\"", "'\"' is not allowed"),
            ("sofia/internal/{number}@host:_:x", "is not a number"),
            (
                "sofia/gateway/pstn/{number}@host",
                "'@' is not allowed in the number",
            ),
            ("group/{number}", "is not user, sofia, loopback or PJSIP"),
            ("sofia/{number}", "wrong number"),
        ] {
            let err = check_dial_template(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(reason)),
                "{bad:?}: {err:?}, expected {reason:?}"
            );
        }
    }

    #[test]
    fn error_escapes_the_value_so_a_newline_shows_as_backslash_n() {
        let err = DialString::parse("user/10\n01")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.starts_with("\"user/10\\n01\"")),
            "{err:?}"
        );
    }
}
