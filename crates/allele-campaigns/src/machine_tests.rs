//! Property tests of the step machine on random journeys and random
//! scheduler ticks, against an independent walk of the journey.

use super::*;
use crate::journey::Kind;
use proptest::prelude::*;

const ZONES: &[&str] = &["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"];
const DAY: i64 = 86_400_000;

struct Fixed {
    tz: TimeZone,
    answers: u32,
}

impl Env for Fixed {
    fn condition(&mut self, step: usize, _: &str) -> bool {
        self.answers >> (step % 32) & 1 == 1
    }
    fn time_zone(&self) -> TimeZone {
        self.tz.clone()
    }
}

fn kind() -> impl Strategy<Value = u8> {
    0u8..5
}

fn build(shape: &[(u8, i64, u8, u8)]) -> Vec<Kind> {
    let n = shape.len();
    shape
        .iter()
        .enumerate()
        .map(|(i, (k, ms, h, jump))| match k {
            0 => Kind::WaitFor(*ms),
            1 => Kind::WaitUntil(
                jiff::civil::Time::new((*h % 24) as i8, 0, 0, 0).unwrap_or_default(),
            ),
            2 if i + 1 < n => Kind::Branch {
                condition: "x".into(),
                then: i + 1 + (*jump as usize % (n - i - 1)).max(1).min(n - i - 1),
                otherwise: i + 1,
            },
            3 => Kind::SetTrait(crate::journey::SetTrait {
                name: "t".into(),
                value: serde_json::json!(i),
            }),
            _ => Kind::SendEmail(crate::journey::SendEmail {
                template: format!("t{i}"),
                kind: None,
            }),
        })
        .collect()
}

/// An independent walk: the earliest time each effect may happen, found by
/// scanning the wall clock minute by minute for time-of-day waits.
fn oracle(kinds: &[Kind], start: i64, env: &mut Fixed) -> (Vec<(usize, i64)>, i64) {
    let (mut step, mut clock, mut out) = (0usize, start, Vec::new());
    while let Some(kind) = kinds.get(step) {
        match kind {
            Kind::WaitFor(ms) => {
                clock += ms;
                step += 1;
            }
            Kind::WaitUntil(time) => {
                let mut t = clock;
                // Round up to the minute, then walk.
                if t % 60_000 != 0 {
                    t += 60_000 - t.rem_euclid(60_000);
                }
                loop {
                    let at = |ms: i64| {
                        env.tz
                            .to_datetime(jiff::Timestamp::from_millisecond(ms).unwrap())
                    };
                    let (local, before) = (at(t), at(t - 60_000));
                    // The wanted minute, or a DST jump that skipped it.
                    let jumped = before.time() < *time
                        && local.time() > *time
                        && before.date() == local.date();
                    if local.time() == *time || jumped {
                        break;
                    }
                    t += 60_000;
                }
                clock = t.max(clock);
                step += 1;
            }
            Kind::Branch {
                then, otherwise, ..
            } => {
                step = if env.condition(step, "x") {
                    *then
                } else {
                    *otherwise
                };
            }
            _ => {
                out.push((step, clock));
                step += 1;
            }
        }
    }
    (out, clock)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn steps_run_once_after_their_waits_and_stop_at_the_exit(
        shape in prop::collection::vec((kind(), 0i64..3 * DAY, 0u8..24, 0u8..8), 1..9),
        zone in 0usize..ZONES.len(),
        answers in any::<u32>(),
        start in 1_700_000_000_000i64..1_800_000_000_000,
        mut ticks in prop::collection::vec(0i64..20 * DAY, 0..40),
        exit in prop::option::of(0i64..20 * DAY),
    ) {
        let kinds = build(&shape);
        let tz = TimeZone::get(ZONES[zone]).unwrap();
        let mut env = Fixed { tz, answers };
        let (expected, finish) = oracle(&kinds, start, &mut env);
        ticks.push(25 * DAY);
        ticks.sort_unstable();
        let exit_at = exit.map(|e| start + e);
        let mut state = RunState::entered(start);
        let mut seen: Vec<(usize, i64)> = Vec::new();
        for tick in ticks.iter().map(|t| start + t) {
            // A restart between ticks: the state goes through storage.
            state = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
            if exit_at.is_some_and(|e| e <= tick) && state.status == RunStatus::Active {
                state.status = RunStatus::Exited;
            }
            for effect in advance(&kinds, &mut state, tick, &mut env) {
                prop_assert!(exit_at.is_none_or(|e| tick < e), "effect after the exit");
                seen.push((effect.step(), tick));
            }
        }
        // Never twice for one step.
        let mut steps: Vec<usize> = seen.iter().map(|(s, _)| *s).collect();
        steps.sort_unstable();
        steps.dedup();
        prop_assert_eq!(steps.len(), seen.len());
        // The effects are the journey's, in order, each at the first tick at
        // or after its earliest time (so never early, never skipped).
        prop_assert!(seen.len() <= expected.len());
        for ((step, at), (want_step, earliest)) in seen.iter().zip(&expected) {
            prop_assert_eq!(step, want_step);
            prop_assert!(*at >= *earliest, "step {} ran at {} before {}", step, at, earliest);
            let first_tick = ticks.iter().map(|t| start + t).find(|t| t >= earliest);
            prop_assert_eq!(Some(*at), first_tick);
        }
        if exit_at.is_none() {
            prop_assert_eq!(seen.len(), expected.len());
            prop_assert_eq!(state.status == RunStatus::Completed, finish <= start + 25 * DAY);
        } else if seen.len() < expected.len() {
            prop_assert!(state.status == RunStatus::Exited);
        }
    }
}

#[test]
fn wait_until_uses_the_persons_clock() {
    let tz = TimeZone::get("America/New_York").unwrap();
    // 2026-03-08 is the spring-forward day: 02:30 does not exist.
    let from = jiff::Timestamp::from_second(1_772_928_000).unwrap(); // 2026-03-08T00:00Z = 19:00 on the 7th locally
    let nine = jiff::civil::Time::new(9, 0, 0, 0).unwrap();
    let at = next_time_of_day(from.as_millisecond(), nine, &tz).unwrap();
    let local = tz.to_datetime(jiff::Timestamp::from_millisecond(at).unwrap());
    assert_eq!(local.to_string(), "2026-03-08T09:00:00");
    let skipped = jiff::civil::Time::new(2, 30, 0, 0).unwrap();
    let at = next_time_of_day(from.as_millisecond(), skipped, &tz).unwrap();
    let local = tz.to_datetime(jiff::Timestamp::from_millisecond(at).unwrap());
    assert_eq!(local.to_string(), "2026-03-08T03:00:00");
}
