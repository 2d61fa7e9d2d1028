//! A small policy and input builders shared by the integration tests.

use allele_engine::{
    Bundle, ConsentRecord, ConsentStatus, DecisionInput, DecisionRequest, ProfileView, compile,
};
use serde_json::json;

pub const POLICY: &str = r#"
holdout: { universal: 0.1, salt: "2026-q4" }
selection: SELECTION
epsilon: 0.25
actions:
  - id: gold_card
    channels: [email, web]
    purpose: dpv:DirectMarketing
    value: 120.0
    eligibility: 'profile.traits.age >= 18 && profile.traits.country in ["GB", "US", "IE"]'
    applicability: 'context.touchpoint in ["web", "app"]'
    suitability: '!("excluded" in profile.segments)'
    propensity: { model: thompson, prior: [1, 20] }
    caps: { per_customer: { count: 2, per: 7d } }
  - id: silver_card
    channels: [email, web, sms]
    purpose: dpv:DirectMarketing
    value: 40.0
    propensity: { expression: "profile.traits.age > 30 ? 0.2 : 0.1" }
  - id: newsletter
    channels: [email]
    purpose: dpv:Marketing
    value: 5.0
    context_weight: '"vip" in profile.segments ? 2.0 : 1.0'
    propensity: { expression: "0.3" }
  - id: order_update
    channels: [email, sms]
    purpose: dpv:ServiceProvision
    kind: transactional
    propensity: { expression: "1.0" }
"#;

pub const PURPOSES: &[&str] = &[
    "dpv:DirectMarketing",
    "dpv:Marketing",
    "dpv:ServiceProvision",
];
pub const CHANNELS: &[&str] = &["email", "web", "sms", "*"];

pub fn bundle(selection: &str, version: u64) -> Bundle {
    compile(&POLICY.replace("SELECTION", selection), version, &[])
        .unwrap()
        .bundle
}

pub fn input(
    id: &str,
    age: i64,
    country: &str,
    segments: Vec<String>,
    consent: Vec<ConsentRecord>,
    channel: &str,
    seed: u64,
) -> DecisionInput {
    DecisionInput {
        profile: ProfileView {
            id: id.to_string(),
            traits: json!({"age": age, "country": country})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            segments,
            consent,
            ..ProfileView::default()
        },
        request: DecisionRequest {
            touchpoint: "web".into(),
            channel: channel.into(),
            context: serde_json::Map::new(),
            limit: 4,
        },
        now_ms: 1_780_000_000_000,
        seed,
        workspace_salt: "ws".into(),
        contact_history: Default::default(),
        customer_caps: None,
        arm_stats: Default::default(),
        linear_stats: Default::default(),
    }
}

pub fn record(purpose: &str, channel: &str, status: ConsentStatus) -> ConsentRecord {
    ConsentRecord {
        purpose: purpose.into(),
        channel: channel.into(),
        status,
    }
}
