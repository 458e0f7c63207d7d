//! The ESL adapter: the only module that speaks to FreeSWITCH.
//!
//! It keeps one event connection and a few command connections per switch, translates events
//! into engine inputs and engine commands into ESL, reconnects with backoff and jitter, and
//! resyncs after every connect. Nothing else imports the ESL crate.

pub mod command;
mod conference;
mod hold;
mod link;
mod monitor;
pub mod probe;
mod transfer;
pub mod translate;

pub use link::{
    run_fenced_switch, run_switch, LinkError, Outgoing, SwitchInput, SwitchLink, SwitchSettings,
};
