//! A dialplan context as the switch returns it (`xml_locate dialplan context name <ctx>`), and
//! which extension a dialled number reaches in it.
//!
//! Why evaluate rather than grep: the mistake this catches is an extension of ours that is
//! present but never reached, because a stock extension earlier in the context takes the
//! number first (the stock `default.xml` answers 5000 and 5001 before it includes
//! `default/*.xml`). So the hunt follows `mod_dialplan_xml.c`: extensions in document order;
//! an extension is taken when its last evaluated condition "proceeds" and it has no
//! `continue="true"`; conditions stop on `break` (`on-false` by default, `on-true`, `always`,
//! `never`); a failed condition with anti-actions proceeds; a condition without `field` and
//! without time attributes always passes; nested conditions run when their parent proceeds.
//!
//! Only the number is known here, not the call. A condition on `destination_number` is
//! evaluated with the `regex` crate (FreeSWITCH uses PCRE; lookarounds are removed to get a
//! looser expression, which can still prove a mismatch); anything else (other fields, channel
//! variables, time of day, an expression the crate cannot read) is unknown, and both outcomes
//! are followed. An extension that then may or may not take the number is reported only when
//! its verdict depends on the number too (otherwise every stock `unloop` extension would
//! shadow everything).

use std::collections::BTreeSet;

use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("the dialplan XML cannot be read: {0}")]
pub struct DialplanError(String);

/// One `<context>` with its extensions in document order.
#[derive(Debug, Clone)]
pub struct Context {
    pub name: String,
    pub extensions: Vec<Extension>,
}

#[derive(Debug, Clone)]
pub struct Extension {
    pub name: String,
    /// `continue="true"`: the hunt goes on after this extension.
    pub continues: bool,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    OnTrue,
    OnFalse,
    Always,
    Never,
}

#[derive(Debug, Clone)]
struct Condition {
    field: Option<String>,
    expression: String,
    brk: Break,
    /// Date and time attributes (`wday`, `hour`, …): unknown here.
    timed: bool,
    /// `regex="any|all|xor"` with `<regex>` children.
    rules: Option<(RuleMode, Vec<Rule>)>,
    actions: Vec<Action>,
    anti_actions: usize,
    nested: Vec<Condition>,
    require_nested: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleMode {
    Any,
    All,
    Xor,
}

#[derive(Debug, Clone)]
struct Rule {
    field: Option<String>,
    expression: String,
    timed: bool,
}

/// An `<action application=… data=…/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub application: String,
    pub data: String,
}

/// What a Switchboard extension is for, from its actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Queue(String),
    Flow(String),
    Feature(String),
    /// Hands the number to another context (`transfer $1 XML public`).
    Transfer(String),
}

/// Where a number ends up in a context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hunt {
    /// The extension that takes the number for sure (its index).
    pub taken_by: Option<usize>,
    /// Extensions before it that may take it, depending on what cannot be known here, with
    /// why.
    pub maybe: Vec<(usize, String)>,
}

// ---------------------------------------------------------------------------------------
// A small XML reader: `switch_xml_toxml` writes elements, attributes, text and entities.

#[derive(Debug, Default, Clone)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn unescape(raw: &str) -> Result<String, DialplanError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find(';')
            .ok_or_else(|| DialplanError(format!("unfinished entity in {raw:?}")))?;
        let entity = &rest[at + 1..at + end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| DialplanError(format!("unknown entity &{entity};")))?
            }
        };
        out.push(c);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_xml(xml: &str) -> Result<Element, DialplanError> {
    let err = |m: &str| DialplanError(m.to_owned());
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut rest = xml;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            let top = stack.last_mut().ok_or_else(|| err("unbalanced"))?;
            top.text.push_str(&unescape(rest)?);
            break;
        };
        if lt > 0 {
            let top = stack.last_mut().ok_or_else(|| err("unbalanced"))?;
            top.text.push_str(&unescape(&rest[..lt])?);
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or_else(|| err("unfinished comment"))?;
            rest = &after[end + 3..];
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").ok_or_else(|| err("unfinished CDATA"))?;
            let top = stack.last_mut().ok_or_else(|| err("unbalanced"))?;
            top.text.push_str(&after[..end]);
            rest = &after[end + 3..];
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = rest
                .find('>')
                .ok_or_else(|| err("unfinished declaration"))?;
            rest = &rest[end + 1..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or_else(|| err("unfinished end tag"))?;
            let name = after[..end].trim();
            let done = stack.pop().ok_or_else(|| err("unbalanced"))?;
            if done.name != name || stack.is_empty() {
                return Err(DialplanError(format!("</{name}> closes <{}>", done.name)));
            }
            stack
                .last_mut()
                .ok_or_else(|| err("unbalanced"))?
                .children
                .push(done);
            rest = &after[end + 1..];
        } else {
            let (element, closed, used) = start_tag(&rest[1..])?;
            rest = &rest[1 + used..];
            if closed {
                stack
                    .last_mut()
                    .ok_or_else(|| err("unbalanced"))?
                    .children
                    .push(element);
            } else {
                stack.push(element);
            }
        }
    }
    if stack.len() != 1 {
        return Err(err("an element is not closed"));
    }
    let mut root = stack.pop().ok_or_else(|| err("empty"))?;
    let first = root
        .children
        .drain(..)
        .next()
        .ok_or_else(|| err("no element"))?;
    Ok(first)
}

/// Reads `name attr="v" …>` or `…/>`; returns the element, whether it closed itself, and the
/// bytes used.
fn start_tag(s: &str) -> Result<(Element, bool, usize), DialplanError> {
    let bad = || DialplanError(format!("bad tag near {:?}", &s[..s.len().min(40)]));
    let name_end = s
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .ok_or_else(bad)?;
    let mut element = Element {
        name: s[..name_end].to_owned(),
        ..Element::default()
    };
    if element.name.is_empty() {
        return Err(bad());
    }
    let mut rest = &s[name_end..];
    loop {
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix("/>") {
            return Ok((element, true, s.len() - after.len()));
        }
        if let Some(after) = trimmed.strip_prefix('>') {
            return Ok((element, false, s.len() - after.len()));
        }
        let eq = trimmed.find('=').ok_or_else(bad)?;
        let key = trimmed[..eq].trim().to_owned();
        let value_part = trimmed[eq + 1..].trim_start();
        let quote = value_part.chars().next().ok_or_else(bad)?;
        if quote != '"' && quote != '\'' {
            return Err(bad());
        }
        let close = value_part[1..].find(quote).ok_or_else(bad)?;
        element
            .attrs
            .push((key, unescape(&value_part[1..1 + close])?));
        rest = &value_part[close + 2..];
    }
}

/// The `<param name=… value=…/>` of a `<configuration>` element's `<settings>`, in order (as
/// `xml_locate configuration configuration name <file>` returns it).
pub fn settings_params(xml: &str) -> Result<Vec<(String, String)>, DialplanError> {
    let root = parse_xml(xml)?;
    Ok(root
        .children("settings")
        .flat_map(|s| s.children("param"))
        .map(|p| {
            (
                p.attr("name").unwrap_or_default().to_owned(),
                p.attr("value").unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// The model.

const TIME_ATTRIBUTES: &[&str] = &[
    "year",
    "yday",
    "mon",
    "mday",
    "week",
    "mweek",
    "wday",
    "hour",
    "minute",
    "minute-of-day",
    "time-of-day",
    "date-time",
];

fn timed(e: &Element) -> bool {
    e.attrs
        .iter()
        .any(|(k, _)| TIME_ATTRIBUTES.contains(&k.as_str()))
}

fn expression_of(e: &Element) -> String {
    match e.children("expression").next() {
        Some(x) => x.text.clone(),
        None => e.attr("expression").unwrap_or_default().to_owned(),
    }
}

fn condition(e: &Element) -> Condition {
    let brk = match e.attr("break").map(str::to_ascii_lowercase).as_deref() {
        Some("on-true") => Break::OnTrue,
        Some("always") => Break::Always,
        Some("never") => Break::Never,
        _ => Break::OnFalse,
    };
    let rules = e.attr("regex").map(|mode| {
        let mode = match mode.to_ascii_lowercase().as_str() {
            "all" => RuleMode::All,
            "xor" => RuleMode::Xor,
            _ => RuleMode::Any,
        };
        let rules = e
            .children("regex")
            .map(|r| Rule {
                field: r.attr("field").map(str::to_owned),
                expression: expression_of(r),
                timed: timed(r),
            })
            .collect();
        (mode, rules)
    });
    let action = |a: &Element| Action {
        application: a.attr("application").unwrap_or_default().to_owned(),
        data: if a.text.trim().is_empty() {
            a.attr("data").unwrap_or_default().to_owned()
        } else {
            a.text.clone()
        },
    };
    Condition {
        field: e.attr("field").map(str::to_owned),
        expression: expression_of(e),
        brk,
        timed: timed(e),
        rules,
        actions: e.children("action").map(action).collect(),
        anti_actions: e.children("anti-action").count(),
        nested: e.children("condition").map(condition).collect(),
        require_nested: e.attr("require-nested").is_none_or(is_true),
    }
}

fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "enabled" | "active" | "allow" | "1"
    )
}

impl Context {
    /// Reads the XML `xml_locate dialplan context name <ctx>` returns.
    pub fn parse(xml: &str) -> Result<Context, DialplanError> {
        let root = parse_xml(xml)?;
        if root.name != "context" {
            return Err(DialplanError(format!("<{}> is not a <context>", root.name)));
        }
        let extensions = root
            .children("extension")
            .map(|x| Extension {
                name: x.attr("name").unwrap_or("UNKNOWN").to_owned(),
                continues: x.attr("continue").is_some_and(is_true),
                conditions: x.children("condition").map(condition).collect(),
            })
            .collect();
        Ok(Context {
            name: root.attr("name").unwrap_or_default().to_owned(),
            extensions,
        })
    }

    /// Where `number` ends up; `vars` knows some variables (`${name}` fields) or none.
    pub fn hunt(&self, number: &str, vars: &dyn Fn(&str) -> Option<String>) -> Hunt {
        let mut hunt = Hunt::default();
        for (i, ext) in self.extensions.iter().enumerate() {
            if ext.continues {
                continue;
            }
            let mut eval = Eval {
                number,
                vars,
                about_number: false,
                unknown: BTreeSet::new(),
            };
            let outcome = eval.conditions(&ext.conditions, 0);
            match (outcome.can_take, outcome.can_pass) {
                (true, false) => {
                    hunt.taken_by = Some(i);
                    return hunt;
                }
                (true, true) if eval.about_number => {
                    let why: Vec<String> = eval.unknown.into_iter().collect();
                    hunt.maybe.push((i, why.join(", ")));
                }
                _ => {}
            }
        }
        hunt
    }
}

impl Extension {
    /// The actions of every condition, nested ones included.
    pub fn actions(&self) -> Vec<&Action> {
        fn walk<'a>(conditions: &'a [Condition], out: &mut Vec<&'a Action>) {
            for c in conditions {
                out.extend(c.actions.iter());
                walk(&c.nested, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.conditions, &mut out);
        out
    }

    /// What this extension does for Switchboard, if anything.
    pub fn role(&self) -> Option<Role> {
        let mut role = None;
        for a in self.actions() {
            if a.application == "set" {
                let (name, value) = a.data.split_once('=').unwrap_or((&a.data, ""));
                let value = value.trim().to_owned();
                match name.trim() {
                    // A queue wins over a flow on the same channel, as in the controller.
                    "switchboard_queue" => return Some(Role::Queue(value)),
                    "switchboard_flow" => role = Some(Role::Flow(value)),
                    "switchboard_feature" if role.is_none() => role = Some(Role::Feature(value)),
                    _ => {}
                }
            } else if a.application == "transfer" && role.is_none() {
                let words: Vec<&str> = a.data.split_whitespace().collect();
                if let [_, "XML", context] = words.as_slice() {
                    role = Some(Role::Transfer((*context).to_owned()));
                }
            }
        }
        role
    }

    /// Whether it collects an agent number (the hot-desk log-in).
    pub fn collects_agent_number(&self) -> bool {
        self.actions().iter().any(|a| {
            a.application == "play_and_get_digits" && a.data.contains("switchboard_agent_number")
        })
    }

    /// The `destination_number` expressions of its conditions.
    pub fn number_expressions(&self) -> Vec<&str> {
        self.conditions
            .iter()
            .filter(|c| c.field.as_deref().is_some_and(is_number_field))
            .map(|c| c.expression.as_str())
            .collect()
    }
}

fn is_number_field(field: &str) -> bool {
    field == "destination_number" || field == "${destination_number}"
}

// ---------------------------------------------------------------------------------------
// Evaluation with unknowns: every outcome of an unknown condition is followed.

#[derive(Debug, Clone, Copy, Default)]
struct Outcome {
    /// Some path ends with the extension proceeding.
    can_take: bool,
    /// Some path ends without.
    can_pass: bool,
}

impl Outcome {
    fn record(&mut self, proceed: bool) {
        if proceed {
            self.can_take = true;
        } else {
            self.can_pass = true;
        }
    }
}

/// A regex result that may not be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown,
}

struct Eval<'a> {
    number: &'a str,
    vars: &'a dyn Fn(&str) -> Option<String>,
    about_number: bool,
    unknown: BTreeSet<String>,
}

const MAX_DEPTH: usize = 8;

impl Eval<'_> {
    fn conditions(&mut self, conditions: &[Condition], depth: usize) -> Outcome {
        let mut outcome = Outcome::default();
        if depth > MAX_DEPTH {
            self.unknown.insert("conditions nested too deep".into());
            outcome.record(true);
            outcome.record(false);
            return outcome;
        }
        self.walk(conditions, 0, false, depth, &mut outcome);
        outcome
    }

    fn walk(
        &mut self,
        conditions: &[Condition],
        i: usize,
        proceed: bool,
        depth: usize,
        outcome: &mut Outcome,
    ) {
        let Some(c) = conditions.get(i) else {
            outcome.record(proceed);
            return;
        };
        let passes: &[bool] = match self.condition(c) {
            Tri::Yes => &[true],
            Tri::No => &[false],
            Tri::Unknown => &[true, false],
        };
        for &pass in passes {
            let proceeds = pass || c.anti_actions > 0;
            let stop = (pass && c.brk == Break::OnTrue)
                || (!pass && c.brk == Break::OnFalse)
                || c.brk == Break::Always;
            if stop {
                outcome.record(proceeds);
                continue;
            }
            if proceeds && !c.nested.is_empty() {
                let mut nested = self.conditions(&c.nested, depth + 1);
                if !c.require_nested {
                    nested = Outcome {
                        can_take: true,
                        can_pass: false,
                    };
                }
                if nested.can_take {
                    self.walk(conditions, i + 1, true, depth, outcome);
                }
                if nested.can_pass {
                    if c.brk == Break::Never {
                        self.walk(conditions, i + 1, false, depth, outcome);
                    } else {
                        outcome.record(false);
                    }
                }
                continue;
            }
            self.walk(conditions, i + 1, proceeds, depth, outcome);
        }
    }

    fn condition(&mut self, c: &Condition) -> Tri {
        if let Some((mode, rules)) = &c.rules {
            return self.rules(*mode, rules, c.timed);
        }
        match (&c.field, c.timed) {
            (Some(field), false) => self.test(field, &c.expression),
            (Some(field), true) => {
                // The field decides unless it fails; the time is unknown.
                if self.test(field, &c.expression) == Tri::No {
                    Tri::No
                } else {
                    self.unknown.insert("the time of day".into());
                    Tri::Unknown
                }
            }
            (None, true) => {
                self.unknown.insert("the time of day".into());
                Tri::Unknown
            }
            (None, false) => Tri::Yes,
        }
    }

    fn rules(&mut self, mode: RuleMode, rules: &[Rule], timed: bool) -> Tri {
        let results: Vec<Tri> = rules
            .iter()
            .map(|r| match (&r.field, r.timed) {
                (Some(field), _) => self.test(field, &r.expression),
                (None, true) => {
                    self.unknown.insert("the time of day".into());
                    Tri::Unknown
                }
                (None, false) => Tri::Yes,
            })
            .collect();
        let yes = results.iter().filter(|r| **r == Tri::Yes).count();
        let unknown = results.iter().filter(|r| **r == Tri::Unknown).count();
        let verdict = match mode {
            RuleMode::Any if yes > 0 => Tri::Yes,
            RuleMode::Any if unknown == 0 => Tri::No,
            RuleMode::All if yes == results.len() => Tri::Yes,
            RuleMode::All if yes + unknown < results.len() => Tri::No,
            RuleMode::Xor if unknown == 0 => {
                if yes == 1 {
                    Tri::Yes
                } else {
                    Tri::No
                }
            }
            RuleMode::Xor if yes > 1 => Tri::No,
            _ => Tri::Unknown,
        };
        if timed && verdict != Tri::No {
            self.unknown.insert("the time of day".into());
            return Tri::Unknown;
        }
        verdict
    }

    /// Does `field` match `expression` for this number?
    fn test(&mut self, field: &str, expression: &str) -> Tri {
        let value = if is_number_field(field) {
            self.about_number = true;
            self.number.to_owned()
        } else if let Some(name) = field.strip_prefix("${").and_then(|f| f.strip_suffix('}')) {
            match (self.vars)(name) {
                Some(v) => v,
                None => {
                    self.unknown.insert(field.to_owned());
                    return Tri::Unknown;
                }
            }
        } else {
            self.unknown.insert(field.to_owned());
            return Tri::Unknown;
        };
        if expression.contains("${") {
            self.unknown
                .insert(format!("the variables in {expression:?}"));
            return Tri::Unknown;
        }
        match matches(expression, &value) {
            Some(true) => Tri::Yes,
            Some(false) => Tri::No,
            None => {
                self.unknown.insert(format!(
                    "the expression {expression:?}, which the doctor cannot read"
                ));
                Tri::Unknown
            }
        }
    }
}

/// `Some(matched)`, or `None` when the expression cannot be decided: it does not compile, or
/// only its looser form without lookarounds does and that one matches.
pub fn matches(expression: &str, value: &str) -> Option<bool> {
    if let Ok(re) = Regex::new(expression) {
        return Some(re.is_match(value));
    }
    let looser = without_lookarounds(expression)?;
    match Regex::new(&looser) {
        Ok(re) if !re.is_match(value) => Some(false),
        _ => None,
    }
}

/// The expression with its `(?=…)`, `(?!…)`, `(?<=…)` and `(?<!…)` groups removed: it matches
/// at least what the original matches. `None` when there were none.
fn without_lookarounds(expression: &str) -> Option<String> {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = String::new();
    let mut removed = false;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            out.push(chars[i]);
            if let Some(c) = chars.get(i + 1) {
                out.push(*c);
            }
            i += 2;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
        let opener = ["(?<=", "(?<!", "(?=", "(?!"]
            .iter()
            .find(|o| rest.starts_with(**o));
        if let Some(opener) = opener {
            let mut depth = 0;
            let mut j = i;
            while j < chars.len() {
                match chars[j] {
                    '\\' => j += 1,
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let _ = opener;
            removed = true;
            i = j + 1;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    removed.then_some(out)
}

// ---------------------------------------------------------------------------------------
// Numbers an expression stands for.

const MAX_SAMPLES: usize = 24;

/// A few numbers `expression` matches: every alternative, one character per class, each
/// repetition at its least and one more. Empty when nothing can be derived (then the
/// expression is reported as not checkable).
pub fn sample_numbers(expression: &str) -> Vec<String> {
    let Ok(hir) = regex_syntax::parse(expression) else {
        return Vec::new();
    };
    let Ok(re) = Regex::new(expression) else {
        return Vec::new();
    };
    let mut out: Vec<String> = samples(&hir)
        .into_iter()
        .filter(|s| !s.is_empty() && re.is_match(s))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn samples(hir: &Hir) -> Vec<String> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => vec![String::new()],
        HirKind::Literal(lit) => vec![String::from_utf8_lossy(&lit.0).into_owned()],
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .first()
            .map(|r| vec![r.start().to_string()])
            .unwrap_or_default(),
        HirKind::Class(Class::Bytes(class)) => class
            .ranges()
            .first()
            .map(|r| vec![char::from(r.start()).to_string()])
            .unwrap_or_default(),
        HirKind::Capture(capture) => samples(&capture.sub),
        HirKind::Repetition(rep) => {
            let sub = samples(&rep.sub);
            let least = rep.min.min(16) as usize;
            let mut out: Vec<String> = sub.iter().map(|s| s.repeat(least)).collect();
            if rep.max.is_none_or(|max| max > rep.min) {
                out.extend(sub.iter().map(|s| s.repeat(least + 1)));
            }
            out.truncate(MAX_SAMPLES);
            out
        }
        HirKind::Concat(parts) => {
            let mut acc = vec![String::new()];
            for part in parts {
                let next = samples(part);
                let mut joined = Vec::new();
                for a in &acc {
                    for b in &next {
                        if joined.len() < MAX_SAMPLES {
                            joined.push(format!("{a}{b}"));
                        }
                    }
                }
                acc = joined;
            }
            acc
        }
        HirKind::Alternation(alternatives) => {
            let mut out = Vec::new();
            for alt in alternatives {
                out.extend(samples(alt));
            }
            out.truncate(MAX_SAMPLES);
            out
        }
    }
}

#[cfg(test)]
mod tests;
