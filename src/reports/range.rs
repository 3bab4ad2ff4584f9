//! Report date ranges (whole UTC days) and their day or ISO-week buckets.

use chrono::{NaiveDate, TimeZone, Utc};
use std::collections::BTreeMap;

use crate::error::{Error, Result};

const DAY: i64 = 86_400_000_000;
/// 1970-01-01 was a Thursday; ISO weeks start on Mondays, four days later.
const MONDAY: i64 = 4 * DAY;
/// Longest range a report covers.
const MAX_DAYS: i64 = 366;

/// A half-open range `[from, to)` of whole UTC days, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Start of the first day.
    pub from: i64,
    /// Start of the day after the last.
    pub to: i64,
}

/// Bucket size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// Calendar day (UTC).
    Day,
    /// ISO week, Monday to Sunday (UTC).
    Week,
}

impl Interval {
    /// Parses `day` (default) or `week`.
    pub fn parse(raw: Option<&str>) -> Result<Interval> {
        match raw.map(str::trim).unwrap_or("day") {
            "" | "day" => Ok(Interval::Day),
            "week" => Ok(Interval::Week),
            _ => Err(Error::field("interval", "must be day or week")),
        }
    }

    /// Its name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
        }
    }

    /// `(offset, step)`: buckets start at `offset + k·step` microseconds.
    pub fn grid(self) -> (i64, i64) {
        match self {
            Interval::Day => (0, DAY),
            Interval::Week => (MONDAY, 7 * DAY),
        }
    }

    /// Start of the bucket holding `t`.
    pub fn start_of(self, t: i64) -> i64 {
        match self {
            Interval::Day => t.div_euclid(DAY) * DAY,
            Interval::Week => (t - MONDAY).div_euclid(7 * DAY) * 7 * DAY + MONDAY,
        }
    }
}

/// `YYYY-MM-DD` of the UTC day holding `t`.
pub fn day_label(t: i64) -> String {
    crate::clock::from_micros(t).format("%Y-%m-%d").to_string()
}

fn parse_day(field: &str, raw: &str) -> Result<i64> {
    let d = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| Error::field(field, "must be a date like 2026-11-01"))?;
    Ok(Utc
        .from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .timestamp_micros())
}

impl Range {
    /// The last `days` days up to and including today.
    pub fn last_days(now: i64, days: i64) -> Range {
        let to = now.div_euclid(DAY) * DAY + DAY;
        Range {
            from: to - days * DAY,
            to,
        }
    }

    /// From `from` and `to` (inclusive) query parameters; the last 30 days by default.
    pub fn from_params(p: &BTreeMap<String, String>, now: i64) -> Result<Range> {
        let get = |k: &str| p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        let default = Range::last_days(now, 30);
        let to = match get("to") {
            Some(t) => parse_day("to", t)? + DAY,
            None => default.to,
        };
        let from = match get("from") {
            Some(f) => parse_day("from", f)?,
            None => to - 30 * DAY,
        };
        if from >= to {
            return Err(Error::field("from", "must be on or before `to`"));
        }
        if to - from > MAX_DAYS * DAY {
            return Err(Error::field(
                "from",
                format!("ranges cover at most {MAX_DAYS} days"),
            ));
        }
        Ok(Range { from, to })
    }

    /// First day label.
    pub fn from_label(&self) -> String {
        day_label(self.from)
    }

    /// Last day label (inclusive).
    pub fn to_label(&self) -> String {
        day_label(self.to - DAY)
    }

    /// Start of every bucket touching the range, oldest first.
    pub fn buckets(&self, i: Interval) -> Vec<i64> {
        let step = match i {
            Interval::Day => DAY,
            Interval::Week => 7 * DAY,
        };
        let mut out = Vec::new();
        let mut s = i.start_of(self.from);
        while s < self.to {
            out.push(s);
            s += step;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ranges_days_and_weeks() {
        let now = parse_day("x", "2026-11-21").unwrap() + 5 * 3_600_000_000;
        let r = Range::from_params(&params(&[]), now).unwrap();
        assert_eq!(
            (r.from_label(), r.to_label()),
            ("2026-10-23".into(), "2026-11-21".into())
        );
        let r = Range::from_params(
            &params(&[("from", "2026-11-01"), ("to", "2026-11-14")]),
            now,
        )
        .unwrap();
        assert_eq!(r.buckets(Interval::Day).len(), 14);
        // 2026-11-01 is a Sunday: its ISO week began Monday 2026-10-26.
        let weeks: Vec<String> = r
            .buckets(Interval::Week)
            .into_iter()
            .map(day_label)
            .collect();
        assert_eq!(weeks, vec!["2026-10-26", "2026-11-02", "2026-11-09"]);
        assert!(
            Range::from_params(
                &params(&[("from", "2026-11-05"), ("to", "2026-11-01")]),
                now
            )
            .is_err()
        );
        assert!(
            Range::from_params(
                &params(&[("from", "2020-01-01"), ("to", "2026-11-01")]),
                now
            )
            .is_err()
        );
        assert!(Range::from_params(&params(&[("from", "yesterday")]), now).is_err());
        assert!(Interval::parse(Some("month")).is_err());
    }
}
