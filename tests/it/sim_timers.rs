//! The simulator's timers live no longer than what they time (issue 16): a `uuid_record`'s
//! `<limit>` timer is a task sleeping until the limit, and one left behind by every recording
//! stopped early (the controller asks for 4 hours) made the soak's memory grow with every call.

use std::time::Duration;

use tokio::runtime::Handle;

use crate::sim::{api, bridged_for_recording, is, start_sim, wait_event};

/// Live tasks of this test's runtime once those that are finishing have been reaped.
async fn alive_tasks() -> usize {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Handle::current().metrics().num_alive_tasks()
}

#[tokio::test]
async fn recordings_stopped_or_hung_up_before_their_limit_leave_no_timer_task() {
    let sim = start_sim().await;
    let agent = "11111111-0000-4000-8000-000000000026";
    let (client, mut events, caller) = bridged_for_recording(&sim, agent, "1026").await;
    let before = alive_tasks().await;
    for n in 0..20 {
        let path = format!("/tmp/limit-{n}.wav");
        let start = format!("uuid_record {caller} start {path} 14400");
        assert_eq!(api(&client, &start).await, "+OK Success\n");
        let stop = format!("uuid_record {caller} stop {path}");
        assert_eq!(api(&client, &stop).await, "+OK Success\n");
        wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    }
    let after_stops = alive_tasks().await;
    assert!(
        after_stops < before + 5,
        "20 recordings stopped: {before} tasks before, {after_stops} after"
    );
    // One still running when its channel hangs up goes with it.
    let start = format!("uuid_record {caller} start /tmp/limit-last.wav 14400");
    assert_eq!(api(&client, &start).await, "+OK Success\n");
    assert!(alive_tasks().await > after_stops, "the limit's timer runs");
    api(&client, &format!("uuid_kill {caller}")).await;
    wait_event(&mut events, |e| is(e, "RECORD_STOP", &caller)).await;
    wait_event(&mut events, |e| is(e, "CHANNEL_HANGUP_COMPLETE", &caller)).await;
    let after_hangup = alive_tasks().await;
    assert!(
        after_hangup <= after_stops,
        "hung up: {after_stops} tasks before, {after_hangup} after"
    );
}
