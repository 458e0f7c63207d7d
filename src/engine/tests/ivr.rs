//! IVR flows in the engine: every node kind, the keys rules, failures and hangups at each wait.

use std::path::Path;

use super::*;
use crate::engine::record::FlowOutcome;
use crate::flow::{parse_flow, FlowSet};

/// Flows from TOML texts, named by their id (the file stem).
fn flow_set(files: &[(&str, &str)]) -> FlowSet {
    let flows = files
        .iter()
        .map(|(id, text)| {
            parse_flow(text, Path::new(&format!("{id}.toml"))).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    FlowSet::new(flows).unwrap_or_else(|e| panic!("{e}"))
}

/// A bench with the `support` queue, agent 1001 logged out, and these flows.
pub(super) fn ivr(files: &[(&str, &str)]) -> Bench {
    let mut b = Bench::new(&["1001"], 0);
    b.engine.set_flows(flow_set(files));
    b
}

impl Bench {
    pub(super) fn flow_call(&mut self, at: i64, channel: u32, entry: &str) {
        let effects = self.engine.handle(
            ts(at),
            Input::FlowCall(FlowCall {
                switch: sw(),
                channel: chan(channel),
                entry: entry.into(),
                caller_number: "+4930 123".into(),
                caller_name: "Ada".into(),
                destination: "5000".into(),
            }),
        );
        self.record(
            at,
            &format!("chan{channel} parked for flow {entry}"),
            effects,
        );
    }

    /// The prompt (or say, or recording) on `channel` ended.
    pub(super) fn done(&mut self, at: i64, channel: u32, application: &str) {
        // The response is whatever the switch last said: it must not matter.
        self.media_done(at, chan(channel), application, "_none_");
    }

    fn http(&mut self, at: i64, request: u64, outcome: HttpOutcome) {
        let label = format!("http {request} answered {outcome:?}");
        let effects = self.engine.handle(
            ts(at),
            Input::HttpDone {
                request: HttpRequestId(request),
                outcome,
            },
        );
        self.record(at, &label, effects);
    }

    fn in_flow(&self, channel: u32) -> bool {
        self.engine.flow_sessions.contains_key(&chan(channel))
    }
}

fn reply(status: u16, body: &str) -> HttpOutcome {
    HttpOutcome::Reply {
        status,
        body: body.into(),
    }
}

const MENU: &str = r#"
start = "welcome"
entry_points = ["5000"]

[node.welcome]
kind = "play"
file = "ivr/welcome.wav"
next = "menu"

[node.menu]
kind = "menu"
prompt = "ivr/menu.wav"
timeout = "5s"
retries = 1
invalid_prompt = "ivr/invalid.wav"
no_input_prompt = "ivr/no-input.wav"
on_invalid = "bye"
on_no_input = "sales"
[node.menu.options]
1 = "sales"
2 = "bye"

[node.sales]
kind = "enqueue"
queue = "support"

[node.bye]
kind = "hangup"
cause = "NORMAL_CLEARING"
"#;

#[test]
fn a_key_during_a_barge_in_menu_prompt_stops_it_and_chooses() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "5000");
    b.done(3_000, 1, "playback");
    b.press(3_500, 1, "1");
    // The broken prompt's completion arrives after the caller left the flow: nothing happens.
    b.done(3_510, 1, "playback");
    assert!(!b.in_flow(1));
    b.check(expect![[r#"
        @0 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
        @3000 chan1 playback done: _none_
          store flow step welcome (play) keys="" -> next
          play chan1 ivr/menu.wav
          store flow waits at menu []
        @3500 chan1 pressed 1
          break chan1
          store flow step menu (menu) keys="1" -> 1
          store flow step sales (enqueue) keys="" -> enqueued
          store flow ended enqueued []
          store call entered support from +4930 123
          store queue enter - priority=0
          hold chan1 local_stream://moh
        @3510 chan1 playback done: _none_
    "#]]);
}

#[test]
fn without_barge_in_keys_during_the_prompt_are_ignored() {
    let flow = MENU.replace("retries = 1", "retries = 1\nbarge_in = false");
    let mut b = ivr(&[("main", &flow)]);
    b.flow_call(0, 1, "5000");
    b.done(3_000, 1, "playback");
    b.press(3_500, 1, "2");
    b.done(6_000, 1, "playback");
    b.press(6_500, 1, "2");
    b.check(expect![[r#"
        @0 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
        @3000 chan1 playback done: _none_
          store flow step welcome (play) keys="" -> next
          play chan1 ivr/menu.wav
          store flow waits at menu []
        @3500 chan1 pressed 2
        @6000 chan1 playback done: _none_
          timer 11000ms flow waits on chan1
        @6500 chan1 pressed 2
          store flow step menu (menu) keys="2" -> 2
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up []
    "#]]);
}

#[test]
fn an_invalid_key_gets_the_invalid_prompt_and_another_try_then_on_invalid() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "5000");
    b.done(3_000, 1, "playback");
    b.done(6_000, 1, "playback");
    b.press(6_500, 1, "9");
    b.done(7_500, 1, "playback");
    b.done(10_000, 1, "playback");
    b.press(10_500, 1, "7");
    b.check(expect![[r#"
        @0 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
        @3000 chan1 playback done: _none_
          store flow step welcome (play) keys="" -> next
          play chan1 ivr/menu.wav
          store flow waits at menu []
        @6000 chan1 playback done: _none_
          timer 11000ms flow waits on chan1
        @6500 chan1 pressed 9
          play chan1 ivr/invalid.wav
        @7500 chan1 playback done: _none_
          play chan1 ivr/menu.wav
        @10000 chan1 playback done: _none_
          timer 15000ms flow waits on chan1
        @10500 chan1 pressed 7
          store flow step menu (menu) keys="97" -> invalid
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up []
    "#]]);
}

#[test]
fn no_input_gets_the_no_input_prompt_then_on_no_input() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "5000");
    b.done(3_000, 1, "playback");
    b.done(6_000, 1, "playback");
    b.advance(11_000);
    b.done(12_000, 1, "playback");
    b.done(15_000, 1, "playback");
    // A key after the wait ended changes nothing: the old timer is stale.
    b.advance(20_000);
    b.check(expect![[r#"
        @0 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
        @3000 chan1 playback done: _none_
          store flow step welcome (play) keys="" -> next
          play chan1 ivr/menu.wav
          store flow waits at menu []
        @6000 chan1 playback done: _none_
          timer 11000ms flow waits on chan1
        @11000 Flow fired
          play chan1 ivr/no-input.wav
        @12000 chan1 playback done: _none_
          play chan1 ivr/menu.wav
        @15000 chan1 playback done: _none_
          timer 20000ms flow waits on chan1
        @20000 Flow fired
          store flow step menu (menu) keys="" -> no input
          store flow step sales (enqueue) keys="" -> enqueued
          store flow ended enqueued []
          store call entered support from +4930 123
          store queue enter - priority=0
          hold chan1 local_stream://moh
    "#]]);
}

#[test]
fn keys_typed_during_a_play_node_go_to_the_next_barge_in_menu_which_skips_its_prompt() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "5000");
    b.press(1_000, 1, "2");
    b.done(3_000, 1, "playback");
    b.check(expect![[r#"
        @0 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
        @1000 chan1 pressed 2
        @3000 chan1 playback done: _none_
          store flow step welcome (play) keys="" -> next
          store flow step menu (menu) keys="2" -> 2
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up []
    "#]]);
}

#[test]
fn keys_typed_ahead_are_dropped_by_a_menu_without_barge_in() {
    let flow = MENU.replace("retries = 1", "retries = 1\nbarge_in = false");
    let mut b = ivr(&[("main", &flow)]);
    b.flow_call(0, 1, "5000");
    b.press(1_000, 1, "2");
    b.done(3_000, 1, "playback");
    b.done(6_000, 1, "playback");
    assert!(b.in_flow(1));
    b.check(expect![[r#"
        @0 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
        @1000 chan1 pressed 2
        @3000 chan1 playback done: _none_
          store flow step welcome (play) keys="" -> next
          play chan1 ivr/menu.wav
          store flow waits at menu []
        @6000 chan1 playback done: _none_
          timer 11000ms flow waits on chan1
    "#]]);
}

const COLLECT: &str = r##"
start = "account"
entry_points = ["5001"]

[node.account]
kind = "collect"
prompt = "ivr/enter-account.wav"
min_digits = 4
max_digits = 6
terminator = "#"
timeout = "5s"
inter_digit_timeout = "2s"
pattern = "^1"
retries = 1
invalid_prompt = "ivr/invalid.wav"
variable = "account"
next = "readback"
on_failure = "bye"

[node.readback]
kind = "play"
say = "{{account}}"
say_as = "digits"
next = "bye"

[node.bye]
kind = "hangup"
"##;

#[test]
fn a_collect_ends_at_the_terminator_and_reads_the_entry_back() {
    let mut b = ivr(&[("acct", COLLECT)]);
    b.flow_call(0, 1, "5001");
    b.press(500, 1, "12");
    b.press(1_000, 1, "34#");
    b.done(1_010, 1, "playback");
    b.done(4_000, 1, "say");
    b.check(expect![[r#"
        @0 chan1 parked for flow 5001
          answer chan1
          store flow entered acct via 5001 from +4930 123
          play chan1 ivr/enter-account.wav
          store flow waits at account []
        @500 chan1 pressed 1
          break chan1
          timer 2500ms flow waits on chan1
        @500 chan1 pressed 2
          timer 2500ms flow waits on chan1
        @1000 chan1 pressed 3
          timer 3000ms flow waits on chan1
        @1000 chan1 pressed 4
          timer 3000ms flow waits on chan1
        @1000 chan1 pressed #
          store flow step account (collect) keys="1234#" -> collected
          say chan1 en number iterated 1234
          store flow waits at readback [("account", "1234")]
        @1010 chan1 playback done: _none_
        @4000 chan1 say done: _none_
          store flow step readback (play) keys="" -> next
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up [("account", "1234")]
    "#]]);
}

#[test]
fn a_collect_ends_at_max_digits_or_after_the_inter_digit_timeout() {
    let mut b = ivr(&[("acct", COLLECT)]);
    b.flow_call(0, 1, "5001");
    b.done(2_000, 1, "playback");
    b.press(2_500, 1, "123456");
    assert_eq!(
        b.engine.flow_sessions[&chan(1)].variables.get("account"),
        Some(&"123456".to_owned())
    );
    let mut b = ivr(&[("acct", COLLECT)]);
    b.flow_call(0, 1, "5001");
    b.done(2_000, 1, "playback");
    b.press(2_500, 1, "10000");
    b.advance(4_500);
    b.check(expect![[r#"
        @0 chan1 parked for flow 5001
          answer chan1
          store flow entered acct via 5001 from +4930 123
          play chan1 ivr/enter-account.wav
          store flow waits at account []
        @2000 chan1 playback done: _none_
          timer 7000ms flow waits on chan1
        @2500 chan1 pressed 1
          timer 4500ms flow waits on chan1
        @2500 chan1 pressed 0
          timer 4500ms flow waits on chan1
        @2500 chan1 pressed 0
          timer 4500ms flow waits on chan1
        @2500 chan1 pressed 0
          timer 4500ms flow waits on chan1
        @2500 chan1 pressed 0
          timer 4500ms flow waits on chan1
        @4500 Flow fired
          store flow step account (collect) keys="10000" -> collected
          say chan1 en number iterated 10000
          store flow waits at readback [("account", "10000")]
    "#]]);
}

#[test]
fn an_entry_failing_the_pattern_or_too_short_is_retried_then_fails() {
    let mut b = ivr(&[("acct", COLLECT)]);
    b.flow_call(0, 1, "5001");
    b.done(2_000, 1, "playback");
    b.press(2_500, 1, "2345#");
    b.done(3_500, 1, "playback");
    b.done(5_000, 1, "playback");
    b.press(5_500, 1, "12#");
    b.check(expect![[r#"
        @0 chan1 parked for flow 5001
          answer chan1
          store flow entered acct via 5001 from +4930 123
          play chan1 ivr/enter-account.wav
          store flow waits at account []
        @2000 chan1 playback done: _none_
          timer 7000ms flow waits on chan1
        @2500 chan1 pressed 2
          timer 4500ms flow waits on chan1
        @2500 chan1 pressed 3
          timer 4500ms flow waits on chan1
        @2500 chan1 pressed 4
          timer 4500ms flow waits on chan1
        @2500 chan1 pressed 5
          timer 4500ms flow waits on chan1
        @2500 chan1 pressed #
          play chan1 ivr/invalid.wav
        @3500 chan1 playback done: _none_
          play chan1 ivr/enter-account.wav
        @5000 chan1 playback done: _none_
          timer 10000ms flow waits on chan1
        @5500 chan1 pressed 1
          timer 7500ms flow waits on chan1
        @5500 chan1 pressed 2
          timer 7500ms flow waits on chan1
        @5500 chan1 pressed #
          store flow step account (collect) keys="2345#12#" -> failed
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up []
    "#]]);
}

#[test]
fn a_secret_collect_hides_its_keys_and_keeps_its_variable_out_of_the_history() {
    let flow = COLLECT
        .replace("retries = 1", "retries = 1\nsecret = true")
        .replace("next = \"readback\"", "next = \"bye\"")
        .replace(
            "[node.readback]\nkind = \"play\"\nsay = \"{{account}}\"\nsay_as = \"digits\"\nnext = \"bye\"\n",
            "",
        );
    let mut b = ivr(&[("acct", &flow)]);
    b.flow_call(0, 1, "5001");
    b.press(500, 1, "1234#");
    let trace = b.trace.join("\n");
    assert!(trace.contains("store flow step account (collect) keys=\"***\" -> collected"));
    assert!(trace.contains("store flow ended hung_up []"), "{trace}");
    assert!(!trace.contains("1234"), "{trace}");
}

#[test]
fn schedule_open_and_closed_at_fixed_times() {
    let flow = r#"
start = "hours"
entry_points = ["5002"]

[node.hours]
kind = "schedule"
time_zone = "Europe/Berlin"
open = ["mon-fri 08:00-18:00"]
on_open = "open"
on_closed = "closed"

[node.open]
kind = "hangup"
cause = "NORMAL_CLEARING"

[node.closed]
kind = "hangup"
cause = "USER_BUSY"
"#;
    let mut b = ivr(&[("hours", flow)]);
    // Monday 2026-01-05 10:00 UTC is 11:00 in Berlin; 19:00 UTC is 20:00; Saturday is closed.
    b.flow_call(1_767_607_200_000, 1, "5002");
    b.flow_call(1_767_639_600_000, 2, "5002");
    b.flow_call(1_767_434_400_000, 3, "5002");
    let steps: Vec<&String> = b
        .trace
        .iter()
        .filter(|l| l.contains("hours (schedule)") || l.contains("hangup chan"))
        .collect();
    expect![[r#"
        [
            "  store flow step hours (schedule) keys=\"\" -> open",
            "  hangup chan1 NORMAL_CLEARING",
            "  store flow step hours (schedule) keys=\"\" -> closed",
            "  hangup chan2 USER_BUSY",
            "  store flow step hours (schedule) keys=\"\" -> closed",
            "  hangup chan3 USER_BUSY",
        ]
    "#]]
    .assert_debug_eq(&steps);
}

const CRM: &str = r#"
start = "lookup"
entry_points = ["5003"]

[node.lookup]
kind = "http"
url = "https://crm.example.com/customers?n={{caller_number}}&id={{call_id}}"
timeout = "2s"
next = "tier"
on_error = "fallback"
[node.lookup.extract]
tier = "/customer/tier"
name = "/customer/name"
balance = "/customer/balance"
missing = "/customer/nothing"

[node.tier]
kind = "condition"
otherwise = "fallback"
[[node.tier.when]]
variable = "tier"
equals = "gold"
next = "gold"
[[node.tier.when]]
variable = "balance"
less_than = 0
next = "debt"

[node.gold]
kind = "hangup"
cause = "NORMAL_CLEARING"

[node.debt]
kind = "hangup"
cause = "CALL_REJECTED"

[node.fallback]
kind = "hangup"
cause = "USER_BUSY"
"#;

#[test]
fn http_ok_extracts_json_pointers_and_the_condition_branches_on_them() {
    let mut b = ivr(&[("crm", CRM)]);
    b.flow_call(0, 1, "5003");
    b.http(
        300,
        1,
        reply(
            200,
            r#"{"customer":{"tier":"gold","name":"Ada L.","balance":12.5}}"#,
        ),
    );
    b.flow_call(1_000, 2, "5003");
    b.http(
        1_300,
        2,
        reply(200, r#"{"customer":{"tier":"silver","balance":-3}}"#),
    );
    b.check(expect![[r#"
        @0 chan1 parked for flow 5003
          answer chan1
          store flow entered crm via 5003 from +4930 123
          http Get https://crm.example.com/customers?n=%2B4930%20123&id=1c663cf4-d73c-4c04-970d-3259e4e1cb63 
          timer 3000ms flow waits on chan1
          store flow waits at lookup []
        @300 http 1 answered Reply { status: 200, body: "{\"customer\":{\"tier\":\"gold\",\"name\":\"Ada L.\",\"balance\":12.5}}" }
          store flow step lookup (http) keys="" -> ok
          store flow step tier (condition) keys="" -> tier = gold
          store flow step gold (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up [("balance", "12.5"), ("name", "Ada L."), ("tier", "gold")]
        @1000 chan2 parked for flow 5003
          answer chan2
          store flow entered crm via 5003 from +4930 123
          http Get https://crm.example.com/customers?n=%2B4930%20123&id=cb293e67-70eb-4a95-822a-b1ba804098e6 
          timer 4000ms flow waits on chan2
          store flow waits at lookup []
        @1300 http 2 answered Reply { status: 200, body: "{\"customer\":{\"tier\":\"silver\",\"balance\":-3}}" }
          store flow step lookup (http) keys="" -> ok
          store flow step tier (condition) keys="" -> balance < 0
          store flow step debt (hangup) keys="" -> hung up
          hangup chan2 CALL_REJECTED
          store flow ended hung_up [("balance", "-3"), ("tier", "silver")]
    "#]]);
}

#[test]
fn http_errors_a_non_2xx_status_or_a_reply_that_is_not_json_take_on_error() {
    let mut b = ivr(&[("crm", CRM)]);
    b.flow_call(0, 1, "5003");
    b.http(300, 1, reply(503, r#"{"customer":{"tier":"gold"}}"#));
    b.flow_call(1_000, 2, "5003");
    b.http(1_300, 2, reply(200, "<html>"));
    b.flow_call(2_000, 3, "5003");
    b.http(
        2_300,
        3,
        HttpOutcome::Failed {
            reason: "connection refused".into(),
        },
    );
    let outcomes: Vec<&String> = b
        .trace
        .iter()
        .filter(|l| l.contains("(http)") || l.contains("hangup chan"))
        .collect();
    expect![[r#"
        [
            "  store flow step lookup (http) keys=\"\" -> error",
            "  hangup chan1 USER_BUSY",
            "  store flow step lookup (http) keys=\"\" -> error",
            "  hangup chan2 USER_BUSY",
            "  store flow step lookup (http) keys=\"\" -> error",
            "  hangup chan3 USER_BUSY",
        ]
    "#]]
    .assert_debug_eq(&outcomes);
}

#[test]
fn http_without_an_answer_gives_up_at_the_guard_timer_and_a_late_reply_is_ignored() {
    let mut b = ivr(&[("crm", CRM)]);
    b.flow_call(0, 1, "5003");
    b.press(500, 1, "5");
    b.advance(3_000);
    b.http(3_100, 1, reply(200, r#"{"customer":{"tier":"gold"}}"#));
    b.check(expect![[r#"
        @0 chan1 parked for flow 5003
          answer chan1
          store flow entered crm via 5003 from +4930 123
          http Get https://crm.example.com/customers?n=%2B4930%20123&id=1c663cf4-d73c-4c04-970d-3259e4e1cb63 
          timer 3000ms flow waits on chan1
          store flow waits at lookup []
        @500 chan1 pressed 5
        @3000 Flow fired
          store flow step lookup (http) keys="" -> error
          store flow step fallback (hangup) keys="" -> hung up
          hangup chan1 USER_BUSY
          store flow ended hung_up []
        @3100 http 1 answered Reply { status: 200, body: "{\"customer\":{\"tier\":\"gold\"}}" }
    "#]]);
}

#[test]
fn set_renders_templates_and_a_post_body_escapes_values_as_json() {
    let flow = r#"
start = "set"
entry_points = ["5004"]

[node.set]
kind = "set"
next = "post"
[node.set.variables]
greeting = "Hello \"{{caller_name}}\" from {{caller_number}}"

[node.post]
kind = "http"
method = "POST"
url = "https://crm.example.com/notes"
body = '{"note": "{{greeting}}", "entry": "{{entry_point}}"}'
next = "bye"
on_error = "bye"

[node.bye]
kind = "hangup"
"#;
    let mut b = ivr(&[("notes", flow)]);
    b.flow_call(0, 1, "5004");
    b.check(expect![[r#"
        @0 chan1 parked for flow 5004
          answer chan1
          store flow entered notes via 5004 from +4930 123
          store flow step set (set) keys="" -> next
          http Post https://crm.example.com/notes {"note": "Hello \"Ada\" from +4930 123", "entry": "5004"}
          timer 3000ms flow waits on chan1
          store flow waits at post [("greeting", "Hello \"Ada\" from +4930 123")]
    "#]]);
}

const QUEUE: &str = r#"
start = "lookup"
entry_points = ["5005"]

[node.lookup]
kind = "http"
url = "https://crm.example.com/c?id={{call_id}}"
next = "queue"
on_error = "queue"
[node.lookup.extract]
vip = "/vip"
lang = "/lang"

[node.queue]
kind = "enqueue"
queue = "support"
priority = "{{vip}}"
skills = "{{lang}}:7"
"#;

#[test]
fn enqueue_takes_priority_and_skills_from_variables_and_the_agent_leg_gets_the_variables() {
    let mut b = Bench::with(
        vec![queue("support", QueueRouting::default())],
        vec![agent("1001", &["support"], "spanish:8")],
    );
    b.engine.set_flows(flow_set(&[("q", QUEUE)]));
    b.available(0, "1001");
    b.flow_call(100, 1, "5005");
    b.http(200, 1, reply(200, r#"{"vip": 7, "lang": "spanish"}"#));
    let snapshot = b.engine.snapshot(ts(300));
    assert_eq!(
        snapshot.calls[0].variables,
        [
            ("lang".to_owned(), "spanish".to_owned()),
            ("vip".to_owned(), "7".to_owned())
        ]
    );
    // The call keeps the id minted when the caller entered the flow.
    let call_id = snapshot.calls[0].id.to_string();
    assert!(b
        .trace
        .iter()
        .any(|l| l.starts_with("  http Get") && l.contains(&call_id)));
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for flow 5005
          answer chan1
          store flow entered q via 5005 from +4930 123
          http Get https://crm.example.com/c?id=1c663cf4-d73c-4c04-970d-3259e4e1cb63 
          timer 3100ms flow waits on chan1
          store flow waits at lookup []
        @200 http 1 answered Reply { status: 200, body: "{\"vip\": 7, \"lang\": \"spanish\"}" }
          store flow step lookup (http) keys="" -> ok
          store flow step queue (enqueue) keys="" -> enqueued
          store flow ended enqueued [("lang", "spanish"), ("vip", "7")]
          store call entered support from +4930 123
          store queue enter - priority=7 skills=spanish:7
          store call placed support priority=7 skills=spanish:7 hops=0 since=200ms
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001 with [("lang", "spanish"), ("vip", "7")]
          timer 25200ms ring timeout id1
          hold chan1 local_stream://support
    "#]]);
}

#[test]
fn a_priority_that_is_not_a_number_or_bad_skills_are_noted_and_left_out() {
    let mut b = ivr(&[("q", QUEUE)]);
    b.flow_call(100, 1, "5005");
    b.http(200, 1, reply(200, r#"{"vip": "yes", "lang": "x y"}"#));
    let step = b.trace.iter().find(|l| l.contains("(enqueue)")).cloned();
    expect![[r#"
        Some(
            "  store flow step queue (enqueue) keys=\"\" -> enqueued; priority \"yes\" is not a number, 0 used; skills \"x y:7\" ignored: skill id \"x y\" may only contain letters, digits, '-', '_' and '.'",
        )
    "#]]
    .assert_debug_eq(&step);
    assert!(b
        .trace
        .iter()
        .any(|l| l.contains("store queue enter - priority=0")));
}

#[test]
fn transfer_voicemail_and_hangup_leave_the_flow() {
    let flow = r#"
start = "menu"
entry_points = ["5006"]

[node.menu]
kind = "menu"
prompt = "ivr/menu.wav"
retries = 0
on_invalid = "bye"
[node.menu.options]
1 = "operator"
2 = "elsewhere"
3 = "mailbox"
4 = "bad_mailbox"

[node.operator]
kind = "transfer"
destination = "1000"

[node.elsewhere]
kind = "transfer"
destination = "{{caller_number}}@public"

[node.mailbox]
kind = "voicemail"
mailbox = "1001@example.com"

[node.bad_mailbox]
kind = "voicemail"
mailbox = "{{caller_number}}"

[node.bye]
kind = "hangup"
cause = "NO_ANSWER"
"#;
    let mut b = ivr(&[("out", flow)]);
    for (channel, key) in [(1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "9")] {
        b.flow_call(0, channel, "5006");
        b.done(1_000, channel, "playback");
        b.press(1_500, channel, key);
        assert!(!b.in_flow(channel));
    }
    let lines: Vec<&String> = b
        .trace
        .iter()
        .filter(|l| {
            ["transfer ", "voicemail ", "hangup ", "ended"]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    expect![[r#"
        [
            "  transfer chan1 to 1000@default",
            "  store flow ended transferred []",
            "  store flow step elsewhere (transfer) keys=\"\" -> cannot transfer to \"+4930 123@public\"",
            "  hangup chan2 NORMAL_TEMPORARY_FAILURE",
            "  store flow ended hung_up []",
            "  voicemail chan3 1001@example.com",
            "  store flow ended voicemail []",
            "  store flow step bad_mailbox (voicemail) keys=\"\" -> no voicemail box \"+4930 123\" (mailbox@domain)",
            "  hangup chan4 NORMAL_TEMPORARY_FAILURE",
            "  store flow ended hung_up []",
            "  hangup chan5 NO_ANSWER",
            "  store flow ended hung_up []",
        ]
    "#]]
    .assert_debug_eq(&lines);
}

const MESSAGE: &str = r#"
start = "message"
entry_points = ["5007"]

[node.message]
kind = "record"
prompt = "ivr/after-the-tone.wav"
max_length = "30s"
variable = "message"
next = "bye"

[node.bye]
kind = "hangup"
"#;

#[test]
fn record_plays_its_prompt_records_and_keeps_the_path() {
    let mut b = ivr(&[("msg", MESSAGE)]);
    b.flow_call(0, 1, "5007");
    b.press(500, 1, "1");
    b.done(2_000, 1, "playback");
    b.press(5_000, 1, "#");
    b.done(5_010, 1, "record");
    b.check(expect![[r#"
        @0 chan1 parked for flow 5007
          answer chan1
          store flow entered msg via 5007 from +4930 123
          play chan1 ivr/after-the-tone.wav
          store flow waits at message []
        @500 chan1 pressed 1
        @2000 chan1 playback done: _none_
          record chan1 switchboard/1c663cf4-d73c-4c04-970d-3259e4e1cb63-message.wav max 30s
          timer 37000ms flow waits on chan1
        @5000 chan1 pressed #
        @5010 chan1 record done: _none_
          store flow step message (record) keys="" -> recorded
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up [("message", "switchboard/1c663cf4-d73c-4c04-970d-3259e4e1cb63-message.wav")]
    "#]]);
}

#[test]
fn a_recording_the_switch_never_ends_is_taken_as_done_at_its_guard() {
    let mut b = ivr(&[("msg", MESSAGE)]);
    b.flow_call(0, 1, "5007");
    b.done(2_000, 1, "playback");
    b.advance(37_000);
    assert!(!b.in_flow(1));
    assert!(b
        .trace
        .iter()
        .any(|l| l.contains("message (record) keys=\"\" -> recorded")));
}

#[test]
fn goto_runs_the_other_flow_from_its_start_and_steps_name_their_flow() {
    let first = r#"
start = "go"
entry_points = ["5008"]

[node.go]
kind = "goto"
flow = "second"
"#;
    let second = r#"
start = "bye"

[node.bye]
kind = "hangup"
"#;
    let mut b = ivr(&[("first", first), ("second", second)]);
    b.flow_call(0, 1, "5008");
    let flows: Vec<String> = b
        .engine
        .handle(
            ts(0),
            Input::TimerFired(Timer::Flow {
                channel: chan(1),
                epoch: 0,
            }),
        )
        .into_iter()
        .map(|e| format!("{e:?}"))
        .collect();
    assert!(flows.is_empty());
    b.check(expect![[r#"
        @0 chan1 parked for flow 5008
          answer chan1
          store flow entered first via 5008 from +4930 123
          store flow step go (goto) keys="" -> goto
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up []
    "#]]);
    let steps: Vec<String> = b
        .engine
        .handle(
            ts(0),
            Input::FlowCall(FlowCall {
                switch: sw(),
                channel: chan(2),
                entry: "5008".into(),
                caller_number: String::new(),
                caller_name: String::new(),
                destination: String::new(),
            }),
        )
        .into_iter()
        .filter_map(|e| match e {
            Effect::Persist(Record::FlowStep { flow, node, .. }) => Some(format!("{flow}:{node}")),
            _ => None,
        })
        .collect();
    assert_eq!(steps, ["first:go", "second:bye"]);
}

#[test]
fn a_caller_hanging_up_at_any_wait_abandons_the_flow_where_it_was() {
    // During a prompt, while listening, during a request, while recording.
    let mut b = ivr(&[("main", MENU), ("crm", CRM), ("msg", MESSAGE)]);
    b.flow_call(0, 1, "5000");
    b.hangup(1_000, chan(1), "NORMAL_CLEARING");
    b.flow_call(0, 2, "5000");
    b.done(1_000, 2, "playback");
    b.done(2_000, 2, "playback");
    b.hangup(3_000, chan(2), "NORMAL_CLEARING");
    b.advance(10_000);
    b.flow_call(0, 3, "5003");
    b.hangup(1_000, chan(3), "NORMAL_CLEARING");
    b.http(1_500, 1, reply(200, "{}"));
    b.flow_call(0, 4, "5007");
    b.done(1_000, 4, "playback");
    b.hangup(3_000, chan(4), "NORMAL_CLEARING");
    b.done(3_010, 4, "record");
    assert!(b.engine.flow_sessions.is_empty());
    assert!(b.engine.http_waits.is_empty());
    let left: Vec<&String> = b
        .trace
        .iter()
        .filter(|l| l.contains("caller hung up") || l.contains("ended"))
        .collect();
    expect![[r#"
        [
            "  store flow step welcome (play) keys=\"\" -> caller hung up",
            "  store flow ended abandoned []",
            "  store flow step menu (menu) keys=\"\" -> caller hung up",
            "  store flow ended abandoned []",
            "  store flow step lookup (http) keys=\"\" -> caller hung up",
            "  store flow ended abandoned []",
            "  store flow step message (record) keys=\"\" -> caller hung up",
            "  store flow ended abandoned []",
        ]
    "#]]
    .assert_debug_eq(&left);
}

#[test]
fn a_reload_changes_flows_for_new_callers_only() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "5000");
    let reloaded = MENU.replace("ivr/menu.wav", "ivr/new-menu.wav");
    b.engine.set_flows(flow_set(&[("main", &reloaded)]));
    b.done(1_000, 1, "playback");
    b.flow_call(2_000, 2, "5000");
    b.done(3_000, 2, "playback");
    let prompts: Vec<&String> = b.trace.iter().filter(|l| l.contains("menu.wav")).collect();
    expect![[r#"
        [
            "  play chan1 ivr/menu.wav",
            "  play chan2 ivr/new-menu.wav",
        ]
    "#]]
    .assert_debug_eq(&prompts);
}

#[test]
fn a_prompt_the_switch_refuses_moves_the_flow_on() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "5000");
    let effects = b.engine.handle(
        ts(10),
        Input::CommandFailed {
            switch: sw(),
            command: SwitchCommand::Play {
                channel: chan(1),
                source: "ivr/welcome.wav".into(),
            },
            reply: "-ERR no such channel".into(),
        },
    );
    b.record(10, "play refused", effects);
    assert!(b.trace.iter().any(|l| l == "  play chan1 ivr/menu.wav"));
}

#[test]
fn a_resync_keeps_listed_callers_replaying_their_prompt_and_ends_the_others() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "5000");
    b.flow_call(0, 2, "5000");
    b.done(1_000, 2, "playback");
    b.done(2_000, 2, "playback");
    let effects = b.engine.handle(
        ts(3_000),
        Input::SwitchResynced {
            switch: sw(),
            channels: vec![ChannelSnapshot {
                channel: chan(1),
                role: ChannelRole::Caller,
                answered: true,
                bridged_to: None,
                queue: None,
                agent: None,
                call: None,
                caller_number: "+4930 123".into(),
                caller_name: "Ada".into(),
                destination: "5000".into(),
                stored: None,
                flow_entry: None,
                stored_flow: None,
            }],
        },
    );
    b.record(3_000, "resync lists chan1 only", effects);
    assert!(b.in_flow(1) && !b.in_flow(2));
    // The replayed prompt's end moves chan1 on, once.
    b.done(4_000, 1, "playback");
    b.check(expect![[r#"
        @0 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
        @0 chan2 parked for flow 5000
          answer chan2
          store flow entered main via 5000 from +4930 123
          play chan2 ivr/welcome.wav
          store flow waits at welcome []
        @1000 chan2 playback done: _none_
          store flow step welcome (play) keys="" -> next
          play chan2 ivr/menu.wav
          store flow waits at menu []
        @2000 chan2 playback done: _none_
          timer 7000ms flow waits on chan2
        @3000 resync lists chan1 only
          play chan1 ivr/welcome.wav
          store flow step menu (menu) keys="" -> caller hung up
          store flow ended abandoned []
        @4000 chan1 playback done: _none_
          store flow step welcome (play) keys="" -> next
          play chan1 ivr/menu.wav
          store flow waits at menu []
    "#]]);
}

#[test]
fn a_caller_in_a_flow_is_not_taken_by_queue_logic_nor_adopted() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "5000");
    b.park(10, 1, "+4930 123");
    b.flow_call(20, 1, "5000");
    assert!(b.engine.calls.is_empty());
    b.check(expect![[r#"
        @0 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
        @10 chan1 parked
        @20 chan1 parked for flow 5000
    "#]]);
}

#[test]
fn an_unknown_entry_point_is_refused() {
    let mut b = ivr(&[("main", MENU)]);
    b.flow_call(0, 1, "9999");
    b.check(expect![[r#"
        @0 chan1 parked for flow 9999
          kill chan1 NO_ROUTE_DESTINATION
    "#]]);
}

const SURVEYED: &str = r#"
start = "queue"
entry_points = ["5000"]

[node.queue]
kind = "enqueue"
queue = "support"
survey = "poll"
"#;

const POLL: &str = r#"
start = "rate"

[node.rate]
kind = "collect"
prompt = "survey/rate.wav"
max_digits = 1
pattern = "^[1-5]$"
variable = "rating"
next = "thanks"
on_failure = "bye"

[node.thanks]
kind = "play"
file = "survey/thanks.wav"
next = "bye"

[node.bye]
kind = "hangup"
"#;

#[test]
fn when_the_agent_hangs_up_the_caller_is_parked_for_the_survey_and_its_answers_kept() {
    let mut b = ivr(&[("main", SURVEYED), ("poll", POLL)]);
    b.available(0, "1001");
    b.flow_call(100, 1, "5000");
    b.answer(1_000, "1001");
    b.agent_hangs_up(60_000, "1001", "NORMAL_CLEARING");
    assert!(
        !b.in_flow(1),
        "the survey waits for the switch to park the caller"
    );
    // park_after_bridge: the switch parks the caller again, with its switchboard_flow.
    b.flow_call(60_010, 1, "5000");
    assert!(b.in_flow(1));
    b.done(63_000, 1, "playback");
    b.press(63_500, 1, "4");
    b.done(65_000, 1, "playback");
    assert!(!b.in_flow(1));
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          store flow step queue (enqueue) keys="" -> enqueued
          store flow ended enqueued []
          store call entered support from +4930 123
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          hold chan1 local_stream://moh
        @1000 1001 answered
          break chan1
          park chan1 after bridge
          bridge chan1 id1
          store call answered by 1001 after 900ms
          store queue connect 1001 wait_ms=900
          store agent 1001 offered -> on_call
        @60000 id1 hung up NORMAL_CLEARING
          store queue complete 1001 by=agent talk_ms=59000
          store call ended completed NORMAL_CLEARING talk=Some(59000)
          store agent 1001 on_call -> available
        @60010 chan1 parked for flow 5000
          store survey poll about 1001
          play chan1 survey/rate.wav
        @63000 chan1 playback done: _none_
          timer 68000ms flow waits on chan1
        @63500 chan1 pressed 4
          store flow step rate (collect) keys="4" -> collected
          play chan1 survey/thanks.wav
        @65000 chan1 playback done: _none_
          store flow step thanks (play) keys="" -> next
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store survey ended hung_up [("rating", "4")]
    "#]]);
}

#[test]
fn no_survey_for_a_caller_who_hangs_up_first_or_whose_survey_flow_was_removed() {
    let mut b = ivr(&[("main", SURVEYED), ("poll", POLL)]);
    b.available(0, "1001");
    b.flow_call(100, 1, "5000");
    b.answer(1_000, "1001");
    // The caller hangs up first: the switch hangs up the agent, nobody is parked.
    b.hangup(30_000, chan(1), "NORMAL_CLEARING");
    // The agent hangs up, but the caller hangs up before the switch parks it.
    b.advance(40_000);
    b.flow_call(40_100, 2, "5000");
    b.answer(41_000, "1001");
    b.agent_hangs_up(50_000, "1001", "NORMAL_CLEARING");
    b.hangup(50_005, chan(2), "NORMAL_CLEARING");
    assert!(b.engine.pending_surveys.is_empty());
    // A reload took the survey flow away while the caller talked: hung up as without one.
    b.advance(60_000);
    b.flow_call(60_100, 3, "5000");
    b.answer(61_000, "1001");
    b.engine.set_flows(flow_set(&[(
        "main",
        &SURVEYED.replace("survey = \"poll\"", ""),
    )]));
    b.agent_hangs_up(70_000, "1001", "NORMAL_CLEARING");
    assert!(b.engine.pending_surveys.is_empty());
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          store flow step queue (enqueue) keys="" -> enqueued
          store flow ended enqueued []
          store call entered support from +4930 123
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          hold chan1 local_stream://moh
        @1000 1001 answered
          break chan1
          park chan1 after bridge
          bridge chan1 id1
          store call answered by 1001 after 900ms
          store queue connect 1001 wait_ms=900
          store agent 1001 offered -> on_call
        @30000 chan1 hung up NORMAL_CLEARING
          store queue complete 1001 by=caller talk_ms=29000
          store call ended completed NORMAL_CLEARING talk=Some(29000)
          store agent 1001 on_call -> available
        @40100 chan2 parked for flow 5000
          answer chan2
          store flow entered main via 5000 from +4930 123
          store flow step queue (enqueue) keys="" -> enqueued
          store flow ended enqueued []
          store call entered support from +4930 123
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id2
          originate id2 to 1001 via user/1001
          timer 65100ms ring timeout id2
          hold chan2 local_stream://moh
        @41000 1001 answered
          break chan2
          park chan2 after bridge
          bridge chan2 id2
          store call answered by 1001 after 900ms
          store queue connect 1001 wait_ms=900
          store agent 1001 offered -> on_call
        @50000 id2 hung up NORMAL_CLEARING
          store queue complete 1001 by=agent talk_ms=9000
          store call ended completed NORMAL_CLEARING talk=Some(9000)
          store agent 1001 on_call -> available
        @50005 chan2 hung up NORMAL_CLEARING
        @60100 chan3 parked for flow 5000
          answer chan3
          store flow entered main via 5000 from +4930 123
          store flow step queue (enqueue) keys="" -> enqueued
          store flow ended enqueued []
          store call entered support from +4930 123
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id3
          originate id3 to 1001 via user/1001
          timer 85100ms ring timeout id3
          hold chan3 local_stream://moh
        @61000 1001 answered
          break chan3
          park chan3 after bridge
          bridge chan3 id3
          store call answered by 1001 after 900ms
          store queue connect 1001 wait_ms=900
          store agent 1001 offered -> on_call
        @70000 id3 hung up NORMAL_CLEARING
          store queue complete 1001 by=agent talk_ms=9000
          store call ended completed NORMAL_CLEARING talk=Some(9000)
          store agent 1001 on_call -> available
          hangup chan3 NORMAL_CLEARING
    "#]]);
}

/// A caller our dialplan parked for flow entry `5000`, as a restarted controller finds it.
pub(super) fn flow_caller(
    channel: u32,
    stored: Option<(u128, Option<FlowOutcome>)>,
) -> ChannelSnapshot {
    ChannelSnapshot {
        channel: chan(channel),
        role: ChannelRole::Caller,
        answered: true,
        bridged_to: None,
        queue: None,
        agent: None,
        call: None,
        caller_number: "+4930 123".into(),
        caller_name: "Ada".into(),
        destination: "5000".into(),
        stored: None,
        flow_entry: Some("5000".into()),
        stored_flow: stored.map(|(id, outcome)| StoredFlow {
            call: CallId::from_uuid(uuid::Uuid::from_u128(id)),
            flow: FlowId::new("main").expect("flow id"),
            outcome,
            variables: Vec::new(),
            waiting_at: None,
        }),
    }
}

#[test]
fn a_restarted_controller_takes_back_flow_callers_by_what_their_session_says() {
    let mut b = ivr(&[("main", MENU)]);
    let effects = b.engine.handle(
        ts(0),
        Input::SwitchResynced {
            switch: sw(),
            channels: vec![
                // Parked while no controller listened: a new session.
                flow_caller(1, None),
                // In the flow when the old controller stopped: the flow again, same call id.
                flow_caller(2, Some((2, None))),
                // Enqueued, its call over, parked for a survey nobody runs: hung up.
                flow_caller(3, Some((3, Some(FlowOutcome::Enqueued)))),
                // Transferred: the extension has it now.
                flow_caller(4, Some((4, Some(FlowOutcome::Transferred)))),
            ],
        },
    );
    b.record(0, "a restarted controller lists four flow callers", effects);
    assert!(b.in_flow(1) && b.in_flow(2) && !b.in_flow(3) && !b.in_flow(4));
    assert_eq!(
        b.engine.flow_sessions[&chan(2)].call,
        CallId::from_uuid(uuid::Uuid::from_u128(2))
    );
    b.check(expect![[r#"
        @0 a restarted controller lists four flow callers
          answer chan1
          store flow entered main via 5000 from +4930 123
          play chan1 ivr/welcome.wav
          store flow waits at welcome []
          play chan2 ivr/welcome.wav
          store flow waits at welcome []
          hangup chan3 NORMAL_CLEARING
    "#]]);
}

const PAYMENT: &str = r##"
start = "record"
entry_points = ["5002"]

[node.record]
kind = "recording"
action = "start"
next = "pause"

[node.pause]
kind = "recording"
action = "pause"
next = "card"

[node.card]
kind = "collect"
prompt = "ivr/enter-card.wav"
min_digits = 4
max_digits = 16
terminator = "#"
variable = "card"
next = "resume"
on_failure = "resume"

[node.resume]
kind = "recording"
action = "resume"
next = "queue"

[node.queue]
kind = "enqueue"
queue = "support"
"##;

#[test]
fn a_payment_flow_records_pauses_for_the_card_number_which_stays_secret_and_the_recording_follows_the_caller_into_the_queue(
) {
    let mut b = ivr(&[("pay", PAYMENT)]);
    b.flow_call(0, 1, "5002");
    b.press(1_000, 1, "4111111111111111");
    b.done(1_010, 1, "playback");
    b.press(3_000, 1, "#");
    let trace = b.trace.join("\n");
    // What the engine did (indented lines), not the keys the bench pressed.
    let effects: Vec<&str> = trace.lines().filter(|l| l.starts_with("  ")).collect();
    assert!(!effects.iter().any(|l| l.contains("4111")), "{trace}");
    assert!(trace.contains("keys=\"***\" -> collected"), "{trace}");
    assert!(
        trace.contains("store recording started (on_demand) by flow:record"),
        "{trace}"
    );
    assert!(
        trace.contains("store recording pause by flow:pause at +0ms"),
        "{trace}"
    );
    assert!(
        trace.contains("store recording resume by flow:resume at +1000ms"),
        "{trace}"
    );
    assert!(trace.contains("uuid_record chan1 start"), "{trace}");
    assert!(trace.contains("/flows/pay/"), "{trace}");
    // Enqueued: the flow's recording goes on, and the queue's policy starts no other one.
    let call = b
        .engine
        .calls
        .keys()
        .next()
        .copied()
        .expect("the caller is queued");
    assert!(b.engine.recording_of(call).is_some());
    assert!(
        !trace.contains("store flow ended enqueued [(\"card\""),
        "{trace}"
    );
}

#[test]
fn a_recording_node_without_a_recording_to_act_on_is_refused_and_the_flow_goes_on() {
    let flow = PAYMENT.replace("next = \"pause\"\n\n[node.pause]", "next = \"pause\"\n\n[node.unused]\nkind = \"play\"\nfile = \"x.wav\"\nnext = \"pause\"\n\n[node.pause]").replace("start = \"record\"", "start = \"pause\"");
    let flow = flow.replace(
        "[node.record]\nkind = \"recording\"\naction = \"start\"\nnext = \"pause\"\n\n[node.unused]\nkind = \"play\"\nfile = \"x.wav\"\nnext = \"pause\"\n\n",
        "",
    );
    let mut b = ivr(&[("pay", &flow)]);
    b.flow_call(0, 1, "5002");
    let trace = b.trace.join("\n");
    assert!(
        trace.contains("store flow step pause (recording) keys=\"\" -> refused"),
        "{trace}"
    );
    assert!(trace.contains("play chan1 ivr/enter-card.wav"), "{trace}");
}

#[test]
fn a_say_the_command_layer_refuses_moves_the_flow_on_instead_of_leaving_silence() {
    const AMOUNT: &str = r#"
entry_points = ["5000"]
start = "amount"

[node.amount]
kind = "set"
next = "readback"
[node.amount.variables]
balance = "1,234.50"

[node.readback]
kind = "play"
say = "{{balance}}"
say_as = "money"
next = "after"

[node.after]
kind = "play"
file = "ivr/after.wav"
next = "bye"

[node.bye]
kind = "hangup"
"#;
    let mut b = ivr(&[("main", AMOUNT)]);
    b.flow_call(0, 1, "5000");
    assert!(
        b.trace
            .iter()
            .any(|l| l == "  say chan1 en currency pronounced 1,234.50"),
        "{:#?}",
        b.trace
    );
    // What the ESL layer sends back when it will not render the say.
    let effects = b.engine.handle(
        ts(10),
        Input::CommandFailed {
            switch: sw(),
            command: SwitchCommand::Say {
                channel: chan(1),
                language: "en".into(),
                kind: SayKind::Money,
                text: "1,234.50".into(),
            },
            reply: "say text \"1,234.50\" contains characters that could change the command".into(),
        },
    );
    b.record(10, "say refused", effects);
    assert!(
        b.trace.iter().any(|l| l == "  play chan1 ivr/after.wav"),
        "{:#?}",
        b.trace
    );
}

#[test]
fn a_hostile_variable_in_an_http_url_stays_in_the_path_of_the_templates_host() {
    const HOSTILE: &str = r#"
entry_points = ["5000"]
start = "taint"

[node.taint]
kind = "set"
next = "lookup"
[node.taint.variables]
x = ".attacker.example:80/@evil.example\\x?#"

[node.lookup]
kind = "http"
url = "https://crm.example.com/c/{{x}}?n={{x}}"
next = "bye"
on_error = "bye"

[node.bye]
kind = "hangup"
"#;
    let mut b = ivr(&[("main", HOSTILE)]);
    b.flow_call(0, 1, "5000");
    let requests: Vec<&String> = b.trace.iter().filter(|l| l.contains("http Get")).collect();
    expect![[r#"
        [
            "  http Get https://crm.example.com/c/.attacker.example%3A80%2F%40evil.example%5Cx%3F%23?n=.attacker.example%3A80%2F%40evil.example%5Cx%3F%23 ",
        ]
    "#]]
    .assert_debug_eq(&requests);
}
