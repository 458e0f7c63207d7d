//! A loaded flow: plain data, checked, ready to draw and to run.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use super::schedule::Schedule;
use super::template::Template;
use crate::engine::recording::RecordingAction;
use crate::engine::{FlowId, QueueId};

/// The name of a node inside its flow (`[node.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(super) String);

impl NodeId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One flow file.
#[derive(Debug, Clone)]
pub struct Flow {
    pub id: FlowId,
    /// Shown in diagrams and the API; the id when the file gives none.
    pub name: String,
    pub file: PathBuf,
    pub start: NodeId,
    /// The numbers or names our dialplan parks callers with (`switchboard_flow`).
    pub entry_points: Vec<String>,
    pub nodes: BTreeMap<NodeId, Node>,
}

impl Flow {
    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: NodeId,
    /// Where `[node.<id>]` is, for messages about it.
    pub line: usize,
    pub kind: NodeKind,
}

impl Node {
    /// What the node does, in a few words (its prompt, queue, URL, ...): the label of its box
    /// in drawings and the `summary` of the REST API.
    pub fn summary(&self) -> String {
        let media = |m: &Media| match m {
            Media::File(f) => f.clone(),
            Media::Tone(t) => format!("tone {t}"),
            Media::Say { text, what, .. } => format!("say {} {text}", what.as_str()),
        };
        match &self.kind {
            NodeKind::Play { media: m, .. } => media(m),
            NodeKind::Menu(menu) => media(&menu.prompt),
            NodeKind::Collect(c) => format!("{} → {}", media(&c.prompt), c.variable),
            NodeKind::Schedule { schedule, .. } => schedule.zone_name.clone(),
            NodeKind::Condition { cases, .. } => format!("{} case(s)", cases.len()),
            NodeKind::Http(h) => format!("{} {}", h.method.as_str(), h.url),
            NodeKind::Set { variables, .. } => variables
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            NodeKind::Enqueue(e) => format!("queue {}", e.queue.as_str()),
            NodeKind::Transfer { destination } => format!("to {destination}"),
            NodeKind::Voicemail { mailbox } => format!("mailbox {mailbox}"),
            NodeKind::Record { max_length, .. } => {
                format!("up to {}", humantime::format_duration(*max_length))
            }
            NodeKind::Recording { action, .. } => format!("{} recording", action.as_str()),
            NodeKind::Hangup { cause } => cause.clone(),
            NodeKind::Goto { flow } => format!("flow {}", flow.as_str()),
        }
    }
}

/// What a caller hears or is asked: a file, a tone, or a value spoken by the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// A sound file or any playback source (`ivr/ivr-welcome.wav`, `local_stream://moh`).
    File(String),
    /// A `tone_stream://` spec, given without its scheme.
    Tone(String),
    Say {
        text: Template,
        what: SayAs,
        language: String,
    },
}

/// How `say` reads a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SayAs {
    /// "forty-two".
    Number,
    /// "four two".
    Digits,
    /// A date (`2026-11-22`, or seconds since 1970).
    Date,
    /// An amount (`12.50`).
    Money,
    /// Seconds as "3 minutes 20 seconds".
    Duration,
}

impl SayAs {
    pub const ALL: [SayAs; 5] = [
        SayAs::Number,
        SayAs::Digits,
        SayAs::Date,
        SayAs::Money,
        SayAs::Duration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SayAs::Number => "number",
            SayAs::Digits => "digits",
            SayAs::Date => "date",
            SayAs::Money => "money",
            SayAs::Duration => "duration",
        }
    }
}

/// Where a branch goes: a node of the same flow, or the start of another flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Node(NodeId),
    Flow(FlowId),
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Play {
        media: Media,
        next: NodeId,
    },
    Menu(Menu),
    Collect(Collect),
    Schedule {
        schedule: Schedule,
        on_open: NodeId,
        on_closed: NodeId,
    },
    Condition {
        cases: Vec<Case>,
        otherwise: NodeId,
    },
    Http(Http),
    Set {
        variables: Vec<(String, Template)>,
        next: NodeId,
    },
    Enqueue(Enqueue),
    Transfer {
        destination: Template,
    },
    Voicemail {
        mailbox: Template,
    },
    Record {
        prompt: Option<Media>,
        max_length: Duration,
        /// The recording's path on the switch goes into this variable.
        variable: String,
        next: NodeId,
    },
    /// Starts, stops, pauses, resumes, masks or unmasks the call's recording (a PCI flow
    /// pauses or masks it before asking for a card number).
    Recording {
        action: RecordingAction,
        next: NodeId,
    },
    Hangup {
        cause: String,
    },
    Goto {
        flow: FlowId,
    },
}

impl NodeKind {
    /// The word used for it in flow files.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Play { .. } => "play",
            NodeKind::Menu(_) => "menu",
            NodeKind::Collect(_) => "collect",
            NodeKind::Schedule { .. } => "schedule",
            NodeKind::Condition { .. } => "condition",
            NodeKind::Http(_) => "http",
            NodeKind::Set { .. } => "set",
            NodeKind::Enqueue(_) => "enqueue",
            NodeKind::Transfer { .. } => "transfer",
            NodeKind::Voicemail { .. } => "voicemail",
            NodeKind::Record { .. } => "record",
            NodeKind::Recording { .. } => "recording",
            NodeKind::Hangup { .. } => "hangup",
            NodeKind::Goto { .. } => "goto",
        }
    }

    /// Whether the node waits for the caller (keys or speech); a loop must pass one.
    pub fn waits_for_caller(&self) -> bool {
        matches!(
            self,
            NodeKind::Menu(_) | NodeKind::Collect(_) | NodeKind::Record { .. }
        )
    }

    /// Every way out of the node, labelled with the digit or outcome that takes it.
    pub fn branches(&self) -> Vec<(String, Target)> {
        let node = |label: &str, id: &NodeId| (label.to_owned(), Target::Node(id.clone()));
        match self {
            NodeKind::Play { next, .. }
            | NodeKind::Set { next, .. }
            | NodeKind::Recording { next, .. } => vec![node("next", next)],
            NodeKind::Record { next, .. } => vec![node("recorded", next)],
            NodeKind::Menu(menu) => {
                let mut out: Vec<_> = menu
                    .options
                    .iter()
                    .map(|(digit, id)| node(&digit.to_string(), id))
                    .collect();
                out.push(node("invalid", &menu.on_invalid));
                out.push(node("no input", &menu.on_no_input));
                out
            }
            NodeKind::Collect(c) => vec![node("collected", &c.next), node("failed", &c.on_failure)],
            NodeKind::Schedule {
                on_open, on_closed, ..
            } => vec![node("open", on_open), node("closed", on_closed)],
            NodeKind::Condition { cases, otherwise } => {
                let mut out: Vec<_> = cases.iter().map(|c| node(&c.label(), &c.next)).collect();
                out.push(node("otherwise", otherwise));
                out
            }
            NodeKind::Http(http) => vec![node("ok", &http.next), node("error", &http.on_error)],
            NodeKind::Goto { flow } => vec![("goto".to_owned(), Target::Flow(flow.clone()))],
            NodeKind::Enqueue(_)
            | NodeKind::Transfer { .. }
            | NodeKind::Voicemail { .. }
            | NodeKind::Hangup { .. } => Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Menu {
    pub prompt: Media,
    pub options: BTreeMap<char, NodeId>,
    /// How long to wait for a key after the prompt.
    pub timeout: Duration,
    /// Further tries after an invalid key or none.
    pub retries: u32,
    pub invalid_prompt: Option<Media>,
    pub no_input_prompt: Option<Media>,
    pub on_invalid: NodeId,
    pub on_no_input: NodeId,
    /// Keys pressed during the prompt count (and stop it).
    pub barge_in: bool,
}

#[derive(Debug, Clone)]
pub struct Collect {
    pub prompt: Media,
    pub min_digits: u32,
    pub max_digits: u32,
    /// Ends the entry early (`#`); never part of the value.
    pub terminator: Option<char>,
    pub timeout: Duration,
    pub inter_digit_timeout: Duration,
    pub pattern: Option<Regex>,
    pub retries: u32,
    pub invalid_prompt: Option<Media>,
    pub variable: String,
    pub next: NodeId,
    pub on_failure: NodeId,
    /// A PIN or the like: the keys are written as `***` in the call's history, and the
    /// variable stays out of the history and off the agent's leg.
    pub secret: bool,
}

/// One `[[node.<id>.when]]` of a condition: every test given must hold.
#[derive(Debug, Clone)]
pub struct Case {
    pub tests: Vec<Test>,
    pub next: NodeId,
}

impl Case {
    fn label(&self) -> String {
        self.tests
            .iter()
            .map(Test::to_string)
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

#[derive(Debug, Clone)]
pub enum Test {
    Equals {
        variable: String,
        value: String,
    },
    NotEquals {
        variable: String,
        value: String,
    },
    Matches {
        variable: String,
        pattern: Regex,
    },
    /// Compared as numbers; a value that is not a number fails the test.
    LessThan {
        variable: String,
        value: f64,
    },
    GreaterThan {
        variable: String,
        value: f64,
    },
    /// The variable is set and not empty.
    Present {
        variable: String,
    },
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Equals { variable, value } => write!(f, "{variable} = {value}"),
            Test::NotEquals { variable, value } => write!(f, "{variable} ≠ {value}"),
            Test::Matches { variable, pattern } => write!(f, "{variable} ~ {}", pattern.as_str()),
            Test::LessThan { variable, value } => write!(f, "{variable} < {value}"),
            Test::GreaterThan { variable, value } => write!(f, "{variable} > {value}"),
            Test::Present { variable } => write!(f, "{variable} set"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Http {
    pub method: HttpMethod,
    pub url: Template,
    pub body: Option<Template>,
    pub timeout: Duration,
    /// Variable ← JSON pointer into the reply (`/customer/tier`).
    pub extract: Vec<(String, String)>,
    pub next: NodeId,
    /// Taken on a timeout, a refused connection, a non-2xx status or a reply that is not JSON.
    pub on_error: NodeId,
}

#[derive(Debug, Clone)]
pub struct Enqueue {
    pub queue: QueueId,
    /// A number, or a template whose value must be one.
    pub priority: Option<Template>,
    /// `"spanish:7,billing"`, possibly from variables.
    pub skills: Option<Template>,
    /// When the agent hangs up, the caller goes to this flow (a post-call survey).
    pub survey: Option<FlowId>,
}
