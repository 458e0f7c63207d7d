//! Reading one flow file: TOML to a [`Flow`], every mistake named by file, line and key.
//!
//! Nodes are read through one flat table of optional fields so that every field keeps its
//! span: a field that does not belong to the node's kind, or a missing one, is reported on its
//! own line rather than on the node's header.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::model::{
    Case, Collect, Enqueue, Flow, Http, HttpMethod, Media, Menu, Node, NodeId, NodeKind, SayAs,
    Test,
};
use super::schedule::{Schedule, ScheduleField};
use super::template::{check_variable_name, url_origin, Template};
use crate::config::{
    is_switch_word, CONTEXT_CHARS, EXTENSION_CHARS, HANGUP_CAUSES, MAILBOX_CHARS, SAY_TEXT_CHARS,
    VOICEMAIL_DOMAIN_CHARS,
};
use crate::config::{ConfigError, Source};
use crate::config::{HumanDuration, MediaSource};
use crate::engine::recording::RecordingAction;
use crate::engine::{Destination, FlowId, QueueId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    name: Option<Spanned<String>>,
    start: Spanned<String>,
    #[serde(default)]
    entry_points: Vec<Spanned<String>>,
    #[serde(default, rename = "node")]
    nodes: BTreeMap<String, Spanned<RawNode>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(i64),
    Text(String),
}

/// One `[[node.<id>.when]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    variable: Option<Spanned<String>>,
    caller_number: Option<Spanned<String>>,
    equals: Option<Spanned<String>>,
    not_equals: Option<Spanned<String>>,
    matches: Option<Spanned<String>>,
    less_than: Option<Spanned<f64>>,
    greater_than: Option<Spanned<f64>>,
    present: Option<Spanned<bool>>,
    next: Spanned<String>,
}

macro_rules! raw_node {
    ($($field:ident : $ty:ty),* $(,)?) => {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawNode {
            kind: Spanned<String>,
            $($field: Option<Spanned<$ty>>,)*
        }

        impl RawNode {
            /// The fields given, with where they are.
            fn present(&self) -> Vec<(&'static str, Range<usize>)> {
                let mut out = Vec::new();
                $(if let Some(v) = &self.$field {
                    out.push((stringify!($field), v.span()));
                })*
                out
            }
        }
    };
}

raw_node! {
    next: String,
    file: String,
    tone: String,
    say: String,
    say_as: String,
    language: String,
    prompt: String,
    options: BTreeMap<String, Spanned<String>>,
    timeout: HumanDuration,
    retries: u32,
    invalid_prompt: String,
    no_input_prompt: String,
    on_invalid: String,
    on_no_input: String,
    barge_in: bool,
    secret: bool,
    min_digits: u32,
    max_digits: u32,
    terminator: String,
    inter_digit_timeout: HumanDuration,
    pattern: String,
    variable: String,
    on_failure: String,
    time_zone: String,
    open: Vec<String>,
    closed: Vec<String>,
    special: Vec<String>,
    on_open: String,
    on_closed: String,
    when: Vec<RawWhen>,
    otherwise: String,
    method: String,
    url: String,
    body: String,
    extract: BTreeMap<String, Spanned<String>>,
    on_error: String,
    variables: BTreeMap<String, Spanned<String>>,
    queue: String,
    priority: NumberOrText,
    skills: String,
    survey: String,
    destination: String,
    mailbox: String,
    max_length: HumanDuration,
    cause: String,
    flow: String,
    action: String,
}

/// The fields each kind reads; any other is a mistake.
fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "play" => &["file", "tone", "say", "say_as", "language", "next"],
        "menu" => &[
            "prompt",
            "options",
            "timeout",
            "retries",
            "invalid_prompt",
            "no_input_prompt",
            "on_invalid",
            "on_no_input",
            "barge_in",
        ],
        "collect" => &[
            "prompt",
            "min_digits",
            "max_digits",
            "terminator",
            "timeout",
            "inter_digit_timeout",
            "pattern",
            "retries",
            "invalid_prompt",
            "variable",
            "next",
            "on_failure",
            "secret",
        ],
        "schedule" => &[
            "time_zone",
            "open",
            "closed",
            "special",
            "on_open",
            "on_closed",
        ],
        "condition" => &["when", "otherwise"],
        "http" => &[
            "method", "url", "body", "timeout", "extract", "next", "on_error",
        ],
        "set" => &["variables", "next"],
        "enqueue" => &["queue", "priority", "skills", "survey"],
        "transfer" => &["destination"],
        "voicemail" => &["mailbox"],
        "record" => &["prompt", "max_length", "variable", "next"],
        "recording" => &["action", "next"],
        "hangup" => &["cause"],
        "goto" => &["flow"],
        _ => return None,
    })
}

const KINDS: &str = "play, menu, collect, schedule, condition, http, set, enqueue, transfer, \
                     voicemail, record, recording, hangup, goto";

/// The longest a CRM lookup may hold a caller.
const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest message a caller may leave.
const MAX_RECORDING: Duration = Duration::from_secs(3600);

/// Reads and checks one flow file on its own (destinations inside it, kinds, fields, patterns,
/// time zones). What spans flows — `goto`, surveys, entry points, queues — is checked by
/// [`super::FlowSet`].
pub fn parse_flow(text: &str, file: &Path) -> Result<Flow, ConfigError> {
    let src = Source { file, text };
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let id = FlowId::new(stem)
        .map_err(|e| src.error_without_line("", format!("the file name gives the flow id: {e}")))?;
    let raw: RawFlow = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let owned_names: Vec<String> = raw.nodes.keys().cloned().collect();
    let names: HashSet<&str> = owned_names.iter().map(String::as_str).collect();
    let start = node_ref(&src, "start", &raw.start, &names)?;
    let mut entry_points = Vec::new();
    for (i, entry) in raw.entry_points.iter().enumerate() {
        let value = entry.get_ref();
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '#' | '-' | '_' | '.')
            });
        if !ok {
            return Err(src.error_at(
                Some(entry.span()),
                format!("entry_points[{i}]"),
                format!("{value:?} is not an entry point: letters, digits, '+', '*', '#', '-', '_' or '.', at most 64"),
            ));
        }
        entry_points.push(value.clone());
    }
    let mut nodes = BTreeMap::new();
    for (name, raw_node) in raw.nodes {
        let span = raw_node.span();
        let key = format!("node.{name}");
        check_node_name(&name).map_err(|m| src.error_at(Some(span.clone()), key.clone(), m))?;
        let reader = NodeReader {
            src: &src,
            key: &key,
            names: &names,
            span: span.clone(),
        };
        let kind = reader.kind(raw_node.into_inner())?;
        let id = NodeId(name);
        nodes.insert(
            id.clone(),
            Node {
                id,
                line: crate::config::line_of(text, span.start),
                kind,
            },
        );
    }
    let name = raw.name.map_or_else(|| id.to_string(), Spanned::into_inner);
    Ok(Flow {
        id,
        name,
        file: file.to_path_buf(),
        start,
        entry_points,
        nodes,
    })
}

fn check_node_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a node name: letters, digits, '_' or '-', at most 64"
        ))
    }
}

fn node_ref(
    src: &Source,
    key: &str,
    value: &Spanned<String>,
    names: &HashSet<&str>,
) -> Result<NodeId, ConfigError> {
    let name = value.get_ref();
    if names.contains(name.as_str()) {
        return Ok(NodeId(name.clone()));
    }
    let mut known: Vec<&str> = names.iter().copied().collect();
    known.sort_unstable();
    Err(src.error_at(
        Some(value.span()),
        key,
        format!(
            "there is no node {name:?} in this flow (the nodes are {})",
            known.join(", ")
        ),
    ))
}

/// Reads one node's fields into its kind.
struct NodeReader<'a> {
    src: &'a Source<'a>,
    key: &'a str,
    names: &'a HashSet<&'a str>,
    span: Range<usize>,
}

impl NodeReader<'_> {
    fn error(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> ConfigError {
        self.src
            .error_at(Some(span), format!("{}.{field}", self.key), message)
    }

    fn required<T>(
        &self,
        field: &str,
        value: Option<Spanned<T>>,
    ) -> Result<Spanned<T>, ConfigError> {
        value.ok_or_else(|| {
            self.src.error_at(
                Some(self.span.clone()),
                format!("{}.{field}", self.key),
                format!("this node needs {field:?}"),
            )
        })
    }

    fn target(&self, field: &str, value: &Spanned<String>) -> Result<NodeId, ConfigError> {
        node_ref(
            self.src,
            &format!("{}.{field}", self.key),
            value,
            self.names,
        )
    }

    fn required_target(
        &self,
        field: &str,
        value: Option<Spanned<String>>,
    ) -> Result<NodeId, ConfigError> {
        let value = self.required(field, value)?;
        self.target(field, &value)
    }

    fn media(&self, field: &str, value: Spanned<String>) -> Result<Media, ConfigError> {
        let span = value.span();
        let value = value.into_inner();
        MediaSource::try_from(value.clone()).map_err(|m| self.error(span, field, m))?;
        Ok(Media::File(value))
    }

    fn optional_media(
        &self,
        field: &str,
        value: Option<Spanned<String>>,
    ) -> Result<Option<Media>, ConfigError> {
        value.map(|v| self.media(field, v)).transpose()
    }

    fn template(&self, field: &str, value: Spanned<String>) -> Result<Template, ConfigError> {
        let span = value.span();
        Template::parse(value.get_ref()).map_err(|m| self.error(span, field, m))
    }

    fn variable(&self, field: &str, value: Spanned<String>) -> Result<String, ConfigError> {
        let span = value.span();
        check_variable_name(value.get_ref()).map_err(|m| self.error(span, field, m))?;
        Ok(value.into_inner())
    }

    fn pattern(&self, field: &str, value: Spanned<String>) -> Result<Regex, ConfigError> {
        let span = value.span();
        Regex::new(value.get_ref()).map_err(|e| {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or_default().trim().to_owned();
            self.error(
                span,
                field,
                format!("{:?} is not a valid pattern: {last}", value.get_ref()),
            )
        })
    }

    fn duration(
        &self,
        field: &str,
        value: Option<Spanned<HumanDuration>>,
        default: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let span = value.span();
        let d = value.into_inner().0;
        if d.is_zero() || d > max {
            return Err(self.error(
                span,
                field,
                format!(
                    "must be more than 0 and at most {}",
                    humantime::format_duration(max)
                ),
            ));
        }
        Ok(d)
    }

    fn kind(&self, raw: RawNode) -> Result<NodeKind, ConfigError> {
        let kind_name = raw.kind.get_ref().clone();
        let Some(allowed) = fields_of(&kind_name) else {
            return Err(self.error(
                raw.kind.span(),
                "kind",
                format!("{kind_name:?} is not a node kind; the kinds are {KINDS}"),
            ));
        };
        if let Some((field, span)) = raw
            .present()
            .into_iter()
            .find(|(field, _)| !allowed.contains(field))
        {
            return Err(self.error(
                span,
                field,
                format!(
                    "a {kind_name} node has no {field:?}; its fields are {}",
                    allowed.join(", ")
                ),
            ));
        }
        let minute = Duration::from_secs(60);
        Ok(match kind_name.as_str() {
            "play" => {
                let media = match (raw.file, raw.tone, raw.say) {
                    (Some(file), None, None) => self.media("file", file)?,
                    (None, Some(tone), None) => {
                        let span = tone.span();
                        let source = format!("tone_stream://{}", tone.get_ref());
                        MediaSource::try_from(source.clone())
                            .map_err(|m| self.error(span, "tone", m))?;
                        Media::Tone(tone.into_inner())
                    }
                    (None, None, Some(say)) => {
                        let say_as = self.required("say_as", raw.say_as)?;
                        let what = SayAs::ALL
                            .into_iter()
                            .find(|w| w.as_str() == say_as.get_ref())
                            .ok_or_else(|| {
                                self.error(
                                    say_as.span(),
                                    "say_as",
                                    format!(
                                        "{:?} is not one of number, digits, date, money, duration",
                                        say_as.get_ref()
                                    ),
                                )
                            })?;
                        let language = match raw.language {
                            Some(l) => {
                                if !crate::config::is_language(l.get_ref()) {
                                    return Err(self.error(
                                        l.span(),
                                        "language",
                                        format!(
                                            "{:?} is not a language: use 2 to 8 letters or _, such as en, de or pt_BR",
                                            l.get_ref()
                                        ),
                                    ));
                                }
                                l.into_inner()
                            }
                            None => "en".to_owned(),
                        };
                        let say_span = say.span();
                        let text = self.template("say", say)?;
                        // A date is turned into seconds before it is said; any other text
                        // goes to the switch as it is, one word.
                        if what != SayAs::Date
                            && !is_switch_word(&with_placeholders(&text), SAY_TEXT_CHARS)
                        {
                            return Err(self.error(
                                say_span,
                                "say",
                                format!(
                                    "{:?} cannot be said: the text is one word of letters, \
                                     digits and '.' (no ',', space or line break)",
                                    text.to_string()
                                ),
                            ));
                        }
                        Media::Say {
                            text,
                            what,
                            language,
                        }
                    }
                    _ => {
                        return Err(self.src.error_at(
                            Some(self.span.clone()),
                            self.key.to_owned(),
                            "a play node plays exactly one of \"file\", \"tone\" or \"say\"",
                        ))
                    }
                };
                NodeKind::Play {
                    media,
                    next: self.required_target("next", raw.next)?,
                }
            }
            "menu" => {
                let prompt = self.required("prompt", raw.prompt)?;
                let options = self.required("options", raw.options)?;
                let mut digits = BTreeMap::new();
                for (key, target) in options.into_inner() {
                    let mut chars = key.chars();
                    let digit = match (chars.next(), chars.next()) {
                        (Some(d), None) if d.is_ascii_digit() || d == '*' || d == '#' => d,
                        _ => {
                            return Err(self.error(
                                target.span(),
                                &format!("options.{key}"),
                                format!("{key:?} is not a key: one of 0-9, * or #"),
                            ))
                        }
                    };
                    digits.insert(digit, self.target(&format!("options.{key}"), &target)?);
                }
                let on_invalid = self.required_target("on_invalid", raw.on_invalid)?;
                let on_no_input = match raw.on_no_input {
                    Some(t) => self.target("on_no_input", &t)?,
                    None => on_invalid.clone(),
                };
                NodeKind::Menu(Menu {
                    prompt: self.media("prompt", prompt)?,
                    options: digits,
                    timeout: self.duration(
                        "timeout",
                        raw.timeout,
                        Duration::from_secs(5),
                        minute,
                    )?,
                    retries: self.retries(raw.retries)?,
                    invalid_prompt: self.optional_media("invalid_prompt", raw.invalid_prompt)?,
                    no_input_prompt: self.optional_media("no_input_prompt", raw.no_input_prompt)?,
                    on_invalid,
                    on_no_input,
                    barge_in: raw.barge_in.is_none_or(Spanned::into_inner),
                })
            }
            "collect" => {
                let max = self.required("max_digits", raw.max_digits)?;
                let max_span = max.span();
                let max_digits = max.into_inner();
                let min_digits = raw.min_digits.map_or(1, Spanned::into_inner);
                if !(1..=64).contains(&max_digits) || min_digits == 0 || min_digits > max_digits {
                    return Err(self.error(
                        max_span,
                        "max_digits",
                        format!("needs 1 <= min_digits ({min_digits}) <= max_digits ({max_digits}) <= 64"),
                    ));
                }
                let terminator = match raw.terminator {
                    None => Some('#'),
                    Some(t) => {
                        let mut chars = t.get_ref().chars();
                        match (chars.next(), chars.next()) {
                            (None, _) => None,
                            (Some(c), None) if c == '#' || c == '*' => Some(c),
                            _ => {
                                return Err(self.error(
                                    t.span(),
                                    "terminator",
                                    "must be \"#\", \"*\" or \"\" (none)",
                                ))
                            }
                        }
                    }
                };
                NodeKind::Collect(Collect {
                    prompt: self.media("prompt", self.required("prompt", raw.prompt)?)?,
                    min_digits,
                    max_digits,
                    terminator,
                    timeout: self.duration(
                        "timeout",
                        raw.timeout,
                        Duration::from_secs(5),
                        minute,
                    )?,
                    inter_digit_timeout: self.duration(
                        "inter_digit_timeout",
                        raw.inter_digit_timeout,
                        Duration::from_secs(3),
                        minute,
                    )?,
                    pattern: raw
                        .pattern
                        .map(|p| self.pattern("pattern", p))
                        .transpose()?,
                    retries: self.retries(raw.retries)?,
                    invalid_prompt: self.optional_media("invalid_prompt", raw.invalid_prompt)?,
                    variable: self
                        .variable("variable", self.required("variable", raw.variable)?)?,
                    next: self.required_target("next", raw.next)?,
                    on_failure: self.required_target("on_failure", raw.on_failure)?,
                    secret: raw.secret.is_some_and(Spanned::into_inner),
                })
            }
            "schedule" => {
                let zone = self.required("time_zone", raw.time_zone)?;
                let open = self.required("open", raw.open)?;
                let lists = [
                    (ScheduleField::Open, "open", Some(open)),
                    (ScheduleField::Closed, "closed", raw.closed),
                    (ScheduleField::Special, "special", raw.special),
                ];
                let text = |i: usize| -> Vec<String> {
                    lists[i]
                        .2
                        .as_ref()
                        .map(|l| l.get_ref().clone())
                        .unwrap_or_default()
                };
                let schedule = Schedule::parse(zone.get_ref(), &text(0), &text(1), &text(2))
                    .map_err(|(field, index, message)| match field {
                        ScheduleField::Zone => self.error(zone.span(), "time_zone", message),
                        _ => {
                            let (_, name, list) = lists
                                .iter()
                                .find(|(f, _, _)| *f == field)
                                .unwrap_or(&lists[0]);
                            let span = list.as_ref().map_or(self.span.clone(), Spanned::span);
                            self.error(span, &format!("{name}[{index}]"), message)
                        }
                    })?;
                NodeKind::Schedule {
                    schedule,
                    on_open: self.required_target("on_open", raw.on_open)?,
                    on_closed: self.required_target("on_closed", raw.on_closed)?,
                }
            }
            "condition" => {
                let when = self.required("when", raw.when)?;
                let mut cases = Vec::new();
                for (i, case) in when.into_inner().into_iter().enumerate() {
                    cases.push(self.case(i, case)?);
                }
                NodeKind::Condition {
                    cases,
                    otherwise: self.required_target("otherwise", raw.otherwise)?,
                }
            }
            "http" => {
                let method = match raw.method {
                    None => HttpMethod::Get,
                    Some(m) => match m.get_ref().to_ascii_uppercase().as_str() {
                        "GET" => HttpMethod::Get,
                        "POST" => HttpMethod::Post,
                        _ => {
                            return Err(self.error(
                                m.span(),
                                "method",
                                "must be \"GET\" or \"POST\"",
                            ))
                        }
                    },
                };
                let url = self.required("url", raw.url)?;
                let url_span = url.span();
                let scheme_ok =
                    url.get_ref().starts_with("http://") || url.get_ref().starts_with("https://");
                let origin = url_origin(url.get_ref());
                let host = origin.split_once("://").map_or("", |(_, host)| host);
                if !scheme_ok || host.is_empty() || origin.contains("{{") {
                    return Err(self.error(
                        url_span,
                        "url",
                        "must start with http:// or https:// and a fixed host[:port] ended by '/', '?' or the end of the URL; variables may only fill the path and query",
                    ));
                }
                let body = raw.body.map(|b| self.template("body", b)).transpose()?;
                if body.is_some() && method == HttpMethod::Get {
                    return Err(self.error(
                        self.span.clone(),
                        "body",
                        "a GET has no body: set method = \"POST\"",
                    ));
                }
                let mut extract = Vec::new();
                for (var, pointer) in raw.extract.map(Spanned::into_inner).unwrap_or_default() {
                    check_variable_name(&var)
                        .map_err(|m| self.error(pointer.span(), &format!("extract.{var}"), m))?;
                    if !(pointer.get_ref().is_empty() || pointer.get_ref().starts_with('/')) {
                        return Err(self.error(
                            pointer.span(),
                            &format!("extract.{var}"),
                            format!(
                                "{:?} is not a JSON pointer like \"/customer/tier\"",
                                pointer.get_ref()
                            ),
                        ));
                    }
                    extract.push((var, pointer.into_inner()));
                }
                NodeKind::Http(Http {
                    method,
                    url: self.template("url", url)?,
                    body,
                    timeout: self.duration(
                        "timeout",
                        raw.timeout,
                        Duration::from_secs(2),
                        MAX_HTTP_TIMEOUT,
                    )?,
                    extract,
                    next: self.required_target("next", raw.next)?,
                    on_error: self.required_target("on_error", raw.on_error)?,
                })
            }
            "set" => {
                let variables = self.required("variables", raw.variables)?;
                let mut out = Vec::new();
                for (name, value) in variables.into_inner() {
                    let field = format!("variables.{name}");
                    check_variable_name(&name).map_err(|m| self.error(value.span(), &field, m))?;
                    out.push((name, self.template(&field, value)?));
                }
                NodeKind::Set {
                    variables: out,
                    next: self.required_target("next", raw.next)?,
                }
            }
            "enqueue" => {
                let queue = self.required("queue", raw.queue)?;
                let queue = QueueId::new(queue.get_ref())
                    .map_err(|e| self.error(queue.span(), "queue", e.to_string()))?;
                let priority = match raw.priority {
                    None => None,
                    Some(p) => {
                        let span = p.span();
                        Some(match p.into_inner() {
                            NumberOrText::Number(n) => {
                                if !(-1000..=1000).contains(&n) {
                                    return Err(self.error(
                                        span,
                                        "priority",
                                        "must be from -1000 to 1000",
                                    ));
                                }
                                Template::parse(&n.to_string())
                                    .map_err(|m| self.error(span, "priority", m))?
                            }
                            NumberOrText::Text(t) => {
                                self.template("priority", Spanned::new(span, t))?
                            }
                        })
                    }
                };
                let skills = match raw.skills {
                    None => None,
                    Some(s) => {
                        let span = s.span();
                        let template = self.template("skills", s)?;
                        if let Some(literal) = template.as_literal() {
                            crate::engine::parse_skill_list(&literal)
                                .map_err(|e| self.error(span, "skills", e.to_string()))?;
                        }
                        Some(template)
                    }
                };
                let survey = raw
                    .survey
                    .map(|s| {
                        FlowId::new(s.get_ref())
                            .map_err(|e| self.error(s.span(), "survey", e.to_string()))
                    })
                    .transpose()?;
                NodeKind::Enqueue(Enqueue {
                    queue,
                    priority,
                    skills,
                    survey,
                })
            }
            "transfer" => {
                let destination = self.required("destination", raw.destination)?;
                let span = destination.span();
                let destination = self.template("destination", destination)?;
                let text = with_placeholders(&destination);
                let ok = match format!("extension:{text}").parse::<Destination>() {
                    // With variables, only the literal parts can be judged now.
                    _ if destination.variables().next().is_some() => {
                        is_switch_word(&text, "*#+._-@")
                    }
                    Ok(Destination::Extension { number, context }) => {
                        is_switch_word(&number, EXTENSION_CHARS)
                            && is_switch_word(&context, CONTEXT_CHARS)
                    }
                    _ => false,
                };
                if !ok {
                    return Err(self.error(
                        span,
                        "destination",
                        format!(
                            "{:?} is not an extension the switch takes: number[@context], the \
                             number of letters, digits and * # + . _ - (not first), the context \
                             of letters, digits and . _ -",
                            destination.to_string()
                        ),
                    ));
                }
                NodeKind::Transfer { destination }
            }
            "voicemail" => {
                let mailbox = self.required("mailbox", raw.mailbox)?;
                let span = mailbox.span();
                let mailbox = self.template("mailbox", mailbox)?;
                let text = with_placeholders(&mailbox);
                let ok = match format!("voicemail:{text}").parse::<Destination>() {
                    // With variables, only the literal parts can be judged now.
                    _ if mailbox.variables().next().is_some() => is_switch_word(&text, "._-@"),
                    Ok(Destination::Voicemail { domain, mailbox }) => {
                        is_switch_word(&mailbox, MAILBOX_CHARS)
                            && is_switch_word(&domain, VOICEMAIL_DOMAIN_CHARS)
                    }
                    _ => false,
                };
                if !ok {
                    return Err(self.error(
                        span,
                        "mailbox",
                        format!(
                            "{:?} is not a voicemail box the switch takes: mailbox@domain, the \
                             mailbox of letters, digits and . _ - (not first), the domain of \
                             letters, digits and . -",
                            mailbox.to_string()
                        ),
                    ));
                }
                NodeKind::Voicemail { mailbox }
            }
            "record" => NodeKind::Record {
                prompt: self.optional_media("prompt", raw.prompt)?,
                max_length: self.duration(
                    "max_length",
                    raw.max_length,
                    Duration::from_secs(120),
                    MAX_RECORDING,
                )?,
                variable: match raw.variable {
                    Some(v) => self.variable("variable", v)?,
                    None => "recording".to_owned(),
                },
                next: self.required_target("next", raw.next)?,
            },
            "recording" => {
                let action = self.required("action", raw.action)?;
                NodeKind::Recording {
                    action: RecordingAction::parse(action.get_ref()).ok_or_else(|| {
                        self.error(
                            action.span(),
                            "action",
                            format!(
                                "{:?} is not a recording action: use start, stop, pause, \
                                 resume, mask or unmask",
                                action.get_ref()
                            ),
                        )
                    })?,
                    next: self.required_target("next", raw.next)?,
                }
            }
            "hangup" => {
                let cause = match raw.cause {
                    None => "NORMAL_CLEARING".to_owned(),
                    Some(c) => {
                        if !HANGUP_CAUSES.contains(&c.get_ref().as_str()) {
                            return Err(self.error(
                                c.span(),
                                "cause",
                                format!("{:?} is not a hangup cause like \"NORMAL_CLEARING\" or \"USER_BUSY\"", c.get_ref()),
                            ));
                        }
                        c.into_inner()
                    }
                };
                NodeKind::Hangup { cause }
            }
            "goto" => {
                let flow = self.required("flow", raw.flow)?;
                NodeKind::Goto {
                    flow: FlowId::new(flow.get_ref())
                        .map_err(|e| self.error(flow.span(), "flow", e.to_string()))?,
                }
            }
            _ => unreachable!("fields_of knows every kind"),
        })
    }

    fn retries(&self, value: Option<Spanned<u32>>) -> Result<u32, ConfigError> {
        match value {
            None => Ok(2),
            Some(r) if *r.get_ref() <= 10 => Ok(r.into_inner()),
            Some(r) => Err(self.error(r.span(), "retries", "must be from 0 to 10")),
        }
    }

    fn case(&self, index: usize, raw: RawWhen) -> Result<Case, ConfigError> {
        let field = |name: &str| format!("when[{index}].{name}");
        let next = self.target(&field("next"), &raw.next)?;
        let variable = match (raw.variable, raw.caller_number) {
            (Some(v), None) => Some(self.variable(&field("variable"), v)?),
            (None, Some(pattern)) => {
                let pattern = self.pattern(&field("caller_number"), pattern)?;
                return Ok(Case {
                    tests: vec![Test::Matches {
                        variable: "caller_number".to_owned(),
                        pattern,
                    }],
                    next,
                });
            }
            (Some(_), Some(c)) => {
                return Err(self.error(
                    c.span(),
                    &field("caller_number"),
                    "give \"variable\" or \"caller_number\", not both",
                ))
            }
            (None, None) => None,
        };
        let Some(variable) = variable else {
            return Err(self.error(
                raw.next.span(),
                &field("variable"),
                "a case tests a \"variable\" or the \"caller_number\"",
            ));
        };
        let mut tests = Vec::new();
        if let Some(v) = raw.equals {
            tests.push(Test::Equals {
                variable: variable.clone(),
                value: v.into_inner(),
            });
        }
        if let Some(v) = raw.not_equals {
            tests.push(Test::NotEquals {
                variable: variable.clone(),
                value: v.into_inner(),
            });
        }
        if let Some(p) = raw.matches {
            tests.push(Test::Matches {
                variable: variable.clone(),
                pattern: self.pattern(&field("matches"), p)?,
            });
        }
        if let Some(v) = raw.less_than {
            tests.push(Test::LessThan {
                variable: variable.clone(),
                value: v.into_inner(),
            });
        }
        if let Some(v) = raw.greater_than {
            tests.push(Test::GreaterThan {
                variable: variable.clone(),
                value: v.into_inner(),
            });
        }
        if let Some(p) = raw.present {
            if p.into_inner() {
                tests.push(Test::Present {
                    variable: variable.clone(),
                });
            }
        }
        if tests.is_empty() {
            return Err(self.error(
                raw.next.span(),
                &field("variable"),
                "a case needs a test: equals, not_equals, matches, less_than, greater_than or present",
            ));
        }
        Ok(Case { tests, next })
    }
}

/// What a template's literal parts look like in a command: every variable as `0`, a value the
/// runtime checks again when it has the real one.
fn with_placeholders(template: &Template) -> String {
    let placeholders: HashMap<String, String> = template
        .variables()
        .map(|v| (v.to_owned(), "0".to_owned()))
        .collect();
    template.render(&placeholders, str::to_owned)
}
