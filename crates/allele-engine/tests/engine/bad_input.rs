//! Bad input at the edges: every case is a clear error, never a panic.

use allele_engine::{check, compile};

fn first_error(source: &str) -> String {
    match check(source, &[]) {
        Ok(report) => panic!("expected an error, got {report:?}"),
        Err(errors) => errors[0].message.clone(),
    }
}

fn policy_with(eligibility: &str) -> String {
    format!(
        "actions:\n  - id: a\n    channels: [email]\n    purpose: dpv:DirectMarketing\n    eligibility: {}\n",
        serde_json::to_string(eligibility).unwrap()
    )
}

#[test]
fn unknown_fields() {
    let message = first_error(&policy_with("true").replace("channels:", "chanels:"));
    assert_eq!(
        message,
        "unknown field `chanels` in action `a`; did you mean `channels`?"
    );
    let message = first_error(&policy_with("profile.segmnts.size() > 0"));
    assert!(message.contains("did you mean `segments`"), "{message}");
}

#[test]
fn wrong_types() {
    let message = first_error(&policy_with("true").replace("channels: [email]", "channels: email"));
    assert!(
        message.contains("invalid type: string \"email\", expected a sequence"),
        "{message}"
    );
    let message = first_error(&policy_with("size(profile.segments) + 'x' > 0"));
    assert!(
        message.contains("action `a`, eligibility 1:1: no such overload `int + string`"),
        "{message}"
    );
    let message = first_error(&policy_with("1 + 'x' > 0"));
    assert!(
        message.contains("no such overload `int + string`"),
        "{message}"
    );
}

#[test]
fn division_by_zero_compiles_and_excludes_at_decision_time() {
    // not a compile error: the divisor may be a trait; evaluation reports it
    assert!(check(&policy_with("profile.traits.age / 0 > 1"), &[]).is_ok());
}

#[test]
fn deep_nesting() {
    let deep = format!("{}true{}", "(".repeat(1000), ")".repeat(1000));
    let message = first_error(&policy_with(&deep));
    assert!(message.contains("nests deeper than"), "{message}");
    let message = first_error(&policy_with(&format!("{}true", "!".repeat(1000))));
    assert!(message.contains("nests deeper than"), "{message}");
    let nested_lists = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
    assert!(
        first_error(&policy_with(&format!("1 in {nested_lists}"))).contains("nests deeper than")
    );
}

#[test]
fn huge_lists() {
    let items: Vec<String> = (0..10_000).map(|i| format!("\"c{i}\"")).collect();
    let message = first_error(&policy_with(&format!(
        "profile.traits.country in [{}]",
        items.join(",")
    )));
    assert!(
        message.contains("bytes long") || message.contains("more than"),
        "{message}"
    );
}

#[test]
fn malformed_yaml() {
    for source in [
        "actions: [",
        "actions:\n  - id: a\n   channels: [x]\n",
        "\t- tab",
        "{{{",
        "actions: 12",
    ] {
        let errors = compile(source, 1, &[]).unwrap_err();
        assert!(!errors.is_empty());
        assert!(!errors[0].message.is_empty());
    }
    let errors = compile("actions: [\n", 1, &[]).unwrap_err();
    assert!(
        errors[0].message.starts_with("invalid policy file: "),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].line, Some(2));
}

#[test]
fn huge_and_hostile_yaml_does_not_panic() {
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nactions: []\n";
    let _ = compile(bomb, 1, &[]);
    let deep_yaml = format!("actions: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(compile(&deep_yaml, 1, &[]).is_err());
}
