//! The HTTP server against hostile clients: connections that send nothing or half a header
//! are closed after the header timeout, silent ones after the idle timeout, a flood beyond the
//! connection limit is turned away at once, and none of it keeps a normal request out. And
//! every error, whoever makes it (a handler, axum's extractors, the body limit, the router),
//! is RFC 9457 problem details.

use std::time::Duration;

use serde_json::Value;
use switchboard::api::HttpLimits;
use switchboard::app::{self, AuthOptions, StartOptions};
use switchboard::config::{BearerToken, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{client_with, provisioned_token};

struct Bare {
    running: app::Running,
    base: String,
    admin: reqwest::Client,
    admin_token: String,
    _dir: tempfile::TempDir,
}

/// A controller with no switch, an admin token and these server limits.
async fn start(limits: HttpLimits) -> Bare {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = BearerToken::generate();
    let running = app::start(StartOptions {
        http: tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
        database_url: format!("sqlite://{}", dir.path().join("t.db").display()),
        asterisk: Vec::new(),
        switches: Vec::new(),
        queues: Vec::new(),
        agents: Vec::new(),
        busy_backoff: Duration::from_secs(1),
        log_in: Vec::new(),
        seed: 1,
        presence_domain: None,
        pause_reasons: Vec::new(),
        hot_desk_moves: true,
        phone_prompts: Default::default(),
        hot_desk_extension: None,
        flows: None,
        auth: AuthOptions {
            enabled: true,
            tokens: vec![provisioned_token("admin", Role::Admin, None, &token)],
        },
        webhooks: Vec::new(),
        evaluation_forms: Vec::new(),
        purge_every: None,
        http_limits: limits,
        reach: Vec::new(),
        routing_defaults: Default::default(),
        external_dial: None,
        stats: Default::default(),
        allow_private_webhook_targets: true,
    })
    .await
    .expect("start");
    Bare {
        base: format!("http://{}", running.http_addr),
        running,
        admin: client_with(token.expose()),
        admin_token: token.expose().to_owned(),
        _dir: dir,
    }
}

/// Whether the server closes this connection within `within` (a clean close or a reset).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // The server may say why before closing (hyper answers a header timeout with
            // nothing, but a 408 would do); keep reading until the close.
            Ok(Ok(_)) => {}
        }
    }
}

async fn healthz_within(bare: &Bare, within: Duration) -> reqwest::StatusCode {
    let fresh = reqwest::Client::builder()
        .timeout(within)
        .build()
        .expect("client");
    fresh
        .get(format!("{}/healthz", bare.base))
        .send()
        .await
        .expect("a normal request is answered in time")
        .status()
}

async fn counter(bare: &Bare, name: &str) -> u64 {
    let text = bare
        .admin
        .get(format!("{}/metrics", bare.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in {text}"))
}

#[tokio::test]
async fn idle_and_half_header_connections_are_closed_and_never_keep_a_request_out() {
    let bare = start(HttpLimits {
        header_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_secs(30),
        max_connections: 1024,
    })
    .await;
    let addr = bare.running.http_addr;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut halves = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("half a header");
        halves.push(s);
    }
    // 350 connections hold the server; a normal client still gets in at once.
    let started = std::time::Instant::now();
    assert_eq!(healthz_within(&bare, Duration::from_secs(2)).await, 200);
    assert!(started.elapsed() < Duration::from_secs(2));

    // The header timeout closes every one of them.
    for s in idle.iter_mut().chain(halves.iter_mut()) {
        assert!(
            closed_within(s, Duration::from_secs(3)).await,
            "a connection that never sent a whole header is still open"
        );
    }
    assert!(counter(&bare, "switchboard_http_header_timeouts_total").await >= 350);

    // A kept-alive connection is closed by the same timeout after its response.
    let mut kept = TcpStream::connect(addr).await.expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut buf = [0u8; 512];
    let n = kept.read(&mut buf).await.expect("response");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert!(closed_within(&mut kept, Duration::from_secs(3)).await);
    bare.running.stop().await.expect("stop");
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let bare = start(HttpLimits {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_millis(500),
        max_connections: 1024,
    })
    .await;
    let mut silent = TcpStream::connect(bare.running.http_addr)
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(counter(&bare, "switchboard_http_idle_timeouts_total").await >= 1);
    // A client that speaks in time is served as ever.
    assert_eq!(healthz_within(&bare, Duration::from_secs(2)).await, 200);
    bare.running.stop().await.expect("stop");
}

#[tokio::test]
async fn a_request_body_that_stops_arriving_is_answered_and_its_connection_closed() {
    let bare = start(HttpLimits {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_millis(500),
        max_connections: 1024,
    })
    .await;
    let mut stalled = TcpStream::connect(bare.running.http_addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        bare.admin_token
    );
    stalled
        .write_all(head.as_bytes())
        .await
        .expect("half a body");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, stalled.read(&mut buf)).await {
            Err(_) => panic!("a stalled body held its connection past the idle timeout"),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "a stalled body is refused, not served: {answer}"
    );
    assert_eq!(healthz_within(&bare, Duration::from_secs(2)).await, 200);
    bare.running.stop().await.expect("stop");
}

#[tokio::test]
async fn beyond_the_connection_limit_new_connections_are_closed_and_counted_until_places_free() {
    let bare = start(HttpLimits {
        header_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_secs(30),
        max_connections: 20,
    })
    .await;
    let addr = bare.running.http_addr;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // Let the server accept all twenty before the one too many.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(addr).await.expect("connect");
    assert!(
        closed_within(&mut extra, Duration::from_millis(500)).await,
        "a connection beyond the limit is closed at once"
    );
    // The flood's places free at the header timeout; then requests get in again.
    for s in &mut held {
        assert!(closed_within(s, Duration::from_secs(3)).await);
    }
    assert_eq!(healthz_within(&bare, Duration::from_secs(2)).await, 200);
    assert!(counter(&bare, "switchboard_http_connections_refused_total").await >= 1);
    bare.running.stop().await.expect("stop");
}

/// Sends a request and checks its answer is problem details with this status.
async fn assert_problem(request: reqwest::RequestBuilder, status: u16, what: &str) -> Value {
    let response = request.send().await.expect("request");
    assert_eq!(response.status().as_u16(), status, "{what}");
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "{what}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["status"], status, "{what}: {body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{what}: {body}"
    );
    assert!(body["type"].is_string(), "{what}: {body}");
    assert!(body["detail"].is_string(), "{what}: {body}");
    body
}

#[tokio::test]
async fn every_kind_of_error_is_problem_details() {
    let bare = start(HttpLimits::default()).await;
    let b = &bare.base;
    let c = &bare.admin;
    assert_problem(
        c.get(format!("{b}/v1/webhook-deliveries/not-a-number")),
        400,
        "a path id that is not a number",
    )
    .await;
    assert_problem(
        c.post(format!("{b}/v1/webhook-deliveries/x1/replay")),
        400,
        "a path id that is not a number, on a write",
    )
    .await;
    assert_problem(
        c.get(format!("{b}/v1/agents/%FF%FE")),
        400,
        "a path parameter that is not UTF-8",
    )
    .await;
    assert_problem(
        c.get(format!("{b}/v1/webhook-deliveries?limit=many")),
        400,
        "a bad query string",
    )
    .await;
    assert_problem(
        c.get(format!("{b}/v1/calls?limit=-1")),
        400,
        "a bad query string elsewhere",
    )
    .await;
    let big = vec![b'x'; 3 * 1024 * 1024];
    let too_large = assert_problem(
        c.put(format!("{b}/v1/agents/1001/state")).body(big.clone()),
        413,
        "a body over the limit",
    )
    .await;
    assert_eq!(too_large["type"], "/problems/too-large");
    let mut json_body = b"{\"caller_number\": \"".to_vec();
    json_body.extend_from_slice(&big);
    json_body.extend_from_slice(b"\"}");
    assert_problem(
        c.post(format!("{b}/v1/erasures"))
            .header("content-type", "application/json")
            .body(json_body),
        413,
        "a JSON body over the limit",
    )
    .await;
    assert_problem(
        c.post(format!("{b}/v1/erasures"))
            .body("{\"caller_number\": \"1\"}"),
        415,
        "a JSON body without its content type",
    )
    .await;
    assert_problem(
        c.post(format!("{b}/v1/erasures"))
            .header("content-type", "application/json")
            .body("{\"caller_number\": 5}"),
        400,
        "JSON of the wrong shape",
    )
    .await;
    assert_problem(c.get(format!("{b}/v1/no-such-thing")), 404, "no such route").await;
    let response = c
        .delete(format!("{b}/v1/queues"))
        .send()
        .await
        .expect("request");
    assert!(
        response.headers().contains_key(reqwest::header::ALLOW),
        "405 keeps Allow"
    );
    assert_problem(
        c.delete(format!("{b}/v1/queues")),
        405,
        "a method the route does not have",
    )
    .await;
    assert_problem(
        reqwest::Client::new().get(format!("{b}/v1/queues")),
        401,
        "no token",
    )
    .await;
    bare.running.stop().await.expect("stop");
}
