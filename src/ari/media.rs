//! The switch-neutral vocabulary the engine speaks (FreeSWITCH-style media sources, Q.850
//! cause names) in ARI's terms, and the checks every value passes before it reaches Asterisk.

use thiserror::Error;

use crate::config::{is_switch_word, sound_source_problem};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum Refused {
    #[error("{what} {value:?} is not safe to send to Asterisk")]
    Unsafe { what: &'static str, value: String },
    #[error("{0} is not available on Asterisk")]
    Unsupported(String),
}

pub fn unsafe_value(what: &'static str, value: &str) -> Refused {
    Refused::Unsafe {
        what,
        value: value.chars().take(80).collect(),
    }
}

/// A word for a path segment or a query value: ASCII letters, digits and `extra`.
pub fn word<'a>(what: &'static str, value: &'a str, extra: &str) -> Result<&'a str, Refused> {
    if is_switch_word(value, extra) {
        Ok(value)
    } else {
        Err(unsafe_value(what, value))
    }
}

/// What a media source becomes on Asterisk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// Music on hold of a class (`local_stream://<class>`; `moh` is the class `default`).
    Moh(String),
    /// A `media` URI for `/play`.
    Uri(String),
}

/// Translates a source as the config gives it. Files lose their extension (Asterisk picks the
/// format); `tone_stream://%(on,off,f1[,f2])` becomes `tone:!f1[+f2]/on,!0/off` (`!`: each part
/// plays once, as FreeSWITCH plays a tone_stream once; without it Asterisk repeats the list
/// until the playback is deleted, capture dtmf-playback).
pub fn media_of(source: &str) -> Result<Media, Refused> {
    if sound_source_problem(source).is_some() {
        return Err(unsafe_value("media source", source));
    }
    if let Some(class) = source.strip_prefix("local_stream://") {
        let class = class.trim_start_matches('/');
        let class = if class == "moh" || class.is_empty() {
            "default"
        } else {
            class
        };
        return Ok(Media::Moh(word("music class", class, "_-")?.to_owned()));
    }
    if let Some(spec) = source.strip_prefix("tone_stream://") {
        return tone(spec).map(Media::Uri);
    }
    if let Some(ms) = source.strip_prefix("silence_stream://") {
        let ms: u32 = ms
            .split(',')
            .next()
            .and_then(|m| m.trim().parse().ok())
            .ok_or_else(|| unsafe_value("silence", source))?;
        // assumed: a 0 Hz tone plays silence (no capture shows it).
        return Ok(Media::Uri(format!("tone:!0/{ms}")));
    }
    let file = source
        .strip_suffix(".wav")
        .or_else(|| source.strip_suffix(".gsm"))
        .or_else(|| source.strip_suffix(".ulaw"))
        .or_else(|| source.strip_suffix(".sln"))
        .unwrap_or(source);
    let safe = !file.is_empty()
        && !file.split('/').any(|p| p == "..")
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
    if !safe {
        return Err(unsafe_value("sound file", source));
    }
    Ok(Media::Uri(format!("sound:{file}")))
}

/// `%(on,off,f1[,f2])` → `f1[+f2]/on,0/off`.
fn tone(spec: &str) -> Result<String, Refused> {
    let bad = || unsafe_value("tone", spec);
    let inner = spec
        .strip_prefix("%(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(bad)?;
    let numbers: Vec<u32> = inner
        .split(',')
        .map(|n| n.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    match numbers.as_slice() {
        [on, off, f1] => Ok(format!("tone:!{f1}/{on},!0/{off}")),
        [on, off, f1, f2] => Ok(format!("tone:!{f1}+{f2}/{on},!0/{off}")),
        _ => Err(bad()),
    }
}

/// Q.850 cause numbers and the names the engine speaks.
const CAUSES: [(u16, &str); 22] = [
    (1, "UNALLOCATED_NUMBER"),
    (3, "NO_ROUTE_DESTINATION"),
    (16, "NORMAL_CLEARING"),
    (17, "USER_BUSY"),
    (18, "NO_USER_RESPONSE"),
    (19, "NO_ANSWER"),
    (20, "SUBSCRIBER_ABSENT"),
    (21, "CALL_REJECTED"),
    (22, "NUMBER_CHANGED"),
    (26, "LOSE_RACE"),
    (27, "DESTINATION_OUT_OF_ORDER"),
    (28, "INVALID_NUMBER_FORMAT"),
    (31, "NORMAL_UNSPECIFIED"),
    (34, "NORMAL_CIRCUIT_CONGESTION"),
    (38, "NETWORK_OUT_OF_ORDER"),
    (41, "NORMAL_TEMPORARY_FAILURE"),
    (42, "SWITCH_CONGESTION"),
    (58, "BEARERCAPABILITY_NOTAVAIL"),
    (88, "INCOMPATIBLE_DESTINATION"),
    (102, "RECOVERY_ON_TIMER_EXPIRE"),
    (111, "PROTOCOL_ERROR"),
    (127, "INTERWORKING"),
];

/// The engine's name for a ChannelDestroyed cause. Asterisk says 0 (Unknown) when the far end
/// ends a channel that is not in a bridge, where FreeSWITCH says NORMAL_CLEARING; a caller's
/// CANCEL is 127 with SIP 487 where FreeSWITCH says ORIGINATOR_CANCEL.
pub fn cause_name(cause: u16, tech_cause: Option<u16>) -> String {
    match (cause, tech_cause) {
        (0, _) => "NORMAL_CLEARING".into(),
        (127, Some(487)) => "ORIGINATOR_CANCEL".into(),
        _ => CAUSES
            .iter()
            .find(|(n, _)| *n == cause)
            .map(|(_, name)| (*name).to_owned())
            .unwrap_or_else(|| "NORMAL_UNSPECIFIED".into()),
    }
}

/// FreeSWITCH cause names a flow or queue may give that [`CAUSES`] does not name.
const MORE_CAUSE_CODES: &[(&str, u16)] = &[
    ("UNSPECIFIED", 0),
    ("FACILITY_REJECTED", 29),
    ("RESPONSE_TO_STATUS_ENQUIRY", 30),
    ("ACCESS_INFO_DISCARDED", 43),
    ("REQUESTED_CHAN_UNAVAIL", 44),
    ("FACILITY_NOT_SUBSCRIBED", 50),
    ("OUTGOING_CALL_BARRED", 52),
    ("INCOMING_CALL_BARRED", 54),
    ("BEARERCAPABILITY_NOTAUTH", 57),
    ("SERVICE_UNAVAILABLE", 63),
    ("BEARERCAPABILITY_NOTIMPL", 65),
    ("CHAN_NOT_IMPLEMENTED", 66),
    ("FACILITY_NOT_IMPLEMENTED", 69),
    ("SERVICE_NOT_IMPLEMENTED", 79),
    ("INVALID_CALL_REFERENCE", 81),
    ("INVALID_MSG_UNSPECIFIED", 95),
    ("MANDATORY_IE_MISSING", 96),
];

/// The Q.850 number for `reason_code` of a cause name. A hangup is never refused for its cause:
/// Asterisk hangs nothing up by itself, so a refused hangup would leave the channel in Stasis.
/// FreeSWITCH's own names (ORIGINATOR_CANCEL, MANAGER_REQUEST, ALLOTTED_TIMEOUT, …) and any
/// other name go as 16, the nearest meaning; the engine still hears the cause it gave.
pub fn cause_code(name: &str) -> u16 {
    CAUSES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(code, _)| *code)
        .or_else(|| {
            MORE_CAUSE_CODES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, code)| *code)
        })
        .unwrap_or(16)
}

/// At most this many flow variables ride on an agent leg; the rest stay in the history.
pub const MAX_LEG_VARIABLES: usize = 32;
const MAX_LEG_VARIABLE_CHARS: usize = 256;

pub use crate::config::{sanitize_name, sanitize_number};

/// A flow variable's value for a channel variable: JSON quotes it, but no control character,
/// `${…}` expansion or dialplan separator reaches a dialplan that reads it.
pub fn sanitize_variable_value(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .take(MAX_LEG_VARIABLE_CHARS)
        .map(|c| {
            if c.is_control() || matches!(c, ',' | '"' | '$' | '\\' | '|' | '{' | '}' | '[' | ']') {
                ' '
            } else {
                c
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_become_moh_classes_tones_or_sounds() {
        assert_eq!(
            media_of("local_stream://moh"),
            Ok(Media::Moh("default".into()))
        );
        assert_eq!(
            media_of("local_stream://jazz"),
            Ok(Media::Moh("jazz".into()))
        );
        assert_eq!(
            media_of("tone_stream://%(200,0,1400)"),
            Ok(Media::Uri("tone:!1400/200,!0/0".into()))
        );
        assert_eq!(
            media_of("tone_stream://%(2000,4000,440,480)"),
            Ok(Media::Uri("tone:!440+480/2000,!0/4000".into()))
        );
        assert_eq!(
            media_of("ivr/ivr-welcome.wav"),
            Ok(Media::Uri("sound:ivr/ivr-welcome".into()))
        );
        assert_eq!(
            media_of("/usr/share/sounds/custom/hello.wav"),
            Ok(Media::Uri("sound:/usr/share/sounds/custom/hello".into()))
        );
    }

    #[test]
    fn sources_that_could_inject_are_refused() {
        for bad in [
            "shell_stream://rm -rf",
            "sound:x,recording:y",
            "../../etc/passwd",
            "a,b.wav",
            "local_stream://moh&x=1",
            "tone_stream://%(1,2,3),sound:x",
            "",
        ] {
            assert!(media_of(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn causes_read_as_the_names_freeswitch_gives() {
        assert_eq!(cause_name(16, None), "NORMAL_CLEARING");
        assert_eq!(cause_name(0, None), "NORMAL_CLEARING");
        assert_eq!(cause_name(17, Some(486)), "USER_BUSY");
        assert_eq!(cause_name(19, Some(480)), "NO_ANSWER");
        assert_eq!(cause_name(18, Some(408)), "NO_USER_RESPONSE");
        assert_eq!(cause_name(127, Some(487)), "ORIGINATOR_CANCEL");
        assert_eq!(cause_code("NORMAL_CLEARING"), 16);
        assert_eq!(cause_code("LOSE_RACE"), 26);
        assert_eq!(cause_code("SERVICE_UNAVAILABLE"), 63);
        // Never refused: a hangup that is not sent leaves the channel in Stasis for good.
        assert_eq!(cause_code("ALLOTTED_TIMEOUT"), 16);
        assert_eq!(cause_code("BOGUS&reason=x"), 16);
    }
}
