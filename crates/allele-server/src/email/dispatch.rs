//! The email dispatcher: takes due outbox messages, re-checks the consent
//! gate and the customer's quiet hours and caps *now* (a message queued
//! before an unsubscribe is not sent after it), renders the template with
//! the current profile, and hands it to the workspace's SMTP server.
//!
//! Never twice: a message is claimed (`sending`, committed) before the
//! hand-off; a restart turns a leftover `sending` into `interrupted`
//! instead of sending again. An unreachable server is retried with
//! doubling backoff, then the message is `failed` with the last error; a
//! recipient the server refuses for good is `bounced`.

use super::links::record_event;
use super::settings::SmtpSettings;
use crate::AppState;
use allele_campaigns::links::{Click, Unsubscribe, rewrite_links};
use allele_campaigns::template::{self, EmailTemplate, Rendered};
use allele_privacy::consent::{self, ActionKind, ConsentRecord, ConsentSource, ConsentStatus};
use allele_privacy::limits::CustomerLimits;
use allele_store::{StoreError, bundles, now_ms, outbox, read};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything a send reads, in one read transaction.
struct Gathered {
    settings: Option<SmtpSettings>,
    template: Option<EmailTemplate>,
    person: Option<Person>,
    known_traits: Vec<String>,
    key: Vec<u8>,
}

struct Person {
    vars: Value,
    address: Option<String>,
    ledger: Vec<ConsentRecord>,
    limits: Option<CustomerLimits>,
    contacts: Vec<i64>,
}

/// What to do with a due message.
enum Verdict {
    Send(Box<(SmtpSettings, lettre::Message)>),
    Defer(i64, String),
    End(&'static str, String),
}

pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(async move {
        match state.store.write(1, outbox::recover_interrupted).await {
            Ok(0) => {}
            Ok(count) => tracing::warn!(count, "emails interrupted mid-send marked, not resent"),
            Err(error) => tracing::error!(%error, "could not recover the email outbox"),
        }
        let throttle = Throttle::default();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let due = match state
                .store
                .read(|conn| outbox::due(conn, now_ms(), 100))
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "email outbox unreadable; retrying");
                    continue;
                }
            };
            for message in due {
                if let Err(error) = process(&state, &throttle, message).await {
                    tracing::warn!(%error, "an email could not be processed; it stays queued");
                }
            }
        }
    });
}

/// Per-workspace sends in the current second.
#[derive(Default)]
struct Throttle(Mutex<HashMap<String, (i64, u32)>>);

impl Throttle {
    fn admit(&self, ws: &str, per_second: u32, now: i64) -> bool {
        if per_second == 0 {
            return true;
        }
        let Ok(mut map) = self.0.lock() else {
            return true;
        };
        let slot = map.entry(ws.to_string()).or_insert((now / 1000, 0));
        if slot.0 != now / 1000 {
            *slot = (now / 1000, 0);
        }
        if slot.1 >= per_second {
            return false;
        }
        slot.1 += 1;
        true
    }
}

fn gather(conn: &allele_store::Connection, due: &outbox::Due) -> Result<Gathered, StoreError> {
    let settings =
        outbox::settings(conn, &due.ws, "email")?.and_then(|t| serde_json::from_str(&t).ok());
    let template = outbox::template(conn, &due.ws, &due.template_id)?
        .and_then(|t| serde_json::from_str(&t).ok());
    let exists: bool = conn
        .query_row(
            "SELECT 1 FROM profiles WHERE id = ?1",
            [&due.profile_id],
            |_| Ok(()),
        )
        .is_ok();
    let person = if exists {
        let root = &due.profile_id;
        let profile = crate::decisions::engine_profile(conn, &due.ws, root)?;
        let email_identity = profile
            .identities
            .iter()
            .find(|i| i.kind == "email")
            .map(|i| i.value.clone());
        let address = profile
            .traits
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(email_identity);
        let user_id = profile
            .identities
            .iter()
            .find(|i| i.kind == "user_id")
            .map(|i| i.value.clone());
        let vars = json!({
            "id": profile.id, "user_id": user_id, "email": address,
            "traits": profile.traits, "computed": profile.computed, "segments": profile.segments,
        });
        let ledger = read::consent_ledger(conn, root)?
            .into_iter()
            .filter_map(|r| {
                let status = match r.status.as_str() {
                    "given" => ConsentStatus::Given,
                    "withdrawn" => ConsentStatus::Withdrawn,
                    "refused" => ConsentStatus::Refused,
                    _ => return None,
                };
                Some(ConsentRecord::new(
                    &r.purpose,
                    &r.channel,
                    status,
                    ConsentSource::Admin,
                    0,
                ))
            })
            .collect();
        let limits =
            bundles::customer_limits(conn, root)?.and_then(|t| serde_json::from_str(&t).ok());
        let mut contacts = outbox::marketing_sends(conn, root)?;
        contacts.extend(bundles::marketing_contacts(conn, root, "email")?);
        Some(Person {
            vars,
            address,
            ledger,
            limits,
            contacts,
        })
    } else {
        None
    };
    Ok(Gathered {
        settings,
        template,
        person,
        known_traits: bundles::known_traits(conn, &due.ws)?,
        key: super::links::link_key(conn, &due.ws)?,
    })
}

fn judge(due: &outbox::Due, gathered: Gathered, now: i64) -> Verdict {
    let Some(settings) = gathered.settings else {
        return Verdict::Defer(
            now + 60_000,
            "email is not configured for this workspace".into(),
        );
    };
    let Some(template) = gathered.template else {
        return Verdict::End(
            "failed",
            format!("template `{}` no longer exists", due.template_id),
        );
    };
    let Some(person) = gathered.person else {
        return Verdict::End("blocked", "the recipient's profile no longer exists".into());
    };
    let kind = if due.kind == "transactional" {
        ActionKind::Transactional
    } else {
        ActionKind::Marketing
    };
    if !consent::permits(kind, &person.ledger, "dpv:DirectMarketing", "email") {
        return Verdict::End(
            "blocked",
            "no consent for `dpv:DirectMarketing` on email".into(),
        );
    }
    if kind == ActionKind::Marketing
        && let Some(limits) = &person.limits
    {
        match limits.check(now, "email", &person.contacts) {
            Ok(None) => {}
            Ok(Some(blocked)) => {
                let reason = serde_json::to_value(&blocked)
                    .ok()
                    .and_then(|v| v["reason"].as_str().map(str::to_string))
                    .unwrap_or_default();
                return match limits.next_allowed_time(now, "email", &person.contacts) {
                    Ok(Some(at)) if at > now => Verdict::Defer(at, format!("deferred: {reason}")),
                    _ => Verdict::End(
                        "blocked",
                        format!("the customer's limits block email: {reason}"),
                    ),
                };
            }
            Err(error) => return Verdict::End("blocked", error.to_string()),
        }
    }
    let Some(address) = person.address else {
        return Verdict::End("blocked", "the profile has no email address".into());
    };
    let base = settings.public_url.trim_end_matches('/').to_string();
    let ws = due.ws.clone();
    let unsubscribe = Unsubscribe {
        workspace: ws.clone(),
        profile_id: person.vars["id"].as_str().unwrap_or_default().to_string(),
        message_id: due.id.clone(),
    }
    .sign(&gathered.key)
    .map(|token| format!("{base}/v1/unsubscribe/{token}"))
    .unwrap_or_default();
    let stored: Value = serde_json::from_str(&due.vars).unwrap_or_default();
    let vars = template::variables(
        &person.vars,
        &gathered.known_traits,
        stored.get("decision"),
        &due.id,
        &unsubscribe,
    );
    let rendered = match template::render(&template, &vars) {
        Ok(rendered) => rendered,
        Err(error) => return Verdict::End("failed", error.to_string()),
    };
    let html = rendered.html.as_deref().map(|html| {
        rewrite_links(html, |url| {
            Click {
                workspace: ws.clone(),
                message_id: due.id.clone(),
                url: url.to_string(),
            }
            .sign(&gathered.key)
            .map(|token| format!("{base}/v1/click/{token}"))
        })
    });
    match build(
        &settings,
        &address,
        &due.id,
        &unsubscribe,
        Rendered { html, ..rendered },
    ) {
        Ok(message) => Verdict::Send(Box::new((settings, message))),
        Err(error) => Verdict::End("failed", error),
    }
}

fn build(
    settings: &SmtpSettings,
    to: &str,
    id: &str,
    unsubscribe: &str,
    rendered: Rendered,
) -> Result<lettre::Message, String> {
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| format!("from address: {e}"))?;
    let to: Mailbox = to
        .parse()
        .map_err(|_| format!("the recipient address `{to}` is not valid"))?;
    let domain = from.email.domain().to_string();
    let builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(rendered.subject)
        // The message id is the outbox id: receivers can drop duplicates too.
        .message_id(Some(format!("<{id}@{domain}>")))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{unsubscribe}>"),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".into(),
        ));
    let built = match (rendered.html, rendered.text) {
        (Some(html), Some(text)) => {
            builder.multipart(MultiPart::alternative_plain_html(text, html))
        }
        (Some(html), None) => builder.header(ContentType::TEXT_HTML).body(html),
        (None, Some(text)) => builder.header(ContentType::TEXT_PLAIN).body(text),
        (None, None) => return Err("the template rendered no body".into()),
    };
    built.map_err(|e| format!("the message could not be built: {e}"))
}

async fn deliver(
    settings: &SmtpSettings,
    message: lettre::Message,
) -> Result<(), lettre::transport::smtp::Error> {
    let builder = match settings.tls.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)?,
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
    };
    let mut builder = builder
        .port(settings.port)
        .timeout(Some(Duration::from_secs(10)));
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    builder.build().send(message).await.map(|_| ())
}

async fn process(
    state: &Arc<AppState>,
    throttle: &Throttle,
    due: outbox::Due,
) -> Result<(), StoreError> {
    let now = now_ms();
    let for_read = due.clone();
    let gathered = state
        .store
        .read(move |conn| gather(conn, &for_read))
        .await?;
    let per_second = gathered.settings.as_ref().map_or(0, |s| s.per_second);
    let id = due.id.clone();
    let (settings, message) = match judge(&due, gathered, now) {
        Verdict::Defer(until, reason) => {
            return state
                .store
                .write(1, move |conn| outbox::defer(conn, &id, until, &reason))
                .await;
        }
        Verdict::End(status, reason) => {
            return state
                .store
                .write(1, move |conn| {
                    outbox::settle(conn, &id, status, now, Some(&reason), now)
                })
                .await;
        }
        Verdict::Send(send) => *send,
    };
    if !throttle.admit(&due.ws, per_second, now) {
        return Ok(());
    }
    let claim_id = id.clone();
    if !state
        .store
        .write(1, move |conn| outbox::claim(conn, &claim_id))
        .await?
    {
        return Ok(());
    }
    let attempts = due.attempts + 1;
    let outcome = deliver(&settings, message).await;
    let (status, next_at, error) = match &outcome {
        Ok(()) => ("sent", now, None),
        Err(error) if error.is_permanent() => (
            "bounced",
            now,
            Some(format!("the smtp server refused the message: {error}")),
        ),
        Err(error) if attempts >= i64::from(settings.max_attempts) => (
            "failed",
            now,
            Some(format!("gave up after {attempts} attempts: {error}")),
        ),
        Err(error) => (
            "pending",
            now_ms() + settings.retry_delay(attempts),
            Some(format!("attempt {attempts} failed: {error}")),
        ),
    };
    let reason = error.clone();
    state
        .store
        .write(1, move |conn| {
            outbox::settle(conn, &id, status, next_at, reason.as_deref(), now_ms())
        })
        .await?;
    metrics::counter!("allele_emails_total", "status" => status).increment(1);
    if status == "bounced" {
        let properties =
            json!({"message_id": due.id, "reason": error, "template": due.template_id});
        if let Err(error) =
            record_event(state, &due.ws, &due.profile_id, "Email Bounced", properties).await
        {
            tracing::warn!(?error, "could not record a bounce event");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    #[test]
    fn throttle_admits_per_second_per_workspace() {
        let throttle = Throttle::default();
        let admitted = (0..5).filter(|_| throttle.admit("a", 3, 10_000)).count();
        assert_eq!(admitted, 3);
        assert!(
            throttle.admit("b", 3, 10_500),
            "workspaces are counted apart"
        );
        assert!(!throttle.admit("a", 3, 10_999));
        assert!(throttle.admit("a", 3, 11_000), "a new second starts afresh");
        assert!(throttle.admit("a", 0, 11_000), "0 means no limit");
    }
}
