//! `[[switch]] kind = "asterisk"`: an Asterisk the controller drives over ARI.
//!
//! An Asterisk is reached differently from a FreeSWITCH (an HTTP base URL, an `ari.conf` user
//! and the Stasis application the dialplan hands callers to, instead of an ESL address), so its
//! own values are checked here; what both kinds share (name, password, timeouts, recordings,
//! reach) is checked once in `settings`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::error::shown;
use super::values::{redact_url, Secret};
use crate::engine::SwitchName;

/// Where Asterisk writes recordings (`astspooldir` + `/recording`) unless `asterisk.conf`
/// moves its spool.
pub const DEFAULT_ASTERISK_RECORDINGS_DIR: &str = "/var/spool/asterisk/recording";

/// The Stasis application of the shipped dialplan (`Stasis(switchboard,…)`).
pub const DEFAULT_STASIS_APP: &str = "switchboard";

/// The longest `user` or `app`: far above any real name, short enough for a log line.
const MAX_NAME_CHARS: usize = 64;

/// One Asterisk the controller drives over ARI.
#[derive(Debug, Clone, PartialEq)]
pub struct AsteriskSwitchConfig {
    pub name: SwitchName,
    /// Where ARI answers, without `/ari`.
    pub ari: AriUrl,
    /// The `ari.conf` user (its section name).
    pub user: String,
    pub password: Secret,
    /// The Stasis application: the first argument of the dialplan's `Stasis()`.
    pub app: String,
    /// Declare the link dead after this long without an answer or event from Asterisk.
    pub heartbeat_timeout: Duration,
    /// The longest wait between reconnection attempts (the backoff's ceiling).
    pub reconnect_max: Duration,
    /// Where Asterisk writes recordings on its own disk.
    pub recordings_dir: String,
    /// Where the controller can read that directory (a mount); `None`: it cannot.
    pub recordings_mount: Option<PathBuf>,
    /// `[switch.reach]`, as for a FreeSWITCH.
    pub reach: Vec<(SwitchName, String)>,
}

/// The scheme of an ARI base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AriScheme {
    Http,
    Https,
}

/// An ARI base URL: `http://host[:port]` or `https://host[:port]`, with no credentials, path,
/// query or fragment; shown without a trailing `/` (the adapter appends `/ari/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AriUrl {
    pub scheme: AriScheme,
    /// A hostname, an IPv4 address or a bare IPv6 address (no brackets).
    pub host: String,
    /// `None`: the scheme's own port (80 or 443).
    pub port: Option<u16>,
}

impl fmt::Display for AriUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            AriScheme::Http => "http",
            AriScheme::Https => "https",
        };
        write!(f, "{scheme}://")?;
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for AriUrl {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        let not = |why: &str| {
            format!(
                "{} is not an ARI address like \"http://127.0.0.1:8088\": {why}",
                shown(&redact_url(value))
            )
        };
        let (scheme, rest) = if let Some(rest) = value.strip_prefix("http://") {
            (AriScheme::Http, rest)
        } else if let Some(rest) = value.strip_prefix("https://") {
            (AriScheme::Https, rest)
        } else {
            return Err(not("it must start with http:// or https://"));
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(not(
                "leave the user and password out of it: they are the switch's `user` and `password`",
            ));
        }
        match tail {
            "" | "/" => {}
            t if t.trim_end_matches('/') == "/ari" => {
                return Err(not("leave /ari out: the controller adds it"))
            }
            _ => return Err(not("no path, query or fragment after host:port")),
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (ip, after) = inner
                .split_once(']')
                .ok_or_else(|| not("an IPv6 address needs its closing ]"))?;
            ip.parse::<Ipv6Addr>()
                .map_err(|_| not("not an IPv6 address in brackets"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| not("expected :port after ]"))?,
                ),
            };
            (ip, port)
        } else {
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            if host.contains(':') {
                return Err(not("write an IPv6 address in brackets: http://[::1]:8088"));
            }
            if host.parse::<IpAddr>().is_err() && !super::values::is_hostname(host) {
                return Err(not("the host is not a hostname or an IP address"));
            }
            (host, port)
        };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return Err(not("the port is not a number from 1 to 65535")),
            },
        };
        Ok(Self {
            scheme,
            host: host.to_owned(),
            port,
        })
    }
}

/// An `ari.conf` user: letters, digits, `.`, `_`, `-` and `@` (no `:`, which would end the user
/// in HTTP Basic authentication).
pub(super) fn check_ari_user(user: &str) -> Result<(), String> {
    check_name(
        user,
        |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'),
        "letters, digits, '.', '_', '-' and '@' (the user's section name in ari.conf)",
    )
}

/// A Stasis application name: letters, digits, `_` and `-` (it is a query value of the events
/// WebSocket and the first argument of `Stasis()`, where `,` would start the next argument).
pub(super) fn check_stasis_app(app: &str) -> Result<(), String> {
    check_name(
        app,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'),
        "letters, digits, '_' and '-' (the first argument of Stasis() in the dialplan)",
    )
}

fn check_name(value: &str, allowed: impl Fn(char) -> bool, rule: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("must not be empty: use {rule}"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(format!("is longer than {MAX_NAME_CHARS} characters"));
    }
    match value.chars().find(|c| !allowed(*c)) {
        Some(c) => Err(format!("{c:?} is not allowed: use {rule}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ari_urls_keep_scheme_host_and_port_and_drop_a_trailing_slash() {
        for (text, shown) in [
            ("http://127.0.0.1:8088", "http://127.0.0.1:8088"),
            ("http://127.0.0.1:8088/", "http://127.0.0.1:8088"),
            ("https://pbx.example.com", "https://pbx.example.com"),
            (
                "https://pbx.example.com:8089/",
                "https://pbx.example.com:8089",
            ),
            ("http://[::1]:8088", "http://[::1]:8088"),
            ("http://[::1]", "http://[::1]"),
        ] {
            let url: Result<AriUrl, _> = text.parse();
            assert_eq!(url.map(|u| u.to_string()), Ok(shown.to_owned()), "{text}");
        }
    }

    #[test]
    fn ari_urls_with_credentials_paths_or_other_schemes_are_refused_saying_why() {
        for (bad, why) in [
            ("127.0.0.1:8088", "http://"),
            ("ws://127.0.0.1:8088", "http://"),
            ("ftp://127.0.0.1:8088", "http://"),
            (
                "http://switchboard:ClueCon@127.0.0.1:8088",
                "user and password",
            ),
            ("http://@127.0.0.1:8088", "user and password"),
            ("http://127.0.0.1:8088/ari", "leave /ari out"),
            ("http://127.0.0.1:8088/ari/", "leave /ari out"),
            ("http://127.0.0.1:8088/asterisk", "no path"),
            ("http://127.0.0.1:8088?x=1", "no path"),
            ("http://127.0.0.1:8088#x", "no path"),
            ("http://127.0.0.1:0", "port"),
            ("http://127.0.0.1:70000", "port"),
            ("http://127.0.0.1:+80", "port"),
            ("http://127.0.0.1:", "port"),
            ("http://", "hostname"),
            ("http://bad host:8088", "hostname"),
            ("http://-x:8088", "hostname"),
            ("http://::1:8088", "brackets"),
            ("http://[::1", "closing ]"),
            ("http://[nope]:8088", "IPv6"),
            ("http://[::1]8088", ":port"),
        ] {
            match bad.parse::<AriUrl>() {
                Ok(url) => panic!("{bad} accepted as {url}"),
                Err(message) => assert!(message.contains(why), "{bad}: {message}"),
            }
        }
    }

    #[test]
    fn ari_users_and_stasis_apps_allow_only_what_cannot_break_auth_or_stasis_arguments() {
        for ok in ["switchboard", "sb.user-1", "ops@site"] {
            assert_eq!(check_ari_user(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a:b", "a b", "a\nb", &"u".repeat(65)] {
            assert!(check_ari_user(bad).is_err(), "{bad:?}");
        }
        for ok in ["switchboard", "switchboard-b", "sb_2"] {
            assert_eq!(check_stasis_app(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a,b", "a b", "a.b", "a&b", "a/b", &"a".repeat(65)] {
            assert!(check_stasis_app(bad).is_err(), "{bad:?}");
        }
    }
}
