//! Profile references: `user_id:U`, `anonymous_id:A`, `email:E`, any other
//! `type:value` identity, or a bare profile id (`prf_…`).

/// The prefix of every profile id, so that a bare id never looks like an identity.
pub const PROFILE_ID_PREFIX: &str = "prf_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileRef {
    Id(String),
    Identity { kind: String, value: String },
}

impl ProfileRef {
    /// Read a reference as it appears in a URL path (already percent-decoded).
    pub fn parse(text: &str) -> Option<ProfileRef> {
        if text.starts_with(PROFILE_ID_PREFIX) && !text.contains(':') {
            return Some(ProfileRef::Id(text.to_string()));
        }
        let (kind, value) = text.split_once(':')?;
        let valid_kind = !kind.is_empty()
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_kind || value.is_empty() {
            return None;
        }
        Some(ProfileRef::Identity {
            kind: kind.to_string(),
            value: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identities_and_ids() {
        assert_eq!(
            ProfileRef::parse("user_id:u:1"),
            Some(ProfileRef::Identity {
                kind: "user_id".into(),
                value: "u:1".into()
            })
        );
        assert_eq!(
            ProfileRef::parse("prf_00ab"),
            Some(ProfileRef::Id("prf_00ab".into()))
        );
        assert_eq!(ProfileRef::parse("email:"), None);
        assert_eq!(ProfileRef::parse("nope"), None);
        assert_eq!(ProfileRef::parse("Bad Kind:x"), None);
    }
}
