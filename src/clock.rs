//! The clock: wall time plus an offset the test harness can advance, so no code reads time globally.

use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Source of "now" shared through the app state.
#[derive(Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// Current time in microseconds since the Unix epoch.
    pub fn now_micros(&self) -> i64 {
        Utc::now().timestamp_micros() + self.offset_micros.load(Ordering::Relaxed)
    }

    /// Current time.
    pub fn now(&self) -> DateTime<Utc> {
        from_micros(self.now_micros())
    }

    /// Moves the clock forward (tests only use this; production never does).
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_micros.fetch_add(
            by.num_microseconds().unwrap_or(i64::MAX / 4),
            Ordering::Relaxed,
        );
    }
}

/// Converts stored microseconds to a UTC time.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

/// Formats stored microseconds as RFC 3339 (seconds precision, `Z`).
pub fn rfc3339(us: i64) -> String {
    from_micros(us).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 time or a plain `YYYY-MM-DD` date (midnight UTC) into microseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).timestamp_micros());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_micros())
}
