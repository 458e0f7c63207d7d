//! A short-lived ESL connection for `switchboard doctor`: connect, authenticate, send `api`
//! commands, read their bodies, close.
//!
//! It is separate from `link` because the doctor wants the opposite of what `serve` wants:
//! no retries, no subscription, and every way a connection can fail kept apart, since each
//! has a different fix. The real switch shows them as follows (`connect-auth` capture and
//! `mod_event_socket.c`): a port nobody listens on refuses the TCP connection; an address the
//! `apply-inbound-acl` list denies gets `text/rude-rejection` ("Access Denied, go away.")
//! before any `auth/request`; a wrong password gets `-ERR invalid` to `auth`.

use std::time::Duration;

use freeswitch_esl_tokio::{EslClient, EslConnectOptions, EslError};
use thiserror::Error;

/// Why the doctor could not talk to a switch.
#[derive(Debug, Error)]
pub enum ProbeError {
    /// Nothing listens there (or a firewall rejects it).
    #[error("connection refused by {addr}")]
    Refused { addr: String },
    /// No answer in time (a firewall dropping packets, a wrong host).
    #[error("no answer from {addr} within {timeout:?}")]
    TimedOut { addr: String, timeout: Duration },
    /// Any other network failure while connecting (name resolution, unreachable network).
    #[error("cannot connect to {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    /// The switch's `apply-inbound-acl` does not admit this host (`text/rude-rejection`).
    #[error("the switch refused this host by its ACL ({reason})")]
    AccessDenied { reason: String },
    /// `auth` was answered `-ERR …`.
    #[error("the switch rejected the password ({reason})")]
    WrongPassword { reason: String },
    /// The connection broke, or the switch said something that is not ESL.
    #[error("ESL error: {0}")]
    Protocol(String),
}

/// An authenticated connection that only sends `api` commands.
pub struct Probe {
    client: EslClient,
}

impl Probe {
    /// Connects and authenticates; `timeout` bounds the TCP connect and each reply.
    pub async fn connect(
        host: &str,
        port: u16,
        password: &str,
        timeout: Duration,
    ) -> Result<Probe, ProbeError> {
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let options = EslConnectOptions::new().with_connect_timeout(timeout);
        match EslClient::connect_with_options(host, port, password, options).await {
            Ok((client, _events)) => Ok(Probe { client }),
            Err(e) => Err(classify(e, addr, timeout)),
        }
    }

    /// Sends `api <command>` and returns the reply body (`api/response` always has one; an
    /// empty body is returned as "").
    pub async fn api(&self, command: &str) -> Result<String, ProbeError> {
        let reply = self
            .client
            .api(command)
            .await
            .map_err(|e| ProbeError::Protocol(e.to_string()))?;
        Ok(reply.body().unwrap_or_default().to_owned())
    }

    /// Closes the connection; a failure to say goodbye changes nothing for the doctor.
    pub async fn close(self) {
        let _ = self.client.disconnect().await;
    }
}

fn classify(error: EslError, addr: String, timeout: Duration) -> ProbeError {
    match error {
        EslError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            ProbeError::Refused { addr }
        }
        EslError::Io(e) => ProbeError::Unreachable {
            addr,
            reason: e.to_string(),
        },
        EslError::Timeout { .. } => ProbeError::TimedOut { addr, timeout },
        EslError::AccessDenied { reason } => ProbeError::AccessDenied {
            reason: reason.trim().to_owned(),
        },
        EslError::AuthenticationFailed { reason } => ProbeError::WrongPassword { reason },
        other => ProbeError::Protocol(other.to_string()),
    }
}
