//! Generic ESL command handling of mod_event_socket that does not depend on channels: the
//! `event` keyword rules and the `api` reply for an empty result.
//!
//! Why: a client that subscribes with a misspelt or unmodelled event name, or that runs an
//! api command with no output, must see what the real switch answers, not a simulator
//! artefact. Taken from mod_event_socket.c (1.10): `event` counts only words
//! `switch_name_event` knows (case-insensitive, optionally prefixed `SWITCH_EVENT_`); with
//! none the reply is `-ERR no keywords supplied`; unknown words are skipped silently.

use super::{event_bit, ConnId, Core};
use crate::sim::wire::{self, Format};

/// `api_exec`'s body when a command wrote nothing (14 bytes).
pub(super) const NO_REPLY: &str = "-ERR no reply\n";

/// `EVENT_NAMES` of FreeSWITCH 1.10's switch_event.c, in order (`ALL` last).
const FS_EVENT_NAMES: &[&str] = &[
    "CUSTOM",
    "CLONE",
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_APPLICATION",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "API",
    "LOG",
    "INBOUND_CHAN",
    "OUTBOUND_CHAN",
    "STARTUP",
    "SHUTDOWN",
    "PUBLISH",
    "UNPUBLISH",
    "TALK",
    "NOTALK",
    "SESSION_CRASH",
    "MODULE_LOAD",
    "MODULE_UNLOAD",
    "DTMF",
    "MESSAGE",
    "PRESENCE_IN",
    "NOTIFY_IN",
    "PRESENCE_OUT",
    "PRESENCE_PROBE",
    "MESSAGE_WAITING",
    "MESSAGE_QUERY",
    "ROSTER",
    "CODEC",
    "BACKGROUND_JOB",
    "DETECTED_SPEECH",
    "DETECTED_TONE",
    "PRIVATE_COMMAND",
    "HEARTBEAT",
    "TRAP",
    "ADD_SCHEDULE",
    "DEL_SCHEDULE",
    "EXE_SCHEDULE",
    "RE_SCHEDULE",
    "RELOADXML",
    "NOTIFY",
    "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE",
    "RECV_MESSAGE",
    "REQUEST_PARAMS",
    "CHANNEL_DATA",
    "GENERAL",
    "COMMAND",
    "SESSION_HEARTBEAT",
    "CLIENT_DISCONNECTED",
    "SERVER_DISCONNECTED",
    "SEND_INFO",
    "RECV_INFO",
    "RECV_RTCP_MESSAGE",
    "SEND_RTCP_MESSAGE",
    "CALL_SECURE",
    "NAT",
    "RECORD_START",
    "RECORD_STOP",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "CALL_UPDATE",
    "FAILURE",
    "SOCKET_DATA",
    "MEDIA_BUG_START",
    "MEDIA_BUG_STOP",
    "CONFERENCE_DATA_QUERY",
    "CONFERENCE_DATA",
    "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT",
    "CALL_DETAIL",
    "DEVICE_STATE",
    "TEXT",
    "SHUTDOWN_REQUESTED",
    "ALL",
];

/// `switch_name_event`: the canonical name of an event keyword, if the switch knows it.
pub(super) fn fs_event_name(word: &str) -> Option<&'static str> {
    let bare = if word.len() > 13 { &word[13..] } else { "" };
    FS_EVENT_NAMES
        .iter()
        .copied()
        .find(|n| n.eq_ignore_ascii_case(word) || n.eq_ignore_ascii_case(bare))
}

impl Core {
    /// `event [plain|json] <names…> [CUSTOM <subclasses…>]`.
    pub(super) fn subscribe(&mut self, conn: ConnId, rest: &str) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let mut words = rest.split_whitespace().peekable();
        let mut format = c.format.unwrap_or(Format::Plain);
        match words.peek().map(|w| w.to_ascii_lowercase()) {
            Some(w) if w == "plain" => format = Format::Plain,
            Some(w) if w == "json" => format = Format::Json,
            _ => {}
        }
        if matches!(
            words.peek().map(|w| w.to_ascii_lowercase()).as_deref(),
            Some("plain" | "json")
        ) {
            words.next();
        }
        let mut keys = 0usize;
        let mut custom = false;
        let mut all = false;
        let mut mask = 0u64;
        let mut subclasses = Vec::new();
        for w in words {
            if custom {
                subclasses.push(w.to_owned());
                continue;
            }
            let Some(name) = fs_event_name(w) else {
                continue;
            };
            keys += 1;
            match name {
                "ALL" => all = true,
                "CUSTOM" => {
                    custom = true;
                    mask |= event_bit("CUSTOM").unwrap_or(0);
                }
                other => mask |= event_bit(other).unwrap_or(0),
            }
        }
        if keys == 0 {
            if c.format.is_some() {
                c.format = Some(format);
            }
            self.reply(conn, wire::command_reply("-ERR no keywords supplied"));
            return;
        }
        c.format = Some(format);
        c.all |= all;
        c.mask |= mask;
        for s in subclasses {
            if !c.subclasses.contains(&s) {
                c.subclasses.push(s);
            }
        }
        self.reply(
            conn,
            wire::command_reply(&format!("+OK event listener enabled {}", format.name())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keywords_are_matched_like_switch_name_event() {
        assert_eq!(fs_event_name("channel_answer"), Some("CHANNEL_ANSWER"));
        assert_eq!(
            fs_event_name("SWITCH_EVENT_CHANNEL_PARK"),
            Some("CHANNEL_PARK")
        );
        assert_eq!(fs_event_name("CODEC"), Some("CODEC"));
        assert_eq!(fs_event_name("NO_SUCH_EVENT"), None);
    }
}
