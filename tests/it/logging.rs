//! The binary's log without `RUST_LOG` and with standard error piped to a file or a
//! collector (issue 16, hole 11): it logs at `info`, without colour codes, as text or JSON.

use std::time::Duration;

use tokio::io::AsyncBufReadExt;

/// Runs `serve` with `extra` arguments, no `RUST_LOG` and standard error piped, until it says
/// it is running; returns what it logged by then.
async fn log_until_running(extra: &[&str]) -> String {
    let sim = crate::harness::start_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::harness::serve_config(dir.path(), &sim, "ClueCon");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(extra)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env_remove("SWITCHBOARD_SWITCH_FS1_PASSWORD")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut log = String::new();
    let running = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
            log.push('\n');
            if line.contains("switchboard is running") {
                return true;
            }
        }
        false
    })
    .await;
    let _ = child.kill().await;
    assert!(
        matches!(running, Ok(true)),
        "serve never logged that it runs; log:\n{log}"
    );
    log
}

#[tokio::test]
async fn serve_without_rust_log_logs_at_info_without_colour_codes_when_piped() {
    let log = log_until_running(&[]).await;
    assert!(log.contains("INFO"), "log:\n{log}");
    assert!(
        !log.contains("\u{1b}["),
        "colour codes in a piped log:\n{log}"
    );
}

#[tokio::test]
async fn serve_with_log_format_json_writes_one_json_object_per_line() {
    let log = log_until_running(&["--log-format", "json"]).await;
    assert!(
        !log.contains("\u{1b}["),
        "colour codes in a JSON log:\n{log}"
    );
    let mut running = false;
    for line in log.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}\nlog:\n{log}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["target"].is_string(), "{line}");
        assert!(value["timestamp"].is_string(), "{line}");
        running |= value["message"] == "switchboard is running" && value["level"] == "INFO";
    }
    assert!(running, "log:\n{log}");
}

#[test]
fn an_unknown_log_format_is_refused() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "--log-format",
            "yaml",
            "serve",
            "--config",
            "/nonexistent.toml",
        ])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("yaml"), "{stderr}");
}
