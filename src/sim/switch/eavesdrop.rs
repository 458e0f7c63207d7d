//! A supervisor's leg listening in (capture `eavesdrop`): an originate whose application is
//! `eavesdrop(<uuid>)` or `three_way(<uuid>)` runs it once the originate returns, instead of
//! parking: CHANNEL_EXECUTE on the leg, then MEDIA_BUG_START on the target (`Media-Bug-Function:
//! eavesdrop`, `Media-Bug-Target: <target>`); the target's bridge is untouched. When the leg
//! hangs up: CHANNEL_HANGUP, MEDIA_BUG_STOP on the target, CHANNEL_EXECUTE_COMPLETE `_none_`,
//! then the rest of the hangup. Whisper differs only in `eavesdrop_whisper_aleg=true` on the
//! leg. CALL_UPDATE and CODEC are not modelled (as elsewhere in the simulator).
//!
//! What no capture shows, and the simulator decides:
//! - `uuid_recv_dtmf <uuid> <digits>` replies `+OK <digits>` and, on a leg in `eavesdrop`,
//!   keeps the keys (mod_dptools: `0` listen, `1` talk to the target's partner, `2` to the
//!   target, `3` three-way); `three_way` takes no keys. No event.
//! - a target that hangs up ends the eavesdrop: MEDIA_BUG_STOP on the target before its own
//!   hangup, then the supervisor's leg completes the application and hangs up
//!   (`NORMAL_CLEARING`), its originate's application being over;
//! - a target that does not exist: the application completes at once and the leg hangs up;
//! - `uuid_bridge <target> <leg>` while the leg eavesdrops on the bridged target (a supervisor
//!   taking the call over): the bug stops (MEDIA_BUG_STOP on the target), the target leaves its
//!   bridge (CHANNEL_UNBRIDGE on it), its old partner, losing its partner, hangs up
//!   `NORMAL_CLEARING` (as the Batch 4 captures show for a `uuid_bridge`d leg), and the target
//!   is bridged to the leg (whose application completes as the bridge starts).

use super::{Core, Initiator};

/// A leg's running eavesdrop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Eavesdrop {
    pub(crate) target: String,
    /// `eavesdrop` or `three_way`.
    pub(crate) app: String,
    /// Keys received while it ran (`uuid_recv_dtmf`), in order.
    pub(crate) keys: String,
}

/// One eavesdrop as tests see it: the supervisor's leg and what it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EavesdropView {
    pub leg: String,
    pub target: String,
    pub app: String,
    pub keys: String,
    /// `eavesdrop_whisper_aleg=true` on the leg.
    pub whisper_aleg: bool,
}

impl Core {
    /// Runs the originate's `eavesdrop`/`three_way` application on an answered leg whose
    /// originate returned. `false`: the leg has no such application (it parks).
    pub(super) fn start_eavesdrop(&mut self, uuid: &str) -> bool {
        let Some(app) = self
            .channels
            .get(uuid)
            .and_then(|c| c.var("originate_application"))
            .map(str::to_owned)
        else {
            return false;
        };
        let Some((name, target)) = app
            .strip_suffix(')')
            .and_then(|a| a.split_once('('))
            .filter(|(name, _)| matches!(*name, "eavesdrop" | "three_way"))
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
        else {
            return false;
        };
        self.start_app(uuid, &name, &target, super::new_uuid(), false);
        let alive = self
            .channels
            .get(&target)
            .is_some_and(|c| c.hangup_cause.is_none());
        if !alive {
            self.finish_app(uuid, None);
            self.hangup(uuid, "NORMAL_CLEARING", Initiator::Local, None);
            return true;
        }
        self.with_chan(uuid, |c| {
            c.eavesdrop = Some(Eavesdrop {
                target: target.clone(),
                app: name,
                keys: String::new(),
            })
        });
        self.chan_event(&target, "MEDIA_BUG_START", &[], &bug_headers(&target));
        self.changed = true;
        true
    }

    /// The leg stops eavesdropping (it hangs up): MEDIA_BUG_STOP on its target. The
    /// application's completion follows with the hangup's.
    pub(super) fn stop_eavesdrop(&mut self, uuid: &str) {
        let Some(e) = self.channels.get_mut(uuid).and_then(|c| c.eavesdrop.take()) else {
            return;
        };
        self.chan_event(&e.target, "MEDIA_BUG_STOP", &[], &bug_headers(&e.target));
        self.changed = true;
    }

    /// The legs eavesdropping on `uuid` or on its bridged partner, which lose their target:
    /// each bug stops now; the legs are to be hung up after the target's hangup.
    pub(super) fn eavesdroppers_losing(&mut self, uuid: &str) -> Vec<String> {
        let mut targets = vec![uuid.to_owned()];
        if let Some(peer) = self.channels.get(uuid).and_then(|c| c.bridged_to.clone()) {
            targets.push(peer);
        }
        let legs: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, c)| {
                c.eavesdrop
                    .as_ref()
                    .is_some_and(|e| targets.contains(&e.target))
            })
            .map(|(u, _)| u.clone())
            .collect();
        for leg in &legs {
            self.stop_eavesdrop(leg);
        }
        legs
    }

    /// `uuid_bridge <target> <leg>` naming a bridged target and a leg eavesdropping on it.
    pub(super) fn is_take_over(&self, target: &str, leg: Option<&str>) -> bool {
        let Some(leg) = leg else {
            return false;
        };
        let bridged = self
            .channels
            .get(target)
            .is_some_and(|c| c.bridged_to.is_some() && c.hangup_cause.is_none());
        bridged
            && self
                .channels
                .get(leg)
                .and_then(|c| c.eavesdrop.as_ref())
                .is_some_and(|e| e.target == target)
    }

    /// A supervisor's leg takes the call over (see the module's notes).
    pub(super) fn take_over_bridge(&mut self, target: &str, leg: &str) {
        if !self.is_take_over(target, Some(leg)) {
            return;
        }
        self.stop_eavesdrop(leg);
        if let Some(partner) = self.channels.get(target).and_then(|c| c.bridged_to.clone()) {
            let target_is_a = self.channels.get(target).is_some_and(|c| c.bridge_a);
            if target_is_a {
                self.unbridge(target, &partner);
            } else {
                self.unbridge(&partner, target);
            }
            self.hangup(&partner, "NORMAL_CLEARING", Initiator::Local, None);
        }
        self.bridge(target, leg);
    }

    /// `uuid_recv_dtmf <uuid> <digits>`.
    pub(super) fn uuid_recv_dtmf(&mut self, arg: &str) -> String {
        let mut words = arg.split_whitespace();
        let (Some(uuid), Some(digits)) = (words.next(), words.next()) else {
            return "-USAGE: <uuid> <dtmf_data>\n".to_owned();
        };
        let Some(c) = self.channels.get_mut(uuid) else {
            return "-ERR no such channel\n".to_owned();
        };
        if let Some(e) = c.eavesdrop.as_mut().filter(|e| e.app == "eavesdrop") {
            e.keys.push_str(digits);
            self.changed = true;
        }
        format!("+OK {digits}\n")
    }

    pub(crate) fn eavesdrops(&self) -> Vec<EavesdropView> {
        let mut views: Vec<EavesdropView> = self
            .channels
            .iter()
            .filter_map(|(leg, c)| {
                let e = c.eavesdrop.as_ref()?;
                Some(EavesdropView {
                    leg: leg.clone(),
                    target: e.target.clone(),
                    app: e.app.clone(),
                    keys: e.keys.clone(),
                    whisper_aleg: c.var("eavesdrop_whisper_aleg").is_some_and(super::is_true),
                })
            })
            .collect();
        views.sort_by(|a, b| a.leg.cmp(&b.leg));
        views
    }
}

fn bug_headers(target: &str) -> [(&'static str, String); 2] {
    [
        ("Media-Bug-Function", "eavesdrop".to_string()),
        ("Media-Bug-Target", target.to_string()),
    ]
}
