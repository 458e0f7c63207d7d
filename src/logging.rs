//! How the binary logs: to standard error, `info` for our own crate (`warn` for the others)
//! unless `RUST_LOG` says otherwise, colour only on a terminal, as text or as one JSON object
//! per line (`--log-format json`).
//!
//! The JSON lines are written by [`JsonFormat`] here rather than by `tracing-subscriber`'s
//! `json` feature, whose `tracing-serde` dependency is not part of the build.

use std::fmt;
use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// What the log looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (coloured when standard error is a terminal).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`, the event's other
    /// fields under `fields` and the enclosing spans under `spans`.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("{other:?} is not a log format: use text or json")),
        }
    }
}

/// The filter when `RUST_LOG` is unset or empty: our crate at `default_level`, everything else
/// at `warn`.
pub fn default_directives(default_level: &str) -> String {
    format!("warn,switchboard={default_level}")
}

/// The filter: `RUST_LOG` when it is set, not empty and valid, else [`default_directives`].
/// A `RUST_LOG` that does not parse is reported on standard error rather than silencing
/// everything.
pub fn filter(rust_log: Option<&str>, default_level: &str) -> EnvFilter {
    let fallback = || EnvFilter::new(default_directives(default_level));
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => fallback(),
        Some(directives) => EnvFilter::try_new(directives).unwrap_or_else(|e| {
            eprintln!(
                "switchboard: RUST_LOG={directives:?} is not a log filter ({e}); \
                 logging {}",
                default_directives(default_level)
            );
            fallback()
        }),
    }
}

/// Whether to colour the text log: only when standard error is a terminal, and never with
/// `NO_COLOR` set (<https://no-color.org>).
pub fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the process's logger on standard error. `default_level` is our crate's level
/// when `RUST_LOG` is unset (`info` for `serve`).
pub fn init(format: LogFormat, default_level: &str) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), default_level);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(colour_stderr()).init(),
        LogFormat::Json => builder.with_ansi(false).event_format(JsonFormat).init(),
    }
}

/// Formats each event as one JSON object on one line.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFormat;

impl<S, N> FormatEvent<S, N> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = JsonFields::default();
        event.record(&mut fields);

        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(jiff::Timestamp::now().to_string()),
        );
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("target".into(), Value::String(meta.target().to_owned()));
        line.insert(
            "message".into(),
            Value::String(fields.message.unwrap_or_default()),
        );
        if !fields.fields.is_empty() {
            line.insert("fields".into(), Value::Object(fields.fields));
        }
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<Value> = scope
                .from_root()
                .map(|span| {
                    let mut entry = Map::new();
                    entry.insert("name".into(), Value::String(span.name().to_owned()));
                    let extensions = span.extensions();
                    if let Some(text) = extensions.get::<FormattedFields<N>>() {
                        if !text.is_empty() {
                            entry.insert("fields".into(), Value::String(text.to_string()));
                        }
                    }
                    Value::Object(entry)
                })
                .collect();
            if !spans.is_empty() {
                line.insert("spans".into(), Value::Array(spans));
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON values; `message` apart.
#[derive(Default)]
struct JsonFields {
    message: Option<String>,
    fields: Map<String, Value>,
}

impl JsonFields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.0.lock() {
                Ok(mut b) => b.extend_from_slice(buf),
                Err(poisoned) => poisoned.into_inner().extend_from_slice(buf),
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            let bytes = match self.0.lock() {
                Ok(b) => b.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            };
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    #[test]
    fn json_lines_carry_level_target_message_fields_and_spans() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("info"))
            .with_writer(buffer.clone())
            .with_ansi(false)
            .event_format(JsonFormat)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("call", id = "c-1");
            let _entered = span.enter();
            tracing::warn!(queue = "support", waiting = 3_u64, "queue is \"busy\"\nnow");
            tracing::debug!("filtered out");
        });
        let text = buffer.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "queue is \"busy\"\nnow");
        assert_eq!(line["fields"]["queue"], "support");
        assert_eq!(line["fields"]["waiting"], 3);
        assert_eq!(line["spans"][0]["name"], "call");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(!text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn without_rust_log_our_crate_logs_at_the_default_level() {
        assert_eq!(default_directives("info"), "warn,switchboard=info");
        for unset in [None, Some(""), Some("  ")] {
            let f = filter(unset, "info");
            assert_eq!(
                f.to_string(),
                EnvFilter::new("warn,switchboard=info").to_string()
            );
        }
        let f = filter(Some("debug"), "info");
        assert_eq!(f.to_string(), "debug");
        let f = filter(Some("switchboard=[[bad"), "info");
        assert_eq!(
            f.to_string(),
            EnvFilter::new("warn,switchboard=info").to_string()
        );
    }

    #[test]
    fn log_formats_are_text_and_json() {
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert!("yaml".parse::<LogFormat>().is_err());
    }
}
