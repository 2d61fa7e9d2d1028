//! One four-clause eligibility rule (age >= 18, country in a list, segment
//! not excluded, consent true) on four engines, in one binary so that they
//! share the machine, the compiler and the allocator. Each engine gets its
//! rule compiled and its data parsed before the timed loop; only the
//! evaluation of the rule is timed.
//!
//! Run with `bench/engine-compare.sh` (or `cargo bench` in this directory).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a bench stops on a broken fixture"
)]

use std::collections::HashMap;

use allele_engine::DecisionInput;
use allele_engine::cel::{Activation, Expression, SlotTable, Value};
use datalogic_rs::{Engine, ParsedData};
use serde_json::json;
use unleash_yggdrasil::{ClientFeatures, Context, EngineState, UpdateMessage};

fn main() {
    agree_on_samples();
    divan::main();
}

/// The rule in CEL, as allele and the `cel` crate read it.
const CEL_RULE: &str = r#"profile.traits.age >= 18 && profile.traits.country in ["GB", "US", "IE"] && !("excluded" in profile.segments) && profile.traits.consent == true"#;

/// The same rule in JSONLogic, over the same (flattened) data.
fn jsonlogic_rule() -> serde_json::Value {
    json!({"and": [
        {">=": [{"var": "age"}, 18]},
        {"in": [{"var": "country"}, ["GB", "US", "IE"]]},
        {"!": {"in": ["excluded", {"var": "segments"}]}},
        {"==": [{"var": "consent"}, true]}
    ]})
}

/// One customer: (age, country, segments, consent).
struct Customer {
    age: i64,
    country: &'static str,
    segments: &'static [&'static str],
    consent: bool,
}

const ELIGIBLE: Customer = Customer {
    age: 34,
    country: "IE",
    segments: &["newsletter", "vip", "recent-buyer"],
    consent: true,
};

const SAMPLES: &[Customer] = &[
    ELIGIBLE,
    Customer {
        age: 17,
        country: "IE",
        segments: &[],
        consent: true,
    },
    Customer {
        age: 40,
        country: "FR",
        segments: &["vip"],
        consent: true,
    },
    Customer {
        age: 40,
        country: "GB",
        segments: &["excluded"],
        consent: true,
    },
    Customer {
        age: 40,
        country: "US",
        segments: &["vip"],
        consent: false,
    },
];

// ---- allele -------------------------------------------------------------

struct Allele {
    slots: SlotTable,
    rule: Expression,
}

impl Allele {
    fn new() -> Self {
        let mut slots = SlotTable::default();
        let rule = Expression::compile(CEL_RULE, &mut slots).unwrap();
        Allele { slots, rule }
    }

    fn input(customer: &Customer) -> DecisionInput {
        serde_json::from_value(json!({
            "profile": {
                "id": "customer-42",
                "traits": {"age": customer.age, "country": customer.country, "consent": customer.consent,
                           "plan": "gold", "email": "a@example.com", "city": "Cork", "orders": 12},
                "segments": customer.segments,
            },
            "request": {"touchpoint": "web", "channel": "email", "context": {}, "limit": 1},
            "now_ms": 1_780_000_000_000_i64,
            "seed": 7
        }))
        .unwrap()
    }

    /// A fresh activation: the four slots are resolved from the input each
    /// time, as for the first rule of a decision.
    fn eval(&self, input: &DecisionInput) -> bool {
        let mut activation = Activation::for_input(&self.slots, input, input.now_ms);
        matches!(self.rule.evaluate(&mut activation), Ok(Value::Bool(true)))
    }
}

// ---- datalogic-rs -------------------------------------------------------

fn datalogic_data(customer: &Customer) -> ParsedData {
    let data = json!({"age": customer.age, "country": customer.country, "segments": customer.segments,
                      "consent": customer.consent, "plan": "gold", "email": "a@example.com",
                      "city": "Cork", "orders": 12});
    ParsedData::from_json(&data.to_string()).unwrap()
}

// ---- cel (interpreter) --------------------------------------------------

fn cel_context(customer: &Customer) -> cel::Context<'static, 'static> {
    let profile = json!({
        "traits": {"age": customer.age, "country": customer.country, "consent": customer.consent,
                   "plan": "gold", "email": "a@example.com", "city": "Cork", "orders": 12},
        "segments": customer.segments,
    });
    let mut context = cel::Context::default();
    context.add_variable_from_value("profile", cel::to_value(profile).unwrap());
    context
}

// ---- unleash-yggdrasil --------------------------------------------------

fn unleash_engine() -> EngineState {
    let features: ClientFeatures = serde_json::from_value(json!({
        "version": 2,
        "features": [{
            "name": "eligible",
            "enabled": true,
            "strategies": [{
                "name": "default",
                "parameters": {},
                "constraints": [
                    {"contextName": "age", "operator": "NUM_GTE", "value": "18"},
                    {"contextName": "country", "operator": "IN", "values": ["GB", "US", "IE"]},
                    {"contextName": "segment", "operator": "NOT_IN", "values": ["excluded"]},
                    {"contextName": "consent", "operator": "IN", "values": ["true"]}
                ]
            }]
        }]
    }))
    .unwrap();
    let engine = EngineState::default();
    engine.take_state(UpdateMessage::FullResponse(features));
    engine
}

/// Unleash properties are single strings: the customer's one segment that
/// matters stands in for the list.
fn unleash_context(customer: &Customer) -> Context {
    let segment = if customer.segments.contains(&"excluded") {
        "excluded"
    } else {
        customer.segments.first().copied().unwrap_or("none")
    };
    let properties: HashMap<String, String> = [
        ("age", customer.age.to_string()),
        ("country", customer.country.to_string()),
        ("segment", segment.to_string()),
        ("consent", customer.consent.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Context {
        user_id: Some("customer-42".into()),
        properties: Some(properties),
        ..Context::default()
    }
}

/// Every engine must give the same answer on every sample, or the timings
/// would compare different work.
fn agree_on_samples() {
    let allele = Allele::new();
    let datalogic = Engine::new();
    let logic = datalogic.compile(&jsonlogic_rule().to_string()).unwrap();
    let program = cel::Program::compile(CEL_RULE).unwrap();
    let unleash = unleash_engine();
    for (i, customer) in SAMPLES.iter().enumerate() {
        let expected = i == 0;
        let a = allele.eval(&Allele::input(customer));
        let data = datalogic_data(customer);
        let mut session = datalogic.session();
        let d = session.eval_borrowed(&logic, &data).unwrap().as_bool() == Some(true);
        let c = program.execute(&cel_context(customer)).unwrap() == cel::Value::Bool(true);
        let u = unleash.is_enabled("eligible", &unleash_context(customer), &None);
        assert_eq!(
            [a, d, c, u],
            [expected; 4],
            "sample {i}: allele, datalogic, cel, unleash disagree"
        );
    }
}

#[divan::bench]
fn allele(bencher: divan::Bencher) {
    let allele = Allele::new();
    let input = Allele::input(&ELIGIBLE);
    bencher.bench_local(|| allele.eval(divan::black_box(&input)));
}

/// The same rule once its slots are resolved, as for the later rules of a
/// decision that read the same fields.
#[divan::bench]
fn allele_warm(bencher: divan::Bencher) {
    let allele = Allele::new();
    let input = Allele::input(&ELIGIBLE);
    let mut activation = Activation::for_input(&allele.slots, &input, input.now_ms);
    bencher.bench_local(|| {
        matches!(
            allele.rule.evaluate(divan::black_box(&mut activation)),
            Ok(Value::Bool(true))
        )
    });
}

#[divan::bench]
fn datalogic_rs(bencher: divan::Bencher) {
    let engine = Engine::new();
    let logic = engine.compile(&jsonlogic_rule().to_string()).unwrap();
    let data = datalogic_data(&ELIGIBLE);
    let mut session = engine.session();
    bencher.bench_local(|| {
        let result = session
            .eval_borrowed(&logic, divan::black_box(&data))
            .map(|v| v.as_bool());
        session.reset();
        result
    });
}

#[divan::bench]
fn cel_interpreter(bencher: divan::Bencher) {
    let program = cel::Program::compile(CEL_RULE).unwrap();
    let context = cel_context(&ELIGIBLE);
    bencher.bench_local(|| program.execute(divan::black_box(&context)));
}

#[divan::bench]
fn unleash_yggdrasil(bencher: divan::Bencher) {
    let engine = unleash_engine();
    let context = unleash_context(&ELIGIBLE);
    bencher.bench_local(|| engine.is_enabled("eligible", divan::black_box(&context), &None));
}
