//! The one table of error codes.
//!
//! Every error a client can see is a row here: a stable `code`, an error
//! `type`, and an HTTP status. The body on the wire is always
//! `{"message","code","type","link"}`; `link` points at the server's own
//! error page (`/docs/errors#<code>`), which is rendered from this table.

use serde::Serialize;

/// The family an error belongs to, serialized as the `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequest,
    Auth,
    System,
    Internal,
}

macro_rules! codes {
    ($($variant:ident => ($code:literal, $kind:ident, $status:literal, $doc:literal)),+ $(,)?) => {
        /// Every error code allele can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant),+ }

        impl Code {
            /// All codes, in table order (used to render the error page).
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $code),+ }
            }
            pub fn error_type(self) -> ErrorType {
                match self { $(Code::$variant => ErrorType::$kind),+ }
            }
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status),+ }
            }
            /// The status of a code given by name (used by tests and clients).
            pub fn parse_status(name: &str) -> u16 {
                match name { $($code => $status,)+ _ => 500 }
            }
            /// One sentence on when the code is returned.
            pub fn doc(self) -> &'static str {
                match self { $(Code::$variant => $doc),+ }
            }
        }
    };
}

codes! {
    InvalidJson => ("invalid_json", InvalidRequest, 400, "the body is not valid JSON, or not a JSON object"),
    InvalidGzip => ("invalid_gzip", InvalidRequest, 400, "the body claims `Content-Encoding: gzip` but does not decompress"),
    UnsupportedEncoding => ("unsupported_encoding", InvalidRequest, 415, "the `Content-Encoding` is neither absent, `identity` nor `gzip`"),
    UnsupportedMediaType => ("unsupported_media_type", InvalidRequest, 415, "the `Content-Type` is not one this endpoint reads"),
    InvalidEvent => ("invalid_event", InvalidRequest, 400, "an event has a field of the wrong type, or lacks a required field"),
    MissingIdentity => ("missing_identity", InvalidRequest, 400, "an event carries neither `userId` nor `anonymousId`"),
    UnknownType => ("unknown_type", InvalidRequest, 400, "an event's `type` is not identify, track, page, screen, group or alias"),
    InvalidTimestamp => ("invalid_timestamp", InvalidRequest, 400, "a timestamp is not ISO 8601 / RFC 3339"),
    EventTooLarge => ("event_too_large", InvalidRequest, 413, "one event is larger than 32 KB once decompressed"),
    BatchTooLarge => ("batch_too_large", InvalidRequest, 413, "the batch is larger than the batch byte limit once decompressed"),
    TooManyEvents => ("too_many_events", InvalidRequest, 400, "the batch holds more than 2,500 events"),
    BodyTimeout => ("body_timeout", InvalidRequest, 408, "the request body did not arrive within the body deadline (`--body-read-timeout`)"),
    EmptyBatch => ("empty_batch", InvalidRequest, 400, "the batch field is missing, not an array, or empty"),
    InvalidQuery => ("invalid_query", InvalidRequest, 400, "a query parameter has a value this endpoint cannot read"),
    InvalidRef => ("invalid_ref", InvalidRequest, 400, "a profile reference is not `type:value` or a profile id"),
    InvalidCursor => ("invalid_cursor", InvalidRequest, 400, "the paging cursor was not one this server handed out"),
    InvalidBody => ("invalid_body", InvalidRequest, 400, "the request body does not match what this endpoint expects"),
    MissingAuth => ("missing_authorization", Auth, 401, "no credentials were sent"),
    InvalidKey => ("invalid_api_key", Auth, 401, "the key is unknown or revoked"),
    WrongRole => ("wrong_role", Auth, 403, "the key is valid but its role may not call this endpoint"),
    CsrfRejected => ("csrf_rejected", Auth, 403, "a console form was posted without this session's token or from another site"),
    ProfileNotFound => ("profile_not_found", InvalidRequest, 404, "no profile answers to this reference"),
    MergeNotFound => ("merge_not_found", InvalidRequest, 404, "the profile has no merge that could be undone"),
    ExperimentNotFound => ("experiment_not_found", InvalidRequest, 404, "no `Experiment Viewed` event names this experiment"),
    MetricNotFound => ("metric_not_found", InvalidRequest, 404, "no event of the metric's name was ever received"),
    InvalidReport => ("invalid_report", InvalidRequest, 400, "the report cannot be computed from these parameters (say, an unknown control variation)"),
    InvalidPolicy => ("invalid_policy", InvalidRequest, 400, "the policy does not compile or fails its checks; `errors` lists each problem"),
    BundleNotFound => ("bundle_not_found", InvalidRequest, 404, "no bundle has this version"),
    NoActiveBundle => ("no_active_bundle", InvalidRequest, 409, "no policy has been published yet"),
    BundleRejected => ("bundle_rejected", System, 409, "the stored bundle failed signature verification; the last good one stays active"),
    DecisionNotFound => ("decision_not_found", InvalidRequest, 404, "no decision has this id"),
    SegmentNotFound => ("segment_not_found", InvalidRequest, 404, "no segment has this id"),
    InvalidTemplate => ("invalid_template", InvalidRequest, 400, "the template does not parse or names a variable a send cannot supply"),
    TemplateNotFound => ("template_not_found", InvalidRequest, 404, "no email template has this id"),
    MessageNotFound => ("message_not_found", InvalidRequest, 404, "no email in the outbox has this id"),
    InvalidLinkToken => ("invalid_link_token", InvalidRequest, 400, "the link's token was not signed by this server or is damaged"),
    InvalidJourney => ("invalid_journey", InvalidRequest, 400, "the journey definition does not parse or fails its checks"),
    JourneyNotFound => ("journey_not_found", InvalidRequest, 404, "no journey has this id"),
    GrantNotFound => ("grant_not_found", InvalidRequest, 404, "the customer has no active grant with this id"),
    GrantRequired => ("grant_required", Auth, 403, "no active grant of the customer lets this grantee read their profile for this purpose (none given, expired, withdrawn or forbidden by a refusal)"),
    RouteNotFound => ("route_not_found", InvalidRequest, 404, "no endpoint has this path"),
    MethodNotAllowed => ("method_not_allowed", InvalidRequest, 405, "the endpoint exists but not for this HTTP method"),
    Overloaded => ("overloaded", System, 503, "the server is shedding load; retry after the time in `Retry-After`"),
    StorageFull => ("storage_full", System, 507, "the data directory has no room left; nothing was written"),
    StoreUnavailable => ("store_unavailable", System, 503, "the store could not commit; nothing was acknowledged"),
    NotReady => ("not_ready", System, 503, "the server is still recovering its store"),
    Internal => ("internal", Internal, 500, "an unexpected failure; the request had no effect"),
}

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiError {
    pub message: String,
    pub code: &'static str,
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    pub link: String,
    /// The 0-based index of the offending event in a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Every problem found, when there is more than one (policy checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Box<serde_json::Value>>,
    #[serde(skip)]
    pub status: u16,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            code: code.name(),
            error_type: code.error_type(),
            link: format!("/docs/errors#{}", code.name()),
            index: None,
            errors: None,
            status: code.status(),
        }
    }

    pub fn at_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_lowercase() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.name()), "duplicate code {}", code.name());
            assert_eq!(code.name(), code.name().to_lowercase());
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn body_has_the_four_fields() {
        let err = ApiError::new(Code::InvalidJson, "bad");
        let v = serde_json::to_value(&err).unwrap_or_default();
        assert_eq!(v["code"], "invalid_json");
        assert_eq!(v["type"], "invalid_request");
        assert_eq!(v["link"], "/docs/errors#invalid_json");
        assert_eq!(v["message"], "bad");
        assert!(v.get("index").is_none());
        assert!(v.get("status").is_none());
    }
}
