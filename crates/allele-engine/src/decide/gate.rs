//! The consent gate and the caps: each returns `Ok(reason)` to admit or
//! `Err(reason)` to exclude, so the trace can say why either way.

use crate::bundle::{CapDoc, Kind};

use super::input::{ConsentRecord, ConsentStatus, CustomerCaps};

/// The newest record (latest in ledger order) for this purpose that applies
/// to the channel, either by name or as `*`.
pub fn current_consent<'a>(
    records: &'a [ConsentRecord],
    purpose: &str,
    channel: &str,
) -> Option<&'a ConsentRecord> {
    records
        .iter()
        .rev()
        .find(|r| r.purpose == purpose && (r.channel == channel || r.channel == "*"))
}

/// Why a gate admitted an action. Formatting waits until a reason is shown
/// (only chosen actions list theirs), and `Display` gives the same text the
/// `String` faces of the gates return.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admit<'a> {
    ConsentGiven {
        purpose: &'a str,
        channel: &'a str,
    },
    TransactionalConsent {
        purpose: &'a str,
        channel: &'a str,
    },
    TransactionalCaps,
    NoCustomerCaps,
    WithinCustomerCaps,
    CustomerCap {
        used: usize,
        max: u32,
        window_ms: u64,
    },
    NoContactCap,
    ContactCap {
        used: usize,
        count: u32,
        window_ms: u64,
    },
}

impl std::fmt::Display for Admit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Admit::ConsentGiven { purpose, channel } => {
                write!(f, "consent `given` for `{purpose}` on `{channel}`")
            }
            Admit::TransactionalConsent { purpose, channel } => {
                write!(f, "transactional: no refusal of `{purpose}` on `{channel}`")
            }
            Admit::TransactionalCaps => f.write_str("transactional: customer caps do not apply"),
            Admit::NoCustomerCaps => f.write_str("no customer caps"),
            Admit::WithinCustomerCaps => f.write_str("within customer caps"),
            Admit::CustomerCap {
                used,
                max,
                window_ms,
            } => write!(
                f,
                "customer cap: {used} of {max} marketing contacts in {}",
                format_window(window_ms)
            ),
            Admit::NoContactCap => f.write_str("no contact cap"),
            Admit::ContactCap {
                used,
                count,
                window_ms,
            } => write!(
                f,
                "contact cap: {used} of {count} in {}",
                format_window(window_ms)
            ),
        }
    }
}

/// DESIGN §8: marketing needs a `given` record for its purpose on the
/// decision's channel; transactional needs none, but an explicit `refused`
/// or `withdrawn` for its own purpose blocks it.
pub fn consent(
    kind: Kind,
    purpose: &str,
    channel: &str,
    records: &[ConsentRecord],
) -> Result<String, String> {
    consent_admit(kind, purpose, channel, records).map(|admit| admit.to_string())
}

/// [`consent`] without formatting the reason to admit.
pub fn consent_admit<'a>(
    kind: Kind,
    purpose: &'a str,
    channel: &'a str,
    records: &'a [ConsentRecord],
) -> Result<Admit<'a>, String> {
    let current = current_consent(records, purpose, channel);
    match (kind, current) {
        (Kind::Marketing, Some(record)) if record.status == ConsentStatus::Given => {
            Ok(Admit::ConsentGiven {
                purpose,
                channel: &record.channel,
            })
        }
        (Kind::Marketing, Some(record)) => Err(format!(
            "consent for `{purpose}` on `{}` is `{}`",
            record.channel,
            record.status.as_str()
        )),
        (Kind::Marketing, None) => Err(format!("no consent record for `{purpose}` on `{channel}`")),
        (Kind::Transactional, Some(record)) if record.status != ConsentStatus::Given => {
            Err(format!(
                "transactional, but the customer `{}` `{purpose}` on `{}`",
                record.status.as_str(),
                record.channel
            ))
        }
        (Kind::Transactional, _) => Ok(Admit::TransactionalConsent { purpose, channel }),
    }
}

/// `7d`, `12h`, `30m`, `45s` or `250ms`: the largest unit that divides.
pub fn format_window(ms: u64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

fn recent(timestamps: &[i64], now_ms: i64, window_ms: u64) -> usize {
    let since = i128::from(now_ms) - i128::from(window_ms);
    timestamps
        .iter()
        .filter(|&&t| i128::from(t) > since && t <= now_ms)
        .count()
}

/// The customer's own caps; transactional actions skip them (DESIGN §4).
pub fn customer_caps(
    kind: Kind,
    caps: Option<&CustomerCaps>,
    now_ms: i64,
) -> Result<String, String> {
    customer_caps_admit(kind, caps, now_ms).map(|admit| admit.to_string())
}

/// [`customer_caps`] without formatting the reason to admit.
pub fn customer_caps_admit(
    kind: Kind,
    caps: Option<&CustomerCaps>,
    now_ms: i64,
) -> Result<Admit<'static>, String> {
    if kind == Kind::Transactional {
        return Ok(Admit::TransactionalCaps);
    }
    let Some(caps) = caps else {
        return Ok(Admit::NoCustomerCaps);
    };
    if caps.quiet_now {
        return Err("the customer's quiet hours are on".to_string());
    }
    let Some(max) = caps.max_marketing_contacts else {
        return Ok(Admit::WithinCustomerCaps);
    };
    let used = recent(&caps.marketing_contacts, now_ms, caps.window_ms);
    if used >= max as usize {
        Err(format!(
            "customer cap reached: {used} of {max} marketing contacts in {}",
            format_window(caps.window_ms)
        ))
    } else {
        Ok(Admit::CustomerCap {
            used,
            max,
            window_ms: caps.window_ms,
        })
    }
}

/// The action's own per-customer cap; it applies to every kind, since the
/// policy author set it for this action.
pub fn contact_cap(
    cap: Option<&CapDoc>,
    history: Option<&Vec<i64>>,
    now_ms: i64,
) -> Result<String, String> {
    contact_cap_admit(cap, history, now_ms).map(|admit| admit.to_string())
}

/// [`contact_cap`] without formatting the reason to admit.
pub fn contact_cap_admit(
    cap: Option<&CapDoc>,
    history: Option<&Vec<i64>>,
    now_ms: i64,
) -> Result<Admit<'static>, String> {
    let Some(cap) = cap else {
        return Ok(Admit::NoContactCap);
    };
    let used = history.map_or(0, |h| recent(h, now_ms, cap.per_ms));
    if used >= cap.count as usize {
        Err(format!(
            "contact cap reached: {used} of {} in {}",
            cap.count,
            format_window(cap.per_ms)
        ))
    } else {
        Ok(Admit::ContactCap {
            used,
            count: cap.count,
            window_ms: cap.per_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(purpose: &str, channel: &str, status: ConsentStatus) -> ConsentRecord {
        ConsentRecord {
            purpose: purpose.into(),
            channel: channel.into(),
            status,
        }
    }

    const DM: &str = "dpv:DirectMarketing";

    #[test]
    fn marketing_needs_given_on_the_channel_newest_wins() {
        assert!(consent(Kind::Marketing, DM, "email", &[]).is_err());
        let ledger = vec![record(DM, "email", ConsentStatus::Given)];
        assert!(consent(Kind::Marketing, DM, "email", &ledger).is_ok());
        assert!(consent(Kind::Marketing, DM, "sms", &ledger).is_err());
        let ledger = vec![
            record(DM, "email", ConsentStatus::Given),
            record(DM, "*", ConsentStatus::Withdrawn),
        ];
        assert!(consent(Kind::Marketing, DM, "email", &ledger).is_err());
        let ledger = vec![
            record(DM, "*", ConsentStatus::Withdrawn),
            record(DM, "email", ConsentStatus::Given),
        ];
        assert!(consent(Kind::Marketing, DM, "email", &ledger).is_ok());
        assert!(consent(Kind::Marketing, DM, "web", &ledger).is_err());
    }

    #[test]
    fn transactional_is_blocked_only_by_explicit_refusal() {
        let purpose = "dpv:ServiceProvision";
        assert!(consent(Kind::Transactional, purpose, "email", &[]).is_ok());
        let ledger = vec![record(purpose, "*", ConsentStatus::Refused)];
        assert!(consent(Kind::Transactional, purpose, "email", &ledger).is_err());
        let ledger = vec![record(DM, "*", ConsentStatus::Refused)];
        assert!(consent(Kind::Transactional, purpose, "email", &ledger).is_ok());
    }

    #[test]
    fn caps_count_the_window() {
        let cap = CapDoc {
            count: 2,
            per_ms: 1_000,
        };
        let now = 10_000;
        assert!(contact_cap(Some(&cap), Some(&vec![9_500, 9_800]), now).is_err());
        assert!(contact_cap(Some(&cap), Some(&vec![8_000, 9_800]), now).is_ok());
        assert!(
            contact_cap(Some(&cap), Some(&vec![9_000, 9_800]), now).is_ok(),
            "window is open at the start"
        );
        let caps = CustomerCaps {
            max_marketing_contacts: Some(1),
            window_ms: 1_000,
            marketing_contacts: vec![9_900],
            quiet_now: false,
        };
        assert!(customer_caps(Kind::Marketing, Some(&caps), now).is_err());
        assert!(customer_caps(Kind::Transactional, Some(&caps), now).is_ok());
        let quiet = CustomerCaps {
            quiet_now: true,
            ..CustomerCaps::default()
        };
        assert!(customer_caps(Kind::Marketing, Some(&quiet), now).is_err());
    }

    #[test]
    fn windows_read_naturally() {
        assert_eq!(format_window(7 * 86_400_000), "7d");
        assert_eq!(format_window(90 * 60_000), "90m");
        assert_eq!(format_window(1_500), "1500ms");
    }
}
