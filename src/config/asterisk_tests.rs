//! `[[switch]] kind = "asterisk"`: what parses, the defaults, and each wrong key or value
//! reported at its line and key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const FREESWITCH: &str = r#"[[switch]]
name = "fs-1"
esl = "127.0.0.1:8021"
password = "ClueCon"
"#;

/// Lines 1-5.
const ASTERISK: &str = r#"[[switch]]
name = "ast-1"
kind = "asterisk"
ari = "http://127.0.0.1:8088"
user = "switchboard"
password = "ClueCon"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("switchboard.toml"), |_| None)
}

fn located(text: &str) -> Option<(Option<usize>, String, String)> {
    parse(text)
        .err()
        .map(|e| (e.line, e.key.clone(), e.to_string()))
}

#[test]
fn an_asterisk_switch_parses_with_the_stock_app_recordings_dir_and_timeouts() {
    let config = parse(ASTERISK).expect("asterisk");
    assert!(config.switches.is_empty());
    let [switch] = config.asterisk_switches.as_slice() else {
        panic!("{:?}", config.asterisk_switches)
    };
    assert_eq!(switch.name.as_str(), "ast-1");
    assert_eq!(switch.ari.to_string(), "http://127.0.0.1:8088");
    assert_eq!(switch.user, "switchboard");
    assert_eq!(switch.password.expose(), "ClueCon");
    assert_eq!(switch.app, "switchboard");
    assert_eq!(switch.recordings_dir, "/var/spool/asterisk/recording");
    assert_eq!(switch.recordings_mount, None);
    assert_eq!(switch.heartbeat_timeout, Duration::from_secs(60));
    assert_eq!(switch.reconnect_max, Duration::from_secs(30));
    assert!(switch.reach.is_empty());
}

#[test]
fn every_asterisk_key_can_be_set() {
    let text = format!(
        "{ASTERISK}app = \"switchboard-b\"\nheartbeat_timeout = \"10s\"\nreconnect_max = \"5s\"\n\
         recordings_dir = \"/srv/asterisk/rec/\"\nrecordings_mount = \"mnt/ast-1\"\n"
    );
    let config = parse(&text).expect("asterisk");
    let switch = &config.asterisk_switches[0];
    assert_eq!(switch.app, "switchboard-b");
    assert_eq!(switch.heartbeat_timeout, Duration::from_secs(10));
    assert_eq!(switch.reconnect_max, Duration::from_secs(5));
    assert_eq!(switch.recordings_dir, "/srv/asterisk/rec");
    assert_eq!(switch.recordings_mount, Some(PathBuf::from("mnt/ast-1")));
}

#[test]
fn a_freeswitch_switch_is_the_default_and_kind_freeswitch_says_the_same() {
    let explicit = FREESWITCH.replace("name = \"fs-1\"", "name = \"fs-1\"\nkind = \"freeswitch\"");
    for text in [FREESWITCH.to_owned(), explicit] {
        let config = parse(&text).expect("freeswitch");
        assert_eq!(config.switches.len(), 1, "{text}");
        assert!(config.asterisk_switches.is_empty());
        assert_eq!(config.switches[0].esl.to_string(), "127.0.0.1:8021");
    }
}

#[test]
fn one_controller_drives_both_kinds_and_they_reach_each_other() {
    let text = format!(
        "{FREESWITCH}[switch.reach]\nast-1 = \"sofia/gateway/ast-1/{{user}}\"\n\n{ASTERISK}\
         [switch.reach]\nfs-1 = \"user/{{user}}\"\n"
    );
    let config = parse(&text).expect("both kinds");
    assert_eq!(config.switches.len(), 1);
    assert_eq!(config.asterisk_switches.len(), 1);
    assert_eq!(config.switches[0].reach[0].0.as_str(), "ast-1");
    assert_eq!(config.asterisk_switches[0].reach[0].0.as_str(), "fs-1");
}

#[test]
fn a_switch_name_is_unique_across_kinds() {
    let text = format!("{FREESWITCH}\n{}", ASTERISK.replace("ast-1", "fs-1"));
    let err = located(&text);
    assert_eq!(
        err.as_ref().map(|(line, key, _)| (*line, key.as_str())),
        Some((Some(7), "switch[1].name")),
        "{err:?}"
    );
    assert!(err.is_some_and(|(_, _, m)| m.contains("already used")));
}

#[test]
fn an_unknown_kind_is_reported_at_its_line() {
    let err = located(&ASTERISK.replace("\"asterisk\"", "\"asterix\""));
    let Some((line, key, message)) = err else {
        panic!("accepted kind = asterix")
    };
    assert_eq!((line, key.as_str()), (Some(3), "switch[0].kind"));
    assert!(message.contains("asterisk"), "{message}");
}

#[test]
fn esl_on_an_asterisk_switch_is_reported_at_its_line() {
    let text = format!("{ASTERISK}esl = \"127.0.0.1:8021\"\n");
    let err = located(&text);
    assert_eq!(
        err.as_ref().map(|(line, key, _)| (*line, key.as_str())),
        Some((Some(7), "switch[0].esl")),
        "{err:?}"
    );
    assert!(err.is_some_and(|(_, _, m)| m.contains("ARI, not ESL")));
}

#[test]
fn ari_user_and_app_on_a_freeswitch_switch_are_reported_at_their_line() {
    for (key, value) in [
        ("ari", "\"http://127.0.0.1:8088\""),
        ("user", "\"switchboard\""),
        ("app", "\"switchboard\""),
    ] {
        let text = format!("{FREESWITCH}{key} = {value}\n");
        let err = located(&text);
        assert_eq!(
            err.as_ref().map(|(line, k, _)| (*line, k.clone())),
            Some((Some(5), format!("switch[0].{key}"))),
            "{key}: {err:?}"
        );
        assert!(
            err.is_some_and(|(_, _, m)| m.contains("kind = \"asterisk\"")),
            "{key}"
        );
    }
}

#[test]
fn an_asterisk_switch_without_ari_or_user_is_reported_at_its_name() {
    for (missing, key) in [("ari = ", "switch[0].ari"), ("user = ", "switch[0].user")] {
        let text: String = ASTERISK
            .lines()
            .filter(|l| !l.starts_with(missing))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = located(&text);
        assert_eq!(
            err.as_ref().map(|(line, k, _)| (*line, k.as_str())),
            Some((Some(2), key)),
            "{err:?}"
        );
    }
}

#[test]
fn a_freeswitch_switch_without_esl_is_reported_at_its_name() {
    let text = "[[switch]]\nname = \"fs-1\"\npassword = \"ClueCon\"\n";
    let err = located(text);
    assert_eq!(
        err.as_ref().map(|(line, k, _)| (*line, k.as_str())),
        Some((Some(2), "switch[0].esl")),
        "{err:?}"
    );
}

#[test]
fn a_bad_ari_address_is_reported_at_its_line_saying_why() {
    for (bad, why) in [
        ("127.0.0.1:8088", "http://"),
        (
            "http://switchboard:ClueCon@127.0.0.1:8088",
            "user and password",
        ),
        ("http://127.0.0.1:8088/ari", "leave /ari out"),
        ("http://127.0.0.1:8088/x", "no path"),
        ("http://127.0.0.1:99999", "port"),
    ] {
        let text = ASTERISK.replace("http://127.0.0.1:8088", bad);
        let err = located(&text);
        assert_eq!(
            err.as_ref().map(|(line, k, _)| (*line, k.as_str())),
            Some((Some(4), "switch[0].ari")),
            "{bad}: {err:?}"
        );
        assert!(err.is_some_and(|(_, _, m)| m.contains(why)), "{bad}");
    }
}

#[test]
fn the_ari_password_never_shows_in_an_error_about_the_address() {
    let text = ASTERISK.replace(
        "http://127.0.0.1:8088",
        "http://switchboard:Hunter2@127.0.0.1:8088",
    );
    let err = located(&text).map(|(_, _, m)| m).unwrap_or_default();
    assert!(err.contains("user and password"), "{err}");
    assert!(!err.contains("Hunter2"), "{err}");
}

#[test]
fn a_bad_user_or_app_is_reported_at_its_line() {
    for (from, to, line, key) in [
        (
            "user = \"switchboard\"",
            "user = \"sw:board\"",
            5,
            "switch[0].user",
        ),
        ("user = \"switchboard\"", "user = \"\"", 5, "switch[0].user"),
    ] {
        let err = located(&ASTERISK.replace(from, to));
        assert_eq!(
            err.as_ref().map(|(l, k, _)| (*l, k.as_str())),
            Some((Some(line), key)),
            "{to}: {err:?}"
        );
    }
    for bad in ["sw,board", "sw board", "", "sw.board"] {
        let err = located(&format!("{ASTERISK}app = {bad:?}\n"));
        assert_eq!(
            err.as_ref().map(|(l, k, _)| (*l, k.as_str())),
            Some((Some(7), "switch[0].app")),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn an_asterisk_password_comes_from_the_same_environment_variable_scheme() {
    let without: String = ASTERISK
        .lines()
        .filter(|l| !l.starts_with("password"))
        .map(|l| format!("{l}\n"))
        .collect();
    let config = Config::parse(&without, Path::new("switchboard.toml"), |name| {
        (name == "SWITCHBOARD_SWITCH_AST_1_PASSWORD").then(|| "from-env".to_owned())
    })
    .expect("password from the environment");
    assert_eq!(config.asterisk_switches[0].password.expose(), "from-env");
    let err = located(&without);
    assert_eq!(
        err.as_ref().map(|(l, k, _)| (*l, k.as_str())),
        Some((Some(2), "switch[0].password")),
        "{err:?}"
    );
    assert!(err.is_some_and(|(_, _, m)| m.contains("SWITCHBOARD_SWITCH_AST_1_PASSWORD")));
}

#[test]
fn an_asterisk_recordings_dir_that_could_inject_or_timeouts_of_zero_are_reported_at_their_line() {
    for (extra, key) in [
        ("recordings_dir = \"spool/rec\"", "switch[0].recordings_dir"),
        (
            "recordings_dir = \"/var/spool/../rec\"",
            "switch[0].recordings_dir",
        ),
        (
            "recordings_dir = \"/var/spool/a rec\"",
            "switch[0].recordings_dir",
        ),
        ("heartbeat_timeout = \"0s\"", "switch[0].heartbeat_timeout"),
        ("reconnect_max = \"soon\"", "switch[0].reconnect_max"),
    ] {
        let err = located(&format!("{ASTERISK}{extra}\n"));
        assert_eq!(
            err.as_ref().map(|(l, k, _)| (*l, k.as_str())),
            Some((Some(7), key)),
            "{extra}: {err:?}"
        );
    }
}

#[test]
fn an_unknown_key_on_an_asterisk_switch_is_reported_at_its_line() {
    let err = located(&format!("{ASTERISK}stasis = \"switchboard\"\n"));
    assert_eq!(
        err.as_ref().map(|(l, k, _)| (*l, k.as_str())),
        Some((Some(7), "switch[0].stasis")),
        "{err:?}"
    );
}

#[test]
fn a_reach_from_an_asterisk_switch_names_a_configured_switch() {
    let text = format!("{ASTERISK}[switch.reach]\nfs-9 = \"user/{{user}}\"\n");
    let err = located(&text);
    assert_eq!(
        err.as_ref().map(|(l, k, _)| (*l, k.as_str())),
        Some((Some(8), "switch[0].reach.fs-9")),
        "{err:?}"
    );
}

#[test]
fn the_asterisk_password_is_not_in_debug_output() {
    let config = parse(&ASTERISK.replace("ClueCon", "s3cr3t-ari")).expect("asterisk");
    assert!(!format!("{config:?}").contains("s3cr3t-ari"));
}
