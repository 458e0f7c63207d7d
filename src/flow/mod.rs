//! IVR call flows: what a caller hears and presses before a queue, written as one TOML file per
//! flow and kept in git.
//!
//! A flow is a graph of named nodes with a start node. This module reads and checks flows
//! (every mistake with its file and line, before any caller meets it) and draws them; a set of
//! flows is loaded all or nothing, so a broken edit never replaces flows that work.

mod load;
mod model;
mod render;
mod schedule;
mod template;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

pub use load::parse_flow;
pub use model::{
    Case, Collect, Enqueue, Flow, Http, HttpMethod, Media, Menu, Node, NodeId, NodeKind, SayAs,
    Target, Test,
};
pub use render::{render, Format};
pub use schedule::Schedule;
pub use template::{url_origin, Template, BUILT_IN};

use crate::config::ConfigError;
use crate::engine::{FlowId, QueueId};

/// Every flow of a directory, checked together.
#[derive(Debug, Clone, Default)]
pub struct FlowSet {
    flows: BTreeMap<FlowId, Flow>,
    entry_points: HashMap<String, FlowId>,
}

impl FlowSet {
    /// Checks one named flow file, whatever its extension, together with every `*.toml`
    /// beside it (its gotos and surveys name flows there); a directory as [`FlowSet::load`].
    /// This is what `switchboard flow check <file>` reads: a file the directory listing would
    /// skip (`ivr.flow`, `ivr.toml.bak`) is still checked, not passed over.
    pub fn load_named(path: &Path) -> Result<FlowSet, ConfigError> {
        if !path.is_file() {
            return FlowSet::load(path);
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut files = toml_files(dir)?;
        let named = dir.join(path.file_name().unwrap_or_default());
        if !files.contains(&named) {
            files.push(named);
        }
        load_files(files)
    }

    /// Reads a flow file, or every `*.toml` in a directory (not recursing), and checks them
    /// together.
    pub fn load(path: &Path) -> Result<FlowSet, ConfigError> {
        let files = if path.is_dir() {
            toml_files(path)?
        } else {
            vec![path.to_path_buf()]
        };
        load_files(files)
    }

    /// Checks what spans flows: `goto` and survey targets, entry points claimed twice,
    /// nodes the start never reaches, and loops that never wait for the caller.
    pub fn new(flows: Vec<Flow>) -> Result<FlowSet, ConfigError> {
        let mut set = FlowSet::default();
        for flow in flows {
            if let Some(other) = set.flows.get(&flow.id) {
                return Err(at(
                    &flow,
                    None,
                    "",
                    format!(
                        "flow {:?} is also defined in {}",
                        flow.id.as_str(),
                        other.file.display()
                    ),
                ));
            }
            set.flows.insert(flow.id.clone(), flow);
        }
        for flow in set.flows.values() {
            for entry in &flow.entry_points {
                if let Some(other) = set.entry_points.insert(entry.clone(), flow.id.clone()) {
                    return Err(at(
                        flow,
                        None,
                        "entry_points",
                        format!(
                            "entry point {entry:?} is also claimed by flow {:?}",
                            other.as_str()
                        ),
                    ));
                }
            }
            for node in flow.nodes.values() {
                let flows_named = match &node.kind {
                    NodeKind::Goto { flow } => vec![("flow", flow)],
                    NodeKind::Enqueue(Enqueue {
                        survey: Some(survey),
                        ..
                    }) => vec![("survey", survey)],
                    _ => Vec::new(),
                };
                for (field, target) in flows_named {
                    if !set.flows.contains_key(target) {
                        return Err(at(
                            flow,
                            Some(node),
                            field,
                            format!(
                                "there is no flow {:?} (the flows are {})",
                                target.as_str(),
                                set.ids().join(", ")
                            ),
                        ));
                    }
                }
            }
            set.check_reachable(flow)?;
        }
        set.check_loops()?;
        set.check_surveys()?;
        Ok(set)
    }

    /// A survey runs after the call: it may not send the caller back into a queue, in its own
    /// flow or in one it goes to.
    fn check_surveys(&self) -> Result<(), ConfigError> {
        for owner in self.flows.values() {
            for node in owner.nodes.values() {
                let NodeKind::Enqueue(Enqueue {
                    survey: Some(survey),
                    ..
                }) = &node.kind
                else {
                    continue;
                };
                let mut seen = HashSet::new();
                let mut todo = vec![survey];
                while let Some(id) = todo.pop() {
                    let Some(flow) = self.flows.get(id).filter(|_| seen.insert(id)) else {
                        continue;
                    };
                    for inner in flow.nodes.values() {
                        match &inner.kind {
                            NodeKind::Goto { flow } => todo.push(flow),
                            NodeKind::Enqueue(_) => {
                                return Err(at(
                                    flow,
                                    Some(inner),
                                    "kind",
                                    format!(
                                        "a survey cannot enqueue: flow {:?} is the survey of \
                                         node {:?} in {}",
                                        survey.as_str(),
                                        node.id.as_str(),
                                        owner.file.display()
                                    ),
                                ))
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Every `enqueue` must name a provisioned queue.
    pub fn check_queues(&self, queues: &HashSet<QueueId>) -> Result<(), ConfigError> {
        for flow in self.flows.values() {
            for node in flow.nodes.values() {
                if let NodeKind::Enqueue(e) = &node.kind {
                    if !queues.contains(&e.queue) {
                        let mut known: Vec<&str> = queues.iter().map(QueueId::as_str).collect();
                        known.sort_unstable();
                        return Err(at(
                            flow,
                            Some(node),
                            "queue",
                            format!(
                                "queue {:?} is not provisioned (the queues are {})",
                                e.queue.as_str(),
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn flows(&self) -> impl Iterator<Item = &Flow> {
        self.flows.values()
    }

    pub fn get(&self, id: &FlowId) -> Option<&Flow> {
        self.flows.get(id)
    }

    /// The flow a call parked with this entry point runs.
    pub fn for_entry_point(&self, entry: &str) -> Option<&Flow> {
        self.entry_points
            .get(entry)
            .and_then(|id| self.flows.get(id))
    }

    fn ids(&self) -> Vec<&str> {
        self.flows.keys().map(FlowId::as_str).collect()
    }

    fn check_reachable(&self, flow: &Flow) -> Result<(), ConfigError> {
        let mut seen = HashSet::from([flow.start.clone()]);
        let mut todo = vec![flow.start.clone()];
        while let Some(id) = todo.pop() {
            let Some(node) = flow.nodes.get(&id) else {
                continue;
            };
            for (_, target) in node.kind.branches() {
                if let Target::Node(next) = target {
                    if seen.insert(next.clone()) {
                        todo.push(next);
                    }
                }
            }
        }
        match flow.nodes.values().find(|n| !seen.contains(&n.id)) {
            Some(node) => Err(at(
                flow,
                Some(node),
                "",
                format!(
                    "node {:?} is never reached from the start node {:?}",
                    node.id.as_str(),
                    flow.start.as_str()
                ),
            )),
            None => Ok(()),
        }
    }

    /// A cycle of nodes none of which waits for the caller would spin forever (or replay a
    /// prompt forever) without the caller being able to leave: refused.
    fn check_loops(&self) -> Result<(), ConfigError> {
        type Key = (FlowId, NodeId);
        let mut next: HashMap<Key, Vec<Key>> = HashMap::new();
        for flow in self.flows.values() {
            for node in flow.nodes.values() {
                if node.kind.waits_for_caller() {
                    continue;
                }
                let targets = node
                    .kind
                    .branches()
                    .into_iter()
                    .filter_map(|(_, target)| match target {
                        Target::Node(id) => Some((flow.id.clone(), id)),
                        Target::Flow(f) => self.flows.get(&f).map(|g| (f, g.start.clone())),
                    })
                    .filter(|(f, n)| {
                        self.flows
                            .get(f)
                            .and_then(|g| g.nodes.get(n))
                            .is_some_and(|n| !n.kind.waits_for_caller())
                    })
                    .collect();
                next.insert((flow.id.clone(), node.id.clone()), targets);
            }
        }
        // Depth-first search for a back edge; `path` is the current chain.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        let mut marks: HashMap<Key, Mark> = HashMap::new();
        let mut keys: Vec<&Key> = next.keys().collect();
        keys.sort();
        for root in keys {
            if marks.contains_key(root) {
                continue;
            }
            let mut path: Vec<(Key, usize)> = vec![(root.clone(), 0)];
            marks.insert(root.clone(), Mark::Open);
            while let Some((key, index)) = path.last().cloned() {
                let successors = next.get(&key).map_or(&[][..], Vec::as_slice);
                match successors.get(index) {
                    None => {
                        marks.insert(key, Mark::Done);
                        path.pop();
                    }
                    Some(succ) => {
                        if let Some(last) = path.last_mut() {
                            last.1 += 1;
                        }
                        match marks.get(succ) {
                            Some(Mark::Done) => {}
                            Some(Mark::Open) => {
                                let from = path.iter().position(|(k, _)| k == succ).unwrap_or(0);
                                let home = &succ.0;
                                let mut names: Vec<String> = path[from..]
                                    .iter()
                                    .map(|((f, n), _)| describe(home, f, n))
                                    .collect();
                                names.push(describe(home, &succ.0, &succ.1));
                                let flow = &self.flows[&succ.0];
                                return Err(at(flow, flow.nodes.get(&succ.1), "", format!(
                                    "nodes {} loop without waiting for the caller; put a menu or collect in the loop, or leave it",
                                    names.join(" → ")
                                )));
                            }
                            None => {
                                marks.insert(succ.clone(), Mark::Open);
                                path.push((succ.clone(), 0));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `node`, or `flow:node` when the loop leaves the flow it started in.
fn describe(home: &FlowId, flow: &FlowId, node: &NodeId) -> String {
    if flow == home {
        node.to_string()
    } else {
        format!("{}:{node}", flow.as_str())
    }
}

/// An error about a flow, on a node's line when it is about a node.
fn at(flow: &Flow, node: Option<&Node>, field: &str, message: String) -> ConfigError {
    let key = match (node, field) {
        (Some(n), "") => format!("node.{}", n.id),
        (Some(n), f) => format!("node.{}.{f}", n.id),
        (None, f) => f.to_owned(),
    };
    ConfigError {
        file: flow.file.clone(),
        line: node.map(|n| n.line),
        key,
        message,
    }
}

fn unreadable(path: &Path, e: std::io::Error) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        line: None,
        key: String::new(),
        message: format!("cannot read flows: {e}"),
    }
}

/// Every `*.toml` in `dir` (not recursing), sorted.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
        let file = entry.map_err(|e| unreadable(dir, e))?.path();
        if file.extension().is_some_and(|x| x == "toml") {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

fn load_files(files: Vec<PathBuf>) -> Result<FlowSet, ConfigError> {
    let mut flows = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| unreadable(&file, e))?;
        flows.push(parse_flow(&text, &file)?);
    }
    FlowSet::new(flows)
}

#[cfg(test)]
mod tests;
