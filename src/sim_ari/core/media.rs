//! Media on channels and bridges: playbacks (lists, missing files, tones, pause), recordings
//! (live and stored, pause and mute without events, limits, files on disk) and snoop
//! channels (spy/whisper).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{ChanState, Core, Event, Layout, Origin, Timer};
use crate::sim_ari::wire::{ari_timestamp, quote, Obj};
use crate::sim_ari::{AriRecordingView, AriSnoopView};

#[derive(Clone, Debug)]
pub(crate) struct Playback {
    pub id: String,
    pub media: Vec<String>,
    pub index: usize,
    pub target: String,
    pub state: &'static str,
    pub step: u64,
    /// Order of arrival: a channel's queued playbacks start in this order.
    pub arrival: u64,
}

#[derive(Default)]
pub(crate) struct Playbacks {
    pub live: BTreeMap<String, Playback>,
    arrivals: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct LiveRecording {
    pub name: String,
    pub format: String,
    pub target: String,
    pub state: &'static str,
    pub started: Option<Instant>,
    pub paused_since: Option<Instant>,
    pub paused: Duration,
    pub muted_since: Option<Instant>,
    pub paused_intervals: Vec<(Duration, Duration)>,
    pub muted_intervals: Vec<(Duration, Duration)>,
    pub max: Option<Duration>,
    pub beep: bool,
    pub serial: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct StoredRecording {
    pub name: String,
    pub format: String,
    pub length: Duration,
}

#[derive(Default)]
pub(crate) struct Recordings {
    pub live: Vec<LiveRecording>,
    pub stored: Vec<StoredRecording>,
    pub finished: Vec<AriRecordingView>,
    pub serial: u64,
}

/// Why a recording could not start (the HTTP answer).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RecordError {
    UnknownFormat,
    BadIfExists,
    Exists(String),
}

/// Why a snoop could not start.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SnoopError {
    NoDirection,
    BadSpy,
    BadWhisper,
    NoApp,
}

/// A record request, validated by the caller except for what needs the core.
pub(crate) struct RecordRequest {
    pub name: String,
    pub format: Option<String>,
    pub max_seconds: u64,
    pub if_exists: Option<String>,
    pub beep: bool,
}

impl Playback {
    pub fn json(&self, state: &str) -> String {
        let mut o = Obj::new().str("id", &self.id).str(
            "media_uri",
            self.media.get(self.index).map(String::as_str).unwrap_or(""),
        );
        if let Some(next) = self.media.get(self.index + 1) {
            o = o.str("next_media_uri", next);
        }
        o.str("target_uri", &self.target)
            .str("language", "en")
            .str("state", state)
            .done()
    }
}

impl LiveRecording {
    pub fn json(&self, state: &str, extra: &str) -> String {
        let o = Obj::new()
            .str("name", &self.name)
            .str("format", &self.format)
            .str("state", state)
            .str("target_uri", &self.target);
        let mut s = o.done();
        if !extra.is_empty() {
            s.pop();
            s.push(',');
            s.push_str(extra);
            s.push('}');
        }
        s
    }

    fn elapsed(&self) -> Duration {
        let Some(start) = self.started else {
            return Duration::ZERO;
        };
        let mut paused = self.paused;
        if let Some(p) = self.paused_since {
            paused += p.elapsed();
        }
        start.elapsed().saturating_sub(paused)
    }

    fn offset(&self) -> Duration {
        self.started.map(|s| s.elapsed()).unwrap_or_default()
    }
}

impl Core {
    /// How long a media URI plays; None: it never ends by itself; Err: nothing to play.
    fn media_length(&self, uri: &str) -> Result<Option<Duration>, ()> {
        if let Some(sound) = uri.strip_prefix("sound:") {
            let known =
                self.config.sound_files.iter().any(|f| {
                    f == sound || f.strip_suffix('*').is_some_and(|p| sound.starts_with(p))
                });
            if !known {
                return Err(());
            }
            let ms = match sound {
                "hello-world" => 1500,
                "beep" => 250,
                s if s.starts_with("queue-") => 500,
                _ => 1000,
            };
            return Ok(Some(Duration::from_millis(ms)));
        }
        if let Some(tone) = uri.strip_prefix("tone:") {
            return Ok(once_only_tone_length(tone));
        }
        if let Some(name) = uri.strip_prefix("recording:") {
            return match self.recordings.stored.iter().find(|r| r.name == name) {
                Some(r) => Ok(Some(r.length)),
                None => Ok(None),
            };
        }
        if uri.starts_with("digits:")
            || uri.starts_with("number:")
            || uri.starts_with("characters:")
        {
            return Ok(Some(Duration::from_millis(500)));
        }
        Err(())
    }

    fn playback_event(&mut self, kind: &'static str, pb: &Playback, state: &str) {
        let (channels, bridges, doubled) = match pb.target.split_once(':') {
            Some(("channel", id)) => (vec![id.to_string()], Vec::new(), false),
            Some(("bridge", id)) => (Vec::new(), vec![id.to_string()], true),
            _ => (Vec::new(), Vec::new(), false),
        };
        self.emit(Event {
            prefix: String::new(),
            kind,
            body: format!("\"playback\":{}", pb.json(state)),
            layout: Layout::Normal,
            channels,
            bridges,
            doubled,
        });
    }

    /// Starts a playback; returns its JSON in state `queued` for the 201.
    pub fn play(&mut self, target: &str, media: Vec<String>, id: Option<String>) -> String {
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.playbacks.arrivals += 1;
        // assumed: a channel plays one playback at a time, the next staying `queued` until
        // the one before it finishes (the 201 always says `queued`; no capture has two).
        let busy = target.starts_with("channel:")
            && self
                .playbacks
                .live
                .values()
                .any(|p| p.target == target && p.state != "queued");
        let pb = Playback {
            id: id.clone(),
            media,
            index: 0,
            target: target.to_string(),
            state: if busy { "queued" } else { "playing" },
            step: 0,
            arrival: self.playbacks.arrivals,
        };
        let queued = pb.json("queued");
        self.playbacks.live.insert(id.clone(), pb);
        if !busy {
            self.start_current(&id);
        }
        queued
    }

    fn start_current(&mut self, id: &str) {
        let Some(pb) = self.playbacks.live.get(id).cloned() else {
            return;
        };
        let uri = pb.media.get(pb.index).cloned().unwrap_or_default();
        self.played.push((pb.target.clone(), uri.clone()));
        if let Some(ch) = pb.target.strip_prefix("channel:") {
            if let Some(c) = self.channels.get_mut(ch) {
                c.playing = Some(uri.clone());
            }
        }
        self.playback_event("PlaybackStarted", &pb, "playing");
        match self.media_length(&uri) {
            Ok(Some(len)) => self.schedule(
                len,
                Timer::PlaybackStep {
                    playback: id.to_string(),
                    step: pb.step,
                },
            ),
            Ok(None) => {}
            Err(()) => self.playback_step(id, pb.step),
        }
    }

    /// The current media ended (or failed): the next one, or the end.
    pub fn playback_step(&mut self, id: &str, step: u64) {
        let Some(pb) = self.playbacks.live.get(id).cloned() else {
            return;
        };
        if pb.step != step || pb.state == "paused" {
            return;
        }
        let uri = pb.media.get(pb.index).cloned().unwrap_or_default();
        let failed = self.media_length(&uri).is_err();
        if pb.index + 1 < pb.media.len() {
            self.playback_event("PlaybackContinuing", &pb, "continuing");
            if let Some(p) = self.playbacks.live.get_mut(id) {
                p.index += 1;
                p.step += 1;
            }
            self.start_current(id);
            return;
        }
        let state = if failed && pb.media.len() == 1 {
            "failed"
        } else {
            "done"
        };
        self.finish_playback(id, state);
    }

    fn finish_playback(&mut self, id: &str, state: &str) {
        let Some(pb) = self.playbacks.live.remove(id) else {
            return;
        };
        if let Some(ch) = pb.target.strip_prefix("channel:") {
            if let Some(c) = self.channels.get_mut(ch) {
                c.playing = None;
            }
        }
        self.playback_event("PlaybackFinished", &pb, state);
        let next = self
            .playbacks
            .live
            .values()
            .filter(|p| p.target == pb.target && p.state == "queued")
            .min_by_key(|p| p.arrival)
            .map(|p| p.id.clone());
        if let Some(next) = next {
            if let Some(p) = self.playbacks.live.get_mut(&next) {
                p.state = "playing";
            }
            self.start_current(&next);
        }
    }

    pub fn playback_json(&self, id: &str) -> Option<String> {
        let pb = self.playbacks.live.get(id)?;
        let uri = pb.media.get(pb.index)?;
        if uri.starts_with("recording:") && self.media_length(uri).ok().flatten().is_none() {
            return None;
        }
        Some(pb.json(pb.state))
    }

    /// `DELETE /playbacks/<id>`; false: not found.
    pub fn stop_playback(&mut self, id: &str) -> bool {
        let Some(pb) = self.playbacks.live.get(id) else {
            return false;
        };
        let uri = pb.media.get(pb.index).cloned().unwrap_or_default();
        if uri.starts_with("recording:") && self.media_length(&uri).ok().flatten().is_none() {
            return false;
        }
        self.finish_playback(id, "done");
        true
    }

    /// `control?operation=`: Some(ok) when the playback exists.
    pub fn control_playback(&mut self, id: &str, op: &str) -> Option<Result<(), ()>> {
        let pb = self.playbacks.live.get(id)?.clone();
        match op {
            "pause" => {
                if let Some(p) = self.playbacks.live.get_mut(id) {
                    p.state = "paused";
                    p.step += 1;
                }
                Some(Ok(()))
            }
            "unpause" => {
                if let Some(p) = self.playbacks.live.get_mut(id) {
                    p.state = "playing";
                    p.step += 1;
                }
                self.start_current(id);
                Some(Ok(()))
            }
            "restart" | "reverse" | "forward" => Some(Ok(())),
            _ => {
                let _ = pb;
                Some(Err(()))
            }
        }
    }

    pub fn playbacks_on_channel_gone(&mut self, channel: &str) {
        let target = format!("channel:{channel}");
        self.playbacks.live.retain(|_, p| p.target != target);
    }

    // ---- recordings --------------------------------------------------------------------------

    fn recording_event(
        &mut self,
        kind: &'static str,
        rec: &LiveRecording,
        state: &str,
        extra: &str,
    ) {
        let (channels, bridges, doubled) = match rec.target.split_once(':') {
            Some(("channel", id)) => (vec![id.to_string()], Vec::new(), false),
            Some(("bridge", id)) => (Vec::new(), vec![id.to_string()], true),
            _ => (Vec::new(), Vec::new(), false),
        };
        self.emit(Event {
            prefix: String::new(),
            kind,
            body: format!("\"recording\":{}", rec.json(state, extra)),
            layout: Layout::Normal,
            channels,
            bridges,
            doubled,
        });
    }

    /// Starts a recording on `target`; the JSON for the 201.
    pub fn record(&mut self, target: &str, req: RecordRequest) -> Result<String, RecordError> {
        if req.format.as_deref() != Some("wav") {
            return Err(RecordError::UnknownFormat);
        }
        let if_exists = req.if_exists.as_deref().unwrap_or("fail");
        if !["fail", "overwrite", "append"].contains(&if_exists) {
            return Err(RecordError::BadIfExists);
        }
        let exists = self.recordings.stored.iter().any(|r| r.name == req.name)
            || self.recordings.live.iter().any(|r| r.name == req.name);
        if exists && if_exists == "fail" {
            return Err(RecordError::Exists(req.name));
        }
        self.recordings.serial += 1;
        let busy = self
            .recordings
            .live
            .iter()
            .any(|r| r.target == target && r.state != "queued");
        let rec = LiveRecording {
            name: req.name.clone(),
            format: "wav".into(),
            target: target.to_string(),
            state: "queued",
            started: None,
            paused_since: None,
            paused: Duration::ZERO,
            muted_since: None,
            paused_intervals: Vec::new(),
            muted_intervals: Vec::new(),
            max: (req.max_seconds > 0).then(|| Duration::from_secs(req.max_seconds)),
            beep: req.beep,
            serial: self.recordings.serial,
        };
        let json = rec.json("queued", "");
        self.recordings.live.retain(|r| r.name != req.name);
        self.recordings.live.push(rec);
        let in_bridge = target
            .strip_prefix("channel:")
            .and_then(|c| self.channels.get(c))
            .is_some_and(|c| c.bridge.is_some());
        if in_bridge {
            let rec = self.take_live(&req.name);
            if let Some(rec) = rec {
                self.recording_event(
                    "RecordingFailed",
                    &rec,
                    "failed",
                    "\"cause\":\"Cannot record channel while in bridge\"",
                );
            }
        } else if !busy {
            self.begin_recording(&req.name);
        }
        Ok(json)
    }

    fn take_live(&mut self, name: &str) -> Option<LiveRecording> {
        let pos = self.recordings.live.iter().position(|r| r.name == name)?;
        Some(self.recordings.live.remove(pos))
    }

    fn begin_recording(&mut self, name: &str) {
        let Some(rec) = self.recordings.live.iter_mut().find(|r| r.name == name) else {
            return;
        };
        rec.state = "recording";
        rec.started = Some(Instant::now());
        let rec = rec.clone();
        if let Some(max) = rec.max {
            let extra = if rec.beep {
                Duration::from_millis(250)
            } else {
                Duration::ZERO
            };
            self.schedule(
                max + extra,
                Timer::RecordingLimit {
                    name: rec.name.clone(),
                    serial: rec.serial,
                },
            );
        }
        self.recording_event("RecordingStarted", &rec, "recording", "");
    }

    pub fn recording_limit(&mut self, name: &str, serial: u64) {
        let current = self
            .recordings
            .live
            .iter()
            .any(|r| r.name == name && r.serial == serial && r.state != "queued");
        if current {
            self.finish_recording(name, true);
        }
    }

    /// Stops a live recording: RecordingFinished `done`; `keep`: stored (else discarded).
    pub fn finish_recording(&mut self, name: &str, keep: bool) -> bool {
        let Some(mut rec) = self.take_live(name) else {
            return false;
        };
        if let Some(p) = rec.paused_since.take() {
            let from = p.duration_since(rec.started.unwrap_or(p));
            rec.paused += p.elapsed();
            rec.paused_intervals.push((from, rec.offset()));
        }
        if let Some(m) = rec.muted_since.take() {
            let from = m.duration_since(rec.started.unwrap_or(m));
            rec.muted_intervals.push((from, rec.offset()));
        }
        let mut length = rec.elapsed();
        if let Some(max) = rec.max {
            length = length.min(max);
        }
        let seconds = length.as_secs();
        let extra = format!("\"duration\":{seconds}");
        self.recording_event("RecordingFinished", &rec, "done", &extra);
        let file_length = length
            + if rec.beep {
                Duration::from_millis(250)
            } else {
                Duration::ZERO
            };
        if keep {
            self.recordings.stored.retain(|r| r.name != rec.name);
            self.recordings.stored.push(StoredRecording {
                name: rec.name.clone(),
                format: rec.format.clone(),
                length: file_length,
            });
            if let Some(path) = self.recording_path(&rec.name) {
                write_wav(&path, file_length);
            }
        }
        self.recordings.finished.push(AriRecordingView {
            name: rec.name.clone(),
            target: rec.target.clone(),
            format: rec.format.clone(),
            state: if keep {
                "done".into()
            } else {
                "canceled".into()
            },
            duration: length,
            paused_intervals: rec.paused_intervals.clone(),
            muted_intervals: rec.muted_intervals.clone(),
        });
        let next = self
            .recordings
            .live
            .iter()
            .find(|r| r.target == rec.target && r.state == "queued")
            .map(|r| r.name.clone());
        if let Some(next) = next {
            self.begin_recording(&next);
        }
        true
    }

    pub fn recordings_on_target_gone(&mut self, target: &str) {
        let names: Vec<String> = self
            .recordings
            .live
            .iter()
            .filter(|r| r.target == target)
            .map(|r| r.name.clone())
            .collect();
        for n in names {
            self.finish_recording(&n, true);
        }
    }

    /// Pause/unpause/mute/unmute; false: no such live recording.
    pub fn recording_control(&mut self, name: &str, op: &str, on: bool) -> bool {
        let Some(rec) = self.recordings.live.iter_mut().find(|r| r.name == name) else {
            return false;
        };
        let now = Instant::now();
        let start = rec.started.unwrap_or(now);
        match (op, on) {
            ("pause", true) if rec.paused_since.is_none() => {
                rec.paused_since = Some(now);
                rec.state = "paused";
            }
            ("pause", false) => {
                if let Some(p) = rec.paused_since.take() {
                    rec.paused += p.elapsed();
                    rec.paused_intervals
                        .push((p.duration_since(start), now.duration_since(start)));
                }
                rec.state = "recording";
            }
            ("mute", true) if rec.muted_since.is_none() => rec.muted_since = Some(now),
            ("mute", false) => {
                if let Some(m) = rec.muted_since.take() {
                    rec.muted_intervals
                        .push((m.duration_since(start), now.duration_since(start)));
                }
            }
            _ => {}
        }
        true
    }

    pub fn store_recording(&mut self, name: &str, length: Duration) {
        self.recordings.stored.retain(|r| r.name != name);
        self.recordings.stored.push(StoredRecording {
            name: name.to_string(),
            format: "wav".into(),
            length,
        });
        if let Some(path) = self.recording_path(name) {
            write_wav(&path, length);
        }
    }

    pub fn live_recording_json(&self, name: &str) -> Option<String> {
        let rec = self.recordings.live.iter().find(|r| r.name == name)?;
        Some(rec.json(rec.state, ""))
    }

    pub fn recording_path(&self, name: &str) -> Option<PathBuf> {
        let root = self.config.disk_root.as_ref()?;
        Some(
            root.join("var/spool/asterisk/recording")
                .join(format!("{name}.wav")),
        )
    }

    /// A WAV file someone else put in the recording folder (`<disk_root>`), listed as
    /// Asterisk lists what it finds there.
    pub(crate) fn recording_on_disk(&self, name: &str) -> Option<StoredRecording> {
        let path = self.recording_path(name)?;
        path.is_file().then(|| StoredRecording {
            name: name.to_owned(),
            format: "wav".into(),
            length: Duration::ZERO,
        })
    }

    /// The stored recording's WAV bytes (from disk when written there).
    pub fn stored_file(&self, name: &str) -> Option<Vec<u8>> {
        let rec = self.recordings.stored.iter().find(|r| r.name == name)?;
        if let Some(path) = self.recording_path(name) {
            if let Ok(bytes) = std::fs::read(path) {
                return Some(bytes);
            }
        }
        Some(wav_bytes(rec.length))
    }

    pub fn recording_views(&self) -> Vec<AriRecordingView> {
        let mut out = self.recordings.finished.clone();
        for r in &self.recordings.live {
            out.push(AriRecordingView {
                name: r.name.clone(),
                target: r.target.clone(),
                format: r.format.clone(),
                state: r.state.to_string(),
                duration: r.elapsed(),
                paused_intervals: r.paused_intervals.clone(),
                muted_intervals: r.muted_intervals.clone(),
            });
        }
        out
    }

    // ---- snoop -------------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub fn snoop(
        &mut self,
        spied: &str,
        spy: Option<&str>,
        whisper: Option<&str>,
        app: Option<&str>,
        args: Vec<String>,
        snoop_id: Option<&str>,
    ) -> Result<String, SnoopError> {
        let spy = spy.unwrap_or("none");
        let whisper = whisper.unwrap_or("none");
        let valid = |d: &str| ["none", "both", "in", "out"].contains(&d);
        if !valid(spy) {
            return Err(SnoopError::BadSpy);
        }
        if !valid(whisper) {
            return Err(SnoopError::BadWhisper);
        }
        if spy == "none" && whisper == "none" {
            return Err(SnoopError::NoDirection);
        }
        let Some(app) = app.filter(|a| !a.is_empty()) else {
            return Err(SnoopError::NoApp);
        };
        let id = self.next_channel_id(snoop_id);
        let n = self.snoops.len();
        let name = format!("Snoop/{spied}-{n:08x}");
        let mut ch = self.new_snoop(id.clone(), name, spied);
        ch.state = ChanState::Up;
        self.channel_order.push(id.clone());
        self.channels.insert(id.clone(), ch);
        self.snoops.push(AriSnoopView {
            id: id.clone(),
            spied: spied.to_string(),
            spy: spy.to_string(),
            whisper: whisper.to_string(),
        });
        let json = self
            .channels
            .get(&id)
            .map(|c| self.channel_json(c))
            .unwrap_or_default();
        // The capture's ChannelCreated, ChannelDialplan and StasisStart all come after the
        // 200 (`snoop`: 0 of 3 before, 0.2-0.6 ms after): until then the snoop is in no
        // Stasis app, and `addChannel` of it is a 422.
        self.schedule(
            SNOOP_ENTERS_STASIS,
            Timer::SnoopEntersStasis {
                channel: id,
                app: app.to_owned(),
                args,
            },
        );
        Ok(json)
    }

    /// A snoop's events after its 200: created, `Stasis()` in its dialplan, StasisStart.
    pub(crate) fn snoop_enters_stasis(&mut self, id: &str, app: &str, args: Vec<String>) {
        if !self.channels.contains_key(id) {
            return;
        }
        self.created_event(id);
        let mut data = vec![app.to_string()];
        data.extend(args.iter().cloned());
        let fields = format!(
            "\"dialplan_app\":\"Stasis\",\"dialplan_app_data\":{},",
            quote(&data.join(","))
        );
        if let Some(c) = self.channels.get_mut(id) {
            c.dialplan.3 = "Stasis".into();
            c.dialplan.4 = data.join(",");
        }
        self.channel_event("ChannelDialplan", id, &fields);
        self.start_stasis(id, app, args);
    }

    fn new_snoop(&self, id: String, name: String, spied: &str) -> super::Channel {
        super::Channel {
            id,
            name,
            state: ChanState::Up,
            protocol_id: String::new(),
            caller: (String::new(), String::new()),
            connected: (String::new(), String::new()),
            dialplan: (
                "default".into(),
                "s".into(),
                1,
                String::new(),
                String::new(),
            ),
            creationtime: ari_timestamp(),
            origin: Origin::Snoop {
                spied: spied.to_string(),
            },
            endpoint: String::new(),
            stasis: None,
            entry: None,
            bridge: None,
            moh: None,
            on_hold: false,
            variables: Vec::new(),
            subscribed: Default::default(),
            digits: String::new(),
            playing: None,
            dialing: false,
            destroyed: false,
            plan: None,
            stasis_pending: None,
        }
    }
}

/// How long after its 200 a snoop channel enters Stasis (the capture: 0.2-0.6 ms).
const SNOOP_ENTERS_STASIS: Duration = Duration::from_micros(400);

/// A WAV (8 kHz, mono, 16-bit) of silence this long, like the rig's recordings.
pub(crate) fn wav_bytes(length: Duration) -> Vec<u8> {
    let samples = (length.as_millis() as u64 * 8) as u32;
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.resize(44 + data_len as usize, 0);
    out
}

fn write_wav(path: &std::path::Path, length: Duration) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, wav_bytes(length));
}

/// How long a tone list plays when every part is marked `!` (play once), as the ARI adapter
/// sends prompts and silences: the sum of the parts' durations. A tone with any part not so
/// marked repeats until its playback is deleted (`dtmf-playback` capture: `tone:440/1000`),
/// and so has no end (`None`). assumed: a play-once tone's playback then finishes `done` by
/// itself; no capture shows one.
fn once_only_tone_length(tone: &str) -> Option<Duration> {
    let tone = tone.split(';').next().unwrap_or_default();
    let mut total = 0u64;
    for part in tone.split(',') {
        let once = part.strip_prefix('!')?;
        let ms = once.split_once('/')?.1.parse::<u64>().ok()?;
        total = total.saturating_add(ms);
    }
    Some(Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_play_once_tone_ends_after_its_parts_and_a_repeating_one_never() {
        assert_eq!(
            once_only_tone_length("!0/200"),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            once_only_tone_length("!440+480/2000,!0/4000"),
            Some(Duration::from_millis(6000))
        );
        assert_eq!(once_only_tone_length("440/1000"), None);
        assert_eq!(once_only_tone_length("!440/1000,0/500"), None);
    }
}
