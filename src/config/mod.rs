//! The two files an admin writes: the controller's config (`switchboard.toml`: listen address,
//! database, switches, routing defaults) and the provisioning file (queues, agents, pause
//! reasons, tokens, webhooks, evaluation forms).
//!
//! This module parses and validates; every error names the file, the line and the key. It does
//! no I/O beyond reading the file it is given, and knows nothing of the database: the store
//! applies a [`Provisioning`].

mod asterisk;
mod dial_string;
mod error;
mod evaluation;
mod ha;
mod provisioning;
mod queue_json;
mod reach;
mod settings;
mod stats;
mod tokens;
mod transfer;
mod values;
mod webhooks;

pub use asterisk::{
    AriScheme, AriUrl, AsteriskSwitchConfig, DEFAULT_ASTERISK_RECORDINGS_DIR, DEFAULT_STASIS_APP,
};
pub use dial_string::{DialString, DialStringError};
pub use error::ConfigError;
pub(crate) use error::{line_of, shown, Source};
pub use error::{read_capped, MAX_FILE_BYTES};
pub use evaluation::{
    forms_or_standard, Criterion, CriterionScore, EvaluationForm, ScoreError, MAX_CRITERION_SCORE,
};
pub use ha::HaConfig;
pub(crate) use provisioning::is_language;
pub use provisioning::{
    check_agent_skills, check_memberships, is_pause_code, MembershipEntry, ProvisionedAgent,
    ProvisionedPauseReason, ProvisionedQueue, Provisioning, RefusedEntry, DEFAULT_HOLD_MUSIC,
};
pub use queue_json::{queue_from_json, QueueEntryError};
pub use settings::{
    Config, DatabaseConfig, EslAddress, HttpConfig, RecordingsConfig, RoutingDefaults,
    SwitchConfig, DATABASE_URL_ENV, DEFAULT_RECORDINGS_DIR,
};
pub use stats::StatsConfig;
pub use tokens::{
    check_token_agent, BearerToken, BearerTokenError, ProvisionedToken, Role, RoleError, TokenHash,
    TokenHashError, TokenName, TokenNameError,
};
pub(crate) use values::DisplayName;
pub use values::{
    is_switch_word, redact_url, sanitize_name, sanitize_number, sound_source_problem, Secret,
    CONTEXT_CHARS, EXTENSION_CHARS, HANGUP_CAUSES, HANGUP_CAUSE_CHARS, MAILBOX_CHARS,
    SAY_TEXT_CHARS, SOUND_SCHEMES, VOICEMAIL_DOMAIN_CHARS,
};
pub(crate) use values::{HumanDuration, MediaSource};

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::*;
    use crate::engine::PhoneOutcome;

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse_config(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("switchboard.toml"), no_env)
    }

    const MINIMAL: &str = r#"
[[switch]]
name = "fs-1"
esl = "127.0.0.1:8021"
password = "ClueCon"
"#;

    #[test]
    fn example_config_parses_and_its_provisioning_file_resolves_next_to_it() {
        let path = example("switchboard.example.toml");
        let config = match Config::parse(
            &std::fs::read_to_string(&path).unwrap_or_default(),
            &path,
            no_env,
        ) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(config.switches.len(), 2);
        assert_eq!(config.switches[0].esl.to_string(), "127.0.0.1:8021");
        assert_eq!(config.presence_domain.as_deref(), Some("pbx.example.com"));
        assert!(config.hot_desk_moves);
        assert_eq!(
            config.phone_prompts.get(PhoneOutcome::LoggedIn),
            "ivr/ivr-you_are_now_logged_in.wav"
        );
        assert_eq!(
            config.provisioning,
            Some(example("provisioning.example.toml"))
        );
        let provisioning = config.provisioning.as_deref().map(Provisioning::load);
        assert!(matches!(provisioning, Some(Ok(_))), "{provisioning:?}");
    }

    #[test]
    fn a_presence_domain_that_could_break_an_event_header_names_its_line() {
        let text = format!("{MINIMAL}\n[presence]\ndomain = \"pbx example.com\"\n");
        match Config::parse(&text, std::path::Path::new("sb.toml"), no_env) {
            Err(e) => {
                assert_eq!(e.key, "presence.domain");
                assert_eq!(e.line, Some(8));
            }
            Ok(_) => panic!("accepted a domain with a space"),
        }
    }

    #[test]
    fn phone_prompts_replace_the_defaults_and_a_wrong_one_names_its_line() {
        let text = format!(
            "{MINIMAL}\n[agents.prompts]\nlogged_out = \"\"\nwrong_pin = \"custom/nope.wav\"\n"
        );
        let config = parse_config(&text).unwrap_or_else(|e| panic!("{e}"));
        let prompts = &config.phone_prompts;
        assert_eq!(prompts.get(PhoneOutcome::LoggedOut), "");
        assert_eq!(prompts.get(PhoneOutcome::WrongPin), "custom/nope.wav");
        assert_eq!(
            prompts.get(PhoneOutcome::UnknownAgent),
            "ivr/ivr-pin_or_extension_is-invalid.wav"
        );

        let unknown = format!("{MINIMAL}\n[agents.prompts]\nwelcome = \"a.wav\"\n");
        match parse_config(&unknown) {
            Err(e) => {
                assert_eq!(e.key, "agents.prompts.welcome");
                assert_eq!(e.line, Some(8));
                assert!(e.message.contains("logged_in_elsewhere"), "{}", e.message);
            }
            Ok(_) => panic!("accepted an unknown prompt"),
        }
        let spaced = format!("{MINIMAL}\n[agents.prompts]\non_call = \"busy now.wav\"\n");
        match parse_config(&spaced) {
            Err(e) => {
                assert_eq!(e.key, "agents.prompts.on_call");
                assert_eq!(e.line, Some(8));
            }
            Ok(_) => panic!("accepted a prompt with a space"),
        }
    }

    #[test]
    fn a_hot_desk_extension_that_could_break_a_transfer_names_its_line() {
        let text = format!("{MINIMAL}\n[agents]\nhot_desk_extension = \"*21 XML\"\n");
        match parse_config(&text) {
            Err(e) => {
                assert_eq!(e.key, "agents.hot_desk_extension");
                assert_eq!(e.line, Some(8));
            }
            Ok(_) => panic!("accepted an extension with a space"),
        }
        let off = format!("{MINIMAL}\n[agents]\nhot_desk_extension = \"\"\n");
        let config = parse_config(&off).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.hot_desk_extension, None);
    }

    #[test]
    fn example_provisioning_parses() {
        let p = match Provisioning::load(&example("provisioning.example.toml")) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let queues: Vec<&str> = p.queues.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(queues, ["support", "sales"]);
        assert_eq!(p.agents.len(), 4);
        let tokens: Vec<(&str, Role, Option<&str>)> = p
            .tokens
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.role,
                    t.agent.as_ref().map(|a| a.as_str()),
                )
            })
            .collect();
        assert_eq!(
            tokens,
            [
                ("crm", Role::Integration, None),
                ("alice-desktop", Role::Agent, Some("1001"))
            ]
        );
        assert_eq!(p.queues[1].moh, DEFAULT_HOLD_MUSIC);
        assert_eq!(p.queues[0].wrap_up, Some(Duration::from_secs(10)));
        assert_eq!(p.queues[1].wrap_up, None);
        let bob = &p.agents[1];
        assert_eq!(bob.dial_string.as_str(), "user/1002");
        assert_eq!(
            bob.queues
                .iter()
                .map(|m| m.queue.as_str())
                .collect::<Vec<_>>(),
            ["support", "sales"]
        );

        let support = &p.queues[0].routing;
        assert_eq!(support.strategy, crate::engine::Strategy::BestSkillMatch);
        assert_eq!(support.steps.len(), 3);
        assert_eq!(
            support.on_max_wait.as_ref().map(ToString::to_string),
            Some("queue:sales".to_owned())
        );
        let carla = &p.agents[2];
        assert_eq!(carla.queues[1].tier, 2);
        assert_eq!(
            carla
                .skills
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["italian:9", "spanish:5"]
        );
    }

    #[test]
    fn hold_music_that_would_run_a_command_on_the_switch_is_refused_with_its_line_and_key() {
        let text = "[[queue]]\nid = \"support\"\nname = \"Support\"\nmoh = \"shell_stream:///usr/bin/id\"\n";
        let err = Provisioning::parse(text, "p.toml").err();
        assert_eq!(
            err.as_ref().map(|e| (e.line, e.key.as_str())),
            Some((Some(4), "queue[0].moh")),
            "{err:?}"
        );
        let message = err.map(|e| e.message).unwrap_or_default();
        assert!(
            message.contains("shell_stream:// is not allowed"),
            "{message}"
        );
    }

    #[test]
    fn defaults_fill_what_a_minimal_config_leaves_out() {
        let c = match parse_config(MINIMAL) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
        assert!(c.http.auth, "auth is on unless the file turns it off");
        assert_eq!(c.database.url, "sqlite://switchboard.db");
        assert_eq!(c.provisioning, None);
        assert_eq!(c.routing, RoutingDefaults::default());
        assert_eq!(c.switches[0].heartbeat_timeout, Duration::from_secs(60));
        assert_eq!(c.switches[0].reconnect_max, Duration::from_secs(30));
    }

    #[test]
    fn recordings_live_in_the_packages_folder_unless_a_switch_says_otherwise() {
        let c = parse_config(MINIMAL).expect("minimal");
        assert_eq!(
            c.switches[0].recordings_dir,
            "/var/lib/freeswitch/recordings"
        );
        assert_eq!(c.switches[0].recordings_mount, None);
        let text =
            format!("{MINIMAL}recordings_dir = \"/srv/rec/\"\nrecordings_mount = \"mnt/fs-1\"\n");
        let c = parse_config(&text).expect("with recordings");
        assert_eq!(c.switches[0].recordings_dir, "/srv/rec");
        assert_eq!(
            c.switches[0].recordings_mount,
            Some(PathBuf::from("mnt/fs-1"))
        );
    }

    #[test]
    fn the_retention_purge_runs_hourly_unless_recordings_purge_every_says_otherwise() {
        let c = parse_config(MINIMAL).expect("minimal");
        assert_eq!(c.recordings.purge_every, Duration::from_secs(3600));
        let c = parse_config(&format!("[recordings]\npurge_every = \"15m\"\n{MINIMAL}"))
            .expect("with purge_every");
        assert_eq!(c.recordings.purge_every, Duration::from_secs(900));
        for (bad, line) in [("\"0s\"", Some(2)), ("\"soon\"", Some(2))] {
            let err = parse_config(&format!("[recordings]\npurge_every = {bad}\n{MINIMAL}")).err();
            assert_eq!(
                err.as_ref().map(|e| (e.line, e.key.as_str())),
                Some((line, "recordings.purge_every")),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn a_recordings_dir_that_is_relative_or_could_inject_is_rejected_at_its_line() {
        for bad in [
            "rec",
            "/srv/../etc",
            "/srv/my rec",
            "/srv/rec;x",
            "/",
            "/srv//rec",
        ] {
            let text = format!("{MINIMAL}recordings_dir = {bad:?}\n");
            let err = parse_config(&text).err();
            assert_eq!(
                err.as_ref().map(|e| (e.line, e.key.as_str())),
                Some((Some(6), "switch[0].recordings_dir")),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn auth_can_be_turned_off_for_a_lab() {
        let c = parse_config(&format!("[http]\nauth = false\n{MINIMAL}"));
        assert_eq!(c.map(|c| c.http.auth), Ok(false));
    }

    #[test]
    fn unknown_key_is_rejected_with_its_line_and_key() {
        let text = format!("{MINIMAL}heartbeat = \"60s\"\n");
        let err = parse_config(&text).err();
        let err = err
            .as_ref()
            .map(|e| (e.line, e.key.as_str(), e.to_string()));
        let Some((line, key, shown)) = err else {
            panic!("accepted an unknown key")
        };
        assert_eq!(line, Some(6));
        assert_eq!(key, "switch[0].heartbeat");
        assert!(
            shown.starts_with("switchboard.toml:6: switch[0].heartbeat: unknown field `heartbeat`"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_section_is_rejected() {
        let err = parse_config(&format!("[htpp]\nlisten = \"127.0.0.1:1\"\n{MINIMAL}")).err();
        assert_eq!(err.as_ref().and_then(|e| e.line), Some(1), "{err:?}");
        assert_eq!(err.as_ref().map(|e| e.key.as_str()), Some("htpp"));
    }

    #[test]
    fn bad_esl_address_names_line_and_key() {
        let text = format!(
            "{MINIMAL}\n[[switch]]\nname = \"fs-2\"\nesl = \"localhost\"\npassword = \"x\"\n"
        );
        let err = parse_config(&text).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("switchboard.toml:9: switch[1].esl: \"localhost\" is not host:port")
        );
    }

    #[test]
    fn esl_addresses_need_a_valid_host_and_port() {
        for ok in ["127.0.0.1:8021", "fs-1.example.com:8021", "[::1]:8021"] {
            assert!(ok.parse::<EslAddress>().is_ok(), "{ok} rejected");
        }
        for bad in [
            "localhost",
            "localhost:",
            "localhost:0",
            "localhost:70000",
            "::1:8021",
            "bad host:8021",
            "-x:8021",
            ":8021",
        ] {
            assert!(bad.parse::<EslAddress>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn bad_listen_address_and_duration_name_their_keys() {
        let err = parse_config(&format!("[http]\nlisten = \"localhost:8080\"\n{MINIMAL}")).err();
        assert_eq!(
            err.as_ref().map(|e| (e.line, e.key.as_str())),
            Some((Some(2), "http.listen"))
        );
        let err = parse_config(&format!("{MINIMAL}\n[routing]\nwrap_up = \"soon\"\n")).err();
        assert_eq!(
            err.as_ref().map(|e| (e.line, e.key.as_str())),
            Some((Some(8), "routing.wrap_up")),
            "{err:?}"
        );
    }

    #[test]
    fn duplicate_switch_name_is_rejected_at_the_second_name() {
        let err = parse_config(&format!("{MINIMAL}{MINIMAL}")).err();
        let Some(err) = err else {
            panic!("accepted a duplicate switch")
        };
        assert_eq!(err.line, Some(8));
        assert_eq!(err.key, "switch[1].name");
        assert!(err.message.contains("already used"), "{err}");
    }

    #[test]
    fn switch_names_that_share_a_password_variable_are_rejected() {
        let text = format!("{MINIMAL}{}", MINIMAL.replace("fs-1", "fs_1"));
        let err = parse_config(&text).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.message.contains("SWITCHBOARD_SWITCH_FS_1_PASSWORD")),
            "{err:?}"
        );
    }

    #[test]
    fn at_least_one_switch_is_required() {
        let err = parse_config("[http]\nlisten = \"127.0.0.1:8080\"\n").err();
        assert_eq!(err.map(|e| e.key), Some("switch".to_owned()));
    }

    #[test]
    fn password_is_not_in_debug_output() {
        let c = match parse_config(&MINIMAL.replace("ClueCon", "s3cr3t-pw")) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.switches[0].password.expose(), "s3cr3t-pw");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn database_password_is_not_in_debug_output() {
        let text = format!("[database]\nurl = \"postgres://sb:hunter2@db/sb\"\n{MINIMAL}");
        let c = parse_config(&text).map(|c| format!("{c:?}"));
        assert!(c.as_ref().is_ok_and(|s| !s.contains("hunter2")), "{c:?}");
    }

    #[test]
    fn env_overrides_the_switch_password() {
        let text = MINIMAL.replace("fs-1", "edge.fs-1");
        let env = |name: &str| {
            (name == "SWITCHBOARD_SWITCH_EDGE_FS_1_PASSWORD").then(|| "from-env".to_owned())
        };
        let c = Config::parse(&text, Path::new("switchboard.toml"), env);
        assert_eq!(
            c.as_ref().map(|c| c.switches[0].password.expose()),
            Ok("from-env")
        );
        // Without a password in the file, the environment alone is enough.
        let text = text.replace("password = \"ClueCon\"\n", "");
        let c = Config::parse(&text, Path::new("switchboard.toml"), env);
        assert!(c.is_ok(), "{c:?}");
        let err = Config::parse(&text, Path::new("switchboard.toml"), no_env).err();
        assert!(err.is_some_and(|e| e.key == "switch[0].password"
            && e.message.contains("SWITCHBOARD_SWITCH_EDGE_FS_1_PASSWORD")),);
    }

    #[test]
    fn load_reads_the_process_environment() {
        // A switch name no other test uses, so the variable cannot disturb anything else.
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else {
            panic!("no temp dir")
        };
        let path = dir.path().join("switchboard.toml");
        let written = std::fs::write(&path, MINIMAL.replace("fs-1", "env-load-test"));
        assert!(written.is_ok());
        std::env::set_var(
            "SWITCHBOARD_SWITCH_ENV_LOAD_TEST_PASSWORD",
            "from-process-env",
        );
        let c = Config::load(&path);
        std::env::remove_var("SWITCHBOARD_SWITCH_ENV_LOAD_TEST_PASSWORD");
        assert_eq!(
            c.as_ref().map(|c| c.switches[0].password.expose()),
            Ok("from-process-env")
        );
    }

    #[test]
    fn unreadable_file_names_the_file() {
        let err = Config::load(Path::new("/nonexistent/switchboard.toml")).err();
        assert!(err.is_some_and(|e| e
            .to_string()
            .starts_with("/nonexistent/switchboard.toml: cannot read")));
    }

    const QUEUES: &str = r#"
[[queue]]
id = "support"
name = "Support"
"#;

    fn agent(dial_string: &str, queues: &str) -> String {
        format!(
            "{QUEUES}\n[[agent]]\nid = \"1001\"\nname = \"Alice\"\ndial_string = {dial_string:?}\nqueues = {queues}\n"
        )
    }

    #[test]
    fn agent_in_an_unknown_queue_is_rejected_with_its_line() {
        let err = Provisioning::parse(&agent("user/1001", "[\"support\", \"sales\"]"), "p.toml")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("p.toml:10: agent[0].queues: queue \"sales\" is not declared in this file")
        );
    }

    #[test]
    fn duplicate_queue_and_agent_ids_are_rejected() {
        let err = Provisioning::parse(&format!("{QUEUES}{QUEUES}"), "p.toml").err();
        assert_eq!(
            err.map(|e| (e.line, e.key)),
            Some((Some(7), "queue[1].id".to_owned()))
        );
        let one = agent("user/1001", "[]");
        let twice = format!("{one}{}", one.replace(QUEUES, ""));
        let err = Provisioning::parse(&twice, "p.toml").err();
        assert_eq!(err.map(|e| e.key), Some("agent[1].id".to_owned()));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        let err = Provisioning::parse(&QUEUES.replace("support", "sup port"), "p.toml").err();
        assert_eq!(
            err.map(|e| (e.line, e.key)),
            Some((Some(3), "queue[0].id".to_owned()))
        );
    }

    #[test]
    fn dial_string_injection_attempts_are_rejected() {
        for bad in [
            "user/1001,sofia/evil",
            "{foo=bar}user/1001",
            "user/1001 &bridge(x)",
            "user/10\n01",
        ] {
            let err = Provisioning::parse(&agent(bad, "[\"support\"]"), "p.toml").err();
            let Some(err) = err else {
                panic!("{bad:?} accepted")
            };
            assert_eq!(err.key, "agent[0].dial_string", "{bad:?}: {err}");
            assert_eq!(err.line, Some(9), "{bad:?}: {err}");
            assert!(err.message.contains("not a safe dial string"), "{err}");
        }
    }

    #[test]
    fn unknown_provisioning_key_is_rejected() {
        let err =
            Provisioning::parse(&format!("{QUEUES}stratgey = \"ring-all\"\n"), "p.toml").err();
        assert_eq!(
            err.map(|e| (e.line, e.key)),
            Some((Some(5), "queue[0].stratgey".to_owned()))
        );
    }

    #[test]
    fn an_empty_provisioning_file_is_valid() {
        assert_eq!(
            Provisioning::parse("", "p.toml"),
            Ok(Provisioning::default())
        );
    }

    #[test]
    fn a_syntax_error_is_one_line_with_its_line_number() {
        let err = Config::parse("[[switch]\nname = \"a\"\n", Path::new("sb.toml"), no_env)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("sb.toml:1: invalid table header; expected `.`, `]]`")
        );
    }
}

#[cfg(test)]
mod asterisk_tests;
#[cfg(test)]
mod disposition_tests;
#[cfg(test)]
mod hostile_tests;
