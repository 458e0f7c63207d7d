//! An IVR caller through a controller restart: every time a session starts waiting at a node,
//! where it waits and its variables so far are written (`Record::FlowWaiting`); a restarted
//! controller puts the caller back at that node.
//!
//! What resuming means per node: a prompt (`play`, a menu's or a collect's, a `record` node's)
//! plays again from its start, with the node's tries counted afresh and keys typed before the
//! restart forgotten; a `record` node records again from the start; an `http` node whose reply
//! the old controller never saw is sent again if it is a GET (safe to repeat), while a POST,
//! which may have done its work already, takes the node's error branch rather than being sent
//! twice. Variables from `secret` collects are never written, so a resumed caller has lost them.

use std::sync::Arc;

use super::{current, new_session, public_variables, FlowSession};
use crate::engine::core::Engine;
use crate::engine::io::{Effect, FlowCall, StoredFlow};
use crate::engine::record::Record;
use crate::engine::time::Timestamp;
use crate::flow::{HttpMethod, NodeKind, Target};

impl Engine {
    /// The session waits at its current node: the history says where, for a restart.
    pub(super) fn note_waiting(&self, now: Timestamp, s: &FlowSession, effects: &mut Vec<Effect>) {
        // A survey after the agent is not resumed (see `adopt_flow_caller`).
        if s.ended || s.survey.is_some() {
            return;
        }
        effects.push(Effect::Persist(Record::FlowWaiting {
            call: s.call,
            flow: s.flow.clone(),
            node: s.node.to_string(),
            variables: public_variables(s),
            at: now,
        }));
    }

    /// Puts a caller whose open session waited at a node back there. False when the store
    /// knows no such node in the flows served now (a reload removed it): the caller's flow
    /// starts again instead.
    pub(super) fn resume_flow(
        &mut self,
        now: Timestamp,
        call: FlowCall,
        stored: &StoredFlow,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some((flow_id, node_name)) = &stored.waiting_at else {
            return false;
        };
        let flows = Arc::clone(&self.flows);
        let Some(node) = flows
            .get(flow_id)
            .and_then(|f| f.nodes.keys().find(|id| id.as_str() == node_name))
            .cloned()
        else {
            return false;
        };
        let channel = call.channel.clone();
        let mut session = new_session(
            stored.call,
            call,
            (Arc::clone(&flows), flow_id.clone(), node.clone()),
            stored.variables.clone(),
        );
        let target = match current(&flows, &session).map(|n| &n.kind) {
            Some(NodeKind::Http(http)) if http.method != HttpMethod::Get => {
                self.step(now, &session, "error", effects);
                Target::Node(http.on_error.clone())
            }
            _ => Target::Node(node),
        };
        self.go(now, &mut session, target, effects);
        if !session.ended {
            self.flow_sessions.insert(channel, session);
        }
        true
    }
}
