//! A consult step asked in the window between the target's answer and its originate's return
//! (issue 17). On the target's CHANNEL_ANSWER the engine bridges the agent's leg to the target's
//! (`uuid_bridge <A> <K>`); that bridge lands before the originate returned, so it completes only
//! when the switch answers the job (`-ERR ORIGINATOR_CANCEL`, `bridge-before-and-after-job` A5),
//! or the job returned first (`+OK`) and the bridge is then done at once. A second
//! `uuid_bridge` naming the agent's or the target's leg inside that window is not one the
//! captures show: the simulator ignores it, and a completion sent then would leave the caller
//! parked until it hung up (the call ended `completed` by the caller, not `transferred`).
//!
//! So a step (complete, cancel, swap) asked while the consult is `talking` but its leg not yet
//! established is kept, one at a time, and carried out when the originate's BACKGROUND_JOB
//! arrives; a second step asked meanwhile is refused (409). The REST reply is 202 either way:
//! the step's `consult` queue event is written when it is sent to the switch.

use super::consult::{ConsultAction, ConsultError, ConsultPhase};
use super::hold::HoldBy;
use std::collections::HashMap;

use super::ids::{CallId, ChannelId, SwitchName};
use super::io::{ChannelSnapshot, Effect};
use super::time::Timestamp;
use super::Engine;

impl Engine {
    /// A step asked before the consult leg is established: kept until it is.
    pub(super) fn consult_step_held(
        &mut self,
        call: CallId,
        action: ConsultAction,
        by: HoldBy,
    ) -> Result<Vec<Effect>, ConsultError> {
        let Some(consult) = self.consults.calls.get_mut(&call) else {
            return Err(ConsultError::NoConsult(call));
        };
        if consult.pending.is_some() {
            return Err(ConsultError::StepPending(call));
        }
        consult.pending = Some((action, by));
        Ok(Vec::new())
    }

    /// The originate of a consult's leg returned (`+OK`, or `-ERR` for a leg that answered):
    /// the leg is established, and a step kept meanwhile is carried out now.
    pub(super) fn consult_leg_returned(
        &mut self,
        now: Timestamp,
        leg: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.consults.legs.get(leg).copied() else {
            return;
        };
        let Some(consult) = self.consults.calls.get_mut(&call) else {
            return;
        };
        if !consult.answered {
            // Not answered yet (a `+OK` never comes before the answer; kept for safety).
            return;
        }
        consult.established = true;
        let pending = consult.pending.take();
        if consult.phase != ConsultPhase::Talking {
            return;
        }
        if let Some((action, by)) = pending {
            // Refused only if the call changed meanwhile; its own inputs said so.
            if let Ok(more) = self.consult_action(now, call, action, by) {
                effects.extend(more);
            }
        }
    }

    /// After a reconnect the originate's BACKGROUND_JOB may never come: a consult leg the
    /// switch lists answered and bridged to the agent's leg is established.
    pub(super) fn consults_established_at_resync(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        present: &HashMap<ChannelId, &ChannelSnapshot>,
        effects: &mut Vec<Effect>,
    ) {
        let mut legs: Vec<ChannelId> = self
            .consults
            .calls
            .iter()
            .filter(|(id, c)| {
                c.answered
                    && !c.established
                    && self
                        .calls
                        .get(id)
                        .is_some_and(|call| &call.switch == switch)
                    && present
                        .get(&c.leg)
                        .is_some_and(|s| s.answered && s.bridged_to.as_ref() == Some(&c.agent_leg))
            })
            .map(|(_, c)| c.leg.clone())
            .collect();
        legs.sort();
        for leg in legs {
            self.consult_leg_returned(now, &leg, effects);
        }
    }
}
