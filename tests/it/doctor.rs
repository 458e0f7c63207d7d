//! `switchboard doctor` against the simulator: a switch installed as the READMEs say passes;
//! each mistake an admin makes next to a stock FreeSWITCH is a `FAIL` (or a `warn`) naming
//! its fix, and makes the binary exit non-zero.

use std::path::{Path, PathBuf};

use switchboard::config::{Config, Provisioning};
use switchboard::doctor::{self, Line, Options, Report, Status};
use switchboard::flow::FlowSet;
use switchboard::sim::{PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator};
use tokio::net::TcpListener;

const PASSWORD: &str = "Doctor-Test-7";
const RECORDINGS_DIR: &str = "/var/lib/freeswitch/recordings";

/// What lies between the last `<include>` and `</include>` of a shipped dialplan file (the
/// comment at the top of `switchboard.xml` quotes an `<include>` of its own).
fn extensions_of(file: &str) -> &str {
    let start = file
        .rfind("<include>")
        .map(|i| i + "<include>".len())
        .unwrap_or(0);
    let end = file.rfind("</include>").unwrap_or(file.len());
    &file[start..end]
}

const STOCK_PUBLIC_HEAD: &str = r#"
  <extension name="unloop">
    <condition field="${unroll_loops}" expression="^true$"/>
    <condition field="${sip_looped_call}" expression="^true$">
      <action application="deflect" data="${destination_number}"/>
    </condition>
  </extension>
  <extension name="outside_call" continue="true">
    <condition>
      <action application="set" data="outside_call=true"/>
    </condition>
  </extension>
  <extension name="public_extensions">
    <condition field="destination_number" expression="^(10[01][0-9])$">
      <action application="transfer" data="$1 XML default"/>
    </condition>
  </extension>"#;

const STOCK_DEFAULT_HEAD: &str = r#"
  <extension name="unloop">
    <condition field="${unroll_loops}" expression="^true$"/>
    <condition field="${sip_looped_call}" expression="^true$">
      <action application="deflect" data="${destination_number}"/>
    </condition>
  </extension>
  <extension name="global" continue="true">
    <condition field="${default_password}" expression="^1234$" break="never">
      <action application="sleep" data="10000"/>
    </condition>
    <condition>
      <action application="export" data="RFC2822_DATE=${strftime(%a, %d %b %Y %T %z)}"/>
    </condition>
  </extension>
  <extension name="Local_Extension">
    <condition field="destination_number" expression="^(10[01][0-9])$">
      <action application="bridge" data="user/${dialed_extension}@${domain_name}"/>
    </condition>
  </extension>"#;

/// The stock demo extensions the README says to delete.
const STOCK_DEMOS: &str = r#"
  <extension name="ivr_demo">
    <condition field="destination_number" expression="^5000$">
      <action application="answer"/>
      <action application="ivr" data="demo_ivr"/>
    </condition>
  </extension>
  <extension name="dynamic_conference">
    <condition field="destination_number" expression="^5001$">
      <action application="conference" data="bridge:mydynaconf:sofia/${use_profile}/1234@conference.freeswitch.org"/>
    </condition>
  </extension>"#;

const FROM_PHONES: &str = r#"
  <extension name="switchboard_from_phones">
    <condition field="destination_number" expression="^(5000|5001|5002|5003)$">
      <action application="transfer" data="$1 XML public"/>
    </condition>
  </extension>"#;

fn public_context(before_ours: &str) -> String {
    let shipped = include_str!("../../dialplans/switchboard.xml");
    format!(
        "<context name=\"public\">{STOCK_PUBLIC_HEAD}{before_ours}{}</context>\n",
        extensions_of(shipped)
    )
}

fn default_context(before_ours: &str) -> String {
    let features = include_str!("../../dialplans/switchboard-features.xml");
    format!(
        "<context name=\"default\">{STOCK_DEFAULT_HEAD}{before_ours}{}{FROM_PHONES}</context>\n",
        extensions_of(features)
    )
}

/// A switch installed as `freeswitch-conf/README.md` says: our dialplan files in, the stock
/// demos on 5000/5001 deleted, the shipped ACL with the placeholder replaced, music
/// installed, the recordings folder present.
fn installed(disk: &Path) -> SimConfig {
    for folder in [
        RECORDINGS_DIR,
        "/usr/share/freeswitch/sounds/music/8000",
        "/usr/share/freeswitch/sounds/music/16000",
        "/usr/share/freeswitch/sounds/music/32000",
        "/usr/share/freeswitch/sounds/music/48000",
    ] {
        std::fs::create_dir_all(disk.join(&folder[1..])).expect("switch folder");
    }
    SimConfig {
        password: PASSWORD.into(),
        disk_root: Some(disk.to_path_buf()),
        dialplan_xml: vec![
            ("public".into(), public_context("")),
            ("default".into(), default_context("")),
        ],
        ..SimConfig::default()
    }
}

struct Rig {
    sim: SimHandle,
    disk: tempfile::TempDir,
    mount: PathBuf,
    _other: tempfile::TempDir,
}

async fn start(config: impl FnOnce(&Path) -> SimConfig) -> Rig {
    let disk = tempfile::tempdir().expect("disk");
    let other = tempfile::tempdir().expect("other");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim = Simulator::start(listener, config(disk.path()))
        .await
        .expect("sim");
    for user in ["1001", "1002"] {
        sim.add_phone(PhoneSpec::answering(
            user,
            std::time::Duration::from_millis(50),
        ));
    }
    let mount = disk.path().join(&RECORDINGS_DIR[1..]);
    Rig {
        sim,
        disk,
        mount,
        _other: other,
    }
}

const PROVISIONING: &str = r#"
[[queue]]
id = "support"
name = "Support"
moh = "local_stream://moh"

[[queue]]
id = "sales"
name = "Sales"
moh = "local_stream://moh"

[[agent]]
id = "1001"
name = "Alice"
dial_string = "user/1001"
queues = ["support", "sales"]

[[agent]]
id = "1002"
name = "Bob"
dial_string = "user/1002"
queues = ["support"]

[[pause_reason]]
code = "1"
name = "Lunch"

[[pause_reason]]
code = "2"
name = "Training"
"#;

fn config_text(port: u16, password: &str, mount: Option<&Path>) -> String {
    let mount = mount.map_or(String::new(), |m| {
        format!("recordings_mount = {:?}\n", m.display().to_string())
    });
    format!(
        "[[switch]]\nname = \"fs1\"\nesl = \"127.0.0.1:{port}\"\npassword = \"{password}\"\nrecordings_dir = \"{RECORDINGS_DIR}\"\n{mount}"
    )
}

fn setup(port: u16, password: &str, mount: Option<&Path>) -> doctor::Setup {
    let text = config_text(port, password, mount);
    let config = Config::parse(&text, Path::new("doctor.toml"), |_| None).expect("config");
    let provisioning =
        Provisioning::parse(PROVISIONING, "provisioning.toml").expect("provisioning");
    let flows = FlowSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("flows")).expect("flows");
    doctor::Setup {
        config,
        provisioning,
        flows: Some(flows),
    }
}

async fn diagnose(rig: &Rig) -> Report {
    let port = rig.sim.esl_addr().port();
    doctor::run(&setup(port, PASSWORD, Some(&rig.mount)), Options::default()).await
}

pub(crate) fn with(report: &Report, status: Status, check: &str, text: &str) -> Line {
    report
        .lines
        .iter()
        .find(|l| l.status == status && l.check == check && l.message.contains(text))
        .cloned()
        .unwrap_or_else(|| panic!("no {status} {check} line with {text:?} in:\n{report}"))
}

pub(crate) fn fix_of(line: &Line) -> &str {
    line.fix.as_deref().unwrap_or_default()
}

#[tokio::test]
async fn a_switch_installed_as_the_readmes_say_passes_every_check() {
    let rig = start(installed).await;
    let report = diagnose(&rig).await;
    let trouble: Vec<&Line> = report
        .lines
        .iter()
        .filter(|l| l.status != Status::Ok)
        .collect();
    assert!(trouble.is_empty(), "{report}");
    for check in ["esl", "acl", "modules", "moh", "recordings", "phones"] {
        assert!(
            !report.of("fs1", check).is_empty(),
            "no {check} line:\n{report}"
        );
    }
    with(
        &report,
        Status::Ok,
        "dialplan",
        "callers dialling 5000 reach queue support",
    );
    with(
        &report,
        Status::Ok,
        "dialplan",
        "5003 reach flow entry point 5000",
    );
    with(
        &report,
        Status::Ok,
        "dialplan",
        "phones dialling 5000, 5001",
    );
    with(&report, Status::Ok, "dialplan", "*241, *242");
    with(&report, Status::Ok, "dialplan", "agent+1001");
    with(&report, Status::Ok, "modules", "mod_local_stream");
    with(&report, Status::Ok, "moh", "moh/8000");
    with(
        &report,
        Status::Ok,
        "recordings",
        "is the switch's /var/lib/freeswitch/recordings",
    );
    with(&report, Status::Ok, "phones", "all 2 agent(s)");
    assert!(!report.failed());
    // The marker is gone again.
    let left: Vec<_> = std::fs::read_dir(&rig.mount).expect("mount").collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_wrong_password_a_refusing_acl_and_a_closed_port_are_told_apart() {
    let rig = start(installed).await;
    let port = rig.sim.esl_addr().port();
    let report = doctor::run(&setup(port, "wrong", None), Options::default()).await;
    let line = with(&report, Status::Fail, "esl", "rejected the password");
    assert!(
        fix_of(&line).contains("password param of event_socket.conf.xml"),
        "{line}"
    );
    assert_eq!(report.lines.len(), 1, "nothing else is checked:\n{report}");

    let refusing = start(|disk| SimConfig {
        acl_lists: vec![("switchboard".into(), vec!["192.0.2.99/32".into()])],
        ..installed(disk)
    })
    .await;
    let report = diagnose(&refusing).await;
    let line = with(&report, Status::Fail, "esl", "refused this host by its ACL");
    assert!(line.message.contains("Access Denied, go away."), "{line}");
    assert!(fix_of(&line).contains("apply-inbound-acl"), "{line}");
    assert!(fix_of(&line).contains("reloadacl"), "{line}");

    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let report = doctor::run(&setup(closed_port, PASSWORD, None), Options::default()).await;
    let line = with(&report, Status::Fail, "esl", "connection refused");
    assert!(
        fix_of(&line).contains("mod_event_socket is loaded"),
        "{line}"
    );
    assert!(report.failed());
}

#[tokio::test]
async fn an_acl_that_admits_anyone_on_an_open_port_fails_and_the_placeholder_warns() {
    let rig = start(|disk| SimConfig {
        acl_lists: vec![(
            "switchboard".into(),
            vec![
                "127.0.0.0/8".into(),
                "192.0.2.10/32".into(),
                "0.0.0.0/0".into(),
            ],
        )],
        esl_listen_ip: "0.0.0.0".into(),
        ..installed(disk)
    })
    .await;
    let report = diagnose(&rig).await;
    let open = with(&report, Status::Fail, "acl", "admits any address");
    assert!(fix_of(&open).contains("default=\"deny\""), "{open}");
    let placeholder = with(&report, Status::Warn, "acl", "placeholder 192.0.2.10");
    assert!(fix_of(&placeholder).contains("reloadacl"), "{placeholder}");
}

#[tokio::test]
async fn the_stock_default_password_fails_because_phones_wait_10_s() {
    let rig = start(|disk| SimConfig {
        default_password: "1234".into(),
        ..installed(disk)
    })
    .await;
    let report = diagnose(&rig).await;
    let line = with(&report, Status::Fail, "vars", "stock 1234");
    assert!(fix_of(&line).contains("vars.xml"), "{line}");
}

#[tokio::test]
async fn a_module_not_loaded_fails_with_how_to_load_it() {
    let rig = start(|disk| SimConfig {
        missing_modules: vec!["mod_local_stream".into()],
        ..installed(disk)
    })
    .await;
    let report = diagnose(&rig).await;
    let line = with(
        &report,
        Status::Fail,
        "modules",
        "mod_local_stream is not loaded",
    );
    assert!(line.message.contains("hold music of queue"), "{line}");
    assert!(
        fix_of(&line).contains("<load module=\"mod_local_stream\"/>"),
        "{line}"
    );
    assert!(report.failed());

    let bare = start(|disk| SimConfig {
        missing_modules: vec!["mod_commands".into()],
        ..installed(disk)
    })
    .await;
    let report = diagnose(&bare).await;
    with(
        &report,
        Status::Fail,
        "modules",
        "mod_commands is not loaded",
    );
    assert!(report.of("fs1", "dialplan").is_empty(), "{report}");
}

#[tokio::test]
async fn stock_extensions_shadowing_entry_points_and_feature_codes_fail() {
    let rig = start(|disk| SimConfig {
        dialplan_xml: vec![
            ("public".into(), public_context(STOCK_DEMOS)),
            (
                "default".into(),
                default_context(&format!(
                    "{STOCK_DEMOS}
  <extension name=\"old_pbx_codes\">
    <condition field=\"destination_number\" expression=\"^\\*2\\d$\">
      <action application=\"answer\"/>
    </condition>
  </extension>"
                )),
            ),
        ],
        ..installed(disk)
    })
    .await;
    let report = diagnose(&rig).await;
    let entry = with(
        &report,
        Status::Fail,
        "dialplan",
        "callers dialling 5000 reach extension 'ivr_demo'",
    );
    assert!(entry.message.contains("context public"), "{entry}");
    assert!(
        fix_of(&entry).contains("remove or renumber 'ivr_demo'"),
        "{entry}"
    );
    let phones = with(
        &report,
        Status::Fail,
        "dialplan",
        "phones dialling 5001 reach extension 'dynamic_conference'",
    );
    assert!(
        phones.message.contains("before 'switchboard_from_phones'"),
        "{phones}"
    );
    assert!(fix_of(&phones).contains("dialplan/default.xml"), "{phones}");
    let login = with(
        &report,
        Status::Fail,
        "dialplan",
        "phones dialling *22 reach extension 'old_pbx_codes'",
    );
    assert!(login.message.contains("feature login"), "{login}");
    with(
        &report,
        Status::Fail,
        "dialplan",
        "sent to *21, which reaches 'old_pbx_codes'",
    );
    // *241 is longer than the old codes: still ours.
    with(&report, Status::Ok, "dialplan", "*241");
    assert!(report.failed());
}

#[tokio::test]
async fn missing_feature_codes_and_a_queue_nothing_leads_to_are_reported() {
    let rig = start(|disk| SimConfig {
        dialplan_xml: vec![
            ("public".into(), public_context("")),
            (
                "default".into(),
                format!("<context name=\"default\">{STOCK_DEFAULT_HEAD}</context>"),
            ),
        ],
        ..installed(disk)
    })
    .await;
    let port = rig.sim.esl_addr().port();
    let mut setup = setup(port, PASSWORD, Some(&rig.mount));
    setup.provisioning = Provisioning::parse(
        &format!("{PROVISIONING}\n[[queue]]\nid = \"billing\"\nname = \"Billing\"\n"),
        "provisioning.toml",
    )
    .expect("provisioning");
    let report = doctor::run(&setup, Options::default()).await;
    let line = with(
        &report,
        Status::Fail,
        "dialplan",
        "context default has no feature codes",
    );
    assert!(fix_of(&line).contains("switchboard-features.xml"), "{line}");
    let line = with(&report, Status::Warn, "dialplan", "queue billing");
    assert!(
        fix_of(&line).contains("switchboard_queue=billing"),
        "{line}"
    );
}

#[tokio::test]
async fn hold_music_without_its_stream_fails_or_falls_back_to_default() {
    let rig = start(|disk| SimConfig {
        local_streams: Vec::new(),
        ..installed(disk)
    })
    .await;
    let report = diagnose(&rig).await;
    let line = with(&report, Status::Fail, "moh", "no local stream \"moh\"");
    assert!(line.message.contains("callers hear silence"), "{line}");
    assert!(fix_of(&line).contains("local_stream.conf.xml"), "{line}");

    let fallback = start(|disk| SimConfig {
        local_streams: vec![(
            "default".into(),
            "/usr/share/freeswitch/sounds/music/8000".into(),
        )],
        ..installed(disk)
    })
    .await;
    let report = diagnose(&fallback).await;
    with(&report, Status::Warn, "moh", "hear the 'default' stream");
}

#[tokio::test]
async fn a_mount_that_is_not_the_switch_folder_fails_and_so_does_a_missing_folder() {
    let rig = start(installed).await;
    let elsewhere = tempfile::tempdir().expect("elsewhere");
    let port = rig.sim.esl_addr().port();
    let report = doctor::run(
        &setup(port, PASSWORD, Some(elsewhere.path())),
        Options::default(),
    )
    .await;
    let line = with(&report, Status::Fail, "recordings", "is not the switch's");
    assert!(fix_of(&line).contains("recordings_mount"), "{line}");
    let left: Vec<_> = std::fs::read_dir(elsewhere.path()).expect("dir").collect();
    assert!(left.is_empty(), "the marker is removed: {left:?}");

    std::fs::remove_dir_all(&rig.mount).expect("remove the switch's folder");
    let report = diagnose(&rig).await;
    let line = with(
        &report,
        Status::Fail,
        "recordings",
        "the switch has no folder",
    );
    assert!(
        fix_of(&line).contains("mkdir -p /var/lib/freeswitch/recordings"),
        "{line}"
    );
    let _ = rig.disk.path();
}

#[tokio::test]
async fn a_phone_not_registered_is_a_warning_and_does_not_fail() {
    let rig = start(installed).await;
    rig.sim
        .set_phone_behavior("1002", PhoneBehavior::Unregistered);
    let report = diagnose(&rig).await;
    let line = with(&report, Status::Warn, "phones", "agent 1002's phone");
    assert_eq!(line.scope, "agents");
    assert!(fix_of(&line).contains("show registrations"), "{line}");
    assert!(!report.failed(), "{report}");
}

#[tokio::test]
async fn the_binary_exits_non_zero_on_a_failure_and_78_on_an_unusable_config() {
    let rig = start(|disk| SimConfig {
        missing_modules: vec!["mod_sofia".into()],
        ..installed(disk)
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("provisioning.toml"), PROVISIONING).expect("write");
    let text = format!(
        "provisioning = \"provisioning.toml\"\n{}",
        config_text(rig.sim.esl_addr().port(), PASSWORD, Some(&rig.mount))
    );
    let config = dir.path().join("switchboard.toml");
    std::fs::write(&config, text).expect("write");
    let run = |config: PathBuf| async move {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("doctor")
            .arg("--config")
            .arg(config)
            .env_remove("SWITCHBOARD_SWITCH_FS1_PASSWORD")
            .output()
            .await
            .expect("runs")
    };
    let output = run(config.clone()).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "stdout: {stdout}");
    assert!(
        stdout.contains("FAIL fs1 modules: mod_sofia is not loaded"),
        "{stdout}"
    );
    assert!(stdout.contains("doctor: "), "{stdout}");

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[switch]]\nname = \"fs1\"\n").expect("write");
    let output = run(broken).await;
    assert_eq!(output.status.code(), Some(78));
}

#[tokio::test]
async fn a_refused_address_gets_the_rude_rejection_mod_event_socket_sends() {
    use tokio::io::AsyncReadExt;
    let rig = start(|disk| SimConfig {
        esl_inbound_acl: vec!["loopback.auto".into(), "switchboard".into()],
        acl_lists: vec![("switchboard".into(), vec!["10.0.0.0/8".into()])],
        ..installed(disk)
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(rig.sim.esl_addr())
        .await
        .expect("connect");
    let mut bytes = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut bytes),
    )
    .await
    .expect("the switch closes")
    .expect("read");
    // Every list must admit the address; the bytes are those of mod_event_socket.c (the nmap
    // fingerprints of real switches show the same), before any auth/request.
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        "Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n\
         Content-Type: text/disconnect-notice\nContent-Length: 67\n\n\
         Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    );
}

#[tokio::test]
async fn a_route_to_another_switch_needs_its_gateway_on_the_calling_switch() {
    let (fs1, fs2) = (start(installed).await, start(installed).await);
    fs1.sim.link_gateway("fs2", &fs2.sim);
    let switch = |name: &str, rig: &Rig, to: &str| {
        format!(
            "[[switch]]\nname = \"{name}\"\nesl = \"127.0.0.1:{}\"\npassword = \"{PASSWORD}\"\n\
             recordings_dir = \"{RECORDINGS_DIR}\"\n[switch.reach]\n\
             {to} = \"sofia/gateway/{to}/switchboard-{{user}}\"\n",
            rig.sim.esl_addr().port()
        )
    };
    let text = switch("fs1", &fs1, "fs2") + &switch("fs2", &fs2, "fs1");
    let mut setup = setup(fs1.sim.esl_addr().port(), PASSWORD, None);
    setup.config = Config::parse(&text, Path::new("doctor.toml"), |_| None).expect("config");
    let report = doctor::run(&setup, Options::default()).await;
    assert!(report
        .of("fs1", "routes")
        .iter()
        .any(|l| l.status == Status::Ok && l.message.contains("gateway fs2 exists")));
    let missing = with(&report, Status::Fail, "routes", "no gateway \"fs1\"");
    assert!(
        fix_of(&missing).contains("switchboard-fs2.xml"),
        "{missing:?}"
    );
    assert!(report.failed());
}
