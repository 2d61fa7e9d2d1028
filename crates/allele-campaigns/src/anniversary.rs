//! Date-trait triggers: `trigger: { date_trait: birthday, at: "09:00" }`
//! enters a person every year on the month and day of the trait, once
//! their own wall clock has reached `at`. The trait holds an ISO date
//! (`1990-05-17`, taken as written) or a timestamp (`1990-05-17T06:30:00Z`,
//! read in the person's time zone). People born on February 29 have their
//! anniversary on February 28 in years without one.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// When a date trigger fires if the definition names no `at`.
pub const DEFAULT_AT: Time = Time::constant(9, 0, 0, 0);

/// The civil date a date-trait value names; `None` for anything that is
/// not an ISO date or timestamp.
pub fn trait_date(value: &str, tz: &TimeZone) -> Option<Date> {
    let value = value.trim();
    if let Ok(instant) = value.parse::<Timestamp>() {
        return Some(instant.to_zoned(tz.clone()).date());
    }
    if let Ok(local) = value.parse::<DateTime>() {
        return Some(local.date());
    }
    value.parse::<Date>().ok()
}

/// Whether `today` is an anniversary of `date`.
pub fn is_anniversary(date: Date, today: Date) -> bool {
    if (date.month(), date.day()) == (today.month(), today.day()) {
        return true;
    }
    let leap_day = date.month() == 2 && date.day() == 29;
    leap_day && !today.in_leap_year() && today.month() == 2 && today.day() == 28
}

/// The local year whose anniversary is due at `now` for a person in `tz`
/// with this trait value, or `None` when nothing is due (not the day, not
/// yet `at`, or a value that is no date). The year keys the entry, so each
/// anniversary enters a person at most once.
pub fn due_year(value: &str, tz: &TimeZone, at: Time, now: Timestamp) -> Option<i16> {
    let date = trait_date(value, tz)?;
    let local = now.to_zoned(tz.clone());
    (is_anniversary(date, local.date()) && local.time() >= at).then_some(local.year())
}

/// `MM-DD` of the days whose anniversaries can be due somewhere on Earth at
/// `now` (UTC−12 to UTC+14, and a timestamp trait read in another zone
/// shifts its date by a day too), plus `02-29`: a cheap filter on the raw
/// trait text before the exact check above.
pub fn candidate_month_days(now: Timestamp) -> Vec<String> {
    let today = now.to_zoned(TimeZone::UTC).date();
    let mut days: Vec<String> = (-2..=2_i64)
        .filter_map(|shift| today.checked_add(jiff::Span::new().days(shift)).ok())
        .map(|d| format!("{:02}-{:02}", d.month(), d.day()))
        .collect();
    days.push("02-29".into());
    days.sort();
    days.dedup();
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn reads_dates_and_timestamps_and_skips_the_rest() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(trait_date("1990-05-17", &tokyo), Some(date(1990, 5, 17)));
        // 20:00 UTC on the 16th is already the 17th in Tokyo.
        assert_eq!(
            trait_date("1990-05-16T20:00:00Z", &tokyo),
            Some(date(1990, 5, 17))
        );
        assert_eq!(
            trait_date("1990-05-16T20:00:00", &tokyo),
            Some(date(1990, 5, 16))
        );
        for bad in ["", "soon", "1990-13-01", "1990-02-30", "17/05/1990", "42"] {
            assert_eq!(trait_date(bad, &tokyo), None, "{bad}");
        }
    }

    #[test]
    fn leap_day_falls_on_february_28_in_other_years() {
        let born = date(2000, 2, 29);
        assert!(is_anniversary(born, date(2023, 2, 28)));
        assert!(!is_anniversary(born, date(2023, 3, 1)));
        assert!(is_anniversary(born, date(2024, 2, 29)));
        assert!(!is_anniversary(born, date(2024, 2, 28)));
        assert!(!is_anniversary(date(2000, 2, 28), date(2024, 2, 29)));
    }

    #[test]
    fn due_in_the_persons_zone_once_the_time_has_come() {
        let nine = Time::constant(9, 0, 0, 0);
        let new_york = TimeZone::get("America/New_York").unwrap();
        // 12:30 UTC on May 17 is 08:30 in New York: the day, not yet the time.
        assert_eq!(
            due_year("1990-05-17", &new_york, nine, at("2026-05-17T12:30:00Z")),
            None
        );
        assert_eq!(
            due_year("1990-05-17", &new_york, nine, at("2026-05-17T13:00:00Z")),
            Some(2026)
        );
        // 02:00 UTC on May 18 is still the 17th in New York.
        assert_eq!(
            due_year("1990-05-17", &new_york, nine, at("2026-05-18T02:00:00Z")),
            Some(2026)
        );
        assert_eq!(
            due_year(
                "1990-05-17",
                &TimeZone::UTC,
                nine,
                at("2026-05-18T02:00:00Z")
            ),
            None
        );
        assert_eq!(
            due_year(
                "not a date",
                &TimeZone::UTC,
                nine,
                at("2026-05-17T12:00:00Z")
            ),
            None
        );
    }

    #[test]
    fn the_filter_keeps_every_day_that_can_be_due() {
        let days = candidate_month_days(at("2026-03-01T00:00:00Z"));
        assert_eq!(days, ["02-27", "02-28", "02-29", "03-01", "03-02", "03-03"]);
        let kiritimati = TimeZone::get("Pacific/Kiritimati").unwrap();
        let now = at("2026-03-01T23:00:00Z");
        let local = now.to_zoned(kiritimati).date();
        assert!(days.contains(&format!("{:02}-{:02}", local.month(), local.day())));
    }
}
