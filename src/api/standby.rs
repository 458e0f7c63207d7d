//! A standby of a controller pair serves what the database holds and sends the rest to the
//! leader: writes (only the leader's engine applies them, and applying them in one place keeps
//! the pair's memory from diverging) and the live state (the standby's engine is not running).
//! It answers those with a 503 problem naming the leader, rather than forwarding: a client
//! retries against the URL it is given, and nothing is applied twice by a forward that timed
//! out half-way.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ApiState;

/// Seconds a client should wait before retrying: a takeover takes a few.
const RETRY_AFTER: &str = "1";

/// Read routes whose answer is the engine's live state, which only the leader has.
fn is_live(path: &str) -> bool {
    // An agent's live state, and its state history (which checks the agent by the live state).
    let agent_state = path
        .strip_prefix("/v1/agents/")
        .is_some_and(|rest| !rest.contains('/') || rest.ends_with("/states"));
    path == "/v1/queues"
        || path == "/v1/agents"
        || agent_state
        || path == "/v1/calls"
        || path.starts_with("/v1/calls/")
        || path == "/v1/events"
        || (path.starts_with("/v1/flows/") && path.ends_with("/sessions"))
}

/// Whether a standby answers this request itself.
fn served_by_standby(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && !is_live(path)
}

pub(super) async fn to_the_leader(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let view = state.leadership.borrow().clone();
    if !view.is_standby() || served_by_standby(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let (detail, leader) = match &view.leader {
        Some((name, url)) => (
            format!(
                "this controller is the standby: send this request to the leader {name} at {url}"
            ),
            json!({ "name": name, "url": url }),
        ),
        None => (
            "this controller is the standby and no leader holds the lease (a takeover is under \
             way): retry shortly"
                .to_owned(),
            serde_json::Value::Null,
        ),
    };
    let body = json!({
        "type": "/problems/standby",
        "title": "Not the leader",
        "status": 503,
        "detail": detail,
        "leader": leader,
        "epoch": view.epoch,
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
    if let Some(location) = view
        .leader
        .as_ref()
        .and_then(|(_, url)| HeaderValue::from_str(url).ok())
    {
        headers.insert(header::CONTENT_LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_serves_stored_reads_and_sends_writes_and_live_state_to_the_leader() {
        for stored in [
            "/healthz",
            "/readyz",
            "/v1/staffing",
            "/v1/recordings",
            "/v1/tokens",
            "/v1/agents/a1/provisioning",
            "/v1/pause-reasons",
            "/v1/webhook-deliveries/3",
        ] {
            assert!(served_by_standby(&Method::GET, stored), "{stored}");
        }
        for live in [
            "/v1/queues",
            "/v1/agents",
            "/v1/agents/a1",
            "/v1/agents/a1/states",
            "/v1/calls",
            "/v1/calls/c1",
            "/v1/events",
            "/v1/flows/main/sessions",
        ] {
            assert!(!served_by_standby(&Method::GET, live), "{live}");
        }
        assert!(!served_by_standby(&Method::POST, "/v1/tokens"));
        assert!(!served_by_standby(&Method::PUT, "/v1/pause-reasons/lunch"));
    }
}
