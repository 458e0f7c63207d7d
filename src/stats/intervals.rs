//! Periods cut into 15-minute, hourly or daily intervals of a time zone.
//!
//! The store aggregates per 15-minute bucket of UTC (`BUCKET_MS`); every time zone in use has
//! an offset that is a whole number of quarter hours, so each bucket lies inside one local
//! interval and folding buckets into intervals is exact. Days follow the zone's calendar: a
//! day with a DST change has 23 or 25 hours. A call counts in the interval it was offered in.

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Serialize;
use thiserror::Error;

/// The store's bucket: 15 minutes.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IntervalError {
    #[error("{0:?} is not an interval: use 15m, 1h or 1d")]
    UnknownInterval(String),
    #[error("{0:?} is neither an RFC 3339 time (2026-12-07T08:00:00Z) nor a date (2026-12-07)")]
    BadTime(String),
    #[error("the period is empty: `to` must be after `from`")]
    Empty,
    #[error("interval={interval} covers at most {max_days} days; ask for a shorter period or a longer interval")]
    TooLong {
        interval: &'static str,
        max_days: i64,
    },
    #[error("{0:?} is not a time zone of the tz database")]
    UnknownTimeZone(String),
}

/// How long each interval of a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Interval {
    #[serde(rename = "15m")]
    Quarter,
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "1d")]
    Day,
}

impl Interval {
    pub fn parse(s: &str) -> Result<Interval, IntervalError> {
        match s {
            "15m" => Ok(Interval::Quarter),
            "1h" => Ok(Interval::Hour),
            "1d" => Ok(Interval::Day),
            other => Err(IntervalError::UnknownInterval(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Quarter => "15m",
            Interval::Hour => "1h",
            Interval::Day => "1d",
        }
    }

    /// The longest period a report with this interval may cover (a month of quarter hours, a
    /// year of hours, ten years of days).
    pub fn max_days(self) -> i64 {
        match self {
            Interval::Quarter => 31,
            Interval::Hour => 366,
            Interval::Day => 3660,
        }
    }
}

/// Looks a zone up in the bundled tz database.
pub fn time_zone(name: &str) -> Result<TimeZone, IntervalError> {
    TimeZone::get(name).map_err(|_| IntervalError::UnknownTimeZone(name.to_owned()))
}

fn zoned(ms: i64, tz: &TimeZone) -> Option<Zoned> {
    Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_zoned(tz.clone()))
}

/// Unix ms of the local midnight that starts the day `ms` falls in.
pub fn day_start(ms: i64, tz: &TimeZone) -> i64 {
    zoned(ms, tz)
        .and_then(|z| z.start_of_day().ok())
        .map_or(ms - ms.rem_euclid(DAY_MS), |z| {
            z.timestamp().as_millisecond()
        })
}

/// `ms` as a local RFC 3339 time with its offset (`2026-03-29T03:00:00+02:00`).
pub fn local_time(ms: i64, tz: &TimeZone) -> String {
    match zoned(ms, tz) {
        Some(z) => z.timestamp().display_with_offset(z.offset()).to_string(),
        None => ms.to_string(),
    }
}

/// A report's `from` or `to`: an RFC 3339 time, or a local date, which as `from` means its
/// midnight and as `to` the next midnight (the whole day included).
pub fn parse_instant(s: &str, tz: &TimeZone, end: bool) -> Result<i64, IntervalError> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let bad = || IntervalError::BadTime(s.to_owned());
    let date: jiff::civil::Date = s.parse().map_err(|_| bad())?;
    let date = if end {
        date.tomorrow().map_err(|_| bad())?
    } else {
        date
    };
    let start = date
        .to_zoned(tz.clone())
        .and_then(|z| z.start_of_day())
        .map_err(|_| bad())?;
    Ok(start.timestamp().as_millisecond())
}

/// A period `[from, to)` cut into intervals: interval `i` is `[starts[i], starts[i + 1])`,
/// the last one ending at `to`. The first starts at `from` even when `from` is not on the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub to: i64,
    pub starts: Vec<i64>,
}

impl Period {
    /// One interval: the live "today" and rolling window.
    pub fn whole(from: i64, to: i64) -> Period {
        Period {
            from,
            to,
            starts: vec![from],
        }
    }

    pub fn cut(
        tz: &TimeZone,
        from: i64,
        to: i64,
        interval: Interval,
    ) -> Result<Period, IntervalError> {
        if to <= from {
            return Err(IntervalError::Empty);
        }
        if to - from > interval.max_days() * DAY_MS {
            return Err(IntervalError::TooLong {
                interval: interval.as_str(),
                max_days: interval.max_days(),
            });
        }
        let mut starts = vec![from];
        let next = |after: i64| -> Option<i64> {
            match interval {
                Interval::Quarter => Some(after - after.rem_euclid(BUCKET_MS) + BUCKET_MS),
                Interval::Hour => {
                    // The next quarter hour at which the local minute is 0.
                    let mut t = after - after.rem_euclid(BUCKET_MS) + BUCKET_MS;
                    for _ in 0..8 {
                        if zoned(t, tz)?.minute() == 0 {
                            return Some(t);
                        }
                        t += BUCKET_MS;
                    }
                    Some(t)
                }
                Interval::Day => {
                    let z = zoned(after, tz)?;
                    let tomorrow = z.date().tomorrow().ok()?;
                    let start = tomorrow.to_zoned(tz.clone()).ok()?.start_of_day().ok()?;
                    Some(start.timestamp().as_millisecond())
                }
            }
        };
        let mut at = from;
        while let Some(n) = next(at) {
            if n >= to || n <= at {
                break;
            }
            starts.push(n);
            at = n;
        }
        Ok(Period { from, to, starts })
    }

    /// The interval a bucket (or any instant of the period) belongs to.
    pub fn index_of(&self, at: i64) -> usize {
        let at = at.max(self.from);
        self.starts.partition_point(|s| *s <= at).saturating_sub(1)
    }

    /// Where interval `i` ends.
    pub fn end_of(&self, i: usize) -> i64 {
        self.starts.get(i + 1).copied().unwrap_or(self.to)
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> TimeZone {
        time_zone("Europe/Paris").unwrap()
    }

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn a_spring_forward_day_has_23_hours_and_an_autumn_one_25() {
        let tz = paris();
        let spring = Period::cut(
            &tz,
            parse_instant("2026-03-29", &tz, false).unwrap(),
            parse_instant("2026-03-29", &tz, true).unwrap(),
            Interval::Hour,
        )
        .unwrap();
        assert_eq!(spring.len(), 23);
        assert_eq!(spring.to - spring.from, 23 * 3600 * 1000);
        let autumn = Period::cut(
            &tz,
            parse_instant("2026-10-25", &tz, false).unwrap(),
            parse_instant("2026-10-25", &tz, true).unwrap(),
            Interval::Hour,
        )
        .unwrap();
        assert_eq!(autumn.len(), 25);
        let days = Period::cut(
            &tz,
            parse_instant("2026-03-28", &tz, false).unwrap(),
            parse_instant("2026-03-30", &tz, true).unwrap(),
            Interval::Day,
        )
        .unwrap();
        assert_eq!(days.len(), 3);
        assert_eq!(days.end_of(1) - days.starts[1], 23 * 3600 * 1000);
        assert_eq!(local_time(days.starts[2], &tz), "2026-03-30T00:00:00+02:00");
    }

    #[test]
    fn a_local_date_means_the_whole_day_in_the_zone() {
        let tz = paris();
        assert_eq!(
            parse_instant("2026-12-07", &tz, false).unwrap(),
            at("2026-12-06T23:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-12-07", &tz, true).unwrap(),
            at("2026-12-07T23:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-12-07T10:00:00+01:00", &tz, true).unwrap(),
            at("2026-12-07T09:00:00Z")
        );
        assert!(matches!(
            parse_instant("yesterday", &tz, false),
            Err(IntervalError::BadTime(_))
        ));
    }

    #[test]
    fn hours_follow_a_half_hour_offset() {
        let tz = time_zone("Asia/Kolkata").unwrap();
        let p = Period::cut(
            &tz,
            at("2026-12-07T00:00:00Z"),
            at("2026-12-07T03:00:00Z"),
            Interval::Hour,
        )
        .unwrap();
        // 05:30 local; then 06:00, 07:00, 08:00 local.
        assert_eq!(
            p.starts[1..]
                .iter()
                .map(|s| local_time(*s, &tz))
                .collect::<Vec<_>>(),
            [
                "2026-12-07T06:00:00+05:30",
                "2026-12-07T07:00:00+05:30",
                "2026-12-07T08:00:00+05:30"
            ]
        );
    }

    #[test]
    fn a_bucket_belongs_to_the_interval_that_holds_its_start() {
        let tz = TimeZone::UTC;
        let from = at("2026-12-07T00:00:00Z");
        let p = Period::cut(&tz, from, from + 3 * 3600 * 1000, Interval::Hour).unwrap();
        assert_eq!(p.index_of(from), 0);
        assert_eq!(p.index_of(from + 3 * BUCKET_MS), 0);
        assert_eq!(p.index_of(from + 4 * BUCKET_MS), 1);
        assert_eq!(p.index_of(from - BUCKET_MS), 0);
        // A period off the grid: the partial first bucket is in the first interval.
        let q = Period::cut(&tz, from + 60_000, from + 7_200_000, Interval::Quarter).unwrap();
        assert_eq!(q.starts[1], from + BUCKET_MS);
        assert_eq!(q.index_of(from), 0);
    }

    #[test]
    fn too_long_a_period_for_quarter_hours_is_refused() {
        let tz = TimeZone::UTC;
        let from = at("2026-01-01T00:00:00Z");
        let err = Period::cut(&tz, from, from + 40 * DAY_MS, Interval::Quarter).unwrap_err();
        assert!(err
            .to_string()
            .contains("interval=15m covers at most 31 days"));
        assert!(Period::cut(&tz, from, from + 40 * DAY_MS, Interval::Day).is_ok());
        assert_eq!(
            Period::cut(&tz, from, from, Interval::Day),
            Err(IntervalError::Empty)
        );
    }

    #[test]
    fn midnight_in_the_zone_starts_the_day() {
        let tz = paris();
        let now = at("2026-12-07T22:30:00Z"); // 23:30 in Paris
        assert_eq!(day_start(now, &tz), at("2026-12-06T23:00:00Z"));
        let after_midnight = at("2026-12-07T23:05:00Z");
        assert_eq!(day_start(after_midnight, &tz), at("2026-12-07T23:00:00Z"));
    }
}
