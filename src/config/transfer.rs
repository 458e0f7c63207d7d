//! `[transfer]`: how REST transfers and consults reach external numbers.
//!
//! ```toml
//! [transfer]
//! external_dial = "sofia/gateway/pstn/{number}"
//! allowed_prefixes = ["+49", "0"]   # optional; none: any number
//! ```
//!
//! The template is checked like a callback's (`check_dial_template`: `{number}` once, in the
//! part that names who is called, nothing that could add options, legs or commands); the
//! prefixes are an optional `+` and digits, so a number that passes them is still only digits.

use serde::Deserialize;
use toml::Spanned;

use super::dial_string::check_dial_template;
use super::error::{shown, ConfigError, Source};
use crate::engine::ExternalDial;

/// The most prefixes `allowed_prefixes` may list.
const MAX_PREFIXES: usize = 100;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTransfer {
    external_dial: Option<Spanned<String>>,
    allowed_prefixes: Option<Spanned<Vec<Spanned<String>>>>,
}

impl RawTransfer {
    /// The checked `[transfer]` settings; `None` when no template is set.
    pub(super) fn resolve(self, src: &Source<'_>) -> Result<Option<ExternalDial>, ConfigError> {
        let prefixes = match self.allowed_prefixes {
            None => Vec::new(),
            Some(list) => {
                let span = list.span();
                let list = list.into_inner();
                if list.len() > MAX_PREFIXES {
                    return Err(src.error_at(
                        Some(span),
                        "transfer.allowed_prefixes",
                        format!("at most {MAX_PREFIXES} prefixes"),
                    ));
                }
                let mut out = Vec::with_capacity(list.len());
                for p in list {
                    let digits = p.get_ref().strip_prefix('+').unwrap_or(p.get_ref());
                    // `+` alone: international numbers only.
                    let ok = (p.get_ref().starts_with('+') || !digits.is_empty())
                        && digits.len() <= 20
                        && digits.chars().all(|c| c.is_ascii_digit());
                    if !ok {
                        return Err(src.error_at(
                            Some(p.span()),
                            "transfer.allowed_prefixes",
                            format!(
                                "{} is not a number prefix: an optional '+' then up to 20 digits",
                                shown(p.get_ref())
                            ),
                        ));
                    }
                    out.push(p.into_inner());
                }
                out
            }
        };
        let Some(dial) = self.external_dial else {
            if !prefixes.is_empty() {
                return Err(src.error_without_line(
                    "transfer.allowed_prefixes",
                    "allowed_prefixes without external_dial: set [transfer] external_dial",
                ));
            }
            return Ok(None);
        };
        check_dial_template(dial.get_ref()).map_err(|e| {
            src.error_at(Some(dial.span()), "transfer.external_dial", e.to_string())
        })?;
        Ok(Some(ExternalDial {
            template: dial.into_inner(),
            allowed_prefixes: prefixes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn parse(transfer: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[[switch]]\nname = \"fs1\"\nesl = \"127.0.0.1:8021\"\npassword = \"ClueCon\"\n\
             [transfer]\n{transfer}\n"
        );
        Config::parse(&text, Path::new("switchboard.toml"), |_| None)
    }

    #[test]
    fn a_template_and_prefixes_are_kept() {
        let c = parse(
            "external_dial = \"sofia/gateway/pstn/{number}\"\nallowed_prefixes = [\"+49\", \"0\"]",
        )
        .expect("valid");
        let dial = c.external_dial.expect("set");
        assert_eq!(dial.template, "sofia/gateway/pstn/{number}");
        assert_eq!(dial.allowed_prefixes, vec!["+49", "0"]);
        assert_eq!(parse("").expect("valid").external_dial, None);
    }

    #[test]
    fn an_unsafe_template_is_refused_with_its_line_and_key() {
        for bad in [
            "sofia/gateway/pstn/5551234",
            "sofia/gateway/pstn/{number} &park()",
            "sofia/gateway/pstn/{number},user/1001",
            "{origination_caller_id_number=1}sofia/gateway/pstn/{number}",
            "sofia/gateway/{number}/1",
            "sofia/gateway/pstn/{number}\\napi shutdown",
        ] {
            let e = parse(&format!("external_dial = \"{bad}\"")).expect_err(bad);
            assert_eq!(e.key, "transfer.external_dial", "{bad}: {e}");
            assert_eq!(e.line, Some(6), "{bad}");
        }
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in ["\"\"", "\"49x\"", "\"+4 9\"", "\"1{number}\""] {
            let e = parse(&format!(
                "external_dial = \"sofia/gateway/pstn/{{number}}\"\nallowed_prefixes = [{bad}]"
            ))
            .expect_err(bad);
            assert_eq!(e.key, "transfer.allowed_prefixes", "{bad}: {e}");
            assert_eq!(e.line, Some(7), "{bad}");
        }
        let e = parse("allowed_prefixes = [\"+49\"]").expect_err("no template");
        assert_eq!(e.key, "transfer.allowed_prefixes");
        let e = parse("external = \"x\"").expect_err("unknown key");
        assert!(e.to_string().contains("external"), "{e}");
    }
}
