//! Where a config problem is: the file, the line and the dotted key, found from byte spans.

use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A problem in a config or provisioning file, located for the person who has to fix it.
///
/// Displays as `switchboard.toml:12: switch[1].esl: "localhost" is not host:port`.
#[derive(Debug, Error, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; `None` when the problem is not on one line (a missing section, an unreadable file).
    pub line: Option<usize>,
    /// Dotted path of the offending key, with array-of-tables indices (`switch[1].esl`); empty
    /// when the problem is the whole file.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The largest config, provisioning or flow file read: far above any real file, small enough
/// that a wrong path (`/dev/zero`, a log file) cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How many characters of a rejected value an error message repeats.
const SHOWN_CHARS: usize = 64;

/// The longest message an error carries; longer ones are cut with `…`.
const MAX_MESSAGE_CHARS: usize = 512;

/// Reads a whole text file of at most [`MAX_FILE_BYTES`]; `what` names it in errors ("the
/// config file"). A larger file, a device that never ends or text that is not UTF-8 is an
/// error naming the file.
pub fn read_capped(path: &Path, what: &str) -> Result<String, ConfigError> {
    let fail = |message: String| ConfigError {
        file: path.to_path_buf(),
        line: None,
        key: String::new(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "{what} is larger than {} MiB; is this the right file?",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "{what} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A rejected value as an error message repeats it: quoted and escaped like `{:?}`, and cut
/// after 64 characters with `…`, so a huge value does not make a huge message.
pub fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{:?}", format!("{}…", &value[..cut])),
        None => format!("{value:?}"),
    }
}

/// A message cut to [`MAX_MESSAGE_CHARS`]: the backstop for values echoed by code that does
/// not use [`shown`] (ids, the TOML parser).
fn clipped(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

/// The source text of one file, kept to turn byte spans into lines and keys.
pub(crate) struct Source<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl Source<'_> {
    /// An error at a known key, located by the span of its key or value.
    pub(crate) fn error_at(
        &self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: span.map(|s| line_of(self.text, s.start)),
            key: key.into(),
            message: clipped(message.into()),
        }
    }

    /// An error that is about the file as a whole, or a section that is missing.
    pub(crate) fn error_without_line(
        &self,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        self.error_at(None, key, message)
    }

    /// A syntax or type error from the TOML deserializer: its span gives the line, and the key
    /// is recovered from the document around that span.
    pub(crate) fn toml_error(&self, err: &toml::de::Error) -> ConfigError {
        // Syntax errors come on several lines ("invalid table header\nexpected `.`, `]]`").
        let message = err
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        // Some parse errors come without a message (a `key =` cut short at the end of the
        // file): say what the parser stopped at instead of nothing.
        let message = if message.is_empty() {
            match err.span() {
                Some(span) if span.start >= self.text.trim_end().len() => {
                    "the file ends where a value was expected: finish the line, e.g. `key = \"value\"`"
                        .to_owned()
                }
                _ => "invalid TOML here: expected `key = value`, a `[table]` or a `#` comment"
                    .to_owned(),
            }
        } else {
            clipped(message)
        };
        match err.span() {
            Some(span) => ConfigError {
                file: self.file.to_path_buf(),
                line: Some(line_of(self.text, span.start)),
                key: key_at(self.text, span.start),
                message,
            },
            None => self.error_without_line("", message),
        }
    }
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The dotted key whose key or value is at `offset`, such as `switch[1].esl`.
///
/// A line-oriented reading of the document, enough for config files as people write them: table
/// headers set the prefix (`[[x]]` counts entries), and the key is what precedes `=` on the line
/// of the offset, or on the nearest line above it (a multi-line array).
pub(crate) fn key_at(text: &str, offset: usize) -> String {
    let target = line_of(text, offset);
    let mut table = String::new();
    let mut array_counts: Vec<(String, usize)> = Vec::new();
    let mut last_key: Option<String> = None;

    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if index + 1 > target {
            break;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("[[") {
            let Some(name) = header_name(name, "]]") else {
                table.clear();
                last_key = None;
                continue;
            };
            let name = within_arrays(&name, &array_counts);
            let count = match array_counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => {
                    *count += 1;
                    *count
                }
                None => {
                    array_counts.push((name.clone(), 0));
                    0
                }
            };
            table = format!("{name}[{count}]");
            last_key = None;
        } else if let Some(name) = line.strip_prefix('[') {
            table = header_name(name, "]")
                .map(|name| within_arrays(&name, &array_counts))
                .unwrap_or_default();
            last_key = None;
        } else if let Some((lhs, _)) = line.split_once('=') {
            last_key = Some(unquote(lhs));
        }
    }

    match last_key {
        Some(key) if table.is_empty() => key,
        Some(key) => format!("{table}.{key}"),
        None => table,
    }
}

/// A header's dotted name with the current index of every enclosing array of tables:
/// `queue.step` after the second `[[queue]]` is `queue[1].step`.
fn within_arrays(name: &str, array_counts: &[(String, usize)]) -> String {
    let mut resolved = String::new();
    let mut segments = name.split('.').peekable();
    while let Some(segment) = segments.next() {
        if !resolved.is_empty() {
            resolved.push('.');
        }
        resolved.push_str(segment);
        if segments.peek().is_some() {
            if let Some((_, count)) = array_counts.iter().find(|(n, _)| *n == resolved) {
                resolved = format!("{resolved}[{count}]");
            }
        }
    }
    resolved
}

/// The table name in a header line (after its opening brackets), if the header is well formed.
fn header_name(rest: &str, close: &str) -> Option<String> {
    let (name, _) = rest.split_once(close)?;
    let name = unquote(name);
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (!name.is_empty() && name.chars().all(plain)).then_some(name)
}

fn unquote(key: &str) -> String {
    key.trim()
        .split('.')
        .map(|part| part.trim().trim_matches('"').trim_matches('\''))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
top = 1
[http]
listen = \"x\"

[[switch]]
name = \"a\"
[[switch]]
name = \"b\"
esl = \"localhost\"
list = [
  \"one\",
  \"two\",
]
";

    #[test]
    fn key_at_names_array_entries_by_index() {
        let offset = DOC.find("\"localhost\"").unwrap_or(0);
        assert_eq!(key_at(DOC, offset), "switch[1].esl");
        assert_eq!(line_of(DOC, offset), 9);
    }

    #[test]
    fn key_at_handles_top_level_tables_and_multiline_values() {
        assert_eq!(key_at(DOC, 0), "top");
        assert_eq!(key_at(DOC, DOC.find("listen").unwrap_or(0)), "http.listen");
        assert_eq!(
            key_at(DOC, DOC.find("\"two\"").unwrap_or(0)),
            "switch[1].list"
        );
        assert_eq!(
            key_at(DOC, DOC.find("[[switch]]").unwrap_or(0)),
            "switch[0]"
        );
    }

    #[test]
    fn nested_arrays_of_tables_are_counted_within_their_parent() {
        let doc = "[[queue]]\nid = \"a\"\n[[queue.step]]\nafter = \"0s\"\n\
                   [[queue]]\nid = \"b\"\n[[queue.step]]\nafter = \"0s\"\n\
                   [[queue.step]]\nafter = \"bad\"\n";
        let offset = doc.find("\"bad\"").unwrap_or(0);
        assert_eq!(key_at(doc, offset), "queue[1].step[1].after");
        assert_eq!(
            key_at(doc, doc.find("id = \"b\"").unwrap_or(0)),
            "queue[1].id"
        );
    }

    #[test]
    fn a_broken_header_gives_no_key_rather_than_a_wrong_one() {
        assert_eq!(key_at("[[switch]\nname = 1\n", 0), "");
        assert_eq!(key_at("[[switch]\nname = 1\n", 11), "name");
    }

    #[test]
    fn display_has_file_line_key_and_message() {
        let err = ConfigError {
            file: PathBuf::from("switchboard.toml"),
            line: Some(12),
            key: "switch[1].esl".into(),
            message: "\"localhost\" is not host:port".into(),
        };
        assert_eq!(
            err.to_string(),
            "switchboard.toml:12: switch[1].esl: \"localhost\" is not host:port"
        );
    }
}
