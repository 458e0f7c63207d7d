//! A queue's recording policy: which calls are recorded (always, never, a sampled share, or
//! when someone asks), mono or stereo, and the file name, a template of safe placeholders.
//!
//! The file name ends up in an ESL command line (`uuid_record <uuid> start <path>`) and on
//! the switch's disk, so a template is checked when it is read and its rendering is built
//! only from characters that can neither leave the recordings directory nor end or split a
//! command: letters, digits, `-`, `_`, `.` and `/` between non-empty segments, no `..`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{CallId, QueueId, RecordingId};
use super::time::Timestamp;

/// Which calls of a queue are recorded, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordingPolicy {
    pub mode: RecordingMode,
    /// Caller and agent on separate channels of the file.
    pub stereo: bool,
    pub template: RecordingTemplate,
    /// The notice a caller hears on entering the queue, before the hold music, when its calls
    /// may be recorded (any mode but `never`); `None`: no notice.
    pub consent: Option<ConsentNotice>,
    /// A short tone both parties hear this often while a call is recorded; `None`: no beep.
    #[serde(with = "super::routing::opt_millis")]
    pub beep_every: Option<Duration>,
    /// A paused or masked recording resumes by itself after this long.
    #[serde(with = "super::routing::millis")]
    pub auto_resume: Duration,
    /// Recordings of this queue are purged (file and metadata) this long after they end;
    /// `None`: kept until erased.
    #[serde(with = "super::routing::opt_millis")]
    pub retention: Option<Duration>,
    /// A recording in progress is paused while the call is on hold, and resumed after.
    pub pause_on_hold: bool,
}

impl Default for RecordingPolicy {
    fn default() -> Self {
        Self {
            mode: RecordingMode::Never,
            stereo: false,
            template: RecordingTemplate::default(),
            consent: None,
            beep_every: None,
            auto_resume: DEFAULT_AUTO_RESUME,
            retention: None,
            pause_on_hold: false,
        }
    }
}

/// How long a paused or masked recording stays so when nobody resumes it.
pub const DEFAULT_AUTO_RESUME: Duration = Duration::from_secs(180);

/// The recording notice: a prompt (a media source, as hold music), and the key that declines
/// recording where the law wants the caller to be able to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentNotice {
    pub announcement: String,
    /// Pressed while the caller waits (before an agent answers): the call is not recorded.
    pub opt_out_digit: Option<char>,
}

/// What can be done to a running recording (`uuid_record <uuid> <action> <path>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingAction {
    Start,
    Stop,
    /// Nothing is written until resumed: the time is left out of the file.
    Pause,
    Resume,
    /// Silence is written until unmasked: the file keeps its length.
    Mask,
    Unmask,
}

impl RecordingAction {
    pub const ALL: [RecordingAction; 6] = [
        RecordingAction::Start,
        RecordingAction::Stop,
        RecordingAction::Pause,
        RecordingAction::Resume,
        RecordingAction::Mask,
        RecordingAction::Unmask,
    ];

    /// The word FreeSWITCH's `uuid_record` takes, and the one the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingAction::Start => "start",
            RecordingAction::Stop => "stop",
            RecordingAction::Pause => "pause",
            RecordingAction::Resume => "resume",
            RecordingAction::Mask => "mask",
            RecordingAction::Unmask => "unmask",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Who started or changed a recording, as kept with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum RecordingActor {
    /// The queue's policy (always, or the sampled share).
    Policy,
    /// A REST request with an API token (its name).
    Token(String),
    /// An IVR flow's node.
    Flow(String),
    /// The auto-resume timer.
    AutoResume,
    /// The switch (it stopped by itself: the caller hung up, a limit, an error).
    Switch,
    /// The call was put on hold (or taken off it) and the queue pauses recordings on hold.
    Hold,
}

impl fmt::Display for RecordingActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordingActor::Policy => f.write_str("policy"),
            RecordingActor::Token(name) => write!(f, "token:{name}"),
            RecordingActor::Flow(node) => write!(f, "flow:{node}"),
            RecordingActor::AutoResume => f.write_str("auto_resume"),
            RecordingActor::Switch => f.write_str("switch"),
            RecordingActor::Hold => f.write_str("hold"),
        }
    }
}

/// Why a call is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingReason {
    /// The queue records every call.
    Always,
    /// The call was drawn for the queue's sampled share.
    Sampled,
    /// Someone asked over REST (or a flow node did).
    OnDemand,
}

impl RecordingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingReason::Always => "always",
            RecordingReason::Sampled => "sampled",
            RecordingReason::OnDemand => "on_demand",
        }
    }
}

/// What the caller was told and said about recording, kept with the call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Consent {
    /// When the notice started to play; `None`: the queue has no notice.
    pub notice_at: Option<Timestamp>,
    /// When the caller pressed the opt-out key.
    pub opted_out_at: Option<Timestamp>,
}

/// When a queue's calls are recorded; a recording starts when the agent answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingMode {
    #[default]
    Never,
    Always,
    /// This share of calls (0 to 100), drawn from the engine's seeded generator.
    Percent(u8),
    /// Only when a supervisor, or the agent on the call, asks over REST.
    OnDemand,
}

/// Why a recording file-name template is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("a recording template must not be empty")]
    Empty,
    #[error("a recording template is longer than {MAX_TEMPLATE_LENGTH} characters")]
    TooLong,
    #[error(
        "{0:?} is not allowed in a recording template: use letters, digits, '-', '_', '.', '/' \
         and the placeholders {{date}}, {{time}}, {{queue}}, {{call}}, {{recording}}"
    )]
    BadCharacter(char),
    #[error(
        "unknown placeholder {{{0}}}: use {{date}}, {{time}}, {{queue}}, {{call}} or {{recording}}"
    )]
    UnknownPlaceholder(String),
    #[error("a '{{' without its '}}'")]
    Unclosed,
    #[error(
        "a recording template is a relative path of non-empty folders: no leading or doubled \
         '/', no '.' or '..' folder"
    )]
    BadSegment,
    #[error("a recording template must name each call's file apart: put {{call}} or {{recording}} in it")]
    NotUnique,
    #[error("a recording template must end in .wav")]
    NotWav,
}

const MAX_TEMPLATE_LENGTH: usize = 200;
const PLACEHOLDERS: &[&str] = &["date", "time", "queue", "call", "recording"];
const DEFAULT_TEMPLATE: &str = "{date}/{queue}/{call}.wav";

/// A checked file-name template, relative to the switch's recordings directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordingTemplate(String);

impl Default for RecordingTemplate {
    fn default() -> Self {
        Self(DEFAULT_TEMPLATE.to_owned())
    }
}

impl fmt::Display for RecordingTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RecordingTemplate {
    type Error = TemplateError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RecordingTemplate> for String {
    fn from(t: RecordingTemplate) -> String {
        t.0
    }
}

/// What a template's placeholders are filled with.
pub struct RecordingNames<'a> {
    pub at: Timestamp,
    pub queue: &'a QueueId,
    pub call: &'a CallId,
    pub recording: &'a RecordingId,
}

impl RecordingTemplate {
    pub fn parse(value: &str) -> Result<Self, TemplateError> {
        if value.is_empty() {
            return Err(TemplateError::Empty);
        }
        if value.chars().count() > MAX_TEMPLATE_LENGTH {
            return Err(TemplateError::TooLong);
        }
        let mut unique = false;
        let mut rest = value;
        while let Some(open) = rest.find('{') {
            check_literal(&rest[..open])?;
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or(TemplateError::Unclosed)?;
            let name = &after[..close];
            if !PLACEHOLDERS.contains(&name) {
                return Err(TemplateError::UnknownPlaceholder(name.to_owned()));
            }
            unique |= matches!(name, "call" | "recording");
            rest = &after[close + 1..];
        }
        check_literal(rest)?;
        if !unique {
            return Err(TemplateError::NotUnique);
        }
        if value.starts_with('/') || has_bad_folder(value) {
            return Err(TemplateError::BadSegment);
        }
        if !value.ends_with(".wav") {
            return Err(TemplateError::NotWav);
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file's path relative to the recordings directory. `{date}` is `YYYY-MM-DD`
    /// and `{time}` `HHMMSS`, both UTC.
    pub fn render(&self, names: &RecordingNames<'_>) -> String {
        let (date, time) = utc_date_time(names.at);
        let mut out = String::with_capacity(self.0.len() + 64);
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                break;
            };
            match &after[..close] {
                "date" => out.push_str(&date),
                "time" => out.push_str(&time),
                "queue" => out.push_str(&safe_segment(names.queue.as_str())),
                "call" => out.push_str(&names.call.to_string()),
                "recording" => out.push_str(&names.recording.to_string()),
                _ => {}
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn check_literal(text: &str) -> Result<(), TemplateError> {
    match text.chars().find(|c| !is_path_char(*c) || *c == '}') {
        Some(c) => Err(TemplateError::BadCharacter(c)),
        None => Ok(()),
    }
}

/// What a recording path may hold, on the switch and in the `uuid_record` command.
pub fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

/// Whether a stored or rendered path below a recordings folder is one that cannot leave it nor
/// split a command: not empty, not absolute, path characters only, no empty, `.` or `..`
/// folder. The API re-checks it before serving a file, the purge before deleting one.
pub fn is_safe_relative_path(relative: &str) -> bool {
    !relative.is_empty()
        && !relative.starts_with('/')
        && relative.chars().all(is_path_char)
        && !has_bad_folder(relative)
}

/// Whether a relative path has an empty, `.` or `..` folder (one that could leave its base).
pub fn has_bad_folder(relative: &str) -> bool {
    relative
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
}

/// A queue id as a folder name: its characters are already safe, but `.` and `..` are not
/// folders to write into.
fn safe_segment(value: &str) -> String {
    if value.chars().all(|c| c == '.') {
        value.replace('.', "_")
    } else {
        value.to_owned()
    }
}

/// `YYYY-MM-DD` and `HHMMSS` of a timestamp, UTC (the epoch for one beyond jiff's range).
fn utc_date_time(at: Timestamp) -> (String, String) {
    let civil = jiff::Timestamp::from_millisecond(at.as_millis())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC);
    (
        civil.strftime("%Y-%m-%d").to_string(),
        civil.strftime("%H%M%S").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_template_files_calls_by_date_and_queue() {
        let queue = QueueId::new("support").unwrap();
        let call = CallId::parse("0b5e3c1e-8d3f-4f5e-9a49-8f1d2b7c6a10").unwrap();
        let recording = RecordingId::parse("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        // 2024-02-29T23:59:58Z
        let at = Timestamp::from_millis(1_709_251_198_000);
        let names = RecordingNames {
            at,
            queue: &queue,
            call: &call,
            recording: &recording,
        };
        assert_eq!(
            RecordingTemplate::default().render(&names),
            "2024-02-29/support/0b5e3c1e-8d3f-4f5e-9a49-8f1d2b7c6a10.wav"
        );
        let t = RecordingTemplate::parse("{date}/{time}-{recording}.wav").unwrap();
        assert_eq!(
            t.render(&names),
            "2024-02-29/235958-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f.wav"
        );
    }

    #[test]
    fn dates_before_and_after_leap_years_and_the_epoch_render_right() {
        let date = |ms| utc_date_time(Timestamp::from_millis(ms)).0;
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(date(4_107_542_400_000), "2100-03-01");
        assert_eq!(date(-1), "1969-12-31");
    }

    #[test]
    fn templates_that_could_escape_or_inject_are_refused() {
        for (bad, why) in [
            ("", TemplateError::Empty),
            ("../{call}.wav", TemplateError::BadSegment),
            ("{date}/../{call}.wav", TemplateError::BadSegment),
            ("/etc/{call}.wav", TemplateError::BadSegment),
            ("a//{call}.wav", TemplateError::BadSegment),
            ("./{call}.wav", TemplateError::BadSegment),
            ("{call} x.wav", TemplateError::BadCharacter(' ')),
            ("{call}\n.wav", TemplateError::BadCharacter('\n')),
            ("{call};.wav", TemplateError::BadCharacter(';')),
            ("{call}$.wav", TemplateError::BadCharacter('$')),
            ("{call}}.wav", TemplateError::BadCharacter('}')),
            ("{call", TemplateError::Unclosed),
            (
                "{caller}.wav",
                TemplateError::UnknownPlaceholder("caller".into()),
            ),
            ("{date}/{queue}.wav", TemplateError::NotUnique),
            ("{call}.mp3", TemplateError::NotWav),
        ] {
            assert_eq!(RecordingTemplate::parse(bad), Err(why), "{bad:?}");
        }
        assert!(RecordingTemplate::parse(&format!("{}{{call}}.wav", "a".repeat(200))).is_err());
    }

    #[test]
    fn a_queue_id_of_dots_is_no_folder_escape() {
        assert_eq!(safe_segment(".."), "__");
        assert_eq!(safe_segment("a.b"), "a.b");
    }

    #[test]
    fn a_policy_stored_before_recording_existed_loads_as_never() {
        let policy: RecordingPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(policy, RecordingPolicy::default());
        assert_eq!(policy.mode, RecordingMode::Never);
        let bad = serde_json::from_str::<RecordingPolicy>(r#"{"template":"../x.wav"}"#);
        assert!(bad.is_err());
    }
}
