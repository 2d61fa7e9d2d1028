//! Segment entry and exit land on the person's timeline as events, once
//! each, also across a crash, and a journey can start from one.

use crate::common::{Server, unique};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn define(server: &Server, id: &str, definition: &str) {
    let (status, saved) = server.admin_put(
        &format!("/v1/segments/{id}"),
        &json!({ "definition": definition }),
    );
    assert_eq!(status, 200, "{saved}");
}

fn track(server: &Server, user: &str, event: &str) {
    let body = json!({"userId": user, "event": event, "messageId": unique("m")});
    assert_eq!(server.post("/v1/track", &body).0, 200);
}

/// `(event name, segment_id)` of the person's segment changes, oldest first.
fn changes(server: &Server, user: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = server
        .all_events(&format!("user_id:{user}"))
        .iter()
        .filter(|e| {
            matches!(
                e["event"].as_str(),
                Some("Segment Entered" | "Segment Exited")
            )
        })
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_string(),
                e["properties"]["segment_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    found.reverse();
    found
}

/// Wait until the person has `want` changes; how long it took.
fn wait_for(server: &Server, user: &str, want: usize) -> Duration {
    let started = Instant::now();
    while changes(server, user).len() < want && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

fn entered(segment: &str) -> (String, String) {
    ("Segment Entered".into(), segment.into())
}

fn exited(segment: &str) -> (String, String) {
    ("Segment Exited".into(), segment.into())
}

#[test]
fn entries_and_exits_are_timeline_events_written_once() {
    let mut server = Server::start();
    define(
        &server,
        "browsers",
        "profile.computed.count_all[\"Product Viewed\"] >= 2",
    );
    define(
        &server,
        "buyers",
        "\"Order Completed\" in profile.computed.count_all",
    );
    let journey = "trigger: { event: Segment Entered }\nsteps:\n  - { id: tag, set_trait: { name: noticed, value: true } }\n";
    let (status, saved) = server.admin_put_yaml("/v1/journeys/notice", journey);
    assert_eq!(status, 200, "{saved}");
    let (user, other) = (unique("shopper"), unique("other"));
    track(&server, &user, "Product Viewed");
    track(&server, &other, "Product Viewed");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(changes(&server, &user), vec![], "one view is not two");

    track(&server, &user, "Product Viewed");
    let took = wait_for(&server, &user, 1);
    assert_eq!(changes(&server, &user), vec![entered("browsers")]);
    assert!(
        took < Duration::from_secs(2),
        "entry recorded after {took:?}"
    );
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(profile["segments"], json!(["browsers"]), "{profile}");
    // The entry event starts a journey like any event.
    let started = Instant::now();
    loop {
        let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
        if profile["traits"]["noticed"] == json!(true) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no journey ran: {profile}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A crash after the entry was recorded neither loses nor repeats it.
    server.crash_and_restart();
    track(&server, &user, "Order Completed");
    wait_for(&server, &user, 2);
    assert_eq!(
        changes(&server, &user),
        vec![entered("browsers"), entered("buyers")]
    );

    // Tightening a definition shows at the person's next event as an exit.
    define(
        &server,
        "browsers",
        "profile.computed.count_all[\"Product Viewed\"] >= 5",
    );
    track(&server, &user, "Page Viewed");
    wait_for(&server, &user, 3);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        changes(&server, &user),
        vec![entered("browsers"), entered("buyers"), exited("browsers")]
    );
    assert_eq!(changes(&server, &other), vec![]);
    let entry: Vec<Value> = server
        .all_events(&format!("user_id:{user}"))
        .into_iter()
        .filter(|e| e["event"] == "Segment Entered")
        .collect();
    assert_eq!(entry[0]["type"], "track", "{entry:?}");
}
