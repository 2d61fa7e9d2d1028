//! Signed links carried in an email: one-click unsubscribe (RFC 8058) and
//! click tracking. A token is `base64url(payload).base64url(tag)` where the
//! tag is HMAC-SHA256 over the payload, truncated to 128 bits, under a key
//! only the server holds; the payload is small JSON naming the workspace,
//! the message and (for clicks) the destination. Tokens need no table, so
//! links in old emails keep working, and cannot be forged to unsubscribe
//! someone else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

const TAG_BYTES: usize = 16;

/// What an unsubscribe token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribe {
    #[serde(rename = "w")]
    pub workspace: String,
    #[serde(rename = "p")]
    pub profile_id: String,
    #[serde(rename = "m")]
    pub message_id: String,
}

/// What a click token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    #[serde(rename = "w")]
    pub workspace: String,
    #[serde(rename = "m")]
    pub message_id: String,
    #[serde(rename = "u")]
    pub url: String,
}

fn tag(key: &[u8], kind: &str, payload: &[u8]) -> Option<Hmac<sha2::Sha256>> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).ok()?;
    // The kind is signed too, so a click token is never an unsubscribe token.
    mac.update(kind.as_bytes());
    mac.update(b"\0");
    mac.update(payload);
    Some(mac)
}

fn sign<T: Serialize>(key: &[u8], kind: &str, value: &T) -> Option<String> {
    let payload = serde_json::to_vec(value).ok()?;
    let mac = tag(key, kind, &payload)?;
    let bytes = mac.finalize().into_bytes();
    let short = bytes.get(..TAG_BYTES)?;
    Some(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(short)
    ))
}

fn verify<T: for<'de> Deserialize<'de>>(key: &[u8], kind: &str, token: &str) -> Option<T> {
    let (payload, signature) = token.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if signature.len() != TAG_BYTES {
        return None;
    }
    tag(key, kind, &payload)?
        .verify_truncated_left(&signature)
        .ok()?;
    serde_json::from_slice(&payload).ok()
}

impl Unsubscribe {
    pub fn sign(&self, key: &[u8]) -> Option<String> {
        sign(key, "unsubscribe", self)
    }
    /// The token's claims, or `None` if it was not signed with `key`.
    pub fn verify(key: &[u8], token: &str) -> Option<Unsubscribe> {
        verify(key, "unsubscribe", token)
    }
}

impl Click {
    pub fn sign(&self, key: &[u8]) -> Option<String> {
        sign(key, "click", self)
    }
    pub fn verify(key: &[u8], token: &str) -> Option<Click> {
        verify(key, "click", token)
    }
}

/// Replace every `href="http…"` / `href='http…'` in `html` with what
/// `rewrite` makes of the (HTML-unescaped) destination; other links
/// (`mailto:`, anchors) are left alone.
pub fn rewrite_links(html: &str, mut rewrite: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = find_href(rest) {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        // `after` starts with `href=` and a quote.
        let quote = after.as_bytes().get(5).copied().unwrap_or(b'"') as char;
        let value_start = 6;
        let Some(length) = after.get(value_start..).and_then(|v| v.find(quote)) else {
            out.push_str(after);
            return out;
        };
        let raw = after
            .get(value_start..value_start + length)
            .unwrap_or_default();
        let destination = raw.replace("&amp;", "&");
        let is_web = destination.starts_with("http://") || destination.starts_with("https://");
        match is_web.then(|| rewrite(&destination)).flatten() {
            Some(tracked) => {
                out.push_str("href=");
                out.push(quote);
                out.push_str(&tracked.replace('&', "&amp;"));
                out.push(quote);
            }
            None => out.push_str(after.get(..value_start + length + 1).unwrap_or(after)),
        }
        rest = after.get(value_start + length + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn find_href(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower.get(from..)?.find("href=") {
        let at = from + found;
        if matches!(lower.as_bytes().get(at + 5), Some(b'"' | b'\'')) {
            return Some(at);
        }
        from = at + 5;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_resist_tampering() {
        let claims = Unsubscribe {
            workspace: "default".into(),
            profile_id: "prf_1".into(),
            message_id: "m1".into(),
        };
        let token = claims.sign(b"secret").unwrap();
        assert_eq!(Unsubscribe::verify(b"secret", &token), Some(claims.clone()));
        assert_eq!(Unsubscribe::verify(b"other", &token), None);
        // Another person's payload under the first tag fails.
        let forged = Unsubscribe {
            profile_id: "prf_2".into(),
            ..claims
        }
        .sign(b"attacker")
        .unwrap();
        let (payload, _) = forged.split_once('.').unwrap();
        let (_, tag) = token.split_once('.').unwrap();
        assert_eq!(
            Unsubscribe::verify(b"secret", &format!("{payload}.{tag}")),
            None
        );
        // A click token is not an unsubscribe token.
        let click = Click {
            workspace: "default".into(),
            message_id: "m1".into(),
            url: "https://example.com".into(),
        }
        .sign(b"secret")
        .unwrap();
        assert_eq!(Unsubscribe::verify(b"secret", &click), None);
        assert!(Click::verify(b"secret", &click).is_some());
    }

    #[test]
    fn rewrites_only_web_links() {
        let html = r#"<a href="https://x.test/a?b=1&amp;c=2">x</a> <a href='mailto:a@b'>m</a> <A HREF="http://y.test">y</A>"#;
        let mut seen = Vec::new();
        let out = rewrite_links(html, |url| {
            seen.push(url.to_string());
            Some(format!("https://t.test/c/{}", seen.len()))
        });
        assert_eq!(seen, ["https://x.test/a?b=1&c=2", "http://y.test"]);
        assert_eq!(
            out,
            r#"<a href="https://t.test/c/1">x</a> <a href='mailto:a@b'>m</a> <A href="https://t.test/c/2">y</A>"#
        );
    }
}
