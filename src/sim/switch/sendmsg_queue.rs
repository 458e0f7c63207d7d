//! `sendmsg` executes on a channel that already runs an application, as the
//! `sendmsg-event-lock` and `switchboard-feature-codes` captures show them.
//!
//! The real switch never interrupts a running application for a new message. The running
//! application reads the channel's message queue while it plays; a message it finds starts
//! at once, nested inside it (the outer one is suspended and resumes when the nested one
//! completes), unless the running application was sent with `event-lock: true`: then the
//! message waits in the queue until that application completes. A message that arrives
//! while only `park` runs starts at once. `loops: N` runs an application N times, stopping
//! early once the channel is gone or a run lasted under half a second
//! (`switch_ivr_parse_event`); a nested `hangup` ends every application at once, each
//! completing as it would on a hangup.
//!
//! A `uuid_break` is noticed by the running application at its next frame, one 20 ms tick
//! later (`switchboard-ivr`: FILE PLAYED 20 ms after the break); a `uuid_bridge` sent right
//! after it wins, and the playback ends as the bridge ends it (PLAYBACK ERROR, the
//! `bridge-before-and-after-job` parts).
//!
//! What no capture shows, and the simulator decides:
//! - `uuid_break <uuid> all` drops the messages waiting in the queue at once, before the
//!   break is noticed (mod_commands' `break_function` flushes the session's private events
//!   for `all`); the break ends only the innermost application, and an outer one it had
//!   suspended resumes;
//! - a message that arrives while a break is still to be noticed starts after the break
//!   (the application checks for a break before it reads messages);
//! - a `uuid_break` while only `park` runs does nothing;
//! - a broken application is not looped again;
//! - a hangup, bridge or transfer drops the messages still waiting;
//! - a suspended `record` keeps its file open and resumes with what is left of its limit.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{apps, Core, Playing, Timer};
use crate::sim::wire::Command;

/// A `sendmsg` with `call-command: execute`.
#[derive(Clone, Debug)]
pub(crate) struct Msg {
    pub app: String,
    pub arg: String,
    pub app_uuid: String,
    /// `event-lock: true`: later messages wait until this one completes.
    pub lock: bool,
    /// Runs left, this one included.
    pub loops: u32,
}

impl Msg {
    /// The execute message `cmd` carries (header names in any case).
    pub(crate) fn parse(cmd: &Command, app_uuid: String) -> Msg {
        let lock = cmd.header("event-lock").is_some_and(super::is_true);
        let loops = cmd
            .header("loops")
            .and_then(|l| l.trim().parse::<u32>().ok())
            .filter(|l| *l > 0)
            .unwrap_or(1);
        Msg {
            app: cmd.header("execute-app-name").unwrap_or("").to_string(),
            arg: cmd.header("execute-app-arg").unwrap_or("").to_string(),
            app_uuid,
            lock,
            loops,
        }
    }
}

/// What the application on top of the channel was started by.
#[derive(Clone, Debug)]
pub(crate) struct AppMeta {
    /// The message, if a `sendmsg` started it (not the dialplan).
    msg: Option<Msg>,
    started: Instant,
    /// `uuid_break` ended it: it is not looped again.
    broken: bool,
}

impl Default for AppMeta {
    fn default() -> Self {
        AppMeta {
            msg: None,
            started: Instant::now(),
            broken: false,
        }
    }
}

/// An application suspended by one nested inside it.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    app: super::App,
    meta: AppMeta,
    playing: Option<Playing>,
    /// How long its file had played when it was suspended.
    played: Duration,
    pagd: Option<apps::Pagd>,
    recording: Option<apps::Recording>,
}

/// The channel's applications as `sendmsg` sees them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Exec {
    /// How the application on top (`Channel::app`) was started.
    pub(super) meta: AppMeta,
    /// Handed to the next application started on top.
    pub(super) next: Option<AppMeta>,
    /// Outer applications, innermost last.
    pub(super) suspended: Vec<Frame>,
    /// Messages waiting for an `event-lock` application to complete.
    pub(super) queue: VecDeque<Msg>,
    /// A `uuid_break` the running application has not noticed yet.
    break_due: bool,
}

/// A run shorter than this ends a loop (`switch_ivr_parse_event`).
const SHORTEST_LOOP: Duration = Duration::from_millis(500);
/// A running application looks for a break once per frame of the 20 ms core timer.
const BREAK_TICK: Duration = Duration::from_millis(20);

impl Core {
    /// A `sendmsg` execute reaches the channel: it starts now (nested if an application
    /// runs) or waits behind an application that holds the event lock.
    pub(super) fn deliver(&mut self, uuid: &str, msg: Msg) {
        if self.channels.get(uuid).is_some_and(|c| c.exec.break_due) {
            // The application sees the break before it reads the message.
            self.break_noticed(uuid);
        }
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        if c.app.is_some() && c.exec.meta.msg.as_ref().is_some_and(|m| m.lock) {
            c.exec.queue.push_back(msg);
            return;
        }
        self.suspend(uuid);
        self.run(uuid, msg);
    }

    fn run(&mut self, uuid: &str, msg: Msg) {
        let (app, arg, app_uuid) = (msg.app.clone(), msg.arg.clone(), msg.app_uuid.clone());
        self.with_chan(uuid, |c| {
            c.exec.next = Some(AppMeta {
                msg: Some(msg),
                started: Instant::now(),
                broken: false,
            })
        });
        self.execute(uuid, &app, &arg, app_uuid);
    }

    /// The application on top (if any) is suspended: its file stops advancing.
    fn suspend(&mut self, uuid: &str) {
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        let Some(app) = c.app.take() else {
            return;
        };
        let playing = c.playing.take();
        let played = playing
            .as_ref()
            .map(|p| p.started.elapsed())
            .unwrap_or_default();
        let frame = Frame {
            app,
            meta: std::mem::take(&mut c.exec.meta),
            playing,
            played,
            pagd: c.pagd.take(),
            recording: c.recording.take(),
        };
        c.exec.suspended.push(frame);
    }

    /// The outer application the last one was nested in (if any) goes on where it was.
    fn resume(&mut self, uuid: &str) {
        let Some(f) = self
            .channels
            .get_mut(uuid)
            .and_then(|c| c.exec.suspended.pop())
        else {
            return;
        };
        self.next_token += 1;
        let token = self.next_token;
        let remaining = f
            .playing
            .as_ref()
            .and_then(|p| self.playback_length(&p.path))
            .map(|d| d.saturating_sub(f.played));
        let collecting = f.pagd.as_ref().is_some_and(|p| p.collecting());
        let record_left = f.recording.as_ref().and_then(apps::Recording::left);
        let record_token = f.recording.as_ref().map(apps::Recording::token);
        let now = Instant::now();
        self.with_chan(uuid, |c| {
            c.app = Some(f.app);
            c.exec.meta = f.meta;
            c.playing = f.playing.map(|mut p| {
                p.started = now.checked_sub(f.played).unwrap_or(now);
                p.token = token;
                p
            });
            c.pagd = f.pagd;
            c.recording = f.recording;
        });
        if let (Some(left), true) = (remaining, self.has_playing(uuid)) {
            self.timer(
                left,
                Timer::PlaybackDone {
                    uuid: uuid.to_string(),
                    token,
                },
            );
        }
        if collecting {
            self.pagd_wait(uuid);
        }
        if let (Some((left, cause)), Some(token)) = (record_left, record_token) {
            self.timer(
                left,
                Timer::RecordDone {
                    uuid: uuid.to_string(),
                    token,
                    cause,
                },
            );
        }
    }

    fn has_playing(&self, uuid: &str) -> bool {
        self.channels.get(uuid).is_some_and(|c| c.playing.is_some())
    }

    /// The application on top completed by itself (or by `uuid_break`): it runs again if
    /// looped, else the one it was nested in resumes and waiting messages start.
    pub(super) fn after_app(&mut self, uuid: &str) {
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        if c.hangup_cause.is_some() {
            return;
        }
        c.exec.break_due = false;
        let meta = std::mem::take(&mut c.exec.meta);
        if let Some(mut msg) = meta.msg {
            if msg.loops > 1 && !meta.broken && meta.started.elapsed() >= SHORTEST_LOOP {
                msg.loops -= 1;
                self.run(uuid, msg);
                return;
            }
        }
        self.resume(uuid);
        self.drain(uuid);
    }

    /// Waiting messages start while nothing holds the event lock.
    fn drain(&mut self, uuid: &str) {
        loop {
            let Some(c) = self.channels.get_mut(uuid) else {
                return;
            };
            if c.hangup_cause.is_some()
                || (c.app.is_some() && c.exec.meta.msg.as_ref().is_some_and(|m| m.lock))
            {
                return;
            }
            let Some(msg) = c.exec.queue.pop_front() else {
                return;
            };
            self.suspend(uuid);
            self.run(uuid, msg);
        }
    }

    /// Every application on the channel ends at once (hangup, bridge, transfer), innermost
    /// first, each reporting what it would; waiting messages are dropped.
    pub(super) fn unwind_apps(&mut self, uuid: &str, playback_response: &str) {
        self.with_chan(uuid, |c| c.exec.break_due = false);
        loop {
            self.stop_playing(uuid, "done");
            self.stop_recording(uuid, None);
            let Some(c) = self.channels.get_mut(uuid) else {
                return;
            };
            c.pagd = None;
            c.exec.meta = AppMeta::default();
            if let Some(app) = c.app.take() {
                let response = (app.name == "playback").then_some(playback_response);
                self.complete_app(uuid, &app, response);
            }
            let Some(c) = self.channels.get_mut(uuid) else {
                return;
            };
            let Some(f) = c.exec.suspended.pop() else {
                c.exec.queue.clear();
                return;
            };
            c.app = Some(f.app);
            c.playing = f.playing;
            c.pagd = f.pagd;
            c.recording = f.recording;
        }
    }

    /// `uuid_break`: with `all` the waiting messages are dropped at once; the innermost
    /// application notices the break at its next frame (a bridge or hangup sooner wins).
    pub(super) fn break_media(&mut self, uuid: &str, all: bool) {
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        if all {
            c.exec.queue.clear();
        }
        if c.app.is_none() || c.exec.break_due {
            return;
        }
        c.exec.break_due = true;
        self.timer(BREAK_TICK, Timer::Break(uuid.to_string()));
    }

    /// A `uuid_bridge` arrived before the break was noticed: the bridge ends the application
    /// instead.
    pub(super) fn forget_break(&mut self, uuid: &str) {
        self.with_chan(uuid, |c| c.exec.break_due = false);
    }

    /// The innermost application stops what it plays or records (PLAYBACK_STOP `break`)
    /// and completes.
    pub(super) fn break_noticed(&mut self, uuid: &str) {
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        if !c.exec.break_due {
            return;
        }
        c.exec.break_due = false;
        c.exec.meta.broken = true;
        if self.stop_playing(uuid, "break") {
            self.after_playback(uuid);
        } else if self.stop_recording(uuid, None) {
            self.finish_app(uuid, None);
        } else {
            self.with_chan(uuid, |c| c.exec.meta.broken = false);
        }
    }
}
