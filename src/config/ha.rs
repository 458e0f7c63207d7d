//! `[ha]`: who this controller is to the other controller of a pair on PostgreSQL. Ignored on
//! SQLite, where one controller owns the file.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::{shown, ConfigError, Source};
use super::values::HumanDuration;

const DEFAULT_LEASE: Duration = Duration::from_secs(3);
/// Shorter, and a busy database makes a healthy leader step down.
const MIN_LEASE: Duration = Duration::from_secs(1);
/// Longer, and a hung leader holds the switches longer than callers wait.
const MAX_LEASE: Duration = Duration::from_secs(30);
const MAX_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaConfig {
    /// This controller's name in the leadership row (`name`; the host name by default).
    pub name: String,
    /// The API URL the other controller gives clients (`advertise_url`; by default
    /// `http://<http.listen>`).
    pub advertise_url: String,
    /// How long a leadership lasts without renewal (`lease`, 3 s; 1 s to 30 s).
    pub lease: Duration,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHa {
    name: Option<Spanned<String>>,
    advertise_url: Option<Spanned<String>>,
    lease: Option<Spanned<HumanDuration>>,
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchboard".to_owned())
}

impl RawHa {
    pub(super) fn resolve(
        self,
        src: &Source<'_>,
        listen: SocketAddr,
    ) -> Result<HaConfig, ConfigError> {
        let name = match self.name {
            Some(name) => {
                let span = name.span();
                let name = name.into_inner();
                let fine = !name.trim().is_empty()
                    && name.chars().count() <= MAX_NAME
                    && name.chars().all(|c| c.is_ascii_graphic());
                if !fine {
                    return Err(src.error_at(
                        Some(span),
                        "ha.name",
                        format!(
                            "{} must be 1 to {MAX_NAME} printable characters without spaces",
                            shown(&name)
                        ),
                    ));
                }
                name
            }
            None => host_name().chars().take(MAX_NAME).collect(),
        };
        let advertise_url = match self.advertise_url {
            Some(url) => {
                let span = url.span();
                let url = url.into_inner();
                let fine = (url.starts_with("http://") || url.starts_with("https://"))
                    && url.len() <= 256
                    && !url.chars().any(|c| c.is_whitespace() || c.is_control());
                if !fine {
                    return Err(src.error_at(
                        Some(span),
                        "ha.advertise_url",
                        format!(
                            "{} must be an http:// or https:// URL, like \"http://10.0.0.5:8080\"",
                            shown(&url)
                        ),
                    ));
                }
                url.trim_end_matches('/').to_owned()
            }
            None => format!("http://{listen}"),
        };
        let lease = match self.lease {
            Some(lease) => {
                let value = lease.get_ref().0;
                if !(MIN_LEASE..=MAX_LEASE).contains(&value) {
                    return Err(src.error_at(
                        Some(lease.span()),
                        "ha.lease",
                        format!(
                            "{} is out of range: from {} to {}",
                            humantime::format_duration(value),
                            humantime::format_duration(MIN_LEASE),
                            humantime::format_duration(MAX_LEASE)
                        ),
                    ));
                }
                value
            }
            None => DEFAULT_LEASE,
        };
        Ok(HaConfig {
            name,
            advertise_url,
            lease,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;
    use super::*;

    fn parse(ha: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[http]\nlisten = \"10.0.0.5:8080\"\n[[switch]]\nname = \"fs-1\"\n\
             esl = \"127.0.0.1:8021\"\npassword = \"ClueCon\"\n[ha]\n{ha}"
        );
        Config::parse(&text, Path::new("switchboard.toml"), |_| None)
    }

    #[test]
    fn ha_defaults_to_a_3s_lease_and_the_listen_address_as_the_advertised_url() {
        let config = parse("").expect("config");
        assert_eq!(config.ha.lease, DEFAULT_LEASE);
        assert_eq!(config.ha.advertise_url, "http://10.0.0.5:8080");
        assert!(!config.ha.name.is_empty());
    }

    #[test]
    fn ha_settings_are_read_and_checked_with_their_line() {
        let config = parse(
            "name = \"sb-a\"\nadvertise_url = \"https://sb-a.example:8443/\"\nlease = \"5s\"\n",
        )
        .expect("config");
        assert_eq!(config.ha.name, "sb-a");
        assert_eq!(config.ha.advertise_url, "https://sb-a.example:8443");
        assert_eq!(config.ha.lease, Duration::from_secs(5));

        let err = parse("lease = \"200ms\"\n")
            .expect_err("too short")
            .to_string();
        assert!(
            err.contains("ha.lease") && err.contains("switchboard.toml:8"),
            "{err}"
        );
        let err = parse("lease = \"1h\"\n").expect_err("too long").to_string();
        assert!(err.contains("from 1s to 30s"), "{err}");
        let err = parse("advertise_url = \"ftp://x\"\n")
            .expect_err("scheme")
            .to_string();
        assert!(err.contains("ha.advertise_url"), "{err}");
        let err = parse("name = \"a b\"\n").expect_err("space").to_string();
        assert!(err.contains("ha.name"), "{err}");
    }
}
