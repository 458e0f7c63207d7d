//! Invariants of the code layout, so they hold by themselves.

use std::path::Path;

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read");
            out.push((path.display().to_string(), text));
        }
    }
    out
}

#[test]
fn the_engine_does_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    for (file, text) in sources(&root) {
        for forbidden in [
            "tokio",
            "sqlx",
            "axum",
            "freeswitch_esl_tokio",
            "tokio_tungstenite",
            "reqwest",
            "std::net",
            "std::fs",
            "SystemTime",
            "Instant::now",
        ] {
            assert!(!text.contains(forbidden), "{file} mentions {forbidden}");
        }
    }
}

#[test]
fn only_the_esl_module_speaks_esl() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (file, text) in sources(&root) {
        let allowed = file.contains("/src/esl/") || file.contains("/src/sim/");
        if !allowed {
            assert!(
                !text.contains("freeswitch_esl_tokio"),
                "{file} imports the ESL crate"
            );
        }
    }
}

#[test]
fn only_the_ari_module_speaks_ari_and_the_two_adapters_never_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (file, text) in sources(&root) {
        if !file.contains("/src/ari/") {
            assert!(
                !text.contains("tokio_tungstenite"),
                "{file} imports the WebSocket crate"
            );
        }
        if file.contains("/src/ari/") {
            assert!(
                !text.contains("crate::esl"),
                "{file} imports the ESL adapter"
            );
        }
        if file.contains("/src/esl/") {
            assert!(
                !text.contains("crate::ari"),
                "{file} imports the ARI adapter"
            );
        }
    }
}

#[test]
fn the_asterisk_simulator_depends_on_nothing_of_ours_but_the_simulators_endpoint_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sim_ari");
    for (file, text) in sources(&root) {
        for line in text.lines().filter(|l| l.contains("crate::")) {
            let ours = line.contains("crate::sim_ari") || line.contains("crate::sim::");
            assert!(ours, "{file}: {line}");
        }
    }
}

#[test]
fn only_the_api_module_has_http_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (file, text) in sources(&root) {
        if !file.contains("/src/api/") && !file.contains("/src/app/mod.rs") {
            assert!(!text.contains("axum::"), "{file} uses axum");
        }
    }
}

#[test]
fn only_the_flows_http_runner_and_the_webhook_worker_make_http_requests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (file, text) in sources(&root) {
        let allowed = file.ends_with("/src/app/http.rs")
            || file.ends_with("/src/app/webhooks.rs")
            || file.contains("/src/ari/");
        if !allowed {
            assert!(!text.contains("reqwest"), "{file} uses reqwest");
        }
    }
}
