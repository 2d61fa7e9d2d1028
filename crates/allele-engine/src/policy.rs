//! Policy files (YAML, DESIGN §7) → a [`BundleDoc`], with every problem
//! reported as a [`Diagnostic`].
//!
//! Unknown fields: §7 says "add fields freely", so a field the engine does
//! not know is accepted with an `unknown_field` warning — unless its name is
//! within a small edit distance of a known field of the same object
//! (`eligibilty`, `chanels`), which is an error with "did you mean": a
//! misspelt rule silently ignored would admit everyone.
//!
//! Defaults for omitted fields are neutral: `kind: marketing` (the safe
//! side: consent required), `value` 1, `cost` 0, `lever` 1, no context
//! weight (1), no rules (admit), `propensity` 1, no caps, no threshold,
//! `selection: top`, `epsilon` 0.1, no holdout.
//!
//! The static consent check (DESIGN §8): the engine's consent gate always
//! runs, so rules need not mention consent. What the check refuses is what
//! would get *around* the gate: an action without a `purpose` (nothing for
//! the gate to check), and `kind: transactional` on a marketing purpose
//! (transactional actions need no `given` record and skip the customer's
//! marketing caps, so a marketing message declared transactional would reach
//! customers who never consented, past their caps). A purpose counts as
//! marketing when its name contains `marketing`, `advertis`, `promot`,
//! `sell` or is `dpv:PublicRelations` (case-insensitive).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use crate::bundle::{
    ActionDoc, BUNDLE_FORMAT, BundleDoc, CapDoc, HoldoutConfig, Kind, ModelKind, PropensityDoc,
    Selection,
};
use crate::cel::time::parse_duration;
use crate::diagnostic::Diagnostic;
use crate::suggest::closest;

/// Default ε for `selection: epsilon` when the file gives none.
pub const DEFAULT_EPSILON: f64 = 0.1;

type Extra = BTreeMap<String, Yaml>;

#[derive(Debug, Deserialize)]
struct PolicySource {
    holdout: Option<HoldoutSource>,
    selection: Option<Selection>,
    epsilon: Option<f64>,
    actions: Option<Vec<ActionSource>>,
    #[serde(flatten)]
    extra: Extra,
}

#[derive(Debug, Deserialize)]
struct HoldoutSource {
    universal: Option<f64>,
    salt: Option<String>,
    #[serde(flatten)]
    extra: Extra,
}

#[derive(Debug, Deserialize)]
struct ActionSource {
    id: Option<String>,
    channels: Option<Vec<String>>,
    purpose: Option<String>,
    kind: Option<Kind>,
    value: Option<f64>,
    cost: Option<f64>,
    lever: Option<f64>,
    threshold: Option<f64>,
    context_weight: Option<RuleSource>,
    eligibility: Option<RuleSource>,
    applicability: Option<RuleSource>,
    suitability: Option<RuleSource>,
    propensity: Option<PropensitySource>,
    caps: Option<CapsSource>,
    #[serde(flatten)]
    extra: Extra,
}

/// A rule may be written as a string or, for convenience, a bare scalar
/// (`context_weight: 1.5`, `eligibility: true`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RuleSource {
    Text(String),
    Bool(bool),
    Number(f64),
}

impl RuleSource {
    fn into_text(self) -> String {
        match self {
            RuleSource::Text(text) => text,
            RuleSource::Bool(b) => b.to_string(),
            RuleSource::Number(n) => format!("{n:?}"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct PropensitySource {
    expression: Option<RuleSource>,
    model: Option<ModelKind>,
    prior: Option<Vec<f64>>,
    features: Option<Vec<RuleSource>>,
    #[serde(flatten)]
    extra: Extra,
}

#[derive(Debug, Deserialize)]
struct CapsSource {
    per_customer: Option<CapSource>,
    #[serde(flatten)]
    extra: Extra,
}

#[derive(Debug, Deserialize)]
struct CapSource {
    count: Option<u32>,
    per: Option<String>,
    #[serde(flatten)]
    extra: Extra,
}

const TOP_FIELDS: &[&str] = &["holdout", "selection", "epsilon", "actions"];
const HOLDOUT_FIELDS: &[&str] = &["universal", "salt"];
const ACTION_FIELDS: &[&str] = &[
    "id",
    "channels",
    "purpose",
    "kind",
    "value",
    "cost",
    "lever",
    "threshold",
    "context_weight",
    "eligibility",
    "applicability",
    "suitability",
    "propensity",
    "caps",
];
const PROPENSITY_FIELDS: &[&str] = &["expression", "model", "prior", "features"];
const CAPS_FIELDS: &[&str] = &["per_customer"];
const CAP_FIELDS: &[&str] = &["count", "per"];

/// Whether a purpose is a marketing purpose (see the module docs).
pub fn is_marketing_purpose(purpose: &str) -> bool {
    let lowered = purpose.to_lowercase();
    ["marketing", "advertis", "promot", "sell"]
        .iter()
        .any(|word| lowered.contains(word))
        || lowered == "dpv:publicrelations"
}

struct Collector {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Collector {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    /// Sorts unknown fields into typos (errors) and additions (warnings).
    fn extra(&mut self, extra: &Extra, known: &[&str], place: &str, action: Option<&str>) {
        for key in extra.keys() {
            let diagnostic = match closest(key, known.iter().copied()) {
                Some(suggestion) => {
                    let d = Diagnostic::new(
                        "unknown_field",
                        format!("unknown field `{key}` {place}; did you mean `{suggestion}`?"),
                    );
                    self.errors.push(with_action(d, action, Some(key)));
                    continue;
                }
                None => Diagnostic::new(
                    "unknown_field",
                    format!("unknown field `{key}` {place} is ignored"),
                ),
            };
            self.warnings
                .push(with_action(diagnostic, action, Some(key)));
        }
    }
}

fn with_action(diagnostic: Diagnostic, action: Option<&str>, field: Option<&str>) -> Diagnostic {
    match action {
        Some(action) => diagnostic.at_action(action, field),
        None => Diagnostic {
            field: field.map(str::to_string),
            ..diagnostic
        },
    }
}

/// Parses and validates a policy file. Returns the bundle document (not yet
/// compiled) and the warnings, or every error found.
pub fn parse_policy(
    source: &str,
    version: u64,
) -> Result<(BundleDoc, Vec<Diagnostic>), Vec<Diagnostic>> {
    let parsed: PolicySource = match serde_yaml_ng::from_str(source) {
        Ok(parsed) => parsed,
        Err(err) => {
            let mut diagnostic = Diagnostic::new("yaml", format!("invalid policy file: {err}"));
            if let Some(location) = err.location() {
                diagnostic = diagnostic.at(location.line(), location.column());
            }
            return Err(vec![diagnostic]);
        }
    };
    let mut collector = Collector {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    collector.extra(&parsed.extra, TOP_FIELDS, "at the top level", None);

    let holdout = match parsed.holdout {
        Some(holdout) => {
            collector.extra(&holdout.extra, HOLDOUT_FIELDS, "in `holdout`", None);
            let universal = holdout.universal.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&universal) {
                collector.error(Diagnostic::new(
                    "invalid_value",
                    format!(
                        "`holdout.universal` must be a share between 0 and 1, found `{universal}`"
                    ),
                ));
            }
            HoldoutConfig {
                universal,
                salt: holdout.salt.unwrap_or_default(),
            }
        }
        None => HoldoutConfig::default(),
    };
    let selection = parsed.selection.unwrap_or_default();
    let epsilon = parsed.epsilon.unwrap_or(DEFAULT_EPSILON);
    if !(0.0..=1.0).contains(&epsilon) {
        collector.error(Diagnostic::new(
            "invalid_value",
            format!("`epsilon` must be between 0 and 1, found `{epsilon}`"),
        ));
    }
    let Some(sources) = parsed.actions else {
        collector.error(Diagnostic::new(
            "missing_field",
            "the policy has no `actions` list",
        ));
        return Err(collector.errors);
    };
    let mut actions = Vec::with_capacity(sources.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, action) in sources.into_iter().enumerate() {
        if let Some(doc) = action_doc(action, index, &mut collector) {
            if let Some(first) = seen.insert(doc.id.clone(), index) {
                collector.error(
                    Diagnostic::new(
                        "duplicate_action",
                        format!(
                            "action id `{}` is used by actions {first} and {index}",
                            doc.id
                        ),
                    )
                    .at_action(&doc.id, Some("id")),
                );
            }
            actions.push(doc);
        }
    }
    if !collector.errors.is_empty() {
        return Err(collector.errors);
    }
    let doc = BundleDoc {
        format: BUNDLE_FORMAT,
        version,
        holdout,
        selection,
        epsilon,
        actions,
    };
    Ok((doc, collector.warnings))
}

fn action_doc(action: ActionSource, index: usize, collector: &mut Collector) -> Option<ActionDoc> {
    let Some(id) = action.id.filter(|id| !id.trim().is_empty()) else {
        collector.error(Diagnostic::new(
            "missing_field",
            format!("action {index} (0-based) has no `id`"),
        ));
        return None;
    };
    let place = format!("in action `{id}`");
    collector.extra(&action.extra, ACTION_FIELDS, &place, Some(&id));
    let invalid = |field: &str, message: String| {
        Diagnostic::new("invalid_value", message).at_action(&id, Some(field))
    };
    let channels = action.channels.unwrap_or_default();
    if channels.is_empty() || channels.iter().any(|c| c.trim().is_empty()) {
        collector.error(invalid(
            "channels",
            format!("action `{id}` needs a non-empty `channels` list such as `[email, web]`"),
        ));
    }
    let kind = action.kind.unwrap_or_default();
    let purpose = action.purpose.unwrap_or_default();
    if purpose.trim().is_empty() {
        collector.error(
            Diagnostic::new(
                "consent",
                format!(
                    "action `{id}` declares no `purpose`, so the consent gate could not check it; add one such as `dpv:DirectMarketing`"
                ),
            )
            .at_action(&id, Some("purpose")),
        );
    } else if kind == Kind::Transactional && is_marketing_purpose(&purpose) {
        collector.error(
            Diagnostic::new(
                "consent",
                format!(
                    "action `{id}` is `kind: transactional` but its purpose `{purpose}` is a marketing purpose; transactional actions need no consent and skip customer caps, so this would reach customers who never consented"
                ),
            )
            .at_action(&id, Some("kind")),
        );
    }
    let mut number = |field: &str, value: Option<f64>, default: f64, min: f64| {
        let value = value.unwrap_or(default);
        if !value.is_finite() || value < min {
            collector.error(invalid(
                field,
                format!("`{field}` of action `{id}` must be a finite number of at least {min}, found `{value}`"),
            ));
        }
        value
    };
    let value = number("value", action.value, 1.0, f64::MIN);
    let cost = number("cost", action.cost, 0.0, f64::MIN);
    let lever = number("lever", action.lever, 1.0, 0.0);
    let threshold = action
        .threshold
        .map(|t| number("threshold", Some(t), 0.0, f64::MIN));
    let propensity = propensity_doc(action.propensity, &id, collector);
    let caps = caps_doc(action.caps, &id, collector);
    Some(ActionDoc {
        id: id.clone(),
        channels,
        purpose,
        kind,
        value,
        cost,
        lever,
        threshold,
        context_weight: action.context_weight.map(RuleSource::into_text),
        eligibility: action.eligibility.map(RuleSource::into_text),
        applicability: action.applicability.map(RuleSource::into_text),
        suitability: action.suitability.map(RuleSource::into_text),
        propensity,
        caps,
    })
}

fn propensity_doc(
    source: Option<PropensitySource>,
    id: &str,
    collector: &mut Collector,
) -> PropensityDoc {
    let Some(source) = source else {
        return PropensityDoc::default();
    };
    collector.extra(
        &source.extra,
        PROPENSITY_FIELDS,
        &format!("in the propensity of action `{id}`"),
        Some(id),
    );
    let diagnostic = |message: String| {
        Diagnostic::new("invalid_value", message).at_action(id, Some("propensity"))
    };
    match (source.expression, source.model) {
        (Some(expression), None) => {
            if source.prior.is_some() {
                collector.error(diagnostic(format!(
                    "action `{id}`: `prior` only applies to `model: thompson` or `model: contextual`"
                )));
            }
            PropensityDoc::Expression {
                expression: expression.into_text(),
            }
        }
        (None, Some(model)) => {
            let prior = source.prior.unwrap_or_else(|| vec![1.0, 1.0]);
            let valid = matches!(prior.as_slice(), [a, b] if a.is_finite() && b.is_finite() && *a > 0.0 && *b > 0.0);
            if !valid {
                collector.error(diagnostic(format!(
                    "action `{id}`: `prior` must be two positive numbers `[successes, failures]`, found `{prior:?}`"
                )));
            }
            let features: Vec<String> = source
                .features
                .unwrap_or_default()
                .into_iter()
                .map(RuleSource::into_text)
                .collect();
            if model == ModelKind::Thompson && !features.is_empty() {
                collector.error(diagnostic(format!(
                    "action `{id}`: `features` only applies to `model: contextual`"
                )));
            }
            if features.len() > crate::linear::MAX_FEATURES {
                collector.error(diagnostic(format!(
                    "action `{id}`: at most {} `features`, found {}",
                    crate::linear::MAX_FEATURES,
                    features.len()
                )));
            }
            if model == ModelKind::Contextual && features.is_empty() {
                collector.warnings.push(
                    Diagnostic::new(
                        "model_fallback",
                        format!(
                            "action `{id}`: `model: contextual` without `features` is served as a per-action Beta-Bernoulli (thompson) model"
                        ),
                    )
                    .at_action(id, Some("propensity")),
                );
            }
            PropensityDoc::Model {
                model,
                prior: [
                    prior.first().copied().unwrap_or(1.0),
                    prior.get(1).copied().unwrap_or(1.0),
                ],
                features,
            }
        }
        (Some(_), Some(_)) => {
            collector.error(diagnostic(format!(
                "action `{id}`: `propensity` takes either `expression` or `model`, not both"
            )));
            PropensityDoc::default()
        }
        (None, None) => {
            collector.error(diagnostic(format!(
                "action `{id}`: `propensity` needs `expression` (such as `\"0.05\"`) or `model` (`thompson` or `contextual`)"
            )));
            PropensityDoc::default()
        }
    }
}

fn caps_doc(source: Option<CapsSource>, id: &str, collector: &mut Collector) -> Option<CapDoc> {
    let source = source?;
    collector.extra(
        &source.extra,
        CAPS_FIELDS,
        &format!("in the caps of action `{id}`"),
        Some(id),
    );
    let cap = source.per_customer?;
    collector.extra(
        &cap.extra,
        CAP_FIELDS,
        &format!("in `caps.per_customer` of action `{id}`"),
        Some(id),
    );
    let diagnostic =
        |message: String| Diagnostic::new("invalid_value", message).at_action(id, Some("caps"));
    let count = cap.count.unwrap_or(0);
    if count == 0 {
        collector.error(diagnostic(format!(
            "action `{id}`: `caps.per_customer.count` must be at least 1"
        )));
    }
    let per = cap.per.unwrap_or_default();
    let per_ms = match parse_duration(&per) {
        Ok(nanos) if nanos > 0 => u64::try_from(nanos / 1_000_000).unwrap_or(u64::MAX),
        Ok(_) => {
            collector.error(diagnostic(format!(
                "action `{id}`: `caps.per_customer.per` must be positive"
            )));
            0
        }
        Err(message) => {
            collector.error(diagnostic(format!(
                "action `{id}`: `caps.per_customer.per`: {message}"
            )));
            0
        }
    };
    Some(CapDoc { count, per_ms })
}

#[cfg(test)]
pub(crate) mod tests;
