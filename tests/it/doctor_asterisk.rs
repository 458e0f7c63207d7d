//! `switchboard doctor` against the Asterisk simulator: an Asterisk installed as
//! `docs/install-asterisk.md` says passes every check ARI can make, names what it cannot, and
//! each mistake (ARI off, a wrong user, a module not loaded, a sound not copied, a mount that
//! is another folder, a phone not registered) is a `FAIL` or `warn` with its fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard::config::{Config, Provisioning};
use switchboard::doctor::{self, Line, Options, Report, Status};

use crate::doctor::{fix_of, with};
use switchboard::engine::{PhoneOutcome, PhonePrompts};
use switchboard::sim::PhoneSpec;
use switchboard::sim_ari::{AriSimConfig, AriSimHandle, AriSimulator};
use tokio::net::TcpListener;

const PASSWORD: &str = "Doctor-Ari-7";
const RECORDINGS_DIR: &str = "/var/spool/asterisk/recording";

const PROVISIONING: &str = r#"
[[queue]]
id = "support"
name = "Support"
moh = "local_stream://moh"

[[agent]]
id = "1001"
name = "Alice"
dial_string = "user/agent1"
queues = ["support"]

[[agent]]
id = "1002"
name = "Bob"
dial_string = "PJSIP/agent2"
queues = ["support"]
"#;

/// The agents' phone prompts as sounds: what an admin copies (the install guide).
fn phone_prompt_sounds() -> Vec<String> {
    let prompts = PhonePrompts::default();
    PhoneOutcome::ALL
        .into_iter()
        .map(|o| prompts.get(o).trim_end_matches(".wav").to_owned())
        .filter(|sound| !sound.is_empty())
        .collect()
}

struct Rig {
    sim: AriSimHandle,
    _disk: tempfile::TempDir,
    mount: PathBuf,
}

/// An Asterisk installed as the guide says: every module, the phone prompts copied, both
/// agents' phones registered, the recording folder mounted at `mount`.
async fn installed(change: impl FnOnce(&mut AriSimConfig)) -> Rig {
    let disk = tempfile::tempdir().expect("disk");
    let mount = disk.path().join(&RECORDINGS_DIR[1..]);
    std::fs::create_dir_all(&mount).expect("recording folder");
    let mut config = AriSimConfig {
        password: PASSWORD.into(),
        disk_root: Some(disk.path().to_path_buf()),
        ..AriSimConfig::default()
    };
    config.sound_files.extend(phone_prompt_sounds());
    change(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim = AriSimulator::start(listener, config).await.expect("sim");
    for user in ["agent1", "agent2"] {
        sim.add_phone(PhoneSpec::answering(user, Duration::from_millis(50)));
    }
    Rig {
        sim,
        _disk: disk,
        mount,
    }
}

fn setup(port: u16, password: &str, mount: Option<&Path>, extra: &str) -> doctor::Setup {
    let mount = mount.map_or(String::new(), |m| {
        format!("recordings_mount = {:?}\n", m.display().to_string())
    });
    let text = format!(
        "{extra}[[switch]]\nname = \"ast1\"\nkind = \"asterisk\"\nari = \"http://127.0.0.1:{port}\"\nuser = \"switchboard\"\npassword = \"{password}\"\n{mount}"
    );
    let config = Config::parse(&text, Path::new("doctor.toml"), |_| None).expect("config");
    let provisioning =
        Provisioning::parse(PROVISIONING, "provisioning.toml").expect("provisioning");
    doctor::Setup {
        config,
        provisioning,
        flows: None,
    }
}

async fn diagnose(rig: &Rig, extra: &str) -> Report {
    let port = rig.sim.http_addr().port();
    doctor::run(
        &setup(port, PASSWORD, Some(&rig.mount), extra),
        Options::default(),
    )
    .await
}

#[tokio::test]
async fn an_asterisk_installed_as_the_guide_says_passes_and_names_what_ari_cannot_show() {
    let rig = installed(|_| {}).await;
    let report = diagnose(&rig, "").await;
    with(
        &report,
        Status::Ok,
        "ari",
        "user \"switchboard\" accepted: Asterisk 22.10.1",
    );
    with(
        &report,
        Status::Ok,
        "modules",
        "modules Switchboard uses are running",
    );
    let mut sounds = phone_prompt_sounds();
    sounds.sort();
    sounds.dedup();
    with(
        &report,
        Status::Ok,
        "sounds",
        &format!("the {} sound(s) the prompts name", sounds.len()),
    );
    with(
        &report,
        Status::Ok,
        "recordings",
        "is Asterisk's recording folder",
    );
    with(&report, Status::Ok, "phones", "PJSIP endpoint(s) online");
    with(&report, Status::Ok, "phones", "all 2 agent(s)");
    let unchecked = with(&report, Status::Warn, "dialplan", "not checked");
    assert!(
        unchecked.message.contains("music classes default"),
        "{report}"
    );
    assert!(fix_of(&unchecked).contains("dialplan show switchboard-entry"));
    let others: Vec<&Line> = report
        .lines
        .iter()
        .filter(|l| l.status != Status::Ok && l.check != "dialplan")
        .collect();
    assert!(others.is_empty(), "{report}");
    assert!(!report.failed(), "{report}");
    let left: Vec<_> = std::fs::read_dir(&rig.mount).expect("mount").collect();
    assert!(left.is_empty(), "the marker is gone again: {left:?}");
}

#[tokio::test]
async fn a_wrong_password_and_no_http_server_are_told_apart() {
    let rig = installed(|_| {}).await;
    let port = rig.sim.http_addr().port();
    let wrong = doctor::run(
        &setup(port, "not-it", Some(&rig.mount), ""),
        Options::default(),
    )
    .await;
    let refused = with(
        &wrong,
        Status::Fail,
        "ari",
        "refused the user \"switchboard\"",
    );
    assert!(fix_of(&refused).contains("ari.conf"), "{wrong}");
    assert_eq!(wrong.of("ast1", "modules").len(), 0, "{wrong}");
    assert!(wrong.failed());

    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let nobody = doctor::run(
        &setup(closed_port, PASSWORD, None, ""),
        Options {
            timeout: Duration::from_secs(2),
        },
    )
    .await;
    let unreachable = with(&nobody, Status::Fail, "ari", "no HTTP answer");
    assert!(fix_of(&unreachable).contains("http.conf"), "{nobody}");
}

#[tokio::test]
async fn a_missing_module_a_missing_sound_and_a_stray_mount_are_reported_with_their_fixes() {
    let rig = installed(|config| {
        config.modules.retain(|m| m != "res_stasis_snoop");
    })
    .await;
    let stray = tempfile::tempdir().expect("stray");
    let port = rig.sim.http_addr().port();
    let report = doctor::run(
        &setup(
            port,
            PASSWORD,
            Some(stray.path()),
            "[agents.prompts]\nlogged_in = \"custom/welcome-back.wav\"\n",
        ),
        Options::default(),
    )
    .await;
    let modules = with(&report, Status::Fail, "modules", "res_stasis_snoop");
    assert!(modules.message.contains("supervisors"), "{report}");
    assert!(fix_of(&modules).contains("module load res_stasis_snoop.so"));
    let sounds = with(&report, Status::Warn, "sounds", "custom/welcome-back");
    assert!(
        sounds.message.contains("agents.prompts.logged_in"),
        "{report}"
    );
    assert!(fix_of(&sounds).contains("/var/lib/asterisk/sounds"));
    let mount = with(
        &report,
        Status::Fail,
        "recordings",
        "is not Asterisk's recording folder",
    );
    assert!(fix_of(&mount).contains("recordings_mount"), "{report}");
    assert!(report.failed());
    let left: Vec<_> = std::fs::read_dir(stray.path()).expect("stray").collect();
    assert!(left.is_empty(), "the marker is gone again: {left:?}");
}

#[tokio::test]
async fn an_agents_phone_not_registered_is_a_warning_naming_asterisks_side() {
    let rig = installed(|_| {}).await;
    assert!(rig.sim.unregister_phone("agent2"));
    let report = diagnose(&rig, "").await;
    let phone = with(
        &report,
        Status::Warn,
        "phones",
        "agent 1002's phone (user agent2)",
    );
    assert!(fix_of(&phone).contains("pjsip show contacts"), "{report}");
    assert!(!report.failed(), "{report}");
}
