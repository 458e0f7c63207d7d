//! Flows' HTTP requests (a CRM lookup) run beside the engine, never inside it: each on a task of
//! its own, bounded in number, time and reply size, and always answered with
//! `Input::HttpDone`, so a caller never waits on a CRM longer than the node's timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};
use tracing::warn;

use crate::engine::io::{HttpOutcome, HttpRequest, HttpRequestId};
use crate::engine::Input;
use crate::esl::SwitchInput;
use crate::flow::HttpMethod;

/// Requests running at once; one more is answered `busy` at once rather than queued behind a
/// slow CRM (queued, it would only time out later, holding its caller as long).
pub const MAX_IN_FLIGHT: usize = 64;
/// The largest reply body read; a larger one is a failure (a flow extracts a few fields).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Redirects followed before the request fails.
const MAX_REDIRECTS: usize = 3;

#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for flows: {0}")]
pub struct HttpClientError(#[from] reqwest::Error);

/// Runs flows' requests; cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpRunner {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
    replies: mpsc::Sender<SwitchInput>,
}

impl HttpRunner {
    /// `replies` is where the engine task reads its inputs.
    pub fn new(
        max_in_flight: usize,
        replies: mpsc::Sender<SwitchInput>,
    ) -> Result<HttpRunner, HttpClientError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .build()?;
        Ok(HttpRunner {
            client,
            permits: Arc::new(Semaphore::new(max_in_flight)),
            replies,
        })
    }

    /// Starts the request and returns at once; its outcome arrives as `Input::HttpDone`.
    pub fn run(&self, request: HttpRequest) {
        let replies = self.replies.clone();
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            warn!(url = %request.url, "too many flow HTTP requests in flight; answered busy");
            let busy = HttpOutcome::Failed {
                reason: "busy".to_owned(),
            };
            tokio::spawn(answer(replies, request.id, busy));
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let outcome = fetch(&client, &request).await;
            drop(permit);
            if let HttpOutcome::Failed { reason } = &outcome {
                warn!(url = %request.url, %reason, "flow HTTP request failed");
            }
            answer(replies, request.id, outcome).await;
        });
    }
}

async fn answer(replies: mpsc::Sender<SwitchInput>, request: HttpRequestId, outcome: HttpOutcome) {
    let input = SwitchInput {
        input: Input::HttpDone { request, outcome },
        received: Instant::now(),
    };
    // The engine task has stopped: nobody waits for the reply any more.
    let _ = replies.send(input).await;
}

fn failed(reason: impl Into<String>) -> HttpOutcome {
    HttpOutcome::Failed {
        reason: reason.into(),
    }
}

/// One request, within its timeout from the first byte sent to the last byte read.
pub async fn fetch(client: &reqwest::Client, request: &HttpRequest) -> HttpOutcome {
    let limit = request.timeout.max(Duration::from_millis(1));
    match tokio::time::timeout(limit, exchange(client, request)).await {
        Ok(outcome) => outcome,
        Err(_) => failed(format!("timeout after {} ms", limit.as_millis())),
    }
}

async fn exchange(client: &reqwest::Client, request: &HttpRequest) -> HttpOutcome {
    let builder = match request.method {
        HttpMethod::Get => client.get(&request.url),
        HttpMethod::Post => client.post(&request.url),
    };
    let builder = builder.header(reqwest::header::ACCEPT, "application/json");
    let builder = match &request.body {
        Some(body) => builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone()),
        None => builder,
    };
    let mut response = match builder.send().await {
        Ok(r) => r,
        Err(e) => return failed(describe(&e)),
    };
    let status = response.status().as_u16();
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return failed(format!("reply larger than {MAX_BODY_BYTES} bytes"));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return failed(format!("reply larger than {MAX_BODY_BYTES} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return failed(describe(&e)),
        }
    }
    HttpOutcome::Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// What went wrong, without the URL (the log line has it) and short enough for the history.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_builder() {
        "bad request"
    } else if e.is_redirect() {
        "too many redirects"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}
