//! Flows drawn for people: Graphviz dot, Mermaid (renders in GitHub and most wikis), and a
//! self-contained SVG laid out here, so a supervisor needs no tool to see what callers go
//! through.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;

use super::model::{Flow, Node, NodeId, NodeKind, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dot,
    Mermaid,
    Svg,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "dot" => Some(Format::Dot),
            "mermaid" => Some(Format::Mermaid),
            "svg" => Some(Format::Svg),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Dot => "text/vnd.graphviz",
            Format::Mermaid => "text/plain; charset=utf-8",
            Format::Svg => "image/svg+xml",
        }
    }
}

pub fn render(flow: &Flow, format: Format) -> String {
    match format {
        Format::Dot => dot(flow),
        Format::Mermaid => mermaid(flow),
        Format::Svg => svg(flow),
    }
}

fn title(node: &Node) -> String {
    format!("{} ({})", node.id, node.kind.name())
}

/// The edges of the drawing: from, label, to (a node id, or `flow:<id>` for a goto).
fn edges(flow: &Flow) -> Vec<(NodeId, String, String)> {
    let mut out = Vec::new();
    for node in flow.nodes.values() {
        for (label, target) in node.kind.branches() {
            let to = match target {
                Target::Node(id) => id.to_string(),
                Target::Flow(f) => format!("flow:{}", f.as_str()),
            };
            out.push((node.id.clone(), label, to));
        }
    }
    out
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot(flow: &Flow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(flow.id.as_str()));
    let _ = writeln!(out, "  label=\"{}\";", dot_escape(&flow.name));
    out.push_str("  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    let _ = writeln!(
        out,
        "  \"start\" [shape=circle, label=\"\", width=0.2, style=filled];"
    );
    let _ = writeln!(
        out,
        "  \"start\" -> \"{}\";",
        dot_escape(flow.start.as_str())
    );
    for node in flow.nodes.values() {
        let shape = match node.kind {
            NodeKind::Menu(_) | NodeKind::Condition { .. } | NodeKind::Schedule { .. } => "diamond",
            NodeKind::Enqueue(_)
            | NodeKind::Transfer { .. }
            | NodeKind::Voicemail { .. }
            | NodeKind::Hangup { .. }
            | NodeKind::Goto { .. } => "doubleoctagon",
            _ => "box",
        };
        let _ = writeln!(
            out,
            "  \"{}\" [shape={shape}, label=\"{}\\n{}\"];",
            dot_escape(node.id.as_str()),
            dot_escape(&title(node)),
            dot_escape(&node.summary())
        );
    }
    let mut external = Vec::new();
    for (from, label, to) in edges(flow) {
        if to.starts_with("flow:") && !external.contains(&to) {
            external.push(to.clone());
        }
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"];",
            dot_escape(from.as_str()),
            dot_escape(&to),
            dot_escape(&label)
        );
    }
    for to in external {
        let _ = writeln!(
            out,
            "  \"{}\" [shape=note, label=\"{}\"];",
            dot_escape(&to),
            dot_escape(&to.replacen("flow:", "flow ", 1))
        );
    }
    out.push_str("}\n");
    out
}

/// Mermaid ids allow letters, digits and `_`: node names may also hold `-`.
fn mermaid_id(name: &str) -> String {
    let mut id = String::from("n_");
    for c in name.chars() {
        id.push(if c.is_ascii_alphanumeric() { c } else { '_' });
    }
    id
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

fn mermaid(flow: &Flow) -> String {
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(
        out,
        "  start((\" \")) --> {}",
        mermaid_id(flow.start.as_str())
    );
    for node in flow.nodes.values() {
        let text = format!(
            "{}<br/>{}",
            mermaid_text(&title(node)),
            mermaid_text(&node.summary())
        );
        let id = mermaid_id(node.id.as_str());
        let _ = match node.kind {
            NodeKind::Menu(_) | NodeKind::Condition { .. } | NodeKind::Schedule { .. } => {
                writeln!(out, "  {id}{{\"{text}\"}}")
            }
            _ => writeln!(out, "  {id}[\"{text}\"]"),
        };
    }
    for (from, label, to) in edges(flow) {
        let target = match to.strip_prefix("flow:") {
            Some(f) => format!("flow_{}[/\"flow {}\"/]", mermaid_id(f), mermaid_text(f)),
            None => mermaid_id(&to),
        };
        let _ = writeln!(
            out,
            "  {} -->|\"{}\"| {target}",
            mermaid_id(from.as_str()),
            mermaid_text(&label)
        );
    }
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Clips text to what fits a box.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

const BOX_W: i64 = 220;
const BOX_H: i64 = 48;
const GAP_X: i64 = 40;
const GAP_Y: i64 = 70;
const MARGIN: i64 = 30;

/// Layered layout: a node's row is its distance from the start (breadth first), nodes keep
/// their order of discovery in a row; edges pointing down are straight, others curve around.
fn svg(flow: &Flow) -> String {
    let mut rank: HashMap<String, usize> = HashMap::new();
    let mut rows: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut queue = VecDeque::from([(flow.start.to_string(), 0)]);
    let all_edges = edges(flow);
    while let Some((id, r)) = queue.pop_front() {
        if rank.contains_key(&id) {
            continue;
        }
        rank.insert(id.clone(), r);
        rows.entry(r).or_default().push(id.clone());
        for (from, _, to) in &all_edges {
            if from.as_str() == id && !rank.contains_key(to) {
                queue.push_back((to.clone(), r + 1));
            }
        }
    }
    let widest = rows.values().map(Vec::len).max().unwrap_or(1) as i64;
    let width = MARGIN * 2 + widest * BOX_W + (widest - 1) * GAP_X;
    let height = MARGIN * 2 + rows.len() as i64 * (BOX_H + GAP_Y);
    let mut place: HashMap<&str, (i64, i64)> = HashMap::new();
    for (r, ids) in &rows {
        let row_width = ids.len() as i64 * BOX_W + (ids.len() as i64 - 1) * GAP_X;
        let left = (width - row_width) / 2;
        for (i, id) in ids.iter().enumerate() {
            let x = left + i as i64 * (BOX_W + GAP_X);
            let y = MARGIN + 20 + *r as i64 * (BOX_H + GAP_Y);
            place.insert(id.as_str(), (x, y));
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">",
        height + 20,
        height + 20
    );
    let _ = writeln!(out, "<title>{}</title>", xml(&flow.name));
    out.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n");
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        MARGIN,
        xml(&flow.name)
    );
    for (from, label, to) in &all_edges {
        let (Some(&(fx, fy)), Some(&(tx, ty))) = (place.get(from.as_str()), place.get(to.as_str()))
        else {
            continue;
        };
        let (x1, y1) = (fx + BOX_W / 2, fy + BOX_H);
        let (x2, y2) = (tx + BOX_W / 2, ty);
        let (path, lx, ly) = if ty > fy {
            (
                format!("M {x1} {y1} L {x2} {y2}"),
                (x1 + x2) / 2,
                (y1 + y2) / 2,
            )
        } else {
            // Back or sideways edge: leave on the right, come round to the target's right.
            let (sx, sy) = (fx + BOX_W, fy + BOX_H / 2);
            let (ex, ey) = (tx + BOX_W, ty + BOX_H / 2);
            let bulge = sx.max(ex) + GAP_X;
            (
                format!("M {sx} {sy} C {bulge} {sy}, {bulge} {ey}, {ex} {ey}"),
                bulge - 10,
                (sy + ey) / 2,
            )
        };
        let _ = writeln!(
            out,
            "<path d=\"{path}\" fill=\"none\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>"
        );
        let _ = writeln!(
            out,
            "<text x=\"{lx}\" y=\"{ly}\" text-anchor=\"middle\" fill=\"#333\" font-size=\"11\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">{}</text>",
            xml(&fit(label, 24))
        );
    }
    for (id, &(x, y)) in &place {
        let (title_text, detail, fill) = match flow.node(&NodeId((*id).to_owned())) {
            Some(node) => (title(node), node.summary(), fill_of(&node.kind)),
            None => (id.replacen("flow:", "→ flow ", 1), String::new(), "#eeeeee"),
        };
        let _ = writeln!(
            out,
            "<g><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"8\" fill=\"{fill}\" stroke=\"#444\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333\">{}</text></g>",
            x + BOX_W / 2,
            y + 19,
            xml(&fit(&title_text, 32)),
            x + BOX_W / 2,
            y + 36,
            xml(&fit(&detail, 34))
        );
    }
    out.push_str("</svg>\n");
    out
}

fn fill_of(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Menu(_) | NodeKind::Collect(_) | NodeKind::Record { .. } => "#dbeafe",
        NodeKind::Schedule { .. } | NodeKind::Condition { .. } | NodeKind::Http(_) => "#fef3c7",
        NodeKind::Enqueue(_) => "#dcfce7",
        NodeKind::Hangup { .. } | NodeKind::Voicemail { .. } | NodeKind::Transfer { .. } => {
            "#fee2e2"
        }
        NodeKind::Play { .. }
        | NodeKind::Set { .. }
        | NodeKind::Goto { .. }
        | NodeKind::Recording { .. } => "#f3f4f6",
    }
}
