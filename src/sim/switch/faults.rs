//! Faults on purpose, for the fault-injection suite: what a network, a middlebox or a loaded
//! switch can do to an ESL client, beyond the clean drop (`drop_connections`) and the restart.
//!
//! - A half-open connection: the peer is gone without a FIN or a reset (a cable pulled, a NAT
//!   entry expired). The switch's side of each connection stops sending anything, HEARTBEAT
//!   included, and stops reading, but the socket stays open until [`Core::release_frozen`]:
//!   only the client's liveness timeout can tell.
//! - A garbage frame: a header block whose `Content-Length` is not a number, which no ESL
//!   parser can frame past.
//! - A drop right after a command: the connections go the moment the switch has carried out
//!   the next `api`/`bgapi` of a given name (`originate`, `uuid_bridge`), before its reply is
//!   written, so the client never learns the outcome but the switch acted on it.
//! - Late jobs: BACKGROUND_JOB events held back for a while, so the job's result arrives after
//!   later events of its channel (jobs and events are not ordered on a connection; only `api`
//!   replies are).

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Core, Out, Timer};

/// The faults armed on a switch.
#[derive(Default)]
pub(crate) struct Faults {
    /// Connections frozen by a half-open fault, kept so the sockets stay open.
    frozen: Vec<mpsc::UnboundedSender<Out>>,
    /// Drop every connection once an `api`/`bgapi` of this name has been carried out.
    drop_after: Option<String>,
    /// How long BACKGROUND_JOB events are held back.
    job_delay: Duration,
}

/// The garbage frame: a header block that cannot be framed.
const GARBAGE: &[u8] = b"Content-Type: text/event-plain\nContent-Length: 12abc\n\n{garbage}\n\n";

impl Core {
    /// Freezes every open connection (see the module doc): nothing more is written to it or
    /// read from it, the socket stays open. New connections are served as usual.
    pub(crate) fn freeze_connections(&mut self) {
        for (_, c) in self.conns.drain() {
            if c.tx.send(Out::Freeze).is_ok() {
                self.faults.frozen.push(c.tx);
            }
        }
    }

    /// Open connections subscribed to events.
    pub(crate) fn listening_connections(&self) -> usize {
        self.conns.values().filter(|c| c.format.is_some()).count()
    }

    /// Closes the frozen connections' sockets abruptly (the half-open link finally breaks).
    pub(crate) fn release_frozen(&mut self) {
        for tx in self.faults.frozen.drain(..) {
            let _ = tx.send(Out::Abort);
        }
    }

    /// Writes one garbage frame on every open connection.
    pub(crate) fn send_garbage_frame(&mut self) {
        for c in self.conns.values() {
            c.send(GARBAGE.to_vec());
        }
    }

    /// Arms a drop of every connection right after the next `api`/`bgapi` named `command`.
    pub(crate) fn drop_connections_after(&mut self, command: &str) {
        self.faults.drop_after = Some(command.to_owned());
    }

    /// Holds back BACKGROUND_JOB events by `delay` (zero: sent at once, as usual).
    pub(crate) fn set_job_delay(&mut self, delay: Duration) {
        self.faults.job_delay = delay;
    }

    /// Called after every command: carries out an armed drop.
    pub(super) fn after_command(&mut self, line: &str) {
        let Some(name) = self.faults.drop_after.as_deref() else {
            return;
        };
        let api = line
            .strip_prefix("bgapi ")
            .or_else(|| line.strip_prefix("api "))
            .and_then(|rest| rest.split_whitespace().next());
        if api == Some(name) {
            self.faults.drop_after = None;
            self.drop_connections();
        }
    }

    /// Whether a BACKGROUND_JOB is to be held back: if so, it is on a timer now.
    pub(super) fn job_held_back(
        &mut self,
        job_uuid: &str,
        cmd: &str,
        arg: &str,
        result: &str,
    ) -> bool {
        if self.faults.job_delay.is_zero() {
            return false;
        }
        let late = Timer::LateJob {
            job_uuid: job_uuid.to_owned(),
            cmd: cmd.to_owned(),
            arg: arg.to_owned(),
            result: result.to_owned(),
        };
        self.timer(self.faults.job_delay, late);
        true
    }
}
