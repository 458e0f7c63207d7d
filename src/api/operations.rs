//! What operators' tools read: `/metrics` (the counters of `crate::metrics` plus the gauges
//! read at scrape time), `/readyz` (whether this controller can do its work: a load balancer
//! or an orchestrator takes it out of rotation while not), and the middleware that counts
//! requests by route template and status.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tracing::warn;

use super::{wall_clock_ms, ApiState};
use crate::engine::Timestamp;
use crate::metrics::gauges::{self, OutboxBacklog, StoreView};

/// How long a scrape or a readiness probe waits for the database before calling it down.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The Prometheus text: counters, histograms and gauges.
pub(super) async fn render_metrics(state: &ApiState) -> String {
    let mut text = state.metrics.render();
    let now = Timestamp::from_millis(wall_clock_ms());
    let outbox = match tokio::time::timeout(STORE_TIMEOUT, state.store.outbox_backlog()).await {
        Ok(Ok((pending, oldest))) => Some(OutboxBacklog {
            pending,
            oldest_age: oldest.map(|at| now.since(at)),
        }),
        Ok(Err(e)) => {
            warn!(error = %e, "metrics: cannot read the outbox backlog");
            None
        }
        Err(_) => {
            warn!("metrics: the database did not answer in time");
            None
        }
    };
    let snapshot = state.engine.snapshot();
    text.push_str(&gauges::render(&snapshot, now, StoreView { outbox }));
    text
}

/// 200 while the database answers and (on a controller that drives switches) at least one
/// switch link is up; otherwise 503 problem details naming what is down.
pub(super) async fn readyz(State(state): State<ApiState>) -> Response {
    let database_up = match tokio::time::timeout(STORE_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            warn!(error = %e, "readyz: the database is unreachable");
            false
        }
        Err(_) => {
            warn!("readyz: the database did not answer in time");
            false
        }
    };
    // A standby drives no switch until it leads: only the database counts for it.
    let standby = state.leadership.borrow().is_standby();
    let links = state.metrics.switch_links();
    let no_switch = !standby && !links.is_empty() && links.iter().all(|(_, up)| !up);
    let switches: Map<String, Value> = links
        .iter()
        .map(|(name, up)| (name.clone(), json!(if *up { "up" } else { "down" })))
        .collect();
    let database = if database_up { "up" } else { "down" };
    if database_up && !no_switch {
        let body = json!({ "status": "ready", "database": database, "switches": switches });
        return (StatusCode::OK, axum::Json(body)).into_response();
    }
    let mut down = Vec::new();
    if !database_up {
        down.push("the database does not answer".to_owned());
    }
    if no_switch {
        let names: Vec<&str> = links.iter().map(|(name, _)| name.as_str()).collect();
        down.push(format!(
            "no switch is connected ({} down)",
            names.join(", ")
        ));
    }
    let body = json!({
        "type": "/problems/not-ready",
        "title": "Not ready",
        "status": 503,
        "detail": format!("not ready: {}", down.join("; ")),
        "database": database,
        "switches": switches,
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts each request under its route's template (`/v1/calls/{id}`), never its raw path, so
/// the series stay as many as the routes; a path no route has counts as `unmatched`.
pub(super) async fn count_requests(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .count_request(method, &route, response.status().as_u16());
    response
}
