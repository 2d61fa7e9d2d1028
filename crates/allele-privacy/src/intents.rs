//! Stated intents: what a customer wants, until when, and who may see it
//! (after schema.org `Demand`: `itemOffered` → `want`, `availabilityEnds` →
//! `until`, `priceSpecification` → `max_price`).
//!
//! An intent is visible to a `(grantee, purpose)` only while `now < until`,
//! when one of its `visible_to` entries names that grantee (or `*`) and
//! exactly that purpose, and when the customer has not refused the purpose
//! or an ancestor of it on every channel (the same refusals that forbid
//! grants). The workspace's own decision engine reads intents as grantee
//! [`SELF_GRANTEE`] for purpose [`DECISION_PURPOSE`].

use serde::{Deserialize, Serialize};

use crate::consent;
use crate::grants::Price;

/// The grantee name that stands for the workspace's own decisions.
pub const SELF_GRANTEE: &str = "self";
/// The purpose the decision engine reads intents for.
pub const DECISION_PURPOSE: &str = "dpv:ServicePersonalisation";
/// At most this many intents per customer.
pub const MAX_INTENTS: usize = 50;

/// Who may see an intent, for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// A grantee name, `self` for the workspace's own decisions, or `*`.
    pub grantee: String,
    /// A DPV purpose id, matched exactly.
    pub purpose: String,
}

/// One stated intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// Assigned when missing.
    #[serde(default)]
    pub id: String,
    /// What the customer wants, in their words (e.g. `running shoes`).
    pub want: String,
    /// An optional category (e.g. a product taxonomy id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The most they would pay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Price>,
    /// Until when the intent holds, RFC 3339.
    pub until: String,
    /// Who may see it; empty means only the customer.
    #[serde(default)]
    pub visible_to: Vec<Audience>,
}

/// Why an intent list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntentError {
    #[error("at most {MAX_INTENTS} intents, got {0}")]
    TooMany(usize),
    #[error("intent {index}: `want` must be between 1 and 500 characters")]
    Want { index: usize },
    #[error("intent {index}: `until` `{until}` is not an rfc 3339 time")]
    Until { index: usize, until: String },
    #[error("intent {index}: audience purpose `{purpose}` is not a dpv purpose id")]
    Purpose { index: usize, purpose: String },
    #[error("intent {index}: audience grantee must be between 1 and 200 characters")]
    Grantee { index: usize },
}

impl Intent {
    /// `until` in milliseconds since the Unix epoch, if it parses.
    pub fn until_ms(&self) -> Option<i64> {
        self.until
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_millisecond())
    }

    /// Whether `grantee` may see this intent for `purpose` at `now_ms`,
    /// given the purposes the customer refused on every channel.
    pub fn visible(&self, grantee: &str, purpose: &str, refused: &[String], now_ms: i64) -> bool {
        let live = self.until_ms().is_some_and(|until| now_ms < until);
        let named = self
            .visible_to
            .iter()
            .any(|a| (a.grantee == grantee || a.grantee == "*") && a.purpose == purpose);
        let forbidden = refused
            .iter()
            .any(|r| r == purpose || consent::ancestors(purpose).iter().any(|a| a == r));
        live && named && !forbidden
    }
}

/// Checks a list a customer sent and fills in missing ids with `new_id`.
pub fn validate(
    intents: &mut [Intent],
    mut new_id: impl FnMut() -> String,
) -> Result<(), IntentError> {
    if intents.len() > MAX_INTENTS {
        return Err(IntentError::TooMany(intents.len()));
    }
    for (index, intent) in intents.iter_mut().enumerate() {
        if intent.want.trim().is_empty() || intent.want.len() > 500 {
            return Err(IntentError::Want { index });
        }
        if intent.until_ms().is_none() {
            return Err(IntentError::Until {
                index,
                until: intent.until.clone(),
            });
        }
        for audience in &intent.visible_to {
            if audience.grantee.trim().is_empty() || audience.grantee.len() > 200 {
                return Err(IntentError::Grantee { index });
            }
            if !audience.purpose.starts_with("dpv:") || audience.purpose.len() < 5 {
                return Err(IntentError::Purpose {
                    index,
                    purpose: audience.purpose.clone(),
                });
            }
        }
        if intent.id.is_empty() {
            intent.id = new_id();
        }
    }
    Ok(())
}

/// The intents `grantee` may see for `purpose` at `now_ms`.
pub fn visible_to<'a>(
    intents: &'a [Intent],
    grantee: &str,
    purpose: &str,
    refused: &[String],
    now_ms: i64,
) -> Vec<&'a Intent> {
    intents
        .iter()
        .filter(|intent| intent.visible(grantee, purpose, refused, now_ms))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(until: &str, visible_to: &[(&str, &str)]) -> Intent {
        Intent {
            id: String::new(),
            want: "running shoes".into(),
            category: None,
            max_price: None,
            until: until.into(),
            visible_to: visible_to
                .iter()
                .map(|(g, p)| Audience {
                    grantee: (*g).into(),
                    purpose: (*p).into(),
                })
                .collect(),
        }
    }

    const UNTIL_MS: i64 = 1_800_000_000_000;
    const UNTIL: &str = "2027-01-15T08:00:00Z";

    #[test]
    fn visible_only_to_the_named_audience_until_the_instant() {
        let shoes = intent(UNTIL, &[("acme", "dpv:Advertising")]);
        assert_eq!(shoes.until_ms(), Some(UNTIL_MS));
        assert!(shoes.visible("acme", "dpv:Advertising", &[], UNTIL_MS - 1));
        assert!(!shoes.visible("acme", "dpv:Advertising", &[], UNTIL_MS));
        assert!(!shoes.visible("beta", "dpv:Advertising", &[], 0));
        assert!(!shoes.visible("acme", "dpv:Marketing", &[], 0));
        let anyone = intent(UNTIL, &[("*", "dpv:Advertising")]);
        assert!(anyone.visible("beta", "dpv:Advertising", &[], 0));
        assert!(!intent(UNTIL, &[]).visible("acme", "dpv:Advertising", &[], 0));
    }

    #[test]
    fn a_refused_purpose_or_parent_hides_intents() {
        let shoes = intent(UNTIL, &[("acme", "dpv:Advertising")]);
        assert!(!shoes.visible("acme", "dpv:Advertising", &["dpv:Advertising".into()], 0));
        assert!(!shoes.visible("acme", "dpv:Advertising", &["dpv:Marketing".into()], 0));
        assert!(shoes.visible(
            "acme",
            "dpv:Advertising",
            &["dpv:Personalisation".into()],
            0
        ));
    }

    #[test]
    fn validation_names_the_bad_intent() {
        let mut list = vec![
            intent(UNTIL, &[("acme", "dpv:Advertising")]),
            intent("next tuesday", &[]),
        ];
        assert_eq!(
            validate(&mut list, || "i".into()),
            Err(IntentError::Until {
                index: 1,
                until: "next tuesday".into()
            })
        );
        let mut ok = vec![intent(UNTIL, &[("acme", "Advertising")])];
        assert!(matches!(
            validate(&mut ok, || "i".into()),
            Err(IntentError::Purpose { index: 0, .. })
        ));
        let mut fine = vec![intent(UNTIL, &[])];
        validate(&mut fine, || "intent_1".into()).unwrap();
        assert_eq!(fine[0].id, "intent_1");
    }
}
