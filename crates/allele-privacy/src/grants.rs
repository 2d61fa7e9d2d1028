//! Customer data grants: a customer lets a named grantee use some fields of
//! their profile for one purpose, possibly until a time, possibly for a price.
//!
//! A grant allows `(grantee, field, purpose)` at `now` when the grantee and
//! purpose match exactly, the field is listed (or the grant lists `*`), and
//! `now < expires_at`: a grant is already expired at its expiry instant.
//! Permission is the union of grants, so removing one never widens it.

use serde::{Deserialize, Serialize};

/// One grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Who may use the data.
    pub grantee: String,
    /// Which profile fields (trait names), or `*` for all.
    pub fields: Vec<String>,
    /// For which DPV purpose.
    pub purpose: String,
    /// Until when, milliseconds since the Unix epoch (exclusive); `None` for no expiry.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Agreed price in minor currency units, if any (informational here).
    #[serde(default)]
    pub price: Option<u64>,
}

impl Grant {
    /// Whether this grant alone allows the use.
    pub fn allows(&self, grantee: &str, field: &str, purpose: &str, now_ms: i64) -> bool {
        self.grantee == grantee
            && self.purpose == purpose
            && self.fields.iter().any(|f| f == field || f == "*")
            && self.expires_at.is_none_or(|expiry| now_ms < expiry)
    }
}

/// Whether any grant allows `grantee` to use `field` for `purpose` at `now_ms`.
pub fn grant_allows(
    grants: &[Grant],
    grantee: &str,
    field: &str,
    purpose: &str,
    now_ms: i64,
) -> bool {
    grants
        .iter()
        .any(|grant| grant.allows(grantee, field, purpose, now_ms))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn grant(grantee: &str, fields: &[&str], purpose: &str, expires_at: Option<i64>) -> Grant {
        Grant {
            grantee: grantee.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            purpose: purpose.into(),
            expires_at,
            price: Some(250),
        }
    }

    #[test]
    fn expiry_is_exclusive_at_the_boundary() {
        let grants = [grant(
            "acme",
            &["email"],
            "dpv:CommercialResearch",
            Some(1_000),
        )];
        assert!(grant_allows(
            &grants,
            "acme",
            "email",
            "dpv:CommercialResearch",
            999
        ));
        assert!(!grant_allows(
            &grants,
            "acme",
            "email",
            "dpv:CommercialResearch",
            1_000
        ));
        assert!(!grant_allows(
            &grants,
            "acme",
            "email",
            "dpv:CommercialResearch",
            1_001
        ));
    }

    #[test]
    fn every_part_must_match() {
        let grants = [grant(
            "acme",
            &["email", "city"],
            "dpv:CommercialResearch",
            None,
        )];
        assert!(grant_allows(
            &grants,
            "acme",
            "city",
            "dpv:CommercialResearch",
            i64::MAX
        ));
        assert!(!grant_allows(
            &grants,
            "acme",
            "phone",
            "dpv:CommercialResearch",
            0
        ));
        assert!(!grant_allows(
            &grants,
            "other",
            "email",
            "dpv:CommercialResearch",
            0
        ));
        assert!(!grant_allows(&grants, "acme", "email", "dpv:Marketing", 0));
        let all = [grant("acme", &["*"], "dpv:Marketing", None)];
        assert!(grant_allows(&all, "acme", "phone", "dpv:Marketing", 0));
        assert!(!grant_allows(&[], "acme", "phone", "dpv:Marketing", 0));
    }

    fn arb_grant() -> impl Strategy<Value = Grant> {
        (
            0..3usize,
            prop::collection::vec(0..4usize, 0..3),
            0..2usize,
            prop::option::of(0i64..100),
            any::<Option<u64>>(),
        )
            .prop_map(|(g, fields, p, expires_at, price)| Grant {
                grantee: ["acme", "beta", "gamma"][g].into(),
                fields: fields
                    .into_iter()
                    .map(|f| ["email", "city", "age", "*"][f].to_owned())
                    .collect(),
                purpose: ["dpv:Marketing", "dpv:CommercialResearch"][p].into(),
                expires_at,
                price,
            })
    }

    fn allowed(grants: &[Grant], now: i64) -> Vec<bool> {
        let mut out = Vec::new();
        for grantee in ["acme", "beta", "gamma"] {
            for field in ["email", "city", "age"] {
                for purpose in ["dpv:Marketing", "dpv:CommercialResearch"] {
                    out.push(grant_allows(grants, grantee, field, purpose, now));
                }
            }
        }
        out
    }

    proptest! {
        #[test]
        fn removing_a_grant_never_widens(grants in prop::collection::vec(arb_grant(), 1..6), which in any::<prop::sample::Index>(), now in 0i64..110) {
            let before = allowed(&grants, now);
            let mut fewer = grants.clone();
            fewer.remove(which.index(grants.len()));
            for (was, is) in before.iter().zip(allowed(&fewer, now)) {
                prop_assert!(!is || *was);
            }
        }

        #[test]
        fn time_passing_never_widens(grants in prop::collection::vec(arb_grant(), 0..6), now in 0i64..110, later in 0i64..50) {
            for (was, is) in allowed(&grants, now).iter().zip(allowed(&grants, now + later)) {
                prop_assert!(!is || *was);
            }
        }
    }
}
