//! Customer limits: contact caps, quiet hours and preferred channels.
//!
//! Times are milliseconds since the Unix epoch, passed in (no clock reads).
//!
//! Quiet hours are judged by the customer's wall clock in their own IANA
//! time zone, which is what "no messages between 21:00 and 08:00" means to a
//! person. Consequences on DST days, all tested:
//! - a window may cross midnight (`start > end`); `start == end` is empty;
//! - spring forward: if the window's end falls in the skipped hour, quiet
//!   hours end at the jump itself (the first instant the clock shows ≥ end);
//! - fall back: the repeated hour is judged by what the clock shows, so a
//!   window ending inside it ends at its first occurrence and, if the clock
//!   goes back into the window, is quiet again until the second occurrence.
//!
//! A cap allows a contact at `now` when fewer than `count` past contacts lie
//! in the half-open window `(now − window, now]`: a contact exactly one
//! window old no longer counts.

use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Deserialize, Serialize};

/// A daily quiet window in local wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Start, inclusive (e.g. `21:00`).
    pub start: Time,
    /// End, exclusive (e.g. `08:00`); before `start` when crossing midnight.
    pub end: Time,
}

/// At most `count` marketing contacts per `window_ms` on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    /// The channel, or `*` for every channel (each counted on its own).
    pub channel: String,
    /// Contacts allowed per window; 0 blocks the channel.
    pub count: u32,
    /// Window length in milliseconds.
    pub window_ms: i64,
}

/// Everything a customer set about being contacted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerLimits {
    /// IANA time zone name such as `Europe/London`.
    pub timezone: String,
    /// Daily quiet window, if any.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Caps.
    #[serde(default)]
    pub caps: Vec<Cap>,
    /// When non-empty, marketing goes only to these channels, in this order of preference.
    #[serde(default)]
    pub preferred_channels: Vec<String>,
}

/// Why limits could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// The time zone name is not in the tz database.
    #[error("unknown time zone `{0}`")]
    UnknownTimeZone(String),
    /// A time is outside what can be represented (years −9999 to 9999).
    #[error("time `{0}` ms is out of range")]
    TimeOutOfRange(i64),
}

/// Why a contact is not allowed now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Blocked {
    /// Inside quiet hours.
    QuietHours,
    /// A cap is reached.
    Capped { cap: Cap },
    /// The channel is not among the preferred ones.
    NotPreferred,
}

/// Looks up an IANA time zone.
pub fn time_zone(name: &str) -> Result<TimeZone, LimitsError> {
    TimeZone::get(name).map_err(|_| LimitsError::UnknownTimeZone(name.to_owned()))
}

fn timestamp(ms: i64) -> Result<Timestamp, LimitsError> {
    Timestamp::from_millisecond(ms).map_err(|_| LimitsError::TimeOutOfRange(ms))
}

fn time_is_quiet(time: Time, quiet: &QuietHours) -> bool {
    if quiet.start <= quiet.end {
        quiet.start <= time && time < quiet.end
    } else {
        time >= quiet.start || time < quiet.end
    }
}

/// Whether `now_ms` falls in quiet hours on the wall clock of `tz`.
pub fn is_quiet(now_ms: i64, quiet_hours: &QuietHours, tz: &TimeZone) -> Result<bool, LimitsError> {
    let local = tz.to_datetime(timestamp(now_ms)?);
    Ok(time_is_quiet(local.time(), quiet_hours))
}

/// Whether one more contact at `now_ms` stays within `cap`.
pub fn cap_allows(past_contact_times: &[i64], cap: &Cap, now_ms: i64) -> bool {
    in_window(past_contact_times, cap, now_ms).len() < cap.count as usize
}

fn in_window(past: &[i64], cap: &Cap, now_ms: i64) -> Vec<i64> {
    let oldest_excluded = now_ms.saturating_sub(cap.window_ms);
    let mut times: Vec<i64> = past
        .iter()
        .copied()
        .filter(|t| *t > oldest_excluded && *t <= now_ms)
        .collect();
    times.sort_unstable();
    times
}

/// When `cap` allows a contact again, at or after `now_ms`; `None` for a 0 cap.
fn cap_release(past: &[i64], cap: &Cap, now_ms: i64) -> Option<i64> {
    let count = cap.count as usize;
    if count == 0 {
        return None;
    }
    let times = in_window(past, cap, now_ms);
    if times.len() < count {
        return Some(now_ms);
    }
    // Dropping the oldest `len − count + 1` contacts brings the count under the cap.
    times
        .get(times.len() - count)
        .map(|t| t.saturating_add(cap.window_ms))
}

/// The first instant after `after` at which the wall clock of `tz` shows `dt`
/// or, when `dt` is skipped by a DST jump, the jump itself.
fn first_instant_showing(dt: DateTime, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    let candidates: Vec<Timestamp> = match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            offset.to_timestamp(dt).ok().into_iter().collect()
        }
        AmbiguousOffset::Fold { before, after } => [before, after]
            .iter()
            .filter_map(|o| o.to_timestamp(dt).ok())
            .collect(),
        AmbiguousOffset::Gap { before, .. } => {
            // Read with the old offset, `dt` lands just after the jump; the
            // transition preceding that instant is the jump.
            let past_jump = before.to_timestamp(dt).ok()?;
            tz.preceding(past_jump)
                .next()
                .map(|t| t.timestamp())
                .into_iter()
                .collect()
        }
    };
    candidates.into_iter().filter(|t| *t > after).min()
}

/// When the quiet window containing `now` ends.
fn quiet_end(now: Timestamp, quiet: &QuietHours, tz: &TimeZone) -> Option<Timestamp> {
    let local = tz.to_datetime(now);
    let mut date = local.date();
    if quiet.start > quiet.end && local.time() >= quiet.start {
        date = date.tomorrow().ok()?;
    }
    // A fold can put the first showing of `end` before `now`; the next day is
    // then the answer only if no later showing exists today, hence two tries.
    for _ in 0..2 {
        if let Some(end) = first_instant_showing(date.to_datetime(quiet.end), tz, now) {
            return Some(end);
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// The earliest instant at or after `now_ms` outside quiet hours and within
/// every cap, or `None` if a cap of 0 blocks the channel for good.
pub fn next_allowed_time(
    now_ms: i64,
    quiet_hours: Option<&QuietHours>,
    caps: &[&Cap],
    past_contact_times: &[i64],
    tz: &TimeZone,
) -> Result<Option<i64>, LimitsError> {
    let mut candidate = now_ms;
    // Each step only moves forward; a quiet window and a cap can push each
    // other a few times at most, the bound only guards against surprises.
    for _ in 0..64 {
        let mut moved = false;
        for cap in caps {
            let Some(release) = cap_release(past_contact_times, cap, candidate) else {
                return Ok(None);
            };
            if release > candidate {
                candidate = release;
                moved = true;
            }
        }
        if let Some(quiet) = quiet_hours
            && is_quiet(candidate, quiet, tz)?
        {
            let end = quiet_end(timestamp(candidate)?, quiet, tz)
                .ok_or(LimitsError::TimeOutOfRange(candidate))?;
            candidate = end.as_millisecond();
            moved = true;
        }
        if !moved {
            return Ok(Some(candidate));
        }
    }
    Ok(Some(candidate))
}

impl Cap {
    /// Whether this cap counts contacts on `channel`.
    pub fn applies_to(&self, channel: &str) -> bool {
        self.channel == "*" || self.channel == channel
    }
}

impl CustomerLimits {
    /// The customer's time zone.
    pub fn time_zone(&self) -> Result<TimeZone, LimitsError> {
        time_zone(&self.timezone)
    }

    /// Whether a marketing contact on `channel` at `now_ms` is allowed, given
    /// the times of past marketing contacts on that channel.
    pub fn check(
        &self,
        now_ms: i64,
        channel: &str,
        past_contacts: &[i64],
    ) -> Result<Option<Blocked>, LimitsError> {
        if !self.preferred_channels.is_empty()
            && !self.preferred_channels.iter().any(|c| c == channel)
        {
            return Ok(Some(Blocked::NotPreferred));
        }
        if let Some(quiet) = &self.quiet_hours
            && is_quiet(now_ms, quiet, &self.time_zone()?)?
        {
            return Ok(Some(Blocked::QuietHours));
        }
        for cap in self.caps.iter().filter(|cap| cap.applies_to(channel)) {
            if !cap_allows(past_contacts, cap, now_ms) {
                return Ok(Some(Blocked::Capped { cap: cap.clone() }));
            }
        }
        Ok(None)
    }

    /// When a marketing contact on `channel` may next be sent; `None` if never.
    pub fn next_allowed_time(
        &self,
        now_ms: i64,
        channel: &str,
        past_contacts: &[i64],
    ) -> Result<Option<i64>, LimitsError> {
        if !self.preferred_channels.is_empty()
            && !self.preferred_channels.iter().any(|c| c == channel)
        {
            return Ok(None);
        }
        let caps: Vec<&Cap> = self
            .caps
            .iter()
            .filter(|cap| cap.applies_to(channel))
            .collect();
        next_allowed_time(
            now_ms,
            self.quiet_hours.as_ref(),
            &caps,
            past_contacts,
            &self.time_zone()?,
        )
    }

    /// `candidates` ordered by preference: preferred channels first in the
    /// customer's order, then the rest (only used when no preference is set).
    pub fn order_channels<'a>(&self, candidates: &[&'a str]) -> Vec<&'a str> {
        if self.preferred_channels.is_empty() {
            return candidates.to_vec();
        }
        let mut out = Vec::new();
        for preferred in &self.preferred_channels {
            if let Some(c) = candidates.iter().find(|c| **c == preferred.as_str()) {
                out.push(*c);
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
