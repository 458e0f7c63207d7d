//! Fidelity of the ARI simulator against the real Asterisk 22.10.1 captures in
//! `../shared/ari-traces`: every capture is replayed (`ari_capture::replay`) and compared.
//!
//! Compared: each HTTP response's status line, header names in order and body shape (keys in
//! order, value types, and the values of `state`, `message`, `error`, …); each WebSocket's
//! close frames; and the events per channel / bridge / playback / recording / device: the
//! sequence of types with their key order and key fields (cause, soft, dialstatus, args,
//! digit, variable, channel state). Per id, not globally: requests and events race.
//!
//! Not compared (the simulator does not model the media and SIP machinery behind them):
//! ChannelVarset of RTPAUDIOQOS* (RTP statistics), BRIDGEPEER/BRIDGEPVTCALLID (set two or
//! three times per join on the rig, once here), ChannelConnectedLine and ChannelCallerId
//! (connected-line updates of the PJSIP stack), DeviceStateChanged of `Queue:*`,
//! `Recorder/ARI`, `Announcer/ARI` and `Snoop/*` (devices of other modules), and the
//! channels app_queue makes (the queue capture: only what a Stasis app sees is checked).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ari_capture::{
    event_group, event_signature, excluded, replay, shape, IdMap, Ordered, Received,
};

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

fn groups(events: &[(Value, String)], ids: Option<&IdMap>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (ev, text) in events.iter().filter(|(e, _)| !excluded(e)) {
        let mut key = event_group(ev);
        let mut signature = event_signature(ev, text);
        if let Some(ids) = ids {
            key = ids.apply(&key);
            signature = ids.apply(&signature);
        }
        out.entry(key).or_default().push(signature);
    }
    for list in out.values_mut() {
        canonical_races(list);
    }
    out
}

/// The 180 gives ChannelStateChange Ringing and Dial RINGING in either order (and Dial may
/// still show the channel Down): one order, no state.
fn canonical_races(list: &mut [String]) {
    for sig in list.iter_mut() {
        if sig.starts_with("Dial ") && sig.contains("dialstatus=\"RINGING\"") {
            if let Some(pos) = sig.find(" state=") {
                sig.truncate(pos);
            }
        }
    }
    for i in 1..list.len() {
        // A 486 right at the INVITE: Dial "" and the hangup request race.
        if list[i - 1].starts_with("ChannelHangupRequest ")
            && list[i - 1].contains("cause=17")
            && list[i].starts_with("Dial ")
            && list[i].contains("dialstatus=\"\"")
        {
            list.swap(i - 1, i);
        }
        if list[i - 1].starts_with("Dial ")
            && list[i - 1].contains("RINGING")
            && list[i].starts_with("ChannelStateChange ")
            && list[i].contains("Ringing")
        {
            list.swap(i - 1, i);
        }
    }
}

/// Differences between the capture and the replay; empty when faithful.
fn differences(entries: &[Value], got: &Received, skip_groups: &[&str]) -> Vec<String> {
    let mut diffs = Vec::new();
    // HTTP responses per connection, in order.
    let mut captured: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in entries.iter().filter(|e| s(e, "kind") == "http_response") {
        captured
            .entry(s(e, "conn").to_string())
            .or_default()
            .push(e);
    }
    for (conn, list) in &captured {
        let ours = got.responses.get(conn).cloned().unwrap_or_default();
        if ours.len() != list.len() {
            diffs.push(format!(
                "{conn}: {} responses captured, {} received",
                list.len(),
                ours.len()
            ));
        }
        for (i, (cap, our)) in list.iter().zip(ours.iter()).enumerate() {
            if s(cap, "status_line") != our.status_line {
                diffs.push(format!(
                    "{conn}#{i}: status {:?} vs {:?} ({})",
                    s(cap, "status_line"),
                    our.status_line,
                    our.body_text()
                ));
            }
            let cap_names: Vec<String> = cap
                .get("headers")
                .and_then(|h| h.as_array())
                .map(|h| {
                    h.iter()
                        .filter_map(|p| p.get(0).and_then(|x| x.as_str()).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let our_names: Vec<String> = our.headers.iter().map(|(k, _)| k.clone()).collect();
            if cap_names != our_names {
                diffs.push(format!(
                    "{conn}#{i}: headers {cap_names:?} vs {our_names:?}"
                ));
            }
            if cap.get("body_sha256").is_some() {
                continue;
            }
            let cap_body = s(cap, "body");
            match (Ordered::parse(cap_body), Ordered::parse(&our.body_text())) {
                (Some(c), Some(o)) => {
                    let (cs, os) = (shape(&c, &got.ids, true), shape(&o, &got.ids, false));
                    if cs != os {
                        diffs.push(format!(
                            "{conn}#{i} {}: body\n  captured {cs}\n  received {os}",
                            s(cap, "status_line")
                        ));
                    }
                }
                _ => {
                    if cap_body.as_bytes() != our.body.as_slice() {
                        diffs.push(format!(
                            "{conn}#{i}: body {cap_body:?} vs {:?}",
                            our.body_text()
                        ));
                    }
                }
            }
        }
    }
    // WebSocket frames per connection.
    let mut cap_frames: BTreeMap<String, Vec<(Value, String)>> = BTreeMap::new();
    let mut cap_closes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in entries.iter().filter(|e| s(e, "kind") == "ws_frame") {
        let conn = s(e, "conn").to_string();
        if let Some(hex) = e.get("payload_hex").and_then(|x| x.as_str()) {
            cap_closes.entry(conn).or_default().push(hex.to_string());
        } else if let Ok(v) = serde_json::from_str::<Value>(s(e, "text")) {
            cap_frames
                .entry(conn)
                .or_default()
                .push((v, s(e, "text").to_string()));
        }
    }
    let conns: std::collections::BTreeSet<String> = cap_frames
        .keys()
        .chain(got.frames.keys())
        .chain(cap_closes.keys())
        .cloned()
        .collect();
    for conn in conns {
        let ours_raw = got.frames.get(&conn).cloned().unwrap_or_default();
        let our_closes: Vec<String> = ours_raw
            .iter()
            .filter(|(op, _)| *op == 8)
            .map(|(_, p)| p.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        let want_closes = cap_closes.get(&conn).cloned().unwrap_or_default();
        if our_closes != want_closes {
            diffs.push(format!(
                "{conn}: close frames {want_closes:?} vs {our_closes:?}"
            ));
        }
        let ours: Vec<(Value, String)> = ours_raw
            .iter()
            .filter(|(op, _)| *op == 1)
            .filter_map(|(_, p)| {
                let text = String::from_utf8_lossy(p).into_owned();
                serde_json::from_str(&text).ok().map(|v| (v, text))
            })
            .collect();
        let theirs = cap_frames.get(&conn).cloned().unwrap_or_default();
        let cg = groups(&theirs, Some(&got.ids));
        let og = groups(&ours, None);
        let keys: std::collections::BTreeSet<&String> = cg.keys().chain(og.keys()).collect();
        for key in keys {
            if skip_groups.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            let empty = Vec::new();
            let (c, o) = (cg.get(key).unwrap_or(&empty), og.get(key).unwrap_or(&empty));
            if c != o {
                let mut text = format!("{conn} {key}: events differ\n");
                let n = c.len().max(o.len());
                for k in 0..n {
                    let a = c.get(k).map(String::as_str).unwrap_or("-");
                    let b = o.get(k).map(String::as_str).unwrap_or("-");
                    let mark = if a == b { "  " } else { "!!" };
                    text.push_str(&format!("  {mark} captured {a}\n  {mark} received {b}\n"));
                }
                diffs.push(text);
            }
        }
    }
    diffs
}

/// Only the HTTP side and that nothing entered Stasis (app_queue calls are not simulated).
async fn assert_http_faithful_and_no_stasis(name: &str) {
    let Some((entries, got, _sim)) = replay(name).await else {
        return;
    };
    let mut diffs: Vec<String> = differences(&entries, &got, &[""])
        .into_iter()
        .filter(|d| !d.contains("events differ"))
        .collect();
    let stasis = |text: &str| {
        text.contains("\"type\":\"StasisStart\"") || text.contains("\"type\":\"StasisEnd\"")
    };
    for e in entries.iter().filter(|e| s(e, "kind") == "ws_frame") {
        if stasis(s(e, "text")) {
            diffs.push(format!("captured a Stasis event: {}", s(e, "text")));
        }
    }
    for frames in got.frames.values() {
        for (_, p) in frames {
            if stasis(&String::from_utf8_lossy(p)) {
                diffs.push(format!(
                    "received a Stasis event: {}",
                    String::from_utf8_lossy(p)
                ));
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{name}: {} differences\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

async fn assert_faithful(name: &str, skip_groups: &[&str]) {
    let Some((entries, got, _sim)) = replay(name).await else {
        return;
    };
    let diffs = differences(&entries, &got, skip_groups);
    assert!(
        diffs.is_empty(),
        "{name}: {} differences\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[tokio::test]
async fn every_capture_has_a_fidelity_test() {
    let names = crate::ari_capture::capture_names();
    let covered = [
        "caller-abandon-agent-ringing.all",
        "caller-abandon.all",
        "channel-vars.all",
        "connect",
        "dtmf-playback.all",
        "errors.all",
        "inbound-answered.all",
        "inbound-stasis.all",
        "inbound-stasis.app",
        "originate-bridge-agent-hangup.all",
        "originate-bridge.all",
        "originate-bridge.app",
        "originate-busy.all",
        "originate-create-dial.all",
        "originate-noanswer.all",
        "originate-unknown.all",
        "queue.all",
        "record.all",
        "record.app",
        "restart.all",
        "snoop.all",
    ];
    for n in &names {
        assert!(
            covered.contains(&n.as_str()),
            "capture {n} has no fidelity test"
        );
    }
}

#[tokio::test]
async fn connect_auth_websocket_handshakes_apps_and_rest_over_websocket_match_asterisk() {
    assert_faithful("connect", &[]).await;
}

#[tokio::test]
async fn inbound_call_enters_stasis_with_args_and_hangs_up_with_cause_0_as_subscribe_all_sees_it() {
    assert_faithful("inbound-stasis.all", &[]).await;
}

#[tokio::test]
async fn inbound_call_as_an_app_only_subscription_sees_it() {
    assert_faithful("inbound-stasis.app", &[]).await;
}

#[tokio::test]
async fn dialplan_answer_before_stasis_gives_stasis_start_up_half_a_second_later() {
    assert_faithful("inbound-answered.all", &[]).await;
}

#[tokio::test]
async fn originated_agent_enters_stasis_on_answer_and_bridged_bye_ends_with_cause_16() {
    assert_faithful("originate-bridge.all", &[]).await;
}

#[tokio::test]
async fn originate_and_bridge_as_an_app_only_subscription_sees_them() {
    assert_faithful("originate-bridge.app", &[]).await;
}

#[tokio::test]
async fn agent_bye_leaves_the_caller_alone_in_the_bridge() {
    assert_faithful("originate-bridge-agent-hangup.all", &[]).await;
}

#[tokio::test]
async fn busy_agent_ends_the_originate_with_cause_17_and_create_dial_without_dial_busy() {
    assert_faithful("originate-busy.all", &[]).await;
}

#[tokio::test]
async fn unanswered_originate_ends_at_its_timeout_with_cause_19_only() {
    assert_faithful("originate-noanswer.all", &[]).await;
}

#[tokio::test]
async fn unknown_offline_and_malformed_endpoints_are_refused_and_nobody_there_times_out() {
    assert_faithful("originate-unknown.all", &[]).await;
}

#[tokio::test]
async fn created_channel_is_in_stasis_at_once_and_dial_brings_no_second_stasis_start() {
    assert_faithful("originate-create-dial.all", &[]).await;
}

#[tokio::test]
async fn caller_cancel_before_answer_ends_with_cause_127() {
    assert_faithful("caller-abandon.all", &[]).await;
}

#[tokio::test]
async fn caller_leaving_does_not_touch_the_ringing_agent_until_deleted() {
    assert_faithful("caller-abandon-agent-ringing.all", &[]).await;
}

#[tokio::test]
async fn dtmf_digits_playback_lists_missing_files_tones_and_recording_media_behave_as_captured() {
    assert_faithful("dtmf-playback.all", &[]).await;
}

#[tokio::test]
async fn bridge_and_channel_recordings_pause_mute_stop_cancel_and_fail_as_captured() {
    assert_faithful("record.all", &[]).await;
}

#[tokio::test]
async fn recordings_as_an_app_only_subscription_sees_them_once() {
    assert_faithful("record.app", &[]).await;
}

#[tokio::test]
async fn snoop_listen_whisper_barge_and_spied_hangup_as_captured() {
    assert_faithful("snoop.all", &[]).await;
}

#[tokio::test]
async fn dialplan_variables_functions_and_channelvars_as_captured() {
    assert_faithful("channel-vars.all", &[]).await;
}

#[tokio::test]
async fn every_error_response_of_the_errors_table_matches_asterisk() {
    assert_faithful("errors.all", &[]).await;
}

#[tokio::test]
async fn restart_hangs_up_with_shutdown_drops_sockets_and_answers_503_once() {
    assert_faithful("restart.all", &[]).await;
}

#[tokio::test]
async fn app_queue_calls_never_reach_the_stasis_app() {
    assert_http_faithful_and_no_stasis("queue.all").await;
}

#[test]
fn event_signatures_keep_the_key_order_asterisk_wrote() {
    let text = r#"{"variable":"X","value":"1","type":"ChannelVarset","timestamp":"t","channel":{"id":"a","state":"Up"},"asterisk_id":"i","application":"a"}"#;
    let ev: Value = serde_json::from_str(text).expect("json");
    let sig = event_signature(&ev, text);
    assert!(
        sig.starts_with(
            "ChannelVarset [variable,value,type,timestamp,channel,asterisk_id,application]"
        ),
        "{sig}"
    );
    let a = Ordered::parse(r#"{"b":1,"a":[true,null]}"#).expect("parse");
    let b = Ordered::parse(r#"{"a":[true,null],"b":1}"#).expect("parse");
    assert_ne!(
        shape(&a, &IdMap::default(), true),
        shape(&b, &IdMap::default(), true)
    );
}
