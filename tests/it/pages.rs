//! The wallboard and the console in a real browser: Debian's Chromium, driven through
//! chromedriver (WebDriver), against the real controller and the simulator. Signing in with a
//! token (and being sent back to the form with a wrong one), the wallboard's numbers following
//! the calls, a dozen queues on a 1920x1080 screen without scrolling, the live stream coming
//! back after the server drops it (resuming with `Last-Event-ID`), and the console forcing an
//! agent's state and showing the API's refusal. Screenshots of both pages are saved to
//! `target/screenshots/`; with `UPDATE_SCREENSHOTS=1` also to `docs/images/`, which the
//! README shows (so a test run leaves the source tree as it was).
//!
//! Without Chromium these tests skip, saying why; with `CI=true` they fail instead.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{json, Value};
use switchboard::engine::routing::Thresholds;
use switchboard::engine::QueueRouting;
use switchboard::sim::CallSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::harness::{queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a page has to show what a test waits for.
const PAGE_DEADLINE: Duration = Duration::from_secs(20);

/// A headless Chromium at 1920x1080 and the chromedriver driving it.
struct Browser {
    client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

/// `None` (after saying why) when Chromium is not installed; under `CI=true` that fails.
async fn browser() -> Option<Browser> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "{} not installed (apt-get install chromium chromium-driver; .ci/run does)",
            missing.join(" and ")
        );
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "browser tests cannot run under CI: {why}"
        );
        eprintln!("skipping a browser test: {why}");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let driver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().expect("tempdir");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1920,1080",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => break client,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("chromedriver did not start a session: {e}"),
        }
    };
    // The window's frame takes some of its height: size it so the page gets 1920x1080.
    let frame = client
        .execute(
            "return [outerWidth - innerWidth, outerHeight - innerHeight];",
            Vec::new(),
        )
        .await
        .expect("window frame");
    let [frame_width, frame_height] = [0, 1].map(|i| {
        frame[i]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    });
    client
        .set_window_size(1920 + frame_width, 1080 + frame_height)
        .await
        .expect("window size");
    Some(Browser {
        client,
        driver,
        _profile: profile,
    })
}

impl Browser {
    /// Runs `test`, then closes the browser whether it passed or not.
    async fn run<F, Fut>(mut self, test: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let outcome = std::panic::AssertUnwindSafe(test(self.client.clone()))
            .catch_unwind()
            .await;
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Runs `script` (a function body; `arguments[0]` is `arg`) in the page.
async fn eval(client: &Client, script: &str, arg: Value) -> Value {
    client
        .execute(script, vec![arg])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// The text of the first element `css` finds, or `None`.
async fn text(client: &Client, css: &str) -> Option<String> {
    let found = eval(
        client,
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
        json!(css),
    )
    .await;
    found.as_str().map(str::to_owned)
}

/// Waits until the element `css` finds shows `wanted` (trimmed), failing with what it shows.
async fn shows(client: &Client, css: &str, wanted: &str) {
    let deadline = Instant::now() + PAGE_DEADLINE;
    loop {
        let now = text(client, css).await;
        if now.as_deref().map(str::trim) == Some(wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} shows {now:?}, not {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `condition` (a script returning a boolean) holds in the page.
async fn holds(client: &Client, what: &str, condition: &str) {
    let deadline = Instant::now() + PAGE_DEADLINE;
    loop {
        if eval(client, condition, Value::Null).await == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens `page` and signs in with `token` through the form.
async fn sign_in(client: &Client, url: &str, token: &str) {
    client.goto(url).await.expect("open the page");
    submit_token(client, token).await;
}

/// Waits for the sign-in form and gives it `token`.
async fn submit_token(client: &Client, token: &str) {
    holds(
        client,
        "the sign-in form shows",
        "return !document.getElementById('signin').hidden;",
    )
    .await;
    let field = client
        .find(Locator::Css("#signin-token"))
        .await
        .expect("token field");
    field.clear().await.expect("clear");
    field.send_keys(token).await.expect("type the token");
    client
        .find(Locator::Css("#signin button[type=submit]"))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("sign in");
}

/// Chooses `value` in agent `agent`'s state menu on the console and presses its Set button.
async fn set_state(client: &Client, agent: &str, value: &str) {
    let menu = format!("tr[data-agent='{agent}'] select[data-action=state]");
    client
        .find(Locator::Css(&menu))
        .await
        .unwrap_or_else(|e| panic!("no {menu}: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("cannot choose {value} in {menu}: {e}"));
    click(
        client,
        &format!("tr[data-agent='{agent}'] button[data-action=set-state]"),
    )
    .await;
}

/// Clicks the element `css` finds.
async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

/// Saves a screenshot to `target/screenshots/<name>`, and to `docs/images/<name>` when
/// `UPDATE_SCREENSHOTS` is set.
async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("target/screenshots")];
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        dirs.push(root.join("docs/images"));
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        std::fs::write(dir.join(name), &png).expect("write the screenshot");
    }
}

/// A supervisor's token, made over the API with the harness's admin token.
async fn supervisor_token(app: &TestApp, name: &str) -> String {
    let created: Value = app
        .http
        .post(format!("{}/v1/tokens", app.base))
        .json(&json!({ "name": name, "role": "supervisor" }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {created}"))
        .to_owned()
}

/// `support` (more than one caller waiting is an alarm) and eleven more queues; agent 1001
/// answers `support` and starts logged out.
async fn twelve_queues() -> TestApp {
    let mut support = queue_row("support", QueueRouting::default());
    support.name = "Support".into();
    support.routing.thresholds = Thresholds {
        waiting: Some(1),
        longest_wait: Some(Duration::from_secs(120)),
        service_level: None,
    };
    let names = [
        "Sales",
        "Billing",
        "Claims",
        "Renewals",
        "Spanish",
        "VIP",
        "Returns",
        "Orders",
        "Tech",
        "Outage",
        "Retention",
    ];
    let mut queues = vec![support];
    for name in names {
        let mut queue = queue_row(&name.to_lowercase(), QueueRouting::default());
        queue.name = name.into();
        queues.push(queue);
    }
    let app = spawn_setup(Setup {
        queues,
        agents: vec![Agent::answering("1001").logged_out()],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app
}

async fn active_calls(app: &TestApp) -> Vec<Value> {
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    calls["active"].as_array().cloned().unwrap_or_default()
}

/// Hangs up every caller and waits until the controller has no call left.
async fn hang_up_all(app: &TestApp, callers: &[String]) {
    for caller in callers {
        app.sim.hangup(caller, "NORMAL_CLEARING");
    }
    crate::harness::eventually("every call has ended", || async {
        active_calls(app).await.is_empty()
    })
    .await;
}

const WAITING: &str = "[data-queue=support] [data-metric=waiting] .value";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallboard_signs_in_with_a_token_and_its_numbers_follow_the_calls() {
    let Some(browser) = browser().await else {
        return;
    };
    let app = twelve_queues().await;
    let token = supervisor_token(&app, "wallboard").await;
    let url = format!("{}/wallboard", app.base);
    browser
        .run(|client| async move {
            // A wrong token: back to the form, saying so; nothing of it is kept.
            sign_in(&client, &url, "sb_not_a_token").await;
            holds(
                &client,
                "the form is back with the refusal",
                "const e = document.getElementById('signin-error');
                 return !document.getElementById('signin').hidden && !e.hidden
                     && e.textContent.includes('refused');",
            )
            .await;
            assert_eq!(
                eval(&client, "return sessionStorage.length;", Value::Null).await,
                json!(0)
            );
            assert!(
                !client
                    .current_url()
                    .await
                    .expect("url")
                    .as_str()
                    .contains("sb_"),
                "the token is never in the URL"
            );

            sign_in(&client, &url, &token).await;
            shows(&client, "#link", "live").await;
            shows(&client, WAITING, "0").await;
            let tiles = eval(
                &client,
                "return document.querySelectorAll('.tile').length;",
                Value::Null,
            )
            .await;
            assert_eq!(tiles, json!(12));

            // Two callers wait: the count goes up, the longest wait ticks, and the queue's
            // threshold (more than one waiting) turns the count red.
            let callers = vec![
                app.sim.place_call(CallSpec::new("5551001", ENTRY)),
                app.sim.place_call(CallSpec::new("5551002", ENTRY)),
            ];
            shows(&client, WAITING, "2").await;
            holds(
                &client,
                "the longest wait ticks past zero",
                "const e = document.querySelector('[data-queue=support] [data-metric=longest] .value');
                 return e !== null && e.textContent !== '0:00';",
            )
            .await;
            holds(
                &client,
                "the waiting count is red",
                "return document.querySelector('[data-queue=support] [data-metric=waiting]')
                    .dataset.level === 'red';",
            )
            .await;

            // An agent comes in and answers one: the count goes down.
            let response = app.set_agent_state("1001", "available").await;
            assert_eq!(response.status(), 200);
            shows(&client, WAITING, "1").await;
            shows(
                &client,
                "[data-queue=support] [data-metric=available] .value",
                "0",
            )
            .await;

            // A dozen queues on a 1920x1080 screen: nothing to scroll.
            let size = eval(
                &client,
                "return [innerWidth, innerHeight, document.scrollingElement.scrollHeight,
                         document.scrollingElement.scrollWidth];",
                Value::Null,
            )
            .await;
            let [width, height, scroll_height, scroll_width] =
                [0, 1, 2, 3].map(|i| size[i].as_i64().unwrap_or(-1));
            assert_eq!((width, height), (1920, 1080), "the page's viewport: {size}");
            assert!(
                scroll_height <= height && scroll_width <= width,
                "the wallboard scrolls: {size}"
            );
            hang_up_all(&app, &callers).await;
            shows(&client, WAITING, "0").await;
            // The answered call is over: today's service level and Erlang C's "needed now"
            // come from the live statistics.
            holds(
                &client,
                "the support tile shows a service level",
                "return /^\\d+%$/.test((document.querySelector(
                         '[data-queue=support] [data-metric=service-level] .value')
                         ?.textContent || '').trim());",
            )
            .await;
            holds(
                &client,
                "the support tile shows the agents needed",
                "return (document.querySelector('[data-queue=support] [data-metric=staffing]')
                         ?.textContent || '').includes('needed now: 1, logged in: 1');",
            )
            .await;
            screenshot(&client, "wallboard.png").await;
        })
        .await;
}

/// A TCP proxy in front of the controller that can cut every connection and refuse new ones,
/// as a controller going away would; it keeps what clients sent, to see their requests.
struct Proxy {
    addr: std::net::SocketAddr,
    down: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    sent: Arc<Mutex<Vec<u8>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("address");
        let down = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::<JoinHandle<()>>::new()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (down, connections, sent) = (down.clone(), connections.clone(), sent.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let sent = sent.clone();
                    let relay = tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        relay(client, server, sent).await;
                    });
                    connections.lock().expect("lock").push(relay);
                }
            })
        };
        Self {
            addr,
            down,
            connections,
            sent,
            accept,
        }
    }

    /// Drops every connection and refuses new ones until `restore`.
    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for relay in self.connections.lock().expect("lock").drain(..) {
            relay.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// What clients sent so far, as text.
    fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().expect("lock")).to_lowercase()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Copies both ways, keeping a copy of what the client sends.
async fn relay(client: TcpStream, server: TcpStream, sent: Arc<Mutex<Vec<u8>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            sent.lock().expect("lock").extend_from_slice(&buffer[..n]);
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = tokio::io::copy(&mut server_read, &mut client_write);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallboard_reconnects_after_the_server_drops_its_stream_and_resumes_where_it_was() {
    let Some(browser) = browser().await else {
        return;
    };
    let app = twelve_queues().await;
    let token = supervisor_token(&app, "wallboard").await;
    let proxy = Proxy::start(app.running().http_addr).await;
    let url = format!("http://{}/wallboard", proxy.addr);
    browser
        .run(|client| async move {
            sign_in(&client, &url, &token).await;
            shows(&client, "#link", "live").await;
            shows(&client, WAITING, "0").await;
            // One event first, so the stream has an id to resume after.
            let first = app.sim.place_call(CallSpec::new("5551001", ENTRY));
            shows(&client, WAITING, "1").await;

            proxy.cut();
            holds(
                &client,
                "the reconnecting badge shows",
                "return document.getElementById('link').dataset.status === 'reconnecting';",
            )
            .await;
            assert!(
                !proxy.sent().contains("last-event-id"),
                "the first stream was opened without an id"
            );
            proxy.restore();
            shows(&client, "#link", "live").await;
            let sent = proxy.sent();
            let resumed = sent.split("get /v1/events").skip(1).any(|request| {
                request
                    .split("\r\n\r\n")
                    .next()
                    .is_some_and(|head| head.contains("\r\nlast-event-id: "))
            });
            assert!(
                resumed,
                "the stream was reopened with Last-Event-ID:\n{sent}"
            );
            // And what happens next still reaches the page.
            let second = app.sim.place_call(CallSpec::new("5551002", ENTRY));
            shows(&client, WAITING, "2").await;
            hang_up_all(&app, &[first, second]).await;
            shows(&client, WAITING, "0").await;
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_forces_an_agents_state_shows_the_apis_refusals_and_the_calls() {
    let Some(browser) = browser().await else {
        return;
    };
    let app = spawn_setup(Setup {
        queues: vec![
            {
                let mut support = queue_row("support", QueueRouting::default());
                support.name = "Support".into();
                support
            },
            queue_row("sales", QueueRouting::default()),
        ],
        agents: vec![
            Agent::answering("1001"),
            Agent::answering("1002")
                .in_queues(&["support", "sales"])
                .logged_out(),
        ],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let token = supervisor_token(&app, "console").await;
    let url = format!("{}/console", app.base);
    browser
        .run(|client| async move {
            sign_in(&client, &url, &token).await;
            shows(&client, "#link", "live").await;
            shows(&client, "tr[data-agent='1001'] [data-field=status]", "available").await;
            shows(&client, "tr[data-agent='1002'] [data-field=status]", "logged out").await;

            // One caller is answered by 1001, the next waits.
            let callers = vec![
                app.sim.place_call(CallSpec::new("5551001", ENTRY)),
                app.sim.place_call(CallSpec::new("5551002", ENTRY)),
            ];
            shows(&client, "tr[data-agent='1001'] [data-field=status]", "on call").await;
            holds(
                &client,
                "a bridged call and a waiting one are listed with their actions",
                "const states = [...document.querySelectorAll('#calls [data-field=state]')]
                    .map((e) => e.textContent).sort().join(',');
                 return states === 'bridged,waiting'
                     && document.querySelector('#calls button[data-action=move]') !== null
                     && document.querySelector('#calls button[data-action=listen]') !== null;",
            )
            .await;
            // Time in state ticks.
            let before = text(&client, "tr[data-agent='1002'] [data-field=time-in-state]").await;
            holds(
                &client,
                "the time in state ticks",
                &format!(
                    "return document.querySelector(\"tr[data-agent='1002'] [data-field=time-in-state]\")
                        .textContent !== {};",
                    json!(before)
                ),
            )
            .await;

            // Move the waiting caller to sales through the dialog: the API shows it there.
            let waiting = active_calls(&app)
                .await
                .into_iter()
                .find(|c| c["state"] == "waiting")
                .expect("a waiting call");
            let waiting_id = waiting["id"].as_str().expect("id").to_owned();
            click(
                &client,
                &format!("tr[data-call='{waiting_id}'] button[data-action=move]"),
            )
            .await;
            client
                .find(Locator::Css("#dialog select[name=queue]"))
                .await
                .expect("queue menu")
                .select_by_value("sales")
                .await
                .expect("choose sales");
            click(&client, "#dialog-ok").await;
            crate::harness::eventually("the API shows the caller in sales", || async {
                active_calls(&app)
                    .await
                    .iter()
                    .any(|c| c["id"] == waiting_id.as_str() && c["queue"] == "sales")
            })
            .await;

            // Force 1002 available: the API shows it, and the page.
            set_state(&client, "1002", "available").await;
            // 1002 answers the waiting caller at once.
            crate::harness::eventually("the API shows 1002 on the waiting call", || async {
                let agent: Value = app.get("/v1/agents/1002").await.json().await.expect("JSON");
                agent["status"] == "on_call"
            })
            .await;
            shows(&client, "tr[data-agent='1002'] [data-field=status]", "on call").await;
            screenshot(&client, "console.png").await;

            // A pause with a code the API refuses: its problem is shown.
            set_state(&client, "1002", "paused:").await;
            let reason = client
                .find(Locator::Css("#dialog input[name=reason]"))
                .await
                .expect("reason field");
            reason.send_keys("not a code!").await.expect("type");
            client
                .find(Locator::Css("#dialog-ok"))
                .await
                .expect("OK")
                .click()
                .await
                .expect("click");
            holds(
                &client,
                "the refusal is shown",
                "const m = document.getElementById('message');
                 return !m.hidden && m.dataset.kind === 'error' && m.textContent.includes('reason');",
            )
            .await;
            let agent: Value = app.get("/v1/agents/1002").await.json().await.expect("JSON");
            assert_eq!(agent["status"], "on_call", "{agent}");

            // Log 1001 out after its call: the pending state is shown.
            set_state(&client, "1001", "logged_out").await;
            holds(
                &client,
                "1001's log-out waits for its call",
                "return document.querySelector(\"tr[data-agent='1001'] [data-field=pending]\")
                    .textContent.startsWith('logged_out');",
            )
            .await;
            // Hang up the moved caller's call from the console.
            click(
                &client,
                &format!("tr[data-call='{waiting_id}'] button[data-action=hangup]"),
            )
            .await;
            crate::harness::eventually("the API shows the call ended", || async {
                !active_calls(&app)
                    .await
                    .iter()
                    .any(|c| c["id"] == waiting_id.as_str())
            })
            .await;
            hang_up_all(&app, &callers).await;
            crate::harness::eventually("the API shows 1001 logged out", || async {
                let agent: Value = app.get("/v1/agents/1001").await.json().await.expect("JSON");
                agent["status"] == "logged_out"
            })
            .await;
            shows(&client, "tr[data-agent='1001'] [data-field=status]", "logged out").await;
        })
        .await;
}

#[tokio::test]
async fn the_pages_are_served_without_a_token_with_a_strict_policy_and_hold_no_data() {
    let app = crate::harness::spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    let anonymous = reqwest::Client::new();
    for (path, media) in [
        ("/wallboard", "text/html"),
        ("/console", "text/html"),
        ("/pages/live.js", "text/javascript"),
        ("/pages/pages.css", "text/css"),
    ] {
        let response = anonymous
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(media), "{path}");
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(header("cache-control"), "no-cache", "{path}");
        let body = response.text().await.expect("body");
        assert!(!body.contains("1001"), "{path} holds no data");
        // The same version again: 304, nothing sent.
        let again = anonymous
            .get(format!("{}{path}", app.base))
            .header("if-none-match", header("etag"))
            .send()
            .await
            .expect("request");
        assert_eq!(again.status(), 304, "{path}");
    }
    let missing = anonymous
        .get(format!("{}/pages/secrets.js", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    // The data itself still needs a token.
    let data = anonymous
        .get(format!("{}/v1/agents", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(data.status(), 401);
}

/// `GET /v1/stats/queues` as its contract (docs/supervisors.md) describes it, for `support`:
/// four waiting against a threshold of five (near), a service level two points over its
/// target (near), and fewer agents logged in than Erlang C needs.
const STATS: &str = r#"{
  "at": 0, "time_zone": "UTC", "day_start": 0, "window_ms": 900000,
  "queues": [{
    "queue": "support", "name": "Support",
    "waiting": 4, "longest_wait_ms": 42000, "callbacks_pending": 0,
    "agents": {"available": 2, "ringing": 0, "on_call": 5, "wrap_up": 1, "paused": 1,
               "logged_out": 3, "unreachable": 0, "logged_in": 9,
               "paused_by_reason": {"lunch": 1}},
    "target": {"service_level_percent": 80, "within_ms": 20000, "short_abandon_ms": 5000},
    "thresholds": {"waiting": 5, "longest_wait_ms": 120000, "service_level_percent": 80},
    "alarms": [],
    "today": {"offered": 100, "answered": 90, "answered_within_target": 82, "abandoned": 10,
              "short_abandoned": 2, "abandoned_after_target": 6, "transfers_out": 1,
              "service_level_percent": 82, "asa_ms": 12000, "aht_ms": 240000,
              "abandon_rate_percent": 10, "longest_answered_wait_ms": 95000},
    "window": {"offered": 10, "answered": 9, "answered_within_target": 6, "abandoned": 1,
               "short_abandoned": 0, "abandoned_after_target": 1, "transfers_out": 0,
               "service_level_percent": 60, "asa_ms": 15000, "aht_ms": 200000,
               "abandon_rate_percent": 10, "longest_answered_wait_ms": 60000},
    "staffing": {"needed_now": 12, "logged_in": 9, "model": "erlang_c"}
  }]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallboard_shows_the_live_statistics_coloured_by_the_queues_thresholds() {
    let Some(browser) = browser().await else {
        return;
    };
    let app = crate::harness::spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    app.connected().await;
    let token = supervisor_token(&app, "wallboard").await;
    let url = format!("{}/wallboard", app.base);
    browser
        .run(|client| async move {
            client.goto(&url).await.expect("open the page");
            // The statistics endpoint is another part's; this page is held to its contract by
            // answering that one path in the browser with a document of its shape.
            eval(
                &client,
                "const stats = JSON.parse(arguments[0]);
                 const real = window.fetch.bind(window);
                 window.fetch = (path, init) => {
                   if (path === '/v1/stats/queues') {
                     stats.at = Date.now();
                     return Promise.resolve(new Response(JSON.stringify(stats), {
                       status: 200, headers: { 'content-type': 'application/json' } }));
                   }
                   return real(path, init);
                 };
                 return true;",
                json!(STATS),
            )
            .await;
            submit_token(&client, &token).await;
            shows(&client, "#link", "live").await;
            let metric = |name: &str| format!("[data-queue=support] [data-metric={name}]");
            shows(&client, &format!("{} .value", metric("waiting")), "4").await;
            shows(&client, &format!("{} .value", metric("service-level")), "82%").await;
            shows(&client, &format!("{} .value", metric("available")), "2").await;
            shows(
                &client,
                &metric("staffing"),
                "needed now: 12, logged in: 9",
            )
            .await;
            let longest = text(&client, &format!("{} .value", metric("longest"))).await;
            assert!(
                matches!(longest.as_deref(), Some("0:42" | "0:43" | "0:44")),
                "{longest:?}"
            );
            let levels = eval(
                &client,
                "return ['waiting', 'longest', 'service-level', 'staffing'].map((m) =>
                   document.querySelector(`[data-queue=support] [data-metric=${m}]`).dataset.level);",
                Value::Null,
            )
            .await;
            assert_eq!(levels, json!(["amber", "green", "amber", "red"]));
            let label = text(&client, &format!("{} .label", metric("service-level"))).await;
            assert_eq!(
                label.as_deref(),
                Some("service level today (last window 60%)")
            );
        })
        .await;
}
