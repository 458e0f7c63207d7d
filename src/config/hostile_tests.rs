//! Regression tests for what a hostile tester found in the config files (issue 16, hole 10):
//! unbounded reads, unbounded durations, tokens for agents that do not exist, huge echoed
//! values, empty parse errors and control characters in secrets.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::*;

const MINIMAL: &str = r#"
[[switch]]
name = "fs-1"
esl = "127.0.0.1:8021"
password = "ClueCon"
"#;

const QUEUE_AND_AGENT: &str = r#"
[[queue]]
id = "support"
name = "Support"

[[agent]]
id = "1001"
name = "Alice"
dial_string = "user/1001"
queues = ["support"]
"#;

fn no_env(_: &str) -> Option<String> {
    None
}

fn config_error(text: &str) -> ConfigError {
    match Config::parse(text, Path::new("sb.toml"), no_env) {
        Err(e) => e,
        Ok(_) => panic!("accepted:\n{text}"),
    }
}

fn provisioning_error(text: &str) -> ConfigError {
    match Provisioning::parse_with_env(text, "prov.toml", &no_env) {
        Err(e) => e,
        Ok(_) => panic!("accepted:\n{text}"),
    }
}

#[test]
fn a_config_file_larger_than_the_limit_is_refused_naming_the_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    let big = vec![b'#'; usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX) + 1];
    file.write_all(&big).unwrap_or_else(|e| panic!("{e}"));
    for err in [
        Config::load(file.path()).err(),
        Provisioning::load(file.path()).err(),
    ] {
        let err = err.unwrap_or_else(|| panic!("a file over the limit was read"));
        assert_eq!(err.file, file.path());
        assert!(err.message.contains("larger than 4 MiB"), "{err}");
    }
}

#[cfg(unix)]
#[test]
fn a_device_that_never_ends_is_refused_instead_of_read_forever() {
    let err = Config::load(Path::new("/dev/zero")).err();
    let err = err.unwrap_or_else(|| panic!("/dev/zero was accepted"));
    assert!(err.to_string().starts_with("/dev/zero: "), "{err}");
    assert!(err.message.contains("larger than"), "{err}");
}

#[test]
fn a_heartbeat_timeout_of_centuries_is_refused_with_line_and_key() {
    let text = format!("{MINIMAL}heartbeat_timeout = \"18446744073709551615s\"\n");
    let err = config_error(&text);
    assert_eq!(err.key, "switch[0].heartbeat_timeout");
    assert_eq!(err.line, Some(6));

    let text = format!("{MINIMAL}heartbeat_timeout = \"11m\"\n");
    let err = config_error(&text);
    assert_eq!(err.key, "switch[0].heartbeat_timeout");
    assert_eq!(err.line, Some(6));
    assert!(err.message.contains("at most 10m"), "{err}");

    let ok = format!("{MINIMAL}heartbeat_timeout = \"10m\"\n");
    assert!(Config::parse(&ok, Path::new("sb.toml"), no_env).is_ok());
}

#[test]
fn every_duration_setting_of_the_config_has_a_maximum() {
    for (section, key, too_long) in [
        ("", "reconnect_max", "2h"),
        ("\n[routing]\n", "wrap_up", "2h"),
        ("\n[routing]\n", "ring_timeout", "11m"),
        ("\n[routing]\n", "busy_backoff", "2h"),
        ("\n[recordings]\n", "purge_every", "8days"),
    ] {
        let text = format!("{MINIMAL}{section}{key} = \"{too_long}\"\n");
        let err = config_error(&text);
        assert!(err.key.ends_with(key), "{key}: {err}");
        assert!(err.line.is_some(), "{key}: {err}");
        assert!(err.message.contains("at most"), "{key}: {err}");
    }
}

#[test]
fn provisioning_durations_have_a_maximum_named_by_line_and_key() {
    for (key, too_long) in [
        ("wrap_up", "2h"),
        ("ring_timeout", "1h"),
        ("busy_backoff", "2h"),
        ("reject_backoff", "2h"),
        ("no_answer_backoff", "2h"),
        ("max_wait", "2days"),
        ("abandoned_resume", "2days"),
    ] {
        let text = QUEUE_AND_AGENT.replace(
            "name = \"Support\"\n",
            &format!("name = \"Support\"\n{key} = \"{too_long}\"\n"),
        );
        let err = provisioning_error(&text);
        assert_eq!(err.key, format!("queue[0].{key}"), "{err}");
        assert_eq!(err.line, Some(5), "{err}");
        assert!(err.message.contains("at most"), "{err}");
    }
    let text = QUEUE_AND_AGENT.replace(
        "name = \"Support\"\n",
        "name = \"Support\"\nwrap_up = \"18446744073709551615s\"\n",
    );
    let err = provisioning_error(&text);
    assert_eq!(err.key, "queue[0].wrap_up");
    assert!(err.message.len() < 200, "{err}");
}

#[test]
fn a_file_token_for_an_agent_that_does_not_exist_is_refused() {
    let token = |agent: &str| {
        format!(
            "{QUEUE_AND_AGENT}\n[[token]]\nname = \"desk\"\nrole = \"agent\"\nagent = \"{agent}\"\n\
             sha256 = \"{}\"\n",
            "a".repeat(64)
        )
    };
    let err = provisioning_error(&token("9999"));
    assert_eq!(err.key, "token[0].agent");
    assert_eq!(err.line, Some(15));
    assert!(err.message.contains("\"9999\" is not declared"), "{err}");

    let ok = Provisioning::parse_with_env(&token("1001"), "prov.toml", &no_env);
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn a_huge_rejected_value_is_echoed_cut_short() {
    let huge = "x".repeat(5 * 1024 * 1024);
    let text = QUEUE_AND_AGENT.replace("\"Support\"", &format!("\"{huge}\""));
    let err = provisioning_error(&text);
    assert_eq!(err.key, "queue[0].name");
    assert!(err.message.len() < 200, "{} bytes", err.message.len());
    assert!(err.message.contains("…"), "{err}");

    let text = MINIMAL.replace("127.0.0.1:8021", &huge);
    let err = config_error(&text);
    assert_eq!(err.key, "switch[0].esl");
    assert!(
        err.to_string().len() < 400,
        "{} bytes",
        err.to_string().len()
    );

    assert_eq!(shown("short"), "\"short\"");
    let cut = shown(&"é".repeat(100));
    assert_eq!(cut, format!("\"{}…\"", "é".repeat(64)));
}

#[test]
fn a_key_cut_short_at_the_end_of_the_file_gives_a_reason() {
    for text in [
        format!("{MINIMAL}heartbeat_timeout ="),
        format!("{MINIMAL}heartbeat_timeout =\n"),
        "[[switch]]\nname =".to_owned(),
    ] {
        let err = config_error(&text);
        assert!(!err.message.trim().is_empty(), "{text:?}: empty reason");
        assert!(err.line.is_some(), "{err}");
        assert!(!err.to_string().ends_with(": "), "{err}");
    }
    let err = provisioning_error("[[queue]]\nid =");
    assert!(!err.message.trim().is_empty(), "empty reason: {err}");
}

#[test]
fn a_control_character_in_an_esl_password_is_refused_without_echoing_it() {
    for password in ["Clue\\nCon", "Clue\\r\\nauth x", "a\\tb", "nul\\u0000"] {
        let text = MINIMAL.replace("\"ClueCon\"", &format!("\"{password}\""));
        let err = config_error(&text);
        assert_eq!(err.key, "switch[0].password", "{password}: {err}");
        assert_eq!(err.line, Some(5), "{password}: {err}");
        assert!(err.message.contains("control character"), "{err}");
        assert!(
            !err.message.contains("Clue"),
            "the secret was echoed: {err}"
        );
    }

    let env =
        |name: &str| (name == "SWITCHBOARD_SWITCH_FS_1_PASSWORD").then(|| "Clue\nCon".to_owned());
    let err = Config::parse(MINIMAL, Path::new("sb.toml"), env).err();
    let err = err.unwrap_or_else(|| panic!("a password with a line break from the environment"));
    assert_eq!(err.key, "switch[0].password");
    assert!(!err.message.contains("Clue"), "{err}");
}

#[test]
fn the_http_servers_limits_are_set_in_the_http_section_and_bounded() {
    let text = format!(
        "[http]\nheader_timeout = \"5s\"\nidle_timeout = \"2m\"\nmax_connections = 200\n{MINIMAL}"
    );
    let config = match Config::parse(&text, Path::new("sb.toml"), no_env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(config.http.header_timeout, Some(Duration::from_secs(5)));
    assert_eq!(config.http.idle_timeout, Some(Duration::from_secs(120)));
    assert_eq!(config.http.max_connections, Some(200));
    let none = config_error(&format!("[http]\nmax_connections = 0\n{MINIMAL}")).to_string();
    assert!(
        none.contains("sb.toml:2") && none.contains("http.max_connections"),
        "{none}"
    );
    let forever = config_error(&format!("[http]\nidle_timeout = \"30d\"\n{MINIMAL}")).to_string();
    assert!(
        forever.contains("http.idle_timeout") && forever.contains("too long"),
        "{forever}"
    );
}
