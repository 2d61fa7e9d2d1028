//! `decide`: one customer, one request, one bundle → the chosen actions and
//! an explanation of every candidate.
//!
//! Stages, in order: channel → eligibility → applicability → suitability →
//! consent → customer caps → contact caps → holdout → propensity →
//! arbitration (P × C × V × L) → threshold → selection. A rule that is false,
//! errs (a missing trait, division by zero) or is not a boolean excludes the
//! action at its stage; the trace records which stage and why. The decision
//! is a pure function of the bundle and the [`DecisionInput`] (its seed
//! included) and never panics.

pub mod gate;
pub mod input;
mod number;

use serde::{Deserialize, Serialize};

use crate::bundle::{ActionDoc, Bundle, CompiledAction, Kind, Propensity};
use crate::cel::{Activation, Expression, Value};
use crate::holdout::is_held_out;
use crate::linear::predictive;
use crate::rng::Rng;
use crate::select::{Candidate, PickReason, Posterior, select};
use gate::Admit;

pub use input::{
    ArmStats, ConsentRecord, ConsentStatus, CustomerCaps, DecisionInput, DecisionRequest, Identity,
    InputResolver, ProfileView,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Bundle,
    Channel,
    Eligibility,
    Applicability,
    Suitability,
    Consent,
    CustomerCaps,
    ContactCaps,
    Holdout,
    Propensity,
    Arbitration,
    Threshold,
    Selection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Excluded,
    Selected,
    NotSelected,
}

/// Where one action's journey through the pipeline ended, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub action_id: String,
    pub stage: Stage,
    pub outcome: Outcome,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChosenAction {
    pub action_id: String,
    pub score: f64,
    /// The model's estimate.
    pub propensity: f64,
    /// The chance that the selection picked this action (what OPE needs).
    pub probability: f64,
    pub reasons: Vec<String>,
    /// The contextual model's feature vector, logged so the model can
    /// learn from this offer's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Features>,
}

/// A contextual model's input for one offer: `x = [1, f₁, …]` and the key
/// of the feature expressions that computed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub key: String,
    pub x: Vec<f64>,
}

/// A candidate that passed every gate, with its first-slot probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateProbability {
    pub action_id: String,
    pub score: f64,
    pub propensity: f64,
    pub probability: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub bundle_version: u64,
    /// Whether the customer is in the universal holdout.
    pub holdout: bool,
    pub actions: Vec<ChosenAction>,
    pub candidates: Vec<CandidateProbability>,
    pub trace: Vec<TraceEntry>,
}

/// An action that passed every gate, on its way to selection. Its reasons
/// are written out only if it is chosen.
struct Passed<'a> {
    action: usize,
    score: f64,
    propensity: f64,
    context_weight: f64,
    weight: f64,
    posterior: Option<Posterior>,
    features: Option<Features>,
    /// consent, customer caps, contact cap
    admits: [Admit<'a>; 3],
}

enum RuleVerdict {
    Pass,
    Fail(String),
}

fn run_rule(expression: Option<&Expression>, activation: &mut Activation<'_>) -> RuleVerdict {
    let Some(expression) = expression else {
        return RuleVerdict::Pass;
    };
    match expression.evaluate(activation) {
        Ok(Value::Bool(true)) => RuleVerdict::Pass,
        Ok(Value::Bool(false)) => RuleVerdict::Fail(format!("`{}` is false", expression.source)),
        Ok(other) => RuleVerdict::Fail(format!(
            "`{}` gave a {}, not a bool",
            expression.source,
            other.type_name()
        )),
        Err(err) => RuleVerdict::Fail(format!("`{}` failed: {err}", expression.source)),
    }
}

/// A feature's value: a number, or a boolean as 1 or 0.
fn run_feature(expression: &Expression, activation: &mut Activation<'_>) -> Result<f64, String> {
    match expression.evaluate(activation) {
        Ok(Value::Bool(b)) => Ok(f64::from(u8::from(b))),
        Ok(_) => run_number(expression, activation),
        Err(err) => Err(format!("feature `{}` failed: {err}", expression.source)),
    }
}

fn run_number(expression: &Expression, activation: &mut Activation<'_>) -> Result<f64, String> {
    match expression.evaluate(activation) {
        Ok(value) => match value.as_f64() {
            Some(number) if number.is_finite() => Ok(number),
            Some(number) => Err(format!("`{}` gave `{number}`", expression.source)),
            None => Err(format!(
                "`{}` gave a {}, not a number",
                expression.source,
                value.type_name()
            )),
        },
        Err(err) => Err(format!("`{}` failed: {err}", expression.source)),
    }
}

/// Decides. Pure: the same bundle and input (seed included) give the same
/// decision, on every platform.
pub fn decide(bundle: &Bundle, input: &DecisionInput) -> Decision {
    let doc = bundle.doc();
    let mut activation = Activation::for_input(bundle.slots(), input, input.now_ms);
    let held_out = is_held_out(
        doc.holdout.universal,
        &input.workspace_salt,
        &doc.holdout.salt,
        &input.profile.id,
    );
    // One entry per action, in bundle order; an action that passes every
    // gate gets its selection outcome once selection has run.
    let mut trace: Vec<TraceEntry> = Vec::with_capacity(doc.actions.len());
    let mut passed = Vec::with_capacity(doc.actions.len());
    for (index, (action, compiled)) in bundle.actions().enumerate() {
        match gates(action, compiled, input, held_out, &mut activation) {
            Ok(candidate) => {
                passed.push(Passed {
                    action: index,
                    ..candidate
                });
                trace.push(entry(
                    action,
                    Stage::Selection,
                    Outcome::NotSelected,
                    String::new(),
                ));
            }
            Err((stage, reason)) => trace.push(entry(action, stage, Outcome::Excluded, reason)),
        }
    }

    let candidates: Vec<Candidate> = passed
        .iter()
        .map(|p| Candidate {
            order: p.action,
            score: p.score,
            weight: p.weight,
            posterior: p.posterior,
            propensity: p.propensity,
        })
        .collect();
    let mut rng = Rng::from_seed(input.seed);
    let selected = select(
        doc.selection,
        doc.epsilon,
        &candidates,
        input.request.limit,
        &mut rng,
    );

    let mut actions = Vec::with_capacity(selected.picks.len());
    for pick in &selected.picks {
        let Some(chosen) = passed.get(pick.candidate) else {
            continue;
        };
        let Some(action) = doc.actions.get(chosen.action) else {
            continue;
        };
        let why = match pick.reason {
            PickReason::Top => format!("selected: highest score among {}", pick.among),
            PickReason::Explore => format!("selected: ε-exploration, uniform among {}", pick.among),
            PickReason::Sampled => {
                format!("selected: highest Thompson sample among {}", pick.among)
            }
        };
        let compiled = bundle.actions().nth(chosen.action).map(|(_, c)| c);
        let mut reasons = admitted_reasons(action, compiled, input, chosen);
        reasons.push(why.clone());
        actions.push(ChosenAction {
            action_id: action.id.clone(),
            score: chosen.score,
            propensity: chosen.propensity,
            probability: pick.probability,
            reasons,
            features: chosen.features.clone(),
        });
        if let Some(slot) = trace.get_mut(chosen.action) {
            slot.outcome = Outcome::Selected;
            slot.reason = format!("{why} (p = {})", pick.probability);
        }
    }
    for candidate in &passed {
        if let Some(slot) = trace.get_mut(candidate.action)
            && slot.outcome == Outcome::NotSelected
        {
            // as `format!` with `{}` would write it, without its cost
            // 50 bytes of text and at most 24 of number: one allocation
            let mut reason = String::with_capacity(74);
            reason.push_str("passed every gate with score ");
            number::push_f64(&mut reason, candidate.score);
            reason.push_str(" but was not selected");
            slot.reason = reason;
        }
    }
    let candidates = passed
        .iter()
        .zip(selected.pmf.iter())
        .filter_map(|(p, probability)| {
            Some(CandidateProbability {
                action_id: doc.actions.get(p.action)?.id.clone(),
                score: p.score,
                propensity: p.propensity,
                probability: *probability,
            })
        })
        .collect();
    if trace.is_empty() {
        trace.push(TraceEntry {
            action_id: String::new(),
            stage: Stage::Bundle,
            outcome: Outcome::Excluded,
            reason: format!("bundle version {} has no actions", doc.version),
        });
    }
    Decision {
        bundle_version: doc.version,
        holdout: held_out,
        actions,
        candidates,
        trace,
    }
}

fn entry(action: &ActionDoc, stage: Stage, outcome: Outcome, reason: String) -> TraceEntry {
    TraceEntry {
        action_id: action.id.clone(),
        stage,
        outcome,
        reason,
    }
}

/// Why a chosen action passed each gate, in pipeline order: the same
/// reasons the gates established, formatted now.
fn admitted_reasons(
    action: &ActionDoc,
    compiled: Option<&CompiledAction>,
    input: &DecisionInput,
    passed: &Passed<'_>,
) -> Vec<String> {
    let mut reasons = Vec::with_capacity(9);
    reasons.push(format!("offered on `{}`", input.request.channel));
    if let Some(compiled) = compiled {
        for rule in [
            &compiled.eligibility,
            &compiled.applicability,
            &compiled.suitability,
        ]
        .into_iter()
        .flatten()
        {
            reasons.push(format!("`{}` is true", rule.source));
        }
    }
    reasons.extend(passed.admits.iter().map(Admit::to_string));
    reasons.push(format!(
        "score {} = propensity {} × context weight {} × value {} × lever {}",
        passed.score, passed.propensity, passed.context_weight, action.value, action.lever
    ));
    reasons
}

/// Runs one action through every gate up to the threshold.
fn gates<'a>(
    action: &'a ActionDoc,
    compiled: &CompiledAction,
    input: &'a DecisionInput,
    held_out: bool,
    activation: &mut Activation<'_>,
) -> Result<Passed<'a>, (Stage, String)> {
    let channel = &input.request.channel;
    if !action.channels.iter().any(|c| c == channel) {
        return Err((
            Stage::Channel,
            format!(
                "channel `{channel}` is not one of `{}`",
                action.channels.join(", ")
            ),
        ));
    }
    for (stage, rule) in [
        (Stage::Eligibility, &compiled.eligibility),
        (Stage::Applicability, &compiled.applicability),
        (Stage::Suitability, &compiled.suitability),
    ] {
        if let RuleVerdict::Fail(reason) = run_rule(rule.as_ref(), activation) {
            return Err((stage, reason));
        }
    }
    let now = input.now_ms;
    let admits = [
        gate::consent_admit(
            action.kind,
            &action.purpose,
            channel,
            &input.profile.consent,
        )
        .map_err(|r| (Stage::Consent, r))?,
        gate::customer_caps_admit(action.kind, input.customer_caps.as_ref(), now)
            .map_err(|r| (Stage::CustomerCaps, r))?,
        gate::contact_cap_admit(
            action.caps.as_ref(),
            input.contact_history.get(&action.id),
            now,
        )
        .map_err(|r| (Stage::ContactCaps, r))?,
    ];
    if held_out && action.kind == Kind::Marketing {
        return Err((
            Stage::Holdout,
            "the customer is in the universal holdout".to_string(),
        ));
    }
    let (propensity, posterior, features) = match &compiled.propensity {
        Propensity::Expression(expression) => {
            let p = run_number(expression, activation).map_err(|r| (Stage::Propensity, r))?;
            if !(0.0..=1.0).contains(&p) {
                return Err((
                    Stage::Propensity,
                    format!("propensity `{p}` is outside [0, 1]"),
                ));
            }
            (p, None, None)
        }
        Propensity::Beta { prior } => {
            let stats = input.arm_stats.get(&action.id).copied().unwrap_or_default();
            let a = prior[0] + stats.successes.max(0.0);
            let b = prior[1] + stats.failures.max(0.0);
            if !(a.is_finite() && b.is_finite()) {
                return Err((
                    Stage::Propensity,
                    "outcome counts are not finite".to_string(),
                ));
            }
            (a / (a + b), Some(Posterior::Beta([a, b])), None)
        }
        Propensity::Linear {
            prior,
            key,
            features,
        } => {
            let mut x = Vec::with_capacity(features.len() + 1);
            x.push(1.0);
            for feature in features {
                x.push(run_feature(feature, activation).map_err(|r| (Stage::Propensity, r))?);
            }
            let Some(p) = predictive(*prior, key, &x, input.linear_stats.get(&action.id)) else {
                return Err((
                    Stage::Propensity,
                    "the contextual model's numbers are not finite".to_string(),
                ));
            };
            let posterior = Posterior::Normal {
                mean: p.mean,
                sd: p.sd,
            };
            let features = Features {
                key: key.clone(),
                x,
            };
            (p.mean.clamp(0.0, 1.0), Some(posterior), Some(features))
        }
    };
    let context_weight = match &compiled.context_weight {
        Some(expression) => {
            run_number(expression, activation).map_err(|r| (Stage::Arbitration, r))?
        }
        None => 1.0,
    };
    let weight = context_weight * action.value * action.lever;
    let score = propensity * weight;
    if !score.is_finite() {
        return Err((Stage::Threshold, format!("score `{score}` is not finite")));
    }
    if let Some(threshold) = action.threshold
        && score < threshold
    {
        return Err((
            Stage::Threshold,
            format!("score {score} is below the threshold {threshold}"),
        ));
    }
    Ok(Passed {
        action: 0,
        score,
        propensity,
        context_weight,
        weight,
        posterior,
        features,
        admits,
    })
}

#[cfg(test)]
mod tests;
