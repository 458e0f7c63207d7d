//! Agents on any switch: which dial string rings an agent for a caller on a given switch.
//!
//! A bridge needs both legs on one switch, so the agent leg is always originated on the
//! caller's switch. A phone registered there is dialled as provisioned (`user/…`); one
//! registered only on another switch is dialled through the route the config declares from
//! the caller's switch to that one (`[switch.reach]`, a template with `{user}`); with no such
//! route the agent sits out a back-off for that call, as an originate failing with
//! `USER_NOT_REGISTERED` did before routes existed.

use std::collections::{HashMap, HashSet};

use super::core::Engine;
use super::ids::{AgentId, CallId, SwitchName};
use super::io::Effect;
use super::model::AgentState;
use super::time::Timestamp;

/// Where `{user}` goes in a route's template.
const USER: &str = "{user}";

/// The routes between switches, and why agents sit out.
#[derive(Debug, Default)]
pub(super) struct Reach {
    /// From a switch, to a switch: the template (checked by the config).
    routes: HashMap<(SwitchName, SwitchName), String>,
    /// Agents sitting out for want of a route, with the epoch of that back-off: shown as
    /// their reason while it lasts.
    pub(super) sat_out: super::tracked::Tracked<AgentId, (u64, String)>,
}

/// How an agent leg is dialled from the caller's switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AgentDial {
    /// On the caller's switch: as provisioned (or the hot-desk phone).
    Local(String),
    /// Through the declared route to the switch the phone is registered on.
    Routed(String),
    /// Registered only on switches the caller's switch has no route to.
    NoRoute { registered_on: Vec<SwitchName> },
}

/// The SIP user of a `user/<user>[@domain]` dial string.
pub(super) fn user_of(dial: &str) -> Option<&str> {
    let user = dial.strip_prefix("user/")?.split('@').next()?;
    let safe = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'));
    safe.then_some(user)
}

/// The choice itself: `dial` is the agent's dial string, `registered_on` where its phone is
/// registered as far as the switches told us (empty: not known, dialled as provisioned, and
/// the switch says if it is not registered). The caller's switch wins when the phone is
/// registered on it as well as elsewhere; among other switches, the first by name with a route.
pub(super) fn choose(
    routes: &HashMap<(SwitchName, SwitchName), String>,
    dial: String,
    registered_on: Option<&HashSet<SwitchName>>,
    caller_switch: &SwitchName,
) -> AgentDial {
    let Some(user) = user_of(&dial) else {
        return AgentDial::Local(dial);
    };
    let Some(on) = registered_on.filter(|on| !on.is_empty()) else {
        return AgentDial::Local(dial);
    };
    if on.contains(caller_switch) {
        return AgentDial::Local(dial);
    }
    let mut others: Vec<&SwitchName> = on.iter().collect();
    others.sort();
    for other in &others {
        if let Some(template) = routes.get(&(caller_switch.clone(), (*other).clone())) {
            return AgentDial::Routed(template.replacen(USER, user, 1));
        }
    }
    AgentDial::NoRoute {
        registered_on: others.into_iter().cloned().collect(),
    }
}

impl Engine {
    /// Declares how `from` dials the users registered on `to` (`template` has `{user}`).
    pub fn set_route(&mut self, from: SwitchName, to: SwitchName, template: &str) {
        self.reach.routes.insert((from, to), template.to_owned());
    }

    /// How the agent is dialled for a caller on `caller_switch`.
    pub(super) fn agent_dial(&self, agent_id: &AgentId, caller_switch: &SwitchName) -> AgentDial {
        let Some(agent) = self.agents.get(agent_id) else {
            return AgentDial::NoRoute {
                registered_on: Vec::new(),
            };
        };
        let dial = agent.dial_string();
        let registered_on = user_of(&dial).and_then(|user| self.registered_on.get(user));
        choose(&self.reach.routes, dial, registered_on, caller_switch)
    }

    /// If the agent cannot be reached from the call's switch, it sits out the queue's busy
    /// back-off (its reason says why) and true is returned: the call goes to someone else.
    pub(super) fn sat_out_unrouted(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(call) = self.calls.get(&call_id) else {
            return false;
        };
        let from = call.switch.clone();
        let AgentDial::NoRoute { registered_on } = self.agent_dial(agent_id, &from) else {
            return false;
        };
        let backoff = self.busy_backoff_of(&call.queue);
        self.back_off(now, agent_id, backoff, effects);
        if let Some(agent) = self.agents.get(agent_id) {
            let on: Vec<&str> = registered_on.iter().map(SwitchName::as_str).collect();
            let reason = format!("no_route from {from} to {}", on.join(","));
            self.reach
                .sat_out
                .insert(agent_id.clone(), (agent.epoch, reason));
        }
        true
    }

    /// Why a backed-off agent sits out, when it is for want of a route.
    pub(super) fn sat_out_reason(&self, agent_id: &AgentId) -> Option<&str> {
        let agent = self.agents.get(agent_id)?;
        let (epoch, reason) = self.reach.sat_out.get(agent_id)?;
        (matches!(agent.state, AgentState::Backoff { .. }) && *epoch == agent.epoch)
            .then_some(reason.as_str())
    }

    /// The switches the agent's phone is registered on, sorted.
    pub(super) fn phone_switches(&self, agent_id: &AgentId) -> Vec<String> {
        let Some(agent) = self.agents.get(agent_id) else {
            return Vec::new();
        };
        let dial = agent.dial_string();
        let mut on: Vec<String> = user_of(&dial)
            .and_then(|user| self.registered_on.get(user))
            .map(|on| on.iter().map(|s| s.as_str().to_owned()).collect())
            .unwrap_or_default();
        on.sort();
        on
    }
}

impl Reach {
    /// Entry counts, for `sizes`.
    pub(super) fn sizes(&self, out: &mut Vec<(&'static str, usize)>) {
        out.push(("reach.routes", self.routes.len()));
        out.push(("reach.sat_out", self.sat_out.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw(name: &str) -> SwitchName {
        SwitchName::new(name).expect("name")
    }

    fn routes() -> HashMap<(SwitchName, SwitchName), String> {
        HashMap::from([(
            (sw("fs1"), sw("fs2")),
            "sofia/gateway/fs2/{user}".to_owned(),
        )])
    }

    fn on(names: &[&str]) -> HashSet<SwitchName> {
        names.iter().map(|n| sw(n)).collect()
    }

    #[test]
    fn a_phone_on_the_callers_switch_is_dialled_as_provisioned() {
        let dial = choose(
            &routes(),
            "user/1001@pbx".into(),
            Some(&on(&["fs1"])),
            &sw("fs1"),
        );
        assert_eq!(dial, AgentDial::Local("user/1001@pbx".into()));
    }

    #[test]
    fn a_phone_only_on_another_switch_is_dialled_through_the_declared_route() {
        let dial = choose(
            &routes(),
            "user/1001@pbx".into(),
            Some(&on(&["fs2"])),
            &sw("fs1"),
        );
        assert_eq!(dial, AgentDial::Routed("sofia/gateway/fs2/1001".into()));
    }

    #[test]
    fn a_phone_on_both_switches_rings_on_the_callers_switch() {
        let dial = choose(
            &routes(),
            "user/1001".into(),
            Some(&on(&["fs1", "fs2"])),
            &sw("fs1"),
        );
        assert_eq!(dial, AgentDial::Local("user/1001".into()));
    }

    #[test]
    fn a_phone_on_a_switch_without_a_route_from_the_callers_is_unreachable() {
        let dial = choose(
            &routes(),
            "user/1001".into(),
            Some(&on(&["fs1"])),
            &sw("fs2"),
        );
        assert_eq!(
            dial,
            AgentDial::NoRoute {
                registered_on: vec![sw("fs1")]
            }
        );
    }

    #[test]
    fn a_phone_whose_registration_is_unknown_is_dialled_as_provisioned() {
        for known in [None, Some(&on(&[]))] {
            let dial = choose(&routes(), "user/1001".into(), known, &sw("fs1"));
            assert_eq!(dial, AgentDial::Local("user/1001".into()));
        }
    }

    #[test]
    fn a_direct_sofia_contact_is_never_rerouted() {
        let dial = choose(
            &routes(),
            "sofia/internal/1001@10.0.0.5".into(),
            Some(&on(&["fs2"])),
            &sw("fs1"),
        );
        assert_eq!(
            dial,
            AgentDial::Local("sofia/internal/1001@10.0.0.5".into())
        );
    }

    #[test]
    fn among_several_other_switches_the_first_by_name_with_a_route_is_used() {
        let mut routes = routes();
        routes.insert((sw("fs1"), sw("fs3")), "sofia/gateway/fs3/{user}".into());
        let dial = choose(
            &routes,
            "user/1001".into(),
            Some(&on(&["fs4", "fs3"])),
            &sw("fs1"),
        );
        assert_eq!(dial, AgentDial::Routed("sofia/gateway/fs3/1001".into()));
    }
}
