//! What agents do from their desk phones: feature codes our dialplan parks for the controller
//! (log in, log out, pause with a reason, ready, end wrap-up, the BLF key's toggle). Each call
//! is answered, confirmed with a rising tone or refused with a busy-like one, and hung up.

use super::core::{Engine, RequestedState};
use super::ids::{ChannelUuid, SwitchName};
use super::io::{Effect, Feature, SwitchCommand};
use super::model::AgentState;
use super::record::StateCause;
use super::time::Timestamp;

/// Heard when the feature code did what was asked.
pub const CONFIRM_TONE: &str = "tone_stream://%(200,100,880);%(400,0,1320)";
/// Heard when it was refused (unknown phone, no such pause reason, on a call).
pub const REFUSE_TONE: &str = "tone_stream://%(250,250,480,620);loops=3";
/// The pause reason of the BLF key's toggle and of a pause keyed without a code when no
/// reasons are provisioned.
pub const PHONE_PAUSE: &str = "phone";

impl Engine {
    /// The pause reasons an agent may key in (empty: any code is accepted).
    pub fn set_pause_reasons(&mut self, codes: impl IntoIterator<Item = String>) {
        self.pause_codes = codes.into_iter().collect();
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn feature_code(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channel: &ChannelUuid,
        feature: Feature,
        user: &str,
        reason: Option<String>,
        effects: &mut Vec<Effect>,
    ) {
        let done = self.apply_feature(now, feature, user, reason, effects);
        let tone = if done { CONFIRM_TONE } else { REFUSE_TONE };
        for command in [
            SwitchCommand::Answer {
                channel: channel.clone(),
            },
            SwitchCommand::Play {
                channel: channel.clone(),
                source: tone.to_owned(),
            },
            SwitchCommand::HangupAfterPrompts {
                channel: channel.clone(),
            },
        ] {
            effects.push(Effect::Switch {
                switch: switch.clone(),
                affinity: channel.clone(),
                command,
            });
        }
    }

    /// True when the agent is now where the feature code asked.
    fn apply_feature(
        &mut self,
        now: Timestamp,
        feature: Feature,
        user: &str,
        reason: Option<String>,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(agent_id) = self.phone_users.get(user).cloned() else {
            return false;
        };
        let Some(state) = self.agents.get(&agent_id).map(|a| a.state.clone()) else {
            return false;
        };
        let requested = match feature {
            Feature::Login | Feature::Ready => RequestedState::Available,
            Feature::Logout => RequestedState::LoggedOut,
            Feature::Pause => {
                let code = reason.filter(|r| !r.is_empty());
                let code = match (code, self.pause_codes.is_empty()) {
                    (Some(code), true) => code,
                    (None, true) => PHONE_PAUSE.to_owned(),
                    (Some(code), false) if self.pause_codes.contains(&code) => code,
                    _ => return false,
                };
                RequestedState::Paused { reason: code }
            }
            Feature::EndWrapUp => match state {
                AgentState::WrapUp { .. } => RequestedState::Available,
                _ => return false,
            },
            Feature::Toggle => match state {
                AgentState::Available | AgentState::Backoff { .. } => RequestedState::Paused {
                    reason: PHONE_PAUSE.to_owned(),
                },
                _ => RequestedState::Available,
            },
        };
        self.request_state(now, &agent_id, requested, StateCause::Phone, effects)
            .is_ok()
    }
}
