use proptest::prelude::*;

use super::*;
use crate::consent::{ConsentSource, ConsentStatus};

const RESEARCH: &str = "dpv:CommercialResearch";

fn grant(id: &str, grantee: &str, fields: &[&str], purpose: &str, expires_at: i64) -> Grant {
    Grant {
        id: id.into(),
        grantee: grantee.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        purpose: purpose.into(),
        expires_at,
        price: Some(Price {
            amount: 250,
            currency: "EUR".into(),
        }),
    }
}

fn allows(grants: &[Grant], grantee: &str, field: &str, purpose: &str, now: i64) -> bool {
    grant_allows(grants, grantee, field, purpose, now).unwrap()
}

#[test]
fn expiry_is_exclusive_at_the_boundary() {
    let grants = [grant("g1", "acme", &["email"], RESEARCH, 1_000)];
    assert!(allows(&grants, "acme", "email", RESEARCH, 999));
    assert!(!allows(&grants, "acme", "email", RESEARCH, 1_000));
    assert!(!allows(&grants, "acme", "email", RESEARCH, 1_001));
    // The far ends of Cedar's Long do not overflow or wrap.
    let forever = [grant("g2", "acme", &["email"], RESEARCH, i64::MAX)];
    assert!(allows(&forever, "acme", "email", RESEARCH, i64::MAX - 1));
    assert!(!allows(&forever, "acme", "email", RESEARCH, i64::MAX));
    let past = [grant("g3", "acme", &["email"], RESEARCH, i64::MIN)];
    assert!(!allows(&past, "acme", "email", RESEARCH, i64::MIN));
}

#[test]
fn every_part_must_match() {
    let grants = [grant("g1", "acme", &["email", "city"], RESEARCH, 10)];
    assert!(allows(&grants, "acme", "city", RESEARCH, 0));
    assert!(!allows(&grants, "acme", "phone", RESEARCH, 0));
    assert!(!allows(&grants, "other", "email", RESEARCH, 0));
    assert!(!allows(&grants, "acme", "email", "dpv:Marketing", 0));
    // A grant for a child purpose does not cover its parent, nor the reverse.
    let parent = [grant(
        "g2",
        "acme",
        &["email"],
        "dpv:ResearchAndDevelopment",
        10,
    )];
    assert!(!allows(&parent, "acme", "email", RESEARCH, 0));
    let all = [grant("g3", "acme", &["*"], "dpv:Marketing", 10)];
    assert!(allows(&all, "acme", "phone", "dpv:Marketing", 0));
    assert!(!allows(&[], "acme", "phone", "dpv:Marketing", 0));
}

#[test]
fn hostile_names_are_escaped_not_interpreted() {
    // Each of these would break out of a naively quoted Cedar string.
    let nasty = [
        "a\" || true || \"",
        "back\\slash",
        "new\nline",
        "tab\tand\u{0}nul",
        "ünïcödé ✓ 🙂",
        "'single'",
        "*",
    ];
    for name in nasty {
        let grants = [grant("g", name, &[name], name, 10)];
        let policies = GrantPolicies::new(&grants, &[]).unwrap();
        assert!(
            policies.decide(name, name, name, 0).unwrap().allowed,
            "{name:?}"
        );
        assert!(
            !policies.decide("acme", name, name, 0).unwrap().allowed,
            "{name:?}"
        );
        assert!(!policies.decide(name, "other", name, 0).unwrap().allowed || name == "*");
        assert!(!policies.decide(name, name, "dpv:Other", 0).unwrap().allowed);
    }
}

#[test]
fn decisions_name_the_grants_that_allowed_them() {
    let grants = [
        grant("a", "acme", &["email"], RESEARCH, 10),
        grant("b", "acme", &["*"], RESEARCH, 10),
        grant("c", "beta", &["email"], RESEARCH, 10),
    ];
    let policies = GrantPolicies::new(&grants, &[]).unwrap();
    let email = policies.decide("acme", "email", RESEARCH, 0).unwrap();
    assert!(email.allowed);
    assert_eq!(email.grant_ids().collect::<Vec<_>>(), ["a", "b"]);
    let city = policies.decide("acme", "city", RESEARCH, 0).unwrap();
    assert_eq!(city.grant_ids().collect::<Vec<_>>(), ["b"]);
    let denied = policies.decide("gamma", "email", RESEARCH, 0).unwrap();
    assert!(!denied.allowed);
    assert!(denied.policies.is_empty());
}

fn record(purpose: &str, channel: &str, status: ConsentStatus) -> ConsentRecord {
    ConsentRecord::new(purpose, channel, status, ConsentSource::Customer, 0)
}

#[test]
fn refusals_forbid_the_purpose_and_its_children() {
    let grants = [
        grant("m", "acme", &["email"], "dpv:DirectMarketing", 10),
        grant("s", "acme", &["email"], consent::GPC_PURPOSE, 10),
        grant("r", "acme", &["email"], RESEARCH, 10),
    ];
    let ledger = [
        record("dpv:Marketing", "*", ConsentStatus::Refused),
        consent::gpc_record(1),
        // Channel-specific records say nothing about data sharing.
        record(RESEARCH, "email", ConsentStatus::Withdrawn),
    ];
    let refused = refused_purposes(&ledger);
    assert_eq!(refused, ["dpv:Marketing", consent::GPC_PURPOSE]);
    let policies = GrantPolicies::new(&grants, &refused).unwrap();
    let marketing = policies
        .decide("acme", "email", "dpv:DirectMarketing", 0)
        .unwrap();
    assert!(!marketing.allowed);
    assert_eq!(marketing.policies, ["refusal:dpv:Marketing"]);
    assert!(
        !policies
            .decide("acme", "email", consent::GPC_PURPOSE, 0)
            .unwrap()
            .allowed
    );
    assert!(
        policies
            .decide("acme", "email", RESEARCH, 0)
            .unwrap()
            .allowed
    );
    // A newer `given` on `*` lifts the refusal.
    let mut regiven = ledger.to_vec();
    regiven.push(record("dpv:Marketing", "*", ConsentStatus::Given));
    assert_eq!(refused_purposes(&regiven), [consent::GPC_PURPOSE]);
}

#[test]
fn the_policy_text_is_readable_cedar() {
    let text = grant_policy_text(&grant("g", "acme", &["email", "city"], RESEARCH, 42));
    assert_eq!(
        text,
        "permit (\n  principal == Grantee::\"acme\",\n  action == Action::\"read\",\n  resource\n) when {\n  \
         context.purpose == \"dpv:CommercialResearch\" &&\n  context.now < 42 &&\n  \
         [Field::\"email\", Field::\"city\"].contains(resource)\n};"
    );
}

const GRANTEES: [&str; 3] = ["acme", "beta", "gamma"];
const FIELDS: [&str; 3] = ["email", "city", "age"];
const PURPOSES: [&str; 3] = ["dpv:DirectMarketing", "dpv:Marketing", RESEARCH];

fn arb_grant() -> impl Strategy<Value = Grant> {
    (
        0..3usize,
        prop::collection::vec(0..4usize, 0..3),
        0..3usize,
        0i64..100,
        any::<bool>(),
    )
        .prop_map(|(g, fields, p, expires_at, priced)| Grant {
            id: format!("g{g}{p}{expires_at}{}", fields.len()),
            grantee: GRANTEES[g].into(),
            fields: fields
                .into_iter()
                .map(|f| ["email", "city", "age", "*"][f].to_owned())
                .collect(),
            purpose: PURPOSES[p].into(),
            expires_at,
            price: priced.then(|| Price {
                amount: 1,
                currency: "EUR".into(),
            }),
        })
}

fn unique(mut grants: Vec<Grant>) -> Vec<Grant> {
    for (n, grant) in grants.iter_mut().enumerate() {
        grant.id = format!("{}-{n}", grant.id);
    }
    grants
}

fn allowed(policies: &GrantPolicies, now: i64) -> Vec<bool> {
    let mut out = Vec::new();
    for grantee in GRANTEES {
        for purpose in PURPOSES {
            for decision in policies
                .decide_fields(grantee, FIELDS, purpose, now)
                .unwrap()
            {
                out.push(decision.allowed);
            }
        }
    }
    out
}

fn never_wider(before: &[bool], after: &[bool]) -> Result<(), TestCaseError> {
    for (was, is) in before.iter().zip(after) {
        prop_assert!(!is || *was, "a change widened access");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn removing_a_grant_never_widens(grants in prop::collection::vec(arb_grant(), 1..5), which in any::<prop::sample::Index>(), now in 0i64..110) {
        let grants = unique(grants);
        let before = allowed(&GrantPolicies::new(&grants, &[]).unwrap(), now);
        let mut fewer = grants.clone();
        fewer.remove(which.index(grants.len()));
        never_wider(&before, &allowed(&GrantPolicies::new(&fewer, &[]).unwrap(), now))?;
    }

    #[test]
    fn adding_a_withdrawal_never_widens(grants in prop::collection::vec(arb_grant(), 0..5), p in 0..3usize, refuse in any::<bool>(), now in 0i64..110) {
        let grants = unique(grants);
        let mut ledger = vec![record(PURPOSES[(p + 1) % 3], "*", ConsentStatus::Given)];
        let before = allowed(&GrantPolicies::new(&grants, &refused_purposes(&ledger)).unwrap(), now);
        let status = if refuse { ConsentStatus::Refused } else { ConsentStatus::Withdrawn };
        ledger.push(record(PURPOSES[p], "*", status));
        let after = allowed(&GrantPolicies::new(&grants, &refused_purposes(&ledger)).unwrap(), now);
        never_wider(&before, &after)?;
        // And the withdrawn purpose is closed to everyone.
        let closed = GrantPolicies::new(&grants, &refused_purposes(&ledger)).unwrap();
        for grantee in GRANTEES {
            for decision in closed.decide_fields(grantee, FIELDS, PURPOSES[p], now).unwrap() {
                prop_assert!(!decision.allowed);
            }
        }
    }

    #[test]
    fn adding_a_forbid_never_widens(grants in prop::collection::vec(arb_grant(), 0..5), g in 0..3usize, f in 0..3usize, now in 0i64..110) {
        let grants = unique(grants);
        let policies = GrantPolicies::new(&grants, &[]).unwrap();
        let before = allowed(&policies, now);
        let mut stricter = policies.clone();
        stricter.forbid("customer-forbid", &format!(
            "forbid (principal == Grantee::\"{}\", action, resource == Field::\"{}\");",
            GRANTEES[g], FIELDS[f]
        )).unwrap();
        let after = allowed(&stricter, now);
        never_wider(&before, &after)?;
        prop_assert!(!stricter.decide(GRANTEES[g], FIELDS[f], PURPOSES[0], now).unwrap().allowed);
    }

    #[test]
    fn erasure_leaves_nothing_allowed(grants in prop::collection::vec(arb_grant(), 0..5), now in 0i64..110) {
        // Erasure removes every grant (and the ledger): nothing stays allowed.
        let before = allowed(&GrantPolicies::new(&unique(grants), &[]).unwrap(), now);
        let after = allowed(&GrantPolicies::new(&[], &[]).unwrap(), now);
        never_wider(&before, &after)?;
        prop_assert!(after.iter().all(|a| !a));
    }

    #[test]
    fn time_passing_never_widens(grants in prop::collection::vec(arb_grant(), 0..5), now in 0i64..110, later in 0i64..50) {
        let policies = GrantPolicies::new(&unique(grants), &[]).unwrap();
        never_wider(&allowed(&policies, now), &allowed(&policies, now + later))?;
    }
}
