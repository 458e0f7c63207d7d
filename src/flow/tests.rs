//! Flow files: what loads, and the exact message for each mistake.

use std::collections::HashSet;
use std::path::Path;

use expect_test::expect;

use super::*;

fn load(files: &[(&str, &str)]) -> Result<FlowSet, ConfigError> {
    let mut flows = Vec::new();
    for (name, text) in files {
        flows.push(parse_flow(text, Path::new(&format!("flows/{name}.toml")))?);
    }
    FlowSet::new(flows)
}

/// The error of a set of flows, as `switchboard flow check` prints it.
fn error(files: &[(&str, &str)]) -> String {
    match load(files) {
        Ok(_) => "accepted".to_owned(),
        Err(e) => e.to_string(),
    }
}

const GREETING: &str = r#"
start = "hello"

[node.hello]
kind = "play"
file = "ivr/ivr-welcome.wav"
next = "queue"

[node.queue]
kind = "enqueue"
queue = "support"
"#;

#[test]
fn the_example_flows_load_and_name_only_provisioned_queues() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let set = FlowSet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = set.flows().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["after_hours", "main", "survey"]);
    assert_eq!(
        set.for_entry_point("5000").map(|f| f.id.as_str()),
        Some("main")
    );
    let queues: HashSet<QueueId> = ["support", "sales"]
        .into_iter()
        .filter_map(|q| QueueId::new(q).ok())
        .collect();
    assert!(set.check_queues(&queues).is_ok());
    let only_support: HashSet<QueueId> = queues
        .into_iter()
        .filter(|q| q.as_str() == "support")
        .collect();
    let err = set.check_queues(&only_support).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(&*format!(
            "{}:39: node.sales.queue: queue \"sales\" is not provisioned (the queues are support)",
            dir.join("main.toml").display()
        ))
    );
}

#[test]
fn a_valid_flow_is_read_with_its_defaults() {
    let set = load(&[("greeting", GREETING)]).unwrap_or_else(|e| panic!("{e}"));
    let flow = set.flows().next().expect("one flow");
    assert_eq!(flow.name, "greeting");
    assert_eq!(flow.start.as_str(), "hello");
    assert_eq!(flow.nodes.len(), 2);
    let hello = flow.node(&NodeId("hello".into())).expect("hello");
    assert_eq!(hello.line, 4);
}

#[test]
fn an_unknown_node_kind_names_its_line() {
    let text = GREETING.replace("kind = \"play\"", "kind = \"playback\"");
    expect![[r#"flows/greeting.toml:5: node.hello.kind: "playback" is not a node kind; the kinds are play, menu, collect, schedule, condition, http, set, enqueue, transfer, voicemail, record, recording, hangup, goto"#]]
        .assert_eq(&error(&[("greeting", &text)]));
}

#[test]
fn an_unknown_field_names_its_line() {
    let text = GREETING.replace("next = \"queue\"", "next = \"queue\"\nloop = true");
    let message = error(&[("greeting", &text)]);
    assert!(
        message.starts_with("flows/greeting.toml:8: node.hello.loop: unknown field `loop`"),
        "{message}"
    );
}

#[test]
fn a_field_of_another_kind_is_refused_with_the_fields_that_belong() {
    let text = GREETING.replace(
        "queue = \"support\"",
        "queue = \"support\"\ntimeout = \"5s\"",
    );
    expect![[r#"flows/greeting.toml:12: node.queue.timeout: a enqueue node has no "timeout"; its fields are queue, priority, skills, survey"#]]
        .assert_eq(&error(&[("greeting", &text)]));
}

#[test]
fn a_missing_field_names_the_node() {
    let text = GREETING.replace("next = \"queue\"\n", "");
    expect![[r#"flows/greeting.toml:4: node.hello.next: this node needs "next""#]]
        .assert_eq(&error(&[("greeting", &text)]));
}

#[test]
fn a_destination_that_does_not_exist_lists_the_nodes() {
    let text = GREETING.replace("next = \"queue\"", "next = \"queu\"");
    expect![[r#"flows/greeting.toml:7: node.hello.next: there is no node "queu" in this flow (the nodes are hello, queue)"#]]
        .assert_eq(&error(&[("greeting", &text)]));
}

#[test]
fn an_unreachable_node_is_refused() {
    let text = format!("{GREETING}\n[node.orphan]\nkind = \"hangup\"\n");
    expect![[r#"flows/greeting.toml:13: node.orphan: node "orphan" is never reached from the start node "hello""#]]
        .assert_eq(&error(&[("greeting", &text)]));
}

#[test]
fn a_loop_that_never_waits_for_the_caller_is_refused_but_one_through_a_menu_is_not() {
    let spin = r#"
start = "a"
[node.a]
kind = "set"
variables = { tries = "1" }
next = "b"
[node.b]
kind = "play"
file = "ivr/ivr-please_hold.wav"
next = "a"
"#;
    expect![[r#"flows/spin.toml:3: node.a: nodes a → b → a loop without waiting for the caller; put a menu or collect in the loop, or leave it"#]]
        .assert_eq(&error(&[("spin", spin)]));

    let through_a_menu = r#"
start = "a"
[node.a]
kind = "play"
file = "ivr/ivr-please_hold.wav"
next = "m"
[node.m]
kind = "menu"
prompt = "ivr/menu.wav"
on_invalid = "a"
options = { 1 = "bye" }
[node.bye]
kind = "hangup"
"#;
    assert_eq!(error(&[("menu", through_a_menu)]), "accepted");
}

#[test]
fn a_loop_across_flows_through_goto_is_refused() {
    let first = "start = \"go\"\n[node.go]\nkind = \"goto\"\nflow = \"second\"\n";
    let second = "start = \"back\"\n[node.back]\nkind = \"goto\"\nflow = \"first\"\n";
    expect![[r#"flows/first.toml:2: node.go: nodes go → second:back → go loop without waiting for the caller; put a menu or collect in the loop, or leave it"#]]
        .assert_eq(&error(&[("first", first), ("second", second)]));
}

#[test]
fn a_goto_or_survey_to_a_missing_flow_is_refused() {
    let go = "start = \"go\"\n[node.go]\nkind = \"goto\"\nflow = \"nowhere\"\n";
    expect![[r#"flows/go.toml:2: node.go.flow: there is no flow "nowhere" (the flows are go)"#]]
        .assert_eq(&error(&[("go", go)]));
    let survey = GREETING.replace(
        "queue = \"support\"",
        "queue = \"support\"\nsurvey = \"poll\"",
    );
    expect![[r#"flows/greeting.toml:9: node.queue.survey: there is no flow "poll" (the flows are greeting)"#]]
        .assert_eq(&error(&[("greeting", &survey)]));
}

#[test]
fn a_survey_that_would_send_the_caller_back_to_a_queue_is_refused() {
    let main = GREETING.replace(
        "queue = \"support\"",
        "queue = \"support\"\nsurvey = \"poll\"",
    );
    let poll = "start = \"go\"\n[node.go]\nkind = \"goto\"\nflow = \"again\"\n";
    let again = "start = \"q\"\n[node.q]\nkind = \"enqueue\"\nqueue = \"support\"\n";
    expect![[r#"flows/again.toml:2: node.q.kind: a survey cannot enqueue: flow "poll" is the survey of node "queue" in flows/greeting.toml"#]]
        .assert_eq(&error(&[("greeting", &main), ("poll", poll), ("again", again)]));
}

#[test]
fn a_bad_pattern_is_refused_with_the_reason() {
    let collect = r#"
start = "c"
[node.c]
kind = "collect"
prompt = "ivr/enter.wav"
max_digits = 4
pattern = "^[0-9{4}$"
variable = "pin"
next = "bye"
on_failure = "bye"
[node.bye]
kind = "hangup"
"#;
    expect![[r#"flows/collect.toml:7: node.c.pattern: "^[0-9{4}$" is not a valid pattern: error: unclosed character class"#]]
        .assert_eq(&error(&[("collect", collect)]));
}

#[test]
fn an_unknown_time_zone_or_bad_hours_are_refused() {
    let schedule = |zone: &str, open: &str| {
        format!(
            "start = \"s\"\n[node.s]\nkind = \"schedule\"\ntime_zone = \"{zone}\"\nopen = [\"{open}\"]\non_open = \"bye\"\non_closed = \"bye\"\n[node.bye]\nkind = \"hangup\"\n"
        )
    };
    expect![[r#"flows/hours.toml:4: node.s.time_zone: "Europe/Berlinn" is not a time zone of the tz database, like "Europe/Berlin""#]]
        .assert_eq(&error(&[("hours", &schedule("Europe/Berlinn", "mon-fri 08:00-18:00"))]));
    expect![[r#"flows/hours.toml:5: node.s.open[0]: "8:00" is not a time like 08:30 in "mon-fri 8:00-18:00" (like "mon-fri 08:00-18:00" or "sat,sun 10:00-14:00")"#]]
        .assert_eq(&error(&[("hours", &schedule("Europe/Berlin", "mon-fri 8:00-18:00"))]));
}

#[test]
fn a_menu_key_must_be_a_phone_key_and_an_entry_point_belongs_to_one_flow() {
    let menu = r#"
start = "m"
[node.m]
kind = "menu"
prompt = "ivr/menu.wav"
on_invalid = "bye"
options = { 12 = "bye" }
[node.bye]
kind = "hangup"
"#;
    expect![[r#"flows/menu.toml:7: node.m.options.12: "12" is not a key: one of 0-9, * or #"#]]
        .assert_eq(&error(&[("menu", menu)]));
    let a = format!("entry_points = [\"5000\"]\n{GREETING}");
    let b = format!("entry_points = [\"5000\"]\n{GREETING}");
    expect![[r#"flows/b.toml: entry_points: entry point "5000" is also claimed by flow "a""#]]
        .assert_eq(&error(&[("a", &a), ("b", &b)]));
}

#[test]
fn templates_http_and_hangup_causes_are_checked() {
    let http = |url: &str| {
        format!(
            "start = \"h\"\n[node.h]\nkind = \"http\"\nurl = \"{url}\"\nnext = \"bye\"\non_error = \"bye\"\n[node.bye]\nkind = \"hangup\"\ncause = \"NORMAL_CLEARING\"\n"
        )
    };
    assert_eq!(
        error(&[("crm", &http("https://crm/x?a={{account}}"))]),
        "accepted"
    );
    expect![[
        r#"flows/crm.toml:4: node.h.url: "https://crm/x?a={{account" opens "{{" without closing it"#
    ]]
    .assert_eq(&error(&[("crm", &http("https://crm/x?a={{account"))]));
    expect![[r#"flows/crm.toml:4: node.h.url: must start with http:// or https:// and a fixed host[:port] ended by '/', '?' or the end of the URL; variables may only fill the path and query"#]]
        .assert_eq(&error(&[("crm", &http("https://{{host}}/x"))]));
    let cause = http("https://crm/x").replace("NORMAL_CLEARING", "normal clearing");
    expect![[r#"flows/crm.toml:9: node.bye.cause: "normal clearing" is not a hangup cause like "NORMAL_CLEARING" or "USER_BUSY""#]]
        .assert_eq(&error(&[("crm", &cause)]));
}

#[test]
fn flows_are_drawn_as_dot_and_mermaid_with_labelled_edges() {
    let set = load(&[("greeting", GREETING)]).unwrap_or_else(|e| panic!("{e}"));
    let flow = set.flows().next().expect("flow");
    expect![[r#"
        digraph "greeting" {
          label="greeting";
          rankdir=TB;
          node [shape=box, style=rounded, fontname="Helvetica"];
          edge [fontname="Helvetica", fontsize=10];
          "start" [shape=circle, label="", width=0.2, style=filled];
          "start" -> "hello";
          "hello" [shape=box, label="hello (play)\nivr/ivr-welcome.wav"];
          "queue" [shape=doubleoctagon, label="queue (enqueue)\nqueue support"];
          "hello" -> "queue" [label="next"];
        }
    "#]]
    .assert_eq(&render(flow, Format::Dot));
    expect![[r#"
        flowchart TD
          start((" ")) --> n_hello
          n_hello["hello (play)<br/>ivr/ivr-welcome.wav"]
          n_queue["queue (enqueue)<br/>queue support"]
          n_hello -->|"next"| n_queue
    "#]]
    .assert_eq(&render(flow, Format::Mermaid));
}

#[test]
fn the_svg_drawing_has_a_box_per_node_and_an_arrow_per_branch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let set = FlowSet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let main = set
        .get(&FlowId::new("main").expect("id"))
        .expect("main flow");
    let svg = render(main, Format::Svg);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    let boxes = svg.matches("<rect ").count();
    // Every node, plus the other flow the goto leads to.
    assert_eq!(boxes, main.nodes.len() + 1);
    let branches: usize = main.nodes.values().map(|n| n.kind.branches().len()).sum();
    assert_eq!(svg.matches("marker-end=").count(), branches);
    assert!(
        svg.contains("&amp;caller={{caller_number}}") || svg.contains("…"),
        "text escaped"
    );
    assert!(!svg.contains("&caller"), "no raw ampersand");
}

#[test]
fn a_say_language_must_be_one_the_switch_command_accepts() {
    let say = |language: &str| {
        format!(
            "start = \"s\"\n[node.s]\nkind = \"play\"\nsay = \"12.50\"\nsay_as = \"money\"\nlanguage = \"{language}\"\nnext = \"bye\"\n[node.bye]\nkind = \"hangup\"\n"
        )
    };
    assert_eq!(error(&[("say", &say("pt_BR"))]), "accepted");
    expect![[r#"flows/say.toml:6: node.s.language: "pt-BR" is not a language: use 2 to 8 letters or _, such as en, de or pt_BR"#]]
        .assert_eq(&error(&[("say", &say("pt-BR"))]));
}

#[test]
fn a_recording_node_takes_one_of_the_switch_actions_and_names_a_bad_one_at_its_line() {
    let flow = |action: &str| {
        format!(
            "start = \"pci\"\n\n[node.pci]\nkind = \"recording\"\naction = \"{action}\"\nnext = \"queue\"\n\n[node.queue]\nkind = \"enqueue\"\nqueue = \"support\"\n"
        )
    };
    for action in ["start", "stop", "pause", "resume", "mask", "unmask"] {
        let set = load(&[("pay", &flow(action))]).unwrap_or_else(|e| panic!("{e}"));
        let node = set
            .flows()
            .flat_map(|f| f.nodes.values())
            .find_map(|n| match &n.kind {
                NodeKind::Recording { action, .. } => Some(action.as_str()),
                _ => None,
            });
        assert_eq!(node, Some(action));
    }
    expect![[r#"flows/pay.toml:5: node.pci.action: "record" is not a recording action: use start, stop, pause, resume, mask or unmask"#]]
        .assert_eq(&error(&[("pay", &flow("record"))]));
}

#[test]
fn a_play_node_with_a_command_running_or_remote_source_is_refused_with_its_line() {
    let play = |file: &str| {
        format!(
            "start = \"p\"\n[node.p]\nkind = \"play\"\nfile = \"{file}\"\nnext = \"bye\"\n[node.bye]\nkind = \"hangup\"\ncause = \"NORMAL_CLEARING\"\n"
        )
    };
    assert_eq!(error(&[("m", &play("local_stream://moh"))]), "accepted");
    assert_eq!(error(&[("m", &play("ivr/ivr-welcome.wav"))]), "accepted");
    expect![[r#"flows/m.toml:4: node.p.file: "shell_stream:///usr/bin/id" is not a usable sound source: shell_stream:// is not allowed; use a file path or local_stream://, tone_stream://, silence_stream://"#]]
        .assert_eq(&error(&[("m", &play("shell_stream:///usr/bin/id"))]));
    expect![[r#"flows/m.toml:4: node.p.file: "https://sounds.example.com/a.wav" is not a usable sound source: https:// is not allowed; use a file path or local_stream://, tone_stream://, silence_stream://"#]]
        .assert_eq(&error(&[("m", &play("https://sounds.example.com/a.wav"))]));
}

#[test]
fn an_http_url_whose_variables_could_extend_the_host_is_refused_with_its_line() {
    let http = |url: &str| {
        format!(
            "start = \"h\"\n[node.h]\nkind = \"http\"\nurl = \"{url}\"\nnext = \"bye\"\non_error = \"bye\"\n[node.bye]\nkind = \"hangup\"\n"
        )
    };
    for good in [
        "https://crm.example.com/c/{{caller_number}}",
        "https://crm.example.com?n={{caller_number}}",
        "http://crm.example.com:8080/x?n={{caller_number}}",
        "https://crm.example.com",
    ] {
        assert_eq!(error(&[("crm", &http(good))]), "accepted", "{good}");
    }
    for bad in [
        "http://crm.example.com{{caller_name}}",
        "http://crm.example.com{{caller_name}}/x",
        "https://crm.example.com:{{port}}/x",
        "https://{{user}}@crm.example.com/x",
        "https://crm.{{tenant}}.example.com/x",
        "https:///x?n={{caller_number}}",
    ] {
        let message = error(&[("crm", &http(bad))]);
        assert!(
            message.starts_with("flows/crm.toml:4: node.h.url: must start with http:// or https:// and a fixed host"),
            "{bad}: {message}"
        );
    }
}

#[test]
fn a_named_flow_file_is_checked_whatever_its_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.toml"), GREETING).expect("write");
    std::fs::write(
        dir.path().join("broken.flow"),
        "start = \"x\"\n[node.x]\nkind = \"nonsense\"\n",
    )
    .expect("write");
    // The directory's listing takes only `*.toml`...
    assert!(FlowSet::load(dir.path()).is_ok());
    // ...but a file named on its own is read and checked, with the flows beside it.
    let err = FlowSet::load_named(&dir.path().join("broken.flow"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("broken.flow:3: node.x.kind"), "{err}");
    std::fs::write(
        dir.path().join("extra.flow"),
        "start = \"bye\"\n[node.bye]\nkind = \"hangup\"\n",
    )
    .expect("write");
    let set = FlowSet::load_named(&dir.path().join("extra.flow")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.flows().count(), 2);
    let set = FlowSet::load_named(&dir.path().join("main.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.flows().count(), 1);
}

#[test]
fn literals_the_switch_command_would_refuse_are_refused_with_their_line() {
    let flow = |node: &str| format!("start = \"n\"\n[node.n]\n{node}");
    let transfer = |d: &str| flow(&format!("kind = \"transfer\"\ndestination = \"{d}\"\n"));
    let voicemail = |m: &str| flow(&format!("kind = \"voicemail\"\nmailbox = \"{m}\"\n"));
    let hangup = |c: &str| flow(&format!("kind = \"hangup\"\ncause = \"{c}\"\n"));
    let say = |t: &str, as_: &str| {
        flow(&format!(
            "kind = \"play\"\nsay = \"{t}\"\nsay_as = \"{as_}\"\nnext = \"bye\"\n[node.bye]\nkind = \"hangup\"\n"
        ))
    };
    for good in [
        transfer("1000"),
        transfer("{{ext}}@internal"),
        transfer("*97"),
        voicemail("1000@example.com"),
        voicemail("{{box}}@example.com"),
        hangup("USER_BUSY"),
        hangup("CALL_REJECTED"),
        say("12.50", "money"),
        say("{{balance}}", "money"),
        say("2024-05-01", "date"),
    ] {
        assert_eq!(error(&[("f", &good)]), "accepted", "{good}");
    }
    for (bad, key) in [
        (transfer("1000,2000"), "node.n.destination"),
        (transfer("1000 2000"), "node.n.destination"),
        (transfer("1000@my ctx"), "node.n.destination"),
        (transfer("1000@ctx*"), "node.n.destination"),
        (transfer("{{ext}} &park()"), "node.n.destination"),
        (voicemail("1*2@example.com"), "node.n.mailbox"),
        (voicemail("1000@example_com"), "node.n.mailbox"),
        (voicemail("1000"), "node.n.mailbox"),
        (hangup("NOT_A_CAUSE"), "node.n.cause"),
        (hangup("normal clearing"), "node.n.cause"),
        (say("1,234.50", "money"), "node.n.say"),
        (say("12\\n34", "number"), "node.n.say"),
        (say("{{a}} {{b}}", "digits"), "node.n.say"),
    ] {
        let message = error(&[("f", &bad)]);
        assert!(
            message.starts_with(&format!("flows/f.toml:4: {key}:")),
            "{bad}: {message}"
        );
    }
    expect![[r#"flows/f.toml:4: node.n.say: "1,234.50" cannot be said: the text is one word of letters, digits and '.' (no ',', space or line break)"#]]
        .assert_eq(&error(&[("f", &say("1,234.50", "money"))]));
}
