//! The published snapshot, built from what changed, is always what a full rebuild shows.
//!
//! `Bench::record` and the property tests call `assert_published_is_rebuilt` after every
//! input, so every scenario of the engine's tests checks the change tracking is complete.

use super::*;

/// Publishes and compares with a full rebuild: the same JSON, byte for byte, and the same
/// views (fields the JSON leaves out too).
pub(super) fn assert_published_is_rebuilt(engine: &mut Engine, now: Timestamp) {
    let published = engine.snapshot(now);
    let rebuilt = engine.full_snapshot(now);
    assert_eq!(
        format!("{:?}", published.agents),
        format!("{:?}", rebuilt.agents)
    );
    assert_eq!(
        format!("{:?}", published.calls),
        format!("{:?}", rebuilt.calls)
    );
    assert_eq!(
        serde_json::to_string(&published).expect("a snapshot serializes"),
        serde_json::to_string(&rebuilt).expect("a snapshot serializes")
    );
}

fn registration(b: &mut Bench, at: i64, user: &str, registered: bool) {
    let effects = b.engine.handle(
        ts(at),
        Input::PhoneRegistration {
            switch: sw(),
            user: user.into(),
            registered,
            cause: "register".into(),
        },
    );
    b.record(at, &format!("{user} registered={registered}"), effects);
}

#[test]
fn a_phone_registering_republishes_the_agents_whose_phone_it_is() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    b.engine.snapshot(ts(0));
    registration(&mut b, 100, "1001", true);
    let snapshot = b.engine.snapshot(ts(200));
    let shown = |id: &str| {
        snapshot
            .agents
            .get(&aid(id))
            .expect("agent")
            .registered_on
            .clone()
    };
    assert_eq!(shown("1001"), ["fs1"]);
    assert!(shown("1002").is_empty());
    registration(&mut b, 300, "1001", false);
    assert!(b.engine.snapshot(ts(400)).agents[0]
        .registered_on
        .is_empty());
}

#[test]
fn a_publish_with_nothing_changed_shows_the_same_views() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    b.available(0, "1001");
    b.park(100, 1, "111");
    let first = b.engine.snapshot(ts(200));
    let second = b.engine.snapshot(ts(300));
    assert_eq!(
        serde_json::to_value(&first.agents).expect("json"),
        serde_json::to_value(&second.agents).expect("json")
    );
    assert_eq!(first.calls.len(), 1);
    assert_eq!(
        second.calls.get(first.calls[0].id).map(|c| c.state),
        Some("ringing")
    );
}

#[test]
fn an_agent_removed_or_a_call_ended_leaves_the_published_views() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    b.park(100, 1, "111");
    assert_eq!(b.engine.snapshot(ts(150)).calls.len(), 1);
    b.hangup(200, chan(1), "NORMAL_CLEARING");
    assert!(b.engine.snapshot(ts(300)).calls.is_empty());
}
