//! The customer and 100-action policy shared by `benches/eval.rs` and
//! `examples/decide_latency.rs`.

use allele_engine::{Bundle, DecisionInput, compile};
use serde_json::json;

/// One customer who passes most rules.
pub fn input() -> DecisionInput {
    serde_json::from_value(json!({
        "profile": {
            "id": "customer-42",
            "traits": {"age": 34, "country": "IE", "plan": "gold", "email": "a@example.com", "city": "Cork",
                       "orders": 12, "ltv": 830.5, "newsletter": true},
            "segments": ["newsletter", "vip", "recent-buyer"],
            "consent": [{"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"},
                        {"purpose": "dpv:DirectMarketing", "channel": "web", "status": "given"}]
        },
        "request": {"touchpoint": "web", "channel": "email", "context": {"page": "home"}, "limit": 1},
        "now_ms": 1_780_000_000_000_i64,
        "seed": 7
    }))
    .unwrap_or_else(|err| panic!("bench input: {err}"))
}

/// A policy of 100 actions, varied so that some are excluded at each stage.
pub fn hundred_actions(selection: &str) -> Bundle {
    let mut policy = format!(
        "selection: {selection}\nepsilon: 0.1\nholdout: {{ universal: 0.02, salt: s }}\nactions:\n"
    );
    for i in 0..100 {
        let eligibility = match i % 4 {
            0 => format!(
                "profile.traits.age >= {} && profile.traits.country in [\"GB\", \"US\", \"IE\"]",
                18 + i % 30
            ),
            1 => format!(
                "profile.traits.orders > {} || \"vip\" in profile.segments",
                i % 20
            ),
            2 => format!(
                "profile.traits.plan == \"gold\" && profile.traits.ltv > {}.0",
                i * 5
            ),
            _ => "has(profile.traits.email) && profile.traits.newsletter".to_string(),
        };
        let propensity = if i % 2 == 0 {
            "{ model: thompson, prior: [1, 20] }".to_string()
        } else {
            format!("{{ expression: \"0.0{}\" }}", 1 + i % 9)
        };
        policy.push_str(&format!(
            "  - id: action_{i}\n    channels: [email, web]\n    purpose: dpv:DirectMarketing\n    value: {}.0\n    eligibility: '{}'\n    applicability: 'context.touchpoint in [\"web\", \"app\"]'\n    suitability: '!(\"excluded\" in profile.segments)'\n    propensity: {propensity}\n    caps: {{ per_customer: {{ count: 3, per: 7d }} }}\n",
            10 + i,
            eligibility
        ));
    }
    compile(&policy, 1, &[])
        .unwrap_or_else(|e| panic!("{e:?}"))
        .bundle
}
