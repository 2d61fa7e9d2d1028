//! The second act of `allele demo`: rules, decisions with a holdout,
//! outcomes, listening, and the measurements that prove what marketing
//! earned — every step through the real HTTP handlers.

use axum::body::Body;
use axum::http::Request;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tower::ServiceExt;

const POLICY: &str = r#"
holdout: { universal: 0.1, salt: "demo" }
selection: top
actions:
  - id: gold_card
    channels: [email, web]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 120.0
    cost: 2.5
    eligibility: 'profile.traits.age >= 18 && profile.traits.country in ["GB", "US", "IE"]'
    propensity: { expression: "0.06" }
    caps: { per_customer: { count: 2, per: 7d } }
  - id: loyalty_points
    channels: [email, web, app]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 15.0
    cost: 0.2
    eligibility: 'profile.traits.tier in ["silver", "gold"]'
    propensity:
      model: contextual
      prior: [2, 8]
      features: ['profile.traits.tier == "gold"']
  - id: order_update
    channels: [email]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { expression: "0.5" }
"#;

const POSTS: &[&str] = &[
    "I love the new loyalty app, checkout is SO fast!!!",
    "The store staff were helpful and kind :)",
    "Delivery was late again. Not happy.",
    "meh, the card offer is ok but the fees are not great",
    "Absolutely terrible customer service, never again",
    "Great prices this week, really impressed",
    "The call centre fixed my problem in two minutes, thanks!",
    "App keeps crashing :( please fix",
];

/// One request through the real router, in process: the JSON answer, or
/// the error body as a message.
pub async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    auth: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Result<Value, String> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", auth);
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body)).map_err(|e| e.to_string())?;
    let response = app
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("`{method} {path}` answered {status}: {value}"));
    }
    Ok(value)
}

fn round(x: Option<f64>, digits: i32) -> Value {
    let scale = 10f64.powi(digits);
    x.map_or(Value::Null, |x| json!((x * scale).round() / scale))
}

/// Publish the rules, record consent, decide for every known customer,
/// let some convert (the treated more often), listen to social posts, and
/// return the measured story.
pub async fn run(
    app: &axum::Router,
    admin_key: &str,
    write_key: &str,
    customers: usize,
    seed: u64,
) -> Result<Value, String> {
    let bearer = format!("Bearer {admin_key}");
    let basic = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{write_key}:"))
        )
    };
    let published = call(
        app,
        "PUT",
        "/v1/policies",
        &bearer,
        &[("content-type", "application/yaml")],
        POLICY.to_string(),
    )
    .await?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0xdeca);
    let (mut decisions, mut offers, mut conversions) = (0usize, 0usize, 0usize);
    for index in 0..customers {
        let user = format!("cust-{index}");
        if rng.random_bool(0.6) {
            let consent =
                json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"})
                    .to_string();
            // Anonymous-only visitors have no user_id profile yet: skip them.
            if call(
                app,
                "PUT",
                &format!("/v1/profiles/user_id:{user}/consent"),
                &bearer,
                &[],
                consent,
            )
            .await
            .is_err()
            {
                continue;
            }
        }
        let request = json!({"user_id": user, "touchpoint": "web", "channel": "email", "context": {"campaign": "autumn"}}).to_string();
        let Ok(decision) = call(app, "POST", "/v1/decide", &bearer, &[], request).await else {
            continue;
        };
        decisions += 1;
        let offered = decision["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["action_id"] != "order_update");
        offers += usize::from(offered);
        // Marketing works, a little: 9 % buy after an offer, 5 % without.
        if rng.random_bool(if offered { 0.09 } else { 0.05 }) {
            conversions += 1;
            let revenue = f64::from(rng.random_range(40..400));
            let event = json!({"userId": user, "event": "Card Applied", "properties": {"revenue": revenue, "decision_id": decision["decision_id"]}});
            call(app, "POST", "/v1/track", &basic, &[], event.to_string()).await?;
        }
    }
    let mut posts = Vec::new();
    for index in 0..300 {
        let text = POSTS[rng.random_range(0..POSTS.len())];
        let author = format!("cust-{}", rng.random_range(0..customers.max(1)));
        posts.push(json!({"type": "track", "userId": author, "event": "Social Post Observed",
                          "properties": {"text": text, "network": "social", "post_id": format!("post-{index}")}}));
    }
    let texts: Vec<Value> = posts
        .iter()
        .map(|p| p["properties"]["text"].clone())
        .collect();
    call(
        app,
        "POST",
        "/v1/batch",
        &basic,
        &[],
        json!({"batch": posts}).to_string(),
    )
    .await?;
    let scores = call(
        app,
        "POST",
        "/v1/sentiment",
        &bearer,
        &[],
        json!({"texts": texts}).to_string(),
    )
    .await?;
    let compound: Vec<f64> = scores["scores"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["compound"].as_f64())
        .collect();
    let mean_compound = compound.iter().sum::<f64>() / compound.len().max(1) as f64;
    let negative = compound.iter().filter(|c| **c <= -0.05).count();

    Ok(json!({
        "policy_version": published["version"],
        "decisions": decisions,
        "marketing_offers": offers,
        "conversions": conversions,
        "sentiment": {"posts": compound.len(), "mean_compound": round(Some(mean_compound), 4), "negative_posts": negative},
    }))
}

/// The measurements, read once every act has run: the universal holdout
/// against the treated, and the gold card's lift and ROI.
pub async fn measure(app: &axum::Router, admin_key: &str) -> Result<Value, String> {
    let bearer = format!("Bearer {admin_key}");
    let lift = call(
        app,
        "GET",
        "/v1/reports/lift?metric=Card%20Applied&value=revenue&action=gold_card",
        &bearer,
        &[],
        String::new(),
    )
    .await?;
    let holdout = call(
        app,
        "GET",
        "/v1/reports/experiments/holdout-demo?metric=Card%20Applied&value=revenue&control=holdout&split=0.1,0.9",
        &bearer,
        &[],
        String::new(),
    )
    .await?;
    let comparison = &holdout["comparisons"][0];
    Ok(json!({
        "holdout_experiment": {
            "treated_rate": round(holdout["variations"][1]["rate"].as_f64(), 4),
            "holdout_rate": round(holdout["variations"][0]["rate"].as_f64(), 4),
            "lift_abs": round(comparison["lift_abs"].as_f64(), 4),
            "lift_abs_ci": [round(comparison["lift_abs_ci"][0].as_f64(), 4), round(comparison["lift_abs_ci"][1].as_f64(), 4)],
            "p": round(comparison["p"].as_f64(), 4),
            "p_better": round(comparison["p_better"].as_f64(), 3),
            "srm_p": round(holdout["srm_p"].as_f64(), 4),
        },
        "gold_card": {
            "incremental_revenue": round(lift["incremental_revenue"].as_f64(), 2),
            "cost": round(lift["cost"].as_f64(), 2),
            "roi": round(lift["roi"].as_f64(), 2),
        },
    }))
}
