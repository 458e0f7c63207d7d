//! Event headers shared by many events: playback's, a channel's caller profile, the
//! Q.850 code of a cause and the origination headers of a channel's first event.

use super::*;

pub(super) fn playback_headers(path: &str, status: Option<&str>) -> Vec<(&'static str, String)> {
    let mut v = Vec::with_capacity(3);
    if let Some(t) = media::file_type(path) {
        v.push(("Playback-File-Type", t.to_string()));
    }
    v.push(("Playback-File-Path", path.to_string()));
    if let Some(s) = status {
        v.push(("Playback-Status", s.to_string()));
    }
    v
}

pub(super) fn add_profile(ev: &mut Event, prefix: &'static str, ch: &Channel, own: bool) {
    let p = &ch.profile;
    let h = |name: &str| -> Cow<'static, str> { Cow::Owned(format!("{prefix}-{name}")) };
    ev.add(h("Direction"), ch.dir.as_str());
    ev.add(h("Logical-Direction"), ch.dir.as_str());
    if let Some(u) = &p.username {
        ev.add(h("Username"), u.clone());
    }
    if let Some(d) = p.dialplan {
        ev.add(h("Dialplan"), d);
    }
    if let Some(n) = &p.cid_name {
        ev.add(h("Caller-ID-Name"), n.clone());
    }
    ev.add(h("Caller-ID-Number"), p.cid_number.clone());
    if let Some(n) = &p.orig_cid_name {
        ev.add(h("Orig-Caller-ID-Name"), n.clone());
    }
    ev.add(h("Orig-Caller-ID-Number"), p.orig_cid_number.clone());
    if let Some(n) = &p.callee_name {
        ev.add(h("Callee-ID-Name"), n.clone());
    }
    if let Some(n) = &p.callee_number {
        ev.add(h("Callee-ID-Number"), n.clone());
    }
    if let Some(a) = &p.network_addr {
        ev.add(h("Network-Addr"), a.clone());
    }
    ev.add(h("ANI"), p.ani.clone());
    ev.add(h("Destination-Number"), p.destination.clone());
    ev.add(h("Unique-ID"), ch.uuid.clone());
    ev.add(h("Source"), p.source);
    if let Some(t) = &p.transfer_source {
        ev.add(h("Transfer-Source"), t.clone());
    }
    ev.add(h("Context"), p.context.clone());
    ev.add(h("Channel-Name"), ch.name.clone());
    if own {
        ev.add(h("Profile-Index"), p.index.to_string());
    }
    let t = |v: u64| v.to_string();
    ev.add(h("Profile-Created-Time"), t(p.created_us));
    ev.add(h("Channel-Created-Time"), t(p.created_us));
    ev.add(h("Channel-Answered-Time"), t(ch.answered_us));
    ev.add(h("Channel-Progress-Time"), t(ch.progress_us));
    ev.add(h("Channel-Progress-Media-Time"), t(ch.progress_media_us));
    ev.add(h("Channel-Hangup-Time"), t(ch.hangup_us));
    ev.add(h("Channel-Transfer-Time"), "0");
    ev.add(h("Channel-Resurrect-Time"), "0");
    ev.add(h("Channel-Bridged-Time"), t(ch.bridged_us));
    // Another leg's profile shows no hold (the captures' `Other-Leg-Channel-Last-Hold: 0`).
    let (last_hold, hold_accum) = if own {
        (ch.hold.last_us, ch.hold.accum_us)
    } else {
        (0, 0)
    };
    ev.add(h("Channel-Last-Hold"), t(last_hold));
    ev.add(h("Channel-Hold-Accum"), t(hold_accum));
    ev.add(h("Screen-Bit"), "true");
    ev.add(h("Privacy-Hide-Name"), "false");
    ev.add(h("Privacy-Hide-Number"), "false");
}

/// The Q.850 code FreeSWITCH gives a hangup cause name (the ones the simulator produces).
pub(super) fn q850(cause: &str) -> &'static str {
    match cause {
        "NORMAL_CLEARING" => "16",
        "USER_BUSY" => "17",
        "NO_USER_RESPONSE" => "18",
        "NO_ANSWER" => "19",
        "CALL_REJECTED" => "21",
        "NORMAL_TEMPORARY_FAILURE" => "41",
        _ => "16",
    }
}

/// `Event-Calling-File/Function/Line-Number` as the real switch reports them.
pub(super) fn origin(name: &str, detail: &str) -> (&'static str, &'static str, &'static str) {
    match name {
        "CHANNEL_STATE" => (
            "switch_channel.c",
            "switch_channel_perform_set_running_state",
            "2408",
        ),
        "CHANNEL_CALLSTATE" => (
            "switch_channel.c",
            "switch_channel_perform_set_callstate",
            "301",
        ),
        "CHANNEL_CREATE" => (
            "switch_core_state_machine.c",
            "switch_core_session_run",
            "626",
        ),
        "CHANNEL_ORIGINATE" => (
            "switch_core_state_machine.c",
            "switch_core_session_run",
            "632",
        ),
        "CHANNEL_OUTGOING" => (
            "switch_core_session.c",
            "switch_core_session_outgoing_channel",
            "768",
        ),
        "CHANNEL_DESTROY" => (
            "switch_core_session.c",
            "switch_core_session_perform_destroy",
            "1584",
        ),
        "CHANNEL_ANSWER" => (
            "switch_channel.c",
            "switch_channel_perform_mark_answered",
            "3846",
        ),
        "CHANNEL_PROGRESS" => (
            "switch_channel.c",
            "switch_channel_perform_mark_ring_ready_value",
            "3505",
        ),
        "CHANNEL_PROGRESS_MEDIA" => (
            "switch_channel.c",
            "switch_channel_perform_mark_pre_answered",
            "3560",
        ),
        "CHANNEL_HANGUP" => ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
        "CHANNEL_HANGUP_COMPLETE" => (
            "switch_core_state_machine.c",
            "switch_core_session_reporting_state",
            "943",
        ),
        "CHANNEL_EXECUTE" if detail == "uuid_bridge" => {
            ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", "1236")
        }
        "CHANNEL_EXECUTE" => ("switch_core_session.c", "switch_core_session_exec", "2944"),
        "CHANNEL_EXECUTE_COMPLETE" => ("switch_core_session.c", "switch_core_session_exec", "2967"),
        "CHANNEL_PARK" => ("switch_ivr.c", "switch_ivr_park", "1002"),
        "CHANNEL_UNPARK" => ("switch_ivr.c", "switch_ivr_park", "1213"),
        "CHANNEL_BRIDGE" => (
            "switch_ivr_bridge.c",
            "switch_ivr_multi_threaded_bridge",
            "1689",
        ),
        "CHANNEL_UNBRIDGE" => (
            "switch_ivr_bridge.c",
            "switch_ivr_multi_threaded_bridge",
            "1879",
        ),
        "PRESENCE_IN" => ("switch_channel.c", "switch_channel_perform_presence", "805"),
        "MEDIA_BUG_START" => (
            "switch_core_media_bug.c",
            "switch_core_media_bug_add",
            "1014",
        ),
        "MEDIA_BUG_STOP" => (
            "switch_core_media_bug.c",
            "switch_core_media_bug_destroy",
            "84",
        ),
        "PLAYBACK_START" => ("switch_ivr_play_say.c", "switch_ivr_play_file", "1646"),
        "PLAYBACK_STOP" => ("switch_ivr_play_say.c", "switch_ivr_play_file", "2020"),
        "DTMF" => ("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
        "API" => ("switch_loadable_module.c", "switch_api_execute", "2954"),
        "BACKGROUND_JOB" => ("mod_event_socket.c", "api_exec", "1572"),
        "HEARTBEAT" => ("switch_core.c", "send_heartbeat", "95"),
        "SHUTDOWN" => ("switch_core.c", "switch_core_destroy", "3023"),
        _ => ("switch_event.c", "switch_event_fire", "0"),
    }
}
