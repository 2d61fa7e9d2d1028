//! Pipeline tests and snapshot tests of explanation traces.

use serde_json::json;

use super::*;
use crate::compile;

pub const POLICY: &str = r#"
holdout: { universal: 0.0, salt: "s1" }
selection: top
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
    channels: [email, web]
    purpose: dpv:DirectMarketing
    value: 40.0
    propensity: { expression: "0.1" }
  - id: order_update
    channels: [email, sms]
    purpose: dpv:ServiceProvision
    kind: transactional
    value: 1.0
    propensity: { expression: "1.0" }
  - id: sms_promo
    channels: [sms]
    purpose: dpv:DirectMarketing
    value: 10.0
  - id: risky
    channels: [email, web]
    purpose: dpv:DirectMarketing
    eligibility: 'profile.traits.age / profile.traits.zero > 1'
"#;

pub const NOW: i64 = 1_780_000_000_000;

pub fn bundle(source: &str) -> Bundle {
    compile(source, 5, &[]).unwrap().bundle
}

pub fn input() -> DecisionInput {
    serde_json::from_value(json!({
        "profile": {
            "id": "p1",
            "traits": {"age": 34, "country": "GB", "zero": 0},
            "segments": ["newsletter"],
            "consent": [{"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"}]
        },
        "request": {"touchpoint": "web", "channel": "email", "limit": 1},
        "now_ms": NOW,
        "seed": 42
    }))
    .unwrap()
}

fn stage_of(decision: &Decision, id: &str) -> (Stage, Outcome) {
    let entry = decision.trace.iter().find(|e| e.action_id == id).unwrap();
    (entry.stage, entry.outcome)
}

#[test]
fn picks_the_highest_score_and_explains_the_rest() {
    let decision = decide(&bundle(POLICY), &input());
    assert_eq!(decision.bundle_version, 5);
    let chosen = &decision.actions[0];
    // gold: 1/21 × 120 ≈ 5.71 beats silver: 0.1 × 40 = 4
    assert_eq!(chosen.action_id, "gold_card");
    assert_eq!(chosen.probability, 1.0);
    assert!((chosen.propensity - 1.0 / 21.0).abs() < 1e-12);
    assert_eq!(
        stage_of(&decision, "silver_card"),
        (Stage::Selection, Outcome::NotSelected)
    );
    assert_eq!(
        stage_of(&decision, "sms_promo"),
        (Stage::Channel, Outcome::Excluded)
    );
    assert_eq!(
        stage_of(&decision, "risky"),
        (Stage::Eligibility, Outcome::Excluded)
    );
    assert_eq!(decision.trace.len(), 5);
    let risky = decision
        .trace
        .iter()
        .find(|e| e.action_id == "risky")
        .unwrap();
    assert!(
        risky.reason.contains("division by zero"),
        "{}",
        risky.reason
    );
    let pmf: f64 = decision.candidates.iter().map(|c| c.probability).sum();
    assert!((pmf - 1.0).abs() < 1e-12);
}

#[test]
fn missing_trait_excludes_with_reason() {
    let mut input = input();
    input.profile.traits.remove("age");
    let decision = decide(&bundle(POLICY), &input);
    assert_eq!(
        stage_of(&decision, "gold_card"),
        (Stage::Eligibility, Outcome::Excluded)
    );
    let gold = decision
        .trace
        .iter()
        .find(|e| e.action_id == "gold_card")
        .unwrap();
    assert!(
        gold.reason.contains("`profile.traits.age` is missing"),
        "{}",
        gold.reason
    );
}

#[test]
fn consent_gate_blocks_marketing_but_not_transactional() {
    let mut input = input();
    input.profile.consent.push(ConsentRecord {
        purpose: "dpv:DirectMarketing".into(),
        channel: "*".into(),
        status: ConsentStatus::Withdrawn,
    });
    input.request.limit = 5;
    let decision = decide(&bundle(POLICY), &input);
    let ids: Vec<&str> = decision
        .actions
        .iter()
        .map(|a| a.action_id.as_str())
        .collect();
    assert_eq!(ids, ["order_update"]);
    assert_eq!(
        stage_of(&decision, "gold_card"),
        (Stage::Consent, Outcome::Excluded)
    );
}

#[test]
fn contact_cap_counts_past_returns() {
    let mut input = input();
    let day = 86_400_000;
    input
        .contact_history
        .insert("gold_card".into(), vec![NOW - day, NOW - 2 * day]);
    let decision = decide(&bundle(POLICY), &input);
    assert_eq!(
        stage_of(&decision, "gold_card"),
        (Stage::ContactCaps, Outcome::Excluded)
    );
    input
        .contact_history
        .insert("gold_card".into(), vec![NOW - day, NOW - 8 * day]);
    assert_eq!(
        decide(&bundle(POLICY), &input).actions[0].action_id,
        "gold_card"
    );
}

#[test]
fn customer_caps_and_quiet_hours_skip_transactional() {
    let mut input = input();
    input.customer_caps = Some(CustomerCaps {
        quiet_now: true,
        ..CustomerCaps::default()
    });
    input.request.limit = 5;
    let decision = decide(&bundle(POLICY), &input);
    let ids: Vec<&str> = decision
        .actions
        .iter()
        .map(|a| a.action_id.as_str())
        .collect();
    assert_eq!(ids, ["order_update"]);
    assert_eq!(
        stage_of(&decision, "silver_card"),
        (Stage::CustomerCaps, Outcome::Excluded)
    );
}

#[test]
fn held_out_customers_get_only_transactional_actions() {
    let source = POLICY.replace("universal: 0.0", "universal: 1.0");
    let mut input = input();
    input.request.limit = 5;
    let decision = decide(&bundle(&source), &input);
    assert!(decision.holdout);
    let ids: Vec<&str> = decision
        .actions
        .iter()
        .map(|a| a.action_id.as_str())
        .collect();
    assert_eq!(ids, ["order_update"]);
    assert_eq!(
        stage_of(&decision, "gold_card"),
        (Stage::Holdout, Outcome::Excluded)
    );
}

#[test]
fn context_sees_touchpoint_and_channel() {
    let source = POLICY.replace(
        "applicability: 'context.touchpoint in [\"web\", \"app\"]'",
        "applicability: 'context.channel == \"email\" && context.touchpoint == \"web\" && context.page == \"home\"'",
    );
    let mut input = input();
    input.request.context.insert("page".into(), json!("home"));
    input
        .request
        .context
        .insert("touchpoint".into(), json!("spoofed"));
    assert_eq!(
        decide(&bundle(&source), &input).actions[0].action_id,
        "gold_card"
    );
}

#[test]
fn thompson_and_epsilon_report_probabilities() {
    let source = POLICY.replace("selection: top", "selection: epsilon\nepsilon: 0.2");
    let decision = decide(&bundle(&source), &input());
    // gold, silver, order_update pass on email
    assert_eq!(decision.candidates.len(), 3);
    let top = decision
        .candidates
        .iter()
        .find(|c| c.action_id == "gold_card")
        .unwrap();
    assert!((top.probability - (0.2 / 3.0 + 0.8)).abs() < 1e-12);

    let source = POLICY.replace("selection: top", "selection: thompson");
    let mut input = input();
    input.arm_stats.insert(
        "gold_card".into(),
        ArmStats {
            successes: 30.0,
            failures: 70.0,
        },
    );
    let decision = decide(&bundle(&source), &input);
    let total: f64 = decision.candidates.iter().map(|c| c.probability).sum();
    assert!((total - 1.0).abs() < 1e-9);
    assert!(decision.actions[0].probability > 0.0);
}

#[test]
fn empty_bundle_still_has_a_trace() {
    let decision = decide(&bundle("actions: []\n"), &input());
    assert!(decision.actions.is_empty());
    assert_eq!(decision.trace.len(), 1);
    assert_eq!(decision.trace[0].stage, Stage::Bundle);
}

#[test]
fn out_of_range_propensity_and_bad_weight_exclude() {
    let source = POLICY
        .replace(
            "propensity: { expression: \"0.1\" }",
            "propensity: { expression: \"1.5\" }",
        )
        .replace(
            "    value: 1.0\n",
            "    value: 1.0\n    context_weight: 'profile.traits.country'\n",
        );
    let mut input = input();
    input.request.limit = 5;
    let decision = decide(&bundle(&source), &input);
    assert_eq!(
        stage_of(&decision, "silver_card"),
        (Stage::Propensity, Outcome::Excluded)
    );
    assert_eq!(
        stage_of(&decision, "order_update"),
        (Stage::Arbitration, Outcome::Excluded)
    );
}

#[test]
fn trace_snapshot_for_a_small_policy() {
    let mut input = input();
    input.request.limit = 2;
    let decision = decide(&bundle(POLICY), &input);
    insta::assert_json_snapshot!("trace_top_email", decision);
    let mut input = crate::decide::tests::input();
    input.request.channel = "sms".into();
    input.profile.consent.clear();
    insta::assert_json_snapshot!("trace_sms_no_consent", decide(&bundle(POLICY), &input));
}

const CONTEXTUAL: &str = r#"
selection: thompson
actions:
  - id: in_store_offer
    channels: [web]
    purpose: dpv:DirectMarketing
    value: 1.0
    propensity:
      model: contextual
      prior: [1, 1]
      features: ['context.touchpoint == "store"', 'double(profile.traits.age) / 100.0']
  - id: plain
    channels: [web]
    purpose: dpv:DirectMarketing
    value: 1.0
    propensity: { expression: "0.3" }
"#;

/// Offers logged in both touchpoints: the offer works in store (60%) and
/// not on the web (5%).
fn contextual_stats(bundle: &Bundle) -> crate::linear::LinearStats {
    let Propensity::Linear { key, .. } = &bundle.actions().next().unwrap().1.propensity else {
        panic!("not a linear model");
    };
    let mut stats = crate::linear::LinearStats::new(key, 3);
    for i in 0..400 {
        let store = i % 2 == 0;
        let rate = if store { 6 } else { 0 };
        let reward = ((i / 2) % 10 < rate) as u8 as f64;
        stats.add(&[1.0, f64::from(u8::from(store)), 0.34], reward);
    }
    stats
}

fn web_input() -> DecisionInput {
    let mut input = input();
    input.request.channel = "web".into();
    input.profile.consent.push(ConsentRecord {
        purpose: "dpv:DirectMarketing".into(),
        channel: "web".into(),
        status: ConsentStatus::Given,
    });
    input
}

#[test]
fn a_contextual_model_learns_where_an_action_works() {
    let bundle = bundle(CONTEXTUAL);
    let mut input = web_input();
    input
        .linear_stats
        .insert("in_store_offer".into(), contextual_stats(&bundle));
    let share = |touchpoint: &str, input: &mut DecisionInput| {
        input.request.touchpoint = touchpoint.into();
        let decision = decide(&bundle, input);
        let offer = decision
            .candidates
            .iter()
            .find(|c| c.action_id == "in_store_offer")
            .unwrap()
            .clone();
        (offer, decision)
    };
    let (store, decision) = share("store", &mut input);
    assert!(store.propensity > 0.5, "{store:?}");
    assert!(store.probability > 0.95, "{store:?}");
    let chosen = &decision.actions[0];
    assert_eq!(chosen.action_id, "in_store_offer");
    let features = chosen.features.as_ref().unwrap();
    assert_eq!(features.x, vec![1.0, 1.0, 0.34]);
    let (web, _) = share("web", &mut input);
    assert!(web.propensity < 0.1, "{web:?}");
    assert!(web.probability < 0.05, "{web:?}");
    // Without stats the prior (0.5 ± wide) keeps the offer in play on the web.
    input.linear_stats.clear();
    let (prior, _) = share("web", &mut input);
    assert!((prior.propensity - 0.5).abs() < 1e-9, "{prior:?}");
    assert!(
        prior.probability > 0.2 && prior.probability < 0.9,
        "{prior:?}"
    );
}

#[test]
fn a_failing_feature_excludes_the_action_at_propensity() {
    let source = CONTEXTUAL.replace("profile.traits.age", "profile.traits.missing");
    let decision = decide(&bundle(&source), &web_input());
    assert_eq!(
        stage_of(&decision, "in_store_offer"),
        (Stage::Propensity, Outcome::Excluded)
    );
}
