//! Counters and latency histograms shared by the edges, rendered in Prometheus text format.
//!
//! Lock-free on the hot path: relaxed atomics only. The few labelled series (HTTP requests by
//! route and status, each switch's link) sit behind a mutex held for one map update; the
//! gauges read at scrape time (queues, agents, the outbox) are in [`gauges`].

pub mod gauges;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Log-spaced buckets, four per power of two, from 1 µs to about 16 s.
const PER_OCTAVE: f64 = 4.0;
const BUCKETS: usize = 100;

fn bucket_of(micros: u64) -> usize {
    if micros <= 1 {
        return 0;
    }
    ((micros as f64).log2() * PER_OCTAVE)
        .ceil()
        .min((BUCKETS - 1) as f64) as usize
}

fn upper_bound_micros(index: usize) -> f64 {
    2f64.powf(index as f64 / PER_OCTAVE)
}

#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn record(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The upper bound of the bucket holding the q-quantile (0.0..=1.0).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        self.sample().quantile(q)
    }

    /// The buckets as they stand now, to compare with a later sample.
    pub fn sample(&self) -> HistogramSample {
        HistogramSample {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
        }
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let le = upper_bound_micros(i) / 1e6;
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count());
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            self.count()
        );
    }
}

/// A histogram's counts at one moment; the difference of two is what was recorded between
/// them (a benchmark's measuring window, leaving out its warm-up).
#[derive(Debug, Clone)]
pub struct HistogramSample {
    buckets: [u64; BUCKETS],
}

impl HistogramSample {
    /// What was recorded after `earlier` up to this sample.
    pub fn since(&self, earlier: &HistogramSample) -> HistogramSample {
        HistogramSample {
            buckets: std::array::from_fn(|i| self.buckets[i].saturating_sub(earlier.buckets[i])),
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound of the bucket holding the q-quantile (0.0..=1.0).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b;
            if seen >= rank {
                return Some(Duration::from_secs_f64(upper_bound_micros(i) / 1e6));
            }
        }
        None
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Event that made a call routable received → the agent leg's originate accepted by the switch.
    pub routing_latency: Histogram,
    /// One turn of the engine task: a batch of inputs, the timers due, the history handed on
    /// and, when due, the read model published. Every routing decision waits behind a turn.
    pub engine_turn: Histogram,
    /// Publishing the read model, part of a turn.
    pub engine_publish: Histogram,
    pub events_received: AtomicU64,
    pub events_malformed: AtomicU64,
    pub commands_sent: AtomicU64,
    pub commands_failed: AtomicU64,
    pub commands_refused_unsafe: AtomicU64,
    pub commands_discarded_on_reconnect: AtomicU64,
    /// Commands not written because this controller's leadership fence was closed.
    pub commands_fenced: AtomicU64,
    pub esl_connects: AtomicU64,
    pub esl_disconnects: AtomicU64,
    pub store_batches: AtomicU64,
    pub store_errors: AtomicU64,
    /// History records the engine has handed to the writer.
    pub history_records_handed: AtomicU64,
    /// History records committed (or given up after retries).
    pub history_records_done: AtomicU64,
    /// HTTP connections turned away at accept because `max_connections` were open.
    pub http_connections_refused: AtomicU64,
    /// HTTP connections closed because a request's head did not arrive in time.
    pub http_header_timeouts: AtomicU64,
    /// HTTP connections closed because no byte moved either way for the idle timeout.
    pub http_idle_timeouts: AtomicU64,
    /// HTTP requests answered, by method, route template (never the raw path, so the series
    /// stay bounded) and status.
    http_requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
    /// Each configured switch's event connection: up (connected and resynced) or down.
    switch_links: Mutex<BTreeMap<String, bool>>,
}

impl Metrics {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one answered request. `route` is the matched route's template (`/v1/calls/{id}`),
    /// or `unmatched` for a path no route has.
    pub fn count_request(&self, method: &'static str, route: &str, status: u16) {
        let mut requests = self
            .http_requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match requests.get_mut(&(method, route.to_owned(), status)) {
            Some(n) => *n += 1,
            None => {
                requests.insert((method, route.to_owned(), status), 1);
            }
        }
    }

    /// Records whether a switch's link is up; a switch is listed (down) from its link's start.
    pub fn set_switch_link(&self, switch: &str, up: bool) {
        self.switch_links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(switch.to_owned(), up);
    }

    /// Each switch whose link has started, and whether it is up.
    pub fn switch_links(&self) -> Vec<(String, bool)> {
        self.switch_links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, up)| (name.clone(), *up))
            .collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_labelled(&mut out);
        self.routing_latency.render(
            "switchboard_routing_latency_seconds",
            "Call routable event received to agent originate accepted.",
            &mut out,
        );
        self.engine_turn.render(
            "switchboard_engine_turn_seconds",
            "One turn of the engine task: inputs, timers, history hand-off, publish.",
            &mut out,
        );
        self.engine_publish.render(
            "switchboard_engine_publish_seconds",
            "Publishing the read model for the API.",
            &mut out,
        );
        for (name, help, c) in [
            (
                "switchboard_esl_events_total",
                "ESL events received.",
                &self.events_received,
            ),
            (
                "switchboard_esl_events_malformed_total",
                "Events of ours missing what we need.",
                &self.events_malformed,
            ),
            (
                "switchboard_esl_commands_total",
                "Commands sent to switches.",
                &self.commands_sent,
            ),
            (
                "switchboard_esl_commands_failed_total",
                "Commands the switch refused.",
                &self.commands_failed,
            ),
            (
                "switchboard_esl_commands_unsafe_total",
                "Commands refused before sending (unsafe values).",
                &self.commands_refused_unsafe,
            ),
            (
                "switchboard_esl_commands_discarded_total",
                "Commands dropped because the connection was lost.",
                &self.commands_discarded_on_reconnect,
            ),
            (
                "switchboard_esl_commands_fenced_total",
                "Commands not sent because this controller is not (or no longer) the leader.",
                &self.commands_fenced,
            ),
            (
                "switchboard_esl_connects_total",
                "ESL sessions established.",
                &self.esl_connects,
            ),
            (
                "switchboard_esl_disconnects_total",
                "ESL sessions lost.",
                &self.esl_disconnects,
            ),
            (
                "switchboard_store_batches_total",
                "History batches written.",
                &self.store_batches,
            ),
            (
                "switchboard_store_errors_total",
                "History batches that failed.",
                &self.store_errors,
            ),
            (
                "switchboard_http_connections_refused_total",
                "HTTP connections closed at accept: the connection limit was reached.",
                &self.http_connections_refused,
            ),
            (
                "switchboard_http_header_timeouts_total",
                "HTTP connections closed: a request head did not arrive within the header timeout.",
                &self.http_header_timeouts,
            ),
            (
                "switchboard_http_idle_timeouts_total",
                "HTTP connections closed: nothing read or written within the idle timeout.",
                &self.http_idle_timeouts,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP switchboard_history_records_waiting History records the engine has handed \
             on and the database has not committed yet.\n\
             # TYPE switchboard_history_records_waiting gauge\n\
             switchboard_history_records_waiting {}",
            self.history_records_waiting()
        );
        out
    }

    /// History records handed to the writer and not yet committed: how far the history
    /// lags behind the calls.
    pub fn history_records_waiting(&self) -> u64 {
        self.history_records_handed
            .load(Ordering::Relaxed)
            .saturating_sub(self.history_records_done.load(Ordering::Relaxed))
    }

    fn render_labelled(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP switchboard_esl_link_up Whether the switch's event connection is up \
             (connected and resynced): 1 up, 0 down.\n# TYPE switchboard_esl_link_up gauge"
        );
        for (switch, up) in self.switch_links() {
            let _ = writeln!(
                out,
                "switchboard_esl_link_up{{switch=\"{}\"}} {}",
                escape_label(&switch),
                u8::from(up)
            );
        }
        let _ = writeln!(
            out,
            "# HELP switchboard_http_requests_total HTTP requests answered, by method, route \
             template and status.\n# TYPE switchboard_http_requests_total counter"
        );
        let requests = self
            .http_requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for ((method, route, status), n) in requests {
            let _ = writeln!(
                out,
                "switchboard_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape_label(&route)
            );
        }
    }
}

/// A label value as the text exposition format wants it: backslash, double quote and line
/// feed escaped.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_upper_bounds_within_a_fifth() {
        let h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5).expect("samples").as_secs_f64() * 1e6;
        assert!((500.0..=500.0 * 1.19 + 1.0).contains(&p50), "p50 {p50}");
        let p99 = h.quantile(0.99).expect("samples").as_secs_f64() * 1e6;
        assert!((990.0..=990.0 * 1.19 + 1.0).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(escape_label("/v1/calls/{id}"), "/v1/calls/{id}");
    }

    #[test]
    fn requests_are_counted_by_route_and_status_and_links_by_switch() {
        let metrics = Metrics::default();
        metrics.count_request("GET", "/v1/calls/{id}", 200);
        metrics.count_request("GET", "/v1/calls/{id}", 200);
        metrics.count_request("GET", "unmatched", 404);
        metrics.set_switch_link("fs\"1", false);
        metrics.set_switch_link("fs2", true);
        let text = metrics.render();
        assert!(text.contains(
            "switchboard_http_requests_total{method=\"GET\",route=\"/v1/calls/{id}\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "switchboard_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n"
        ));
        assert!(text.contains("switchboard_esl_link_up{switch=\"fs\\\"1\"} 0\n"));
        assert!(text.contains("switchboard_esl_link_up{switch=\"fs2\"} 1\n"));
    }
}
