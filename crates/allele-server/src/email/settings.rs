//! The workspace's SMTP settings (`PUT /v1/channels/email`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `tls` (implicit TLS, usually port 465).
    pub tls: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The `From` address, e.g. `News <news@example.com>`.
    pub from: String,
    /// Where recipients reach this server: unsubscribe and click links
    /// start with it. RFC 8058 requires https.
    pub public_url: String,
    /// Attempts before a message that cannot reach the server is `failed`.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First retry delay; each later one doubles.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// At most this many messages per second for the workspace (0: no limit).
    #[serde(default)]
    pub per_second: u32,
}

fn default_attempts() -> u32 {
    5
}

fn default_backoff() -> u64 {
    1_000
}

impl SmtpSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("`host` is empty".into());
        }
        if !matches!(self.tls.as_str(), "none" | "starttls" | "tls") {
            return Err(format!(
                "tls `{}` must be `none`, `starttls` or `tls`",
                self.tls
            ));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err("`username` and `password` go together".into());
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!("from `{}` is not an email address", self.from));
        }
        if !self.public_url.starts_with("https://") {
            return Err(format!(
                "public_url `{}` must start with https:// (one-click unsubscribe links must be https)",
                self.public_url
            ));
        }
        if !(1..=20).contains(&self.max_attempts) {
            return Err("`max_attempts` must be 1–20".into());
        }
        if self.backoff_ms > 3_600_000 {
            return Err("`backoff_ms` must be at most one hour".into());
        }
        Ok(())
    }

    /// The settings as answered over HTTP: the password never leaves.
    pub fn redacted(&self) -> serde_json::Value {
        let mut shown = self.clone();
        let has_password = shown.password.take().is_some();
        let mut value = serde_json::to_value(shown).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("has_password".into(), has_password.into());
        }
        value
    }

    /// Delay before attempt `attempts + 1`: backoff, doubling, capped at a day.
    pub fn retry_delay(&self, attempts: i64) -> i64 {
        let doublings = (attempts - 1).clamp(0, 20) as u32;
        (self.backoff_ms as i64)
            .saturating_mul(1i64 << doublings)
            .min(86_400_000)
    }
}
