//! `[switch.reach]`: how one switch dials the users registered on another, so an agent is
//! reached from a caller on any switch (the bridge needs both legs on the caller's switch).

use std::collections::BTreeMap;

use toml::Spanned;

use super::dial_string::check_reach_template;
use super::error::{shown, ConfigError, Source};
use crate::engine::SwitchName;

/// The routes of switch `index` (`name`), checked: each names another configured switch and is
/// a safe dial template with `{user}`.
pub(super) fn routes(
    src: &Source<'_>,
    index: usize,
    name: &SwitchName,
    switches: &[String],
    raw: BTreeMap<String, Spanned<String>>,
) -> Result<Vec<(SwitchName, String)>, ConfigError> {
    let mut routes = Vec::with_capacity(raw.len());
    for (to, template) in raw {
        let key = format!("switch[{index}].reach.{to}");
        let span = || Some(template.span());
        if !switches.iter().any(|s| s == &to) {
            return Err(src.error_at(
                span(),
                key,
                format!(
                    "{} is not a configured switch (a [[switch]] name)",
                    shown(&to)
                ),
            ));
        }
        if to == name.as_str() {
            return Err(src.error_at(
                span(),
                key,
                "a switch reaches its own users as user/<user>: no route to itself",
            ));
        }
        let to =
            SwitchName::new(&to).map_err(|e| src.error_at(span(), key.clone(), e.to_string()))?;
        check_reach_template(template.get_ref())
            .map_err(|e| src.error_at(span(), key, e.to_string()))?;
        routes.push((to, template.into_inner()));
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(reach: &str) -> Result<Config, crate::config::ConfigError> {
        let text = format!(
            "[[switch]]\nname = \"fs1\"\nesl = \"127.0.0.1:8021\"\npassword = \"ClueCon\"\n\
             {reach}\n\
             [[switch]]\nname = \"fs2\"\nesl = \"127.0.0.2:8021\"\npassword = \"ClueCon\"\n"
        );
        Config::parse(&text, Path::new("switchboard.toml"), |_| None)
    }

    #[test]
    fn a_route_to_another_switch_is_kept_with_its_template() {
        let config = parse("[switch.reach]\nfs2 = \"sofia/gateway/fs2/{user}\"").expect("valid");
        assert_eq!(config.switches[0].reach.len(), 1);
        assert_eq!(config.switches[0].reach[0].0.as_str(), "fs2");
        assert_eq!(config.switches[0].reach[0].1, "sofia/gateway/fs2/{user}");
        assert!(config.switches[1].reach.is_empty());
    }

    #[test]
    fn a_route_naming_an_unknown_switch_is_refused_with_its_line_and_key() {
        let e = parse("[switch.reach]\nfs3 = \"sofia/gateway/fs3/{user}\"").expect_err("refused");
        assert_eq!(e.key, "switch[0].reach.fs3");
        assert_eq!(e.line, Some(6));
        assert!(e.message.contains("not a configured switch"), "{e}");
    }

    #[test]
    fn a_route_to_the_switch_itself_is_refused() {
        let e = parse("[switch.reach]\nfs1 = \"sofia/gateway/fs1/{user}\"").expect_err("refused");
        assert_eq!(e.key, "switch[0].reach.fs1");
    }

    #[test]
    fn a_template_without_the_user_or_with_unsafe_characters_is_refused() {
        for bad in [
            "sofia/gateway/fs2/1001",
            "sofia/gateway/fs2/{user} &bridge(x)",
            "sofia/gateway/fs2/{user},user/1002",
            "{sip_h_X=1}sofia/gateway/fs2/{user}",
            "sofia/gateway/{user}/{user}",
            "sofia/gateway/{user}/1001",
            "sofia/gateway/fs2/{number}",
            "sofia/gateway/fs2/{user}{number}",
            "sofia/internal/{user}@{user}",
            "user/{user}\napi shutdown",
        ] {
            let toml_value = bad.replace('\n', "\\n");
            let e = parse(&format!("[switch.reach]\nfs2 = \"{toml_value}\"")).expect_err(bad);
            assert_eq!(e.key, "switch[0].reach.fs2", "{bad:?}: {e}");
            assert_eq!(e.line, Some(6), "{bad:?}");
        }
    }

    #[test]
    fn every_documented_route_form_is_accepted() {
        for ok in [
            "sofia/gateway/fs2/{user}",
            "sofia/external/{user}@10.0.0.2:5080",
            "user/{user}@fs2.example.com",
            "loopback/9{user}/reach",
        ] {
            parse(&format!("[switch.reach]\nfs2 = \"{ok}\"")).expect(ok);
        }
    }
}
