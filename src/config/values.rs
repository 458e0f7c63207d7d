//! Small validated values shared by both files: durations, display names, hold music, secrets.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::{shown, ConfigError, Source};

/// No duration in either file may be longer than this (100 years): a ceiling for settings
/// whose own limit is generous (a recording's retention), and for arithmetic on timestamps.
pub(crate) const MAX_ANY_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A duration written the human way (`"5s"`, `"1m 30s"`, `"250ms"`), at most
/// [`MAX_ANY_DURATION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl TryFrom<String> for HumanDuration {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let d = humantime::parse_duration(&value).map_err(|e| {
            format!(
                "{} is not a duration like \"30s\" or \"1m 30s\": {e}",
                shown(&value)
            )
        })?;
        if d > MAX_ANY_DURATION {
            return Err(format!(
                "{} is longer than any setting allows (100 years)",
                shown(&value)
            ));
        }
        Ok(HumanDuration(d))
    }
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The longest value a duration setting may take, by the setting's name (the last part of its
/// dotted key). Each is far above any sensible value and low enough that a typo cannot switch
/// the feature off (a `heartbeat_timeout` of years is no dead-link detection at all).
pub(crate) fn max_duration(key: &str) -> Duration {
    let name = key.rsplit('.').next().unwrap_or(key);
    let secs = match name {
        "heartbeat_timeout" => 10 * MINUTE,
        "header_timeout" | "idle_timeout" => HOUR,
        "reconnect_max" => HOUR,
        "ring_timeout" | "ring_progressively_every" | "confirm_timeout" => 10 * MINUTE,
        "wrap_up" | "busy_backoff" | "reject_backoff" | "no_answer_backoff" => HOUR,
        "beep_every" | "auto_resume" => HOUR,
        "every" | "within" | "longest_wait" | "max_wait" | "abandoned_resume" | "after"
        | "retry_delay" => DAY,
        "window" | "purge_every" => 7 * DAY,
        _ => return MAX_ANY_DURATION,
    };
    Duration::from_secs(secs)
}

/// A duration setting checked against its [`max_duration`]; the error names the file, the
/// line and the key.
pub(crate) fn bounded(
    src: &Source<'_>,
    key: String,
    d: Spanned<HumanDuration>,
) -> Result<Duration, ConfigError> {
    let max = max_duration(&key);
    let value = d.get_ref().0;
    if value > max {
        return Err(src.error_at(
            Some(d.span()),
            key,
            format!(
                "{} is too long: at most {}",
                humantime::format_duration(value),
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(value)
}

/// A duration setting that must be more than zero and at most its [`max_duration`].
pub(crate) fn positive_bounded(
    src: &Source<'_>,
    key: String,
    d: Spanned<HumanDuration>,
) -> Result<Duration, ConfigError> {
    if d.get_ref().0.is_zero() {
        return Err(src.error_at(Some(d.span()), key, "must be more than zero"));
    }
    bounded(src, key, d)
}

/// A name shown to people (a queue's or an agent's): free text on one line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct DisplayName(pub(crate) String);

impl TryFrom<String> for DisplayName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        const MAX: usize = 128;
        if value.trim().is_empty() {
            return Err("a name must not be empty".into());
        }
        if value.chars().count() > MAX {
            return Err(format!("{} is longer than {MAX} characters", shown(&value)));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("{} contains a control character", shown(&value)));
        }
        Ok(Self(value))
    }
}

/// What a waiting caller hears: a FreeSWITCH file string such as `local_stream://moh`.
///
/// It becomes the argument of a `playback` executed over ESL, so it must stay one header line
/// and must not open a `{var=value}` block (see [`check_media_source`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct HoldMusic(pub(crate) String);

impl TryFrom<String> for HoldMusic {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        check_media_source("hold music", &value)?;
        Ok(Self(value))
    }
}

/// A prompt: a sound file (`ivr/ivr-thank_you_for_holding.wav`) or any other playback source,
/// with the same rules as [`HoldMusic`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct MediaSource(pub(crate) String);

impl TryFrom<String> for MediaSource {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        check_media_source("a prompt", &value)?;
        Ok(Self(value))
    }
}

/// The `scheme://` sources the switch may be asked to play. FreeSWITCH picks a file module by
/// the part before `://`, and some run commands (`shell_stream://`) or fetch from anywhere
/// (`http://`, which this product does not set up through mod_httapi): only these are allowed.
pub const SOUND_SCHEMES: [&str; 3] = ["local_stream", "tone_stream", "silence_stream"];

/// What is wrong with a sound source, if anything: it must be a plain file path (no `:`, so no
/// `scheme://` and no `say:`/`phrase:` prefix) or one of [`SOUND_SCHEMES`]; not empty, at most
/// 512 bytes, no whitespace or control character (it would end the sendmsg header or the
/// argument), no `{`/`}` (a variable block) and no `$` (a variable expansion). The ESL command
/// layer applies the same check again before anything reaches the switch.
pub fn sound_source_problem(value: &str) -> Option<String> {
    const MAX: usize = 512;
    if value.is_empty() {
        return Some("must not be empty".into());
    }
    if value.len() > MAX {
        return Some(format!("is longer than {MAX} characters"));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| c.is_control() || c.is_whitespace() || matches!(c, '{' | '}' | '$'))
    {
        return Some(format!(
            "is not a usable sound source: {c:?} is not allowed"
        ));
    }
    match value.split_once("://") {
        Some((scheme, _)) if SOUND_SCHEMES.contains(&scheme) => None,
        Some((scheme, _)) => Some(format!(
            "is not a usable sound source: {scheme}:// is not allowed; use a file path or {}",
            SOUND_SCHEMES.map(|s| format!("{s}://")).join(", ")
        )),
        None if value.contains(':') => Some(format!(
            "is not a usable sound source: a file path has no ':'; use a file path or {}",
            SOUND_SCHEMES.map(|s| format!("{s}://")).join(", ")
        )),
        None => None,
    }
}

/// Characters besides ASCII letters and digits that one word of a switch command may hold, per
/// kind of value. The ESL command layer ([`is_switch_word`] in `esl::command::check_token`)
/// refuses anything else, so the flow loader checks literals against the same sets.
pub const EXTENSION_CHARS: &str = "*#+._-";
pub const CONTEXT_CHARS: &str = "._-";
pub const MAILBOX_CHARS: &str = "._-";
pub const VOICEMAIL_DOMAIN_CHARS: &str = ".-";
pub const HANGUP_CAUSE_CHARS: &str = "_";
/// `.` for amounts (`12.50`); no `,`, space or line break.
pub const SAY_TEXT_CHARS: &str = ".";

/// One word for a switch command line: 1 to 128 ASCII letters, digits and `extra` characters,
/// so it can neither split the command nor smuggle options.
pub fn is_switch_word(value: &str, extra: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// The hangup causes FreeSWITCH knows by name (`switch_channel.c`, `CAUSE_CHART`); another
/// name is not a cause the switch can hang up with.
pub const HANGUP_CAUSES: [&str; 79] = [
    "UNSPECIFIED",
    "SUCCESS",
    "NO_ROUTE_TRANSIT_NET",
    "NO_ROUTE_DESTINATION",
    "CHANNEL_UNACCEPTABLE",
    "CALL_AWARDED_DELIVERED",
    "NORMAL_CLEARING",
    "USER_BUSY",
    "NO_USER_RESPONSE",
    "NO_ANSWER",
    "SUBSCRIBER_ABSENT",
    "CALL_REJECTED",
    "NUMBER_CHANGED",
    "REDIRECTION_TO_NEW_DESTINATION",
    "EXCHANGE_ROUTING_ERROR",
    "DESTINATION_OUT_OF_ORDER",
    "INVALID_NUMBER_FORMAT",
    "FACILITY_REJECTED",
    "RESPONSE_TO_STATUS_ENQUIRY",
    "NORMAL_UNSPECIFIED",
    "NORMAL_CIRCUIT_CONGESTION",
    "NETWORK_OUT_OF_ORDER",
    "NORMAL_TEMPORARY_FAILURE",
    "SWITCH_CONGESTION",
    "ACCESS_INFO_DISCARDED",
    "REQUESTED_CHAN_UNAVAIL",
    "PRE_EMPTED",
    "FACILITY_NOT_SUBSCRIBED",
    "OUTGOING_CALL_BARRED",
    "INCOMING_CALL_BARRED",
    "BEARERCAPABILITY_NOTAUTH",
    "BEARERCAPABILITY_NOTAVAIL",
    "SERVICE_UNAVAILABLE",
    "BEARERCAPABILITY_NOTIMPL",
    "CHAN_NOT_IMPLEMENTED",
    "FACILITY_NOT_IMPLEMENTED",
    "SERVICE_NOT_IMPLEMENTED",
    "INVALID_CALL_REFERENCE",
    "INCOMPATIBLE_DESTINATION",
    "INVALID_MSG_UNSPECIFIED",
    "MANDATORY_IE_MISSING",
    "MESSAGE_TYPE_NONEXIST",
    "WRONG_MESSAGE",
    "IE_NONEXIST",
    "INVALID_IE_CONTENTS",
    "WRONG_CALL_STATE",
    "RECOVERY_ON_TIMER_EXPIRE",
    "MANDATORY_IE_LENGTH_ERROR",
    "PROTOCOL_ERROR",
    "INTERWORKING",
    "ORIGINATOR_CANCEL",
    "CRASH",
    "SYSTEM_SHUTDOWN",
    "LOSE_RACE",
    "MANAGER_REQUEST",
    "BLIND_TRANSFER",
    "ATTENDED_TRANSFER",
    "ALLOTTED_TIMEOUT",
    "USER_CHALLENGE",
    "MEDIA_TIMEOUT",
    "PICKED_OFF",
    "USER_NOT_REGISTERED",
    "PROGRESS_TIMEOUT",
    "INVALID_GATEWAY",
    "GATEWAY_DOWN",
    "INVALID_URL",
    "INVALID_PROFILE",
    "NO_PICKUP",
    "SRTP_READ_ERROR",
    "BOWOUT",
    "BUSY_EVERYWHERE",
    "DECLINE",
    "DOES_NOT_EXIST_ANYWHERE",
    "NOT_ACCEPTABLE",
    "UNWANTED",
    "NO_IDENTITY",
    "BAD_IDENTITY_INFO",
    "UNSUPPORTED_CERTIFICATE",
    "INVALID_IDENTITY",
];

/// [`sound_source_problem`] as a config error message.
fn check_media_source(what: &str, value: &str) -> Result<(), String> {
    match sound_source_problem(value) {
        None => Ok(()),
        Some(problem) if value.is_empty() => Err(format!("{what} {problem}")),
        Some(problem) if value.len() > 512 => Err(format!("{what} {problem}")),
        Some(problem) => Err(format!("{value:?} {problem}")),
    }
}

/// A secret (a switch password). `Debug` prints `"***"`, and there is deliberately no
/// `Display` or `Serialize`: reading the value takes an explicit `expose()`.
///
/// Read from a file it must hold no control character ([`Secret::check`]): a line break in an
/// ESL password would end the `auth` command and start another.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Secret(String);

impl TryFrom<String> for Secret {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::check(&value)?;
        Ok(Self(value))
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Refuses a secret with a control character (a line break, a tab, NUL), without
    /// repeating the secret.
    pub fn check(value: &str) -> Result<(), String> {
        match value.chars().position(char::is_control) {
            Some(at) => Err(format!(
                "a secret must not contain control characters (a line break, tab or NUL); \
                 found one at character {}",
                at + 1
            )),
            None => Ok(()),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// A URL with the password in its user part replaced by `***`, for logs and `Debug`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A DNS hostname: dot-separated labels of letters, digits and inner `-`.
pub(super) fn is_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A caller ID number as the caller sent it, reduced to what a number can hold. Anything else
/// is dropped, not escaped: a number has no business containing it. Both switch adapters put
/// it in front of a switch (an ESL originate variable, an ARI `callerId`).
pub fn sanitize_number(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '#' | '.' | '-' | '_'))
        .take(32)
        .collect()
}

/// A caller ID name, kept readable (letters of any script, digits, spaces and light
/// punctuation): safe inside a single-quoted originate variable, and no quote or `<` that
/// would end the name in ARI's `"name" <number>`.
pub fn sanitize_name(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '+' | '@' | '(' | ')') {
                c
            } else {
                ' '
            }
        })
        .take(64)
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_hides_the_value() {
        assert_eq!(format!("{:?}", Secret::new("ClueCon")), "\"***\"");
    }

    #[test]
    fn redact_url_hides_only_the_password() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/sb?sslmode=require"),
            "postgres://app:***@db:5432/sb?sslmode=require"
        );
        assert_eq!(redact_url("postgres://app@db/sb"), "postgres://app@db/sb");
        assert_eq!(
            redact_url("sqlite://switchboard.db"),
            "sqlite://switchboard.db"
        );
    }

    #[test]
    fn prompts_follow_the_hold_music_rules() {
        assert!(MediaSource::try_from("ivr/ivr-you_are_number.wav".to_owned()).is_ok());
        assert!(MediaSource::try_from("/var/sounds/en/hold.wav".to_owned()).is_ok());
        for bad in [
            "",
            "ivr/a b.wav",
            "a.wav\napi shutdown",
            "{x=y}a.wav",
            "a.wav\t",
        ] {
            assert!(
                MediaSource::try_from(bad.to_owned()).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn hold_music_rejects_lines_and_variable_blocks() {
        assert!(HoldMusic::try_from("local_stream://moh".to_owned()).is_ok());
        assert!(HoldMusic::try_from("tone_stream://%(250,250,480,620)".to_owned()).is_ok());
        for bad in ["", "a b", "moh\napi shutdown", "{x=y}local_stream://moh"] {
            assert!(
                HoldMusic::try_from(bad.to_owned()).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn only_files_and_the_local_tone_and_silence_streams_are_sound_sources() {
        for good in [
            "ivr/ivr-you_are_number.wav",
            "/usr/share/freeswitch/sounds/en/us/callie/ivr/8000/ivr-welcome.wav",
            "local_stream://moh",
            "tone_stream://%(200,0,1400)",
            "silence_stream://1000",
        ] {
            assert_eq!(sound_source_problem(good), None, "{good:?} refused");
            assert!(MediaSource::try_from(good.to_owned()).is_ok());
        }
        for bad in [
            "shell_stream:///usr/bin/id",
            "shell_stream://curl http://attacker",
            "http://sounds.example.com/a.wav",
            "https://sounds.example.com/a.wav",
            "file_string://a.wav!b.wav",
            "SHELL_STREAM://id",
            "phrase:voicemail_hello",
            "say:en number pronounced 12",
            "${system(id)}.wav",
            "$${sounds_dir}/a.wav",
        ] {
            assert!(sound_source_problem(bad).is_some(), "{bad:?} accepted");
            assert!(
                HoldMusic::try_from(bad.to_owned()).is_err(),
                "{bad:?} accepted as hold music"
            );
            assert!(
                MediaSource::try_from(bad.to_owned()).is_err(),
                "{bad:?} accepted as a prompt"
            );
        }
        let message = MediaSource::try_from("shell_stream:///bin/id".to_owned()).unwrap_err();
        assert!(
            message.contains("shell_stream:// is not allowed"),
            "{message}"
        );
    }
}
