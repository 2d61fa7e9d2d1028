//! End-to-end tests of the rule language: source → compile → evaluate.

use serde_json::json;

use super::*;

/// Resolves paths by walking a JSON document `{"profile": …, "context": …}`.
struct JsonResolver(serde_json::Value);

impl Resolver for JsonResolver {
    fn resolve(&self, path: &SlotPath) -> Option<Value> {
        let root = match path.root {
            Root::Profile => "profile",
            Root::Context => "context",
        };
        let mut current = self.0.get(root)?;
        for key in &path.keys {
            current = current.get(&**key)?;
        }
        Some(Value::from_json(current))
    }
}

fn doc() -> serde_json::Value {
    json!({
        "profile": {
            "id": "p1",
            "traits": {"age": 34, "country": "GB", "score": 2.5, "name": "Ada", "tags": ["a", "b"],
                       "address": {"city": "Leeds"}},
            "computed": {"orders": 3},
            "segments": ["vip", "newsletter"],
            "consent": {"dpv:DirectMarketing": {"email": "given"}},
            "identities": [],
            "event_count": 12
        },
        "context": {"touchpoint": "web", "channel": "email", "cart": {"total": 120.5}}
    })
}

const NOW_MS: i64 = 1_780_000_000_000;

fn run(source: &str) -> Result<Value, String> {
    let mut slots = SlotTable::default();
    let expr =
        Expression::compile(source, &mut slots).map_err(|e| format!("compile: {}", e.message))?;
    let resolver = JsonResolver(doc());
    let mut activation = Activation::new(&slots, &resolver, NOW_MS);
    expr.evaluate(&mut activation).map_err(|e| e.message)
}

fn truth(source: &str) -> bool {
    match run(source) {
        Ok(Value::Bool(b)) => b,
        other => panic!("`{source}` gave {other:?}"),
    }
}

fn compile_error(source: &str) -> (String, (usize, usize)) {
    let mut slots = SlotTable::default();
    let err = Expression::compile(source, &mut slots).unwrap_err();
    (err.message, err.span.line_col(source))
}

#[test]
fn the_four_clause_rule() {
    assert!(truth(
        r#"profile.traits.age >= 18 && profile.traits.country in ["GB", "US", "IE"] && !("excluded" in profile.segments) && profile.consent["dpv:DirectMarketing"].email == "given""#
    ));
}

#[test]
fn literals_and_arithmetic() {
    for (source, want) in [
        ("1 + 2 * 3 == 7", true),
        ("7 / 2 == 3 && 7 % 2 == 1", true),
        ("-7 / 2 == -3", true),
        ("1u + 2u == 3u", true),
        ("1.5 + 1 == 2.5", true),
        ("'ab' + 'c' == 'abc'", true),
        ("[1, 2] + [3] == [1, 2, 3]", true),
        ("{'a': 1}['a'] == 1", true),
        ("null == null", true),
        ("1 == 1.0 && 1u == 1", true),
        ("0x10 == 16", true),
        ("true ? 1 : 2", false),
    ] {
        if source.starts_with("true ?") {
            assert_eq!(run(source), Ok(Value::Int(1)));
            continue;
        }
        assert_eq!(truth(source), want, "{source}");
    }
}

#[test]
fn division_by_zero_is_an_error_not_a_panic() {
    assert_eq!(run("1 / 0"), Err("division by zero".into()));
    assert_eq!(run("1 % 0"), Err("modulus by zero".into()));
    assert_eq!(
        run("profile.traits.score / 0"),
        Err("division by zero".into())
    );
    assert_eq!(
        run("-9223372036854775808 / -1"),
        Err("integer overflow".into())
    );
    assert_eq!(
        run("9223372036854775807 + 1"),
        Err("integer overflow".into())
    );
}

#[test]
fn fields_indexes_and_membership() {
    assert!(truth("profile.traits.address.city == 'Leeds'"));
    assert!(truth("profile.traits['address']['city'] == 'Leeds'"));
    assert!(truth("profile.traits.tags[1] == 'b'"));
    assert!(truth("'vip' in profile.segments"));
    assert!(truth("'age' in profile.traits"));
    assert!(truth("context.touchpoint in ['web', 'app']"));
    assert!(truth("context.cart.total > 100"));
    assert!(truth("profile.event_count == 12"));
    assert!(truth("profile.computed.orders >= 3"));
}

#[test]
fn missing_traits_are_errors_and_has_tests_presence() {
    let err = run("profile.traits.height > 180").unwrap_err();
    assert!(err.contains("`profile.traits.height`"), "{err}");
    assert!(!truth("has(profile.traits.height)"));
    assert!(truth("has(profile.traits.age)"));
    assert!(truth("has(profile.traits.address.city)"));
    // error absorption: the decisive side wins
    assert!(!truth("profile.traits.height > 180 && false"));
    assert!(truth("profile.traits.height > 180 || true"));
    assert!(run("profile.traits.height > 180 && true").is_err());
}

#[test]
fn string_functions() {
    assert!(truth("profile.traits.name.startsWith('A')"));
    assert!(truth("profile.traits.name.endsWith('da')"));
    assert!(truth("profile.traits.name.contains('d')"));
    assert!(truth("profile.traits.name.matches('^[A-Z][a-z]+$')"));
    assert!(truth("matches(profile.traits.name, 'd')"));
    assert!(truth(
        "size(profile.traits.name) == 3 && profile.segments.size() == 2"
    ));
    assert!(truth("profile.traits.name.lowerAscii() == 'ada'"));
}

#[test]
fn conversions_and_time() {
    assert!(truth(
        "int('42') == 42 && double(1) == 1.0 && string(7) == '7'"
    ));
    assert!(truth("int(2.9) == 2 && uint(3) == 3u"));
    assert!(truth("timestamp('2026-01-01T00:00:00Z') < now"));
    assert!(truth(
        "now - timestamp('2026-01-01T00:00:00Z') > duration('24h')"
    ));
    assert!(truth("duration('7d') == duration('168h')"));
    assert!(truth(
        "timestamp('2026-03-01T12:00:00Z').getFullYear() == 2026"
    ));
    assert!(run("int('x')").is_err());
    assert!(run("timestamp('yesterday')").is_err());
}

#[test]
fn macros() {
    assert!(truth("profile.segments.exists(s, s.startsWith('v'))"));
    assert!(truth("profile.segments.all(s, size(s) > 2)"));
    assert!(truth("profile.segments.exists_one(s, s == 'vip')"));
    assert!(truth("[1, 2, 3].map(x, x * 2) == [2, 4, 6]"));
    assert!(truth("[1, 2, 3].filter(x, x > 1) == [2, 3]"));
    assert!(truth("[[1], [2, 3]].exists(xs, xs.exists(x, x == 3))"));
    assert!(truth("{'a': 1}.all(k, k == 'a')"));
}

#[test]
fn unknown_profile_field_suggests() {
    let (message, position) = compile_error("'vip' in profile.segmnts");
    assert_eq!(
        message,
        "unknown field `profile.segmnts`; did you mean `segments`?"
    );
    assert_eq!(position, (1, 18));
    let (message, _) = compile_error("profile['trait'].age > 1");
    assert!(message.contains("did you mean `traits`"), "{message}");
}

#[test]
fn unknown_identifiers_and_functions_suggest() {
    let (message, position) = compile_error("true &&\n  profil.traits.age > 1");
    assert_eq!(
        message,
        "unknown identifier `profil`; did you mean `profile`?"
    );
    assert_eq!(position, (2, 3));
    let (message, _) = compile_error("profile.traits.name.startswith('A')");
    assert!(message.contains("did you mean `startsWith`"), "{message}");
    let (message, _) = compile_error("sise(profile.segments) > 1");
    assert!(message.contains("did you mean `size`"), "{message}");
    let (message, _) = compile_error("size(1, 2)");
    assert!(message.contains("takes 1 argument"), "{message}");
}

#[test]
fn static_type_errors() {
    let (message, _) = compile_error("1 + 'a'");
    assert_eq!(message, "no such overload `int + string`");
    let (message, _) = compile_error("profile.segments.vip");
    assert!(
        message.contains("is a list and has no field `vip`"),
        "{message}"
    );
    let (message, _) = compile_error("!1");
    assert!(message.contains("needs bool"), "{message}");
    assert!(compile_error("1 && true").0.contains("no such overload"));
    assert!(
        compile_error("'a'.matches('(')")
            .0
            .contains("invalid regular expression")
    );
}

#[test]
fn dynamic_type_errors_are_evaluation_errors() {
    assert!(run("profile.traits.name + 1 == 2").is_err());
    assert!(run("profile.traits.age && true").is_err());
    assert!(run("profile.traits.tags[5]").is_err());
    assert!(run("{'a': 1, 'a': 2}").is_err());
}

#[test]
fn budget_bounds_evaluation() {
    // 60 × 60 × 60 nested comprehension bodies exceed the step budget
    let source = "[0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9]";
    let expr = format!("{source}.all(a, {source}.all(b, {source}.all(c, a + b + c >= 0)))");
    let err = run(&expr).unwrap_err();
    assert!(err.contains("budget"), "{err}");
}

#[test]
fn slots_are_shared_across_expressions() {
    let mut slots = SlotTable::default();
    Expression::compile("profile.traits.age > 1", &mut slots).unwrap();
    Expression::compile(
        "profile.traits['age'] < 99 && has(profile.traits.age)",
        &mut slots,
    )
    .unwrap();
    assert_eq!(slots.len(), 1);
    assert_eq!(
        slots.paths().first().unwrap().to_string(),
        "profile.traits.age"
    );
}
