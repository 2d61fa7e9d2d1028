use jiff::Timestamp;
use jiff::civil::time;

use super::*;

fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_millisecond()
}

fn quiet(start: (i8, i8), end: (i8, i8)) -> QuietHours {
    QuietHours {
        start: time(start.0, start.1, 0, 0),
        end: time(end.0, end.1, 0, 0),
    }
}

const DAY: i64 = 86_400_000;

#[test]
fn a_window_crossing_midnight_is_quiet_on_both_sides() {
    let tz = time_zone("Europe/Paris").unwrap();
    let q = quiet((21, 0), (8, 0));
    // January: Paris is UTC+1.
    assert!(is_quiet(ms("2025-01-15T22:30:00Z"), &q, &tz).unwrap()); // 23:30
    assert!(is_quiet(ms("2025-01-15T02:00:00Z"), &q, &tz).unwrap()); // 03:00
    assert!(is_quiet(ms("2025-01-15T20:00:00Z"), &q, &tz).unwrap()); // 21:00 inclusive
    assert!(!is_quiet(ms("2025-01-15T07:00:00Z"), &q, &tz).unwrap()); // 08:00 exclusive
    assert!(!is_quiet(ms("2025-01-15T11:00:00Z"), &q, &tz).unwrap());
    // A daytime window and an empty one.
    assert!(is_quiet(ms("2025-01-15T12:00:00Z"), &quiet((12, 0), (14, 0)), &tz).unwrap());
    assert!(!is_quiet(ms("2025-01-15T12:00:00Z"), &quiet((13, 0), (13, 0)), &tz).unwrap());
}

#[test]
fn london_spring_forward_keeps_wall_clock_quiet_hours() {
    // 2024-03-31 01:00 GMT → 02:00 BST (01:00Z).
    let tz = time_zone("Europe/London").unwrap();
    let q = quiet((21, 0), (8, 0));
    assert!(is_quiet(ms("2024-03-31T06:59:59Z"), &q, &tz).unwrap()); // 07:59:59 BST
    assert!(!is_quiet(ms("2024-03-31T07:00:00Z"), &q, &tz).unwrap()); // 08:00 BST
    let next = next_allowed_time(ms("2024-03-30T22:00:00Z"), Some(&q), &[], &[], &tz).unwrap();
    assert_eq!(next, Some(ms("2024-03-31T07:00:00Z")));
    // The previous Saturday, on GMT, ends an hour later in UTC.
    let next = next_allowed_time(ms("2024-03-23T22:00:00Z"), Some(&q), &[], &[], &tz).unwrap();
    assert_eq!(next, Some(ms("2024-03-24T08:00:00Z")));
}

#[test]
fn an_end_inside_the_skipped_hour_ends_at_the_jump() {
    let tz = time_zone("Europe/London").unwrap();
    let q = quiet((22, 0), (1, 30)); // 01:30 does not exist on 2024-03-31
    assert!(is_quiet(ms("2024-03-31T00:59:59Z"), &q, &tz).unwrap()); // 00:59:59 GMT
    assert!(!is_quiet(ms("2024-03-31T01:00:00Z"), &q, &tz).unwrap()); // 02:00 BST
    let next = next_allowed_time(ms("2024-03-30T23:00:00Z"), Some(&q), &[], &[], &tz).unwrap();
    assert_eq!(next, Some(ms("2024-03-31T01:00:00Z")));

    // New York, 2024-03-10 02:00 EST → 03:00 EDT (07:00Z); window ends 02:30.
    let tz = time_zone("America/New_York").unwrap();
    let q = quiet((22, 0), (2, 30));
    let next = next_allowed_time(ms("2024-03-10T03:00:00Z"), Some(&q), &[], &[], &tz).unwrap();
    assert_eq!(next, Some(ms("2024-03-10T07:00:00Z")));
}

#[test]
fn new_york_fall_back_repeats_the_hour_on_the_wall_clock() {
    // 2024-11-03 02:00 EDT → 01:00 EST (06:00Z): 01:00–02:00 happens twice.
    let tz = time_zone("America/New_York").unwrap();
    let q = quiet((0, 30), (1, 30));
    assert!(is_quiet(ms("2024-11-03T05:00:00Z"), &q, &tz).unwrap()); // 01:00 EDT
    let next = next_allowed_time(ms("2024-11-03T05:00:00Z"), Some(&q), &[], &[], &tz).unwrap();
    assert_eq!(next, Some(ms("2024-11-03T05:30:00Z"))); // 01:30 EDT, first showing
    assert!(!is_quiet(ms("2024-11-03T05:45:00Z"), &q, &tz).unwrap()); // 01:45 EDT
    assert!(is_quiet(ms("2024-11-03T06:10:00Z"), &q, &tz).unwrap()); // 01:10 EST
    let next = next_allowed_time(ms("2024-11-03T06:10:00Z"), Some(&q), &[], &[], &tz).unwrap();
    assert_eq!(next, Some(ms("2024-11-03T06:30:00Z"))); // 01:30 EST, second showing

    // London's overlap, 2024-10-27 02:00 BST → 01:00 GMT, with 21:00–08:00.
    let tz = time_zone("Europe/London").unwrap();
    let q = quiet((21, 0), (8, 0));
    let next = next_allowed_time(ms("2024-10-26T20:00:00Z"), Some(&q), &[], &[], &tz).unwrap();
    assert_eq!(next, Some(ms("2024-10-27T08:00:00Z")));
}

#[test]
fn a_time_zone_change_moves_quiet_hours() {
    let q = quiet((21, 0), (8, 0));
    let now = ms("2025-06-02T02:00:00Z"); // 03:00 London, 22:00 New York (day before)
    let mut limits = CustomerLimits {
        timezone: "Europe/London".into(),
        quiet_hours: Some(q),
        ..Default::default()
    };
    assert_eq!(
        limits.check(now, "email", &[]).unwrap(),
        Some(Blocked::QuietHours)
    );
    limits.timezone = "Asia/Tokyo".into(); // 11:00
    assert_eq!(limits.check(now, "email", &[]).unwrap(), None);
    limits.timezone = "Mars/Olympus_Mons".into();
    assert_eq!(
        limits.check(now, "email", &[]).unwrap_err().to_string(),
        "unknown time zone `Mars/Olympus_Mons`"
    );
}

#[test]
fn caps_count_a_half_open_window() {
    let cap = Cap {
        channel: "email".into(),
        count: 2,
        window_ms: 7 * DAY,
    };
    let now = ms("2025-01-15T12:00:00Z");
    let past = [now - 10 * DAY, now - 6 * DAY, now - DAY];
    assert!(!cap_allows(&past, &cap, now));
    // Exactly one window old no longer counts.
    assert!(cap_allows(&[now - 7 * DAY, now - DAY], &cap, now));
    assert!(!cap_allows(&[now - 7 * DAY + 1, now - DAY], &cap, now));
    assert!(cap_allows(&[], &cap, now));
    assert!(!cap_allows(
        &[],
        &Cap {
            count: 0,
            ..cap.clone()
        },
        now
    ));
    let utc = time_zone("UTC").unwrap();
    assert_eq!(
        next_allowed_time(now, None, &[&cap], &past, &utc).unwrap(),
        Some(now + DAY)
    );
    assert_eq!(
        next_allowed_time(now, None, &[&Cap { count: 0, ..cap }], &past, &utc).unwrap(),
        None
    );
}

#[test]
fn a_cap_release_inside_quiet_hours_waits_for_morning() {
    // London in January is UTC+0.
    let limits = CustomerLimits {
        timezone: "Europe/London".into(),
        quiet_hours: Some(quiet((21, 0), (8, 0))),
        caps: vec![Cap {
            channel: "*".into(),
            count: 1,
            window_ms: DAY,
        }],
        preferred_channels: vec![],
    };
    let now = ms("2025-01-15T12:00:00Z");
    // Released at 23:30 tonight, inside quiet hours: next morning.
    let past = [ms("2025-01-14T23:30:00Z")];
    assert!(matches!(
        limits.check(now, "email", &past).unwrap(),
        Some(Blocked::Capped { .. })
    ));
    assert_eq!(
        limits.next_allowed_time(now, "email", &past).unwrap(),
        Some(ms("2025-01-16T08:00:00Z"))
    );
    // Released in daytime: then.
    let past = [ms("2025-01-15T11:30:00Z")];
    assert_eq!(
        limits.next_allowed_time(now, "email", &past).unwrap(),
        Some(ms("2025-01-16T11:30:00Z"))
    );
    // Quiet now, and the morning is free of caps.
    let night = ms("2025-01-15T22:00:00Z");
    assert_eq!(
        limits.check(night, "sms", &[]).unwrap(),
        Some(Blocked::QuietHours)
    );
    assert_eq!(
        limits.next_allowed_time(night, "sms", &[]).unwrap(),
        Some(ms("2025-01-16T08:00:00Z"))
    );
    // Quiet ends at 08:00, but a contact at 09:00 today holds the next one
    // until 09:00 tomorrow.
    let past = [ms("2025-01-15T09:00:00Z")];
    assert_eq!(
        limits.next_allowed_time(night, "sms", &past).unwrap(),
        Some(ms("2025-01-16T09:00:00Z"))
    );
}

#[test]
fn preferred_channels_filter_and_order() {
    let limits = CustomerLimits {
        timezone: "UTC".into(),
        preferred_channels: vec!["sms".into(), "email".into()],
        ..Default::default()
    };
    assert_eq!(
        limits.check(0, "push", &[]).unwrap(),
        Some(Blocked::NotPreferred)
    );
    assert_eq!(limits.check(0, "email", &[]).unwrap(), None);
    assert_eq!(
        limits.order_channels(&["email", "push", "sms"]),
        vec!["sms", "email"]
    );
    assert_eq!(limits.next_allowed_time(0, "push", &[]).unwrap(), None);
    let json: CustomerLimits = serde_json::from_str(
        r#"{"timezone":"Europe/London","quiet_hours":{"start":"21:00","end":"08:00"},
            "caps":[{"channel":"email","count":2,"window_ms":604800000}]}"#,
    )
    .unwrap();
    assert_eq!(json.quiet_hours, Some(quiet((21, 0), (8, 0))));
}
