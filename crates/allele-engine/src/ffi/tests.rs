use serde_json::{Value, json};

use super::*;
use crate::policy::tests::EXAMPLE;
use crate::{compile, public_key, sign};

#[test]
fn check_faces_agree() {
    let input = json!({"policy": EXAMPLE, "known_traits": ["age"]});
    let answer = check_json(input.clone());
    assert_eq!(answer["type"], "success");
    assert!(
        answer["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`country`")
    );
    let text = check_json_str(&input.to_string());
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), answer);
}

#[test]
fn check_reports_errors_as_failure() {
    let answer = check_json(json!({"policy": "actions: [ {id: a"}));
    assert_eq!(answer["type"], "failure");
    assert_eq!(answer["errors"][0]["code"], "yaml");
    let answer = check_json(json!({"polcy": "x"}));
    assert_eq!(answer["type"], "failure");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `polcy`")
    );
    let answer: Value = serde_json::from_str(&check_json_str("{not json")).unwrap();
    assert_eq!(answer["errors"][0]["code"], "invalid_json");
}

#[test]
fn decide_faces_agree() {
    let bundle = compile(EXAMPLE, 2, &[]).unwrap().bundle;
    let input = json!({
        "profile": {"id": "p1", "traits": {"age": 40, "country": "IE"},
                    "consent": [{"purpose": "dpv:DirectMarketing", "channel": "*", "status": "given"}]},
        "request": {"touchpoint": "web", "channel": "web"},
        "now_ms": 1_780_000_000_000_i64,
        "seed": 1
    });
    let answer = decide_json(json!({"bundle": bundle.doc(), "input": input}));
    assert_eq!(answer["type"], "success", "{answer}");
    assert_eq!(answer["decision"]["actions"][0]["action_id"], "gold_card");
    assert_eq!(decide_with_bundle_json(&bundle, input.clone()), answer);
    let text = decide_with_bundle_json_str(&bundle, &input.to_string());
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), answer);
}

#[test]
fn decide_refuses_wrong_types_and_unknown_fields() {
    let bundle = compile(EXAMPLE, 2, &[]).unwrap().bundle;
    let answer = decide_with_bundle_json(&bundle, json!({"profile": {"id": 1}}));
    assert_eq!(answer["type"], "failure");
    let answer = decide_with_bundle_json(
        &bundle,
        json!({"profile": {"id": "p", "trats": {}}, "request": {"touchpoint": "w", "channel": "w"}, "now_ms": 0, "seed": 0}),
    );
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `trats`"),
        "{answer}"
    );
}

#[test]
fn compile_and_verify_faces() {
    let answer = compile_json(json!({"policy": EXAMPLE, "version": 9}));
    assert_eq!(answer["bundle"]["version"], 9);
    let bundle = compile(EXAMPLE, 9, &[]).unwrap().bundle;
    let secret = [1u8; 32];
    let signed = sign(&bundle, &secret);
    let key = crate::sign::to_hex(&public_key(&secret));
    let answer = verify_json(json!({"signed": signed, "public_key": key}));
    assert_eq!(answer["type"], "success");
    let mut tampered = signed;
    tampered.bundle = tampered.bundle.replace("gold_card", "gold_cart");
    let answer = verify_json_str(&json!({"signed": tampered, "public_key": key}).to_string());
    assert!(answer.contains("does not verify"), "{answer}");
}
