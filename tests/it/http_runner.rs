//! Flows' HTTP runner against a real local HTTP server: every request is answered with
//! `HttpDone`, whatever the server does, within the request's timeout.

use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::Router;
use switchboard::app::http::{HttpRunner, MAX_BODY_BYTES};
use switchboard::engine::io::{HttpOutcome, HttpRequest, HttpRequestId};
use switchboard::engine::Input;
use switchboard::esl::SwitchInput;
use switchboard::flow::HttpMethod;
use tokio::sync::mpsc;

/// A CRM on 127.0.0.1:0: `/customer` answers JSON, `/missing` 404, `/slow` after 5 s, `/huge`
/// more than the runner reads, `/echo` the POSTed body.
async fn crm() -> String {
    let app = Router::new()
        .route(
            "/customer",
            get(|| async { ([("content-type", "application/json")], r#"{"tier":"gold"}"#) }),
        )
        .route(
            "/missing",
            get(|| async { (axum::http::StatusCode::NOT_FOUND, "no such customer") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/huge", get(|| async { "x".repeat(MAX_BODY_BYTES + 1) }))
        .route(
            "/echo",
            post(|headers: axum::http::HeaderMap, body: String| async move {
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                format!("{content_type} {body}")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn request(id: u64, method: HttpMethod, url: String, timeout: Duration) -> HttpRequest {
    HttpRequest {
        id: HttpRequestId(id),
        method,
        url,
        body: None,
        timeout,
    }
}

async fn outcome_of(replies: &mut mpsc::Receiver<SwitchInput>) -> (HttpRequestId, HttpOutcome) {
    let arrival = tokio::time::timeout(Duration::from_secs(10), replies.recv())
        .await
        .expect("an answer in time")
        .expect("the runner answers");
    match arrival.input {
        Input::HttpDone { request, outcome } => (request, outcome),
        other => panic!("not an HTTP reply: {other:?}"),
    }
}

async fn run_one(request: HttpRequest) -> HttpOutcome {
    let (tx, mut rx) = mpsc::channel(8);
    let runner = HttpRunner::new(4, tx).expect("client");
    let id = request.id;
    runner.run(request);
    let (answered, outcome) = outcome_of(&mut rx).await;
    assert_eq!(answered, id);
    outcome
}

#[tokio::test]
async fn a_reply_comes_back_with_its_status_and_body() {
    let base = crm().await;
    let outcome = run_one(request(
        1,
        HttpMethod::Get,
        format!("{base}/customer"),
        Duration::from_secs(2),
    ))
    .await;
    assert_eq!(
        outcome,
        HttpOutcome::Reply {
            status: 200,
            body: r#"{"tier":"gold"}"#.into()
        }
    );
}

#[tokio::test]
async fn a_post_sends_its_body_as_json() {
    let base = crm().await;
    let mut post = request(
        2,
        HttpMethod::Post,
        format!("{base}/echo"),
        Duration::from_secs(2),
    );
    post.body = Some(r#"{"account":"42"}"#.into());
    let outcome = run_one(post).await;
    assert_eq!(
        outcome,
        HttpOutcome::Reply {
            status: 200,
            body: r#"application/json {"account":"42"}"#.into()
        }
    );
}

#[tokio::test]
async fn a_non_2xx_status_is_a_reply_for_the_engine_to_judge() {
    let base = crm().await;
    let outcome = run_one(request(
        3,
        HttpMethod::Get,
        format!("{base}/missing"),
        Duration::from_secs(2),
    ))
    .await;
    assert_eq!(
        outcome,
        HttpOutcome::Reply {
            status: 404,
            body: "no such customer".into()
        }
    );
}

#[tokio::test]
async fn a_slow_server_fails_at_the_requests_timeout() {
    let base = crm().await;
    let started = Instant::now();
    let outcome = run_one(request(
        4,
        HttpMethod::Get,
        format!("{base}/slow"),
        Duration::from_millis(300),
    ))
    .await;
    let took = started.elapsed();
    assert!(
        matches!(&outcome, HttpOutcome::Failed { reason } if reason.contains("timeout")),
        "{outcome:?}"
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_refused_connection_fails() {
    // A port that was just free: nothing listens on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let outcome = run_one(request(
        5,
        HttpMethod::Get,
        format!("http://{addr}/customer"),
        Duration::from_secs(2),
    ))
    .await;
    assert!(
        matches!(&outcome, HttpOutcome::Failed { reason } if reason.starts_with("connection failed")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_reply_larger_than_the_limit_fails() {
    let base = crm().await;
    let outcome = run_one(request(
        6,
        HttpMethod::Get,
        format!("{base}/huge"),
        Duration::from_secs(2),
    ))
    .await;
    assert!(
        matches!(&outcome, HttpOutcome::Failed { reason } if reason.contains("larger than")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_url_that_is_not_http_fails_without_a_request() {
    let outcome = run_one(request(
        7,
        HttpMethod::Get,
        "not a url".into(),
        Duration::from_secs(2),
    ))
    .await;
    assert!(matches!(outcome, HttpOutcome::Failed { .. }), "{outcome:?}");
}

#[tokio::test]
async fn requests_beyond_the_bound_are_answered_busy_at_once() {
    let base = crm().await;
    let (tx, mut rx) = mpsc::channel(8);
    let runner = HttpRunner::new(2, tx).expect("client");
    for id in 1..=2 {
        runner.run(request(
            id,
            HttpMethod::Get,
            format!("{base}/slow"),
            Duration::from_secs(2),
        ));
    }
    let started = Instant::now();
    runner.run(request(
        3,
        HttpMethod::Get,
        format!("{base}/customer"),
        Duration::from_secs(2),
    ));
    let (id, outcome) = outcome_of(&mut rx).await;
    assert_eq!(id, HttpRequestId(3));
    assert_eq!(
        outcome,
        HttpOutcome::Failed {
            reason: "busy".into()
        }
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    // The two slow ones end at their timeout, and free their places.
    for _ in 0..2 {
        let (_, outcome) = outcome_of(&mut rx).await;
        assert!(matches!(outcome, HttpOutcome::Failed { .. }), "{outcome:?}");
    }
    runner.run(request(
        4,
        HttpMethod::Get,
        format!("{base}/customer"),
        Duration::from_secs(2),
    ));
    let (id, outcome) = outcome_of(&mut rx).await;
    assert_eq!(id, HttpRequestId(4));
    assert!(matches!(outcome, HttpOutcome::Reply { status: 200, .. }));
}
