//! The journey step machine: given a run's state, the journey's steps and
//! the time, run every step that is due and say what must happen. It holds
//! no I/O; the server applies the effects and the new state in one
//! transaction, so a crash either keeps both or neither.
//!
//! Time inside a run is logical: a wait is measured from when the run
//! reached it (the previous wake-up), not from when a late scheduler got
//! round to it, so delays never stretch later waits, and a step never runs
//! before the sum of the waits leading to it has passed.

use crate::journey::{Decide, Kind, SendEmail, SetTrait, Webhook};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Active,
    Completed,
    Exited,
    HeldOut,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Active => "active",
            RunStatus::Completed => "completed",
            RunStatus::Exited => "exited",
            RunStatus::HeldOut => "held_out",
        }
    }
    pub fn parse(text: &str) -> Option<RunStatus> {
        Some(match text {
            "active" => RunStatus::Active,
            "completed" => RunStatus::Completed,
            "exited" => RunStatus::Exited,
            "held_out" => RunStatus::HeldOut,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// Index of the step to run next.
    pub step: usize,
    /// When the run is next due (ms); the run's logical clock.
    pub next_at: i64,
    /// The current step is a wait that has started.
    pub waiting: bool,
    pub status: RunStatus,
}

impl RunState {
    pub fn entered(at: i64) -> RunState {
        RunState {
            step: 0,
            next_at: at,
            waiting: false,
            status: RunStatus::Active,
        }
    }
}

/// Something the server must do for step `step` of the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    SendEmail { step: usize, send: SendEmail },
    Decide { step: usize, decide: Decide },
    SetTrait { step: usize, set: SetTrait },
    Webhook { step: usize, hook: Webhook },
}

impl Effect {
    pub fn step(&self) -> usize {
        match self {
            Effect::SendEmail { step, .. }
            | Effect::Decide { step, .. }
            | Effect::SetTrait { step, .. }
            | Effect::Webhook { step, .. } => *step,
        }
    }
}

/// What the machine asks of the world.
pub trait Env {
    /// Whether a branch condition holds for the person now.
    fn condition(&mut self, step: usize, expression: &str) -> bool;
    /// The person's time zone, for waits until a time of day.
    fn time_zone(&self) -> TimeZone;
}

/// The instants at which the wall clock of `tz` shows `dt`: one, two in a
/// fall-back fold, or, when a spring-forward jump skips `dt`, the jump.
fn instants_showing(dt: jiff::civil::DateTime, tz: &TimeZone) -> Vec<jiff::Timestamp> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            offset.to_timestamp(dt).ok().into_iter().collect()
        }
        AmbiguousOffset::Fold { before, after } => [before, after]
            .iter()
            .filter_map(|o| o.to_timestamp(dt).ok())
            .collect(),
        AmbiguousOffset::Gap { before, .. } => before
            .to_timestamp(dt)
            .ok()
            .and_then(|past_jump| tz.preceding(past_jump).next())
            .map(|transition| transition.timestamp())
            .into_iter()
            .collect(),
    }
}

/// The first instant at or after `from_ms` at which the wall clock of `tz`
/// shows `time` (when DST skips `time`, the jump itself).
pub fn next_time_of_day(from_ms: i64, time: jiff::civil::Time, tz: &TimeZone) -> Option<i64> {
    let from = jiff::Timestamp::from_millisecond(from_ms).ok()?;
    let mut date = tz.to_datetime(from).date();
    for _ in 0..3 {
        let earliest = instants_showing(date.to_datetime(time), tz)
            .into_iter()
            .filter(|at| *at >= from)
            .min();
        if let Some(at) = earliest {
            return Some(at.as_millisecond());
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// Run every step of `state` due at `now`; returns the effects in order.
pub fn advance(kinds: &[Kind], state: &mut RunState, now: i64, env: &mut dyn Env) -> Vec<Effect> {
    let mut effects = Vec::new();
    while state.status == RunStatus::Active && state.next_at <= now {
        let Some(kind) = kinds.get(state.step) else {
            state.status = RunStatus::Completed;
            break;
        };
        let step = state.step;
        match kind {
            Kind::WaitFor(_) | Kind::WaitUntil(_) if state.waiting => {
                state.waiting = false;
                state.step += 1;
            }
            Kind::WaitFor(duration) => {
                state.waiting = true;
                state.next_at = state.next_at.saturating_add(*duration);
            }
            Kind::WaitUntil(time) => {
                state.waiting = true;
                // An unrepresentable time ends the wait a day later rather than never.
                state.next_at = next_time_of_day(state.next_at, *time, &env.time_zone())
                    .unwrap_or(state.next_at.saturating_add(86_400_000));
            }
            Kind::Branch {
                condition,
                then,
                otherwise,
            } => {
                state.step = if env.condition(step, condition) {
                    *then
                } else {
                    *otherwise
                };
            }
            Kind::SendEmail(send) => {
                effects.push(Effect::SendEmail {
                    step,
                    send: send.clone(),
                });
                state.step += 1;
            }
            Kind::Decide(decide) => {
                effects.push(Effect::Decide {
                    step,
                    decide: decide.clone(),
                });
                state.step += 1;
            }
            Kind::SetTrait(set) => {
                effects.push(Effect::SetTrait {
                    step,
                    set: set.clone(),
                });
                state.step += 1;
            }
            Kind::Webhook(hook) => {
                effects.push(Effect::Webhook {
                    step,
                    hook: hook.clone(),
                });
                state.step += 1;
            }
        }
    }
    effects
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
