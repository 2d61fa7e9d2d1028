//! Computed traits from rollups kept at write time: windows, per-name
//! revenue figures, recency and RFM, as the profile shows them and as a
//! segment reads them.

use crate::common::{Server, client, unique};
use serde_json::{Value, json};

fn iso(ms_ago: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    jiff::Timestamp::from_millisecond(now - ms_ago)
        .expect("time")
        .to_string()
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn order(server: &Server, user: &str, ms_ago: i64, properties: Value) {
    let body = json!({"userId": user, "event": "Order Completed", "properties": properties,
        "timestamp": iso(ms_ago), "messageId": unique("m")});
    let (status, answer) = server.post("/v1/track", &body);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn computed_traits_window_revenue_and_score_orders() {
    let server = Server::start();
    let (buyer, once) = (unique("buyer"), unique("once"));
    order(&server, &buyer, 40 * DAY, json!({"revenue": 30}));
    order(&server, &buyer, 3 * DAY, json!({"revenue": 80.0}));
    order(&server, &buyer, HOUR, json!({"revenue": "15"}));
    order(&server, &buyer, 600_000, json!({"coupon": "none"}));
    order(&server, &once, 100 * DAY, json!({"revenue": 600}));

    let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{buyer}"));
    assert_eq!(status, 200, "{profile}");
    let computed = &profile["computed"];
    let orders = "Order Completed";
    assert_eq!(computed["count_all"][orders], json!(4), "{computed}");
    assert_eq!(computed["count_30d"][orders], json!(3));
    assert_eq!(computed["count_1d"][orders], json!(2));
    assert_eq!(computed["revenue_all"], json!(125.0));
    assert_eq!(computed["revenue_sum_30d"][orders], json!(95.0));
    assert_eq!(computed["revenue_min_30d"][orders], json!(15.0));
    assert_eq!(computed["revenue_max_30d"][orders], json!(80.0));
    assert!(
        computed["revenue_last"].get(orders).is_none(),
        "the newest order had no revenue: {computed}"
    );
    assert_eq!(computed["days_since"][orders], json!(0));
    assert_eq!(computed["recency"], json!("active_7d"));
    assert_eq!(
        computed["rfm"],
        json!({"recency": 5, "frequency": 3, "monetary": 2, "score": "532"})
    );

    let (_, single) = server.admin_get(&format!("/v1/profiles/user_id:{once}"));
    assert_eq!(single["computed"]["days_since"][orders], json!(100));
    assert_eq!(single["computed"]["revenue_last"][orders], json!(600.0));
    assert_eq!(single["computed"]["rfm"]["score"], json!("214"));
    assert!(single["computed"]["revenue_sum_30d"].get(orders).is_none());

    let definition = "profile.computed.rfm.frequency >= 3 && profile.computed.revenue_max_30d[\"Order Completed\"] >= 50.0";
    let (status, saved) =
        server.admin_put("/v1/segments/loyal", &json!({ "definition": definition }));
    assert_eq!(status, 200, "{saved}");
    let (status, members) = server.admin_get("/v1/segments/loyal/members?limit=100");
    assert_eq!(status, 200, "{members}");
    let ids: Vec<&str> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["user_id"].as_str())
        .collect();
    assert_eq!(ids, vec![buyer.as_str()], "{members}");

    // The same members as CSV, with the email an identify gave and a
    // comma in an id quoted.
    let odd = format!("{buyer},\"x");
    for _ in 0..5 {
        order(&server, &odd, HOUR, json!({"revenue": 60}));
    }
    let identify = json!({"userId": buyer, "traits": {"email": "buyer@example.com"}, "messageId": unique("m")});
    assert_eq!(server.post("/v1/identify", &identify).0, 200);
    let response = client()
        .get(format!("{}/v1/segments/loyal/export", server.url))
        .bearer_auth(&server.admin_key)
        .send()
        .expect("export");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let text = response.text().expect("csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["profile_id", "user_id", "email"]
    );
    let mut rows: Vec<(String, String)> = reader
        .records()
        .map(|r| r.expect("row"))
        .map(|r| (r[1].to_string(), r[2].to_string()))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            (buyer.clone(), "buyer@example.com".to_string()),
            (odd.clone(), String::new())
        ],
        "{text}"
    );
    let (status, missing) = server.admin_get("/v1/segments/nope/export");
    assert_eq!(
        (status, &missing["code"]),
        (404, &json!("segment_not_found"))
    );
}
