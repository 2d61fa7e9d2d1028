use super::*;
use crate::bundles::{LoggedAction, LoggedDecision, log_decision};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Decide for profile `p` at touchpoint `t`, offering the actions in
    /// `mask`, with features `x` for action `b` when given.
    Decide {
        p: u8,
        t: u8,
        mask: u8,
        holdout: bool,
        x: Option<(f64, f64)>,
    },
    /// An outcome for decision number `d` (one not logged yet is fine:
    /// uploads from an edge can arrive after their outcomes).
    Outcome {
        d: u8,
        message: u8,
    },
    Erase {
        p: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, 0..2u8, 1..8u8, prop::bool::weighted(0.2), prop::option::of((-3.0..3.0f64, 0.0..1.0f64)))
            .prop_map(|(p, t, mask, holdout, x)| Op::Decide { p, t, mask, holdout, x }),
        3 => (0..24u8, 0..4u8).prop_map(|(d, message)| Op::Outcome { d, message }),
        1 => (0..3u8).prop_map(|p| Op::Erase { p }),
    ]
}

type Snapshot = (Vec<(String, String, u64, u64)>, Vec<LinearRow>);

fn snapshot(conn: &Connection) -> Snapshot {
    let mut counts = counts(conn, "w").expect("counts");
    counts.sort();
    let mut linear = linear(conn, "w").expect("linear");
    linear.sort_by(|a, b| (&a.touchpoint, &a.action).cmp(&(&b.touchpoint, &b.action)));
    (counts, linear)
}

fn close(a: &Snapshot, b: &Snapshot) -> bool {
    a.0 == b.0
        && a.1.len() == b.1.len()
        && a.1.iter().zip(&b.1).all(|(x, y)| {
            let near = |u: &[f64], v: &[f64]| {
                u.len() == v.len() && u.iter().zip(v).all(|(p, q)| (p - q).abs() < 1e-9)
            };
            (&x.touchpoint, &x.action, &x.key, x.n) == (&y.touchpoint, &y.action, &y.key, y.n)
                && near(&x.xtx, &y.xtx)
                && near(&x.xty, &y.xty)
        })
}

fn run(conn: &Connection, ops: &[Op]) {
    let mut decided = 0u8;
    for op in ops {
        match op {
            Op::Decide {
                p,
                t,
                mask,
                holdout,
                x,
            } => {
                let id = format!("d{decided}");
                decided += 1;
                let profile = format!("p{p}");
                let request = format!(r#"{{"touchpoint":"t{t}"}}"#);
                let actions = (0..3)
                    .filter(|a| mask & (1 << a) != 0)
                    .map(|a| LoggedAction {
                        action_id: format!("a{a}"),
                        probability: 1.0,
                        marketing: true,
                        features: x
                            .filter(|_| a == 1)
                            .map(|(x1, x2)| format!(r#"{{"key":"k","x":[1.0,{x1},{x2}]}}"#)),
                    })
                    .collect();
                log_decision(
                    conn,
                    &LoggedDecision {
                        id: &id,
                        ws: "w",
                        profile_id: Some(&profile),
                        bundle_version: 1,
                        holdout: *holdout,
                        request: &request,
                        result: "{}",
                        at: 0,
                        actions,
                        channel: "email",
                    },
                )
                .expect("log");
            }
            Op::Outcome { d, message } => {
                // As `ingest::record_outcome` does it.
                let decision = format!("d{d}");
                let inserted = conn
                    .execute(
                        "INSERT OR IGNORE INTO outcomes (message_id, workspace_id, decision_id, at)
                         VALUES (?1, 'w', ?2, 0)",
                        params![format!("m{d}-{message}"), decision],
                    )
                    .expect("outcome");
                if inserted == 1 {
                    first_outcome(conn, "w", &decision).expect("first outcome");
                }
            }
            Op::Erase { p } => {
                // As `erase::erase` does it.
                let profile = format!("p{p}");
                forget_profile(conn, "w", &profile).expect("forget");
                conn.execute(
                    "DELETE FROM outcomes WHERE decision_id IN (SELECT id FROM decisions WHERE profile_id = ?1)",
                    [&profile],
                )
                .expect("outcomes");
                conn.execute(
                    "DELETE FROM decision_actions WHERE profile_id = ?1",
                    [&profile],
                )
                .expect("actions");
                conn.execute("DELETE FROM decisions WHERE profile_id = ?1", [&profile])
                    .expect("decisions");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// What decisions, outcomes (early, late, repeated) and erasures keep
    /// up at write time equals a recount of the remaining log.
    #[test]
    fn upkeep_equals_a_recount(ops in prop::collection::vec(op(), 1..40)) {
        let mut conn = Connection::open_in_memory().expect("db");
        crate::schema::migrate(&mut conn).expect("migrate");
        run(&conn, &ops);
        let kept = snapshot(&conn);
        rebuild(&conn).expect("rebuild");
        let recounted = snapshot(&conn);
        prop_assert!(close(&kept, &recounted), "kept {kept:?}\nrecounted {recounted:?}");
    }
}

#[test]
fn counts_offers_and_first_outcomes_only() {
    let mut conn = Connection::open_in_memory().expect("db");
    crate::schema::migrate(&mut conn).expect("migrate");
    let decide = |holdout: bool| Op::Decide {
        p: 0,
        t: 0,
        mask: 0b011,
        holdout,
        x: Some((2.0, 0.5)),
    };
    let ops = [
        decide(false),
        decide(false),
        decide(true),
        Op::Outcome { d: 0, message: 0 },
        Op::Outcome { d: 0, message: 1 },
        Op::Outcome { d: 2, message: 0 },
    ];
    run(&conn, &ops);
    let (counts, linear) = snapshot(&conn);
    assert_eq!(
        counts,
        vec![
            ("t0".into(), "a0".into(), 2, 1),
            ("t0".into(), "a1".into(), 2, 1)
        ],
        "the holdout decision is not an offer; a second outcome is not a second win"
    );
    assert_eq!(linear.len(), 1);
    assert_eq!(linear[0].n, 2);
    assert_eq!(
        linear[0].xty,
        vec![1.0, 2.0, 0.5],
        "one win with x = [1, 2, 0.5]"
    );
    assert_eq!(linear[0].xtx[4], 8.0, "Σ x₁² over two offers");
}
