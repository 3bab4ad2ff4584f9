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
    let secs = us.div_euclid(1_000_000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let Some(year) = u32::try_from(year).ok().filter(|y| *y <= 9999) else {
        return from_micros(us).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    };
    let second_of_day = secs.rem_euclid(86_400) as u32;
    // chrono's formatter goes through `fmt` and grows its string, and its calendar fields are
    // decoded from its own representation: a list page has ~400 times, ~6 % of its
    // instructions. The date comes from the day count and only the digits are placed here.
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, second_of_day / 3600);
    put(14, 2, second_of_day / 60 % 60);
    put(17, 2, second_of_day % 60);
    String::from_utf8(out.to_vec())
        .unwrap_or_else(|_| from_micros(us).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The proleptic Gregorian (year, month, day) of `days` since 1970-01-01: the calendar repeats
/// every 400 years (146,097 days); counted from 1 March, leap days fall at a year's end.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let from_march_0000 = days + 719_468;
    let era = from_march_0000.div_euclid(146_097);
    let day_of_era = from_march_0000.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    (era * 400 + year_of_era + i64::from(month <= 2), month, day)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_chronos_text_for_every_kind_of_time() {
        let chrono_text =
            |us: i64| from_micros(us).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut times = vec![
            0,
            -1,
            1_000_000,
            951_782_400_000_000,     // 2000-02-29
            1_796_601_599_999_999,   // 2026-12-06T23:59:59.999999
            253_402_300_799_000_000, // 9999-12-31T23:59:59
            253_402_300_800_000_000, // 10000-01-01: past four digits
            -62_135_596_800_000_000, // 0001-01-01
            -62_198_755_200_000_000, // year 0 (1 BC)
            -62_198_755_200_000_001, // before year 0
        ];
        // A spread of times, leap days and month ends included, and every day of the 400-year
        // cycle around now at a varying time of day.
        times.extend((0..20_000).map(|i: i64| i * 86_399_999_937 + 12_345));
        times.extend(
            (-146_097..146_097)
                .map(|d: i64| d * 86_400_000_000 + d.abs() * 997_000_001 % 86_400_000_000),
        );
        for us in times {
            assert_eq!(rfc3339(us), chrono_text(us), "{us}");
        }
        assert_eq!(rfc3339(1_796_601_599_999_999), "2026-12-06T23:59:59Z");
    }
}
