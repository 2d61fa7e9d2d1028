use proptest::prelude::*;

use super::*;

use ConsentSource::{Customer, Gpc};
use ConsentStatus::{Given, Refused, Withdrawn};

fn rec(purpose: &str, channel: &str, status: ConsentStatus) -> ConsentRecord {
    ConsentRecord::new(purpose, channel, status, Customer, 0)
}

#[test]
fn hierarchy_is_a_tree_with_documented_edges() {
    assert_eq!(
        ancestors("dpv:PersonalisedAdvertising"),
        vec!["dpv:Advertising", "dpv:Marketing"]
    );
    assert!(is_ancestor("dpv:Marketing", "dpv:DirectMarketing"));
    assert!(!is_ancestor("dpv:DirectMarketing", "dpv:Marketing"));
    assert!(ancestors("dpv:Unknown").is_empty());
}

#[test]
fn no_record_is_unset_and_newest_wins_per_channel() {
    assert_eq!(
        effective_status(&[], "dpv:DirectMarketing", "email"),
        Status::Unset
    );
    let ledger = vec![
        rec("dpv:DirectMarketing", "email", Given),
        rec("dpv:DirectMarketing", "sms", Refused),
        rec("dpv:DirectMarketing", "email", Withdrawn),
        rec("dpv:DirectMarketing", "email", Given),
    ];
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "email"),
        Status::Given
    );
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "sms"),
        Status::Refused
    );
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "push"),
        Status::Unset
    );
    assert_eq!(
        effective(&ledger, "dpv:DirectMarketing", "email").decided_by,
        Some(3)
    );
}

#[test]
fn star_channel_applies_everywhere_until_a_newer_specific_record() {
    let mut ledger = vec![rec("dpv:DirectMarketing", "*", Given)];
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "sms"),
        Status::Given
    );
    ledger.push(rec("dpv:DirectMarketing", "sms", Withdrawn));
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "sms"),
        Status::Withdrawn
    );
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "email"),
        Status::Given
    );
    ledger.push(rec("dpv:DirectMarketing", "*", Refused));
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "email"),
        Status::Refused
    );
}

#[test]
fn a_child_never_implies_its_parent_nor_a_parent_its_child() {
    let ledger = vec![rec("dpv:DirectMarketing", "email", Given)];
    assert_eq!(
        effective_status(&ledger, "dpv:Marketing", "email"),
        Status::Unset
    );
    let ledger = vec![rec("dpv:Marketing", "email", Given)];
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "email"),
        Status::Unset
    );
}

#[test]
fn refusing_a_parent_refuses_children_until_a_newer_child_consent() {
    let mut ledger = vec![
        rec("dpv:PersonalisedAdvertising", "web", Given),
        rec("dpv:DirectMarketing", "*", Given),
        rec("dpv:Marketing", "*", Withdrawn),
    ];
    assert_eq!(
        effective_status(&ledger, "dpv:PersonalisedAdvertising", "web"),
        Status::Withdrawn
    );
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "email"),
        Status::Withdrawn
    );
    assert!(!permits(
        ActionKind::Marketing,
        &ledger,
        "dpv:DirectMarketing",
        "email"
    ));
    // Giving the parent again does not resurrect the older child consents.
    ledger.push(rec("dpv:Marketing", "*", Given));
    assert_eq!(
        effective_status(&ledger, "dpv:DirectMarketing", "email"),
        Status::Withdrawn
    );
    // A newer explicit child consent does.
    ledger.push(rec("dpv:DirectMarketing", "email", Given));
    assert!(permits(
        ActionKind::Marketing,
        &ledger,
        "dpv:DirectMarketing",
        "email"
    ));
    assert!(!permits(
        ActionKind::Marketing,
        &ledger,
        "dpv:DirectMarketing",
        "sms"
    ));
}

#[test]
fn marketing_needs_given_and_transactional_needs_no_refusal() {
    let ledger = vec![rec("dpv:ServiceProvision", "email", Refused)];
    assert!(!permits(
        ActionKind::Marketing,
        &[],
        "dpv:DirectMarketing",
        "email"
    ));
    assert!(permits(
        ActionKind::Transactional,
        &[],
        "dpv:ServiceProvision",
        "email"
    ));
    assert!(!permits(
        ActionKind::Transactional,
        &ledger,
        "dpv:ServiceProvision",
        "email"
    ));
    assert!(permits(
        ActionKind::Transactional,
        &ledger,
        "dpv:ServiceProvision",
        "sms"
    ));
    // Another purpose's refusal does not block a transactional message.
    let ledger = vec![rec("dpv:DirectMarketing", "*", Refused)];
    assert!(permits(
        ActionKind::Transactional,
        &ledger,
        "dpv:ServiceProvision",
        "email"
    ));
}

#[test]
fn gpc_beats_an_earlier_opt_in_but_not_a_newer_one() {
    let mut ledger = vec![rec(GPC_PURPOSE, "web", Given), gpc_record(10)];
    assert_eq!(ledger[1].source, Gpc);
    assert_eq!(
        effective_status(&ledger, GPC_PURPOSE, "web"),
        Status::Refused
    );
    ledger.push(rec(GPC_PURPOSE, "web", Given));
    assert_eq!(effective_status(&ledger, GPC_PURPOSE, "web"), Status::Given);
    assert_eq!(
        effective_status(&ledger, GPC_PURPOSE, "email"),
        Status::Refused
    );
    let json = serde_json::to_value(gpc_record(10)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"purpose": "dpv:SellDataToThirdParties", "channel": "*", "status": "refused",
            "source": "gpc", "updated_at": 10})
    );
}

#[test]
fn current_state_keeps_the_newest_per_purpose_and_channel() {
    let ledger = vec![
        rec("dpv:DirectMarketing", "email", Given),
        rec("dpv:DirectMarketing", "sms", Given),
        rec("dpv:DirectMarketing", "email", Withdrawn),
    ];
    let state = current_state(&ledger);
    assert_eq!(state.len(), 2);
    assert_eq!(state[1].status, Withdrawn);
}

#[test]
fn receipts_serialise_with_every_field() {
    let mut record = rec("dpv:DirectMarketing", "email", Given);
    record.updated_at = 1_700_000_000_000;
    let mut receipt = ConsentReceipt::for_record(&record, "r-1", "Acme Ltd", "prof_123");
    receipt.jurisdiction = Some("EU".into());
    let json = serde_json::to_value(&receipt).unwrap();
    assert_eq!(json["receipt_id"], "r-1");
    assert_eq!(json["version"], RECEIPT_VERSION);
    assert_eq!(json["purposes"][0]["status"], "given");
    assert_eq!(json["source"], "customer");
    assert_eq!(json["jurisdiction"], "EU");
    let back: ConsentReceipt = serde_json::from_value(json).unwrap();
    assert_eq!(back, receipt);
}

const PURPOSES: [&str; 6] = [
    "dpv:Marketing",
    "dpv:DirectMarketing",
    "dpv:Advertising",
    "dpv:PersonalisedAdvertising",
    "dpv:ServiceProvision",
    GPC_PURPOSE,
];
const CHANNELS: [&str; 3] = ["*", "email", "sms"];

fn arb_record() -> impl Strategy<Value = ConsentRecord> {
    (0..PURPOSES.len(), 0..CHANNELS.len(), 0..3u8).prop_map(|(p, c, s)| {
        let status = [Given, Withdrawn, Refused][usize::from(s)];
        rec(PURPOSES[p], CHANNELS[c], status)
    })
}

fn permitted_set(ledger: &[ConsentRecord]) -> Vec<bool> {
    let mut out = Vec::new();
    for purpose in PURPOSES {
        for channel in CHANNELS {
            for kind in [ActionKind::Marketing, ActionKind::Transactional] {
                out.push(permits(kind, ledger, purpose, channel));
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn adding_a_withdrawal_or_refusal_never_widens_permissions(
        ledger in prop::collection::vec(arb_record(), 0..12),
        extra in arb_record(),
        position in any::<prop::sample::Index>(),
    ) {
        let mut extra = extra;
        if extra.status == Given {
            extra.status = Withdrawn;
        }
        let before = permitted_set(&ledger);
        let mut appended = ledger.clone();
        appended.push(extra.clone());
        let mut inserted = ledger.clone();
        inserted.insert(position.index(ledger.len() + 1), extra);
        for after in [permitted_set(&appended), permitted_set(&inserted)] {
            for (was, now) in before.iter().zip(&after) {
                prop_assert!(!now || *was, "a withdrawal widened a permission");
            }
        }
    }

    #[test]
    fn marketing_permission_implies_transactional_permission(ledger in prop::collection::vec(arb_record(), 0..12)) {
        for purpose in PURPOSES {
            for channel in CHANNELS {
                if permits(ActionKind::Marketing, &ledger, purpose, channel) {
                    prop_assert!(permits(ActionKind::Transactional, &ledger, purpose, channel));
                }
            }
        }
    }
}
