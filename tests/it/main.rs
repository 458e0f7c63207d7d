//! All integration tests link into this one binary; one module per area.

mod agents;
mod auth;
mod capture;
mod demo;
mod esl_link;
mod events;
mod fidelity;
mod flows;
mod harness;
mod http_runner;
mod ivr;
mod ivr_api;
mod layout;
mod openapi;
mod provisioning;
mod recording;
mod recording_e2e;
mod recordings_api;
mod replay;
mod retention;
mod routing;
mod sim;
mod store;
mod store_recordings;
mod webhooks;
mod whisper;
