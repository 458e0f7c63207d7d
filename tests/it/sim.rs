//! Behaviour of the FreeSWITCH simulator over real TCP, driven with the ESL client crate
//! the adapter uses.

use std::time::Duration;

use freeswitch_esl_tokio::{EslClient, EslEvent, EslEventStream, EventFormat};
use switchboard::sim::{
    CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator, SoundFiles,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEADLINE: Duration = Duration::from_secs(5);
const SUBSCRIPTION: &str = "CHANNEL_PARK CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_DESTROY CHANNEL_PROGRESS BACKGROUND_JOB HEARTBEAT SHUTDOWN PLAYBACK_START PLAYBACK_STOP DTMF CHANNEL_UNPARK";

/// A simulator whose dialplan parks `5000` for `support`.
pub(crate) async fn start_sim() -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        entry_points: vec![EntryPoint {
            number: "5000".into(),
            variables: vec![("switchboard_queue".into(), "support".into())],
        }],
        ..SimConfig::default()
    };
    Simulator::start(listener, config).await.expect("start")
}

async fn connect(sim: &SimHandle) -> (EslClient, EslEventStream) {
    let addr = sim.esl_addr();
    let (client, events) = EslClient::connect("127.0.0.1", addr.port(), "ClueCon")
        .await
        .expect("connect");
    client
        .subscribe_events_raw(EventFormat::Plain, SUBSCRIPTION)
        .await
        .expect("subscribe");
    (client, events)
}

/// Next event matching `pred`, skipping others; panics after the deadline.
pub(crate) async fn wait_event(
    events: &mut EslEventStream,
    pred: impl Fn(&EslEvent) -> bool,
) -> EslEvent {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Ok(ev))) if pred(&ev) => return ev,
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("event error: {e}"),
            Ok(None) => panic!("event stream ended"),
            Err(_) => panic!("timed out waiting for an event"),
        }
    }
}

pub(crate) fn is(ev: &EslEvent, name: &str, uuid: &str) -> bool {
    ev.header_str("Event-Name") == Some(name) && ev.header_str("Unique-ID") == Some(uuid)
}

pub(crate) async fn api(client: &EslClient, cmd: &str) -> String {
    let r = client.api(cmd).await.expect("api");
    r.body().unwrap_or("").to_string()
}

async fn execute(client: &EslClient, uuid: &str, app: &str, arg: &str, event_uuid: &str) {
    let mut msg = EslEvent::new();
    msg.set_header("call-command", "execute");
    msg.set_header("execute-app-name", app);
    msg.set_header("execute-app-arg", arg);
    msg.set_header("Event-UUID", event_uuid);
    let r = client.sendmsg(Some(uuid), msg).await.expect("sendmsg");
    assert_eq!(r.reply_text(), Some("+OK"));
}

fn phone(user: &str, behavior: PhoneBehavior) -> PhoneSpec {
    PhoneSpec {
        user: user.into(),
        behavior,
        hangup_after_talk: None,
    }
}

#[tokio::test]
async fn parked_call_is_held_bridged_and_cleared_when_the_agent_hangs_up() {
    let sim = start_sim().await;
    sim.add_phone(phone(
        "1001",
        PhoneBehavior::Answer {
            after: Duration::from_millis(50),
        },
    ));
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2001", "5000"));

    let park = wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    assert_eq!(
        park.header_str("variable_switchboard_queue"),
        Some("support")
    );
    assert_eq!(
        api(
            &client,
            &format!("uuid_setvar {caller} switchboard_call_id sb-1")
        )
        .await,
        "+OK\n"
    );
    assert_eq!(
        api(
            &client,
            &format!("uuid_getvar {caller} switchboard_call_id")
        )
        .await,
        "sb-1"
    );
    assert_eq!(
        api(&client, &format!("uuid_getvar {caller} nope")).await,
        "_undef_"
    );
    assert_eq!(
        api(&client, &format!("uuid_answer {caller}")).await,
        "+OK\n"
    );
    wait_event(&mut events, |e| is(e, "CHANNEL_ANSWER", &caller)).await;
    execute(&client, &caller, "playback", "local_stream://moh", "moh-1").await;
    let ex = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE", &caller)).await;
    assert_eq!(ex.header_str("Application-UUID"), Some("moh-1"));

    let agent = "11111111-2222-4333-8444-555555555555";
    let job = client
        .bgapi(&format!(
            "originate {{origination_uuid={agent},originate_timeout=20,switchboard_call_id=sb-1,switchboard_role=agent,origination_caller_id_number=2001,origination_caller_id_name='Caller, 2001'}}user/1001 &park()"
        ))
        .await
        .expect("bgapi");
    let job_uuid = job.job_uuid().expect("job uuid").to_string();
    wait_event(&mut events, |e| is(e, "CHANNEL_ANSWER", agent)).await;
    let bg = wait_event(&mut events, |e| {
        e.header_str("Event-Name") == Some("BACKGROUND_JOB")
    })
    .await;
    assert_eq!(bg.header_str("Job-UUID"), Some(job_uuid.as_str()));
    assert_eq!(bg.body(), Some(format!("+OK {agent}\n").as_str()));
    let agent_park = wait_event(&mut events, |e| is(e, "CHANNEL_PARK", agent)).await;
    assert_eq!(
        agent_park.header_str("variable_switchboard_role"),
        Some("agent")
    );
    assert_eq!(
        agent_park.header_str("Caller-Caller-ID-Name"),
        Some("Caller, 2001")
    );

    assert_eq!(
        api(&client, &format!("uuid_break {caller} all")).await,
        "+OK\n"
    );
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("Application-Response"), Some("FILE PLAYED"));
    assert_eq!(
        api(&client, &format!("uuid_bridge {caller} {agent}")).await,
        format!("+OK {agent}\n")
    );
    let br = wait_event(&mut events, |e| is(e, "CHANNEL_BRIDGE", &caller)).await;
    assert_eq!(br.header_str("Bridge-B-Unique-ID"), Some(agent));
    assert_eq!(br.header_str("Other-Leg-Unique-ID"), Some(agent));
    assert_eq!(
        sim.channel(&caller).and_then(|c| c.bridged_to),
        Some(agent.to_string())
    );

    assert!(sim.hangup(agent, "NORMAL_CLEARING"));
    wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP_COMPLETE", agent)).await;
    wait_event(&mut events, |e| is(e, "CHANNEL_UNBRIDGE", &caller)).await;
    let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", &caller)).await;
    assert_eq!(h.header_str("Hangup-Cause"), Some("NORMAL_CLEARING"));
    // As on the real switch, the disposition of a hangup we cause is set after
    // CHANNEL_HANGUP.
    assert_eq!(h.header_str("variable_sip_hangup_disposition"), None);
    let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP_COMPLETE", &caller)).await;
    assert_eq!(
        h.header_str("variable_sip_hangup_disposition"),
        Some("send_bye")
    );
    assert!(sim.wait_until(DEADLINE, |s| s.channels().is_empty()).await);
    let st = sim.stats();
    assert_eq!((st.calls_placed, st.bridged, st.hung_up), (1, 1, 2));
}

async fn failed_originate(
    behavior: PhoneBehavior,
    dial: &str,
    timeout: u32,
) -> (Vec<String>, String) {
    let sim = start_sim().await;
    sim.add_phone(phone("agent9", behavior));
    let (client, mut events) = connect(&sim).await;
    let leg = "99999999-2222-4333-8444-555555555555";
    let _job = client
        .bgapi(&format!(
            "originate {{origination_uuid={leg},originate_timeout={timeout}}}{dial} &park()"
        ))
        .await
        .expect("bgapi");
    let mut seen = Vec::new();
    let body = loop {
        let ev = wait_event(&mut events, |_| true).await;
        let name = ev.header_str("Event-Name").unwrap_or("").to_string();
        if name == "CHANNEL_HANGUP" {
            seen.push(format!(
                "HANGUP {}",
                ev.header_str("Hangup-Cause").unwrap_or("")
            ));
        } else {
            seen.push(name.clone());
        }
        if name == "BACKGROUND_JOB" {
            break ev.body().unwrap_or("").to_string();
        }
    };
    (seen, body)
}

#[tokio::test]
async fn busy_phone_fails_originate_with_user_busy_after_hangup_complete() {
    let (seen, body) = failed_originate(PhoneBehavior::Busy, "user/agent9", 20).await;
    assert_eq!(body, "-ERR USER_BUSY\n");
    assert_eq!(
        seen,
        [
            "HANGUP USER_BUSY",
            "CHANNEL_HANGUP_COMPLETE",
            "BACKGROUND_JOB"
        ]
    );
}

#[tokio::test]
async fn rejecting_phone_fails_originate_with_call_rejected() {
    let (_, body) = failed_originate(
        PhoneBehavior::Reject,
        "sofia/internal/agent9@127.0.0.1:5076",
        20,
    )
    .await;
    assert_eq!(body, "-ERR CALL_REJECTED\n");
}

#[tokio::test]
async fn ringing_phone_fails_with_no_answer_before_hangup_complete() {
    let (seen, body) = failed_originate(PhoneBehavior::NoAnswer, "user/agent9", 1).await;
    assert_eq!(body, "-ERR NO_ANSWER\n");
    assert_eq!(
        seen,
        ["CHANNEL_PROGRESS", "HANGUP NO_ANSWER", "BACKGROUND_JOB"]
    );
}

#[tokio::test]
async fn unregistered_user_fails_at_once_without_channel_events() {
    let (seen, body) = failed_originate(PhoneBehavior::Unregistered, "user/agent9", 20).await;
    assert_eq!(body, "-ERR USER_NOT_REGISTERED\n");
    assert_eq!(seen, ["BACKGROUND_JOB"]);
}

#[tokio::test]
async fn unknown_sofia_target_fails_with_normal_temporary_failure() {
    let (_, body) = failed_originate(
        PhoneBehavior::Busy,
        "sofia/internal/nobody@127.0.0.1:5099",
        5,
    )
    .await;
    assert_eq!(body, "-ERR NORMAL_TEMPORARY_FAILURE\n");
}

#[tokio::test]
async fn caller_abandon_on_hold_reports_playback_error_and_cancel_when_unanswered() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let a = sim.place_call(CallSpec::new("2002", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &a)).await;
    assert!(sim.hangup(&a, "ORIGINATOR_CANCEL"));
    let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", &a)).await;
    assert_eq!(h.header_str("Hangup-Cause"), Some("ORIGINATOR_CANCEL"));
    assert_eq!(
        h.header_str("variable_sip_hangup_disposition"),
        Some("recv_cancel")
    );

    let b = sim.place_call(CallSpec {
        patience: Some(Duration::from_millis(100)),
        ..CallSpec::new("2003", "5000")
    });
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &b)).await;
    api(&client, &format!("uuid_answer {b}")).await;
    execute(&client, &b, "playback", "local_stream://moh", "moh-2").await;
    let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", &b)).await;
    assert_eq!(h.header_str("Hangup-Cause"), Some("NORMAL_CLEARING"));
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &b)).await;
    assert_eq!(done.header_str("Application"), Some("playback"));
    assert_eq!(done.header_str("Application-UUID"), Some("moh-2"));
    assert_eq!(
        done.header_str("Application-Response"),
        Some("PLAYBACK ERROR")
    );
}

#[tokio::test]
async fn caller_hangup_while_agent_rings_leaves_the_agent_leg_until_killed() {
    let sim = start_sim().await;
    sim.add_phone(phone("1005", PhoneBehavior::NoAnswer));
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2004", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    let agent = "77777777-2222-4333-8444-555555555555";
    let _job = client
        .bgapi(&format!(
            "originate {{origination_uuid={agent},originate_timeout=30}}user/1005 &park()"
        ))
        .await
        .expect("bgapi");
    wait_event(&mut events, |e| is(e, "CHANNEL_PROGRESS", agent)).await;
    sim.hangup(&caller, "ORIGINATOR_CANCEL");
    wait_event(&mut events, |e| is(e, "CHANNEL_DESTROY", &caller)).await;
    assert!(
        sim.channel(agent).is_some(),
        "the ringing agent leg survives"
    );
    assert_eq!(
        api(&client, &format!("uuid_kill {agent} ORIGINATOR_CANCEL")).await,
        "+OK\n"
    );
    let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", agent)).await;
    assert_eq!(h.header_str("Hangup-Cause"), Some("ORIGINATOR_CANCEL"));
    let bg = wait_event(&mut events, |e| {
        e.header_str("Event-Name") == Some("BACKGROUND_JOB")
    })
    .await;
    assert_eq!(bg.body(), Some("-ERR ORIGINATOR_CANCEL\n"));
    assert_eq!(
        api(&client, &format!("uuid_kill {agent}")).await,
        "-ERR No such channel!\n"
    );
}

#[tokio::test]
async fn dropped_connections_keep_channels_for_resync() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2005", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(
        &client,
        &format!("uuid_setvar {caller} switchboard_call_id sb-7"),
    )
    .await;
    sim.drop_connections().await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while client.is_connected() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "client still connected"
        );
        let _ = tokio::time::timeout(Duration::from_millis(50), events.recv()).await;
    }

    let (client, _events) = connect(&sim).await;
    let show = api(&client, "show channels as json").await;
    let v: serde_json::Value = serde_json::from_str(&show).expect("json");
    assert_eq!(v["row_count"], 1);
    assert_eq!(v["rows"][0]["uuid"], caller.as_str());
    assert!(v["rows"][0].get("variable_switchboard_call_id").is_none());
    let dump = api(&client, &format!("uuid_dump {caller} json")).await;
    let d: serde_json::Value = serde_json::from_str(&dump).expect("dump json");
    assert_eq!(d["variable_switchboard_call_id"], "sb-7");
    assert_eq!(d["variable_switchboard_queue"], "support");
    assert_eq!(api(&client, &format!("uuid_exists {caller}")).await, "true");
    sim.hangup(&caller, "NORMAL_CLEARING");
    assert_eq!(
        api(&client, "show channels as json").await,
        "{\"row_count\": 0}\n"
    );
}

#[tokio::test]
async fn shutdown_hangs_up_everything_and_restart_brings_a_fresh_switch() {
    let sim = start_sim().await;
    let (_client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2006", "5000"));
    let park = wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    let core = park.header_str("Core-UUID").unwrap_or("").to_string();
    sim.shutdown().await;
    wait_event(&mut events, |e| {
        e.header_str("Event-Name") == Some("SHUTDOWN")
    })
    .await;
    let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", &caller)).await;
    assert_eq!(h.header_str("Hangup-Cause"), Some("SYSTEM_SHUTDOWN"));
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(None) => break,
            Ok(Some(_)) => {}
            Err(_) => panic!("connection not closed"),
        }
    }
    assert!(sim.channels().is_empty());
    assert!(
        TcpStream::connect(sim.esl_addr()).await.is_err(),
        "port refuses"
    );

    sim.restart().await.expect("restart");
    let (client, mut events) = connect(&sim).await;
    let again = sim.place_call(CallSpec::new("2007", "5000"));
    let park = wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &again)).await;
    assert_ne!(park.header_str("Core-UUID"), Some(core.as_str()));
    assert_eq!(
        api(&client, &format!("uuid_exists {caller}")).await,
        "false"
    );
}

#[tokio::test]
async fn heartbeats_arrive_at_the_configured_interval() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim = Simulator::start(
        listener,
        SimConfig {
            heartbeat_interval: Duration::from_millis(50),
            ..SimConfig::default()
        },
    )
    .await
    .expect("start");
    let (_client, mut events) = connect(&sim).await;
    let hb = wait_event(&mut events, |e| {
        e.header_str("Event-Name") == Some("HEARTBEAT")
    })
    .await;
    assert_eq!(hb.header_str("Event-Info"), Some("System Ready"));
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let sim = start_sim().await;
    let r = EslClient::connect("127.0.0.1", sim.esl_addr().port(), "WrongPassword").await;
    assert!(r.is_err(), "auth must fail");
}

#[tokio::test]
async fn commands_before_auth_are_refused_and_auth_still_works() {
    let sim = start_sim().await;
    let mut s = TcpStream::connect(sim.esl_addr()).await.expect("connect");
    s.write_all(b"api status\n\nauth ClueCon\n\n")
        .await
        .expect("write");
    let want = "Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: -ERR command not found\n\nContent-Type: command/reply\nReply-Text: +OK accepted\n\n";
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < want.len() {
        let n = tokio::time::timeout(DEADLINE, s.read(&mut buf))
            .await
            .expect("reply in time")
            .expect("read");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[tokio::test]
async fn bgapi_results_reach_only_connections_subscribed_to_background_job() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let (quiet, mut quiet_events) =
        EslClient::connect("127.0.0.1", sim.esl_addr().port(), "ClueCon")
            .await
            .expect("connect");
    let q = quiet.bgapi("status").await.expect("bgapi");
    assert!(q
        .reply_text()
        .is_some_and(|t| t.starts_with("+OK Job-UUID: ")));
    let r = client
        .bgapi("uuid_kill 00000000-0000-0000-0000-000000000000")
        .await
        .expect("bgapi");
    // BACKGROUND_JOB is a global event: the subscribed connection sees both jobs.
    let first = wait_event(&mut events, |e| {
        e.header_str("Event-Name") == Some("BACKGROUND_JOB")
    })
    .await;
    assert_eq!(first.header_str("Job-UUID"), q.job_uuid());
    assert!(first.body().is_some_and(|b| b.starts_with("UP ")));
    let bg = wait_event(&mut events, |e| {
        e.header_str("Event-Name") == Some("BACKGROUND_JOB")
    })
    .await;
    assert_eq!(bg.header_str("Job-UUID"), r.job_uuid());
    assert_eq!(bg.body(), Some("-ERR No such channel!\n"));
    // The unsubscribed connection got only its command reply.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), quiet_events.recv())
            .await
            .is_err(),
        "no event for an unsubscribed connection"
    );
    assert_eq!(
        api(&client, "no_such_command").await,
        "-ERR no_such_command Command not found!\n"
    );
    assert_eq!(
        api(
            &client,
            "uuid_bridge 00000000-0000-0000-0000-000000000000 x"
        )
        .await,
        "-ERR Invalid uuid\n"
    );
    assert_eq!(
        api(&client, "uuid_answer 00000000-0000-0000-0000-000000000000").await,
        "-ERROR\n"
    );
}

#[tokio::test]
async fn reply_delay_postpones_api_replies() {
    let sim = start_sim().await;
    let (client, _events) = connect(&sim).await;
    sim.set_reply_delay(Duration::from_millis(200));
    let t0 = tokio::time::Instant::now();
    let body = api(&client, "uuid_exists nope").await;
    assert_eq!(body, "false");
    assert!(t0.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn filter_on_unique_id_drops_other_channels_and_background_jobs() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let a = sim.place_call(CallSpec::new("2008", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &a)).await;
    client.filter_raw("Unique-ID", &a).await.expect("filter");
    let b = sim.place_call(CallSpec::new("2009", "5000"));
    let _job = client.bgapi("status").await.expect("bgapi");
    api(&client, &format!("uuid_answer {a}")).await;
    let ev = wait_event(&mut events, |_| true).await;
    assert!(
        is(&ev, "CHANNEL_ANSWER", &a),
        "got {:?}",
        ev.header_str("Event-Name")
    );
    assert!(sim.channel(&b).is_some());
}

// ---- ring-all, overflow, keys and prompts ------------------------------------------------

async fn originate(client: &EslClient, leg: &str, dial: &str) -> String {
    let job = client
        .bgapi(&format!(
            "originate {{origination_uuid={leg},originate_timeout=20,switchboard_role=agent}}{dial} &park()"
        ))
        .await
        .expect("bgapi");
    job.job_uuid().expect("job uuid").to_string()
}

async fn job_result(events: &mut EslEventStream, job: &str) -> String {
    let ev = wait_event(events, |e| {
        e.header_str("Event-Name") == Some("BACKGROUND_JOB")
            && e.header_str("Job-UUID") == Some(job)
    })
    .await;
    ev.body().unwrap_or("").to_string()
}

#[tokio::test]
async fn ring_all_loser_killed_with_lose_race_fails_its_originate_with_that_cause() {
    let sim = start_sim().await;
    sim.add_phone(phone(
        "1001",
        PhoneBehavior::Answer {
            after: Duration::from_millis(30),
        },
    ));
    sim.add_phone(phone("1002", PhoneBehavior::NoAnswer));
    let (client, mut events) = connect(&sim).await;
    let (u1, u2) = (
        "11111111-0000-4000-8000-000000000001",
        "11111111-0000-4000-8000-000000000002",
    );
    let j1 = originate(&client, u1, "user/1001").await;
    let j2 = originate(&client, u2, "user/1002").await;
    wait_event(&mut events, |e| is(e, "CHANNEL_ANSWER", u1)).await;
    assert_eq!(
        api(&client, &format!("uuid_kill {u2} LOSE_RACE")).await,
        "+OK\n"
    );
    let mut seen = Vec::new();
    let mut results = std::collections::HashMap::new();
    while results.len() < 2 || !seen.contains(&"CHANNEL_DESTROY".to_string()) {
        let ev = wait_event(&mut events, |_| true).await;
        let name = ev.header_str("Event-Name").unwrap_or("").to_string();
        if name == "BACKGROUND_JOB" {
            let job = ev.header_str("Job-UUID").unwrap_or("").to_string();
            let body = ev.body().unwrap_or("").to_string();
            if job == j2 {
                seen.push(format!("JOB {}", body.trim_end()));
            }
            results.insert(job, body);
        } else if ev.header_str("Unique-ID") == Some(u2) {
            if name == "CHANNEL_HANGUP" {
                assert_eq!(ev.header_str("Hangup-Cause"), Some("LOSE_RACE"));
            }
            if name == "CHANNEL_HANGUP_COMPLETE" {
                assert_eq!(
                    ev.header_str("variable_sip_hangup_disposition"),
                    Some("send_cancel")
                );
            }
            seen.push(name);
        }
    }
    assert_eq!(results[&j1], format!("+OK {u1}\n"));
    assert_eq!(results[&j2], "-ERR LOSE_RACE\n");
    assert_eq!(
        seen,
        [
            "CHANNEL_HANGUP",
            "CHANNEL_HANGUP_COMPLETE",
            "JOB -ERR LOSE_RACE",
            "CHANNEL_DESTROY"
        ]
    );
    assert!(sim.channel(u1).is_some_and(|c| c.answered));
}

#[tokio::test]
async fn killing_a_ringing_leg_with_no_answer_reports_it_after_hangup_complete() {
    let sim = start_sim().await;
    sim.add_phone(phone("1003", PhoneBehavior::NoAnswer));
    let (client, mut events) = connect(&sim).await;
    let leg = "11111111-0000-4000-8000-000000000003";
    let job = originate(&client, leg, "user/1003").await;
    wait_event(&mut events, |e| is(e, "CHANNEL_PROGRESS", leg)).await;
    assert_eq!(
        api(&client, &format!("uuid_kill {leg} NO_ANSWER")).await,
        "+OK\n"
    );
    wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP_COMPLETE", leg)).await;
    assert_eq!(job_result(&mut events, &job).await, "-ERR NO_ANSWER\n");
}

#[tokio::test]
async fn parked_callers_are_hung_up_with_the_cause_given_to_uuid_kill() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    for cause in ["USER_BUSY", "NO_ANSWER"] {
        let caller = sim.place_call(CallSpec::new("2010", "5000"));
        wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
        assert_eq!(
            api(&client, &format!("uuid_kill {caller} {cause}")).await,
            "+OK\n"
        );
        let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", &caller)).await;
        assert_eq!(h.header_str("Hangup-Cause"), Some(cause));
        let done = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP_COMPLETE", &caller)).await;
        assert_eq!(
            done.header_str("variable_sip_hangup_disposition"),
            Some("send_refuse")
        );
        wait_event(&mut events, |e| is(e, "CHANNEL_DESTROY", &caller)).await;
        assert!(sim.channel(&caller).is_none());
    }
}

#[tokio::test]
async fn a_transferred_caller_runs_the_overflow_extension_until_its_patience_ends() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec {
        patience: Some(Duration::from_millis(400)),
        ..CallSpec::new("2011", "5000")
    });
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    execute(&client, &caller, "playback", "local_stream://moh", "moh-t").await;
    wait_event(&mut events, |e| is(e, "PLAYBACK_START", &caller)).await;
    assert_eq!(
        api(&client, &format!("uuid_transfer {caller} 9199 XML default")).await,
        "+OK\n"
    );
    let moh = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(moh.header_str("Application-UUID"), Some("moh-t"));
    let unpark = wait_event(&mut events, |e| is(e, "CHANNEL_UNPARK", &caller)).await;
    assert_eq!(unpark.header_str("Caller-Destination-Number"), Some("9199"));
    assert_eq!(unpark.header_str("Caller-Context"), Some("default"));
    // The stock `default` context's `global` extension runs first (the caller from outside
    // has no domain_name), then the extension.
    let mut apps = Vec::new();
    while apps.last().map(String::as_str) != Some("answer") {
        let e = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE", &caller)).await;
        apps.push(e.header_str("Application").unwrap_or_default().to_string());
    }
    assert_eq!(apps, ["hash", "hash", "hash", "export", "answer"]);
    wait_event(&mut events, |e| is(e, "PLAYBACK_START", &caller)).await;
    let view = sim.channel(&caller).expect("caller still there");
    assert_eq!(view.transferred_to.as_deref(), Some("9199"));
    assert_eq!(view.running_app.as_deref(), Some("playback"));
    assert_eq!(sim.stats().transfers, 1);
    assert_eq!(view.destination, "9199");
    assert!(view
        .variable("transfer_history")
        .is_some_and(|h| h.ends_with(":bl_xfer:9199/default/XML")));
    let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", &caller)).await;
    assert_eq!(h.header_str("Hangup-Cause"), Some("NORMAL_CLEARING"));
    assert!(sim.wait_until(DEADLINE, |s| s.channels().is_empty()).await);
}

#[tokio::test]
async fn an_agent_leg_plays_a_prompt_on_its_park_and_a_bridge_cuts_a_second_one_short() {
    let sim = start_sim().await;
    sim.add_phone(phone(
        "1005",
        PhoneBehavior::Answer {
            after: Duration::from_millis(20),
        },
    ));
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2013", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    let agent = "11111111-0000-4000-8000-000000000005";
    originate(&client, agent, "user/1005").await;
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", agent)).await;
    execute(
        &client,
        agent,
        "playback",
        "switchboard/queue.wav",
        "whisper-1",
    )
    .await;
    let started = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE", agent)).await;
    assert_eq!(started.header_str("Application"), Some("playback"));
    assert_eq!(
        sim.channel(agent).and_then(|c| c.running_app),
        Some("playback".to_string())
    );
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", agent)).await;
    assert_eq!(done.header_str("Application"), Some("playback"));
    assert_eq!(
        done.header_str("Application-Data"),
        Some("switchboard/queue.wav")
    );
    assert_eq!(done.header_str("Application-Response"), Some("FILE PLAYED"));
    assert_eq!(done.header_str("Application-UUID"), Some("whisper-1"));
    assert_eq!(done.header_str("variable_switchboard_role"), Some("agent"));
    assert_eq!(sim.channel(agent).and_then(|c| c.running_app), None);

    execute(
        &client,
        agent,
        "playback",
        "local_stream://moh",
        "whisper-2",
    )
    .await;
    wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE", agent)).await;
    api(&client, &format!("uuid_bridge {caller} {agent}")).await;
    let cut = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", agent)).await;
    assert_eq!(cut.header_str("Application-UUID"), Some("whisper-2"));
    assert_eq!(
        cut.header_str("Application-Response"),
        Some("PLAYBACK ERROR")
    );
    let park = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", agent)).await;
    assert_eq!(park.header_str("Application"), Some("park"));
    wait_event(&mut events, |e| is(e, "CHANNEL_BRIDGE", &caller)).await;
    assert_eq!(sim.channel(agent).and_then(|c| c.running_app), None);
}

#[tokio::test]
async fn transferring_a_bridged_caller_hangs_up_its_agent_and_keeps_the_caller() {
    let sim = start_sim().await;
    sim.add_phone(phone(
        "1004",
        PhoneBehavior::Answer {
            after: Duration::from_millis(20),
        },
    ));
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2012", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    let agent = "11111111-0000-4000-8000-000000000004";
    originate(&client, agent, "user/1004").await;
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", agent)).await;
    api(&client, &format!("uuid_bridge {caller} {agent}")).await;
    wait_event(&mut events, |e| is(e, "CHANNEL_BRIDGE", &caller)).await;
    assert_eq!(
        api(&client, &format!("uuid_transfer {caller} 9199 XML default")).await,
        "+OK\n"
    );
    let h = wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", agent)).await;
    assert_eq!(h.header_str("Hangup-Cause"), Some("NORMAL_CLEARING"));
    let unbridge = wait_event(&mut events, |e| is(e, "CHANNEL_UNBRIDGE", &caller)).await;
    assert_eq!(unbridge.header_str("Other-Leg-Unique-ID"), None);
    wait_event(&mut events, |e| is(e, "PLAYBACK_START", &caller)).await;
    assert!(
        sim.wait_until(DEADLINE, |s| s.channel(agent).is_none())
            .await
    );
    let view = sim.channel(&caller).expect("caller stays");
    assert_eq!(view.bridged_to, None);
    assert_eq!(view.transferred_to.as_deref(), Some("9199"));
    assert!(view
        .variable("transfer_history")
        .is_some_and(|h| h.starts_with("ARRAY::") && h.contains(&format!("uuid_br:{agent}"))));
}

#[tokio::test]
async fn a_caller_transferred_to_an_entry_point_is_parked_there_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        entry_points: vec![
            EntryPoint {
                number: "5000".into(),
                variables: vec![("switchboard_queue".into(), "support".into())],
            },
            EntryPoint {
                number: "5001".into(),
                variables: vec![("switchboard_queue".into(), "billing".into())],
            },
        ],
        ..SimConfig::default()
    };
    let sim = Simulator::start(listener, config).await.expect("start");
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2013", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_transfer {caller} 5001")).await;
    let park = wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    assert_eq!(
        park.header_str("variable_switchboard_queue"),
        Some("billing")
    );
    assert_eq!(park.header_str("Caller-Destination-Number"), Some("5001"));
    assert_eq!(park.header_str("Caller-Profile-Index"), Some("2"));
    assert!(!sim.channel(&caller).expect("caller").answered);
}

#[tokio::test]
async fn uuid_transfer_refuses_unknown_channels_and_missing_destinations() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    assert_eq!(
        api(
            &client,
            "uuid_transfer 00000000-0000-0000-0000-000000000000 9199"
        )
        .await,
        "-ERR No such channel!\n"
    );
    let caller = sim.place_call(CallSpec::new("2014", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    assert!(api(&client, &format!("uuid_transfer {caller}"))
        .await
        .starts_with("-USAGE: "));
    assert_eq!(sim.channel(&caller).and_then(|c| c.transferred_to), None);
}

#[tokio::test]
async fn voicemail_keeps_the_caller_until_it_hangs_up() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2015", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    execute(
        &client,
        &caller,
        "voicemail",
        "default example.com 1001",
        "vm-1",
    )
    .await;
    let ex = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE", &caller)).await;
    assert_eq!(ex.header_str("Application"), Some("voicemail"));
    assert_eq!(
        ex.header_str("Application-Data"),
        Some("default example.com 1001")
    );
    assert_eq!(ex.header_str("Application-UUID"), Some("vm-1"));
    wait_event(&mut events, |e| is(e, "CHANNEL_ANSWER", &caller)).await;
    let view = sim.channel(&caller).expect("caller");
    assert_eq!(view.running_app.as_deref(), Some("voicemail"));
    assert!(view.answered);
    assert!(sim.hangup(&caller, "NORMAL_CLEARING"));
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("Application"), Some("voicemail"));
    assert_eq!(done.header_str("Application-Response"), Some("_none_"));
}

#[tokio::test]
async fn keys_pressed_after_answer_arrive_as_dtmf_events_and_fill_play_and_get_digits() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call_pressing(
        CallSpec::new("2016", "5000"),
        vec![
            (Duration::from_millis(300), "4".into()),
            (Duration::from_millis(350), "2#".into()),
        ],
    );
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    execute(
        &client,
        &caller,
        "play_and_get_digits",
        "1 4 1 5000 # silence_stream://100 silence_stream://50 choice \\d+ 2000",
        "pagd-1",
    )
    .await;
    wait_event(&mut events, |e| is(e, "PLAYBACK_STOP", &caller)).await;
    let mut keys = Vec::new();
    for _ in 0..3 {
        let d = wait_event(&mut events, |e| is(e, "DTMF", &caller)).await;
        assert_eq!(d.header_str("DTMF-Source"), Some("RTP"));
        assert_eq!(d.header_str("DTMF-Duration"), Some("2240"));
        assert!(
            d.header_str("variable_uuid").is_none(),
            "DTMF carries no variables"
        );
        assert!(d.header_str("Caller-Caller-ID-Number").is_some());
        keys.push(d.header_str("DTMF-Digit").unwrap_or("").to_string());
    }
    assert_eq!(keys, ["4", "2", "#"]);
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("Application-UUID"), Some("pagd-1"));
    assert_eq!(done.header_str("Application-Response"), Some("_none_"));
    assert_eq!(done.header_str("variable_choice"), Some("42"));
    assert_eq!(done.header_str("variable_read_terminator_used"), Some("#"));
    assert_eq!(
        api(&client, &format!("uuid_getvar {caller} choice")).await,
        "42"
    );
    let view = sim.channel(&caller).expect("caller");
    assert_eq!(view.digits, "42#");
    assert_eq!(view.running_app, None);
}

#[tokio::test]
async fn invalid_input_plays_the_invalid_prompt_and_tries_again() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2017", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    execute(
        &client,
        &caller,
        "play_and_get_digits",
        "1 1 2 3000 # silence_stream://2000 silence_stream://50 choice ^[1-3]$ 1000",
        "pagd-2",
    )
    .await;
    wait_event(&mut events, |e| is(e, "PLAYBACK_START", &caller)).await;
    // A key during the prompt breaks it; 9 is not a valid choice.
    assert!(sim.send_dtmf(&caller, "9"));
    let stop = wait_event(&mut events, |e| is(e, "PLAYBACK_STOP", &caller)).await;
    assert_eq!(stop.header_str("Playback-Status"), Some("break"));
    let invalid = wait_event(&mut events, |e| is(e, "PLAYBACK_START", &caller)).await;
    assert_eq!(
        invalid.header_str("Playback-File-Path"),
        Some("silence_stream://50")
    );
    wait_event(&mut events, |e| is(e, "PLAYBACK_STOP", &caller)).await;
    // The second try: the prompt again, then a valid key.
    let again = wait_event(&mut events, |e| is(e, "PLAYBACK_START", &caller)).await;
    assert_eq!(
        again.header_str("Playback-File-Path"),
        Some("silence_stream://2000")
    );
    assert!(sim.send_dtmf(&caller, "2"));
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("variable_choice"), Some("2"));
    assert_eq!(done.header_str("variable_read_result"), Some("success"));
}

#[tokio::test]
async fn no_key_at_all_ends_play_and_get_digits_without_a_value() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2018", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    execute(
        &client,
        &caller,
        "play_and_get_digits",
        "1 1 1 100 # silence_stream://10 silence_stream://10 choice",
        "pagd-3",
    )
    .await;
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("Application-UUID"), Some("pagd-3"));
    assert_eq!(done.header_str("variable_choice"), None);
    assert_eq!(done.header_str("variable_read_result"), Some("timeout"));
    assert!(!sim.send_dtmf("00000000-0000-0000-0000-000000000000", "1"));
}

#[tokio::test]
async fn missing_prompts_are_not_found_and_uuid_break_stops_a_playing_one() {
    let sim = start_sim().await;
    let (client, mut events) = connect(&sim).await;
    let caller = sim.place_call(CallSpec::new("2019", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    execute(
        &client,
        &caller,
        "playback",
        "ivr/no-such-prompt.wav",
        "p-1",
    )
    .await;
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(
        done.header_str("Application-Response"),
        Some("FILE NOT FOUND")
    );

    sim.set_sound_files(SoundFiles::Only(vec!["ivr/welcome.wav".into()]));
    execute(&client, &caller, "playback", "ivr/other.wav", "p-2").await;
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(
        done.header_str("Application-Response"),
        Some("FILE NOT FOUND")
    );
    execute(&client, &caller, "playback", "ivr/welcome.wav", "p-3").await;
    let start = wait_event(&mut events, |e| is(e, "PLAYBACK_START", &caller)).await;
    assert_eq!(start.header_str("Playback-File-Type"), None);
    assert_eq!(
        sim.channel(&caller).and_then(|c| c.running_app).as_deref(),
        Some("playback")
    );
    assert_eq!(
        api(&client, &format!("uuid_break {caller} all")).await,
        "+OK\n"
    );
    let stop = wait_event(&mut events, |e| is(e, "PLAYBACK_STOP", &caller)).await;
    assert_eq!(stop.header_str("Playback-Status"), Some("break"));
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("Application-UUID"), Some("p-3"));
    assert_eq!(done.header_str("Application-Response"), Some("FILE PLAYED"));
    assert_eq!(sim.channel(&caller).and_then(|c| c.running_app), None);
}

// ---- phone registrations --------------------------------------------------------------

async fn connect_with(sim: &SimHandle, subscription: &str) -> (EslClient, EslEventStream) {
    let addr = sim.esl_addr();
    let (client, events) = EslClient::connect("127.0.0.1", addr.port(), "ClueCon")
        .await
        .expect("connect");
    client
        .subscribe_events_raw(EventFormat::Plain, subscription)
        .await
        .expect("subscribe");
    (client, events)
}

fn name_of(ev: &EslEvent) -> String {
    match ev.header_str("Event-Subclass") {
        Some(sub) => format!("CUSTOM {sub}"),
        None => ev.header_str("Event-Name").unwrap_or("").to_string(),
    }
}

async fn next_name(events: &mut EslEventStream) -> String {
    name_of(&wait_event(events, |_| true).await)
}

#[tokio::test]
async fn register_unregister_and_expire_emit_the_captured_event_sequences() {
    let sim = start_sim().await;
    sim.add_phone(phone("1001", PhoneBehavior::Unregistered));
    let (_c, mut events) = connect_with(
        &sim,
        "PRESENCE_IN MESSAGE_QUERY CUSTOM sofia::pre_register sofia::register_attempt \
         sofia::register sofia::unregister sofia::expire",
    )
    .await;
    assert!(sim.register_phone("1001"));
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next_name(&mut events).await);
    }
    assert_eq!(
        seen,
        [
            "CUSTOM sofia::pre_register",
            "CUSTOM sofia::register_attempt",
            "CUSTOM sofia::register",
            "MESSAGE_QUERY"
        ]
    );
    // A re-register has no MESSAGE_QUERY.
    assert!(sim.register_phone("1001"));
    assert!(sim.unregister_phone("1001"));
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(next_name(&mut events).await);
    }
    assert_eq!(
        seen,
        [
            "CUSTOM sofia::pre_register",
            "CUSTOM sofia::register_attempt",
            "CUSTOM sofia::register",
            "CUSTOM sofia::pre_register",
            "CUSTOM sofia::register_attempt",
            "PRESENCE_IN",
            "CUSTOM sofia::unregister",
        ]
    );
    assert!(sim.register_phone("1001"));
    assert!(sim.expire_phone("1001"));
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(wait_event(&mut events, |_| true).await);
    }
    let names: Vec<String> = seen.iter().map(name_of).collect();
    assert_eq!(
        names,
        [
            "CUSTOM sofia::pre_register",
            "CUSTOM sofia::register_attempt",
            "CUSTOM sofia::register",
            "CUSTOM sofia::expire",
            "PRESENCE_IN",
        ]
    );
    assert_eq!(seen[3].header_str("user"), Some("1001"));
    assert_eq!(seen[4].header_str("rpid"), Some("away"));
    assert_eq!(seen[4].header_str("status"), Some("Unregistered"));
    assert_eq!(sim.phone_registered("1001"), Some(false));
}

#[tokio::test]
async fn custom_events_reach_only_connections_subscribed_to_their_subclass() {
    let sim = start_sim().await;
    sim.add_phone(phone(
        "1001",
        PhoneBehavior::Answer {
            after: Duration::from_millis(10),
        },
    ));
    // Every word after CUSTOM is a subclass: PRESENCE_IN here is not an event name.
    let (_a, mut only_unregister) =
        connect_with(&sim, "CUSTOM sofia::unregister PRESENCE_IN").await;
    // CUSTOM without subclasses: no sofia:: event at all.
    let (_b, mut presence_only) = connect_with(&sim, "PRESENCE_IN CUSTOM").await;
    assert!(sim.register_phone("1001"));
    assert!(sim.unregister_phone("1001"));
    assert!(sim.register_phone("1001"));
    assert!(sim.expire_phone("1001"));
    assert!(sim.register_phone("1001"));
    assert!(sim.unregister_phone("1001"));
    assert_eq!(
        next_name(&mut only_unregister).await,
        "CUSTOM sofia::unregister"
    );
    assert_eq!(
        next_name(&mut only_unregister).await,
        "CUSTOM sofia::unregister"
    );
    let first = wait_event(&mut presence_only, |_| true).await;
    assert_eq!(name_of(&first), "PRESENCE_IN");
    assert_eq!(first.header_str("presence-source"), Some("register"));
    let second = wait_event(&mut presence_only, |_| true).await;
    assert_eq!(name_of(&second), "PRESENCE_IN");
    assert_eq!(second.header_str("rpid"), Some("away"));
}

#[tokio::test]
async fn unregistered_or_expired_phones_fail_originates_until_they_register_again() {
    let sim = start_sim().await;
    sim.add_phone(phone(
        "1001",
        PhoneBehavior::Answer {
            after: Duration::from_millis(10),
        },
    ));
    let (client, _events) = connect(&sim).await;
    let originate = "originate {origination_uuid=%s}user/1001 &park";
    let call = |n: u32| originate.replace("%s", &format!("7f0c6a3e-0000-4000-8000-00000000000{n}"));
    assert!(api(&client, &call(1)).await.starts_with("+OK"));
    assert!(sim.unregister_phone("1001"));
    assert_eq!(api(&client, &call(2)).await, "-ERR USER_NOT_REGISTERED\n");
    assert!(sim.register_phone("1001"));
    assert!(api(&client, &call(3)).await.starts_with("+OK"));
    assert!(sim.expire_phone("1001"));
    assert_eq!(api(&client, &call(4)).await, "-ERR USER_NOT_REGISTERED\n");
    assert!(sim.register_phone("1001"));
    assert!(api(&client, &call(5)).await.starts_with("+OK"));
}

#[tokio::test]
async fn registration_calls_on_unknown_or_unregistered_phones_do_nothing() {
    let sim = start_sim().await;
    assert!(!sim.register_phone("nobody"));
    assert!(!sim.unregister_phone("nobody"));
    assert!(!sim.expire_phone("nobody"));
    assert_eq!(sim.phone_registered("nobody"), None);
    sim.add_phone(phone("1001", PhoneBehavior::Busy));
    assert_eq!(sim.phone_registered("1001"), Some(true));
    assert!(sim.unregister_phone("1001"));
    assert!(!sim.unregister_phone("1001"));
    assert!(!sim.expire_phone("1001"));
    // The fault-injection behaviour and the registration are the same thing.
    sim.set_phone_behavior("1001", PhoneBehavior::Busy);
    assert_eq!(sim.phone_registered("1001"), Some(true));
    sim.set_phone_behavior("1001", PhoneBehavior::Unregistered);
    assert_eq!(sim.phone_registered("1001"), Some(false));
}

#[tokio::test]
async fn show_registrations_as_json_lists_registered_phones() {
    let sim = start_sim().await;
    let (client, _events) = connect(&sim).await;
    assert_eq!(
        api(&client, "show registrations as json").await,
        "{\"row_count\": 0}\n"
    );
    sim.add_phone(phone("1002", PhoneBehavior::NoAnswer));
    sim.add_phone(phone("1001", PhoneBehavior::NoAnswer));
    let body = api(&client, "show registrations as json").await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["row_count"], 2);
    let row = &v["rows"][0];
    let keys: Vec<&str> = row
        .as_object()
        .expect("row")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = [
        "reg_user",
        "realm",
        "token",
        "url",
        "expires",
        "network_ip",
        "network_port",
        "network_proto",
        "hostname",
        "metadata",
    ];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    assert_eq!(row["reg_user"], "1001");
    assert_eq!(row["network_proto"], "udp");
    let url = row["url"].as_str().expect("url");
    assert!(
        url.starts_with("sofia/internal/sip:1001@127.0.0.1:"),
        "{url}"
    );
    assert!(sim.unregister_phone("1001"));
    let body = api(&client, "show registrations as json").await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["row_count"], 1);
    assert_eq!(v["rows"][0]["reg_user"], "1002");
}

const RECORD_EVENTS: &str = "CHANNEL_PARK CHANNEL_HANGUP CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE DTMF RECORD_START RECORD_STOP";

/// A parked, answered caller and a connection that sees its recordings.
async fn caller_ready_to_record(sim: &SimHandle) -> (EslClient, EslEventStream, String) {
    let (client, mut events) = connect_with(sim, RECORD_EVENTS).await;
    let caller = sim.place_call(CallSpec::new("2030", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    (client, events, caller)
}

#[tokio::test]
async fn record_stops_on_the_callers_silence_after_the_message() {
    let sim = start_sim().await;
    sim.set_message_length(Duration::from_millis(200));
    let (client, mut events, caller) = caller_ready_to_record(&sim).await;
    let started = tokio::time::Instant::now();
    execute(
        &client,
        &caller,
        "record",
        "/tmp/msg-1.wav 30 200 1",
        "rec-1",
    )
    .await;
    let ex = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE", &caller)).await;
    assert_eq!(ex.header_str("Application"), Some("record"));
    let start = wait_event(&mut events, |e| is(e, "RECORD_START", &caller)).await;
    assert_eq!(start.header_str("Record-File-Path"), Some("/tmp/msg-1.wav"));
    let stop = wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    assert_eq!(stop.header_str("Record-File-Path"), Some("/tmp/msg-1.wav"));
    assert_eq!(
        stop.header_str("Record-Completion-Cause"),
        Some("success-silence")
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1_200) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("Application"), Some("record"));
    assert_eq!(done.header_str("Application-UUID"), Some("rec-1"));
    assert_eq!(done.header_str("Application-Response"), Some("_none_"));
    let ms: u64 = done
        .header_str("variable_record_ms")
        .and_then(|v| v.parse().ok())
        .expect("record_ms");
    assert!(ms >= 1_200, "{ms}");
    assert_eq!(
        done.header_str("variable_record_completion_cause"),
        Some("success-silence")
    );
}

#[tokio::test]
async fn record_without_a_silence_threshold_runs_to_its_limit() {
    let sim = start_sim().await;
    sim.set_message_length(Duration::from_millis(100));
    let (client, mut events, caller) = caller_ready_to_record(&sim).await;
    execute(&client, &caller, "record", "/tmp/msg-2.wav 1", "rec-2").await;
    wait_event(&mut events, |e| is(e, "RECORD_START", &caller)).await;
    let stop = wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    assert_eq!(
        stop.header_str("Record-Completion-Cause"),
        Some("success-maxtime")
    );
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("Application"), Some("record"));
}

#[tokio::test]
async fn a_terminator_key_stops_a_recording_and_other_keys_do_not() {
    let sim = start_sim().await;
    let (client, mut events, caller) = caller_ready_to_record(&sim).await;
    // As our dialplan sets it for flow callers; the switch's default is `*`.
    api(
        &client,
        &format!("uuid_setvar {caller} playback_terminators #"),
    )
    .await;
    execute(&client, &caller, "record", "/tmp/msg-3.wav 30", "rec-3").await;
    wait_event(&mut events, |e| is(e, "RECORD_START", &caller)).await;
    assert!(sim.send_dtmf(&caller, "1*"));
    wait_event(&mut events, |e| {
        is(e, "DTMF", &caller) && e.header_str("DTMF-Digit") == Some("*")
    })
    .await;
    assert_eq!(
        sim.channel(&caller).and_then(|c| c.running_app).as_deref(),
        Some("record")
    );
    assert!(sim.send_dtmf(&caller, "#"));
    let stop = wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    assert_eq!(stop.header_str("Record-Completion-Cause"), None);
    let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
    assert_eq!(done.header_str("Application"), Some("record"));
    assert_eq!(
        done.header_str("variable_playback_terminator_used"),
        Some("#")
    );
}

#[tokio::test]
async fn a_caller_hanging_up_ends_the_recording_before_the_application() {
    let sim = start_sim().await;
    let (client, mut events, caller) = caller_ready_to_record(&sim).await;
    execute(&client, &caller, "record", "/tmp/msg-4.wav 30 200", "rec-4").await;
    wait_event(&mut events, |e| is(e, "RECORD_START", &caller)).await;
    assert!(sim.hangup(&caller, "NORMAL_CLEARING"));
    let mut order = Vec::new();
    for _ in 0..3 {
        let ev = wait_event(&mut events, |e| {
            e.header_str("Unique-ID") == Some(caller.as_str())
                && matches!(
                    e.header_str("Event-Name"),
                    Some("CHANNEL_HANGUP" | "RECORD_STOP" | "CHANNEL_EXECUTE_COMPLETE")
                )
        })
        .await;
        order.push(name_of(&ev));
    }
    assert_eq!(
        order,
        ["CHANNEL_HANGUP", "RECORD_STOP", "CHANNEL_EXECUTE_COMPLETE"]
    );
}

#[tokio::test]
async fn say_accepts_money_and_dates_and_reports_no_prompts_like_the_capture() {
    let sim = start_sim().await;
    let (client, mut events, caller) = caller_ready_to_record(&sim).await;
    for (arg, id) in [
        ("en currency pronounced 12.50", "say-money"),
        ("en current_date pronounced 1795362761", "say-date"),
    ] {
        execute(&client, &caller, "say", arg, id).await;
        let ex = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE", &caller)).await;
        assert_eq!(ex.header_str("Application-Data"), Some(arg));
        let done = wait_event(&mut events, |e| is(e, "CHANNEL_EXECUTE_COMPLETE", &caller)).await;
        assert_eq!(done.header_str("Application"), Some("say"));
        assert_eq!(done.header_str("Application-UUID"), Some(id));
        assert_eq!(done.header_str("Application-Response"), Some("_none_"));
    }
}

/// A caller parked, answered and bridged to an agent leg, with a connection subscribed to
/// the recording events; returns the caller's and the agent's uuids.
pub(crate) async fn bridged_for_recording(
    sim: &SimHandle,
    agent: &str,
    user: &str,
) -> (EslClient, EslEventStream, String) {
    sim.add_phone(phone(
        user,
        PhoneBehavior::Answer {
            after: Duration::from_millis(20),
        },
    ));
    let (client, mut events) = connect_with(
        sim,
        "CHANNEL_PARK CHANNEL_BRIDGE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB RECORD_START RECORD_STOP MEDIA_BUG_START MEDIA_BUG_STOP",
    )
    .await;
    let caller = sim.place_call(CallSpec::new("2020", "5000"));
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", &caller)).await;
    api(&client, &format!("uuid_answer {caller}")).await;
    originate(&client, agent, &format!("user/{user}")).await;
    wait_event(&mut events, |e| is(e, "CHANNEL_PARK", agent)).await;
    api(&client, &format!("uuid_bridge {caller} {agent}")).await;
    wait_event(&mut events, |e| is(e, "CHANNEL_BRIDGE", &caller)).await;
    (client, events, caller)
}

#[tokio::test]
async fn uuid_record_drops_paused_time_keeps_masked_time_and_only_start_and_stop_are_events() {
    let sim = start_sim().await;
    let agent = "11111111-0000-4000-8000-000000000020";
    let (client, mut events, caller) = bridged_for_recording(&sim, agent, "1020").await;
    let path = format!("/tmp/rec-{caller}.wav");
    let record = |action: &str| format!("uuid_record {caller} {action} {path}");
    assert_eq!(api(&client, &record("start")).await, "+OK Success\n");
    let start = wait_event(&mut events, |e| e.header_str("Unique-ID") == Some(&caller)).await;
    assert_eq!(start.header_str("Event-Name"), Some("RECORD_START"));
    assert_eq!(start.header_str("Record-File-Path"), Some(path.as_str()));
    let bug = wait_event(&mut events, |e| e.header_str("Unique-ID") == Some(&caller)).await;
    assert_eq!(bug.header_str("Event-Name"), Some("MEDIA_BUG_START"));
    assert_eq!(bug.header_str("Media-Bug-Function"), Some("session_record"));
    assert_eq!(bug.header_str("Media-Bug-Target"), Some(path.as_str()));

    for action in ["mask", "unmask", "pause"] {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(api(&client, &record(action)).await, "+OK Success\n");
    }
    let live = sim.channel(&caller).expect("caller").recordings;
    assert_eq!(live.len(), 1);
    assert!(live[0].paused && !live[0].masked);
    assert_eq!(live[0].masked_intervals.len(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(api(&client, &record("resume")).await, "+OK Success\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(api(&client, &record("stop")).await, "+OK Success\n");

    let stop = wait_event(&mut events, |e| e.header_str("Unique-ID") == Some(&caller)).await;
    assert_eq!(
        stop.header_str("Event-Name"),
        Some("RECORD_STOP"),
        "mask, unmask, pause and resume are no events"
    );
    assert_eq!(stop.header_str("Record-File-Path"), Some(path.as_str()));
    let ms: u64 = stop
        .header_str("variable_record_ms")
        .and_then(|v| v.parse().ok())
        .expect("record_ms");
    // 1,200 ms of wall time, 400 of them paused; the 200 masked are kept.
    assert!((780..=1150).contains(&ms), "record_ms {ms}");
    let bug = wait_event(&mut events, |e| e.header_str("Unique-ID") == Some(&caller)).await;
    assert_eq!(bug.header_str("Event-Name"), Some("MEDIA_BUG_STOP"));

    let recorded = sim.recorded();
    let (on, done) = recorded.last().expect("a stopped recording");
    assert_eq!(on, &caller);
    assert_eq!(done.paused_intervals.len(), 1);
    assert_eq!(done.masked_intervals.len(), 1);
    let paused = done.paused_intervals[0].to - done.paused_intervals[0].from;
    assert!(paused >= Duration::from_millis(400), "paused {paused:?}");
    assert!(sim.channel(&caller).expect("caller").recordings.is_empty());
}

#[tokio::test]
async fn uuid_record_refuses_unknown_channels_recordings_and_actions() {
    let sim = start_sim().await;
    let agent = "11111111-0000-4000-8000-000000000021";
    let (client, _events, caller) = bridged_for_recording(&sim, agent, "1021").await;
    let usage =
        "-USAGE: <uuid> [start|stop|mask|unmask|pause|resume] <path> [<limit>] [<recording_vars>]\n";
    assert_eq!(api(&client, "uuid_record").await, usage);
    assert_eq!(
        api(&client, &format!("uuid_record {caller} start")).await,
        usage
    );
    assert_eq!(
        api(&client, &format!("uuid_record {caller} rewind /tmp/a.wav")).await,
        usage
    );
    assert_eq!(
        api(
            &client,
            "uuid_record 00000000-0000-4000-8000-000000000000 start /tmp/a.wav"
        )
        .await,
        "-ERR Cannot locate session!\n"
    );
    for (action, reply) in [
        ("stop", "-ERR Cannot stop record session!\n"),
        ("mask", "-ERR Cannot mask recording session!\n"),
        ("unmask", "-ERR Cannot unmask recording session!\n"),
        ("pause", "-ERR Cannot pause recording session!\n"),
        ("resume", "-ERR Cannot resume recording session!\n"),
    ] {
        assert_eq!(
            api(
                &client,
                &format!("uuid_record {caller} {action} /tmp/none.wav")
            )
            .await,
            reply
        );
    }
    assert_eq!(
        api(&client, &format!("uuid_record {caller} stop all")).await,
        "-ERR Cannot stop record session!\n"
    );
}

#[tokio::test]
async fn a_recording_running_at_hangup_stops_between_hangup_and_hangup_complete() {
    let sim = start_sim().await;
    let agent = "11111111-0000-4000-8000-000000000022";
    let (client, mut events, caller) = bridged_for_recording(&sim, agent, "1022").await;
    let path = format!("/tmp/rec-{caller}.wav");
    assert_eq!(
        api(&client, &format!("uuid_record {caller} start {path}")).await,
        "+OK Success\n"
    );
    wait_event(&mut events, |e| is(e, "MEDIA_BUG_START", &caller)).await;
    assert!(sim.hangup(agent, "NORMAL_CLEARING"));
    wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP", &caller)).await;
    let stop = wait_event(&mut events, |e| e.header_str("Unique-ID") == Some(&caller)).await;
    assert_eq!(stop.header_str("Event-Name"), Some("RECORD_STOP"));
    assert_eq!(stop.header_str("Record-File-Path"), Some(path.as_str()));
    let bug = wait_event(&mut events, |e| e.header_str("Unique-ID") == Some(&caller)).await;
    assert_eq!(bug.header_str("Event-Name"), Some("MEDIA_BUG_STOP"));
    let complete = wait_event(&mut events, |e| e.header_str("Unique-ID") == Some(&caller)).await;
    assert_eq!(
        complete.header_str("Event-Name"),
        Some("CHANNEL_HANGUP_COMPLETE")
    );
}

#[tokio::test]
async fn uuid_record_with_a_limit_stops_by_itself() {
    let sim = start_sim().await;
    let agent = "11111111-0000-4000-8000-000000000023";
    let (client, mut events, caller) = bridged_for_recording(&sim, agent, "1023").await;
    assert_eq!(
        api(
            &client,
            &format!("uuid_record {caller} start /tmp/short.wav 1")
        )
        .await,
        "+OK Success\n"
    );
    let stop = wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    assert_eq!(stop.header_str("Record-File-Path"), Some("/tmp/short.wav"));
}

#[tokio::test]
async fn uuid_record_over_bgapi_records_and_answers_in_its_background_job() {
    let sim = start_sim().await;
    let agent = "11111111-0000-4000-8000-000000000024";
    let (client, mut events, caller) = bridged_for_recording(&sim, agent, "1024").await;
    let job = client
        .bgapi(&format!("uuid_record {caller} start /tmp/bg.wav"))
        .await
        .expect("bgapi");
    let job = job.job_uuid().expect("job uuid").to_string();
    wait_event(&mut events, |e| is(e, "RECORD_START", &caller)).await;
    assert_eq!(job_result(&mut events, &job).await, "+OK Success\n");
    assert_eq!(sim.channel(&caller).expect("caller").recordings.len(), 1);
}

#[tokio::test]
async fn record_stereo_set_before_uuid_record_makes_that_recording_stereo() {
    let sim = start_sim().await;
    let agent = "11111111-0000-4000-8000-000000000025";
    let (client, mut events, caller) = bridged_for_recording(&sim, agent, "1025").await;
    let record = |action: &str, file: &str| format!("uuid_record {caller} {action} /tmp/{file}");
    assert_eq!(
        api(&client, &record("start", "mono.wav")).await,
        "+OK Success\n"
    );
    assert_eq!(
        api(&client, &record("stop", "mono.wav")).await,
        "+OK Success\n"
    );
    wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    assert_eq!(
        api(&client, &format!("uuid_setvar {caller} RECORD_STEREO true")).await,
        "+OK\n"
    );
    assert_eq!(
        api(&client, &record("start", "stereo.wav")).await,
        "+OK Success\n"
    );
    assert_eq!(
        sim.channel(&caller).expect("caller").recordings[0].channels,
        2
    );
    assert_eq!(
        api(&client, &record("stop", "stereo.wav")).await,
        "+OK Success\n"
    );
    wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    let channels: Vec<(String, u16)> = sim
        .recorded()
        .into_iter()
        .filter(|(on, _)| on == &caller)
        .map(|(_, r)| (r.path, r.channels))
        .collect();
    assert_eq!(
        channels,
        [
            ("/tmp/mono.wav".to_owned(), 1),
            ("/tmp/stereo.wav".to_owned(), 2)
        ]
    );
}

#[tokio::test]
async fn uuid_broadcast_is_accepted_as_mod_commands_does_and_kept_for_tests() {
    let sim = start_sim().await;
    let agent = "11111111-0000-4000-8000-000000000026";
    let (client, _events, caller) = bridged_for_recording(&sim, agent, "1026").await;
    let tone = "tone_stream://%(200,0,1400)";
    assert_eq!(
        api(&client, &format!("uuid_broadcast {caller} {tone} both")).await,
        "+OK Message sent\n"
    );
    assert_eq!(
        api(&client, &format!("uuid_broadcast {caller}")).await,
        "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
    );
    assert_eq!(
        sim.broadcasts(),
        [switchboard::sim::Broadcast {
            uuid: caller.clone(),
            path: tone.to_owned(),
            legs: "both".to_owned(),
        }]
    );
}

#[tokio::test]
async fn with_a_disk_root_uuid_record_leaves_a_wav_as_long_as_record_ms_below_it() {
    let sim = start_sim().await;
    let disk = tempfile::tempdir().expect("tempdir");
    sim.set_disk_root(Some(disk.path().to_path_buf()));
    let agent = "11111111-0000-4000-8000-000000000027";
    let (client, mut events, caller) = bridged_for_recording(&sim, agent, "1027").await;
    let path = "/var/lib/freeswitch/recordings/2026-11-23/support/e2e.wav";
    let record = |action: &str| format!("uuid_record {caller} {action} {path}");
    assert_eq!(api(&client, &record("start")).await, "+OK Success\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(api(&client, &record("pause")).await, "+OK Success\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api(&client, &record("resume")).await, "+OK Success\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !disk.path().join(&path[1..]).exists(),
        "the file is written when the recording stops"
    );
    assert_eq!(api(&client, &record("stop")).await, "+OK Success\n");
    let stop = wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    let var = |name: &str| -> u64 {
        stop.header_str(name)
            .and_then(|v| v.parse().ok())
            .expect(name)
    };
    let file = disk
        .path()
        .join("var/lib/freeswitch/recordings/2026-11-23/support/e2e.wav");
    assert_eq!(sim.disk_file(path).as_deref(), Some(file.as_path()));
    let bytes = std::fs::read(&file).expect("the file is there when RECORD_STOP arrives");
    assert_eq!(bytes.len() as u64, var("variable_record_file_size"));
    assert_eq!(bytes.len() as u64, 44 + var("variable_record_ms") * 16);
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let ms = var("variable_record_ms");
    assert!(ms < 700, "the pause is not in the file: {ms} ms");

    // Stereo: twice the bytes per sample.
    assert_eq!(
        api(&client, &format!("uuid_setvar {caller} RECORD_STEREO true")).await,
        "+OK\n"
    );
    let stereo = "/var/lib/freeswitch/recordings/stereo.wav";
    let start = format!("uuid_record {caller} start {stereo}");
    assert_eq!(api(&client, &start).await, "+OK Success\n");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stop_cmd = format!("uuid_record {caller} stop {stereo}");
    assert_eq!(api(&client, &stop_cmd).await, "+OK Success\n");
    let stop = wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    let ms: u64 = stop
        .header_str("variable_record_ms")
        .and_then(|v| v.parse().ok())
        .expect("record_ms");
    let bytes = std::fs::read(disk.path().join(&stereo[1..])).expect("stereo file");
    assert_eq!(bytes.len() as u64, 44 + ms * 32);
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2);
}

#[tokio::test]
async fn a_uuid_record_path_that_climbs_out_is_recorded_but_never_written() {
    let sim = start_sim().await;
    let outer = tempfile::tempdir().expect("tempdir");
    let disk = outer.path().join("disk");
    std::fs::create_dir(&disk).expect("disk");
    sim.set_disk_root(Some(disk.clone()));
    let agent = "11111111-0000-4000-8000-000000000028";
    let (client, mut events, caller) = bridged_for_recording(&sim, agent, "1028").await;
    let path = "/rec/../../escaped.wav";
    assert_eq!(
        api(&client, &format!("uuid_record {caller} start {path}")).await,
        "+OK Success\n"
    );
    assert_eq!(
        api(&client, &format!("uuid_record {caller} stop {path}")).await,
        "+OK Success\n"
    );
    wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    assert!(sim.disk_file(path).is_none());
    assert!(!outer.path().join("escaped.wav").exists());
    assert!(
        !disk.join("rec").exists(),
        "nothing was made below the root"
    );
}
