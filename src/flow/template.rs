//! Text with `{{variable}}` holes, filled from what the caller entered or the CRM returned.
//!
//! Parsed once when a flow loads, so a typo (`{{acount}` with one brace) is a load error, not a
//! caller hearing a prompt with braces in it.

use std::collections::HashMap;
use std::fmt;

/// Variables every call has, besides the ones its flow sets.
pub const BUILT_IN: [&str; 5] = [
    "caller_number",
    "caller_name",
    "destination_number",
    "entry_point",
    "call_id",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Variable(String),
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(format!("{text:?} opens \"{{{{\" without closing it"));
            };
            let name = after[..close].trim();
            check_variable_name(name)?;
            parts.push(Part::Variable(name.to_owned()));
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("{text:?} closes \"}}}}\" without opening it"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The text when there are no holes.
    pub fn as_literal(&self) -> Option<String> {
        self.variables().next().is_none().then(|| self.to_string())
    }

    /// The text before the first hole (all of it when there is none).
    pub fn fixed_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Text(t)) => t,
            _ => "",
        }
    }

    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Fills the holes; an unset variable is empty. `escape` is applied to each value (URL
    /// encoding for a URL, JSON escaping for a body).
    pub fn render(
        &self,
        vars: &HashMap<String, String>,
        escape: impl Fn(&str) -> String,
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Variable(v) => out.push_str(&escape(vars.get(v).map_or("", String::as_str))),
            }
        }
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Variable(v) => write!(f, "{{{{{v}}}}}")?,
            }
        }
        Ok(())
    }
}

/// The `scheme://host[:port]` a URL goes to: everything up to the first `/`, `\\`, `?` or `#`
/// after `://` (`\\` because URL parsers read it as `/` in http URLs). A flow's `http` node
/// must have the whole of it before its first `{{variable}}`, and the rendered URL must go to
/// the same one, so a variable can fill the path and query but never extend the host
/// (`http://crm.example.com{{x}}` with `x = ".attacker.example"`).
pub fn url_origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '\\', '?', '#'])
        .map_or(url.len(), |i| start + i);
    &url[..end]
}

/// Variable names: a letter, then letters, digits and `_`, at most 64 — they become channel
/// variables on the agent's leg and JSON keys in screen-pops.
pub fn check_variable_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a variable name (a letter, then letters, digits or '_', at most 64)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_origin_ends_at_the_first_path_query_or_fragment_character() {
        assert_eq!(
            url_origin("https://crm.example.com/a?b"),
            "https://crm.example.com"
        );
        assert_eq!(url_origin("http://crm:8080?x=1"), "http://crm:8080");
        assert_eq!(
            url_origin("https://crm.example.com"),
            "https://crm.example.com"
        );
        assert_eq!(
            url_origin("https://crm.example.com\\@evil/"),
            "https://crm.example.com"
        );
        assert_eq!(
            url_origin("http://crm.example.com{{caller_name}}/x"),
            "http://crm.example.com{{caller_name}}"
        );
        let t = Template::parse("https://crm/x/{{a}}/{{b}}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.fixed_prefix(), "https://crm/x/");
    }

    #[test]
    fn holes_are_filled_and_unset_variables_are_empty() {
        let t = Template::parse("https://crm/lookup?n={{caller_number}}&a={{ account }}!")
            .unwrap_or_else(|e| panic!("{e}"));
        let vars = HashMap::from([("caller_number".to_owned(), "+49 30".to_owned())]);
        assert_eq!(
            t.render(&vars, |v| v.replace(' ', "%20")),
            "https://crm/lookup?n=+49%2030&a=!"
        );
        assert_eq!(
            t.variables().collect::<Vec<_>>(),
            ["caller_number", "account"]
        );
        assert_eq!(
            t.to_string(),
            "https://crm/lookup?n={{caller_number}}&a={{account}}!"
        );
    }

    #[test]
    fn unbalanced_braces_and_bad_names_are_refused() {
        assert!(Template::parse("{{account").is_err());
        assert!(Template::parse("account}}").is_err());
        assert!(Template::parse("{{1st}}").is_err());
        assert!(Template::parse("{{a-b}}").is_err());
        assert_eq!(
            Template::parse("plain")
                .ok()
                .and_then(|t| t.as_literal())
                .as_deref(),
            Some("plain")
        );
    }
}
