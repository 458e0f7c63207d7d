//! Calls the history holds open whose caller the switch no longer has when a controller starts
//! (a restart, or a standby taking over, while callers hung up unheard): ended as lost, so no
//! call stays open in the history for ever.

use super::core::Engine;
use super::ids::CallId;
use super::io::Effect;
use super::record::{CallOutcome, Record};
use super::time::Timestamp;

impl Engine {
    /// Ends `calls` (open in the history, their caller not on its switch at a resync) as lost,
    /// but for those this engine holds (a restored callback has no channel, and is not lost).
    pub fn close_forgotten_calls(&mut self, now: Timestamp, calls: &[CallId]) -> Vec<Effect> {
        calls
            .iter()
            .filter(|call| !self.calls.contains_key(call))
            .map(|&call| {
                Effect::Persist(Record::CallEnded {
                    call,
                    outcome: CallOutcome::Lost,
                    hangup_cause: "CHANNEL_LOST".to_owned(),
                    talk_ms: None,
                    wait_ms: None,
                    at: now,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_open_in_the_history_that_no_one_holds_ends_as_lost_once() {
        let mut engine = Engine::new(1);
        let call = CallId::from_uuid(uuid::Uuid::from_u128(7));
        let effects = engine.close_forgotten_calls(Timestamp::from_millis(5), &[call]);
        assert!(matches!(
            effects.as_slice(),
            [Effect::Persist(Record::CallEnded {
                call: c,
                outcome: CallOutcome::Lost,
                ..
            })] if *c == call
        ));
    }
}
