//! Tests of policy parsing, the static checks, compile and signing.

use crate::bundle::{Kind, ModelKind, PropensityDoc, Selection};
use crate::{Bundle, BundleError, check, compile, public_key, sign, verify};

pub const EXAMPLE: &str = r#"
holdout: { universal: 0.02, salt: "2026-q4" }   # share of customers who get no marketing action
selection: top            # top | thompson | epsilon
epsilon: 0.1
actions:
  - id: gold_card
    channels: [email, web]
    purpose: dpv:DirectMarketing
    kind: marketing        # marketing | transactional
    value: 120.0
    cost: 2.5
    eligibility: 'profile.traits.age >= 18 && profile.traits.country in ["GB", "US", "IE"]'
    applicability: 'context.touchpoint in ["web", "app"]'
    suitability: '!("excluded" in profile.segments)'
    propensity: { model: thompson, prior: [1, 20] }   # or { expression: "0.05" }
    lever: 1.0
    caps: { per_customer: { count: 2, per: 7d } }
"#;

fn traits() -> Vec<String> {
    vec!["age".into(), "country".into()]
}

fn errors(source: &str) -> Vec<String> {
    compile(source, 1, &traits())
        .unwrap_err()
        .into_iter()
        .map(|d| d.message)
        .collect()
}

#[test]
fn the_design_example_compiles() {
    let output = compile(EXAMPLE, 7, &traits()).unwrap();
    assert!(output.warnings.is_empty(), "{:?}", output.warnings);
    let doc = output.bundle.doc();
    assert_eq!(doc.version, 7);
    assert_eq!(doc.selection, Selection::Top);
    assert_eq!(doc.holdout.salt, "2026-q4");
    let action = doc.actions.first().unwrap();
    assert_eq!(action.kind, Kind::Marketing);
    assert_eq!(action.caps.as_ref().unwrap().per_ms, 7 * 86_400_000);
    assert_eq!(
        action.propensity,
        PropensityDoc::Model {
            model: ModelKind::Thompson,
            prior: [1.0, 20.0],
            features: Vec::new(),
        }
    );
}

#[test]
fn omitted_fields_default_to_neutral() {
    let output = compile(
        "actions:\n  - id: a\n    channels: [web]\n    purpose: dpv:ServiceProvision\n",
        1,
        &[],
    )
    .unwrap();
    let action = output.bundle.doc().actions.first().unwrap().clone();
    assert_eq!((action.value, action.cost, action.lever), (1.0, 0.0, 1.0));
    assert_eq!(action.kind, Kind::Marketing);
    assert!(action.caps.is_none() && action.context_weight.is_none());
}

#[test]
fn typos_of_known_fields_are_errors_and_new_fields_warnings() {
    let source = EXAMPLE.replace("eligibility:", "eligibilty:");
    assert_eq!(
        errors(&source),
        ["unknown field `eligibilty` in action `gold_card`; did you mean `eligibility`?"]
    );
    let source = EXAMPLE.replace("selection: top", "selction: top");
    assert!(errors(&source)[0].contains("did you mean `selection`"));
    let source = EXAMPLE.replace("lever: 1.0", "lever: 1.0\n    owner: crm-team");
    let warnings = check(&source, &traits()).unwrap().warnings;
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].message,
        "unknown field `owner` in action `gold_card` is ignored"
    );
}

#[test]
fn rule_errors_name_action_field_and_position() {
    let source = EXAMPLE.replace(
        "!(\"excluded\" in profile.segments)",
        "!(\"excluded\" in profile.segmnts)",
    );
    let diagnostics = compile(&source, 1, &traits()).unwrap_err();
    let d = &diagnostics[0];
    assert_eq!(
        d.message,
        "action `gold_card`, suitability 1:25: unknown field `profile.segmnts`; did you mean `segments`?"
    );
    assert_eq!(
        (d.action.as_deref(), d.field.as_deref()),
        (Some("gold_card"), Some("suitability"))
    );
    assert_eq!((d.line, d.column), (Some(1), Some(25)));
}

#[test]
fn rule_result_types_are_checked() {
    let source = EXAMPLE.replace(
        "propensity: { model: thompson, prior: [1, 20] }",
        "propensity: { expression: \"'high'\" }",
    );
    assert!(
        errors(&source)[0].contains("propensity must be a number"),
        "{:?}",
        errors(&source)
    );
    let source = EXAMPLE.replace(
        "applicability: 'context.touchpoint in [\"web\", \"app\"]'",
        "applicability: '1 + 2'",
    );
    assert!(errors(&source)[0].contains("applicability must be a boolean"));
}

#[test]
fn unknown_traits_warn_with_suggestion() {
    let source = EXAMPLE.replace("profile.traits.country", "profile.traits.contry");
    let warnings = check(&source, &traits()).unwrap().warnings;
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].message,
        "action `gold_card`, eligibility 1:44: trait `contry` has never been seen in this workspace; did you mean `country`?"
    );
}

#[test]
fn static_consent_check() {
    let source = EXAMPLE.replace("    purpose: dpv:DirectMarketing\n", "");
    assert!(errors(&source)[0].contains("declares no `purpose`"));
    let source = EXAMPLE.replace("kind: marketing", "kind: transactional");
    let message = &errors(&source)[0];
    assert!(
        message.contains(
            "is `kind: transactional` but its purpose `dpv:DirectMarketing` is a marketing purpose"
        ),
        "{message}"
    );
    // a genuinely transactional purpose passes, rules need not mention consent
    let source = source.replace("dpv:DirectMarketing", "dpv:ServiceProvision");
    assert!(check(&source, &traits()).is_ok());
}

#[test]
fn bad_values_are_clear_errors() {
    assert!(
        errors(&EXAMPLE.replace("value: 120.0", "value: lots"))[0]
            .contains("invalid type: string \"lots\", expected f64")
    );
    assert!(
        errors(&EXAMPLE.replace("per: 7d", "per: 7 days"))[0].contains("invalid duration `7 days`")
    );
    assert!(errors(&EXAMPLE.replace("count: 2", "count: 0"))[0].contains("must be at least 1"));
    assert!(
        errors(&EXAMPLE.replace("universal: 0.02", "universal: 2"))[0].contains("between 0 and 1")
    );
    assert!(
        errors(&EXAMPLE.replace("selection: top", "selection: best"))[0]
            .contains("unknown variant `best`")
    );
    assert!(
        errors(&EXAMPLE.replace("prior: [1, 20]", "prior: [1]"))[0]
            .contains("two positive numbers")
    );
    assert!(
        errors(&EXAMPLE.replace("channels: [email, web]", "channels: []"))[0]
            .contains("non-empty `channels`")
    );
    let doubled = format!("{EXAMPLE}{}", &EXAMPLE[EXAMPLE.find("  - id").unwrap()..]);
    assert!(errors(&doubled)[0].contains("action id `gold_card` is used by actions 0 and 1"));
}

#[test]
fn malformed_yaml_has_a_position() {
    let diagnostics = compile("actions:\n  - id: [unclosed\n", 1, &[]).unwrap_err();
    assert_eq!(diagnostics[0].code, "yaml");
    assert!(diagnostics[0].line.is_some());
    assert!(compile("", 1, &[]).is_err());
    assert!(compile("- just\n- a list\n", 1, &[]).is_err());
    assert!(errors("holdout: {}\n")[0].contains("no `actions`"));
}

#[test]
fn bundles_round_trip_through_json() {
    let bundle = compile(EXAMPLE, 3, &traits()).unwrap().bundle;
    let text = bundle.to_json();
    let again = Bundle::from_json_unverified(&text).unwrap();
    assert_eq!(again.doc(), bundle.doc());
    let via_serde: Bundle = serde_json::from_str(&serde_json::to_string(&bundle).unwrap()).unwrap();
    assert_eq!(via_serde.doc(), bundle.doc());
}

#[test]
fn signed_bundles_verify_and_tampering_is_refused() {
    let secret = [7u8; 32];
    let public = public_key(&secret);
    let bundle = compile(EXAMPLE, 3, &traits()).unwrap().bundle;
    let signed = sign(&bundle, &secret);
    assert_eq!(verify(&signed, &public).unwrap().doc(), bundle.doc());

    let mut tampered = signed.clone();
    tampered.bundle = tampered.bundle.replace("120.0", "999.0");
    assert_eq!(
        verify(&tampered, &public).unwrap_err(),
        BundleError::SignatureMismatch
    );

    let mut unsigned = signed.clone();
    unsigned.signature.clear();
    assert_eq!(
        verify(&unsigned, &public).unwrap_err(),
        BundleError::Unsigned
    );

    let mut relabelled = signed.clone();
    relabelled.version = 4;
    assert!(matches!(
        verify(&relabelled, &public).unwrap_err(),
        BundleError::VersionMismatch { .. }
    ));

    let other = public_key(&[8u8; 32]);
    assert_eq!(
        verify(&signed, &other).unwrap_err(),
        BundleError::SignatureMismatch
    );
    let mut garbled = signed;
    garbled.signature = "zz".into();
    assert!(matches!(
        verify(&garbled, &public).unwrap_err(),
        BundleError::BadSignatureEncoding(_)
    ));
    assert_eq!(
        BundleError::SignatureMismatch.to_string(),
        "bundle signature does not verify: the bundle was altered or signed with another key"
    );
}

#[test]
fn unknown_fields_in_a_bundle_document_are_refused() {
    let bundle = compile(EXAMPLE, 3, &traits()).unwrap().bundle;
    let text = bundle
        .to_json()
        .replacen("\"epsilon\"", "\"extra\":1,\"epsilon\"", 1);
    assert!(matches!(
        Bundle::from_json_unverified(&text),
        Err(BundleError::Malformed(_))
    ));
}

#[test]
fn contextual_features_are_checked() {
    let policy = |propensity: &str| {
        format!(
            "actions:\n  - id: a\n    channels: [web]\n    purpose: dpv:DirectMarketing\n    propensity: {propensity}\n"
        )
    };
    let output = compile(
        &policy("{ model: contextual, features: ['context.touchpoint == \"store\"', 'profile.traits.age'] }"),
        1,
        &[],
    )
    .unwrap();
    assert!(output.warnings.iter().all(|w| w.code != "model_fallback"));
    let errors = |propensity: &str| {
        compile(&policy(propensity), 1, &[])
            .err()
            .unwrap()
            .into_iter()
            .map(|d| d.message)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let text = errors("{ model: contextual, features: ['\"x\" + \"y\"'] }");
    assert!(
        text.contains("feature must be a number or a boolean"),
        "{text}"
    );
    let text = errors("{ model: thompson, features: ['true'] }");
    assert!(
        text.contains("`features` only applies to `model: contextual`"),
        "{text}"
    );
    let nine = ["'true'"; 9].join(", ");
    let text = errors(&format!("{{ model: contextual, features: [{nine}] }}"));
    assert!(text.contains("at most 8 `features`, found 9"), "{text}");
    let text = errors("{ model: contextual, features: ['profile.trait.age'] }");
    assert!(text.contains("action `a`"), "{text}");
    let fallback = compile(&policy("{ model: contextual }"), 1, &[]).unwrap();
    assert!(fallback.warnings.iter().any(|w| w.code == "model_fallback"));
}
