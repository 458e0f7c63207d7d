//! What agents do from their desk phones: feature codes our dialplan parks for the controller
//! (log in, log out, pause with a reason, ready, end wrap-up, the BLF key's toggle). Each call
//! is answered, answered with a short tone (rising when done, busy-like when refused) and a
//! spoken prompt that says what happened or why not, and hung up.

use std::collections::HashMap;

use super::core::{CommandError, Engine, RequestedState};
use super::ids::{AgentId, ChannelId, SwitchName};
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
    pub destination: String,
    pub context: String,
}

/// Heard first when the feature code did what was asked.
pub const CONFIRM_TONE: &str = "tone_stream://%(200,100,880);%(400,0,1320)";
/// Heard first when it was refused.
pub const REFUSE_TONE: &str = "tone_stream://%(250,250,480,620);loops=3";
/// Where a log-in from a phone no agent has is sent to ask for the agent number and PIN: the
/// hot-desk code of our feature dialplan.
pub const HOT_DESK_EXTENSION: &str = "*21";

/// The pause reason of the BLF key's toggle and of a pause keyed without a code when no
/// reasons are provisioned.
pub const PHONE_PAUSE: &str = "phone";

/// How a feature code ended, and so what the agent hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneOutcome {
    LoggedIn,
    LoggedOut,
    Paused,
    Ready,
    WrapUpEnded,
    /// The phone is nobody's: no agent has it as their phone or logged in at it.
    UnknownPhone,
    /// Hot-desking with an agent number nobody has.
    UnknownAgent,
    /// Hot-desking with a wrong PIN, or for an agent without one.
    WrongPin,
    /// Hot-desking at a phone another logged-in agent uses.
    PhoneInUse,
    /// Hot-desking while logged in at another phone, with `hot_desk = "refuse"`.
    LoggedInElsewhere,
    /// The agent is ringing or on a call: the change waits for no one.
    OnCall,
    /// A pause code that is not a provisioned pause reason.
    InvalidReason,
    /// Anything else that does not apply now (ending a wrap-up the agent is not in).
    NotNow,
    /// A disposition code taken for the agent's call.
    DispositionSet,
}

impl PhoneOutcome {
    pub const ALL: [PhoneOutcome; 14] = [
        PhoneOutcome::LoggedIn,
        PhoneOutcome::LoggedOut,
        PhoneOutcome::Paused,
        PhoneOutcome::Ready,
        PhoneOutcome::WrapUpEnded,
        PhoneOutcome::UnknownPhone,
        PhoneOutcome::UnknownAgent,
        PhoneOutcome::WrongPin,
        PhoneOutcome::PhoneInUse,
        PhoneOutcome::LoggedInElsewhere,
        PhoneOutcome::OnCall,
        PhoneOutcome::InvalidReason,
        PhoneOutcome::NotNow,
        PhoneOutcome::DispositionSet,
    ];

    /// The key of its prompt in the config's `[phone.prompts]`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneOutcome::LoggedIn => "logged_in",
            PhoneOutcome::LoggedOut => "logged_out",
            PhoneOutcome::Paused => "paused",
            PhoneOutcome::Ready => "ready",
            PhoneOutcome::WrapUpEnded => "wrap_up_ended",
            PhoneOutcome::UnknownPhone => "unknown_phone",
            PhoneOutcome::UnknownAgent => "unknown_agent",
            PhoneOutcome::WrongPin => "wrong_pin",
            PhoneOutcome::PhoneInUse => "phone_in_use",
            PhoneOutcome::LoggedInElsewhere => "logged_in_elsewhere",
            PhoneOutcome::OnCall => "on_call",
            PhoneOutcome::InvalidReason => "invalid_reason",
            PhoneOutcome::NotNow => "not_now",
            PhoneOutcome::DispositionSet => "disposition_set",
        }
    }

    pub fn parse(key: &str) -> Option<PhoneOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == key)
    }

    pub fn is_done(self) -> bool {
        matches!(
            self,
            PhoneOutcome::LoggedIn
                | PhoneOutcome::LoggedOut
                | PhoneOutcome::Paused
                | PhoneOutcome::Ready
                | PhoneOutcome::WrapUpEnded
                | PhoneOutcome::DispositionSet
        )
    }

    /// The stock FreeSWITCH prompt (`en/us/callie`) that says it, if one does. A wrong PIN
    /// and an unknown agent say the same on purpose: a stranger at a phone must not learn
    /// which agent numbers exist.
    fn default_prompt(self) -> Option<&'static str> {
        match self {
            PhoneOutcome::LoggedIn => Some("ivr/ivr-you_are_now_logged_in.wav"),
            PhoneOutcome::LoggedOut => Some("ivr/ivr-you_are_now_logged_out.wav"),
            PhoneOutcome::UnknownAgent | PhoneOutcome::WrongPin => {
                Some("ivr/ivr-pin_or_extension_is-invalid.wav")
            }
            PhoneOutcome::UnknownPhone => Some("ivr/ivr-phone_not_configured.wav"),
            PhoneOutcome::PhoneInUse => Some("ivr/ivr-access_denied.wav"),
            PhoneOutcome::LoggedInElsewhere => Some("ivr/ivr-not_have_permission.wav"),
            PhoneOutcome::OnCall => Some("ivr/ivr-user_busy.wav"),
            PhoneOutcome::InvalidReason => Some("ivr/ivr-that_was_an_invalid_entry.wav"),
            PhoneOutcome::Paused
            | PhoneOutcome::Ready
            | PhoneOutcome::WrapUpEnded
            | PhoneOutcome::NotNow
            | PhoneOutcome::DispositionSet => None,
        }
    }
}

/// The prompt played after the tone for each outcome; an empty one plays the tone alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonePrompts(HashMap<PhoneOutcome, String>);

impl Default for PhonePrompts {
    fn default() -> Self {
        PhonePrompts(
            PhoneOutcome::ALL
                .into_iter()
                .map(|o| (o, o.default_prompt().unwrap_or_default().to_owned()))
                .collect(),
        )
    }
}

impl PhonePrompts {
    /// Replaces one prompt (the media source is checked by the config loader).
    pub fn set(&mut self, outcome: PhoneOutcome, source: String) {
        self.0.insert(outcome, source);
    }

    pub fn get(&self, outcome: PhoneOutcome) -> &str {
        self.0.get(&outcome).map_or("", String::as_str)
    }
}

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

    /// The extension a log-in from a phone no agent has is transferred to, so it asks for the
    /// agent number and PIN (`None`: such a log-in is refused).
    pub fn set_hot_desk_extension(&mut self, extension: Option<String>) {
        self.hot_desk_extension = extension;
    }

    /// What agents hear after a feature code.
    pub fn set_phone_prompts(&mut self, prompts: PhonePrompts) {
        self.phone_prompts = prompts;
    }

    pub(super) fn feature_code(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channel: &ChannelId,
        asked: Asked,
        effects: &mut Vec<Effect>,
    ) {
        let unbound_login = asked.feature == Feature::Login
            && asked.agent_number.is_none()
            && !self.phone_users.contains_key(&asked.user);
        // Not when the call already came from there (no digits keyed): that would loop.
        let hot_desk = self
            .hot_desk_extension
            .as_ref()
            .filter(|e| unbound_login && **e != asked.destination);
        if let Some(extension) = hot_desk {
            let transfer = SwitchCommand::Transfer {
                channel: channel.clone(),
                extension: extension.clone(),
                context: asked.context,
            };
            effects.push(Effect::switch(switch, channel, transfer));
            return;
        }
        let outcome = match (&asked.feature, &asked.agent_number) {
            (Feature::Login, Some(number)) => {
                let pin = asked.pin.as_ref().map(|p| p.0.as_str()).unwrap_or_default();
                self.hot_desk(now, &asked.user, number, pin, effects)
            }
            _ => self.apply_feature(now, asked.feature, &asked.user, asked.reason, effects),
        };
        let tone = if outcome.is_done() {
            CONFIRM_TONE
        } else {
            REFUSE_TONE
        };
        let prompt = self.phone_prompts.get(outcome);
        let mut commands = vec![
            SwitchCommand::Answer {
                channel: channel.clone(),
            },
            SwitchCommand::Play {
                channel: channel.clone(),
                source: tone.to_owned(),
            },
        ];
        if !prompt.is_empty() {
            commands.push(SwitchCommand::Play {
                channel: channel.clone(),
                source: prompt.to_owned(),
            });
        }
        commands.push(SwitchCommand::HangupAfterPrompts {
            channel: channel.clone(),
        });
        for command in commands {
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
    ) -> PhoneOutcome {
        let Some((agent_id, agent)) = AgentId::new(number)
            .ok()
            .and_then(|id| self.agents.get(&id).map(|a| (id, a)))
        else {
            return PhoneOutcome::UnknownAgent;
        };
        if !agent
            .settings
            .pin
            .as_ref()
            .is_some_and(|hash| hash.verify(pin))
        {
            return PhoneOutcome::WrongPin;
        }
        if let Some(other) = self.phone_users.get(phone).filter(|o| **o != agent_id) {
            let in_use = self
                .agents
                .get(other)
                .is_some_and(|o| o.state != AgentState::LoggedOut);
            if in_use {
                return PhoneOutcome::PhoneInUse;
            }
        }
        let here = agent.contact.as_deref() == Some(phone)
            || (agent.contact.is_none() && agent.settings.phone_user() == Some(phone));
        let logged_in = agent.state != AgentState::LoggedOut;
        if logged_in && !here {
            if matches!(
                agent.state,
                AgentState::OnCall { .. } | AgentState::Offered { .. }
            ) {
                return PhoneOutcome::OnCall;
            }
            if self.hot_desk_refuses {
                return PhoneOutcome::LoggedInElsewhere;
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
            return PhoneOutcome::LoggedIn;
        }
        self.request(
            now,
            &agent_id,
            RequestedState::Available,
            PhoneOutcome::LoggedIn,
            effects,
        )
    }

    /// Does what the feature code asks of the agent whose phone dialled it.
    fn apply_feature(
        &mut self,
        now: Timestamp,
        feature: Feature,
        user: &str,
        reason: Option<String>,
        effects: &mut Vec<Effect>,
    ) -> PhoneOutcome {
        let Some((agent_id, state)) = self
            .phone_users
            .get(user)
            .and_then(|id| self.agents.get(id).map(|a| (id.clone(), a.state.clone())))
        else {
            return PhoneOutcome::UnknownPhone;
        };
        let (requested, done) = match feature {
            Feature::Login => (RequestedState::Available, PhoneOutcome::LoggedIn),
            Feature::Ready => (RequestedState::Available, PhoneOutcome::Ready),
            Feature::Logout => (RequestedState::LoggedOut, PhoneOutcome::LoggedOut),
            Feature::Pause => {
                let code = reason.filter(|r| !r.is_empty());
                let code = match (code, self.pause_codes.is_empty()) {
                    (Some(code), true) => code,
                    (None, true) => PHONE_PAUSE.to_owned(),
                    (Some(code), false) if self.pause_codes.contains(&code) => code,
                    _ => return PhoneOutcome::InvalidReason,
                };
                (
                    RequestedState::Paused { reason: code },
                    PhoneOutcome::Paused,
                )
            }
            Feature::EndWrapUp => match state {
                AgentState::WrapUp { .. } if self.holds_for_disposition(&agent_id) => {
                    return PhoneOutcome::NotNow
                }
                AgentState::WrapUp { .. } => (RequestedState::Available, PhoneOutcome::WrapUpEnded),
                _ => return PhoneOutcome::NotNow,
            },
            Feature::Disposition => {
                return self.phone_disposition(now, &agent_id, reason.as_deref(), effects)
            }
            Feature::Toggle => match state {
                AgentState::Available | AgentState::Backoff { .. } => (
                    RequestedState::Paused {
                        reason: PHONE_PAUSE.to_owned(),
                    },
                    PhoneOutcome::Paused,
                ),
                _ => (RequestedState::Available, PhoneOutcome::Ready),
            },
        };
        self.request(now, &agent_id, requested, done, effects)
    }

    /// A state change asked for from the phone: `done` when it took, else why not.
    fn request(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        requested: RequestedState,
        done: PhoneOutcome,
        effects: &mut Vec<Effect>,
    ) -> PhoneOutcome {
        match self.request_state(now, agent_id, requested, StateCause::Phone, effects) {
            Ok(()) => done,
            Err(CommandError::Conflict { .. }) => PhoneOutcome::OnCall,
            Err(_) => PhoneOutcome::NotNow,
        }
    }
}
