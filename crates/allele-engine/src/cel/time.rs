//! RFC 3339 timestamps and Go-style durations, hand-written so the engine
//! needs no calendar crate: the proleptic Gregorian conversion is the
//! well-known days-from-civil algorithm (H. Hinnant).

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// CEL's timestamp range: 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999999Z.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into nanoseconds since
/// the epoch.
pub fn parse_timestamp(text: &str) -> Result<i128, String> {
    let bad =
        || format!("invalid timestamp `{text}`; expected RFC 3339 such as `2026-01-31T09:30:00Z`");
    let bytes = text.as_bytes();
    let number = |from: usize, len: usize| -> Result<i64, String> {
        let part = text.get(from..from + len).ok_or_else(bad)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse::<i64>().map_err(|_| bad())
    };
    let separator = |at: usize, allowed: &[u8]| -> Result<(), String> {
        match bytes.get(at) {
            Some(b) if allowed.contains(b) => Ok(()),
            _ => Err(bad()),
        }
    };
    let year = number(0, 4)?;
    separator(4, b"-")?;
    let month = number(5, 2)?;
    separator(7, b"-")?;
    let day = number(8, 2)?;
    separator(10, b"Tt ")?;
    let hour = number(11, 2)?;
    separator(13, b":")?;
    let minute = number(14, 2)?;
    separator(16, b":")?;
    let second = number(17, 2)?;
    let mut pos = 19;
    let mut nanos: i128 = 0;
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let digits = text.get(start..pos).ok_or_else(bad)?;
        if digits.is_empty() || digits.len() > 9 {
            return Err(bad());
        }
        let value: i128 = digits.parse().map_err(|_| bad())?;
        nanos = value * 10_i128.pow(9 - digits.len() as u32);
    }
    let offset_seconds = match bytes.get(pos) {
        Some(b'Z' | b'z') if pos + 1 == bytes.len() => 0,
        Some(sign @ (b'+' | b'-')) if pos + 6 == bytes.len() => {
            separator(pos + 3, b":")?;
            let hours = number(pos + 1, 2)?;
            let minutes = number(pos + 4, 2)?;
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return Err(bad()),
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return Err(bad());
    }
    let seconds =
        days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second
            - offset_seconds;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(format!("timestamp `{text}` is out of range"));
    }
    Ok(i128::from(seconds) * NANOS_PER_SECOND + nanos)
}

pub fn timestamp_in_range(nanos: i128) -> bool {
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    (i128::from(MIN_SECONDS)..=i128::from(MAX_SECONDS)).contains(&seconds)
}

pub fn format_timestamp(nanos: i128) -> String {
    let seconds = i64::try_from(nanos.div_euclid(NANOS_PER_SECOND)).unwrap_or(0);
    let fraction = nanos.rem_euclid(NANOS_PER_SECOND);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let in_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (in_day / 3600, in_day % 3600 / 60, in_day % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses a duration such as `7d`, `1h30m`, `-1.5s`, `250ms`. Units: `d`
/// (an extension to CEL, for caps), `h`, `m`, `s`, `ms`, `us`, `ns`.
pub fn parse_duration(text: &str) -> Result<i128, String> {
    let bad = || {
        format!(
            "invalid duration `{text}`; expected a number and a unit such as `7d`, `12h`, `30m` or `1.5s`"
        )
    };
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, tail) = rest.split_at(number_len);
        let amount: f64 = number.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: f64 = match unit {
            "d" => 86_400e9,
            "h" => 3_600e9,
            "m" => 60e9,
            "s" => 1e9,
            "ms" => 1e6,
            "us" | "µs" => 1e3,
            "ns" => 1.0,
            _ => return Err(bad()),
        };
        total += amount * scale;
        rest = tail;
    }
    if !total.is_finite() || total > 1e19 {
        return Err(format!("duration `{text}` is out of range"));
    }
    let nanos = total.round() as i128;
    let nanos = if negative { -nanos } else { nanos };
    if !duration_in_range(nanos) {
        return Err(format!("duration `{text}` is out of range"));
    }
    Ok(nanos)
}

/// CEL limits a duration to one int64 of nanoseconds (about ±292 years).
pub fn duration_in_range(nanos: i128) -> bool {
    i64::try_from(nanos).is_ok()
}

pub fn format_duration(nanos: i128) -> String {
    let seconds = nanos / NANOS_PER_SECOND;
    let fraction = (nanos % NANOS_PER_SECOND).abs();
    if fraction == 0 {
        return format!("{seconds}s");
    }
    let sign = if nanos < 0 && seconds == 0 { "-" } else { "" };
    let digits = format!("{fraction:09}");
    format!("{sign}{seconds}.{}s", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_timestamps() {
        let nanos = parse_timestamp("2026-03-01T12:34:56.5Z").unwrap();
        assert_eq!(format_timestamp(nanos), "2026-03-01T12:34:56.5Z");
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_timestamp("1970-01-01T01:00:00+01:00").unwrap(),
            0,
            "offsets are subtracted"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn rejects_bad_timestamps() {
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "x",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("7d").unwrap(), 7 * 86_400 * NANOS_PER_SECOND);
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400 * NANOS_PER_SECOND);
        assert_eq!(parse_duration("-1.5s").unwrap(), -1_500_000_000);
        assert_eq!(parse_duration("250ms").unwrap(), 250_000_000);
        assert!(parse_duration("7 days").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration(-1_500_000_000), "-1.5s");
    }
}
