//! Business hours: weekly opening times in a time zone, holidays, and dates with their own hours.
//!
//! Evaluated in the schedule's own zone (with its daylight-saving rules, from the bundled time
//! zone database), so a call center in Berlin opens at 08:00 Berlin time whatever the server's
//! clock zone is.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

use crate::engine::Timestamp;

#[derive(Debug, Clone)]
pub struct Schedule {
    pub zone_name: String,
    zone: TimeZone,
    weekly: Vec<WeeklyHours>,
    closed: Vec<DateRule>,
    special: Vec<(Date, Hours)>,
}

/// Opening hours on a set of weekdays.
#[derive(Debug, Clone)]
struct WeeklyHours {
    days: [bool; 7],
    hours: Hours,
}

/// From `start` (included) to `end` (excluded) on one day, minutes after midnight.
#[derive(Debug, Clone, Copy)]
struct Hours {
    start: u16,
    end: u16,
}

impl Hours {
    fn contains(self, time: Time) -> bool {
        let minute = u16::try_from(time.hour()).unwrap_or(0) * 60
            + u16::try_from(time.minute()).unwrap_or(0);
        (self.start..self.end).contains(&minute)
    }
}

/// A closed date: one day, or the same day every year.
#[derive(Debug, Clone, Copy)]
enum DateRule {
    Once(Date),
    Yearly { month: i8, day: i8 },
}

impl DateRule {
    fn matches(self, date: Date) -> bool {
        match self {
            DateRule::Once(d) => d == date,
            DateRule::Yearly { month, day } => date.month() == month && date.day() == day,
        }
    }
}

impl Schedule {
    /// `open`: `"mon-fri 08:00-18:00"`; `closed`: `"2026-12-25"` or `"12-25"` (every year);
    /// `special`: `"2026-12-24 09:00-12:00"` (those hours that day, holiday or not). Each error
    /// names the entry at fault.
    pub fn parse(
        zone_name: &str,
        open: &[String],
        closed: &[String],
        special: &[String],
    ) -> Result<Schedule, (ScheduleField, usize, String)> {
        let zone = TimeZone::get(zone_name).map_err(|_| {
            (
                ScheduleField::Zone,
                0,
                format!(
                    "{zone_name:?} is not a time zone of the tz database, like \"Europe/Berlin\""
                ),
            )
        })?;
        let weekly = open
            .iter()
            .enumerate()
            .map(|(i, s)| parse_weekly(s).map_err(|e| (ScheduleField::Open, i, e)))
            .collect::<Result<_, _>>()?;
        let closed = closed
            .iter()
            .enumerate()
            .map(|(i, s)| parse_date_rule(s).map_err(|e| (ScheduleField::Closed, i, e)))
            .collect::<Result<_, _>>()?;
        let special = special
            .iter()
            .enumerate()
            .map(|(i, s)| parse_special(s).map_err(|e| (ScheduleField::Special, i, e)))
            .collect::<Result<_, _>>()?;
        Ok(Schedule {
            zone_name: zone_name.to_owned(),
            zone,
            weekly,
            closed,
            special,
        })
    }

    pub fn is_open(&self, at: Timestamp) -> bool {
        let Ok(instant) = jiff::Timestamp::from_millisecond(at.as_millis()) else {
            return false;
        };
        let local = instant.to_zoned(self.zone.clone()).datetime();
        let (date, time) = (local.date(), local.time());
        let special: Vec<Hours> = self
            .special
            .iter()
            .filter(|(d, _)| *d == date)
            .map(|(_, h)| *h)
            .collect();
        if !special.is_empty() {
            return special.iter().any(|h| h.contains(time));
        }
        if self.closed.iter().any(|rule| rule.matches(date)) {
            return false;
        }
        let day = weekday_index(date.weekday());
        self.weekly
            .iter()
            .any(|w| w.days[day] && w.hours.contains(time))
    }
}

/// Which list of a schedule an error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleField {
    Zone,
    Open,
    Closed,
    Special,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday_index(day: Weekday) -> usize {
    usize::try_from(day.to_monday_zero_offset()).unwrap_or(0)
}

fn parse_weekly(text: &str) -> Result<WeeklyHours, String> {
    let usage = "like \"mon-fri 08:00-18:00\" or \"sat,sun 10:00-14:00\"";
    let Some((days_text, hours_text)) = text.trim().split_once(' ') else {
        return Err(format!("{text:?} is not weekdays and hours {usage}"));
    };
    let mut days = [false; 7];
    for part in days_text.split(',') {
        let day = |name: &str| {
            DAYS.iter()
                .position(|d| d.eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("{name:?} is not a weekday (mon, tue, … sun) in {text:?}"))
        };
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                let mut d = from;
                loop {
                    days[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day(part)?] = true,
        }
    }
    let hours = parse_hours(hours_text.trim()).map_err(|e| format!("{e} in {text:?} ({usage})"))?;
    Ok(WeeklyHours { days, hours })
}

fn parse_hours(text: &str) -> Result<Hours, String> {
    let Some((from, to)) = text.split_once('-') else {
        return Err(format!("{text:?} is not hours like 08:00-18:00"));
    };
    let minute = |t: &str| -> Result<u16, String> {
        let bad = || format!("{t:?} is not a time like 08:30");
        let (h, m) = t.split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 || h > 24 || (h == 24 && m > 0) || t.len() != 5 {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    let (start, end) = (minute(from)?, minute(to)?);
    if end <= start {
        return Err(format!("{text:?} ends before it starts"));
    }
    Ok(Hours { start, end })
}

fn parse_date_rule(text: &str) -> Result<DateRule, String> {
    if let Ok(date) = text.parse::<Date>() {
        return Ok(DateRule::Once(date));
    }
    let yearly = text.split_once('-').and_then(|(m, d)| {
        let (month, day) = (m.parse::<i8>().ok()?, d.parse::<i8>().ok()?);
        // 2024 is a leap year: 02-29 is a valid yearly date.
        Date::new(2024, month, day).ok()?;
        (m.len() == 2 && d.len() == 2).then_some(DateRule::Yearly { month, day })
    });
    yearly.ok_or_else(|| {
        format!("{text:?} is not a date like \"2026-12-25\" or, every year, \"12-25\"")
    })
}

fn parse_special(text: &str) -> Result<(Date, Hours), String> {
    let usage = "like \"2026-12-24 09:00-12:00\"";
    let (date, hours) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("{text:?} is not a date and hours {usage}"))?;
    let date = date
        .parse::<Date>()
        .map_err(|_| format!("{date:?} is not a date {usage}"))?;
    Ok((date, parse_hours(hours.trim())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zoned: &str) -> Timestamp {
        let ts = zoned
            .parse::<jiff::Zoned>()
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or_else(|e| panic!("{zoned}: {e}"));
        Timestamp::from_millis(ts)
    }

    fn berlin() -> Schedule {
        Schedule::parse(
            "Europe/Berlin",
            &["mon-fri 08:00-18:00".into(), "sat 09:00-13:00".into()],
            &["12-25".into(), "2026-12-31".into()],
            &["2026-12-24 09:00-12:00".into()],
        )
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn opening_hours_are_read_in_the_schedules_own_time_zone() {
        let s = berlin();
        // Monday 2026-11-23, 07:30 UTC is 08:30 in Berlin.
        assert!(s.is_open(at("2026-11-23T07:30:00+00:00[UTC]")));
        assert!(!s.is_open(at("2026-11-23T06:30:00+00:00[UTC]")));
        assert!(!s.is_open(at("2026-11-23T18:00:00+01:00[Europe/Berlin]")));
        assert!(
            s.is_open(at("2026-11-28T12:59:00+01:00[Europe/Berlin]")),
            "saturday"
        );
        assert!(
            !s.is_open(at("2026-11-29T10:00:00+01:00[Europe/Berlin]")),
            "sunday"
        );
        // Summer time: 08:00 in Berlin is 06:00 UTC.
        assert!(s.is_open(at("2026-07-06T06:00:00+00:00[UTC]")));
    }

    #[test]
    fn holidays_close_and_special_dates_replace_the_weekly_hours() {
        let s = berlin();
        assert!(
            !s.is_open(at("2026-12-25T10:00:00+01:00[Europe/Berlin]")),
            "every 25 Dec"
        );
        assert!(!s.is_open(at("2027-12-25T10:00:00+01:00[Europe/Berlin]")));
        assert!(!s.is_open(at("2026-12-31T10:00:00+01:00[Europe/Berlin]")));
        assert!(
            s.is_open(at("2027-12-31T10:00:00+01:00[Europe/Berlin]")),
            "only 2026"
        );
        assert!(s.is_open(at("2026-12-24T11:00:00+01:00[Europe/Berlin]")));
        assert!(
            !s.is_open(at("2026-12-24T13:00:00+01:00[Europe/Berlin]")),
            "closes at noon"
        );
    }

    #[test]
    fn wrong_zones_days_hours_and_dates_say_which_entry() {
        let err = |open: &str, closed: &str| {
            Schedule::parse("Europe/Berlin", &[open.into()], &[closed.into()], &[]).err()
        };
        assert!(matches!(
            Schedule::parse("Mars/Olympus", &[], &[], &[]),
            Err((ScheduleField::Zone, 0, _))
        ));
        assert!(
            matches!(err("mon-fry 08:00-18:00", "12-25"), Some((ScheduleField::Open, 0, m)) if m.contains("fry"))
        );
        assert!(
            matches!(err("mon 18:00-08:00", "12-25"), Some((ScheduleField::Open, 0, m)) if m.contains("ends before"))
        );
        assert!(matches!(
            err("mon 8:00-18:00", "12-25"),
            Some((ScheduleField::Open, 0, _))
        ));
        assert!(matches!(
            err("mon 08:00-18:00", "13-45"),
            Some((ScheduleField::Closed, 0, _))
        ));
        assert!(
            err("fri-mon 00:00-24:00", "02-29").is_none(),
            "wraps the week; leap day"
        );
    }
}
