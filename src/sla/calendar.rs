//! Business-hours calendars (pure): weekly opening hours in a time zone, minus holidays.
//! `add` and `between` count business time only, so SLA budgets skip nights and weekends.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How far ahead `add` looks for business hours before giving up (a calendar that is open
/// at least once a year always answers well within this).
const HORIZON_DAYS: i64 = 3 * 366;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One opening period within a day, local time; `end == None` means midnight at day's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// Opening time.
    pub start: NaiveTime,
    /// Closing time, `None` for 24:00.
    pub end: Option<NaiveTime>,
}

/// A business-hours calendar.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    tz: Tz,
    week: [Vec<Period>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// Why a calendar definition was refused, per field.
pub type Problems = BTreeMap<&'static str, Vec<String>>;

impl Calendar {
    /// Builds a calendar from its stored/API form: a time-zone name, `{"mon": ["09:00-17:00"], …}`
    /// and ISO dates; every problem is reported, keyed by field.
    pub fn parse(
        timezone: &str,
        hours: &BTreeMap<String, Vec<String>>,
        holidays: &[String],
    ) -> Result<Calendar, Problems> {
        let mut problems = Problems::new();
        let tz: Option<Tz> = timezone.trim().parse().ok();
        if tz.is_none() {
            problems
                .entry("timezone")
                .or_default()
                .push("must be an IANA time zone such as Europe/Berlin".into());
        }
        let mut week: [Vec<Period>; 7] = Default::default();
        for (day, ranges) in hours {
            let Some(i) = DAYS.iter().position(|d| *d == day.trim().to_lowercase()) else {
                problems.entry("hours").or_default().push(format!(
                    "unknown day {day:?}: use mon, tue, wed, thu, fri, sat, sun"
                ));
                continue;
            };
            for r in ranges {
                match parse_period(r) {
                    Some(p) => week[i].push(p),
                    None => problems.entry("hours").or_default().push(format!(
                        "{day}: {r:?} is not a range like 09:00-17:00 (end after start, 24:00 allowed)"
                    )),
                }
            }
            week[i].sort_by_key(|p| p.start);
            let overlapping = week[i]
                .windows(2)
                .any(|w| w[0].end.is_none_or(|end| end > w[1].start));
            if overlapping {
                problems
                    .entry("hours")
                    .or_default()
                    .push(format!("{day}: periods overlap"));
            }
        }
        if week.iter().all(Vec::is_empty) && !problems.contains_key("hours") {
            problems
                .entry("hours")
                .or_default()
                .push("must open on at least one day".into());
        }
        let mut days = BTreeSet::new();
        for h in holidays {
            match NaiveDate::parse_from_str(h.trim(), "%Y-%m-%d") {
                Ok(d) => {
                    days.insert(d);
                }
                Err(_) => problems
                    .entry("holidays")
                    .or_default()
                    .push(format!("{h:?} is not a date like 2026-12-25")),
            }
        }
        match (tz, problems.is_empty()) {
            (Some(tz), true) => Ok(Calendar {
                tz,
                week,
                holidays: days,
            }),
            _ => Err(problems),
        }
    }

    /// The instant when `budget` microseconds of business time have passed since `start`.
    pub fn add(&self, start: i64, budget: i64) -> i64 {
        if budget <= 0 {
            return start;
        }
        let mut left = budget;
        let first = self.local_date(start);
        for offset in -1..HORIZON_DAYS {
            let date = first + Duration::days(offset);
            for (s, e) in self.intervals(date) {
                if e <= start {
                    continue;
                }
                let from = s.max(start);
                if e - from >= left {
                    return from + left;
                }
                left -= e - from;
            }
        }
        // Only reachable when holidays cover years on end: fall back to wall-clock time.
        start + budget
    }

    /// Business time in microseconds between `from` and `to` (0 when `to <= from`).
    pub fn between(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        let (first, last) = (self.local_date(from), self.local_date(to));
        let mut total = 0;
        let mut date = first - Duration::days(1);
        while date <= last + Duration::days(1) {
            for (s, e) in self.intervals(date) {
                let (a, b) = (s.max(from), e.min(to));
                if b > a {
                    total += b - a;
                }
            }
            date += Duration::days(1);
        }
        total
    }

    /// True when `at` falls inside opening hours.
    pub fn is_open(&self, at: i64) -> bool {
        self.between(at, at + 1) == 1
    }

    fn local_date(&self, at: i64) -> NaiveDate {
        crate::clock::from_micros(at)
            .with_timezone(&self.tz)
            .date_naive()
    }

    /// Opening periods of one local date as UTC microsecond ranges.
    fn intervals(&self, date: NaiveDate) -> Vec<(i64, i64)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let periods = &self.week[date.weekday().num_days_from_monday() as usize];
        periods
            .iter()
            .map(|p| {
                let s = self.instant(date, p.start);
                let e = match p.end {
                    Some(end) => self.instant(date, end),
                    None => self.instant(date + Duration::days(1), NaiveTime::MIN),
                };
                (s, e.max(s))
            })
            .collect()
    }

    /// A local wall-clock time as UTC microseconds. In a DST gap the wall clock jumps, so the
    /// first valid moment after it is used; in an overlap, the earlier reading.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> i64 {
        let mut naive = date.and_time(time);
        for _ in 0..(4 * 24) {
            match self.tz.from_local_datetime(&naive) {
                LocalResult::Single(t) => return t.with_timezone(&Utc).timestamp_micros(),
                LocalResult::Ambiguous(a, _) => return a.with_timezone(&Utc).timestamp_micros(),
                LocalResult::None => naive += Duration::minutes(15),
            }
        }
        Utc.from_utc_datetime(&date.and_time(time))
            .timestamp_micros()
    }
}

fn parse_period(raw: &str) -> Option<Period> {
    let (a, b) = raw.trim().split_once('-')?;
    let start = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
    let end = match b.trim() {
        "24:00" => None,
        other => Some(NaiveTime::parse_from_str(other, "%H:%M").ok()?),
    };
    match end {
        Some(e) if e <= start => None,
        _ => Some(Period { start, end }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;
    const M: i64 = 60_000_000;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_micros()
    }

    fn cal(tz: &str, hours: &[(&str, &[&str])], holidays: &[&str]) -> Calendar {
        let hours = hours
            .iter()
            .map(|(d, r)| (d.to_string(), r.iter().map(|s| s.to_string()).collect()))
            .collect();
        let holidays: Vec<String> = holidays.iter().map(|s| s.to_string()).collect();
        Calendar::parse(tz, &hours, &holidays).unwrap()
    }

    fn office(tz: &str, holidays: &[&str]) -> Calendar {
        let day: &[&str] = &["09:00-17:00"];
        cal(
            tz,
            &[
                ("mon", day),
                ("tue", day),
                ("wed", day),
                ("thu", day),
                ("fri", day),
            ],
            holidays,
        )
    }

    #[test]
    fn budget_within_one_day() {
        let c = office("UTC", &[]);
        // Wednesday 2026-11-18 10:00 + 4 h = 14:00.
        assert_eq!(
            c.add(at("2026-11-18T10:00:00Z"), 4 * H),
            at("2026-11-18T14:00:00Z")
        );
    }

    #[test]
    fn night_is_skipped() {
        let c = office("UTC", &[]);
        // Wed 15:00 + 4 h: 2 h today, 2 h tomorrow from 09:00.
        assert_eq!(
            c.add(at("2026-11-18T15:00:00Z"), 4 * H),
            at("2026-11-19T11:00:00Z")
        );
        // Landing exactly on closing time stays on that day.
        assert_eq!(
            c.add(at("2026-11-18T15:00:00Z"), 2 * H),
            at("2026-11-18T17:00:00Z")
        );
    }

    #[test]
    fn weekend_is_skipped() {
        let c = office("UTC", &[]);
        // Friday 2026-11-20 16:00 + 2 h = Monday 10:00.
        assert_eq!(
            c.add(at("2026-11-20T16:00:00Z"), 2 * H),
            at("2026-11-23T10:00:00Z")
        );
        // Started on Saturday: the clock starts Monday 09:00.
        assert_eq!(
            c.add(at("2026-11-21T12:00:00Z"), 30 * M),
            at("2026-11-23T09:30:00Z")
        );
        assert_eq!(
            c.between(at("2026-11-20T16:00:00Z"), at("2026-11-23T10:00:00Z")),
            2 * H
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let c = office("UTC", &["2026-12-24", "2026-12-25"]);
        // Wednesday 2026-12-23 16:00 + 3 h: 1 h Wed, Thu+Fri holidays, 2 h Monday 28th.
        assert_eq!(
            c.add(at("2026-12-23T16:00:00Z"), 3 * H),
            at("2026-12-28T11:00:00Z")
        );
    }

    #[test]
    fn time_zone_hours_are_local() {
        let c = office("America/New_York", &[]);
        // 09:00 in New York in November (EST, UTC-5) is 14:00 UTC.
        assert_eq!(
            c.add(at("2026-11-18T12:00:00Z"), H),
            at("2026-11-18T15:00:00Z")
        );
    }

    #[test]
    fn dst_change_keeps_local_opening_hours() {
        let c = office("Europe/Berlin", &[]);
        // Berlin leaves DST on Sunday 2026-10-25. Friday 23rd 16:00 CEST (14:00Z) + 2 h:
        // 1 h Friday, then Monday 09:00 CET = 08:00Z, + 1 h.
        assert_eq!(
            c.add(at("2026-10-23T14:00:00Z"), 2 * H),
            at("2026-10-26T09:00:00Z")
        );
        // A 24/7 calendar across the spring change: the lost hour is not counted twice.
        let all: &[&str] = &["00:00-24:00"];
        let always = cal(
            "Europe/Berlin",
            &[
                ("mon", all),
                ("tue", all),
                ("wed", all),
                ("thu", all),
                ("fri", all),
                ("sat", all),
                ("sun", all),
            ],
            &[],
        );
        let from = at("2026-03-28T12:00:00Z");
        assert_eq!(always.add(from, 24 * H), from + 24 * H);
        assert_eq!(always.between(from, from + 48 * H), 48 * H);
    }

    #[test]
    fn opening_inside_a_dst_gap_starts_after_it() {
        // A shift opening at 02:30 local on the spring-forward night (02:00→03:00 in Berlin).
        let c = cal("Europe/Berlin", &[("sun", &["02:30-04:00"])], &[]);
        // Sunday 2026-03-29: 03:00 CEST = 01:00Z; the shift runs to 04:00 CEST = 02:00Z.
        assert_eq!(
            c.between(at("2026-03-28T00:00:00Z"), at("2026-03-30T00:00:00Z")),
            H
        );
    }

    #[test]
    fn pause_spanning_nights_counts_only_open_hours() {
        let c = office("UTC", &[]);
        // Paused Mon 16:00 until Wed 10:00: 1 h Mon + 8 h Tue + 1 h Wed.
        assert_eq!(
            c.between(at("2026-11-16T16:00:00Z"), at("2026-11-18T10:00:00Z")),
            10 * H
        );
        assert_eq!(
            c.between(at("2026-11-18T10:00:00Z"), at("2026-11-16T16:00:00Z")),
            0
        );
        assert!(c.is_open(at("2026-11-18T10:00:00Z")));
        assert!(!c.is_open(at("2026-11-18T17:00:00Z")));
        assert!(!c.is_open(at("2026-11-21T10:00:00Z")));
    }

    #[test]
    fn split_days_and_add_between_agree() {
        let c = cal(
            "Asia/Tokyo",
            &[("mon", &["09:00-12:00", "13:00-18:00"])],
            &[],
        );
        let start = at("2026-11-16T00:30:00+09:00");
        for hours in [1, 3, 4, 8, 9, 17] {
            let end = c.add(start, hours * H);
            assert_eq!(c.between(start, end), hours * H, "{hours} h");
        }
        // 3 h of morning, lunch skipped.
        assert_eq!(c.add(start, 4 * H), at("2026-11-16T14:00:00+09:00"));
    }

    #[test]
    fn bad_definitions_name_every_problem() {
        let mut hours = BTreeMap::new();
        hours.insert("funday".to_string(), vec!["09:00-17:00".to_string()]);
        hours.insert("mon".to_string(), vec!["17:00-09:00".to_string()]);
        hours.insert(
            "tue".to_string(),
            vec!["09:00-13:00".to_string(), "12:00-15:00".to_string()],
        );
        let e = Calendar::parse("Mars/Olympus", &hours, &["25.12.2026".to_string()]).unwrap_err();
        assert!(e.contains_key("timezone"));
        assert_eq!(e["hours"].len(), 3, "{e:?}");
        assert!(e.contains_key("holidays"));
        let none = Calendar::parse("UTC", &BTreeMap::new(), &[]).unwrap_err();
        assert!(none["hours"][0].contains("at least one day"));
    }
}
