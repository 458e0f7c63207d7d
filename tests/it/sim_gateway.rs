//! The simulator's `sofia/gateway/<name>/<user>` between two linked simulators (see
//! `src/sim/switch/gateway.rs` for what is assumed): the far phone's behaviour decides the
//! originate's result on the near switch, and hangups cross in both directions.

use std::time::Duration;

use freeswitch_esl_tokio::EslClient;
use switchboard::sim::{PhoneBehavior, PhoneSpec, SimHandle};

use crate::sim::start_sim;

/// Two linked simulators (A reaches B as gateway `b`), B with phone `agent9`, and an ESL
/// client on A.
async fn linked(
    behavior: PhoneBehavior,
    talk: Option<Duration>,
) -> (SimHandle, SimHandle, EslClient) {
    let (a, b) = (start_sim().await, start_sim().await);
    b.add_phone(PhoneSpec {
        user: "agent9".into(),
        behavior,
        hangup_after_talk: talk,
    });
    a.link_gateway("b", &b);
    let port = a.esl_addr().port();
    let (client, _events) = EslClient::connect("127.0.0.1", port, "ClueCon")
        .await
        .expect("connect");
    (a, b, client)
}

const LEG: &str = "99999999-2222-4333-8444-555555555555";

async fn originate(client: &EslClient, dial: &str, timeout: u32) -> String {
    let reply = client
        .api(&format!(
            "originate {{origination_uuid={LEG},originate_timeout={timeout}}}{dial} &park()"
        ))
        .await
        .expect("api");
    reply.body().unwrap_or("").to_owned()
}

async fn until(sim: &SimHandle, what: &str, cond: impl FnMut(&SimHandle) -> bool) {
    assert!(
        sim.wait_until(Duration::from_secs(5), cond).await,
        "timed out waiting until {what}"
    );
}

#[tokio::test]
async fn a_gateway_call_answered_on_the_far_switch_answers_the_near_leg_and_hangs_up_both_ways() {
    let (a, b, client) = linked(
        PhoneBehavior::Answer {
            after: Duration::from_millis(30),
        },
        Some(Duration::from_millis(200)),
    )
    .await;
    assert_eq!(
        originate(&client, "sofia/gateway/b/agent9", 5).await,
        format!("+OK {LEG}\n")
    );
    assert!(a.channel(LEG).is_some_and(|c| c.answered));
    let far = b.channels();
    assert_eq!(far.len(), 1);
    assert!(far[0].answered && !far[0].is_outbound_leg);
    assert_eq!(far[0].destination, "agent9");
    until(&a, "the far phone's hangup ends the near leg", |a| {
        a.channel(LEG).is_none()
    })
    .await;
    assert!(b.channels().is_empty());

    let (a, b, client) = linked(
        PhoneBehavior::Answer {
            after: Duration::from_millis(30),
        },
        None,
    )
    .await;
    // As the shipped dialplans/switchboard-reach.xml has the far switch take it.
    assert!(originate(&client, "sofia/gateway/b/switchboard-agent9", 5)
        .await
        .starts_with("+OK"));
    assert_eq!(
        client
            .api(&format!("uuid_kill {LEG}"))
            .await
            .expect("kill")
            .body(),
        Some("+OK\n")
    );
    until(&b, "the near hangup ends the far call", |b| {
        b.channels().is_empty()
    })
    .await;
    assert!(a.channel(LEG).is_none());
}

#[tokio::test]
async fn a_far_phone_that_cannot_take_the_call_fails_the_near_originate_with_its_cause() {
    for (behavior, cause) in [
        (PhoneBehavior::Busy, "USER_BUSY"),
        (PhoneBehavior::Reject, "CALL_REJECTED"),
        (PhoneBehavior::Unregistered, "NO_USER_RESPONSE"),
    ] {
        let (a, b, client) = linked(behavior, None).await;
        assert_eq!(
            originate(&client, "sofia/gateway/b/agent9", 5).await,
            format!("-ERR {cause}\n")
        );
        assert!(a.channels().is_empty() && b.channels().is_empty());
    }
    let (_, b, client) = linked(
        PhoneBehavior::Answer {
            after: Duration::ZERO,
        },
        None,
    )
    .await;
    assert_eq!(
        originate(&client, "sofia/gateway/b/nobody", 5).await,
        "-ERR NO_USER_RESPONSE\n",
        "a user with no phone on the far switch"
    );
    assert!(b.channels().is_empty());
}

#[tokio::test]
async fn a_far_phone_that_rings_on_times_out_on_the_near_switch_and_is_cancelled() {
    let (a, b, client) = linked(PhoneBehavior::NoAnswer, None).await;
    assert_eq!(
        originate(&client, "sofia/gateway/b/agent9", 1).await,
        "-ERR NO_ANSWER\n"
    );
    until(&b, "the far call is cancelled", |b| b.channels().is_empty()).await;
    assert!(a.channels().is_empty());
}

#[tokio::test]
async fn a_gateway_no_simulator_is_linked_under_fails_at_once_like_an_unknown_gateway() {
    let (a, b, client) = linked(
        PhoneBehavior::Answer {
            after: Duration::ZERO,
        },
        None,
    )
    .await;
    assert_eq!(
        originate(&client, "sofia/gateway/elsewhere/agent9", 5).await,
        "-ERR INVALID_GATEWAY\n"
    );
    assert!(a.channels().is_empty() && b.channels().is_empty());
}
