//! `[stats]`: what supervisors' numbers are measured against.
//!
//! ```toml
//! [stats]
//! time_zone = "Europe/Paris"   # "today" is the local day here, reports' days too (UTC)
//! window = "15m"               # the live rolling window (15m)
//! short_abandon = "5s"         # callers who hang up sooner are short abandons (5s)
//! service_level_percent = 80   # the default target: 80 % answered within 20 s
//! service_level_within = "20s"
//! ```
//!
//! A queue's `[queue.thresholds] service_level` overrides the target for that queue.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::{shown, ConfigError, Source};
use super::values::{positive_bounded, HumanDuration};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsConfig {
    /// A tz database name; checked at parse time.
    pub time_zone: String,
    pub window: Duration,
    pub short_abandon: Duration,
    pub service_level_percent: u8,
    pub service_level_within: Duration,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            time_zone: "UTC".to_owned(),
            window: Duration::from_secs(15 * 60),
            short_abandon: Duration::from_secs(5),
            service_level_percent: 80,
            service_level_within: Duration::from_secs(20),
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStats {
    time_zone: Option<Spanned<String>>,
    window: Option<Spanned<HumanDuration>>,
    short_abandon: Option<Spanned<HumanDuration>>,
    service_level_percent: Option<Spanned<i64>>,
    service_level_within: Option<Spanned<HumanDuration>>,
}

impl RawStats {
    pub(super) fn resolve(self, src: &Source<'_>) -> Result<StatsConfig, ConfigError> {
        let mut out = StatsConfig::default();
        if let Some(tz) = self.time_zone {
            if jiff::tz::TimeZone::get(tz.get_ref()).is_err() {
                return Err(src.error_at(
                    Some(tz.span()),
                    "stats.time_zone",
                    format!(
                        "{} is not a time zone of the tz database (like \"Europe/Paris\" or \"UTC\")",
                        shown(tz.get_ref())
                    ),
                ));
            }
            out.time_zone = tz.into_inner();
        }
        if let Some(d) = self.window {
            out.window = positive_bounded(src, "stats.window".to_owned(), d)?;
        }
        if let Some(d) = self.short_abandon {
            out.short_abandon = positive_bounded(src, "stats.short_abandon".to_owned(), d)?;
        }
        if let Some(d) = self.service_level_within {
            out.service_level_within = positive_bounded(src, "stats.within".to_owned(), d)?;
        }
        if let Some(p) = self.service_level_percent {
            let value = *p.get_ref();
            out.service_level_percent = u8::try_from(value)
                .ok()
                .filter(|v| (1..=100).contains(v))
                .ok_or_else(|| {
                    src.error_at(
                        Some(p.span()),
                        "stats.service_level_percent",
                        format!("{value} is not a percentage from 1 to 100"),
                    )
                })?;
        }
        Ok(out)
    }
}
