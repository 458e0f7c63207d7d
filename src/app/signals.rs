//! What stops a running controller: Ctrl-C (SIGINT) and SIGTERM, which systemd, `docker stop`
//! and Kubernetes send. Both take the same clean stop. Listening starts before the controller
//! does, so a signal sent while it starts is not the default "die at once"; a signal that
//! cannot be listened for is logged and the other still works.

use tracing::warn;

/// The stop signals, listened for from the moment this is made.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Starts listening (needs a tokio runtime).
    #[cfg(unix)]
    pub fn listen() -> StopSignals {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!("cannot listen for {name}: {e}");
                None
            }
        };
        StopSignals {
            interrupt: listen(SignalKind::interrupt(), "SIGINT"),
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
        }
    }

    #[cfg(not(unix))]
    pub fn listen() -> StopSignals {
        StopSignals {}
    }

    /// Resolves when the process is asked to stop, naming the signal.
    #[cfg(unix)]
    pub async fn wait(&mut self) -> &'static str {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.interrupt) => "SIGINT",
            () = next(&mut self.terminate) => "SIGTERM",
        }
    }

    #[cfg(not(unix))]
    pub async fn wait(&mut self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(e) => {
                warn!("cannot listen for Ctrl-C: {e}");
                std::future::pending().await
            }
        }
    }
}
