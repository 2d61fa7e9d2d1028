//! The fast path and borrowed slots must give exactly what the general path
//! over owned values gives: the same value, the same error message, the same
//! budget.

use proptest::prelude::*;
use serde_json::json;

use crate::cel::eval::{Activation, evaluate, evaluate_general};
use crate::cel::value::MapKey;
use crate::cel::{Expression, Resolver, SlotPath, SlotTable, Value};
use crate::decide::{DecisionInput, InputResolver};

/// The reference for slot values: the whole `profile` or `context` built as
/// one owned value (the resolver's owned code), then walked key by key.
struct Owned<'a>(InputResolver<'a>);

impl Resolver for Owned<'_> {
    fn resolve(&self, path: &SlotPath) -> Option<Value> {
        let root = SlotPath {
            root: path.root,
            keys: Vec::new(),
        };
        let mut value = self.0.resolve(&root)?;
        for key in &path.keys {
            let Value::Map(map) = value else {
                return None;
            };
            value = map.get(&MapKey::String(key.clone()))?.clone();
        }
        Some(value)
    }
}

fn input(segments: Vec<String>) -> DecisionInput {
    let mut input: DecisionInput = serde_json::from_value(json!({
        "profile": {
            "id": "customer-42",
            "traits": {"age": 34, "country": "IE", "name": "Ada", "ltv": 830.5, "flag": true,
                       "nothing": null, "tags": ["a", "b", 3], "address": {"city": "Leeds"},
                       "big": 18446744073709551615u64, "neg": -2},
            "segments": ["newsletter", "vip"],
            "consent": [{"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"},
                        {"purpose": "dpv:DirectMarketing", "channel": "email", "status": "withdrawn"},
                        {"purpose": "dpv:DirectMarketing", "channel": "web", "status": "given"}],
            "event_count": 12,
            "first_seen": 1_700_000_000_000_i64
        },
        "request": {"touchpoint": "web", "channel": "email", "context": {"page": "home", "n": 2}},
        "now_ms": 1_780_000_000_000_i64,
        "seed": 7
    }))
    .unwrap();
    if !segments.is_empty() {
        input.profile.segments = segments;
    }
    input
}

/// Each way of evaluating `source`: fast path with borrowed slots, general
/// path with borrowed slots, and the reference: the general path with owned
/// slots, where every operator works on owned values as it always did.
fn three_ways(source: &str, input: &DecisionInput) -> [Result<Value, String>; 3] {
    let mut slots = SlotTable::default();
    let expression = match Expression::compile(source, &mut slots) {
        Ok(expression) => expression,
        Err(err) => return std::array::from_fn(|_| Err(format!("compile: {}", err.message))),
    };
    let owned = Owned(InputResolver { input });
    // `None`: the slots are read by their access plans, as in a decision
    let run = |resolver: Option<&dyn Resolver>, general: bool| {
        let mut activation = match resolver {
            Some(resolver) => Activation::new(&slots, resolver, input.now_ms),
            None => Activation::for_input(&slots, input, input.now_ms),
        };
        let result = if general {
            evaluate_general(&expression.node, &mut activation)
        } else {
            evaluate(&expression.node, &mut activation)
        };
        result.map_err(|err| err.message)
    };
    [run(None, false), run(None, true), run(Some(&owned), true)]
}

const ATOMS: &[&str] = &[
    "profile.traits.age >= 18",
    "profile.traits.age < 30.5",
    "profile.traits.age <= 34",
    "profile.traits.age > 34",
    "profile.traits.age == 34u",
    "profile.traits.age != 34.0",
    "profile.traits.big > profile.traits.age",
    "profile.traits.neg < 0u",
    "profile.traits.ltv > 800",
    "profile.traits.country in ['GB', 'US', 'IE']",
    "profile.traits.country in ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'IE', 'IE']",
    "profile.traits.age in ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']",
    "profile.traits.country in [1, 'IE', 2.0]",
    "profile.traits.age in [34.0, 35]",
    "'vip' in profile.segments",
    "'excluded' in profile.segments",
    "1 in profile.segments",
    "'a' in profile.traits.tags",
    "3 in profile.traits.tags",
    "'age' in profile.traits",
    "profile.traits.country in profile.traits.tags",
    "profile.traits.tags == ['a', 'b', 3]",
    "profile.traits.tags[0] == 'a'",
    "profile.traits.address.city == 'Leeds'",
    "profile.traits.address == {'city': 'Leeds'}",
    "profile.traits.name > 'A'",
    "profile.traits.name <= profile.traits.country",
    "profile.traits.name < 3",
    "profile.traits.name == 3",
    "profile.traits.flag",
    "profile.traits.flag == true",
    "profile.traits.flag != false",
    "profile.traits.flag < true",
    "profile.traits.nothing == null",
    "profile.traits.age",
    "profile.traits.name",
    "profile.traits.missing == 1",
    "profile.traits.missing",
    "has(profile.traits.name)",
    "has(profile.traits.missing)",
    "profile.traits.ltv / 0.0 > 1.0",
    "profile.consent['dpv:DirectMarketing'].email == 'given'",
    "profile.consent['dpv:DirectMarketing'].email == 'withdrawn'",
    "profile.consent['dpv:DirectMarketing'].sms == 'given'",
    "profile.consent['dpv:DirectMarketing'] == {'email': 'withdrawn', 'web': 'given'}",
    "context.touchpoint == 'web'",
    "context.channel in ['email']",
    "context.page.startsWith('h')",
    "context.n * 2 == 4",
    "profile.id == 'customer-42'",
    "profile.id.size() == 11",
    "profile.event_count > 3",
    "profile.first_seen < now",
    "size(profile.segments) > 1",
    "profile.segments == ['newsletter', 'vip']",
    "profile.segments.exists(s, s == 'vip')",
    "true",
    "false",
    "1 / 0 == 1",
    // shapes the fast path settles without views, and near misses of them
    "profile.traits.age == 34",
    "profile.traits.age != 18",
    "profile.traits.neg <= -2",
    "profile.traits.big == 1",
    "profile.traits.ltv == 830",
    "profile.traits.flag == false",
    "profile.traits.flag >= true",
    "profile.traits.country == true",
    "profile.traits.age in [34, 35]",
    "profile.traits.missing in ['a']",
    "profile.traits.missing != 3",
    "profile.id in ['customer-42']",
    "context.touchpoint in []",
    "profile.consent['dpv:DirectMarketing'].email in ['withdrawn']",
    "'a' in profile.traits.tags",
    "'vip' in profile.traits.missing",
    "'vip' in profile.id",
];

fn expression() -> impl Strategy<Value = String> {
    let atom = (0..ATOMS.len()).prop_map(|i| ATOMS[i].to_string());
    atom.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| format!("!({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| format!("({a}) ? ({b}) : ({c})")),
        ]
    })
}

#[test]
fn every_atom_agrees() {
    let input = input(Vec::new());
    let mut answers = std::collections::BTreeSet::new();
    for source in ATOMS {
        let [fast, general, owned] = three_ways(source, &input);
        answers.insert(format!("{fast:?}"));
        assert_eq!(fast, owned, "`{source}`: fast vs reference");
        assert_eq!(general, owned, "`{source}`: general vs reference");
    }
    // the atoms cover true, false, non-booleans and several errors
    assert!(answers.len() >= 8, "{answers:?}");
    assert!(answers.contains("Ok(Bool(true))") && answers.contains("Ok(Bool(false))"));
}

#[test]
fn the_budget_is_the_same_on_both_paths() {
    // 30,000 segments: each `in` over them costs 30,000 steps, so three
    // pass and the fourth runs out
    let segments: Vec<String> = (0..30_000).map(|i| format!("s{i}")).collect();
    let input = input(segments);
    let three =
        "!('x' in profile.segments) && !('y' in profile.segments) && !('z' in profile.segments)";
    let [fast, general, owned] = three_ways(three, &input);
    assert_eq!(fast, Ok(Value::Bool(true)));
    assert_eq!(fast, general);
    assert_eq!(general, owned);
    let four = format!("{three} && !('w' in profile.segments)");
    let [fast, general, owned] = three_ways(&four, &input);
    assert_eq!(
        fast,
        Err("evaluation exceeded its budget of 100000 steps".to_string())
    );
    assert_eq!(fast, general);
    assert_eq!(general, owned);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fast_path_and_borrowed_slots_agree_with_the_general_path(source in expression()) {
        let input = input(Vec::new());
        let [fast, general, owned] = three_ways(&source, &input);
        prop_assert_eq!(&fast, &owned, "fast vs reference: `{}`", source);
        prop_assert_eq!(&general, &owned, "general vs reference: `{}`", source);
    }
}
