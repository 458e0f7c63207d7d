//! What the simulator does beyond the captures (its handle: callers' timers, phones,
//! dropped sockets, restart, the event/response order), over real sockets.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::sim::{CallSpec, PhoneBehavior, PhoneSpec};

const AUTH: &str = "Authorization: Basic c3dpdGNoYm9hcmQ6Q2x1ZUNvbg==\r\n";

async fn sim() -> AriSimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = AriSimConfig {
        entry_points: vec![AriEntryPoint::stasis(
            "6000",
            "switchboard",
            &["queue", "support"],
        )],
        ..AriSimConfig::default()
    };
    let sim = AriSimulator::start(listener, config).await.expect("start");
    sim.add_phone(PhoneSpec::answering("agent1", Duration::from_millis(100)));
    sim
}

/// One request on a fresh connection: (status code, body).
async fn http(sim: &AriSimHandle, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(sim.http_addr()).await.expect("connect");
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len || n == 0 {
                let status = text[9..12].parse().expect("status");
                return (status, text[end + 4..].to_string());
            }
        }
        if n == 0 {
            panic!("connection closed: {text}");
        }
    }
}

struct Events {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Events {
    async fn connect(sim: &AriSimHandle) -> Events {
        let mut stream = TcpStream::connect(sim.http_addr()).await.expect("connect");
        let req = format!("GET /ari/events?app=switchboard&subscribeAll=false HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{AUTH}\r\n");
        stream.write_all(req.as_bytes()).await.expect("write");
        let mut events = Events {
            stream,
            buf: Vec::new(),
        };
        while !events.buf.windows(4).any(|w| w == b"\r\n\r\n") {
            events.fill().await;
        }
        let end = events
            .buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head")
            + 4;
        assert!(String::from_utf8_lossy(&events.buf[..end]).contains(" 101 "));
        events.buf.drain(..end);
        events
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(3), self.stream.read(&mut chunk))
            .await
            .expect("event in time")
            .expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// The next event of one of these types (others skipped).
    async fn next(&mut self, types: &[&str]) -> Value {
        loop {
            if self.buf.len() >= 2 {
                let mut len = (self.buf[1] & 0x7f) as usize;
                let mut at = 2;
                if len == 126 && self.buf.len() >= 4 {
                    len = u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize;
                    at = 4;
                }
                if self.buf.len() >= at + len && !(len == 126 && at == 2) {
                    let payload: Vec<u8> = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    let v: Value = serde_json::from_slice(&payload).expect("json event");
                    if types.contains(&v["type"].as_str().unwrap_or("")) {
                        return v;
                    }
                    continue;
                }
            }
            assert!(self.fill().await > 0, "socket closed");
        }
    }
}

#[tokio::test]
async fn inbound_channel_ids_are_unix_seconds_and_a_global_counter() {
    let sim = sim().await;
    let a = sim.place_call(CallSpec::new("1001", "6000"));
    let b = sim.place_call(CallSpec::new("1002", "6000"));
    assert!(a.ends_with(".0") && b.ends_with(".1"), "{a} {b}");
    let view = sim.channel(&a).expect("channel");
    assert_eq!(view.state, "Ring");
    assert!(view.in_stasis);
    assert_eq!(view.stasis_args, vec!["queue", "support"]);
    assert!(view.name.starts_with("PJSIP/callers-0000000"));
}

#[tokio::test]
async fn caller_talk_time_counts_from_the_first_bridge_then_bye_with_cause_16() {
    let sim = sim().await;
    let mut ev = Events::connect(&sim).await;
    let mut spec = CallSpec::new("1001", "6000");
    spec.talk_time = Some(Duration::from_millis(200));
    let caller = sim.place_call(spec);
    ev.next(&["StasisStart"]).await;
    assert_eq!(
        http(&sim, "POST", &format!("/ari/channels/{caller}/answer"))
            .await
            .0,
        204
    );
    let (status, _) = http(&sim, "POST", "/ari/bridges?bridgeId=b1&type=mixing").await;
    assert_eq!(status, 200);
    let (status, _) = http(
        &sim,
        "POST",
        &format!("/ari/bridges/b1/addChannel?channel={caller}"),
    )
    .await;
    assert_eq!(status, 204);
    let end = ev.next(&["StasisEnd"]).await;
    assert_eq!(end["channel"]["id"], caller.as_str());
    assert!(sim.channel(&caller).is_none());
    assert_eq!(sim.bridges()[0].channels, Vec::<String>::new());
}

#[tokio::test]
async fn caller_patience_cancels_an_unanswered_call_with_cause_127() {
    let sim = sim().await;
    let mut spec = CallSpec::new("1001", "6000");
    spec.patience = Some(Duration::from_millis(100));
    let caller = sim.place_call(spec);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sim.channel(&caller).is_none());
    assert_eq!(sim.stats().hung_up, 1);
}

#[tokio::test]
async fn phone_answers_after_its_delay_and_hangs_up_after_its_talk_time() {
    let sim = sim().await;
    sim.add_phone(PhoneSpec {
        user: "agent2".into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(50),
        },
        hangup_after_talk: Some(Duration::from_millis(150)),
    });
    let mut ev = Events::connect(&sim).await;
    let (status, body) = http(
        &sim,
        "POST",
        "/ari/channels?endpoint=PJSIP/agent2&app=switchboard&appArgs=agent,agent2&channelId=leg-1",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"state\":\"Down\""));
    let start = ev.next(&["StasisStart"]).await;
    assert_eq!(start["args"], serde_json::json!(["agent", "agent2"]));
    let destroyed = ev.next(&["ChannelDestroyed"]).await;
    assert_eq!(destroyed["cause"], 0);
}

#[tokio::test]
async fn unregistered_phone_refuses_originates_until_registered_again() {
    let sim = sim().await;
    assert!(sim.unregister_phone("agent1"));
    let path = "/ari/channels?endpoint=PJSIP/agent1&app=switchboard";
    let (status, body) = http(&sim, "POST", path).await;
    assert_eq!(
        (status, body.as_str()),
        (500, "{\"error\":\"Allocation failed\"}")
    );
    assert!(sim.register_phone("agent1"));
    assert_eq!(http(&sim, "POST", path).await.0, 200);
    assert!(!sim.register_phone("nobody"));
}

#[tokio::test]
async fn busy_phone_ends_the_leg_with_cause_17() {
    let sim = sim().await;
    sim.set_phone_behavior("agent1", PhoneBehavior::Busy);
    let mut ev = Events::connect(&sim).await;
    let (status, _) = http(
        &sim,
        "POST",
        "/ari/channels?endpoint=PJSIP/agent1&app=switchboard",
    )
    .await;
    assert_eq!(status, 200);
    let destroyed = ev.next(&["ChannelDestroyed"]).await;
    assert_eq!(destroyed["cause"], 17);
    assert_eq!(destroyed["tech_cause"], 486);
}

#[tokio::test]
async fn dropped_event_sockets_leave_channels_in_stasis() {
    let sim = sim().await;
    let _ev = Events::connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("1001", "6000"));
    sim.drop_websockets().await;
    let (_, apps) = http(&sim, "GET", "/ari/applications").await;
    assert_eq!(apps, "[]");
    assert!(sim.channel(&caller).is_some_and(|c| c.in_stasis));
}

#[tokio::test]
async fn restart_answers_503_once_then_comes_back_empty_with_counters_reset() {
    let sim = sim().await;
    sim.place_call(CallSpec::new("1001", "6000"));
    sim.restart().await.expect("restart");
    assert_eq!(http(&sim, "GET", "/ari/asterisk/ping").await.0, 503);
    let (status, channels) = http(&sim, "GET", "/ari/channels").await;
    assert_eq!((status, channels.as_str()), (200, "[]"));
    assert!(sim
        .place_call(CallSpec::new("1002", "6000"))
        .ends_with(".0"));
}

#[tokio::test]
async fn continue_to_an_entry_point_enters_stasis_again_with_its_args() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = AriSimConfig {
        entry_points: vec![
            AriEntryPoint::stasis("6000", "switchboard", &["queue", "support"]),
            AriEntryPoint::stasis("7000", "switchboard", &["queue", "sales"]),
        ],
        ..AriSimConfig::default()
    };
    let sim = AriSimulator::start(listener, config).await.expect("start");
    let caller = sim.place_call(CallSpec::new("1001", "6000"));
    let path =
        format!("/ari/channels/{caller}/continue?context=from-callers&extension=7000&priority=1");
    assert_eq!(http(&sim, "POST", &path).await.0, 204);
    let view = sim.channel(&caller).expect("still there");
    assert_eq!(view.stasis_args, vec!["queue", "sales"]);
    assert_eq!(view.exten, "7000");
}

#[tokio::test]
async fn recordings_are_written_under_disk_root_when_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = AriSimConfig {
        entry_points: vec![AriEntryPoint::stasis("6000", "switchboard", &[])],
        disk_root: Some(dir.path().to_path_buf()),
        ..AriSimConfig::default()
    };
    let sim = AriSimulator::start(listener, config).await.expect("start");
    let caller = sim.place_call(CallSpec::new("1001", "6000"));
    let path = format!("/ari/channels/{caller}/record?name=r1&format=wav");
    assert_eq!(http(&sim, "POST", &path).await.0, 201);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        http(&sim, "POST", "/ari/recordings/live/r1/stop").await.0,
        204
    );
    let file = sim.recording_file("r1").expect("file written");
    assert!(file.ends_with("var/spool/asterisk/recording/r1.wav"));
    assert_eq!(sim.recordings()[0].state, "done");
}

#[tokio::test]
async fn unsafe_recording_names_and_media_are_refused() {
    let sim = sim().await;
    let caller = sim.place_call(CallSpec::new("1001", "6000"));
    let path = format!("/ari/channels/{caller}/record?name=..%2Fetc%2Fx&format=wav");
    assert_eq!(http(&sim, "POST", &path).await.0, 400);
    let path = format!("/ari/channels/{caller}/play?media=http://evil");
    assert_eq!(http(&sim, "POST", &path).await.0, 400);
}
