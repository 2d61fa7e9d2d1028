//! Every access plan must give what walking the owned value of the path's
//! root gives: the value a rule saw before plans existed.

use serde_json::json;

use super::Access;
use crate::cel::SlotValue;
use crate::cel::{Root, SlotPath, SlotTable};
use crate::decide::{DecisionInput, InputResolver};

fn input() -> DecisionInput {
    serde_json::from_value(json!({
        "profile": {
            "id": "customer-42",
            "traits": {"age": 34, "country": "IE", "ltv": 830.5, "flag": true, "nothing": null,
                       "tags": ["a", "b", 3], "address": {"city": "Leeds", "geo": {"lat": 53.8}},
                       "big": 18446744073709551615u64},
            "computed": {"orders": 12, "last": {"sku": "x-1"}},
            "segments": ["newsletter", "vip"],
            "consent": [{"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"},
                        {"purpose": "dpv:DirectMarketing", "channel": "email", "status": "withdrawn"},
                        {"purpose": "dpv:DirectMarketing", "channel": "web", "status": "refused"}],
            "identities": [{"type": "email", "value": "a@example.com"}],
            "event_count": 12,
            "first_seen": 1_700_000_000_000_i64
        },
        // context keys named like the request's own fields must lose to them
        "request": {"touchpoint": "web", "channel": "email",
                    "context": {"page": "home", "n": 2, "touchpoint": "spoofed",
                                "cart": {"total": 19.5, "items": ["a"]}}},
        "now_ms": 1_780_000_000_000_i64,
        "seed": 7
    }))
    .unwrap()
}

fn path(root: Root, keys: &[&str]) -> SlotPath {
    SlotPath {
        root,
        keys: keys.iter().map(|key| (*key).into()).collect(),
    }
}

const PROFILE_PATHS: &[&[&str]] = &[
    &[],
    &["id"],
    &["id", "x"],
    &["traits"],
    &["traits", "age"],
    &["traits", "country"],
    &["traits", "ltv"],
    &["traits", "flag"],
    &["traits", "nothing"],
    &["traits", "tags"],
    &["traits", "big"],
    &["traits", "address"],
    &["traits", "address", "city"],
    &["traits", "address", "geo", "lat"],
    &["traits", "address", "zip"],
    &["traits", "age", "x"],
    &["traits", "absent"],
    &["computed"],
    &["computed", "orders"],
    &["computed", "last", "sku"],
    &["computed", "absent"],
    &["segments"],
    &["segments", "vip"],
    &["consent"],
    &["consent", "dpv:DirectMarketing"],
    &["consent", "dpv:DirectMarketing", "email"],
    &["consent", "dpv:DirectMarketing", "web"],
    &["consent", "dpv:DirectMarketing", "sms"],
    &["consent", "dpv:Other", "email"],
    &["consent", "dpv:DirectMarketing", "email", "x"],
    &["identities"],
    &["event_count"],
    &["first_seen"],
    &["last_seen"],
];

const CONTEXT_PATHS: &[&[&str]] = &[
    &[],
    &["touchpoint"],
    &["touchpoint", "x"],
    &["channel"],
    &["channel", "x"],
    &["page"],
    &["n"],
    &["cart"],
    &["cart", "total"],
    &["cart", "items"],
    &["cart", "absent"],
    &["page", "x"],
    &["absent"],
];

#[test]
fn plans_agree_with_the_owned_walk() {
    let input = input();
    let owned = InputResolver { input: &input };
    let paths = PROFILE_PATHS
        .iter()
        .map(|keys| path(Root::Profile, keys))
        .chain(CONTEXT_PATHS.iter().map(|keys| path(Root::Context, keys)));
    let mut present = 0;
    for path in paths {
        let plan = Access::plan(&path);
        let planned = plan.fetch(&input, &path);
        let reference = owned.resolve_owned(&path);
        assert_eq!(
            planned.as_ref().map(|slot| slot.to_value()),
            reference,
            "{path}"
        );
        // what an activation stores (written in place, arm by arm) is the
        // same value, over an entry that held something else before
        let mut entry = Some(Some(SlotValue::Int(-1)));
        plan.fetch_into(&input, &path, &mut entry);
        assert_eq!(
            entry.map(|slot| slot.map(|slot| slot.to_value())),
            Some(reference.clone()),
            "{path} in place"
        );
        present += usize::from(reference.is_some());
    }
    // the fixture exercises found and missing paths alike
    assert!(present > 25 && present < 40, "{present} present");
}

#[test]
fn field_names_are_matched_when_planning() {
    let plan = |root, keys: &[&str]| Access::plan(&path(root, keys));
    assert!(matches!(
        plan(Root::Profile, &["traits", "age"]),
        Access::Trait { ref key, ref rest } if &**key == "age" && rest.is_empty()
    ));
    assert!(matches!(
        plan(Root::Profile, &["consent", "p", "email"]),
        Access::Consent { ref purpose, ref channel } if &**purpose == "p" && &**channel == "email"
    ));
    assert_eq!(plan(Root::Profile, &["segments"]), Access::Segments);
    assert_eq!(plan(Root::Profile, &["segments", "x"]), Access::Missing);
    assert_eq!(plan(Root::Context, &["channel"]), Access::Channel);
    assert_eq!(plan(Root::Profile, &["event_count"]), Access::Owned);
    assert_eq!(plan(Root::Context, &[]), Access::Owned);

    // the table plans each slot once, when it is interned
    let mut table = SlotTable::default();
    let id = table.intern(path(Root::Context, &["cart", "total"]));
    assert_eq!(table.intern(path(Root::Context, &["cart", "total"])), id);
    assert_eq!(table.plans().len(), 1);
    assert!(matches!(
        &table.plans()[id as usize],
        Access::ContextKey { key, rest } if &**key == "cart" && rest.len() == 1
    ));
}
