//! Faults on purpose, on a webhook receiver that flaps: each event's first tries meet an
//! error, a reset connection or a receiver that never answers, before a 200. Every delivery
//! must end delivered as `docs/crm.md` promises (at least once; a call's durable events in
//! order), none lost, the retries backing off as documented.
//!
//! The receiver is a bare HTTP/1.1 server of the test's own, so it can reset a connection
//! (RST, no reply) and hang. The durable class waits 2.5 to 5 s before its second try and 5 to
//! 10 s before its third: the test notes each wait the worker scheduled, then moves the retry
//! to now in the database (time passing), so it takes seconds, not minutes.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Row;
use switchboard::engine::QueueRouting;
use switchboard::sim::{CallSpec, EntryPoint, PhoneBehavior};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::faults::nothing_lost;
use crate::harness::{queue_row, spawn_setup, Agent, Setup, TestApp};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver does with one try of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    ServerError,
    Reset,
    Hang,
    Ok,
}

/// Durable events: 500, then a reset, then 200. Screen-pops (2 s per try, three tries): no
/// answer, then a reset, then 200.
fn plan(event_type: &str, try_number: usize) -> Answer {
    let pop = event_type == "call.offered";
    match (pop, try_number) {
        (false, 1) => Answer::ServerError,
        (true, 1) => Answer::Hang,
        (_, 2) => Answer::Reset,
        _ => Answer::Ok,
    }
}

#[derive(Debug, Clone)]
struct Accepted {
    id: String,
    event_type: String,
    call: Option<String>,
}

#[derive(Default)]
struct Flapping {
    tries: Mutex<HashMap<String, usize>>,
    accepted: Mutex<Vec<Accepted>>,
    bad_signatures: Mutex<usize>,
}

async fn start_receiver() -> (String, Arc<Flapping>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let state = Arc::new(Flapping::default());
    let shared = state.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(shared.clone(), stream));
        }
    });
    (url, state)
}

/// Reads one request: its headers (lower-cased names) and body.
async fn read_request(stream: &mut TcpStream) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((headers, body))
}

async fn serve(state: Arc<Flapping>, mut stream: TcpStream) {
    let Some((headers, body)) = read_request(&mut stream).await else {
        return;
    };
    let id = headers.get("webhook-id").cloned().unwrap_or_default();
    let payload: Value = serde_json::from_slice(&body).unwrap_or_default();
    let event_type = payload["type"].as_str().unwrap_or_default().to_owned();
    let try_number = {
        let mut tries = state.tries.lock().expect("lock");
        let n = tries.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    let reply = |status: &str| {
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    };
    match plan(&event_type, try_number) {
        Answer::ServerError => {
            let _ = stream
                .write_all(reply("500 Internal Server Error").as_bytes())
                .await;
        }
        Answer::Reset => {
            // SO_LINGER 0: closing sends RST, not FIN (and does not block: nothing lingers).
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Answer::Ok => {
            let mut header_map = axum::http::HeaderMap::new();
            for (k, v) in &headers {
                if let (Ok(name), Ok(value)) = (
                    axum::http::HeaderName::from_bytes(k.as_bytes()),
                    axum::http::HeaderValue::from_str(v),
                ) {
                    header_map.insert(name, value);
                }
            }
            let verifier = standardwebhooks::Webhook::new(SECRET).expect("secret");
            if verifier.verify(&body, &header_map).is_err() {
                *state.bad_signatures.lock().expect("lock") += 1;
                let _ = stream.write_all(reply("401 Unauthorized").as_bytes()).await;
                return;
            }
            state.accepted.lock().expect("lock").push(Accepted {
                id,
                event_type,
                call: payload["data"]["call"]["id"].as_str().map(str::to_owned),
            });
            let _ = stream.write_all(reply("200 OK").as_bytes()).await;
        }
    }
}

/// The waits the worker scheduled after a failed try of a durable delivery, by try number.
type Waits = HashMap<i64, Vec<i64>>;

/// Notes the wait of every durable retry scheduled in the future, then moves it to now.
async fn note_and_hurry(
    pool: &sqlx::SqlitePool,
    waits: &mut Waits,
    noted: &mut BTreeSet<(i64, i64)>,
) {
    let rows = sqlx::query(
        "SELECT id, attempts, last_attempt_at, next_attempt_at FROM webhook_deliveries \
         WHERE status = 'pending' AND class = 'durable' AND attempts > 0 \
         AND next_attempt_at > last_attempt_at",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for row in rows {
        let (id, attempts): (i64, i64) = (row.get("id"), row.get("attempts"));
        let (last, next): (i64, i64) = (row.get("last_attempt_at"), row.get("next_attempt_at"));
        if noted.insert((id, attempts)) {
            waits.entry(attempts).or_default().push(next - last);
        }
        let _ = sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = last_attempt_at \
             WHERE id = $1 AND attempts = $2 AND status = 'pending'",
        )
        .bind(id)
        .bind(attempts)
        .execute(pool)
        .await;
    }
}

async fn app() -> TestApp {
    spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![Agent {
            behavior: PhoneBehavior::Answer {
                after: Duration::from_millis(300),
            },
            ..Agent::answering("1001")
        }],
        entries: vec![EntryPoint {
            number: "5000".into(),
            variables: vec![("switchboard_queue".into(), "support".into())],
        }],
    })
    .await
}

#[tokio::test]
async fn a_flapping_receiver_gets_every_delivery_at_least_once_in_order_with_backed_off_retries() {
    let app = app().await;
    let (url, receiver) = start_receiver().await;
    let reply = app
        .put_json(
            "/v1/webhooks/crm",
            json!({ "url": url, "events": ["call.entered", "call.offered", "call.answered",
                "call.ended", "agent.state_changed"], "queues": ["support"],
                "secrets": [SECRET] }),
        )
        .await;
    assert_eq!(reply.status(), 200);
    app.connected().await;
    let callers: Vec<String> = ["+4930400001", "+4930400002"]
        .iter()
        .map(|n| {
            app.sim.place_call(CallSpec {
                talk_time: Some(Duration::from_millis(300)),
                ..CallSpec::new(*n, "5000")
            })
        })
        .collect();
    nothing_lost(&app, &callers).await;

    let options: sqlx::sqlite::SqliteConnectOptions = app
        .database_url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .expect("sqlite URL")
        .busy_timeout(Duration::from_secs(10));
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("open the database");
    let mut waits = Waits::new();
    let mut noted = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        note_and_hurry(&pool, &mut waits, &mut noted).await;
        let open: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(&pool)
                .await
                .unwrap_or(1);
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every delivery ended delivered: none missed, none dead, none lost.
    let statuses: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT d.event_id, d.status, d.attempts FROM webhook_deliveries d ORDER BY d.id",
    )
    .fetch_all(&pool)
    .await
    .expect("deliveries");
    let undelivered: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM cti_events e WHERE e.call_id IS NOT NULL AND e.type IN \
         ('call.entered', 'call.offered', 'call.answered', 'call.ended') AND NOT EXISTS \
         (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.event_id)",
    )
    .fetch_one(&pool)
    .await
    .expect("events");
    pool.close().await;
    assert_eq!(
        undelivered, 0,
        "every call event of the queue the subscription wants has its delivery"
    );
    assert!(
        statuses
            .iter()
            .all(|(_, status, attempts)| status == "delivered" && *attempts == 3),
        "{statuses:?}"
    );
    let accepted = receiver.accepted.lock().expect("lock").clone();
    let accepted_ids: BTreeSet<&str> = accepted.iter().map(|a| a.id.as_str()).collect();
    for (event, _, _) in &statuses {
        assert!(
            accepted_ids.contains(event.as_str()),
            "{event} never arrived"
        );
    }
    assert_eq!(*receiver.bad_signatures.lock().expect("lock"), 0);

    // A call's durable events arrive in order: entered, answered, ended.
    let calls: BTreeSet<String> = accepted.iter().filter_map(|a| a.call.clone()).collect();
    assert_eq!(calls.len(), 2);
    for call in calls {
        let mut seen = BTreeSet::new();
        let order: Vec<&str> = accepted
            .iter()
            .filter(|a| a.call.as_deref() == Some(call.as_str()))
            .filter(|a| a.event_type != "call.offered" && a.event_type != "agent.state_changed")
            .filter(|a| seen.insert(a.id.clone()))
            .map(|a| a.event_type.as_str())
            .collect();
        assert_eq!(
            order,
            ["call.entered", "call.answered", "call.ended"],
            "{call}"
        );
    }

    // The retries backed off as documented: 2.5 to 5 s after the first try, 5 to 10 s after
    // the second.
    let after_first = waits.get(&1).cloned().unwrap_or_default();
    let after_second = waits.get(&2).cloned().unwrap_or_default();
    assert!(
        !after_first.is_empty() && !after_second.is_empty(),
        "{waits:?}"
    );
    assert!(
        after_first.iter().all(|w| (2_500..=5_000).contains(w)),
        "{waits:?}"
    );
    assert!(
        after_second.iter().all(|w| (5_000..=10_000).contains(w)),
        "{waits:?}"
    );
}
