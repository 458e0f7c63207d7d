//! Behaviour of the FreeSWITCH simulator over real TCP, driven with the ESL client crate
//! the adapter uses.

use std::time::Duration;

use freeswitch_esl_tokio::{EslClient, EslEvent, EslEventStream, EventFormat};
use switchboard::sim::{
    CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEADLINE: Duration = Duration::from_secs(5);
const SUBSCRIPTION: &str = "CHANNEL_PARK CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_DESTROY CHANNEL_PROGRESS BACKGROUND_JOB HEARTBEAT SHUTDOWN PLAYBACK_START PLAYBACK_STOP";

async fn start_sim() -> SimHandle {
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
async fn wait_event(events: &mut EslEventStream, pred: impl Fn(&EslEvent) -> bool) -> EslEvent {
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

fn is(ev: &EslEvent, name: &str, uuid: &str) -> bool {
    ev.header_str("Event-Name") == Some(name) && ev.header_str("Unique-ID") == Some(uuid)
}

async fn api(client: &EslClient, cmd: &str) -> String {
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
