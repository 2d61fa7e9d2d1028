//! Customer data grants as Cedar policies: a customer lets a named grantee
//! read some fields of their profile for one purpose until an expiry,
//! possibly for a price. Each grant becomes one `permit`; each purpose the
//! customer refused or withdrew (on every channel, `*`, as GPC records)
//! becomes one `forbid`. The `cedar-policy` authorizer decides every field
//! read, and its answer names the grants that allowed it, which is what a
//! priced grant bills.
//!
//! The Cedar model (no schema; entities carry no attributes):
//!
//! ```text
//! principal  Grantee::"<grantee>"
//! action     Action::"read"
//! resource   Field::"<trait name>"
//! context    { purpose: String, purposes: Set<String>, now: Long }
//! ```
//!
//! `purposes` is the requested purpose with its DPV ancestors, so refusing
//! `dpv:Marketing` forbids a grant for `dpv:DirectMarketing` too. `now` is
//! milliseconds since the Unix epoch and a grant allows only `now < expires_at`:
//! it is already expired at its expiry instant. Cedar's semantics make the
//! monotonicity rules hold by construction: with no permit nothing is allowed,
//! permits are a union, and any matching forbid wins.

use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityId, EntityTypeName, EntityUid, Policy, PolicyId,
    PolicySet, Request, RestrictedExpression,
};
use serde::{Deserialize, Serialize};

use crate::consent::{self, ConsentRecord, Status};

/// Policy ids of grants start with this; the rest is the grant id.
pub const GRANT_POLICY_PREFIX: &str = "grant:";
/// Policy ids of refusals start with this; the rest is the refused purpose.
pub const REFUSAL_POLICY_PREFIX: &str = "refusal:";

/// What a grantee pays per read under a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Minor currency units (cents) per read.
    pub amount: u64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// One grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Stable id, also the Cedar policy id after [`GRANT_POLICY_PREFIX`].
    pub id: String,
    /// Who may read.
    pub grantee: String,
    /// Which profile fields (trait names), or `*` for every field.
    pub fields: Vec<String>,
    /// For which DPV purpose.
    pub purpose: String,
    /// Until when, milliseconds since the Unix epoch (exclusive).
    pub expires_at: i64,
    /// What each read costs the grantee, if anything.
    #[serde(default)]
    pub price: Option<Price>,
}

/// Why grants could not be turned into policies or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// Cedar refused a generated policy (a bug, never customer input: every
    /// string is escaped).
    #[error("grant `{id}` is not a valid cedar policy: {reason}")]
    Policy { id: String, reason: String },
    /// The request could not be built.
    #[error("cannot build the authorization request: {0}")]
    Request(String),
}

/// A Cedar string literal holding `text` exactly (Cedar unescapes what this escapes).
fn literal(text: &str) -> String {
    format!("\"{}\"", EntityId::new(text).escaped())
}

/// The Cedar text of a grant's `permit`.
pub fn grant_policy_text(grant: &Grant) -> String {
    let mut conditions = vec![
        format!("context.purpose == {}", literal(&grant.purpose)),
        format!("context.now < {}", grant.expires_at),
    ];
    if !grant.fields.iter().any(|field| field == "*") {
        let fields: Vec<String> = grant
            .fields
            .iter()
            .map(|field| format!("Field::{}", literal(field)))
            .collect();
        conditions.push(format!("[{}].contains(resource)", fields.join(", ")));
    }
    format!(
        "permit (\n  principal == Grantee::{},\n  action == Action::\"read\",\n  resource\n) when {{\n  {}\n}};",
        literal(&grant.grantee),
        conditions.join(" &&\n  ")
    )
}

/// The Cedar text of the `forbid` for a refused purpose.
pub fn refusal_policy_text(purpose: &str) -> String {
    format!(
        "forbid (principal, action == Action::\"read\", resource) when {{\n  context.purposes.contains({})\n}};",
        literal(purpose)
    )
}

/// Purposes the ledger refuses or withdraws on every channel (`*`), each
/// by its own newest record: the `forbid`s a grant set carries.
pub fn refused_purposes(ledger: &[ConsentRecord]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for record in ledger {
        if record.channel != consent::ANY_CHANNEL || out.contains(&record.purpose) {
            continue;
        }
        let status = consent::effective_status(ledger, &record.purpose, consent::ANY_CHANNEL);
        if matches!(status, Status::Refused | Status::Withdrawn) {
            out.push(record.purpose.clone());
        }
    }
    out
}

/// A customer's grants and refusals, compiled once and asked many times.
#[derive(Debug, Clone)]
pub struct GrantPolicies {
    policies: PolicySet,
}

/// The answer for one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDecision {
    /// The field asked for.
    pub field: String,
    /// Whether it may be read.
    pub allowed: bool,
    /// The Cedar policy ids that decided (grants on allow, refusals on deny).
    pub policies: Vec<String>,
}

impl FieldDecision {
    /// Ids of the grants that allowed this read.
    pub fn grant_ids(&self) -> impl Iterator<Item = &str> {
        self.policies
            .iter()
            .filter_map(|id| id.strip_prefix(GRANT_POLICY_PREFIX))
    }
}

fn entity(type_name: &str, id: &str) -> Result<EntityUid, GrantError> {
    let type_name =
        EntityTypeName::from_str(type_name).map_err(|e| GrantError::Request(e.to_string()))?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(id),
    ))
}

impl GrantPolicies {
    /// Compiles grants (permits) and refused purposes (forbids).
    pub fn new(grants: &[Grant], refused: &[String]) -> Result<Self, GrantError> {
        let mut policies = PolicySet::new();
        let mut add = |id: String, text: String| {
            let policy =
                Policy::parse(Some(PolicyId::new(&id)), &text).map_err(|e| GrantError::Policy {
                    id: id.clone(),
                    reason: e.to_string(),
                })?;
            policies.add(policy).map_err(|e| GrantError::Policy {
                id,
                reason: e.to_string(),
            })
        };
        for grant in grants {
            add(
                format!("{GRANT_POLICY_PREFIX}{}", grant.id),
                grant_policy_text(grant),
            )?;
        }
        for purpose in refused {
            add(
                format!("{REFUSAL_POLICY_PREFIX}{purpose}"),
                refusal_policy_text(purpose),
            )?;
        }
        Ok(Self { policies })
    }

    /// Adds one more `forbid` (used by tests and by callers with their own refusals).
    pub fn forbid(&mut self, id: &str, text: &str) -> Result<(), GrantError> {
        let policy =
            Policy::parse(Some(PolicyId::new(id)), text).map_err(|e| GrantError::Policy {
                id: id.to_owned(),
                reason: e.to_string(),
            })?;
        self.policies.add(policy).map_err(|e| GrantError::Policy {
            id: id.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Whether `grantee` may read `field` for `purpose` at `now_ms`, and why.
    pub fn decide(
        &self,
        grantee: &str,
        field: &str,
        purpose: &str,
        now_ms: i64,
    ) -> Result<FieldDecision, GrantError> {
        let mut purposes = vec![RestrictedExpression::new_string(purpose.to_owned())];
        purposes.extend(
            consent::ancestors(purpose)
                .into_iter()
                .map(|p| RestrictedExpression::new_string(p.to_owned())),
        );
        let context = Context::from_pairs([
            (
                "purpose".to_owned(),
                RestrictedExpression::new_string(purpose.to_owned()),
            ),
            (
                "purposes".to_owned(),
                RestrictedExpression::new_set(purposes),
            ),
            ("now".to_owned(), RestrictedExpression::new_long(now_ms)),
        ])
        .map_err(|e| GrantError::Request(e.to_string()))?;
        let request = Request::new(
            entity("Grantee", grantee)?,
            entity("Action", "read")?,
            entity("Field", field)?,
            context,
            None,
        )
        .map_err(|e| GrantError::Request(e.to_string()))?;
        let response =
            Authorizer::new().is_authorized(&request, &self.policies, &Entities::empty());
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        policies.sort();
        Ok(FieldDecision {
            field: field.to_owned(),
            allowed: response.decision() == Decision::Allow,
            policies,
        })
    }

    /// The decision for each field, in the order given.
    pub fn decide_fields<'a>(
        &self,
        grantee: &str,
        fields: impl IntoIterator<Item = &'a str>,
        purpose: &str,
        now_ms: i64,
    ) -> Result<Vec<FieldDecision>, GrantError> {
        fields
            .into_iter()
            .map(|field| self.decide(grantee, field, purpose, now_ms))
            .collect()
    }
}

/// Whether any grant allows `grantee` to read `field` for `purpose` at
/// `now_ms`, with no refusals (a convenience over [`GrantPolicies`]).
pub fn grant_allows(
    grants: &[Grant],
    grantee: &str,
    field: &str,
    purpose: &str,
    now_ms: i64,
) -> Result<bool, GrantError> {
    Ok(GrantPolicies::new(grants, &[])?
        .decide(grantee, field, purpose, now_ms)?
        .allowed)
}

#[cfg(test)]
#[path = "grants_tests.rs"]
mod tests;
