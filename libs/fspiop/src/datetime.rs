//! The time formats of the protocol, as milliseconds since the Unix epoch (UTC):
//! FSPIOP `DateTime` (ISO-8601 with exactly three fractional digits and `Z` or `±HH:MM`),
//! FSPIOP `Date` (`yyyy-MM-dd`), the HTTP `Date` header (IMF-fixdate, RFC 7231) and the
//! 17-digit Interledger timestamp (`YYYYMMDDHHmmssSSS`, UTC).
//!
//! Pure functions: nothing here reads the clock.

const MS_PER_DAY: i64 = 86_400_000;
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // 1970-01-01 was a Thursday
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar date and time of day, UTC unless stated otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

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

impl Civil {
    fn to_millis(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * MS_PER_DAY
            + i64::from(self.hour) * 3_600_000
            + i64::from(self.minute) * 60_000
            + i64::from(self.second) * 1000
            + i64::from(self.milli)
    }

    fn from_millis(ms: i64) -> Civil {
        let days = ms.div_euclid(MS_PER_DAY);
        let rest = ms.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rest / 3_600_000) as u32,
            minute: (rest / 60_000 % 60) as u32,
            second: (rest / 1000 % 60) as u32,
            milli: (rest % 1000) as u32,
        }
    }
}

/// Reads exactly `len` ASCII digits at `at`.
fn digits(bytes: &[u8], at: usize, len: usize) -> Option<u32> {
    let slice = bytes.get(at..at + len)?;
    slice.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn expect(bytes: &[u8], at: usize, want: u8) -> Option<()> {
    (bytes.get(at) == Some(&want)).then_some(())
}

/// Parses `yyyy-MM-dd` (year 1000..9999, a real calendar day); the day's first millisecond.
pub fn parse_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 {
        return None;
    }
    let (year, month, day) = parse_ymd(b)?;
    Some(days_from_civil(year, month, day) * MS_PER_DAY)
}

fn parse_ymd(b: &[u8]) -> Option<(i64, u32, u32)> {
    let year = digits(b, 0, 4)?;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    let year = i64::from(year);
    if year < 1000 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day))
}

/// Parses an FSPIOP `DateTime`: `YYYY-MM-DDTHH:mm:ss.SSS` then `Z` or `±HH:MM` (offset hours
/// 00..19, minutes 00..59), exactly as the API's pattern allows. Returns UTC milliseconds.
pub fn parse_date_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 24 && b.len() != 29 {
        return None;
    }
    let (year, month, day) = parse_ymd(b)?;
    expect(b, 10, b'T')?;
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2)?;
    expect(b, 19, b'.')?;
    let milli = digits(b, 20, 3)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let local = Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
        milli,
    }
    .to_millis();
    match (b.len(), b.get(23)) {
        (24, Some(b'Z')) => Some(local),
        (29, Some(sign @ (b'+' | b'-'))) => {
            let off_hour = digits(b, 24, 2)?;
            expect(b, 26, b':')?;
            let off_minute = digits(b, 27, 2)?;
            if off_hour > 19 || off_minute > 59 {
                return None;
            }
            let offset = i64::from(off_hour * 60 + off_minute) * 60_000;
            Some(if *sign == b'+' {
                local - offset
            } else {
                local + offset
            })
        }
        _ => None,
    }
}

/// Parses ISO-8601 date-times more leniently than [`parse_date_time`], as JavaScript's
/// `Date` does for ILP expiries: the fraction may have 0 to 9 digits (cut to milliseconds);
/// `Z` or `±HH:MM` is still required.
pub fn parse_iso8601_lenient(text: &str) -> Option<i64> {
    let head = text.get(..19)?;
    let rest = text.get(19..)?;
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(after) => {
            let digit_count = after.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=9).contains(&digit_count) {
                return None;
            }
            (after.get(..digit_count)?, after.get(digit_count..)?)
        }
        None => ("", rest),
    };
    let milli: String = fraction.chars().chain("000".chars()).take(3).collect();
    parse_date_time(&format!("{head}.{milli}{zone}"))
}

/// `YYYY-MM-DDTHH:mm:ss.SSSZ`, as JavaScript's `Date.prototype.toISOString` writes it.
pub fn format_date_time(ms: i64) -> String {
    let c = Civil::from_millis(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli
    )
}

/// Parses the HTTP `Date` header strictly as `ddd, DD MMM YYYY HH:mm:ss GMT`; the weekday
/// must agree with the date. Returns UTC milliseconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 29 {
        return None;
    }
    let weekday = text.get(0..3)?;
    expect(b, 3, b',')?;
    expect(b, 4, b' ')?;
    let day = digits(b, 5, 2)?;
    expect(b, 7, b' ')?;
    let month_name = text.get(8..11)?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
    expect(b, 11, b' ')?;
    let year = i64::from(digits(b, 12, 4)?);
    expect(b, 16, b' ')?;
    let hour = digits(b, 17, 2)?;
    expect(b, 19, b':')?;
    let minute = digits(b, 20, 2)?;
    expect(b, 22, b':')?;
    let second = digits(b, 23, 2)?;
    if text.get(25..29)? != " GMT" {
        return None;
    }
    if year < 1000
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if WEEKDAYS.get(days.rem_euclid(7) as usize) != Some(&weekday) {
        return None;
    }
    Some(
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            milli: 0,
        }
        .to_millis(),
    )
}

/// `Tue, 15 Nov 1994 08:12:31 GMT` (milliseconds are dropped).
pub fn format_http_date(ms: i64) -> String {
    let c = Civil::from_millis(ms);
    let days = ms.div_euclid(MS_PER_DAY);
    let weekday = WEEKDAYS
        .get(days.rem_euclid(7) as usize)
        .copied()
        .unwrap_or("Thu");
    let month = MONTHS.get(c.month as usize - 1).copied().unwrap_or("Jan");
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        c.day, c.year, c.hour, c.minute, c.second
    )
}

/// The 17-character Interledger timestamp `YYYYMMDDHHmmssSSS` (UTC), for years 0..9999.
pub fn format_ilp_timestamp(ms: i64) -> Option<String> {
    let c = Civil::from_millis(ms);
    (0..=9999).contains(&c.year).then(|| {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}{:03}",
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli
        )
    })
}

/// Parses a 17-character Interledger timestamp.
pub fn parse_ilp_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let year = i64::from(digits(b, 0, 4)?);
    let month = digits(b, 4, 2)?;
    let day = digits(b, 6, 2)?;
    let hour = digits(b, 8, 2)?;
    let minute = digits(b, 10, 2)?;
    let second = digits(b, 12, 2)?;
    let milli = digits(b, 14, 3)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            milli,
        }
        .to_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_round_trip_and_offsets() {
        let ms = parse_date_time("2016-05-24T08:38:08.699-04:00");
        assert_eq!(
            ms.map(format_date_time).as_deref(),
            Some("2016-05-24T12:38:08.699Z")
        );
        assert_eq!(parse_date_time("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_date_time("2030-01-01T02:00:00.000+02:00"),
            parse_date_time("2030-01-01T00:00:00.000Z")
        );
        assert!(parse_date_time("2024-02-29T00:00:00.000Z").is_some());
        assert!(parse_date_time("2000-02-29T00:00:00.000Z").is_some());
    }

    #[test]
    fn date_time_rejections() {
        for bad in [
            "2023-02-29T00:00:00.000Z",  // not a leap year
            "1900-02-29T00:00:00.000Z",  // century, not leap
            "2016-05-24T08:38:08Z",      // no milliseconds
            "2016-05-24T08:38:08.69Z",   // two digits
            "2016-05-24T08:38:08.6999Z", // four digits
            "2016-05-24T24:00:00.000Z",
            "2016-13-01T00:00:00.000Z",
            "2016-04-31T00:00:00.000Z",
            "2016-05-24 08:38:08.699Z",
            "0999-05-24T08:38:08.699Z",
            "2016-05-24T08:38:08.699+2000",
            "2016-05-24T08:38:08.699+20:00",
            "2016-05-24T08:38:08.699",
            "",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn lenient_iso() {
        assert_eq!(
            parse_iso8601_lenient("2030-01-01T00:00:00Z"),
            parse_date_time("2030-01-01T00:00:00.000Z")
        );
        assert_eq!(
            parse_iso8601_lenient("2030-01-01T00:00:00.123456+01:00"),
            parse_date_time("2030-01-01T00:00:00.123+01:00")
        );
        assert_eq!(
            parse_iso8601_lenient("2030-01-01T00:00:00.5Z"),
            parse_date_time("2030-01-01T00:00:00.500Z")
        );
        assert_eq!(parse_iso8601_lenient("2030-01-01T00:00:00"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("1984-01-01").map(format_date_time).as_deref(),
            Some("1984-01-01T00:00:00.000Z")
        );
        assert_eq!(parse_date("1984-02-30"), None);
        assert_eq!(parse_date("84-01-01"), None);
    }

    #[test]
    fn http_dates() {
        let ms = parse_http_date("Tue, 15 Nov 1994 08:12:31 GMT");
        assert_eq!(
            ms.map(format_http_date).as_deref(),
            Some("Tue, 15 Nov 1994 08:12:31 GMT")
        );
        assert_eq!(parse_http_date("Wed, 15 Nov 1994 08:12:31 GMT"), None); // wrong weekday
        assert_eq!(parse_http_date("Tue, 15 Nov 1994 08:12:31 UTC"), None);
        assert_eq!(parse_http_date("Tue, 15-Nov-1994 08:12:31 GMT"), None);
        assert_eq!(parse_http_date("Tue, 5 Nov 1994 08:12:31 GMT"), None);
        assert_eq!(parse_http_date("2016-05-24T08:38:08.699Z"), None);
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn ilp_timestamps() {
        let ms = parse_date_time("2030-11-15T13:17:09.663Z");
        assert_eq!(
            ms.and_then(format_ilp_timestamp).as_deref(),
            Some("20301115131709663")
        );
        assert_eq!(parse_ilp_timestamp("20301115131709663"), ms);
        assert_eq!(parse_ilp_timestamp("2030111513170966"), None);
    }
}
