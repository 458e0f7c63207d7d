//! `uuid_record <uuid> start|stop|mask|unmask|pause|resume <path> [<limit>]`: recordings
//! of a whole session (a media bug), as in the `originate-bridge-record` and
//! `record-pause-mask` captures. Every action replies `+OK Success`; only start and stop
//! produce events (RECORD_START then MEDIA_BUG_START, RECORD_STOP then MEDIA_BUG_STOP);
//! paused time is left out of the file's length, masked time is kept (as silence). A
//! recording stopped before its first audio frame (`switchboard-recording`: stopped 17-20 ms
//! after the start, on a caller whose `uuid_bridge` waited for the agent's originate to
//! return) ends with `Record-Completion-Cause: empty-file`, `RECORD_DISCARDED=true`, zero
//! samples, a 44-byte size, and leaves no file.
//!
//! What no capture shows, and the simulator decides (following mod_commands):
//! - the error replies: `-USAGE: …` for missing arguments or an unknown action,
//!   `-ERR Cannot locate session!` for an unknown uuid, and `-ERR Cannot <action> …` when
//!   no recording of that path runs on the channel (`stop all` stops every one);
//! - a recording still running when its channel hangs up stops on CS_HANGUP, with the
//!   same RECORD_STOP / MEDIA_BUG_STOP pair;
//! - a `<limit>` (seconds) stops the recording by itself once that much has been written;
//! - when that first frame comes: one 20 ms frame after the start, or after the bridge
//!   completes for a channel that was waiting for it (in CS_SOFT_EXECUTE, reading no media)
//!   when the recording started; an empty recording is still listed by `recorded()`, with
//!   nothing written;
//! - a channel whose `RECORD_STEREO` variable is true when a recording starts records it in
//!   stereo (caller and agent on channels of their own), as mod_commands' `uuid_setvar`
//!   followed by `uuid_record` does;
//! - `uuid_broadcast <uuid> <path> [aleg|bleg|holdb|both]` (the recording beep) replies
//!   `+OK Message sent` whatever became of it, as mod_commands does, `-USAGE: …` without a
//!   path; the broadcasts to live channels are kept for tests, the media is not played.
//!
//! The pause and mask intervals are kept per recording (`ChannelView::recordings`) so tests
//! of what the controller asked for can read them back. With a disk root
//! (`SimConfig::disk_root`), a stopped recording leaves its WAV file there (`disk`) before
//! RECORD_STOP is sent, as the real switch closes the file first.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::{Core, Timer};
use crate::sim::{RecordingInterval, SessionRecordingView};

pub(super) const USAGE: &str =
    "-USAGE: <uuid> [start|stop|mask|unmask|pause|resume] <path> [<limit>] [<recording_vars>]\n";
const CANNOT_LOCATE: &str = "-ERR Cannot locate session!\n";
const SUCCESS: &str = "+OK Success\n";
const BROADCAST_USAGE: &str = "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n";
const BROADCAST_SENT: &str = "+OK Message sent\n";
/// How many broadcasts [`Core::broadcasts`] remembers.
const BROADCASTS_KEPT: usize = 4096;
/// How many stopped recordings [`Core::recorded`] remembers.
const RECORDED_KEPT: usize = 4096;
/// What the capture's RECORD_STOP carries after `uuid_record … stop`.
const STOP_CAUSE: &str = "success-maxtime";
/// What it carries when no audio frame was written (`switchboard-recording`).
pub(super) const EMPTY_CAUSE: &str = "empty-file";
/// One audio frame: the media bug writes nothing before the first one has passed.
const FRAME: Duration = Duration::from_millis(20);

/// A `uuid_record` running on a channel.
#[derive(Clone, Debug)]
pub(crate) struct SessionRecording {
    path: String,
    started: Instant,
    paused_since: Option<Instant>,
    masked_since: Option<Instant>,
    paused: Vec<RecordingInterval>,
    masked: Vec<RecordingInterval>,
    /// 1, or 2 in stereo.
    channels: u16,
    /// When audio began to reach the media bug: at the start, or (for a channel waiting for
    /// a bridge whose originate has not returned) when the bridge completes; None until then.
    media_from: Option<Instant>,
    /// Identifies this recording's limit timer; a stopped recording's timer is stale.
    token: u64,
    /// The task of that timer, aborted when the recording goes (see [`LimitTimer`]).
    limit_timer: Option<Arc<LimitTimer>>,
}

/// The task sleeping until a recording's `<limit>`, aborted once the last copy of its
/// recording is dropped: stopped, its channel gone, or the switch restarted. Without this, a
/// recording stopped long before its limit (the controller asks for 4 hours) left a sleeping
/// task behind for every call until the limit passed, which the soak saw as memory growing
/// by some 600 bytes per call (issue 16).
#[derive(Debug)]
pub(crate) struct LimitTimer(AbortHandle);

impl Drop for LimitTimer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Timer {
    /// The channel and token of a recording's limit timer (the one timer tied to its
    /// recording's life, see [`LimitTimer`]).
    pub(super) fn recording_limit(&self) -> Option<(&str, u64)> {
        match self {
            Timer::SessionRecordLimit { uuid, token } => Some((uuid, *token)),
            _ => None,
        }
    }
}

impl SessionRecording {
    fn offset(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
    }

    fn close_intervals(&mut self, now: Instant) {
        if let Some(since) = self.paused_since.take() {
            let iv = self.interval(since, now);
            self.paused.push(iv);
        }
        if let Some(since) = self.masked_since.take() {
            let iv = self.interval(since, now);
            self.masked.push(iv);
        }
    }

    fn interval(&self, from: Instant, to: Instant) -> RecordingInterval {
        RecordingInterval {
            from: self.offset(from),
            to: self.offset(to),
        }
    }

    /// What the file holds: the wall time minus the paused time.
    fn written(&self, now: Instant) -> Duration {
        let paused: Duration = self.paused.iter().map(|iv| iv.to - iv.from).sum();
        let still_paused = self
            .paused_since
            .map(|since| now.saturating_duration_since(since))
            .unwrap_or_default();
        self.offset(now)
            .saturating_sub(paused)
            .saturating_sub(still_paused)
    }

    /// Stopped before its first audio frame: the switch discards the file.
    fn empty_at(&self, now: Instant) -> bool {
        self.media_from
            .is_none_or(|from| now.saturating_duration_since(from) < FRAME)
    }

    pub(crate) fn view(&self) -> SessionRecordingView {
        self.view_at(Instant::now())
    }

    /// Intervals still open are shown as ending at `now`.
    fn view_at(&self, now: Instant) -> SessionRecordingView {
        let mut closed = self.clone();
        closed.close_intervals(now);
        SessionRecordingView {
            path: self.path.clone(),
            channels: self.channels,
            paused: self.paused_since.is_some(),
            masked: self.masked_since.is_some(),
            written: self.written(now),
            paused_intervals: closed.paused,
            masked_intervals: closed.masked,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Stop,
    Mask,
    Unmask,
    Pause,
    Resume,
}

impl Action {
    fn parse(word: &str) -> Option<Action> {
        Some(match word.to_ascii_lowercase().as_str() {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "mask" => Action::Mask,
            "unmask" => Action::Unmask,
            "pause" => Action::Pause,
            "resume" => Action::Resume,
            _ => return None,
        })
    }

    fn failure(self) -> &'static str {
        match self {
            Action::Start => "-ERR Cannot record session!\n",
            Action::Stop => "-ERR Cannot stop record session!\n",
            Action::Mask => "-ERR Cannot mask recording session!\n",
            Action::Unmask => "-ERR Cannot unmask recording session!\n",
            Action::Pause => "-ERR Cannot pause recording session!\n",
            Action::Resume => "-ERR Cannot resume recording session!\n",
        }
    }
}

/// Work that follows the reply (its events come after it, as on the real switch).
pub(super) type After = Option<Box<dyn FnOnce(&mut Core)>>;

impl Core {
    /// `uuid_record`: the reply body and what follows it.
    pub(super) fn uuid_record(&mut self, arg: &str, exists: bool) -> (String, After) {
        let words: Vec<&str> = arg.split(' ').filter(|w| !w.is_empty()).collect();
        let [uuid, action, path, rest @ ..] = words.as_slice() else {
            return (USAGE.to_string(), None);
        };
        if !exists {
            return (CANNOT_LOCATE.to_string(), None);
        }
        let Some(action) = Action::parse(action) else {
            return (USAGE.to_string(), None);
        };
        let (uuid, path) = (uuid.to_string(), path.to_string());
        if action == Action::Start {
            let limit = rest
                .first()
                .and_then(|l| l.parse::<u64>().ok())
                .filter(|l| *l > 0)
                .map(Duration::from_secs);
            return (
                SUCCESS.to_string(),
                Some(Box::new(move |core: &mut Core| {
                    core.start_session_recording(&uuid, path, limit)
                })),
            );
        }
        let now = Instant::now();
        let Some(channel) = self.channels.get_mut(&uuid) else {
            return (CANNOT_LOCATE.to_string(), None);
        };
        let running =
            |r: &SessionRecording| r.path == path || (action == Action::Stop && path == "all");
        if !channel.session_recordings.iter().any(running) {
            return (action.failure().to_string(), None);
        }
        if action == Action::Stop {
            let stop_all = path == "all";
            return (
                SUCCESS.to_string(),
                Some(Box::new(move |core: &mut Core| {
                    core.stop_session_recordings(&uuid, |r| stop_all || r.path == path)
                })),
            );
        }
        for r in channel
            .session_recordings
            .iter_mut()
            .filter(|r| r.path == path)
        {
            match action {
                Action::Pause if r.paused_since.is_none() => r.paused_since = Some(now),
                Action::Mask if r.masked_since.is_none() => r.masked_since = Some(now),
                Action::Resume => {
                    if let Some(since) = r.paused_since.take() {
                        let iv = r.interval(since, now);
                        r.paused.push(iv);
                    }
                }
                Action::Unmask => {
                    if let Some(since) = r.masked_since.take() {
                        let iv = r.interval(since, now);
                        r.masked.push(iv);
                    }
                }
                _ => {}
            }
        }
        self.changed = true;
        (SUCCESS.to_string(), None)
    }

    pub(crate) fn recorded(&self) -> Vec<(String, SessionRecordingView)> {
        self.recorded.iter().cloned().collect()
    }

    pub(crate) fn set_disk_root(&mut self, root: Option<std::path::PathBuf>) {
        self.disk_root = root;
    }

    pub(crate) fn disk_file(&self, path: &str) -> Option<std::path::PathBuf> {
        let root = self.disk_root.as_ref()?;
        super::disk::file_under(root, path).ok()
    }

    pub(crate) fn broadcasts(&self) -> Vec<crate::sim::Broadcast> {
        self.broadcasts.iter().cloned().collect()
    }

    /// `uuid_broadcast`: the reply body.
    pub(super) fn uuid_broadcast(&mut self, arg: &str, exists: bool) -> String {
        let words: Vec<&str> = arg.split(' ').filter(|w| !w.is_empty()).collect();
        let [uuid, path, rest @ ..] = words.as_slice() else {
            return BROADCAST_USAGE.to_string();
        };
        if exists {
            if self.broadcasts.len() >= BROADCASTS_KEPT {
                self.broadcasts.pop_front();
            }
            self.broadcasts.push_back(crate::sim::Broadcast {
                uuid: uuid.to_string(),
                path: path.to_string(),
                legs: rest.first().map(|l| l.to_string()).unwrap_or_default(),
            });
            self.changed = true;
            self.broadcast_to_parked(uuid, path, rest.first().copied().unwrap_or(""));
        }
        BROADCAST_SENT.to_string()
    }

    fn start_session_recording(&mut self, uuid: &str, path: String, limit: Option<Duration>) {
        self.next_token += 1;
        let token = self.next_token;
        let stereo = self
            .channels
            .get(uuid)
            .and_then(|c| c.var("RECORD_STEREO"))
            .is_some_and(switch_true);
        let recording = SessionRecording {
            path: path.clone(),
            started: Instant::now(),
            paused_since: None,
            masked_since: None,
            paused: Vec::new(),
            masked: Vec::new(),
            channels: if stereo { 2 } else { 1 },
            media_from: (!self.bridge_pending(uuid)).then(Instant::now),
            token,
            limit_timer: None,
        };
        self.with_chan(uuid, |c| c.session_recordings.push(recording));
        self.chan_event(
            uuid,
            "RECORD_START",
            &[],
            &[("Record-File-Path", path.clone())],
        );
        self.chan_event(uuid, "MEDIA_BUG_START", &media_bug_headers(&path), &[]);
        if let Some(after) = limit {
            self.timer(
                after,
                Timer::SessionRecordLimit {
                    uuid: uuid.to_string(),
                    token,
                },
            );
        }
        self.changed = true;
    }

    /// Audio reaches the channel's recordings from now on (its pending bridge completed).
    pub(super) fn recordings_hear_media(&mut self, uuid: &str) {
        let now = Instant::now();
        self.with_chan(uuid, |c| {
            for r in c.session_recordings.iter_mut() {
                r.media_from.get_or_insert(now);
            }
        });
    }

    /// Ties the task of a recording's limit timer to the recording (see [`LimitTimer`]); the
    /// task of one already stopped is aborted at once.
    pub(super) fn hold_limit_timer(&mut self, uuid: &str, token: u64, task: AbortHandle) {
        let timer = Arc::new(LimitTimer(task));
        if let Some(recording) = self
            .channels
            .get_mut(uuid)
            .and_then(|c| c.session_recordings.iter_mut().find(|r| r.token == token))
        {
            recording.limit_timer = Some(timer);
        }
    }

    pub(super) fn session_record_limit(&mut self, uuid: &str, token: u64) {
        self.stop_session_recordings(uuid, |r| r.token == token);
    }

    /// Stops every recording `which` picks, each with RECORD_STOP (after the `record_*`
    /// variables are set) and MEDIA_BUG_STOP.
    pub(super) fn stop_session_recordings(
        &mut self,
        uuid: &str,
        which: impl Fn(&SessionRecording) -> bool,
    ) {
        let Some(channel) = self.channels.get_mut(uuid) else {
            return;
        };
        let (stopped, kept) = std::mem::take(&mut channel.session_recordings)
            .into_iter()
            .partition::<Vec<_>, _>(|r| which(r));
        channel.session_recordings = kept;
        let now = Instant::now();
        for r in stopped {
            let mut view = r.view_at(now);
            let empty = r.empty_at(now);
            if empty {
                view.written = Duration::ZERO;
            }
            let ms = u64::try_from(view.written.as_millis()).unwrap_or(u64::MAX);
            if self.recorded.len() >= RECORDED_KEPT {
                self.recorded.pop_front();
            }
            match &self.disk_root {
                // "Discarding empty file": nothing is left on the disk.
                _ if empty => {}
                Some(root) => {
                    if let Err(error) = super::disk::write_recording(root, &view, ms) {
                        tracing::warn!(path = %r.path, %error, "sim: recording file not written");
                    }
                }
                None => {}
            }
            let cause = if empty { EMPTY_CAUSE } else { STOP_CAUSE };
            self.record_stopped(uuid, r.path.clone(), ms, r.channels, Some(cause));
            self.recorded.push_back((uuid.to_owned(), view));
            self.chan_event(uuid, "MEDIA_BUG_STOP", &media_bug_headers(&r.path), &[]);
            self.changed = true;
        }
    }
}

/// FreeSWITCH's `switch_true`: what a boolean channel variable takes for yes.
fn switch_true(value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    matches!(
        value.as_str(),
        "yes" | "on" | "true" | "t" | "enabled" | "active" | "allow"
    ) || value.parse::<i64>().is_ok_and(|n| n != 0)
}

fn media_bug_headers(path: &str) -> [(&'static str, String); 2] {
    [
        ("Media-Bug-Function", "session_record".to_string()),
        ("Media-Bug-Target", path.to_string()),
    ]
}
