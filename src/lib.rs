//! Switchboard: a contact-center control plane for FreeSWITCH and Asterisk.
//!
//! The engine decides, the edges (ESL, HTTP, database, clock) do I/O. See `ARCHITECTURE.md`.

pub mod api;
pub mod app;
pub mod ari;
pub mod config;
pub mod cti;
pub mod doctor;
pub mod engine;
pub mod esl;
pub mod fence;
pub mod flow;
pub mod link;
pub mod logging;
pub mod metrics;
pub mod sim;
pub mod sim_ari;
pub mod staffing;
pub mod stats;
pub mod store;
