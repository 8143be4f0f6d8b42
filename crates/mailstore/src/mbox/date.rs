//! date - the asctime(3) date of an mbox `From ` line, in UTC.

use std::time::{SystemTime, UNIX_EPOCH};

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// asctime_utc - `t` as asctime(3) writes it, without the newline:
/// `Thu Nov  4 18:22:48 1986` (day of month padded with a space).
///
/// Times before 1970 are written as the epoch: an mbox arrival date never
/// is one, and the format has no use for them.
pub(crate) fn asctime_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_date(days);
    // 1970-01-01 was a Thursday.
    let weekday = usize::try_from((days + 4) % 7).unwrap_or(0);
    let month_name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        WEEKDAYS.get(weekday).copied().unwrap_or("Thu"),
        month_name,
        day,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        year
    )
}

/// civil_date - (year, month 1..=12, day 1..=31) of the day `days` after
/// 1970-01-01 in the proleptic Gregorian calendar.
///
/// Counts in 400-year cycles (146097 days, a whole number of weeks and
/// leap days) of years that start on March 1, so that the leap day is the
/// last day of a year and months have a regular 153-days-per-5 pattern.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Days from 0000-03-01 to 1970-01-01.
    let since_0000_03 = days + 719_468;
    let cycle = since_0000_03 / 146_097;
    let day_of_cycle = since_0000_03 % 146_097;
    // Year of the cycle: drop the leap days before this day (one per 4
    // years, minus one per 100, plus one per 400).
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    // Months from March: 31 30 31 30 31 | 31 30 31 30 31 | 31 28/29.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = cycle * 400 + year_of_cycle + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_asctime() {
        // Checked with `date -u -d @SECS '+%a %b %e %T %Y'`.
        let cases: &[(u64, &str)] = &[
            (0, "Thu Jan  1 00:00:00 1970"),
            (951_782_400, "Tue Feb 29 00:00:00 2000"),
            (951_868_799, "Tue Feb 29 23:59:59 2000"),
            (1_709_251_199, "Thu Feb 29 23:59:59 2024"),
            (1_735_689_600, "Wed Jan  1 00:00:00 2025"),
            (4_107_456_000, "Sun Feb 28 00:00:00 2100"),
            (4_107_542_400, "Mon Mar  1 00:00:00 2100"),
            (1_234_567_890, "Fri Feb 13 23:31:30 2009"),
        ];
        for &(secs, want) in cases {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(asctime_utc(t), want, "{secs}");
        }
    }

    #[test]
    fn before_epoch_is_epoch() {
        let t = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(asctime_utc(t), "Thu Jan  1 00:00:00 1970");
    }
}
