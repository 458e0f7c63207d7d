//! `switchboard doctor`: checks, from the controller's side, that each switch of the serve
//! config is installed the way Switchboard needs, and says what to do about what is not.
//!
//! Why it exists: the mistakes admins make next to a stock FreeSWITCH (a module not loaded, a
//! stock demo extension answering a queue's number first, no music behind
//! `local_stream://moh`, a recordings mount that is some other folder, an ACL that refuses
//! the controller) do not show in `serve`'s logs, or only when the first caller is lost. The
//! doctor connects to each switch with the serve config's address and password, asks it with
//! plain `api` commands (`module_exists`, `xml_locate`, `local_stream show`, `file_exists`,
//! `acl`, `show registrations`), or an Asterisk over ARI (`/asterisk/info`, `/asterisk/modules`,
//! `/sounds`, `/recordings/stored`, `/endpoints`), and prints one line per check: `ok`, `warn` (works, but
//! probably not as meant) or `FAIL` (something callers or agents will hit) with the fix.
//!
//! It changes nothing on the switch. The only thing it writes is a marker file under each
//! `recordings_mount`, removed again, to prove the mount is the switch's `recordings_dir`.
//!
//! Layering: it sits beside `app`: it reads `config` and `flow`, talks to the switch through
//! `esl::probe` and `ari::probe` (the only places that know ESL and ARI), and nothing but
//! `main` uses it.

mod asterisk;
mod checks;
pub mod dialplan;
mod needs;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::config::{Config, ConfigError, Provisioning};
use crate::flow::FlowSet;

pub use needs::Needs;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so the report's `{:<4}` lines the statuses up.
        f.pad(match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub status: Status,
    /// The switch's name, or `agents` for what spans switches.
    pub scope: String,
    /// What was checked: `esl`, `acl`, `modules`, `dialplan`, `moh`, `recordings`, `phones`;
    /// on an Asterisk `ari` and `sounds` too.
    pub check: &'static str,
    pub message: String,
    /// What to do, for `warn` and `FAIL`.
    pub fix: Option<String>,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<4} {} {}: {}",
            self.status, self.scope, self.check, self.message
        )?;
        if let Some(fix) = &self.fix {
            write!(f, " -> {fix}")?;
        }
        Ok(())
    }
}

/// Every line, in the order checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub lines: Vec<Line>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.lines.iter().any(|l| l.status == Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.lines.iter().filter(|l| l.status == status).count()
    }

    /// The lines of one check of one scope.
    pub fn of(&self, scope: &str, check: &str) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|l| l.scope == scope && l.check == check)
            .collect()
    }

    pub(crate) fn push(
        &mut self,
        status: Status,
        scope: &str,
        check: &'static str,
        message: impl Into<String>,
        fix: Option<String>,
    ) {
        self.lines.push(Line {
            status,
            scope: scope.to_owned(),
            check,
            message: message.into(),
            fix,
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        write!(
            f,
            "doctor: {} ok, {} warn, {} FAIL",
            self.count(Status::Ok),
            self.count(Status::Warn),
            self.count(Status::Fail)
        )
    }
}

/// The report's lines for one scope (the switch being checked).
pub(crate) struct Scoped<'a> {
    pub(crate) scope: &'a str,
    pub(crate) report: &'a mut Report,
}

impl Scoped<'_> {
    pub(crate) fn line(
        &mut self,
        status: Status,
        check: &'static str,
        message: impl Into<String>,
        fix: Option<String>,
    ) {
        self.report.push(status, self.scope, check, message, fix);
    }

    pub(crate) fn ok(&mut self, check: &'static str, message: impl Into<String>) {
        self.line(Status::Ok, check, message, None);
    }

    pub(crate) fn warn(
        &mut self,
        check: &'static str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.line(Status::Warn, check, message, Some(fix.into()));
    }

    pub(crate) fn fail(
        &mut self,
        check: &'static str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.line(Status::Fail, check, message, Some(fix.into()));
    }
}

/// What the controller is configured with: the serve config, its provisioning and flows.
#[derive(Debug, Clone)]
pub struct Setup {
    pub config: Config,
    pub provisioning: Provisioning,
    pub flows: Option<FlowSet>,
}

impl Setup {
    /// Loads the serve config and what it names, as `check` does.
    pub fn load(path: &Path) -> Result<Setup, ConfigError> {
        let config = Config::load(path)?;
        let provisioning = match &config.provisioning {
            Some(file) => Provisioning::load(file)?,
            None => Provisioning::default(),
        };
        let flows = config.flows.as_deref().map(FlowSet::load).transpose()?;
        Ok(Setup {
            config,
            provisioning,
            flows,
        })
    }
}

/// Knobs the tests turn.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Bounds the connect and each reply.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(5),
        }
    }
}

/// Checks every switch of `setup` (FreeSWITCH over ESL, Asterisk over ARI), then the agents'
/// phones across them.
pub async fn run(setup: &Setup, options: Options) -> Report {
    let needs = Needs::of(&setup.config, &setup.provisioning, setup.flows.as_ref());
    let mut report = Report::default();
    let mut registered = Vec::new();
    let (mut every_switch_listed, mut any_listed) = (true, false);
    for switch in &setup.config.switches {
        match checks::switch(switch, &needs, options, &mut report).await {
            Some(users) => {
                registered.extend(users);
                any_listed = true;
            }
            None => every_switch_listed = false,
        }
    }
    for switch in &setup.config.asterisk_switches {
        match asterisk::switch(switch, &needs, options, &mut report).await {
            Some(endpoints) => {
                registered.extend(endpoints);
                any_listed = true;
            }
            None => every_switch_listed = false,
        }
    }
    checks::phones(
        &needs,
        &registered,
        every_switch_listed,
        any_listed,
        &mut report,
    );
    report
}
