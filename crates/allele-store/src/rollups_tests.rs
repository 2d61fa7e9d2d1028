use super::*;
use crate::facts::{EventFact, FactCache};
use proptest::prelude::*;
use serde_json::json;

const NOW: i64 = 1_790_000_000_000 + 1_234_567;
const NAMES: [&str; 3] = ["Product Viewed", "Order Completed", "Page"];

#[derive(Debug, Clone)]
struct Event {
    profile: u8,
    name: u8,
    ts: i64,
    revenue: Value,
}

fn revenue_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("absent")),
        (-500i64..500).prop_map(Value::from),
        (-50.0..50.0f64).prop_map(Value::from),
        Just(json!("12.5")),
        Just(json!("abc")),
        Just(json!(true)),
        Just(json!({"amount": 3})),
    ]
}

/// Times around each window's start, where an hour is cut, and elsewhere.
fn time() -> impl Strategy<Value = i64> {
    let edge = prop_oneof![Just(1), Just(7), Just(30)].prop_flat_map(|days| {
        (-2 * HOUR_MS..2 * HOUR_MS).prop_map(move |d| NOW - days * DAY_MS + d)
    });
    prop_oneof![edge, NOW - 40 * DAY_MS..NOW + 2 * HOUR_MS]
}

fn event() -> impl Strategy<Value = Event> {
    (0..3u8, 0..3u8, time(), revenue_value()).prop_map(|(profile, name, ts, revenue)| Event {
        profile,
        name,
        ts,
        revenue,
    })
}

fn body(event: &Event) -> Map<String, Value> {
    let mut properties = Map::new();
    if event.revenue != json!("absent") {
        properties.insert("revenue".into(), event.revenue.clone());
    }
    let mut body = Map::new();
    body.insert("properties".into(), Value::Object(properties));
    body
}

/// Profiles p0 and p1 are one merged person (root p0); p2 is another.
fn setup() -> Connection {
    let mut conn = Connection::open_in_memory().expect("db");
    crate::schema::migrate(&mut conn).expect("migrate");
    for (id, root) in [("p0", "p0"), ("p1", "p0"), ("p2", "p2")] {
        conn.execute(
            "INSERT INTO profiles (id, workspace_id, root_id, created_at) VALUES (?1, 'w', ?2, 0)",
            [id, root],
        )
        .expect("profile");
    }
    conn
}

fn store(conn: &Connection, events: &[Event]) {
    let mut cache = FactCache::default();
    for (index, event) in events.iter().enumerate() {
        let seq = index as i64 + 1;
        let owner = format!("p{}", event.profile);
        let name = NAMES[event.name as usize];
        let body = body(event);
        conn.execute(
            "INSERT INTO events (seq, workspace_id, message_id, profile_id, type, name, ts, received_at, body)
             VALUES (?1, 'w', ?1, ?2, 'track', ?3, ?4, 0, ?5)",
            params![seq, owner, name, event.ts, Value::Object(body.clone()).to_string()],
        )
        .expect("event");
        let fact = EventFact {
            owner: &owner,
            name: Some(name),
            ts: event.ts,
            seq,
            body: &body,
        };
        crate::facts::record(conn, "w", &mut cache, &fact).expect("record");
    }
}

/// The figures by their definition, from the events themselves.
fn by_definition(events: &[(i64, &Event)], members: &[u8]) -> BTreeMap<String, NameRollup> {
    let mut out: BTreeMap<String, NameRollup> = BTreeMap::new();
    for (seq, event) in events {
        if !members.contains(&event.profile) {
            continue;
        }
        let entry = out
            .entry(NAMES[event.name as usize].to_string())
            .or_default();
        let revenue = revenue_of(&body(event));
        for (index, days) in WINDOW_DAYS.iter().enumerate() {
            if event.ts >= NOW - days * DAY_MS {
                entry.window(index, 1, revenue.unwrap_or(0.0), revenue, revenue);
            }
        }
        entry.counts[3] += 1;
        entry.revenue[3] += revenue.unwrap_or(0.0);
        if entry.counts[3] == 1 || (event.ts, *seq) > (entry.last_ts, entry.last_seq) {
            (entry.last_ts, entry.last_seq, entry.last_revenue) = (event.ts, *seq, revenue);
        }
    }
    out
}

fn same(a: &BTreeMap<String, NameRollup>, b: &BTreeMap<String, NameRollup>) -> bool {
    let near = |x: f64, y: f64| (x - y).abs() < 1e-6;
    a.len() == b.len()
        && a.iter().zip(b).all(|((na, x), (nb, y))| {
            na == nb
                && x.counts == y.counts
                && x.revenue.iter().zip(&y.revenue).all(|(p, q)| near(*p, *q))
                && x.revenue_min == y.revenue_min
                && x.revenue_max == y.revenue_max
                && (x.last_ts, x.last_seq, x.last_revenue)
                    == (y.last_ts, y.last_seq, y.last_revenue)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Rollups kept at write time, read for a merged person at a moment
    /// whose windows cut hours, equal the figures computed event by event;
    /// so do rollups rebuilt from the log, and after one member's erasure.
    #[test]
    fn rollups_equal_the_events(events in prop::collection::vec(event(), 0..60), erase in any::<bool>()) {
        let conn = setup();
        store(&conn, &events);
        let numbered: Vec<(i64, &Event)> = events.iter().enumerate().map(|(i, e)| (i as i64 + 1, e)).collect();
        let kept = of_person(&conn, "p0", NOW).expect("read");
        prop_assert!(same(&kept, &by_definition(&numbered, &[0, 1])), "kept {kept:#?}");
        let other = of_person(&conn, "p2", NOW).expect("read");
        prop_assert!(same(&other, &by_definition(&numbered, &[2])));
        rebuild(&conn).expect("rebuild");
        let rebuilt = of_person(&conn, "p0", NOW).expect("read");
        prop_assert!(same(&rebuilt, &kept), "rebuilt {rebuilt:#?}");
        if erase {
            crate::facts::erase(&conn, "w", "p1").expect("erase facts");
            conn.execute("DELETE FROM events WHERE profile_id = 'p1'", []).expect("events");
            let left = of_person(&conn, "p0", NOW).expect("read");
            prop_assert!(same(&left, &by_definition(&numbered, &[0])), "after erasure {left:#?}");
        }
    }
}

#[test]
fn a_window_that_cuts_an_hour_counts_only_its_part() {
    let conn = setup();
    let at = |ts: i64, revenue: Value| Event {
        profile: 1,
        name: 1,
        ts,
        revenue,
    };
    // One event a minute before the day's window opens, one a minute
    // after, in the same clock hour (NOW is not on an hour).
    let events = [
        at(NOW - DAY_MS - 60_000, json!(100)),
        at(NOW - DAY_MS + 60_000, json!(7)),
        at(NOW - 60_000, json!("2.5")),
        at(NOW - 30_000, json!("absent")),
    ];
    assert_eq!(
        (NOW - DAY_MS - 60_000).div_euclid(HOUR_MS),
        (NOW - DAY_MS + 60_000).div_euclid(HOUR_MS)
    );
    store(&conn, &events);
    let person = of_person(&conn, "p0", NOW).expect("read");
    let orders = &person["Order Completed"];
    assert_eq!(orders.counts, [3, 4, 4, 4]);
    assert_eq!(orders.revenue[0], 9.5);
    assert_eq!(orders.revenue[3], 109.5);
    assert_eq!(
        (orders.revenue_min, orders.revenue_max),
        (Some(2.5), Some(100.0))
    );
    assert_eq!(orders.last_revenue, None, "the newest order had no revenue");
}
