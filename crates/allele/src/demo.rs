//! `allele demo`: a temporary data dir, a workspace, a few weeks of synthetic
//! customers across web, app, store and call centre sent through the real
//! HTTP handlers, a summary, and then the server keeps running.

use allele_server::{AppState, Config};
use allele_store::{keys, now_ms};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: String,
    #[arg(long, default_value_t = 2_000)]
    pub customers: usize,
    #[arg(long, default_value_t = 28)]
    pub days: u32,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the summary and exit instead of serving (for CI and scripts).
    #[arg(long)]
    pub exit_after_story: bool,
}

const TOUCHPOINTS: &[&str] = &["web", "app", "store", "call_centre"];
const CAMPAIGNS: &[(&str, &str)] = &[
    ("newsletter", "email"),
    ("spring-sale", "social"),
    ("brand", "search"),
];

/// One customer's weeks, as Segment messages.
fn customer_story(rng: &mut StdRng, index: usize, days: u32, start_ms: i64) -> Vec<Value> {
    let user = format!("cust-{index}");
    let anon = format!("anon-{index}-{}", rng.random::<u32>());
    let mut at = start_ms + rng.random_range(0..86_400_000i64);
    let mut tick = |rng: &mut StdRng| {
        at += rng.random_range(60_000..(days as i64 * 86_400_000 / 12).max(60_001));
        jiff::Timestamp::from_millisecond(at)
            .map(allele_types::segment::format_time)
            .unwrap_or_default()
    };
    let (campaign, medium) = CAMPAIGNS[index % CAMPAIGNS.len()];
    let mut events = vec![
        json!({"type": "page", "anonymousId": anon, "name": "Home", "timestamp": tick(rng),
        "context": {"campaign": {"name": campaign, "source": campaign, "medium": medium}, "page": {"path": "/"}}}),
    ];
    for _ in 0..rng.random_range(1..5) {
        events.push(json!({"type": "track", "anonymousId": anon, "event": "Product Viewed", "timestamp": tick(rng),
            "properties": {"sku": format!("sku-{}", rng.random_range(1..40))}, "context": {"channel": "web"}}));
    }
    if rng.random_bool(0.7) {
        let country = ["GB", "US", "IE", "FR"][rng.random_range(0..4)];
        let tier = ["bronze", "silver", "gold"][rng.random_range(0..3)];
        events.push(json!({"type": "identify", "anonymousId": anon, "userId": user, "timestamp": tick(rng),
            "traits": {"email": format!("{user}@example.com"), "age": rng.random_range(16..80), "country": country, "tier": tier}}));
        for _ in 0..rng.random_range(0..4) {
            let touchpoint = TOUCHPOINTS[rng.random_range(0..TOUCHPOINTS.len())];
            events.push(json!({"type": "track", "userId": user, "event": "Order Completed", "timestamp": tick(rng),
                "properties": {"revenue": (rng.random_range(500..20_000) as f64) / 100.0, "touchpoint": touchpoint}}));
        }
        if rng.random_bool(0.2) {
            events.push(json!({"type": "track", "userId": user, "event": "Call Completed", "timestamp": tick(rng),
                "properties": {"minutes": rng.random_range(1..30), "touchpoint": "call_centre"}}));
        }
        if rng.random_bool(0.3) {
            events.push(json!({"type": "screen", "userId": user, "name": "Loyalty", "timestamp": tick(rng), "context": {"app": {"name": "allele-shop"}}}));
        }
    }
    events
}

async fn send(
    app: &axum::Router,
    path: &str,
    key: &str,
    body: &Value,
    gpc: bool,
) -> Result<Value, String> {
    let auth = format!("Basic {}", base64_user(key));
    crate::demo_story::call(
        app,
        "POST",
        path,
        &auth,
        &[("sec-gpc", if gpc { "1" } else { "0" })],
        body.to_string(),
    )
    .await
}

fn base64_user(key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
}

pub async fn run(args: DemoArgs) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("allele-demo-{:08x}", rand::random::<u32>()));
    let store = crate::cli::open_store(&dir)?;
    let created = store
        .write(1, |conn| keys::create_workspace(conn, "default", now_ms()))
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on `{}`: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state = AppState::new(store, Config::default());
    let app = allele_server::router(state.clone());
    // Served from the start: the edges of the third act talk to it over HTTP.
    let serving = tokio::spawn(allele_server::serve(state.clone(), listener));

    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let start_ms = now_ms() - args.days as i64 * 86_400_000;
    let mut sent = 0usize;
    let mut batch = Vec::new();
    for index in 0..args.customers {
        let story = customer_story(&mut rng, index, args.days, start_ms);
        // One in ten browsers sends Global Privacy Control.
        if index % 10 == 3 {
            sent += story.len();
            send(
                &app,
                "/v1/batch",
                &created.write_key,
                &json!({"batch": story}),
                true,
            )
            .await?;
            continue;
        }
        batch.extend(story);
        if batch.len() >= 400 {
            sent += batch.len();
            send(
                &app,
                "/v1/batch",
                &created.write_key,
                &json!({"batch": std::mem::take(&mut batch)}),
                false,
            )
            .await?;
        }
    }
    if !batch.is_empty() {
        sent += batch.len();
        send(
            &app,
            "/v1/batch",
            &created.write_key,
            &json!({"batch": batch}),
            false,
        )
        .await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let counts = state
        .store
        .read(|conn| {
            let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok(json!({
                "events": count("SELECT COUNT(*) FROM events")?,
                "profiles": count("SELECT COUNT(*) FROM profiles WHERE merged_into IS NULL")?,
                "merges": count("SELECT COUNT(*) FROM merges")?,
                "gpc_opt_outs": count("SELECT COUNT(*) FROM consents WHERE source = 'gpc'")?,
                "revenue": conn.query_row("SELECT COALESCE(SUM(json_extract(body, '$.properties.revenue')), 0) FROM events WHERE name = 'Order Completed'", [], |r| r.get::<_, f64>(0))?,
            }))
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut marketing = crate::demo_story::run(
        &app,
        &created.admin_key,
        &created.write_key,
        args.customers,
        args.seed,
    )
    .await?;
    let decide_key = state
        .store
        .write(1, |conn| {
            keys::create_key(conn, "default", allele_store::Role::Decide, now_ms())
        })
        .await
        .map_err(|e| e.to_string())?;
    let edges = crate::demo_edges::run(crate::demo_edges::Act {
        state: &state,
        app: &app,
        centre: addr,
        admin_key: &created.admin_key,
        decide_key: &decide_key,
        dir: &dir,
        customers: args.customers,
        seed: args.seed,
    })
    .await?;
    let portal = crate::demo_story::call(
        &app,
        "POST",
        "/v1/profiles/user_id:cust-1/tokens",
        &format!("Bearer {}", created.admin_key),
        &[("host", &addr.to_string())],
        String::new(),
    )
    .await?;
    // Measured last: the edges' decisions and outcomes count too.
    let measured = crate::demo_story::measure(&app, &created.admin_key).await?;
    if let (Some(marketing), Some(measured)) = (marketing.as_object_mut(), measured.as_object()) {
        marketing.extend(measured.clone());
    }
    let elapsed_story = started.elapsed().as_secs_f64();
    let summary = json!({
        "data_dir": dir.display().to_string(),
        "story_seconds": (elapsed_story * 1000.0).round() / 1000.0,
        "marketing": marketing,
        "edges": edges["edges"],
        "call_centre_offline": edges["call_centre_offline"],
        "consent_withdrawn": edges["consent_withdrawn"],
        "learning": edges["learning"],
        "customers": args.customers,
        "days": args.days,
        "events_sent": sent,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "events_per_sec": (sent as f64 / elapsed.max(1e-9)).round(),
        "stored": counts,
        "write_key": created.write_key,
        "admin_key": created.admin_key,
        "urls": {
            "api": format!("http://{addr}"),
            "console": format!("http://{addr}/login (log in with the admin_key)"),
            "edges": format!("http://{addr}/edges"),
            "portal": portal["login_url"],
            "profile": format!("http://{addr}/v1/profiles/user_id:cust-1"),
            "metrics": format!("http://{addr}/metrics"),
        },
        "try": format!("curl -H 'Authorization: Bearer {}' http://{addr}/v1/profiles/user_id:cust-1", created.admin_key),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
    );
    if args.exit_after_story {
        return Ok(());
    }
    eprintln!(
        "serving on http://{addr}; press Ctrl-C to stop (data in {})",
        dir.display()
    );
    serving
        .await
        .map_err(|e| format!("server failed: {e}"))?
        .map_err(|e| format!("server failed: {e}"))
}
