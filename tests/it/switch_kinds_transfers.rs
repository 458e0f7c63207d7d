//! Transfers from an agent's desk phone (a SIP REFER), run on both switch kinds as
//! `switch_kinds` runs its scenarios: the controller keeps one call, ends the agent's part as
//! a transfer, and a transfer to a queue's number brings the same call to that queue's agent.
//! On Asterisk the switch's side is assumed from its source (no capture shows a REFER there):
//! see `ari::transfer`.

use serde_json::Value;
use switchboard::engine::{AgentStatus, CallOutcome, QueueRouting};
use switchboard::sim::CallSpec;

use crate::harness::{eventually, queue_row, wait_status, TestApp, ENTRY};
use crate::kinds::{spawn_on, Entry, Kind, KindSetup};
use crate::switch_kinds::{answering, bridged_leg, ended_call, no_channels_left, on_both_switches};

on_both_switches!(
    a_blind_transfer_from_the_phone_keeps_one_call_ended_as_transferred_when_the_caller_leaves,
    a_transfer_from_the_phone_to_a_queues_number_brings_the_same_call_to_that_queues_agent,
    after_an_attended_transfer_from_the_phone_the_consulted_agent_has_the_same_call,
);

const SALES_NUMBER: &str = "5010";

fn support_and_sales() -> KindSetup {
    KindSetup {
        queues: vec![
            queue_row("support", QueueRouting::default()),
            queue_row("sales", QueueRouting::default()),
        ],
        agents: vec![
            answering("1001", 50),
            answering("1002", 50).in_queues(&["sales"]),
        ],
        entries: vec![Entry::Queue {
            number: SALES_NUMBER,
            queue: "sales",
        }],
        ..KindSetup::default()
    }
}

/// The queue events of the call, and its whole `GET /v1/calls/{id}` body.
async fn queue_event_kinds(app: &TestApp, call: &str) -> (Vec<String>, Value) {
    let body: Value = app
        .get(&format!("/v1/calls/{call}"))
        .await
        .json()
        .await
        .expect("JSON");
    (crate::harness::queue_event_kinds(&body), body)
}

async fn a_blind_transfer_from_the_phone_keeps_one_call_ended_as_transferred_when_the_caller_leaves(
    kind: Kind,
) {
    let app = spawn_on(kind, support_and_sales()).await;
    let caller = app.dial(CallSpec::new("4930201", ENTRY));
    let leg = bridged_leg(&app, &caller).await;
    wait_status(&app, "1001", AgentStatus::OnCall).await;
    assert!(app.phone_blind_transfers(&leg, "9199"));
    wait_status(&app, "1001", AgentStatus::Available).await;
    eventually("the agent's leg is gone", || async { !app.is_up(&leg) }).await;
    assert!(app.is_up(&caller), "the caller went on to 9199");
    assert!(app.far_end_hangs_up(&caller));
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.outcome, Some(CallOutcome::Transferred));
    let (kinds, body) = queue_event_kinds(&app, &call.id.to_string()).await;
    assert_eq!(
        kinds,
        [
            "support enter",
            "support offer",
            "support connect",
            "support transfer"
        ],
        "{body}"
    );
    let detail = body["queue_events"][3]["detail"].as_str().unwrap_or("");
    assert!(
        detail.starts_with("kind=blind from=1001 to=9199 by=1001"),
        "{detail}"
    );
    no_channels_left(&app).await;
}

async fn a_transfer_from_the_phone_to_a_queues_number_brings_the_same_call_to_that_queues_agent(
    kind: Kind,
) {
    let app = spawn_on(kind, support_and_sales()).await;
    let caller = app.dial(CallSpec::new("4930202", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    wait_status(&app, "1001", AgentStatus::OnCall).await;
    assert!(app.phone_blind_transfers(&first, SALES_NUMBER));
    eventually("the caller talks to the sales agent", || async {
        app.partner_of(&caller).is_some_and(|leg| leg != first)
    })
    .await;
    wait_status(&app, "1002", AgentStatus::OnCall).await;
    wait_status(&app, "1001", AgentStatus::Available).await;
    assert!(app.far_end_hangs_up(&caller));
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.outcome, Some(CallOutcome::Completed));
    assert_eq!(call.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    let (kinds, body) = queue_event_kinds(&app, &call.id.to_string()).await;
    assert_eq!(
        kinds,
        [
            "support enter",
            "support offer",
            "support connect",
            "support transfer",
            "sales enter",
            "sales offer",
            "sales connect",
            "sales complete"
        ],
        "{body}"
    );
    no_channels_left(&app).await;
}

async fn after_an_attended_transfer_from_the_phone_the_consulted_agent_has_the_same_call(
    kind: Kind,
) {
    let app = spawn_on(kind, support_and_sales()).await;
    let caller = app.dial(CallSpec::new("4930203", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    wait_status(&app, "1001", AgentStatus::OnCall).await;
    let consult = app
        .phone_consult_call(&first, "1002")
        .expect("the agent's phone calls 1002");
    eventually("the consultation reaches phone 1002", || async {
        app.partner_of(&consult).is_some()
    })
    .await;
    let target = app.partner_of(&consult).unwrap_or_default();
    eventually("agent 1002 is busy on the consultation", || async {
        let body: Value = app
            .get("/v1/agents/1002")
            .await
            .json()
            .await
            .unwrap_or_default();
        body["busy_elsewhere"] == true
    })
    .await;
    assert!(app.phone_attended_transfers(&first, &consult));
    wait_status(&app, "1002", AgentStatus::OnCall).await;
    wait_status(&app, "1001", AgentStatus::Available).await;
    eventually("the first agent's leg is gone", || async {
        !app.is_up(&first)
    })
    .await;
    assert!(app.is_up(&caller) && app.is_up(&target));
    assert!(app.far_end_hangs_up(&caller));
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.outcome, Some(CallOutcome::Completed));
    assert_eq!(call.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    assert_eq!(
        call.agent_channel.as_ref().map(|c| c.as_str()),
        Some(target.as_str())
    );
    let (kinds, body) = queue_event_kinds(&app, &call.id.to_string()).await;
    assert_eq!(
        kinds,
        [
            "support enter",
            "support offer",
            "support connect",
            "support consult",
            "support transfer",
            "support connect",
            "support complete"
        ],
        "{body}"
    );
    no_channels_left(&app).await;
}
