//! `allele simulate`: a synthetic market that runs the whole loop.
//!
//! Customers have hidden conversion chances that depend on the touchpoint
//! and on their tier; four edges (web, app, store, call centre) decide with
//! the engine. Each round every policy meets the same customers with the
//! same luck (common random numbers):
//! - **static**: the central rules as written, `selection: top` on value;
//! - **adapted**: the same actions with Beta-Bernoulli propensities and
//!   Thompson selection, each edge learning from its own outcomes;
//! - **contextual**: the same with contextual propensities (linear Thompson
//!   sampling on the customer's tier), each edge learning on its own too,
//!   so it can find the tier effect a per-touchpoint rate cannot;
//! - **oracle**: the action with the best hidden expected value.
//!
//! Edges go offline in spells: they keep deciding on their own, queue their
//! log for the centre, and once their consent snapshot is older than the
//! maximum staleness they stop offering marketing actions (fail closed).
//! Customers withdraw consent as the rounds go; a marketing offer to a
//! customer whose withdrawal the edge already knew would be a violation and
//! is counted. At the end the centre reads the adapted log the edges sent,
//! splits each action's outcomes by context (`allele-server::learning`) and
//! proposes rule changes, which should name the effects planted here.

use allele_engine::linear::LinearStats;
use allele_engine::{
    ArmStats, Bundle, ConsentRecord, ConsentStatus, DecisionInput, DecisionRequest, ProfileView,
};
use allele_server::learning;
use allele_server::ope::Logged;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const TOUCHPOINTS: [&str; 4] = ["web", "app", "store", "call_centre"];
const ROUND_MS: i64 = 86_400_000;

/// `(id, value, marketing)`; the hidden chances are in [`chance`].
const ACTIONS: [(&str, f64, bool); 4] = [
    ("discount", 10.0, true),
    ("new_arrivals", 6.0, true),
    ("loyalty", 5.0, true),
    ("service_tip", 1.0, false),
];

/// The planted truth: discounts sell in the store, new arrivals in the app,
/// loyalty offers to gold customers; tips are mildly useful everywhere.
fn chance(action: &str, touchpoint: &str, gold: bool) -> f64 {
    match (action, touchpoint) {
        ("discount", "store") => 0.30,
        ("discount", "call_centre") => 0.10,
        ("discount", _) => 0.03,
        ("new_arrivals", "app") => 0.30,
        ("new_arrivals", "web") => 0.12,
        ("new_arrivals", _) => 0.04,
        ("loyalty", _) if gold => 0.35,
        ("loyalty", _) => 0.06,
        _ => 0.20,
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Customers in the market.
    #[arg(long, default_value_t = 2_000)]
    pub customers: usize,
    /// Rounds (days) to run.
    #[arg(long, default_value_t = 12)]
    pub rounds: usize,
    /// Decisions per round, spread over the edges.
    #[arg(long, default_value_t = 1_500)]
    pub decisions: usize,
    /// Rounds an edge may go without a consent snapshot before it fails closed.
    #[arg(long, default_value_t = 1)]
    pub max_staleness: usize,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the result as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Static,
    Adapted,
    Contextual,
}

fn policy(kind: Kind) -> String {
    let mut out = format!(
        "holdout: {{ universal: 0.0, salt: \"sim\" }}\nselection: {}\nactions:\n",
        if kind == Kind::Static {
            "top"
        } else {
            "thompson"
        }
    );
    for (id, value, marketing) in ACTIONS {
        let (kind_text, purpose) = if marketing {
            ("marketing", "dpv:DirectMarketing")
        } else {
            ("transactional", "dpv:ServiceProvision")
        };
        let propensity = match kind {
            Kind::Static => "{ expression: \"0.1\" }",
            Kind::Adapted => "{ model: thompson, prior: [1, 9] }",
            Kind::Contextual => {
                "{ model: contextual, prior: [1, 9], features: ['profile.traits.tier == \"gold\"'] }"
            }
        };
        out.push_str(&format!(
            "  - id: {id}\n    channels: [web]\n    purpose: {purpose}\n    kind: {kind_text}\n    value: {value}\n    propensity: {propensity}\n"
        ));
    }
    out
}

struct Customer {
    id: String,
    gold: bool,
    /// The round from which marketing consent is withdrawn, if ever.
    withdrawn_at: Option<usize>,
}

struct Edge {
    arms: BTreeMap<String, ArmStats>,
    linear: BTreeMap<String, LinearStats>,
    /// The last round whose consent snapshot reached this edge.
    synced: usize,
    /// Log waiting for the centre while the edge is offline.
    outbox: Vec<Logged>,
}

/// Per-round rewards, summed over the round's decisions.
#[derive(Default, Clone, Copy, serde::Serialize)]
pub struct Round {
    pub statics: f64,
    pub adapted: f64,
    pub contextual: f64,
    pub oracle: f64,
    pub edges_offline: usize,
    pub failed_closed: usize,
}

pub struct Outcome {
    pub rounds: Vec<Round>,
    pub violations: usize,
    pub proposals: Vec<Value>,
    pub logged_at_centre: usize,
}

fn input(customer: &Customer, consented: bool, touchpoint: &str, round: usize) -> DecisionInput {
    let status = if consented {
        ConsentStatus::Given
    } else {
        ConsentStatus::Withdrawn
    };
    let mut traits = Map::new();
    traits.insert(
        "tier".into(),
        json!(if customer.gold { "gold" } else { "silver" }),
    );
    DecisionInput {
        profile: ProfileView {
            id: customer.id.clone(),
            traits,
            consent: vec![ConsentRecord {
                purpose: "dpv:DirectMarketing".into(),
                channel: "web".into(),
                status,
            }],
            ..ProfileView::default()
        },
        request: DecisionRequest {
            touchpoint: touchpoint.into(),
            channel: "web".into(),
            context: Map::new(),
            limit: 1,
        },
        now_ms: round as i64 * ROUND_MS,
        seed: 0,
        workspace_salt: "sim".into(),
        contact_history: BTreeMap::new(),
        customer_caps: None,
        arm_stats: BTreeMap::new(),
        linear_stats: BTreeMap::new(),
    }
}

fn compile(kind: Kind) -> Result<Bundle, String> {
    allele_engine::compile(&policy(kind), 1, &[])
        .map(|out| out.bundle)
        .map_err(|errors| format!("the simulated policy does not compile: {errors:?}"))
}

/// Run the market; `tick` is called once per round.
pub fn simulate(args: &SimulateArgs, mut tick: impl FnMut(usize)) -> Result<Outcome, String> {
    let (statics, adapted, contextual) = (
        compile(Kind::Static)?,
        compile(Kind::Adapted)?,
        compile(Kind::Contextual)?,
    );
    let mut rng = StdRng::seed_from_u64(args.seed);
    let customers: Vec<Customer> = (0..args.customers.max(1))
        .map(|i| Customer {
            id: format!("c{i}"),
            gold: rng.random_bool(0.25),
            withdrawn_at: rng
                .random_bool(0.3)
                .then(|| rng.random_range(0..args.rounds.max(1))),
        })
        .collect();
    let mut edges: Vec<Edge> = TOUCHPOINTS
        .iter()
        .map(|_| Edge {
            arms: BTreeMap::new(),
            linear: BTreeMap::new(),
            synced: 0,
            outbox: Vec::new(),
        })
        .collect();
    let (mut rounds, mut centre, mut violations) = (Vec::new(), Vec::new(), 0usize);
    for round in 0..args.rounds {
        let mut totals = Round::default();
        let online: Vec<bool> = (0..edges.len()).map(|_| !rng.random_bool(0.2)).collect();
        for (edge, up) in edges.iter_mut().zip(&online) {
            if *up {
                edge.synced = round;
                centre.append(&mut edge.outbox);
            }
        }
        totals.edges_offline = online.iter().filter(|up| !**up).count();
        for _ in 0..args.decisions {
            let customer = &customers[rng.random_range(0..customers.len())];
            let e = rng.random_range(0..TOUCHPOINTS.len());
            let touchpoint = TOUCHPOINTS[e];
            let luck: Vec<f64> = ACTIONS.iter().map(|_| rng.random::<f64>()).collect();
            let truly_consented = customer.withdrawn_at.is_none_or(|at| round < at);
            let edge = &mut edges[e];
            // What the edge knows: consent as of its last snapshot.
            let known_consented = customer.withdrawn_at.is_none_or(|at| edge.synced < at);
            let stale = round - edge.synced > args.max_staleness;
            let reward = |action: &str| -> f64 {
                ACTIONS
                    .iter()
                    .zip(&luck)
                    .find(|((id, _, _), _)| *id == action)
                    .map_or(0.0, |((_, value, _), u)| {
                        let p = chance(action, touchpoint, customer.gold);
                        if *u < p { *value } else { 0.0 }
                    })
            };
            let mut decide = |bundle: &Bundle, edge: Option<&Edge>| {
                let mut request = input(customer, known_consented && !stale, touchpoint, round);
                request.seed = rng.random();
                if let Some(edge) = edge {
                    request.arm_stats = edge.arms.clone();
                    request.linear_stats = edge.linear.clone();
                }
                let decision = allele_engine::decide(bundle, &request);
                (request, decision)
            };
            let (_, fixed) = decide(&statics, None);
            let (request, learned) = decide(&adapted, Some(edge));
            let (_, in_context) = decide(&contextual, Some(edge));
            totals.failed_closed += usize::from(stale && known_consented);
            let mut gained = |decision: &allele_engine::Decision| -> f64 {
                let Some(chosen) = decision.actions.first() else {
                    return 0.0;
                };
                let marketing = ACTIONS
                    .iter()
                    .any(|(id, _, m)| *m && *id == chosen.action_id);
                if marketing && !truly_consented && !known_consented {
                    violations += 1;
                }
                if marketing && !truly_consented {
                    return 0.0;
                }
                reward(&chosen.action_id)
            };
            totals.statics += gained(&fixed);
            let got = gained(&learned);
            totals.adapted += got;
            let got_in_context = gained(&in_context);
            totals.contextual += got_in_context;
            if let Some(chosen) = in_context.actions.first()
                && let Some(features) = &chosen.features
            {
                edge.linear
                    .entry(chosen.action_id.clone())
                    .or_insert_with(|| LinearStats::new(&features.key, features.x.len()))
                    .add(&features.x, f64::from(u8::from(got_in_context > 0.0)));
            }
            if let Some(chosen) = learned.actions.first() {
                let arm = edge.arms.entry(chosen.action_id.clone()).or_default();
                if got > 0.0 {
                    arm.successes += 1.0;
                } else {
                    arm.failures += 1.0;
                }
                edge.outbox.push(Logged {
                    action: chosen.action_id.clone(),
                    probability: chosen.probability,
                    reward: got,
                    profile: request.profile.clone(),
                    request: json!({"touchpoint": touchpoint, "channel": "web", "context": {}, "now_ms": request.now_ms, "seed": request.seed}),
                });
            }
            totals.oracle += ACTIONS
                .iter()
                .filter(|(_, _, marketing)| !marketing || truly_consented)
                .map(|(id, value, _)| (id, value * chance(id, touchpoint, customer.gold)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0.0, |(id, _)| reward(id));
        }
        rounds.push(totals);
        tick(round);
    }
    for edge in &mut edges {
        centre.append(&mut edge.outbox);
    }
    let mut proposals = Vec::new();
    for (action, _, _) in ACTIONS {
        let mine: Vec<&Logged> = centre.iter().filter(|l| l.action == action).collect();
        let (_, cells) = learning::split(&mine, 50);
        proposals.extend(learning::propose(
            (&policy(Kind::Adapted), 1),
            action,
            &cells,
            &centre,
            "sim",
            f64::NAN,
        ));
    }
    Ok(Outcome {
        rounds,
        violations,
        proposals,
        logged_at_centre: centre.len(),
    })
}

pub fn run(args: SimulateArgs) -> Result<(), String> {
    let bar = indicatif::ProgressBar::new(args.rounds as u64);
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let outcome = simulate(&args, |_| bar.inc(1))?;
    bar.finish_and_clear();
    let total = |f: fn(&Round) -> f64| outcome.rounds.iter().map(f).sum::<f64>();
    let (statics, adapted, contextual, oracle) = (
        total(|r| r.statics),
        total(|r| r.adapted),
        total(|r| r.contextual),
        total(|r| r.oracle),
    );
    let summaries: Vec<Value> = outcome
        .proposals
        .iter()
        .map(|p| json!({"summary": p["summary"], "q": p["q"], "clause": p["clause"]}))
        .collect();
    if args.json {
        let body = json!({
            "rounds": outcome.rounds,
            "total": {"static": statics, "adapted": adapted, "contextual": contextual, "oracle": oracle},
            "violations": outcome.violations,
            "logged_at_centre": outcome.logged_at_centre,
            "proposals": summaries,
        });
        println!("{body}");
        return Ok(());
    }
    let per = args.decisions.max(1) as f64;
    println!(
        "round  static  adapted  contextual  oracle  (adapted share of oracle)  offline  failed closed"
    );
    for (i, r) in outcome.rounds.iter().enumerate() {
        println!(
            "{:>5}  {:>6.3}  {:>7.3}  {:>10.3}  {:>6.3}  {}  {:>7}  {:>13}",
            i + 1,
            r.statics / per,
            r.adapted / per,
            r.contextual / per,
            r.oracle / per,
            bar_of(r.adapted / r.oracle.max(f64::EPSILON)),
            r.edges_offline,
            r.failed_closed
        );
    }
    println!(
        "total  static {statics:.0} · adapted {adapted:.0} ({:+.1} %) · contextual {contextual:.0} ({:+.1} %) · oracle {oracle:.0} · consent violations {}",
        100.0 * (adapted - statics) / statics.max(f64::EPSILON),
        100.0 * (contextual - statics) / statics.max(f64::EPSILON),
        outcome.violations
    );
    println!(
        "proposals from the centre's log ({} decisions):",
        outcome.logged_at_centre
    );
    for p in &summaries {
        println!(
            "  - {} (q = {:.2e})",
            p["summary"].as_str().unwrap_or(""),
            p["q"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// A 20-character bar of the adapted policy's share of the oracle's reward.
fn bar_of(share: f64) -> String {
    let filled = (share.clamp(0.0, 1.0) * 20.0).round() as usize;
    format!("{:<20}", "█".repeat(filled))
}
