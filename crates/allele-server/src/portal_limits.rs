//! The portal's contact limits: the customer's time zone, quiet hours and
//! caps shown on `/me` and changed by a plain form (`POST /me/limits`),
//! stored exactly as `PUT /v1/me/caps` stores them.

use crate::AppState;
use crate::error::HttpError;
use crate::portal::{escape, same_origin};
use allele_privacy::limits::{Cap, CustomerLimits, QuietHours};
use allele_store::now_ms;
use allele_types::Code;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// What the cap form offers; `*` counts every channel on its own.
const CHANNELS: [(&str, &str); 8] = [
    ("*", "every channel"),
    ("email", "email"),
    ("sms", "sms"),
    ("push", "push"),
    ("web", "web"),
    ("app", "app"),
    ("in_store", "in store"),
    ("call_centre", "call centre"),
];

/// The stored limits, or the defaults a customer starts from.
pub fn parse_stored(stored: Option<String>) -> CustomerLimits {
    stored
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| CustomerLimits {
            timezone: "UTC".into(),
            ..Default::default()
        })
}

fn describe_window(window_ms: i64) -> String {
    if window_ms % DAY_MS == 0 {
        let days = window_ms / DAY_MS;
        return if days == 1 {
            "day".into()
        } else {
            format!("{days} days")
        };
    }
    format!("{} hours", window_ms as f64 / 3_600_000.0)
}

fn channel_name(channel: &str) -> &str {
    CHANNELS
        .iter()
        .find(|(value, _)| *value == channel)
        .map_or(channel, |(_, name)| name)
}

/// The "How you are contacted" section of `/me`.
pub fn render(limits: &CustomerLimits) -> String {
    let quiet = match &limits.quiet_hours {
        Some(q) => format!(
            "from {} to {}",
            q.start.strftime("%H:%M"),
            q.end.strftime("%H:%M")
        ),
        None => "none".into(),
    };
    let mut caps = String::new();
    for cap in &limits.caps {
        caps.push_str(&format!(
            "<li>At most {} marketing message(s) per {} on {}</li>",
            cap.count,
            escape(&describe_window(cap.window_ms)),
            escape(channel_name(&cap.channel)),
        ));
    }
    if caps.is_empty() {
        caps.push_str("<li>No caps set.</li>");
    }
    let (start, end) = limits
        .quiet_hours
        .map_or((String::new(), String::new()), |q| {
            (
                q.start.strftime("%H:%M").to_string(),
                q.end.strftime("%H:%M").to_string(),
            )
        });
    let options: String = CHANNELS
        .iter()
        .map(|(value, name)| format!("<option value=\"{value}\">{name}</option>"))
        .collect();
    format!(
        "<h2>How you are contacted</h2><p>Time zone: {tz}. Quiet hours: {quiet}.</p><ul>{caps}</ul>\
         <form method=\"post\" action=\"/me/limits\"><fieldset><legend>Change your limits</legend>\
         <p><label for=\"timezone\">Time zone (for example Europe/London)</label> <input id=\"timezone\" name=\"timezone\" value=\"{tz}\" required></p>\
         <p><label for=\"quiet_start\">Quiet from</label> <input id=\"quiet_start\" name=\"quiet_start\" type=\"time\" value=\"{start}\"> \
         <label for=\"quiet_end\">until</label> <input id=\"quiet_end\" name=\"quiet_end\" type=\"time\" value=\"{end}\"> (leave both empty for none)</p>\
         <p><label for=\"cap_count\">At most this many marketing messages</label> <input id=\"cap_count\" name=\"cap_count\" type=\"number\" min=\"0\" max=\"1000\"> \
         <label for=\"cap_days\">every (days)</label> <input id=\"cap_days\" name=\"cap_days\" type=\"number\" min=\"1\" max=\"365\" value=\"7\"> \
         <label for=\"cap_channel\">on</label> <select id=\"cap_channel\" name=\"cap_channel\">{options}</select> \
         (leave the number empty to keep caps as they are)</p>\
         <button>Save limits</button></fieldset></form>",
        tz = escape(&limits.timezone),
    )
}

#[derive(Deserialize)]
struct LimitsForm {
    timezone: String,
    #[serde(default)]
    quiet_start: String,
    #[serde(default)]
    quiet_end: String,
    #[serde(default)]
    cap_count: String,
    #[serde(default)]
    cap_days: String,
    #[serde(default)]
    cap_channel: String,
}

fn bad(message: String) -> HttpError {
    HttpError::new(Code::InvalidBody, message)
}

fn time(field: &str, text: &str) -> Result<jiff::civil::Time, HttpError> {
    text.parse().map_err(|_| {
        bad(format!(
            "`{field}` must be a time such as 21:00, got `{text}`"
        ))
    })
}

/// Applies the form to the stored limits: quiet hours replaced, the cap on
/// the chosen channel replaced (other channels' caps kept).
fn apply(mut limits: CustomerLimits, form: LimitsForm) -> Result<CustomerLimits, HttpError> {
    let timezone = form.timezone.trim().to_string();
    allele_privacy::limits::time_zone(&timezone).map_err(|err| bad(format!("time zone: {err}")))?;
    limits.timezone = timezone;
    let (start, end) = (form.quiet_start.trim(), form.quiet_end.trim());
    limits.quiet_hours = match (start.is_empty(), end.is_empty()) {
        (true, true) => None,
        (false, false) => Some(QuietHours {
            start: time("quiet_start", start)?,
            end: time("quiet_end", end)?,
        }),
        _ => return Err(bad("give quiet hours both a start and an end".into())),
    };
    let count = form.cap_count.trim();
    if !count.is_empty() {
        let count: u32 = count
            .parse()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| bad(format!("`cap_count` must be 0 to 1000, got `{count}`")))?;
        let days_text = form.cap_days.trim();
        let days: i64 = days_text
            .parse()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| bad(format!("`cap_days` must be 1 to 365, got `{days_text}`")))?;
        let channel = form.cap_channel.trim();
        if !CHANNELS.iter().any(|(value, _)| *value == channel) {
            return Err(bad(format!("`cap_channel` `{channel}` is not a channel")));
        }
        limits.caps.retain(|cap| cap.channel != channel);
        limits.caps.push(Cap {
            channel: channel.to_string(),
            count,
            window_ms: days * DAY_MS,
        });
    }
    Ok(limits)
}

/// `POST /me/limits` from the portal form.
pub async fn post_limits(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    // who first, so a stranger learns nothing from how the form is judged
    let customer = state.customer(&headers).await?;
    if !same_origin(&headers) {
        return Err(HttpError::new(
            Code::WrongRole,
            "cross-site form posts are refused",
        ));
    }
    let form: LimitsForm =
        serde_urlencoded::from_bytes(&body).map_err(|err| bad(format!("limits form: {err}")))?;
    let root = customer.root.clone();
    let stored = state
        .store
        .read(move |conn| allele_store::bundles::customer_limits(conn, &root))
        .await?;
    let limits = apply(parse_stored(stored), form)?;
    let text = serde_json::to_string(&limits)
        .map_err(|err| HttpError::new(Code::Internal, err.to_string()))?;
    let (ws, root) = (customer.workspace, customer.root);
    state
        .store
        .write(1, move |conn| {
            allele_store::bundles::set_customer_limits(conn, &ws, &root, &text, now_ms())
        })
        .await?;
    Ok(Redirect::to("/me").into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code fails loudly")]
    use super::*;

    fn form(pairs: &str) -> LimitsForm {
        serde_urlencoded::from_str(pairs).unwrap()
    }

    #[test]
    fn form_replaces_quiet_hours_and_the_cap_on_one_channel() {
        let mut start = parse_stored(None);
        start.caps.push(Cap {
            channel: "sms".into(),
            count: 1,
            window_ms: DAY_MS,
        });
        let limits = apply(
            start,
            form("timezone=Europe%2FLondon&quiet_start=21:00&quiet_end=08:00&cap_count=2&cap_days=7&cap_channel=email"),
        )
        .unwrap();
        assert_eq!(limits.timezone, "Europe/London");
        let quiet = limits.quiet_hours.unwrap();
        assert_eq!(quiet.start.to_string(), "21:00:00");
        assert_eq!(limits.caps.len(), 2);
        let again = apply(
            limits,
            form("timezone=UTC&cap_count=0&cap_days=1&cap_channel=email"),
        )
        .unwrap();
        assert_eq!(again.quiet_hours, None);
        assert_eq!(again.caps.len(), 2);
        assert_eq!(again.caps[1].count, 0);
    }

    #[test]
    fn bad_forms_say_why() {
        let cases = [
            ("timezone=Mars%2FOlympus", "time zone"),
            ("timezone=UTC&quiet_start=21:00", "both a start and an end"),
            (
                "timezone=UTC&quiet_start=25:00&quiet_end=01:00",
                "`quiet_start`",
            ),
            (
                "timezone=UTC&cap_count=-1&cap_days=7&cap_channel=email",
                "`cap_count`",
            ),
            (
                "timezone=UTC&cap_count=1&cap_days=0&cap_channel=email",
                "`cap_days`",
            ),
            (
                "timezone=UTC&cap_count=1&cap_days=7&cap_channel=fax",
                "`fax`",
            ),
        ];
        for (pairs, needle) in cases {
            let err = apply(parse_stored(None), form(pairs)).err().unwrap();
            assert!(err.0.message.contains(needle), "{pairs}: {}", err.0.message);
        }
    }
}
