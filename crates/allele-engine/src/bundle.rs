//! Bundles: the compiled, signable form of a policy.
//!
//! On the wire a bundle is a [`BundleDoc`]: plain JSON holding each rule's
//! source text. Loading one ([`Bundle::load`]) compiles every rule and binds
//! its slots, so the byte format does not depend on the evaluator's internals
//! and an edge agent compiles exactly what the server checked.
//!
//! Signing ([`crate::sign`]) covers the exact JSON text of the document, so a
//! verifier checks the bytes it received before parsing anything.

use serde::{Deserialize, Serialize};

use crate::cel::{CelError, Expression, SlotTable, Ty};
use crate::diagnostic::Diagnostic;

/// The bundle document format this crate writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    #[default]
    Top,
    Thompson,
    Epsilon,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Marketing,
    Transactional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Thompson,
    Contextual,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldoutConfig {
    /// Share of customers held out of every marketing action, 0..=1.
    pub universal: f64,
    pub salt: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum PropensityDoc {
    Expression {
        expression: String,
    },
    Model {
        model: ModelKind,
        prior: [f64; 2],
        /// CEL expressions (numbers or booleans) for `model: contextual`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        features: Vec<String>,
    },
}

impl Default for PropensityDoc {
    fn default() -> Self {
        PropensityDoc::Expression {
            expression: "1.0".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapDoc {
    /// At most this many decisions may return the action…
    pub count: u32,
    /// …per this many milliseconds, for one customer.
    pub per_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionDoc {
    pub id: String,
    pub channels: Vec<String>,
    pub purpose: String,
    pub kind: Kind,
    pub value: f64,
    pub cost: f64,
    pub lever: f64,
    /// Minimum score; candidates below it are dropped at the threshold stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_weight: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligibility: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicability: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suitability: Option<String>,
    pub propensity: PropensityDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<CapDoc>,
}

/// The serialisable bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleDoc {
    pub format: u32,
    pub version: u64,
    pub holdout: HoldoutConfig,
    pub selection: Selection,
    pub epsilon: f64,
    pub actions: Vec<ActionDoc>,
}

/// How an action's propensity is estimated.
#[derive(Debug, Clone)]
pub enum Propensity {
    Expression(Expression),
    /// Beta-Bernoulli with this prior `[successes, failures]`.
    Beta {
        prior: [f64; 2],
    },
    /// Linear Thompson sampling over these features ([`crate::linear`]).
    Linear {
        prior: [f64; 2],
        /// [`crate::linear::feature_key`] of the feature sources.
        key: String,
        features: Vec<Expression>,
    },
}

/// One action with its rules compiled.
#[derive(Debug, Clone)]
pub struct CompiledAction {
    pub eligibility: Option<Expression>,
    pub applicability: Option<Expression>,
    pub suitability: Option<Expression>,
    pub context_weight: Option<Expression>,
    pub propensity: Propensity,
}

/// A loaded bundle: the document plus its compiled rules and slot table.
#[derive(Debug, Clone)]
pub struct Bundle {
    doc: BundleDoc,
    slots: SlotTable,
    compiled: Vec<CompiledAction>,
}

/// Which rule of an action an expression is, for diagnostics and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleField {
    Eligibility,
    Applicability,
    Suitability,
    ContextWeight,
    Propensity,
    /// A feature of a contextual propensity: a number or a boolean.
    Feature,
}

impl RuleField {
    pub fn name(self) -> &'static str {
        match self {
            RuleField::Eligibility => "eligibility",
            RuleField::Applicability => "applicability",
            RuleField::Suitability => "suitability",
            RuleField::ContextWeight => "context_weight",
            RuleField::Propensity => "propensity",
            RuleField::Feature => "feature",
        }
    }
}

fn expression_error(action: &str, field: RuleField, source: &str, err: &CelError) -> Diagnostic {
    let (line, column) = err.span.line_col(source);
    Diagnostic::new(
        "expression",
        format!(
            "action `{action}`, {} {line}:{column}: {}",
            field.name(),
            err.message
        ),
    )
    .at_action(action, Some(field.name()))
    .at(line, column)
}

fn compile_rule(
    source: Option<&str>,
    action: &str,
    field: RuleField,
    slots: &mut SlotTable,
    errors: &mut Vec<Diagnostic>,
) -> Option<Expression> {
    let source = source?;
    let expression = match Expression::compile(source, slots) {
        Ok(expression) => expression,
        Err(err) => {
            errors.push(expression_error(action, field, source, &err));
            return None;
        }
    };
    let numeric = matches!(field, RuleField::ContextWeight | RuleField::Propensity);
    let either = field == RuleField::Feature;
    let fits = match expression.ty {
        Ty::Dyn => true,
        Ty::Bool => !numeric,
        ty => (numeric || either) && ty.is_numeric(),
    };
    if !fits {
        let wanted = match (numeric, either) {
            (_, true) => "a number or a boolean",
            (true, _) => "a number",
            _ => "a boolean",
        };
        let err = CelError::new(
            crate::cel::Span::new(0, source.len()),
            format!(
                "{} must be {wanted}, but this expression is a {}",
                field.name(),
                expression.ty.name()
            ),
        );
        errors.push(expression_error(action, field, source, &err));
        return None;
    }
    Some(expression)
}

impl Bundle {
    /// Compiles every rule of a document. Fails with one diagnostic per bad
    /// rule; never panics on any input.
    pub fn load(doc: BundleDoc) -> Result<Bundle, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        if doc.format != BUNDLE_FORMAT {
            errors.push(Diagnostic::new(
                "bundle_format",
                format!(
                    "bundle format `{}` is not supported; this engine reads format {BUNDLE_FORMAT}",
                    doc.format
                ),
            ));
            return Err(errors);
        }
        let mut slots = SlotTable::default();
        let mut compiled = Vec::with_capacity(doc.actions.len());
        for action in &doc.actions {
            let id = action.id.as_str();
            let mut rule = |source: Option<&String>, field| {
                compile_rule(
                    source.map(String::as_str),
                    id,
                    field,
                    &mut slots,
                    &mut errors,
                )
            };
            let eligibility = rule(action.eligibility.as_ref(), RuleField::Eligibility);
            let applicability = rule(action.applicability.as_ref(), RuleField::Applicability);
            let suitability = rule(action.suitability.as_ref(), RuleField::Suitability);
            let context_weight = rule(action.context_weight.as_ref(), RuleField::ContextWeight);
            let propensity = match &action.propensity {
                PropensityDoc::Expression { expression } => {
                    match rule(Some(expression), RuleField::Propensity) {
                        Some(expression) => Propensity::Expression(expression),
                        None => continue,
                    }
                }
                PropensityDoc::Model {
                    model: ModelKind::Contextual,
                    prior,
                    features,
                } if !features.is_empty() => {
                    let compiled: Vec<Expression> = features
                        .iter()
                        .filter_map(|f| rule(Some(f), RuleField::Feature))
                        .collect();
                    if compiled.len() != features.len() {
                        continue;
                    }
                    Propensity::Linear {
                        prior: *prior,
                        key: crate::linear::feature_key(features),
                        features: compiled,
                    }
                }
                PropensityDoc::Model { prior, .. } => Propensity::Beta { prior: *prior },
            };
            compiled.push(CompiledAction {
                eligibility,
                applicability,
                suitability,
                context_weight,
                propensity,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Bundle {
            doc,
            slots,
            compiled,
        })
    }

    pub fn doc(&self) -> &BundleDoc {
        &self.doc
    }

    pub fn version(&self) -> u64 {
        self.doc.version
    }

    pub fn slots(&self) -> &SlotTable {
        &self.slots
    }

    /// Each action's document with its compiled rules, in bundle order.
    pub fn actions(&self) -> impl Iterator<Item = (&ActionDoc, &CompiledAction)> {
        self.doc.actions.iter().zip(self.compiled.iter())
    }

    /// The canonical JSON text of the document (what gets signed).
    pub fn to_json(&self) -> String {
        // A BundleDoc holds only structs, sequences, strings and finite
        // numbers, so serialisation cannot fail; the fallback is unreachable.
        serde_json::to_string(&self.doc).unwrap_or_default()
    }

    /// Parses and loads a document without checking any signature: for a
    /// bundle the caller produced itself. Edges use [`crate::sign::verify`].
    pub fn from_json_unverified(text: &str) -> Result<Bundle, crate::sign::BundleError> {
        let doc: BundleDoc = serde_json::from_str(text)
            .map_err(|err| crate::sign::BundleError::Malformed(err.to_string()))?;
        Bundle::load(doc).map_err(crate::sign::BundleError::Invalid)
    }
}

impl Serialize for Bundle {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.doc.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Bundle {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let doc = BundleDoc::deserialize(deserializer)?;
        Bundle::load(doc).map_err(|errors| {
            let messages: Vec<String> = errors.into_iter().map(|d| d.message).collect();
            serde::de::Error::custom(messages.join("; "))
        })
    }
}
