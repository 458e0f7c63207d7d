//! What agents do from their desk phones: feature codes our dialplan parks for the controller
//! (log in, log out, pause with a reason, ready, end wrap-up, the BLF key's toggle). Each call
//! is answered, confirmed with a rising tone or refused with a busy-like one, and hung up.

use super::core::{Engine, RequestedState};
use super::ids::{AgentId, ChannelUuid, SwitchName};
use super::io::{Effect, Feature, SwitchCommand};
use super::model::AgentState;
use super::pin::Pin;
use super::record::StateCause;
use super::time::Timestamp;

/// A feature code as the switch reported it.
#[derive(Debug)]
pub(super) struct Asked {
    pub feature: Feature,
    pub user: String,
    pub reason: Option<String>,
    pub agent_number: Option<String>,
    pub pin: Option<Pin>,
}

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

    /// Whether an agent logged in at another phone may log in here too (moving its offers
    /// here) or is refused.
    pub fn set_hot_desk_move(&mut self, moves: bool) {
        self.hot_desk_refuses = !moves;
    }

    pub(super) fn feature_code(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channel: &ChannelUuid,
        asked: Asked,
        effects: &mut Vec<Effect>,
    ) {
        let done = match (&asked.feature, &asked.agent_number) {
            (Feature::Login, Some(number)) => {
                let pin = asked.pin.as_ref().map(|p| p.0.as_str()).unwrap_or_default();
                self.hot_desk(now, &asked.user, number, pin, effects)
            }
            _ => self.apply_feature(now, asked.feature, &asked.user, asked.reason, effects),
        };
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
            effects.push(Effect::switch(switch, channel, command));
        }
    }

    /// Log in at any phone with the agent number and PIN: offers ring that phone until the
    /// agent logs out. Refused for an unknown agent, a wrong (or unset) PIN, a phone another
    /// logged-in agent uses, an agent on a call, or one logged in elsewhere when moving is off.
    fn hot_desk(
        &mut self,
        now: Timestamp,
        phone: &str,
        number: &str,
        pin: &str,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Ok(agent_id) = AgentId::new(number) else {
            return false;
        };
        let Some(agent) = self.agents.get(&agent_id) else {
            return false;
        };
        if !agent
            .settings
            .pin
            .as_ref()
            .is_some_and(|hash| hash.verify(pin))
        {
            return false;
        }
        if let Some(other) = self.phone_users.get(phone).filter(|o| **o != agent_id) {
            let in_use = self
                .agents
                .get(other)
                .is_some_and(|o| o.state != AgentState::LoggedOut);
            if in_use {
                return false;
            }
        }
        let here = agent.contact.as_deref() == Some(phone)
            || (agent.contact.is_none() && agent.settings.phone_user() == Some(phone));
        let logged_in = agent.state != AgentState::LoggedOut;
        if logged_in && !here {
            let busy = matches!(
                agent.state,
                AgentState::OnCall { .. } | AgentState::Offered { .. }
            );
            if self.hot_desk_refuses || busy {
                return false;
            }
        }
        let previous = agent
            .contact
            .clone()
            .or_else(|| agent.settings.phone_user().map(str::to_owned));
        if let Some(previous) = previous.filter(|p| p != phone) {
            if self.phone_users.get(&previous) == Some(&agent_id) {
                self.phone_users.remove(&previous);
            }
        }
        self.phone_users.insert(phone.to_owned(), agent_id.clone());
        if let Some(agent) = self.agents.get_mut(&agent_id) {
            agent.contact = Some(phone.to_owned());
            agent.registered = true;
        }
        if logged_in {
            return true;
        }
        self.request_state(
            now,
            &agent_id,
            RequestedState::Available,
            StateCause::Phone,
            effects,
        )
        .is_ok()
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
