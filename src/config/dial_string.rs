//! `DialString`: how to reach an agent's phone, restricted to forms that cannot smuggle
//! dial-string options, extra endpoints or ESL lines into an originate.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

const MAX_LEN: usize = 256;

const FORMS: &str =
    "user/<name>[@domain], sofia/<profile>/<user>@<host>[:port] or loopback/<ext>[/<context>]";

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{value:?} is not a safe dial string: {reason} (expected {FORMS})")]
pub struct DialStringError {
    pub value: String,
    pub reason: String,
}

/// A validated dial string: `user/<name>[@domain]`, `sofia/<profile>/<user>@<host>[:port]` or
/// `loopback/<ext>[/<context>]`, each part made only of `[A-Za-z0-9._+-]` (hosts of
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
    if let Some(bad) = value.chars().find(|&c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | ':' | '+' | '-' | '/'))
    }) {
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
        ("loopback", [ext]) => word("loopback extension", ext),
        ("loopback", [ext, context]) => {
            word("loopback extension", ext)?;
            host("loopback context", context)
        }
        ("user" | "sofia" | "loopback", _) => Err(format!(
            "wrong number of '/'-separated parts for {endpoint}"
        )),
        _ => Err(format!(
            "endpoint {endpoint:?} is not user, sofia or loopback"
        )),
    }
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
