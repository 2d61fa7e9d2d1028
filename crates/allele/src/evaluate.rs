//! `allele evaluate --log FILE.jsonl --policy FILE.yaml`: off-policy
//! evaluation of a candidate policy on logged decisions.
//!
//! Each line replays the candidate's rules on the logged context and profile
//! to get π(a|x), the exact probability its selection gives the logged
//! action. Consent, caps and holdouts apply only where the log carries them:
//! a line without `profile.consent` is treated as consented to every
//! action's purpose, and the universal holdout applies only to lines that
//! carry `profile.id` (the holdout hashes it). The reward model behind DR is
//! the mean logged reward of each action.

use allele_engine::{
    Bundle, ConsentRecord, ConsentStatus, DecisionInput, DecisionRequest, ProfileView,
};
use allele_stats::ope::{LoggedTerm, evaluate};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// JSONL: one logged decision per line.
    #[arg(long)]
    pub log: PathBuf,
    /// The candidate policy (YAML).
    #[arg(long)]
    pub policy: PathBuf,
    /// 1 − confidence of the intervals.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
}

#[derive(Debug, Deserialize)]
struct LogLine {
    #[serde(default)]
    context: Map<String, Value>,
    #[serde(default)]
    profile: LoggedProfile,
    action_id: String,
    propensity: f64,
    reward: f64,
    #[serde(default)]
    touchpoint: Option<String>,
    #[serde(default)]
    channel: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LoggedProfile {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    traits: Map<String, Value>,
    #[serde(default)]
    segments: Vec<String>,
    #[serde(default)]
    consent: Option<Vec<ConsentRecord>>,
}

fn read_log(path: &PathBuf) -> Result<Vec<LogLine>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: LogLine = serde_json::from_str(line).map_err(|e| {
            format!(
                "{}:{}: not a logged decision: {e}",
                path.display(),
                number + 1
            )
        })?;
        if !(parsed.propensity > 0.0 && parsed.propensity <= 1.0) {
            return Err(format!(
                "{}:{}: `propensity` must be in (0, 1], got {}",
                path.display(),
                number + 1,
                parsed.propensity
            ));
        }
        if !parsed.reward.is_finite() {
            return Err(format!(
                "{}:{}: `reward` must be a finite number",
                path.display(),
                number + 1
            ));
        }
        lines.push(parsed);
    }
    Ok(lines)
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_string)
}

/// π(·|x) of the candidate on one logged line, as action → probability.
fn replay(
    bundle: &Bundle,
    no_holdout: &Bundle,
    line: &LogLine,
    index: usize,
) -> HashMap<String, f64> {
    let doc = bundle.doc();
    let channel = line
        .channel
        .clone()
        .or_else(|| text(&line.context, "channel"))
        .or_else(|| {
            doc.actions
                .iter()
                .find(|a| a.id == line.action_id)
                .and_then(|a| a.channels.first().cloned())
        })
        .unwrap_or_default();
    let touchpoint = line
        .touchpoint
        .clone()
        .or_else(|| text(&line.context, "touchpoint"))
        .unwrap_or_default();
    let consent = match &line.profile.consent {
        Some(records) => records.clone(),
        None => doc
            .actions
            .iter()
            .map(|a| ConsentRecord {
                purpose: a.purpose.clone(),
                channel: "*".into(),
                status: ConsentStatus::Given,
            })
            .collect(),
    };
    let profile = ProfileView {
        id: line
            .profile
            .id
            .clone()
            .unwrap_or_else(|| format!("log-{index}")),
        traits: line.profile.traits.clone(),
        segments: line.profile.segments.clone(),
        consent,
        ..ProfileView::default()
    };
    let input = DecisionInput {
        profile,
        request: DecisionRequest {
            touchpoint,
            channel,
            context: line.context.clone(),
            limit: 1,
        },
        now_ms: 0,
        seed: index as u64,
        workspace_salt: String::new(),
        contact_history: BTreeMap::new(),
        customer_caps: None,
        arm_stats: BTreeMap::new(),
        linear_stats: BTreeMap::new(),
    };
    let chosen = if line.profile.id.is_some() {
        bundle
    } else {
        no_holdout
    };
    allele_engine::decide(chosen, &input)
        .candidates
        .into_iter()
        .map(|c| (c.action_id, c.probability))
        .collect()
}

pub fn run(args: EvaluateArgs) -> Result<(), String> {
    let source = std::fs::read_to_string(&args.policy)
        .map_err(|e| format!("cannot read `{}`: {e}", args.policy.display()))?;
    let compiled = allele_engine::compile(&source, 0, &[]).map_err(|errors| {
        let first = errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        format!(
            "{}: the policy does not compile: {first}",
            args.policy.display()
        )
    })?;
    let mut doc = compiled.bundle.doc().clone();
    doc.holdout.universal = 0.0;
    let no_holdout = Bundle::load(doc).map_err(|_| "cannot build the replay bundle".to_string())?;
    let lines = read_log(&args.log)?;
    let mut totals: HashMap<&str, (f64, f64)> = HashMap::new();
    for line in &lines {
        let entry = totals.entry(line.action_id.as_str()).or_default();
        entry.0 += line.reward;
        entry.1 += 1.0;
    }
    let q = |action: &str| totals.get(action).map_or(0.0, |(sum, n)| sum / n);
    let terms: Vec<LoggedTerm> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let pi = replay(&compiled.bundle, &no_holdout, line, index);
            let v_candidate = pi.iter().map(|(action, p)| p * q(action)).sum();
            LoggedTerm {
                weight: pi.get(&line.action_id).copied().unwrap_or(0.0) / line.propensity,
                reward: line.reward,
                q_logged: q(&line.action_id),
                v_candidate,
            }
        })
        .collect();
    let report = evaluate(&terms, args.alpha);
    println!(
        "{}",
        serde_json::to_string(&report).map_err(|e| e.to_string())?
    );
    Ok(())
}
