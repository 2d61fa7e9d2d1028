//! The third act of `allele demo`: two edges — a store and a call centre —
//! decide locally with the signed bundle, the call centre loses its link to
//! the centre for a spell and keeps deciding, then reconnects and ships its
//! outbox; the centre counts every edge decision once and its learning loop
//! reads the whole log (web, store, call centre) and proposes rule changes.
//!
//! The edges run in this process but talk to the centre over real HTTP; the
//! call centre's link goes through a small TCP relay the story can cut.

use crate::edge::{self, EdgeArgs};
use allele_server::AppState;
use allele_store::now_ms;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP relay to the centre that can be cut (and that cuts open
/// connections too, as a real partition does).
struct Link {
    up: watch::Sender<bool>,
    url: String,
}

async fn relay(centre: std::net::SocketAddr) -> Result<Link, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (up, watching) = watch::channel(true);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut watching = watching.clone();
            if !*watching.borrow() {
                continue; // dropped: the connection is refused at once
            }
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(centre).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = watching.wait_for(|up| !*up) => {}
                }
            });
        }
    });
    Ok(Link { up, url })
}

struct Touchpoint {
    name: &'static str,
    edge: Arc<edge::Edge>,
    url: String,
    decisions: usize,
    offline_decisions: usize,
    outcomes: usize,
}

async fn start_edge(
    name: &'static str,
    central: &str,
    key: &str,
    dir: &Path,
) -> Result<Touchpoint, String> {
    let started = edge::start(EdgeArgs {
        central: central.to_string(),
        key: key.to_string(),
        data: dir.join(format!("edge-{name}")),
        listen: "127.0.0.1:0".to_string(),
        max_staleness: 15 * 60_000,
        public_key: None,
        write_key: Vec::new(),
        snapshot_every: 500,
        limits: crate::limits::LimitArgs::default(),
    })
    .await?;
    let url = format!("http://{}", started.addr);
    tokio::spawn(edge::serve::serve(
        Arc::clone(&started.edge),
        started.listener,
        allele_server::conn::Limits::default(),
    ));
    Ok(Touchpoint {
        name,
        edge: started.edge,
        url,
        decisions: 0,
        offline_decisions: 0,
        outcomes: 0,
    })
}

async fn status(point: &Touchpoint) -> Result<Value, String> {
    edge::report::status(&point.edge)
        .await
        .map_err(|e| e.to_string())
}

/// Wait (up to `secs`) until the edge's status satisfies `check`.
async fn wait_for(
    point: &Touchpoint,
    secs: u64,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Result<Value, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let now = status(point).await?;
        if check(&now) {
            return Ok(now);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("the {} edge never {what}: {now}", point.name));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn outbox(status: &Value) -> i64 {
    status["outbox"]
        .as_object()
        .map_or(0, |kinds| kinds.values().filter_map(Value::as_i64).sum())
}

/// Planted truth for the learning loop: the gold card sells in the store,
/// hardly at the call centre; loyalty points sell the same everywhere.
fn converts(action: &str, touchpoint: &str) -> f64 {
    match (action, touchpoint) {
        ("gold_card", "store") => 0.30,
        ("gold_card", _) => 0.02,
        ("loyalty_points", _) => 0.10,
        _ => 0.0,
    }
}

pub struct Act<'a> {
    pub state: &'a Arc<AppState>,
    pub app: &'a axum::Router,
    pub centre: std::net::SocketAddr,
    pub admin_key: &'a str,
    pub decide_key: &'a str,
    pub dir: &'a Path,
    pub customers: usize,
    pub seed: u64,
}

/// One decision (and maybe its outcome) at an edge, over HTTP.
async fn decide_at(
    http: &reqwest::Client,
    point: &mut Touchpoint,
    key: &str,
    user: &str,
    rng: &mut StdRng,
) -> Result<Option<String>, String> {
    let answer: Value = http
        .post(format!("{}/v1/decide", point.url))
        .bearer_auth(key)
        .json(&json!({"user_id": user, "touchpoint": point.name, "channel": "email"}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let Some(id) = answer["decision_id"].as_str() else {
        return Err(format!("the {} edge did not decide: {answer}", point.name));
    };
    point.decisions += 1;
    let Some(action) = answer["actions"][0]["action_id"].as_str() else {
        return Ok(None);
    };
    if rng.random_bool(converts(action, point.name)) {
        let revenue = f64::from(rng.random_range(40..400));
        http.post(format!("{}/v1/outcomes", point.url))
            .bearer_auth(key)
            .json(&json!({"decision_id": id, "action_id": action, "event": "Card Applied", "revenue": revenue}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        point.outcomes += 1;
    }
    Ok(Some(action.to_string()))
}

pub async fn run(act: Act<'_>) -> Result<Value, String> {
    let bearer = format!("Bearer {}", act.admin_key);
    let link = relay(act.centre).await?;
    let centre_url = format!("http://{}", act.centre);
    let mut points = [
        start_edge("store", &centre_url, act.decide_key, act.dir).await?,
        start_edge("call_centre", &link.url, act.decide_key, act.dir).await?,
    ];
    let http = reqwest::Client::new();
    // Each touchpoint knows its own customers (loyalty card, CRM): their
    // traits, as the centre has them, are sent to the edge like any event.
    let known: Vec<usize> = (0..act.customers.min(600)).collect();
    let mut batch = Vec::new();
    for index in &known {
        let path = format!("/v1/profiles/user_id:cust-{index}");
        if let Ok(profile) =
            crate::demo_story::call(act.app, "GET", &path, &bearer, &[], String::new()).await
        {
            batch.push(json!({"type": "identify", "userId": format!("cust-{index}"),
                              "messageId": format!("edge-seed-{index}"), "traits": profile["traits"]}));
        }
    }
    for point in &points {
        wait_for(point, 20, "got a bundle and a snapshot", |s| {
            s["bundle_version"].is_u64() && s["snapshot_age_ms"].is_i64()
        })
        .await?;
        for chunk in batch.chunks(200) {
            http.post(format!("{}/v1/batch", point.url))
                .bearer_auth(act.decide_key)
                .json(&json!({"batch": chunk}))
                .send()
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let mut rng = StdRng::seed_from_u64(act.seed ^ 0xed9e);
    let users: Vec<String> = batch
        .iter()
        .filter_map(|e| e["userId"].as_str().map(str::to_string))
        .collect();
    // Three phases: both online; the call centre cut off; both online again.
    // Between the first two, some customers withdraw marketing consent at
    // the centre: the store learns it from its next snapshot, the call
    // centre only once it is back.
    let withdrawn: Vec<String> = users.iter().take(40).cloned().collect();
    let mut peak_outbox = 0;
    // store; call centre offline; call centre reconnected
    let mut after_withdrawal = [0usize; 3];
    for phase in 0..3 {
        if phase == 1 {
            let _ = link.up.send(false);
            for user in &withdrawn {
                let consent = json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "withdrawn"});
                let path = format!("/v1/profiles/user_id:{user}/consent");
                crate::demo_story::call(act.app, "PUT", &path, &bearer, &[], consent.to_string())
                    .await?;
            }
            let asked = now_ms();
            wait_for(&points[0], 20, "took a snapshot", |s| {
                s["snapshot_age_ms"]
                    .as_i64()
                    .is_some_and(|age| age < now_ms() - asked)
            })
            .await?;
        }
        if phase == 2 {
            let _ = link.up.send(true);
            let back = now_ms();
            wait_for(&points[1], 45, "took a snapshot after reconnecting", |s| {
                s["snapshot_age_ms"]
                    .as_i64()
                    .is_some_and(|age| age < now_ms() - back)
            })
            .await?;
        }
        for user in &users {
            let which = usize::from(rng.random_bool(0.5));
            let point = &mut points[which];
            let chosen = decide_at(&http, point, act.decide_key, user, &mut rng).await?;
            if phase == 1 && which == 1 {
                point.offline_decisions += 1;
            }
            let marketing = chosen.is_some_and(|a| a != "order_update");
            if phase > 0 && marketing && withdrawn.contains(user) {
                after_withdrawal[if which == 1 && phase == 2 { 2 } else { which }] += 1;
            }
        }
        if phase == 1 {
            peak_outbox = outbox(&status(&points[1]).await?);
        }
    }
    for point in &points {
        wait_for(point, 45, "drained its outbox", |s| outbox(s) == 0).await?;
        // Report now, so the centre's edges page agrees with this summary
        // instead of showing the last periodic report from before the drain.
        edge::report::report_once(&point.edge).await?;
    }
    let mut edges = Vec::new();
    for point in &points {
        let edge_id = point.edge.edge_id.clone();
        let id = edge_id.clone();
        let at_centre = act
            .state
            .store
            .read(move |conn| {
                Ok(conn.query_row(
                    "SELECT COUNT(*) FROM decisions WHERE edge_id = ?1",
                    [&id],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .await
            .map_err(|e| e.to_string())?;
        edges.push(json!({
            "touchpoint": point.name, "edge_id": edge_id, "decisions": point.decisions,
            "outcomes": point.outcomes, "decided_offline": point.offline_decisions,
            "stored_at_centre": at_centre,
        }));
    }
    // The learning loop, once, over everything the centre now holds.
    let report = crate::demo_story::call(
        act.app,
        "GET",
        "/v1/reports/heterogeneity?action=gold_card&min_n=30",
        &bearer,
        &[],
        String::new(),
    )
    .await?;
    let proposals: Vec<Value> = report["proposals"]
        .as_array()
        .into_iter()
        .flatten()
        .take(3)
        .map(|p| json!({"summary": p["summary"], "q": p["q"], "snips_gain": p["snips_gain"]}))
        .collect();
    Ok(json!({
        "edges": edges,
        "call_centre_offline": {"decisions": points[1].offline_decisions, "outbox_at_reconnect": peak_outbox},
        "consent_withdrawn": {
            "customers": withdrawn.len(),
            "marketing_offers_after_at_store": after_withdrawal[0],
            "marketing_offers_at_call_centre_while_offline": after_withdrawal[1],
            "marketing_offers_at_call_centre_after_reconnecting": after_withdrawal[2],
        },
        "learning": {"action": "gold_card", "proposals": proposals},
        "at": now_ms(),
    }))
}
