//! Applications on a channel (`sendmsg` execute and the transferred-to extension), the
//! caller's keypresses, `uuid_break` and `uuid_transfer`, with the event sequences of the
//! `inbound-park`, `say-and-missing-file`, `dtmf-rfc2833`, `dtmf-collect` and `transfer`
//! captures.
//!
//! A new `execute` while an application still runs is nested in it or waits for it
//! (`sendmsg_queue`).
//!
//! What no capture shows, and the simulator decides:
//! - `voicemail` answers the caller if needed and then keeps the channel until it hangs up
//!   (no prompts, no recording, no events of mod_voicemail), completing with `_none_`;
//! - a transfer cuts a running hold music short like a bridge does (`PLAYBACK ERROR`), and a
//!   bridge cuts short what plays on either leg (the capture only shows the caller's);
//! - an agent leg parked by its originate runs `sendmsg` executes (a whisper) on top of its
//!   `park`, as a parked caller does;
//! - `play_and_get_digits` ignores keys pressed while its invalid-input prompt plays.
//! - `record <path> [<limit secs>] [<silence threshold>] [<silence secs>]` (the `record`
//!   application, which no capture shows; its RECORD_START/RECORD_STOP headers follow the
//!   `uuid_record` ones of `originate-bridge-record` and `record-pause-mask`, without
//!   MEDIA_BUG events): the caller speaks for the simulator's message length, then is silent.
//!   With a silence threshold the recording stops after that many seconds of silence
//!   (default 3, `success-silence`), else at the limit (`success-maxtime`); a key among
//!   `playback_terminators` (default `*`) stops it and is kept in `playback_terminator_used`,
//!   and so do a hangup, `uuid_break` or a new execute, all without a completion cause.
//!   RECORD_STOP comes before the application's CHANNEL_EXECUTE_COMPLETE (`_none_`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::{new_uuid, Core, Initiator, Timer};
use crate::sim::media::{self, PagdArgs, SoundFiles};

/// A running `play_and_get_digits`.
#[derive(Clone, Debug)]
pub(crate) struct Pagd {
    args: PagdArgs,
    tries_left: u32,
    digits: String,
    /// The prompt is over (or was broken): waiting for keys.
    collecting: bool,
    /// The invalid-input prompt is playing.
    invalid: bool,
    /// Identifies the pending digit timeout; older timers are stale.
    token: u64,
}

impl Pagd {
    /// The prompt is over: keys are awaited.
    pub(crate) fn collecting(&self) -> bool {
        self.collecting && !self.invalid
    }
}

/// How long a simulated caller speaks into a `record` before falling silent.
pub(crate) const MESSAGE_LENGTH: Duration = Duration::from_secs(2);
/// `record`'s silence before it stops, when its arguments give a threshold but no length.
const DEFAULT_SILENCE: Duration = Duration::from_secs(3);

/// A running `record`.
#[derive(Clone, Debug)]
pub(crate) struct Recording {
    path: String,
    started: Instant,
    /// Identifies the pending stop timer; older timers are stale.
    token: u64,
    /// When, from its start, it stops by itself, and with which completion cause.
    stop: Option<(Duration, &'static str)>,
}

impl Recording {
    /// What is left until it stops by itself, and the completion cause it will report.
    pub(crate) fn left(&self) -> Option<(Duration, &'static str)> {
        self.stop
            .map(|(after, cause)| (after.saturating_sub(self.started.elapsed()), cause))
    }

    pub(crate) fn token(&self) -> u64 {
        self.token
    }
}

/// `record`'s arguments: the path, then optional limit, silence threshold and silence hits.
struct RecordArgs {
    path: String,
    limit: Option<Duration>,
    /// How long the caller must be silent to stop the recording; `None` without a threshold.
    silence: Option<Duration>,
}

impl RecordArgs {
    fn parse(arg: &str) -> Option<RecordArgs> {
        let mut words = arg.split_whitespace();
        let path = words.next()?.to_owned();
        let number = |w: Option<&str>| w.and_then(|w| w.parse::<u64>().ok()).filter(|n| *n > 0);
        let limit = number(words.next()).map(Duration::from_secs);
        let threshold = number(words.next());
        let hits = number(words.next()).map(Duration::from_secs);
        Some(RecordArgs {
            path,
            limit,
            silence: threshold.map(|_| hits.unwrap_or(DEFAULT_SILENCE)),
        })
    }
}

/// `DTMF-Duration` of a simulated key press (the capture's RFC 2833 phone sent 2240).
const DTMF_DURATION: &str = "2240";

impl Core {
    /// `sendmsg <uuid>` with `call-command: execute`.
    pub(super) fn execute(&mut self, uuid: &str, app: &str, arg: &str, app_uuid: String) {
        match app {
            "playback" => {
                self.start_app(uuid, app, arg, app_uuid, false);
                if self.sounds.exists(arg) {
                    self.start_playing(uuid, arg);
                } else {
                    self.finish_app(uuid, Some("FILE NOT FOUND"));
                }
            }
            "say" => {
                self.start_app(uuid, app, arg, app_uuid, false);
                // Without its prompts `say` plays nothing and still reports nothing.
                match media::say_files(arg) {
                    Some(files) if files.iter().all(|f| self.sounds.exists(f)) => {
                        let path = format!("file_string://{}", files.join("!"));
                        self.start_playing(uuid, &path);
                    }
                    _ => self.finish_app(uuid, None),
                }
            }
            "play_and_get_digits" => {
                self.start_app(uuid, app, arg, app_uuid, false);
                match PagdArgs::parse(arg) {
                    Some(args) => {
                        let tries_left = args.tries;
                        self.with_chan(uuid, |c| {
                            c.pagd = Some(Pagd {
                                args,
                                tries_left,
                                digits: String::new(),
                                collecting: false,
                                invalid: false,
                                token: 0,
                            })
                        });
                        self.pagd_prompt(uuid);
                    }
                    None => self.finish_app(uuid, None),
                }
            }
            "voicemail" => {
                self.start_app(uuid, app, arg, app_uuid, false);
                self.answer_inbound(uuid);
            }
            "record" => {
                self.start_app(uuid, app, arg, app_uuid, false);
                match RecordArgs::parse(arg) {
                    Some(args) => self.start_recording(uuid, args),
                    None => self.finish_app(uuid, None),
                }
            }
            "hangup" => {
                let cause = if arg.is_empty() {
                    "NORMAL_CLEARING"
                } else {
                    arg
                };
                self.start_app(uuid, app, arg, app_uuid, false);
                self.hangup(uuid, cause, Initiator::Local, None);
            }
            other => {
                self.start_app(uuid, other, arg, app_uuid, false);
                if other == "answer" {
                    self.answer_inbound(uuid);
                }
                self.finish_app(uuid, None);
            }
        }
        self.changed = true;
    }

    fn running_app_name(&self, uuid: &str) -> Option<String> {
        self.channels
            .get(uuid)
            .and_then(|c| c.app.as_ref())
            .map(|a| a.name.clone())
    }

    /// A playback ended by itself or by `uuid_break`: the application goes on accordingly.
    pub(super) fn after_playback(&mut self, uuid: &str) {
        match self.running_app_name(uuid).as_deref() {
            Some("playback") => {
                self.finish_app(uuid, Some("FILE PLAYED"));
                self.extension_done(uuid);
            }
            Some("play_and_get_digits") => self.pagd_after_playback(uuid),
            Some(_) => self.finish_app(uuid, None),
            None => {}
        }
    }

    pub(super) fn playback_done(&mut self, uuid: &str, token: u64) {
        let current = self
            .channels
            .get(uuid)
            .and_then(|c| c.playing.as_ref())
            .is_some_and(|p| p.token == token);
        if current && self.stop_playing(uuid, "done") {
            self.after_playback(uuid);
        }
    }

    // ---- record ---------------------------------------------------------------------

    /// RECORD_START, and the timer of whichever comes first: the caller's silence after
    /// speaking (with a threshold) or the limit.
    fn start_recording(&mut self, uuid: &str, args: RecordArgs) {
        self.next_token += 1;
        let token = self.next_token;
        let by_silence = args
            .silence
            .map(|quiet| (self.message_length + quiet, "success-silence"));
        let by_limit = args.limit.map(|limit| (limit, "success-maxtime"));
        let stop = match (by_silence, by_limit) {
            (Some(s), Some(l)) => Some(if s.0 < l.0 { s } else { l }),
            (s, l) => s.or(l),
        };
        self.with_chan(uuid, |c| {
            c.recording = Some(Recording {
                path: args.path.clone(),
                started: Instant::now(),
                token,
                stop,
            })
        });
        self.chan_event(
            uuid,
            "RECORD_START",
            &[],
            &[("Record-File-Path", args.path.clone())],
        );
        if let Some((after, cause)) = stop {
            self.timer(
                after,
                Timer::RecordDone {
                    uuid: uuid.to_string(),
                    token,
                    cause,
                },
            );
        }
    }

    pub(super) fn record_done(&mut self, uuid: &str, token: u64, cause: &'static str) {
        let current = self
            .channels
            .get(uuid)
            .and_then(|c| c.recording.as_ref())
            .is_some_and(|r| r.token == token);
        if current && self.stop_recording(uuid, Some(cause)) {
            self.finish_app(uuid, None);
        }
    }

    /// RECORD_STOP with the `record_*` variables; false when nothing records. The
    /// application itself is left to the caller to complete.
    pub(super) fn stop_recording(&mut self, uuid: &str, cause: Option<&str>) -> bool {
        let Some(r) = self.channels.get_mut(uuid).and_then(|c| c.recording.take()) else {
            return false;
        };
        let ms = u64::try_from(r.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.record_stopped(uuid, r.path, ms, 1, cause);
        self.changed = true;
        true
    }

    /// A recording of `ms` to `path` ended: the `record_*` variables (8 kHz, 16-bit, a 44-byte
    /// WAV header), then RECORD_STOP, for the `record` application and `uuid_record` alike.
    pub(super) fn record_stopped(
        &mut self,
        uuid: &str,
        path: String,
        ms: u64,
        channels: u16,
        cause: Option<&str>,
    ) {
        let samples = ms * 8;
        let size = super::disk::HEADER_BYTES + samples * 2 * u64::from(channels);
        self.with_chan(uuid, |c| {
            c.set_var("record_file_size", size.to_string());
            if cause == Some(super::session_record::EMPTY_CAUSE) {
                c.set_var("RECORD_DISCARDED", "true");
            }
            c.set_var("record_samples", samples.to_string());
            c.set_var("record_seconds", (ms / 1000).to_string());
            c.set_var("record_ms", ms.to_string());
            if let Some(cause) = cause {
                c.set_var("record_completion_cause", cause);
            }
        });
        let mut post = vec![("Record-File-Path", path)];
        if let Some(cause) = cause {
            post.push(("Record-Completion-Cause", cause.to_owned()));
        }
        self.chan_event(uuid, "RECORD_STOP", &[], &post);
    }

    /// Whether `key` ends a recording on this channel (`playback_terminators`, default `*`).
    fn terminates_recording(&self, uuid: &str, key: char) -> bool {
        let Some(c) = self.channels.get(uuid).filter(|c| c.recording.is_some()) else {
            return false;
        };
        match c.var("playback_terminators").unwrap_or("*") {
            "none" => false,
            "any" => true,
            keys => keys.contains(key),
        }
    }

    /// A transferred-to extension whose last application finished: the dialplan is over
    /// and the switch hangs up.
    fn extension_done(&mut self, uuid: &str) {
        let over = self.channels.get(uuid).is_some_and(|c| {
            c.transferred_to.is_some()
                && c.park.is_none()
                && c.app.is_none()
                && c.bridged_to.is_none()
                && c.hangup_cause.is_none()
        });
        if over {
            self.hangup(uuid, "NORMAL_CLEARING", Initiator::Local, None);
        }
    }

    // ---- keys and play_and_get_digits ----------------------------------------------

    /// The caller presses `digits`: one DTMF event per key, fed to a running
    /// `play_and_get_digits`. False if the channel is not answered or gone.
    pub(crate) fn dtmf(&mut self, uuid: &str, digits: &str) -> bool {
        let ok = self
            .channels
            .get(uuid)
            .is_some_and(|c| c.answered_us != 0 && c.hangup_cause.is_none());
        if !ok {
            return false;
        }
        for d in digits.chars() {
            if !matches!(d, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d') {
                continue;
            }
            let d = d.to_ascii_uppercase();
            self.with_chan(uuid, |c| c.digits.push(d));
            self.chan_event(
                uuid,
                "DTMF",
                &[],
                &[
                    ("DTMF-Digit", d.to_string()),
                    ("DTMF-Duration", DTMF_DURATION.to_string()),
                    ("DTMF-Source", "RTP".to_string()),
                ],
            );
            if self.channels.get(uuid).is_some_and(|c| c.pagd.is_some()) {
                self.pagd_digit(uuid, d);
            } else if self.terminates_recording(uuid, d) {
                self.with_chan(uuid, |c| {
                    c.set_var("playback_terminator_used", d.to_string())
                });
                if self.stop_recording(uuid, None) {
                    self.finish_app(uuid, None);
                }
            }
        }
        self.changed = true;
        true
    }

    fn with_pagd<R>(&mut self, uuid: &str, f: impl FnOnce(&mut Pagd) -> R) -> Option<R> {
        self.channels
            .get_mut(uuid)
            .and_then(|c| c.pagd.as_mut())
            .map(f)
    }

    /// One try: the prompt plays, then keys are awaited.
    fn pagd_prompt(&mut self, uuid: &str) {
        let Some(file) = self.with_pagd(uuid, |p| {
            p.collecting = false;
            p.invalid = false;
            p.digits.clear();
            p.args.file.clone()
        }) else {
            return;
        };
        if self.sounds.exists(&file) {
            self.start_playing(uuid, &file);
        } else {
            self.pagd_after_playback(uuid);
        }
    }

    fn pagd_after_playback(&mut self, uuid: &str) {
        let Some((invalid, tries_left)) = self.with_pagd(uuid, |p| (p.invalid, p.tries_left))
        else {
            return;
        };
        if invalid {
            if tries_left > 0 {
                self.pagd_prompt(uuid);
            } else {
                self.finish_app(uuid, None);
            }
            return;
        }
        self.with_pagd(uuid, |p| p.collecting = true);
        self.pagd_wait(uuid);
    }

    /// Arms the timeout for the next key: `timeout` for the first, `digit_timeout` after.
    pub(super) fn pagd_wait(&mut self, uuid: &str) {
        self.next_token += 1;
        let token = self.next_token;
        let Some(wait) = self.with_pagd(uuid, |p| {
            p.token = token;
            if p.digits.is_empty() {
                p.args.timeout
            } else {
                p.args.digit_timeout
            }
        }) else {
            return;
        };
        self.timer(
            wait.max(Duration::from_millis(1)),
            Timer::DigitTimeout {
                uuid: uuid.to_string(),
                token,
            },
        );
    }

    pub(super) fn digit_timeout(&mut self, uuid: &str, token: u64) {
        let due = self
            .with_pagd(uuid, |p| p.collecting && p.token == token)
            .unwrap_or(false);
        if due {
            self.pagd_finish(uuid, None);
        }
    }

    fn pagd_digit(&mut self, uuid: &str, d: char) {
        let Some((invalid, collecting)) = self.with_pagd(uuid, |p| (p.invalid, p.collecting))
        else {
            return;
        };
        if invalid {
            return;
        }
        if !collecting {
            // A key during the prompt stops it (dtmf-collect: PLAYBACK_STOP `break`).
            self.stop_playing(uuid, "break");
            self.with_pagd(uuid, |p| p.collecting = true);
        }
        let Some((terminator, full)) = self.with_pagd(uuid, |p| {
            if p.args.terminators.contains(d) {
                (true, false)
            } else {
                p.digits.push(d);
                (false, p.digits.chars().count() >= p.args.max)
            }
        }) else {
            return;
        };
        if terminator {
            self.pagd_finish(uuid, Some(d));
        } else if full {
            self.pagd_finish(uuid, None);
        } else {
            self.pagd_wait(uuid);
        }
    }

    /// The input is complete: valid input ends the application with the digits in its
    /// variable; anything else plays the invalid-input prompt and tries again, if allowed.
    fn pagd_finish(&mut self, uuid: &str, terminator: Option<char>) {
        let Some(p) = self.channels.get(uuid).and_then(|c| c.pagd.clone()) else {
            return;
        };
        if p.args.accepts(&p.digits) {
            self.with_chan(uuid, |c| {
                if let Some(t) = terminator {
                    c.set_var("read_terminator_used", t.to_string());
                }
                c.set_var("read_result", "success");
                if let Some(var) = &p.args.var {
                    c.set_var(var, p.digits.clone());
                }
            });
            self.finish_app(uuid, None);
            return;
        }
        let result = if p.digits.is_empty() {
            "timeout"
        } else {
            "failure"
        };
        self.with_chan(uuid, |c| c.set_var("read_result", result));
        self.with_pagd(uuid, |p| {
            p.tries_left = p.tries_left.saturating_sub(1);
            p.invalid = true;
            p.collecting = false;
            p.token = 0;
        });
        if self.sounds.exists(&p.args.invalid_file) {
            self.start_playing(uuid, &p.args.invalid_file);
        } else {
            self.pagd_after_playback(uuid);
        }
    }

    // ---- sound files ----------------------------------------------------------------

    pub(crate) fn set_sound_files(&mut self, files: SoundFiles) {
        self.sounds = files;
    }

    pub(crate) fn set_message_length(&mut self, length: Duration) {
        self.message_length = length;
    }

    pub(crate) fn install_sound_file(&mut self, path: &str) {
        self.sounds.install(path);
    }

    pub(crate) fn install_sound_file_lasting(&mut self, path: &str, length: Duration) {
        self.sounds.install(path);
        self.sound_lengths.insert(path.to_string(), length);
    }

    /// How long a playback of `path` lasts: an installed file's own length, else
    /// `media::duration`'s (`None` = until broken).
    pub(super) fn playback_length(&self, path: &str) -> Option<Duration> {
        let file = media::strip_var_block(path);
        match self.sound_lengths.get(file) {
            Some(length) => Some(*length),
            None => media::duration(path),
        }
    }

    // ---- uuid_transfer ----------------------------------------------------------------

    /// Sends `uuid` to `extension` in `context`: a bridged peer is hung up first, park or
    /// the running application ends, and the channel runs the extension.
    pub(super) fn transfer(&mut self, uuid: &str, extension: &str, dialplan: &str, context: &str) {
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        if ch.hangup_cause.is_some() {
            return;
        }
        let peer = ch.bridged_to.clone();
        let is_a = ch.bridge_a;
        self.changed = true;
        self.counters.transfers.fetch_add(1, Ordering::Relaxed);
        if peer.is_none() {
            self.abort_app(uuid, "PLAYBACK ERROR");
        }
        self.new_transfer_profile(uuid, extension, dialplan, context);
        match peer {
            Some(peer) => {
                self.p_hangup(&peer, "NORMAL_CLEARING", Initiator::Local, None);
                self.p_state_hangup(&peer);
                if is_a {
                    self.unbridge(uuid, &peer);
                } else {
                    self.unbridge(&peer, uuid);
                }
                self.route(uuid);
                self.p_complete(&peer);
                self.run_extension(uuid);
                self.p_destroy(&peer);
            }
            None => {
                self.unpark(uuid);
                self.route(uuid);
                self.run_extension(uuid);
            }
        }
    }

    /// The new caller profile a transfer creates (`Caller-Profile-Index` + 1, new
    /// destination and context, no other leg) and the `transfer_*` variables.
    pub(super) fn new_transfer_profile(
        &mut self,
        uuid: &str,
        extension: &str,
        dialplan: &str,
        context: &str,
    ) {
        let epoch = self.now_us() / 1_000_000;
        let source = format!(
            "{epoch}:{}:bl_xfer:{extension}/{context}/{dialplan}",
            new_uuid()
        );
        self.with_chan(uuid, |c| {
            c.profile.index += 1;
            c.profile.destination = extension.to_string();
            c.profile.context = context.to_string();
            c.profile.transfer_source = Some(source.clone());
            c.other_leg = None;
            c.other_snap = None;
            c.bridged_us = 0;
            c.transferred_to = Some(extension.to_string());
            c.push_transfer(source);
        });
    }

    /// Back to CS_ROUTING for the new destination.
    pub(super) fn route(&mut self, uuid: &str) {
        if self
            .channels
            .get(uuid)
            .is_some_and(|c| c.call_state != "RINGING")
        {
            self.set_callstate(uuid, "RINGING");
        }
        self.set_state(uuid, "CS_ROUTING", 2);
        self.with_chan(uuid, |c| c.state_num = 4);
        let answered = self.channels.get(uuid).is_some_and(|c| c.answered_us != 0);
        self.presence(
            uuid,
            "CS_ROUTING",
            if answered { "active" } else { "alerting" },
        );
    }

    /// The dialplan of the new destination (after the stock extensions of its context, see
    /// `dialplan`): an entry point parks again with its variables; anything else answers and
    /// plays silence until the caller hangs up.
    fn run_extension(&mut self, uuid: &str) {
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        let answered = ch.answered_us != 0;
        if answered && ch.call_state != "ACTIVE" {
            self.set_callstate(uuid, "ACTIVE");
        }
        self.set_state(uuid, "CS_EXECUTE", 4);
        if self.enter_dialplan(uuid) {
            self.park(uuid);
        } else if !self.bridge_to_phone(uuid) {
            self.start_app(uuid, "answer", "", new_uuid(), false);
            self.answer_inbound(uuid);
            self.finish_app(uuid, None);
            let silence = "silence_stream://-1";
            self.start_app(uuid, "playback", silence, new_uuid(), false);
            self.start_playing(uuid, silence);
        }
        // A caller who never talked to anyone talks to the extension for its talk time.
        let talk = self.channels.get(uuid).and_then(|c| {
            if c.talk_timer_set {
                None
            } else {
                c.call.as_ref().and_then(|s| s.talk_time)
            }
        });
        if let Some(t) = talk {
            self.with_chan(uuid, |c| c.talk_timer_set = true);
            self.timer(t, Timer::RemoteHangup(uuid.to_string()));
        }
    }
}
