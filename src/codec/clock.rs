//! UTC calendar arithmetic for the three date formats the SDK reads:
//!
//! - ISO 8601, a policy's `expiration` and a listed asset's `created_at`:
//!   `2025-09-05T13:41:24Z` (fractions allowed);
//! - the compact `x-amz-date` of a signed form: `20250905T133124Z`;
//! - the HTTP date of a `Retry-After` header: `Sat, 05 Sep 2026 13:31:24 GMT`.
//!
//! Times are whole seconds since the Unix epoch, in UTC. The day/civil conversion is the
//! well-known proleptic Gregorian algorithm over 400-year eras.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
#[cfg(test)]
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Seconds since the epoch for `t`; times before 1970 count as the epoch.
pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The `SystemTime` at `secs` seconds after the epoch, for times this crate computes
/// itself; parsed dates go through [`checked_from_unix_seconds`].
#[cfg(test)]
pub(crate) fn from_unix_seconds(secs: u64) -> SystemTime {
    checked_from_unix_seconds(secs).unwrap_or(UNIX_EPOCH)
}

/// The `SystemTime` at `secs` seconds after the epoch, if the platform can hold it (a year
/// such as 99999 in a hostile date must not panic).
fn checked_from_unix_seconds(secs: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    weekday: usize,
}

#[cfg(test)]
fn parts(t: SystemTime) -> Parts {
    let secs = unix_seconds(t);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        weekday: (days % 7) as usize,
    }
}

/// `2025-09-05T13:41:24Z`
#[cfg(test)]
pub(crate) fn format_iso8601(t: SystemTime) -> String {
    let p = parts(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        p.year, p.month, p.day, p.hour, p.minute, p.second
    )
}

/// `20250905T133124Z`
#[cfg(test)]
pub(crate) fn format_amz_date(t: SystemTime) -> String {
    let p = parts(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        p.year, p.month, p.day, p.hour, p.minute, p.second
    )
}

/// `Sat, 05 Sep 2026 13:31:24 GMT`
#[cfg(test)]
pub(crate) fn format_http_date(t: SystemTime) -> String {
    let p = parts(t);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[p.weekday],
        p.day,
        MONTHS[(p.month - 1) as usize],
        p.year,
        p.hour,
        p.minute,
        p.second
    )
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn from_fields(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<SystemTime> {
    // A leap second (60) is clamped, as most parsers do.
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    if civil_from_days(days) != (i64::from(year), month, day) || days < 0 {
        return None; // 31 February and friends, or before the epoch
    }
    let secs = days as u64 * 86_400
        + u64::from(hour) * 3600
        + u64::from(minute) * 60
        + u64::from(second.min(59));
    checked_from_unix_seconds(secs)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC only, as in S3 policies).
pub(crate) fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))?;
    let (date, time) = s.split_once(['T', 't'])?;
    let mut d = date.split('-');
    let (year, month, day) = (number(d.next()?)?, number(d.next()?)?, number(d.next()?)?);
    if d.next().is_some() {
        return None;
    }
    let time = match time.split_once('.') {
        Some((whole, fraction)) => {
            number(fraction)?;
            whole
        }
        None => time,
    };
    let mut t = time.split(':');
    let (hour, minute, second) = (number(t.next()?)?, number(t.next()?)?, number(t.next()?)?);
    if t.next().is_some() {
        return None;
    }
    from_fields(year, month, day, hour, minute, second)
}

/// Parses the compact `YYYYMMDDTHHMMSSZ` of `x-amz-date`.
pub(crate) fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let field = |range: std::ops::Range<usize>| s.get(range).and_then(number);
    from_fields(
        field(0..4)?,
        field(4..6)?,
        field(6..8)?,
        field(9..11)?,
        field(11..13)?,
        field(13..15)?,
    )
}

/// Parses the IMF-fixdate of HTTP, `Sun, 06 Nov 1994 08:49:37 GMT`. The weekday is not
/// checked against the date.
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    let (_weekday, rest) = s.trim().split_once(", ")?;
    let mut parts = rest.split(' ');
    let day = number(parts.next()?)?;
    let month = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let year = number(parts.next()?)?;
    let mut time = parts.next()?.split(':');
    let (hour, minute, second) = (
        number(time.next()?)?,
        number(time.next()?)?,
        number(time.next()?)?,
    );
    if parts.next()? != "GMT" || parts.next().is_some() || time.next().is_some() {
        return None;
    }
    from_fields(year, month, day, hour, minute, second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_docs_example() {
        // x-amz-date 20250905T133124Z of the Storyblok docs' example.
        let t = parse_amz_date("20250905T133124Z").expect("valid");
        assert_eq!(unix_seconds(t), 1_757_079_084);
        assert_eq!(format_amz_date(t), "20250905T133124Z");
        assert_eq!(format_iso8601(t), "2025-09-05T13:31:24Z");
        assert_eq!(format_http_date(t), "Fri, 05 Sep 2025 13:31:24 GMT");
    }

    #[test]
    fn parses_iso8601_with_and_without_fraction() {
        let a = parse_iso8601("2025-09-05T13:41:24Z").expect("valid");
        let b = parse_iso8601("2025-09-05T13:41:24.000Z").expect("valid");
        assert_eq!(a, b);
        assert_eq!(unix_seconds(a), 1_757_079_684);
    }

    #[test]
    fn round_trips_across_leap_years_and_centuries() {
        for secs in [
            0u64,
            951_782_400,   // 2000-02-29
            4_107_542_399, // 2100-02-28T23:59:59
            4_107_542_400, // 2100-03-01 (2100 is no leap year)
            253_402_300_799,
        ] {
            let t = from_unix_seconds(secs);
            assert_eq!(parse_iso8601(&format_iso8601(t)), Some(t), "{secs}");
            assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t), "{secs}");
        }
        assert_eq!(
            format_iso8601(from_unix_seconds(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            format_http_date(from_unix_seconds(0)),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn parses_http_dates() {
        let t = parse_http_date("Fri, 05 Sep 2025 13:31:24 GMT").expect("valid");
        assert_eq!(unix_seconds(t), 1_757_079_084);
        assert_eq!(parse_http_date(&format_http_date(t)), Some(t));
        for bad in [
            "",
            "Fri 05 Sep 2025 13:31:24 GMT",
            "Fri, 05 Sept 2025 13:31:24 GMT",
            "Fri, 05 Sep 2025 13:31:24 UTC",
            "Fri, 31 Feb 2025 13:31:24 GMT",
            "Fri, 05 Sep 2025 13:31 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2025-09-05",
            "2025-09-05T13:41:24",
            "2025-02-30T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-09-05T24:00:00Z",
            "2025-09-05T13:41:24+01:00",
            "+2025-09-05T13:41:24Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
        for bad in ["", "20250905133124Z", "20250905T133124", "2025090XT133124Z"] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
