//! External numbers for REST transfers and consults: the number is rung through the configured
//! dial template (`[transfer] external_dial`) exactly as the controller rings a callback's
//! customer (`bgapi originate {origination_uuid=K,...}<dial string> &park()`), and the rest is
//! the consult's switch side (see `consult`), captured in `api-transfer-and-hold` part D.
//!
//! - Consult to a number: as to an agent, but the external leg has no agent state. Completed,
//!   the first agent's part ends as an attended `transfer` (`to=number:<n>`) and the caller is
//!   out of our hands (as after a desk phone's transfer): the call ends once, `transferred`,
//!   when the caller hangs up (the switch hangs it up when the external party does).
//! - Blind transfer to a number: the number is rung first while the caller still talks to
//!   the agent; answered, the caller is bridged to it at once (`park_after_bridge false` on
//!   the three legs, `uuid_bridge <C> <K>`: the agent's leg, left alone, hangs up) and the
//!   agent's part ends as a blind `transfer`. Busy, no answer or any failure: the caller is
//!   still with the agent, nothing was lost (history `consult step=ended cause=...`).
//!
//! The number is checked before it is put in the template: an optional `+` and 3 to 20
//! digits, starting with one of the allowed prefixes when some are configured.

use super::consult::{Consult, ConsultError, ConsultPhase, ConsultTarget};
use super::core::queue_event;
use super::hold::HoldBy;
use super::ids::{CallId, ChannelId};
use super::io::{Effect, Input, LegTransfer, SwitchCommand, TransferKind};
use super::model::CallState;
use super::record::{QueueEventKind, Record, StateCause};
use super::redirect::RedirectError;
use super::time::Timestamp;
use super::Engine;

/// How long an external number rings before the switch gives up (`originate_timeout`).
pub const EXTERNAL_RING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `[transfer]`: the dial template for external numbers and the prefixes they may start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalDial {
    /// A checked dial template with `{number}` once (see `config::check_dial_template`).
    pub template: String,
    /// When not empty, a number must start with one of these.
    pub allowed_prefixes: Vec<String>,
}

/// Checks an external number: an optional `+`, then 3 to 20 digits, and one of `prefixes`
/// when any are given.
pub fn external_number(raw: &str, prefixes: &[String]) -> Result<String, String> {
    let number = super::wait::callback_number(raw).ok_or_else(|| {
        format!(
            "{:?} is not a number: an optional '+' then 3 to 20 digits",
            raw.chars().take(40).collect::<String>()
        )
    })?;
    if !prefixes.is_empty() && !prefixes.iter().any(|p| number.starts_with(p.as_str())) {
        return Err(format!(
            "{number} does not start with an allowed prefix ({})",
            prefixes.join(", ")
        ));
    }
    Ok(number)
}

impl Engine {
    /// Sets (or with `None` removes) the dial template for external numbers.
    pub fn set_external_dial(&mut self, dial: Option<ExternalDial>) {
        self.consults.external = dial;
    }

    /// The consult's target is free again: an agent becomes eligible; a number is nobody's.
    pub(super) fn consult_target_free(
        &mut self,
        now: Timestamp,
        target: &ConsultTarget,
        effects: &mut Vec<Effect>,
    ) {
        if let ConsultTarget::Agent(agent) = target {
            self.make_eligible(now, agent, StateCause::Switch, effects);
        }
    }

    /// Starts a consult of `call` with an external number (`blind`: a blind transfer that
    /// completes by itself once the number answers).
    pub(super) fn request_number_consult(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        raw: &str,
        by: HoldBy,
        blind: bool,
    ) -> Result<Vec<Effect>, ConsultError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(ConsultError::UnknownCall(call_id))?;
        let CallState::Bridged {
            agent, leg: a_leg, ..
        } = &call.state
        else {
            return Err(ConsultError::NotConnected(call_id));
        };
        if self.consults.calls.contains_key(&call_id) {
            return Err(ConsultError::AlreadyConsulting(call_id));
        }
        if self
            .hold_view(call_id)
            .is_some_and(|h| h.held_since.is_some())
        {
            return Err(ConsultError::OnHold(call_id));
        }
        let dial = self
            .consults
            .external
            .as_ref()
            .ok_or(ConsultError::NoExternalDial)?;
        let number =
            external_number(raw, &dial.allowed_prefixes).map_err(ConsultError::BadNumber)?;
        let dial_string = dial.template.replacen("{number}", &number, 1);
        let (agent, a_leg) = (agent.clone(), a_leg.clone());
        let (switch, caller, queue) =
            (call.switch.clone(), call.caller.clone(), call.queue.clone());
        let leg = ChannelId::from_uuid(self.new_uuid());
        let step = if blind { "blind" } else { "start" };
        let effects = vec![
            queue_event(
                call_id,
                &queue,
                Some(agent),
                QueueEventKind::Consult,
                format!("step={step} to=number:{number} leg={leg} by={by}"),
                now,
            ),
            Effect::switch(
                &switch,
                &caller,
                SwitchCommand::Dial {
                    leg: leg.clone(),
                    call: call_id,
                    queue,
                    dial_string,
                    timeout: EXTERNAL_RING_TIMEOUT,
                },
            ),
        ];
        self.consults.legs.insert(leg.clone(), call_id);
        self.consults.calls.insert(
            call_id,
            Consult {
                agent_leg: a_leg,
                target: ConsultTarget::Number(number),
                leg,
                phase: ConsultPhase::Ringing,
                since: now,
                by,
                answered: false,
                established: false,
                pending: None,
                blind,
            },
        );
        Ok(effects)
    }

    /// A blind transfer to a number asked over REST (`by`: `token:<name>`).
    pub(super) fn blind_to_number(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        number: &str,
        by: String,
        effects: &mut Vec<Effect>,
    ) -> Result<(), RedirectError> {
        let by = match by.strip_prefix("token:") {
            Some(name) => HoldBy::Token(name.to_owned()),
            None => HoldBy::Token(by),
        };
        let started = self
            .request_number_consult(now, call_id, number, by, true)
            .map_err(|e| match e {
                ConsultError::UnknownCall(c) => RedirectError::UnknownCall(c),
                ConsultError::NotConnected(c) | ConsultError::OnHold(c) => {
                    RedirectError::NotConnected(c)
                }
                ConsultError::AlreadyConsulting(c) => RedirectError::AlreadyTransferring(c),
                ConsultError::NoExternalDial => RedirectError::NoExternalDial,
                other => RedirectError::BadDestination(other.to_string()),
            })?;
        effects.extend(started);
        Ok(())
    }

    /// A blind transfer's number answered: the caller is bridged to it, the agent's leg is
    /// left alone and hangs up (which ends the agent's part, see `number_completed`).
    pub(super) fn blind_number_answered(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(consult) = self.consults.calls.get_mut(&call_id) else {
            return;
        };
        consult.phase = ConsultPhase::Completing;
        let (a, k, target) = (
            consult.agent_leg.clone(),
            consult.leg.clone(),
            consult.target.clone(),
        );
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        // No post-call survey after a transfer (see `transfer`).
        call.survey = None;
        let (switch, c, queue) = (call.switch.clone(), call.caller.clone(), call.queue.clone());
        let first = match &call.state {
            CallState::Bridged { agent, .. } => Some(agent.clone()),
            _ => None,
        };
        let cmd = |command| Effect::switch(&switch, &c, command);
        for channel in [&a, &c, &k] {
            effects.push(cmd(SwitchCommand::SetParkAfterBridge {
                channel: channel.clone(),
                on: false,
            }));
        }
        effects.push(cmd(SwitchCommand::Bridge {
            caller: c.clone(),
            agent_leg: k.clone(),
        }));
        effects.push(queue_event(
            call_id,
            &queue,
            first,
            QueueEventKind::Consult,
            format!("step=answered to={target} leg={k}"),
            now,
        ));
    }

    /// The first agent's leg left after `uuid_bridge <C> <K>` with an external number: its part
    /// ends as a transfer (`attended` after a consult, `blind` otherwise) and the caller is out
    /// of our hands until it hangs up.
    pub(super) fn number_completed(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        consult: &Consult,
        number: &str,
        input: Input,
        effects: &mut Vec<Effect>,
    ) {
        let Input::ChannelHungUp {
            switch,
            channel,
            cause,
        } = input
        else {
            return;
        };
        let Some(caller) = self.calls.get(&call_id).map(|c| c.caller.clone()) else {
            return;
        };
        let mut transferred = Vec::new();
        self.held_leg_gone(now, call_id, &channel, &mut transferred);
        self.leg_transferred(
            now,
            LegTransfer {
                switch,
                leg: channel,
                kind: TransferKind::Blind,
                partner: caller,
                destination: format!("number:{number}"),
                cause,
            },
            &mut transferred,
        );
        let kind = if consult.blind { "blind" } else { "attended" };
        for effect in &mut transferred {
            if let Effect::Persist(Record::QueueEvent {
                kind: QueueEventKind::Transfer,
                detail,
                ..
            }) = effect
            {
                *detail = rewrite_transfer(detail, kind, &consult.by.to_string());
            }
        }
        effects.extend(transferred);
    }
}

/// `kind=blind from=a to=x by=a talk_ms=n` with the kind and `by=` of a REST request.
fn rewrite_transfer(detail: &str, kind: &str, by: &str) -> String {
    detail
        .split(' ')
        .map(|part| match part.split_once('=') {
            Some(("kind", _)) => format!("kind={kind}"),
            Some(("by", _)) => format!("by={by}"),
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_digits_with_an_optional_plus_and_an_allowed_prefix() {
        assert_eq!(
            external_number("+4930123456", &[]),
            Ok("+4930123456".into())
        );
        assert_eq!(external_number("5551234", &[]), Ok("5551234".into()));
        for bad in [
            "", "12", "+", "555 1234", "555-1234", "1001@x", "++491", "1{x}",
        ] {
            assert!(external_number(bad, &[]).is_err(), "{bad:?}");
        }
        assert!(external_number(&"1".repeat(21), &[]).is_err());
        let prefixes = vec!["+49".to_owned(), "0".to_owned()];
        assert!(external_number("+4930123", &prefixes).is_ok());
        assert!(external_number("030123", &prefixes).is_ok());
        let e = external_number("+3312345", &prefixes).expect_err("prefix");
        assert!(e.contains("allowed prefix"), "{e}");
    }

    #[test]
    fn the_transfer_detail_takes_the_kind_and_the_requester() {
        assert_eq!(
            rewrite_transfer(
                "kind=blind from=a1 to=number:555 by=a1 talk_ms=5",
                "attended",
                "token:x"
            ),
            "kind=attended from=a1 to=number:555 by=token:x talk_ms=5"
        );
    }
}
