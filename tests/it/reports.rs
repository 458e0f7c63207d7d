//! Interval reports end to end: today's calls placed through the simulator in
//! `GET /v1/reports/queues` and `/v1/reports/agents`, as JSON and as CSV (`format=csv` or
//! `Accept: text/csv`, a header row naming the columns), and bad parameters refused with a
//! problem naming the parameter.

use serde_json::Value;
use switchboard::engine::QueueRouting;

use crate::harness::{queue_row, spawn_setup, Agent, Setup, TestApp};
use crate::stats::{answered_then_abandoned, json};

fn sum(rows: &Value, queue_or_agent: (&str, &str), column: &str) -> i64 {
    rows.as_array()
        .expect("rows")
        .iter()
        .filter(|r| r[queue_or_agent.0] == queue_or_agent.1)
        .map(|r| r[column].as_i64().unwrap_or(0))
        .sum()
}

async fn app() -> TestApp {
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![
            Agent::answering("1001").hanging_up_after(std::time::Duration::from_millis(300))
        ],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app
}

#[tokio::test]
async fn a_report_of_today_counts_the_calls_placed_in_json_and_csv() {
    let app = app().await;
    answered_then_abandoned(&app).await;

    let body = json(&app, "/v1/reports/queues?interval=1h").await;
    assert_eq!(body["interval"], "1h");
    assert_eq!(body["time_zone"], "UTC");
    let rows = &body["rows"];
    assert_eq!(sum(rows, ("queue", "support"), "offered"), 2, "{rows}");
    assert_eq!(sum(rows, ("queue", "support"), "answered"), 1);
    assert_eq!(sum(rows, ("queue", "support"), "short_abandoned"), 1);
    let day = json(&app, "/v1/reports/queues?interval=1d&within=1ms").await;
    let row = &day["rows"][0];
    assert_eq!(row["target_within_ms"], 1);
    assert_eq!(
        row["answered_within_target"], 0,
        "nobody answers within 1 ms"
    );

    let csv = app.get("/v1/reports/queues?format=csv&interval=1d").await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/csv"));
    let text = csv.text().await.expect("text");
    let mut lines = text.lines();
    let header = lines.next().expect("a header row");
    assert!(
        header.starts_with(
            "queue,name,start,end,target_within_ms,short_abandon_ms,offered,answered,"
        ),
        "{header}"
    );
    let columns: Vec<&str> = header.split(',').collect();
    let data: Vec<&str> = lines.next().expect("a row").split(',').collect();
    assert_eq!(data.len(), columns.len());
    let offered = columns
        .iter()
        .position(|c| *c == "offered")
        .expect("offered");
    assert_eq!(data[offered], "2");
    let needed = columns
        .iter()
        .position(|c| *c == "agents_needed")
        .expect("the staffing columns");
    assert_eq!(
        data[needed], "1",
        "Erlang C's agents for the day's two calls"
    );

    let accepted = app
        .http
        .get(format!("{}/v1/reports/agents?interval=1d", app.base))
        .header("accept", "text/csv")
        .send()
        .await
        .expect("request");
    let text = accepted.text().await.expect("text");
    assert!(text.starts_with("agent,name,start,end,handled,"), "{text}");

    let agents = json(&app, "/v1/reports/agents").await;
    assert_eq!(
        sum(&agents["rows"], ("agent", "1001"), "handled"),
        1,
        "{agents}"
    );
}

#[tokio::test]
async fn bad_report_parameters_are_refused_naming_the_parameter() {
    let app = app().await;
    for (query, field, says) in [
        ("interval=5m", "interval", "15m, 1h or 1d"),
        ("from=yesterday", "from", "RFC 3339"),
        (
            "from=2026-01-01&to=2026-03-01&interval=15m",
            "interval",
            "at most 31 days",
        ),
        ("from=2026-03-01&to=2026-01-01", "to", "after"),
        ("within=soon", "within", "duration"),
        ("short_abandon=2d", "short_abandon", "24h"),
        ("time_zone=Mars/Olympus", "time_zone", "time zone"),
        ("format=xml", "format", "json or csv"),
    ] {
        let response = app.get(&format!("/v1/reports/queues?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(problem["field"], field, "{query}: {problem}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains(says)),
            "{query}: {problem}"
        );
    }
    let unknown = app.get("/v1/reports/agents?colour=blue").await;
    assert_eq!(unknown.status(), 400);
}
