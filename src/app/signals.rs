//! What stops a running controller: Ctrl-C (SIGINT) and SIGTERM, which systemd, `docker stop`
//! and Kubernetes send. Both take the same clean stop; a signal that cannot be listened for is
//! logged and the other still works.

use tracing::warn;

/// Resolves when the process is asked to stop, naming the signal.
pub async fn stop_requested() -> &'static str {
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "SIGINT",
            Err(e) => {
                warn!("cannot listen for Ctrl-C: {e}");
                std::future::pending().await
            }
        }
    };
    tokio::select! {
        name = interrupt => name,
        name = terminate() => name,
    }
}

#[cfg(unix)]
async fn terminate() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
            "SIGTERM"
        }
        Err(e) => {
            warn!("cannot listen for SIGTERM: {e}");
            std::future::pending().await
        }
    }
}

#[cfg(not(unix))]
async fn terminate() -> &'static str {
    std::future::pending().await
}
