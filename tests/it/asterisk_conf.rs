//! The shipped `asterisk-conf/` files: every `Stasis()` of the dialplan names our application and
//! a kind the controller implements, the feature codes are the FreeSWITCH dialplan's, ARI is on
//! loopback with a user that may write. Also what the dialplan hands the controller for a
//! dialled number ([`shipped_asterisk_entry_points`], [`shipped_asterisk_stasis_args`]), so
//! end-to-end tests give the ARI simulator exactly what the shipped dialplan does.

use std::collections::HashMap;

use switchboard::engine::Feature;

const DIALPLAN: &str = include_str!("../../asterisk-conf/extensions_switchboard.conf");
const HTTP_CONF: &str = include_str!("../../asterisk-conf/http.conf");
const ARI_CONF: &str = include_str!("../../asterisk-conf/ari.conf");
const PJSIP_CONF: &str = include_str!("../../asterisk-conf/pjsip_switchboard.conf");
const FREESWITCH_FEATURES: &str = include_str!("../../dialplans/switchboard-features.xml");

/// The context the shipped example phone dials in: the feature codes, then the entry points.
const PHONES_CONTEXT: &str = "switchboard-phones";

/// One dialplan line of an extension: its priority (`hint` for a hint) and application.
#[derive(Debug, Clone)]
struct Step {
    priority: String,
    app: String,
    data: String,
}

#[derive(Debug, Default)]
struct Context {
    /// Extensions in file order, each with its steps in file order.
    extensions: Vec<(String, Vec<Step>)>,
    includes: Vec<String>,
}

/// The `[context]`s of an `extensions.conf`-style file.
fn contexts(text: &str) -> HashMap<String, Context> {
    let mut contexts: HashMap<String, Context> = HashMap::new();
    let mut current: Option<String> = None;
    let mut last_exten: Option<String> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let at = || format!("line {}: {raw}", number + 1);
        if let Some(name) = line.strip_prefix('[') {
            let name = name.strip_suffix(']').unwrap_or_else(|| panic!("{}", at()));
            current = Some(name.to_owned());
            contexts.entry(name.to_owned()).or_default();
            last_exten = None;
            continue;
        }
        let context = current
            .as_ref()
            .and_then(|c| contexts.get_mut(c))
            .unwrap_or_else(|| panic!("outside a context: {}", at()));
        let (keyword, rest) = line
            .split_once("=>")
            .unwrap_or_else(|| panic!("not `x => y`: {}", at()));
        let rest = rest.trim();
        let (exten, rest) = match keyword.trim() {
            "include" => {
                context.includes.push(rest.to_owned());
                continue;
            }
            "exten" => {
                let (exten, rest) = rest.split_once(',').unwrap_or_else(|| panic!("{}", at()));
                (exten.trim().to_owned(), rest)
            }
            "same" => (
                last_exten
                    .clone()
                    .unwrap_or_else(|| panic!("same without exten: {}", at())),
                rest,
            ),
            other => panic!("unknown keyword {other}: {}", at()),
        };
        let (priority, application) = rest.split_once(',').unwrap_or_else(|| panic!("{}", at()));
        let (app, data) = match application.split_once('(') {
            Some((app, data)) => (
                app.trim(),
                data.strip_suffix(')')
                    .unwrap_or_else(|| panic!("no closing ): {}", at())),
            ),
            None => (application.trim(), ""),
        };
        let step = Step {
            priority: priority.trim().to_owned(),
            app: app.to_owned(),
            data: data.to_owned(),
        };
        match context.extensions.iter_mut().find(|(e, _)| *e == exten) {
            Some((_, steps)) => steps.push(step),
            None => context.extensions.push((exten.clone(), vec![step])),
        }
        last_exten = Some(exten);
    }
    contexts
}

/// An Asterisk extension pattern (`_*24X.`) as an anchored regex: `X` `Z` `N` (either case)
/// and `[…]` are digit classes, `.` is one or more characters, `!` zero or more, `-` is
/// ignored, anything else stands for itself.
fn pattern_regex(pattern: &str) -> regex::Regex {
    let mut out = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            'X' | 'x' => out.push_str("[0-9]"),
            'Z' | 'z' => out.push_str("[1-9]"),
            'N' | 'n' => out.push_str("[2-9]"),
            '.' => out.push_str(".+"),
            '!' => out.push_str(".*"),
            '-' => {}
            '[' => {
                let class: String = chars.by_ref().take_while(|c| *c != ']').collect();
                out.push('[');
                out.push_str(&class.replace('\\', "\\\\"));
                out.push(']');
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out.push('$');
    regex::Regex::new(&out).unwrap_or_else(|e| panic!("pattern {pattern}: {e}"))
}

/// The extension of `context` (or of what it includes) that answers `number`, as Asterisk
/// picks it: an exact name first, then the one pattern that matches.
fn find<'a>(all: &'a HashMap<String, Context>, context: &str, number: &str) -> Option<&'a [Step]> {
    let ctx = all
        .get(context)
        .unwrap_or_else(|| panic!("no context {context}"));
    let dialable = |steps: &[Step]| steps.iter().any(|s| s.priority == "1");
    if let Some((_, steps)) = ctx
        .extensions
        .iter()
        .find(|(e, steps)| e == number && dialable(steps))
    {
        return Some(steps);
    }
    let matching: Vec<&(String, Vec<Step>)> = ctx
        .extensions
        .iter()
        .filter(|(e, steps)| {
            e.strip_prefix('_')
                .is_some_and(|p| pattern_regex(p).is_match(number))
                && dialable(steps)
        })
        .collect();
    match matching.as_slice() {
        [] => ctx
            .includes
            .iter()
            .find_map(|included| find(all, included, number)),
        [(_, steps)] => Some(steps),
        several => panic!(
            "{number} matches several patterns of {context}: {:?}",
            several.iter().map(|(e, _)| e).collect::<Vec<_>>()
        ),
    }
}

/// `${NAME}` and `${NAME:offset}` replaced from `vars` (an unknown name stays as written).
fn expand(data: &str, vars: &HashMap<String, String>) -> String {
    let variable = regex::Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::(\d+))?\}").expect("regex");
    variable
        .replace_all(data, |c: &regex::Captures<'_>| match vars.get(&c[1]) {
            Some(value) => {
                let offset = c.get(2).map_or(0, |o| o.as_str().parse().unwrap_or(0));
                value.chars().skip(offset).collect()
            }
            None => c[0].to_owned(),
        })
        .into_owned()
}

/// What `Stasis()` hands our application when `number` is dialled in `context`: the arguments
/// after the application name (StasisStart's `args`). `collected` answers each `Read()` (the
/// digits the caller keys). `None`: the number reaches no `Stasis()`.
fn stasis_args_in(
    all: &HashMap<String, Context>,
    context: &str,
    number: &str,
    collected: &[(&str, &str)],
) -> Option<Vec<String>> {
    let steps = find(all, context, number)?;
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("EXTEN".to_owned(), number.to_owned());
    for step in steps.iter().filter(|s| s.priority != "hint") {
        match step.app.as_str() {
            "Set" => {
                let (name, value) = step.data.split_once('=').expect("Set(name=value)");
                let value = expand(value, &vars);
                vars.insert(name.trim_start_matches('_').to_owned(), value);
            }
            "Read" => {
                let name = step.data.split(',').next().unwrap_or_default();
                let (_, digits) = collected
                    .iter()
                    .find(|(k, _)| *k == name)
                    .unwrap_or_else(|| panic!("{number} reads {name}: say what the caller keys"));
                vars.insert(name.to_owned(), (*digits).to_owned());
            }
            "Answer" | "NoOp" => {}
            "Stasis" => {
                let mut args = switchboard::ari::split_arguments(&expand(&step.data, &vars));
                args.remove(0);
                return Some(args);
            }
            other => {
                panic!("{number}: the simulator cannot stand in for {other}() before Stasis()")
            }
        }
    }
    None
}

/// Every fixed extension of the shipped dialplan (entry points and feature codes, not
/// patterns) that reaches `Stasis()`, with the arguments it hands the application; a value a
/// caller keys (`Read()`) stays `${NAME}`: resolve those with [`shipped_asterisk_stasis_args`].
pub fn shipped_asterisk_entry_points() -> Vec<(String, Vec<String>)> {
    let all = contexts(DIALPLAN);
    let mut out = Vec::new();
    for context in ["switchboard-entry", "switchboard-features"] {
        for (exten, steps) in &all[context].extensions {
            if exten.starts_with('_') || !steps.iter().any(|s| s.app == "Stasis") {
                continue;
            }
            let placeholders: Vec<(String, String)> = steps
                .iter()
                .filter(|s| s.app == "Read")
                .map(|s| {
                    let name = s.data.split(',').next().unwrap_or_default().to_owned();
                    (name.clone(), format!("${{{name}}}"))
                })
                .collect();
            let collected: Vec<(&str, &str)> = placeholders
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if let Some(args) = stasis_args_in(&all, context, exten, &collected) {
                out.push((exten.clone(), args));
            }
        }
    }
    out
}

/// What the shipped dialplan hands the application for `number` dialled from an agent's phone
/// (the example phones' context: feature codes, BLF keys, then the entry points), patterns
/// such as `*241` included; `collected` answers `Read()` (`*21`: `AGENT_NUMBER`, `PIN`).
/// Panics when the number reaches no `Stasis()`.
pub fn shipped_asterisk_stasis_args(number: &str, collected: &[(&str, &str)]) -> Vec<String> {
    stasis_args_in(&contexts(DIALPLAN), PHONES_CONTEXT, number, collected)
        .unwrap_or_else(|| panic!("no extension of the shipped dialplan hands {number} to Stasis"))
}

/// Every `Stasis(...)` of the file with its context and extension.
fn every_stasis() -> Vec<(String, String, Vec<String>)> {
    let all = contexts(DIALPLAN);
    let mut out = Vec::new();
    for (name, context) in &all {
        for (exten, steps) in &context.extensions {
            for step in steps.iter().filter(|s| s.app == "Stasis") {
                out.push((
                    name.clone(),
                    exten.clone(),
                    switchboard::ari::split_arguments(&step.data),
                ));
            }
        }
    }
    assert!(out.len() > 10, "the dialplan has its Stasis() lines");
    out
}

#[test]
fn every_stasis_call_names_our_application_and_a_kind_the_controller_implements() {
    for (context, exten, args) in every_stasis() {
        let at = format!("{context}/{exten}: Stasis({})", args.join(","));
        assert_eq!(
            args.first().map(String::as_str),
            Some(switchboard::config::DEFAULT_STASIS_APP),
            "{at}"
        );
        let rest = &args[1..];
        match rest.first().map(String::as_str) {
            Some("queue") => {
                assert!((2..=4).contains(&rest.len()), "{at}");
                assert!(!rest[1].is_empty(), "{at}: a queue id");
                if let Some(priority) = rest.get(2) {
                    assert!(
                        priority.starts_with("${") || priority.parse::<i64>().is_ok(),
                        "{at}: the priority is an integer"
                    );
                }
            }
            Some("flow") => assert!(rest.len() == 2 && !rest[1].is_empty(), "{at}"),
            Some("feature") => {
                assert!((2..=5).contains(&rest.len()), "{at}");
                assert!(
                    Feature::parse(&rest[1]).is_some(),
                    "{at}: {} is not a feature",
                    rest[1]
                );
                if rest.len() > 3 {
                    assert_eq!(rest.len(), 5, "{at}: agent number and PIN come together");
                }
            }
            other => panic!("{at}: unknown kind {other:?}"),
        }
    }
}

#[test]
fn every_stasis_call_falls_back_when_the_controller_is_not_connected() {
    let all = contexts(DIALPLAN);
    for (name, context) in &all {
        for (exten, steps) in &context.extensions {
            let Some(at) = steps.iter().position(|s| s.app == "Stasis") else {
                continue;
            };
            let next = steps.get(at + 1);
            assert_eq!(
                next.map(|s| (s.app.as_str(), s.data.as_str())),
                Some(("Goto", "switchboard-after-stasis,s,1")),
                "{name}/{exten}"
            );
        }
    }
    let after = &all["switchboard-after-stasis"].extensions[0].1;
    assert!(
        after[0].data.contains("\"${STASISSTATUS}\" = \"FAILED\"")
            && after[0].data.contains("switchboard-unavailable,s,1"),
        "{after:?}"
    );
    let unavailable = &all["switchboard-unavailable"].extensions[0].1;
    assert_eq!(unavailable.last().map(|s| s.app.as_str()), Some("Hangup"));
}

#[test]
fn the_feature_codes_are_the_freeswitch_dialplans() {
    let extension =
        regex::Regex::new(r#"(?s)<extension name="[^"]+">(.*?)</extension>"#).expect("regex");
    let expression = regex::Regex::new(r#"expression="([^"]+)""#).expect("regex");
    let feature = regex::Regex::new(r#"data="switchboard_feature=([a-z_]+)""#).expect("regex");
    let reason = regex::Regex::new(r#"data="switchboard_reason=\$1""#).expect("regex");
    let mut compared = 0;
    for ext in extension.captures_iter(FREESWITCH_FEATURES) {
        let body = &ext[1];
        let pattern = expression.captures(body).expect("an expression")[1].to_owned();
        let wanted = feature.captures(body).expect("a feature")[1].to_owned();
        let fs = regex::Regex::new(&pattern).expect("the FreeSWITCH regex");
        let mut samples = switchboard::doctor::dialplan::sample_numbers(&pattern);
        samples.extend(
            [
                "*241",
                "*2412345678",
                "*24",
                "*271",
                "*2712",
                "agent+1001",
                "agent+sup.7",
            ]
            .map(String::from),
        );
        for number in samples.iter().filter(|n| fs.is_match(n)) {
            let reason_code = reason.is_match(body).then(|| {
                fs.captures(number)
                    .map(|c| c[1].to_owned())
                    .unwrap_or_default()
            });
            let collected = [("AGENT_NUMBER", "1001"), ("PIN", "4711")];
            let args = shipped_asterisk_stasis_args(number, &collected);
            assert_eq!(
                args.first().map(String::as_str),
                Some("feature"),
                "{number}"
            );
            assert_eq!(args.get(1), Some(&wanted), "{number}: {args:?}");
            let given = args.get(2).cloned().unwrap_or_default();
            assert_eq!(given, reason_code.unwrap_or_default(), "{number}: {args:?}");
            compared += 1;
        }
    }
    assert!(compared >= 10, "compared {compared} numbers");
    let all = contexts(DIALPLAN);
    for not_a_code in ["*20", "*27", "*28", "*2", "agent"] {
        assert!(
            stasis_args_in(&all, "switchboard-features", not_a_code, &[]).is_none(),
            "{not_a_code} reaches Stasis"
        );
    }
}

#[test]
fn hot_desking_asks_for_the_agent_number_and_pin_and_hands_them_over_with_an_empty_reason() {
    let args = shipped_asterisk_stasis_args("*21", &[("AGENT_NUMBER", "1001"), ("PIN", "4711")]);
    assert_eq!(args, ["feature", "login", "", "1001", "4711"]);
    let entry = shipped_asterisk_entry_points();
    let hot_desk = entry.iter().find(|(exten, _)| exten == "*21");
    assert_eq!(
        hot_desk.map(|(_, args)| args.clone()),
        Some(
            ["feature", "login", "", "${AGENT_NUMBER}", "${PIN}"]
                .map(String::from)
                .to_vec()
        )
    );
}

#[test]
fn the_shipped_entry_points_hand_over_their_queue_priority_skills_or_flow() {
    let entry: HashMap<String, Vec<String>> = shipped_asterisk_entry_points().into_iter().collect();
    let expect = |exten: &str, args: &[&str]| {
        assert_eq!(
            entry.get(exten),
            Some(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            "{exten}"
        );
    };
    expect("5000", &["queue", "support"]);
    expect("5001", &["queue", "sales", "5"]);
    expect("5002", &["queue", "support", "0", "spanish:7"]);
    expect("5003", &["flow", "5000"]);
    expect("5004", &["queue", "support", "0", "spanish:7,billing"]);
    expect("*22", &["feature", "login"]);
    expect("*24", &["feature", "pause"]);
    expect("agent+1001", &["feature", "toggle"]);
    assert_eq!(
        shipped_asterisk_stasis_args("5001", &[]),
        ["queue", "sales", "5"],
        "phones reach the entry points too"
    );
}

#[test]
fn blf_hints_watch_the_device_states_the_controller_sets_and_each_agent_key_toggles() {
    let all = contexts(DIALPLAN);
    let mut hints = 0;
    for (exten, steps) in &all["switchboard-features"].extensions {
        let Some(hint) = steps.iter().find(|s| s.priority == "hint") else {
            continue;
        };
        hints += 1;
        let (proto, id) = exten.split_once('+').expect("proto+id");
        assert_eq!(
            hint.app,
            format!("Stasis:switchboard-{proto}-{id}"),
            "{exten}"
        );
        if proto == "agent" {
            assert_eq!(
                stasis_args_in(&all, "switchboard-features", exten, &[]),
                Some(vec!["feature".to_owned(), "toggle".to_owned()]),
                "{exten}: pressing the key"
            );
        } else {
            assert_eq!(proto, "queue", "{exten}");
        }
    }
    assert!(hints >= 2, "hint examples for agents and queues");
}

#[test]
fn the_voicemail_context_takes_a_message_for_the_mailbox_dialled() {
    let all = contexts(DIALPLAN);
    let steps = find(&all, "switchboard-voicemail", "1234").expect("a mailbox number");
    assert_eq!(steps[0].app, "VoiceMail");
    assert_eq!(steps[0].data, "${EXTEN}@default");
    assert_eq!(steps.last().map(|s| s.app.as_str()), Some("Hangup"));
}

/// `key=value` lines of one `[section]` of an ini-style file.
fn section(text: &str, name: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or_default().trim();
        if let Some(header) = line.strip_prefix('[') {
            inside = header.strip_suffix(']') == Some(name);
        } else if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
    }
    out
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn http_conf_serves_ari_on_loopback_only() {
    let general = section(HTTP_CONF, "general");
    assert_eq!(value(&general, "enabled"), Some("yes"));
    assert_eq!(value(&general, "bindaddr"), Some("127.0.0.1"));
    assert_eq!(value(&general, "bindport"), Some("8088"));
}

#[test]
fn ari_conf_has_the_switchboard_user_with_write_access() {
    let general = section(ARI_CONF, "general");
    assert_eq!(value(&general, "enabled"), Some("yes"));
    assert_eq!(value(&general, "pretty"), Some("no"));
    let user = section(ARI_CONF, "switchboard");
    assert_eq!(value(&user, "type"), Some("user"));
    assert_eq!(value(&user, "read_only"), Some("no"));
    assert!(value(&user, "password").is_some_and(|p| !p.is_empty()));
    assert!(matches!(
        value(&user, "password_format"),
        Some("plain" | "crypt")
    ));
}

#[test]
fn the_example_phone_has_one_contact_relayed_media_rfc4733_dtmf_and_a_shipped_context() {
    let sections: Vec<(String, String)> = section(PJSIP_CONF, "1001");
    let endpoint_context = value(&sections, "context").expect("a context");
    assert!(
        contexts(DIALPLAN).contains_key(endpoint_context),
        "{endpoint_context} is in extensions_switchboard.conf"
    );
    for (key, wanted) in [
        ("max_contacts", "1"),
        ("direct_media", "no"),
        ("dtmf_mode", "rfc4733"),
        ("allow", "ulaw"),
    ] {
        assert_eq!(value(&sections, key), Some(wanted), "{key}");
    }
    assert_eq!(
        shipped_asterisk_stasis_args("*23", &[]),
        ["feature", "logout"],
        "the phone's context reaches the feature codes"
    );
}

#[test]
fn asterisk_patterns_read_as_asterisk_does() {
    for (pattern, number, matches) in [
        ("*24X", "*241", true),
        ("*24X", "*2412", false),
        ("*24X.", "*2412", true),
        ("*24X.", "*241", false),
        ("age[n]t+.", "agent+1001", true),
        ("agent+.", "agent+1001", false),
        ("NXX-XXXX", "5551234", true),
        ("Z!", "1", true),
    ] {
        assert_eq!(
            pattern_regex(pattern).is_match(number),
            matches,
            "_{pattern} {number}"
        );
    }
    assert_eq!(
        switchboard::ari::split_arguments(r#"a,,"b,c",d\,e,f(g,h),"#),
        ["a", "", "b,c", "d,e", "f(g,h)", ""]
    );
}

/// A controller with one switch of each kind; the Asterisk one is `[[switch]]` number 1.
const BOTH_KINDS: &str = r#"
[http]
listen = "127.0.0.1:0"
[[switch]]
name = "fs-1"
esl = "127.0.0.1:8021"
password = "ClueCon"
[[switch]]
name = "ast-1"
kind = "asterisk"
ari = "http://127.0.0.1:8088/"
user = "switchboard"
password = "Ari-Secret-1"
recordings_mount = "/mnt/ast-1"
"#;

#[tokio::test]
async fn serve_drives_an_asterisk_switch_over_ari_beside_a_freeswitch_one() {
    let config = switchboard::config::Config::parse(
        BOTH_KINDS,
        std::path::Path::new("switchboard.toml"),
        |_| None,
    )
    .expect("both kinds");
    let options = switchboard::app::options_from_config(
        &config,
        &switchboard::config::Provisioning::default(),
    )
    .await
    .expect("options");
    assert_eq!(options.switches.len(), 1);
    let [ari] = options.asterisk.as_slice() else {
        panic!("{:?}", options.asterisk)
    };
    assert_eq!(ari.name.as_str(), "ast-1");
    assert_eq!(ari.url, "http://127.0.0.1:8088");
    assert_eq!(
        (ari.user.as_str(), ari.password.as_str()),
        ("switchboard", "Ari-Secret-1")
    );
    assert_eq!(ari.app, "switchboard");
    assert_eq!(ari.liveness_timeout, std::time::Duration::from_secs(60));
    assert_eq!(ari.reconnect_max, std::time::Duration::from_secs(30));
    assert_eq!(ari.recordings_dir, "/var/spool/asterisk/recording");
    assert_eq!(
        ari.recordings_mount.as_deref(),
        Some(std::path::Path::new("/mnt/ast-1"))
    );
}

#[test]
fn check_lists_each_switch_with_its_kind_and_never_the_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, BOTH_KINDS).expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run switchboard check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok (2 switch(es)"), "{stdout}");
    assert!(
        stdout.contains("switch fs-1: FreeSWITCH, esl 127.0.0.1:8021"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "switch ast-1: Asterisk, ari http://127.0.0.1:8088 (user switchboard, Stasis app switchboard)"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("Ari-Secret-1"), "{stdout}");
}

#[test]
fn check_names_the_line_of_an_esl_key_on_an_asterisk_switch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, format!("{BOTH_KINDS}esl = \"127.0.0.1:8021\"\n")).expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run switchboard check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("switchboard.toml:15: switch[1].esl:"),
        "{stderr}"
    );
}
