//! Credentials: HTTP Basic (key as username) or `Authorization: Bearer`.
//! Keys are looked up by their hash and cached in memory.

use crate::AppState;
use crate::error::HttpError;
use allele_store::Role;
use allele_types::Code;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace: String,
    pub role: Role,
    /// A non-secret id of the key (a prefix of its hash), for the access log.
    pub key_id: String,
}

impl Principal {
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.key_id)
    }
}

#[derive(Default)]
pub struct KeyCache {
    known: RwLock<HashMap<String, Principal>>,
}

/// The key a request carries in its `Authorization` header, if any.
pub fn header_key(headers: &HeaderMap) -> Result<Option<String>, HttpError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| HttpError::new(Code::InvalidKey, "the authorization header is not ascii"))?;
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                HttpError::new(Code::InvalidKey, "basic credentials are not valid base64")
            })?;
        let user = decoded
            .split_once(':')
            .map_or(decoded.as_str(), |(user, _)| user);
        return Ok(Some(user.to_string()));
    }
    Err(HttpError::new(
        Code::InvalidKey,
        format!("unsupported authorization scheme `{scheme}`"),
    ))
}

impl AppState {
    pub async fn principal(&self, key: &str) -> Result<Principal, HttpError> {
        let hash = allele_store::keys::hash_key(key);
        if let Ok(known) = self.keys.known.read()
            && let Some(found) = known.get(&hash)
        {
            return Ok(found.clone());
        }
        let lookup_key = key.to_string();
        let found = self
            .store
            .read(move |conn| allele_store::keys::lookup_key(conn, &lookup_key))
            .await?;
        let Some((workspace, role)) = found else {
            return Err(HttpError::new(
                Code::InvalidKey,
                "the key is unknown or revoked",
            ));
        };
        let key_id = hash.get(..12).unwrap_or_default().to_string();
        let principal = Principal {
            workspace,
            role,
            key_id,
        };
        if let Ok(mut known) = self.keys.known.write() {
            known.insert(hash, principal.clone());
        }
        Ok(principal)
    }

    /// Authenticate from the header and require one of `roles`.
    pub async fn require(
        &self,
        headers: &HeaderMap,
        roles: &[Role],
    ) -> Result<Principal, HttpError> {
        let Some(key) = header_key(headers)? else {
            return Err(HttpError::new(
                Code::MissingAuth,
                "send a key as `Authorization: Bearer <key>`",
            ));
        };
        let principal = match self.principal(&key).await {
            Ok(principal) => principal,
            // A live customer token is a valid credential of the wrong kind.
            Err(_) if key.starts_with("ct_") && self.customer(headers).await.is_ok() => {
                return Err(HttpError::new(
                    Code::WrongRole,
                    "customer tokens reach only `/v1/me`",
                ));
            }
            Err(err) => return Err(err),
        };
        if !roles.contains(&principal.role) {
            return Err(HttpError::new(
                Code::WrongRole,
                format!(
                    "a `{}` key may not call this endpoint",
                    principal.role.as_str()
                ),
            ));
        }
        Ok(principal)
    }
}
