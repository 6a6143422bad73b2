//! Turns a denial into the exact HTTP answer (RFC 6750 §3 for the bearer challenges); a gRPC
//! request gets its gRPC form (see `grpc_reply`).

use crate::decision::grpc_reply::{grpc_reply, is_grpc};
use crate::decision::{Denial, DenyReason};

/// Seconds a client is told to wait when no signing keys are available yet.
pub const NO_KEYS_RETRY_AFTER_SECONDS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Envoy's response code details (`%RESPONSE_CODE_DETAILS%`): `rolegate_<reason>`.
    pub details: &'static str,
    /// For a gRPC request: the `grpc-status` Envoy answers with (status 200, trailers-only,
    /// `grpc-message` = the body).
    pub grpc_status: Option<u32>,
}

/// The response code details of the reply Envoy makes when the plugin has no valid
/// configuration.
pub const NOT_CONFIGURED_DETAILS: &str = "rolegate_not_configured";

/// The answer to a denied request whose `content-type` is `content_type`: gRPC for a gRPC
/// request, else HTTP.
pub fn reply_to(denial: &Denial, content_type: Option<&[u8]>) -> LocalReply {
    if is_grpc(content_type) {
        grpc_reply(denial)
    } else {
        local_reply(denial)
    }
}

/// `{"error":…,"error_description":…}`, each string escaped by serde_json. Not through a
/// `json!` value: nothing else serializes a `Value`, and its serializer took 5.3 KB of the
/// module (every KB of module costs each Envoy about 5 KB: BENCHMARKS.md, Memory).
fn json_body(error: &str, description: &str) -> String {
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
    format!(
        r#"{{"error":{},"error_description":{}}}"#,
        quoted(error),
        quoted(description)
    )
}

pub fn local_reply(denial: &Denial) -> LocalReply {
    let (status, error, challenge) = match denial.reason {
        DenyReason::Path | DenyReason::Host => (400, "invalid_request", None),
        DenyReason::NoRule => (403, "access_denied", None),
        DenyReason::Missing => (
            401,
            "missing_token",
            Some(format!(
                "Bearer realm=\"{}\"",
                denial.realm.as_deref().unwrap_or_default()
            )),
        ),
        DenyReason::Role | DenyReason::Claim => (
            403,
            "insufficient_scope",
            Some("Bearer error=\"insufficient_scope\"".to_string()),
        ),
        DenyReason::NoKeys => (503, "temporarily_unavailable", None),
        DenyReason::Internal => (500, "internal_error", None),
        DenyReason::Malformed
        | DenyReason::BadTimeClaim
        | DenyReason::Signature
        | DenyReason::Expired
        | DenyReason::NotYetValid
        | DenyReason::Issuer
        | DenyReason::Audience
        | DenyReason::UnknownKid
        | DenyReason::WeakKey
        | DenyReason::RequiredClaim => (
            401,
            "invalid_token",
            Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                denial.description
            )),
        ),
    };
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(challenge) = challenge {
        headers.push(("www-authenticate", challenge));
    }
    if denial.reason == DenyReason::NoKeys {
        headers.push(("retry-after", NO_KEYS_RETRY_AFTER_SECONDS.to_string()));
    }
    LocalReply {
        status,
        headers,
        body: json_body(error, denial.description),
        details: denial.reason.details(),
        grpc_status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_what_a_json_value_would_print() {
        for (error, description) in [
            ("invalid_token", "token lacks a required role"),
            ("a\"b", "back\\slash, tab\t, nul\u{0}, é, ☃"),
            ("", ""),
        ] {
            let value = serde_json::json!({ "error": error, "error_description": description });
            assert_eq!(json_body(error, description), value.to_string());
        }
    }

    fn denial(reason: DenyReason) -> Denial {
        Denial {
            reason,
            description: "why",
            realm: Some("api.example".into()),
            rule: None,
            condition: None,
            provider: None,
            client_id: None,
        }
    }

    fn header<'a>(reply: &'a LocalReply, name: &str) -> Option<&'a str> {
        reply
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn statuses_and_challenges() {
        let r = local_reply(&denial(DenyReason::Missing));
        assert_eq!(r.status, 401);
        assert_eq!(
            header(&r, "www-authenticate"),
            Some("Bearer realm=\"api.example\"")
        );
        let r = local_reply(&denial(DenyReason::Expired));
        assert_eq!(r.status, 401);
        assert_eq!(
            header(&r, "www-authenticate"),
            Some("Bearer error=\"invalid_token\", error_description=\"why\"")
        );
        let r = local_reply(&denial(DenyReason::Role));
        assert_eq!(
            (r.status, header(&r, "www-authenticate")),
            (403, Some("Bearer error=\"insufficient_scope\""))
        );
        let r = local_reply(&denial(DenyReason::NoRule));
        assert_eq!((r.status, header(&r, "www-authenticate")), (403, None));
        let r = local_reply(&denial(DenyReason::NoKeys));
        assert_eq!((r.status, header(&r, "retry-after")), (503, Some("5")));
        for reason in DenyReason::ALL {
            let r = local_reply(&denial(reason));
            assert_eq!(header(&r, "content-type"), Some("application/json"));
            let body: serde_json::Value = serde_json::from_str(&r.body).expect("json");
            assert!(body.get("error").and_then(|e| e.as_str()).is_some());
            assert_eq!(r.details, format!("rolegate_{}", reason.name()));
            assert_eq!(r.grpc_status, None);
        }
    }

    #[test]
    fn only_a_grpc_content_type_gets_the_grpc_answer() {
        let d = denial(DenyReason::Role);
        assert_eq!(reply_to(&d, None), local_reply(&d));
        assert_eq!(reply_to(&d, Some(b"application/json")), local_reply(&d));
        assert_eq!(reply_to(&d, Some(b"application/grpc-web")), local_reply(&d));
        let grpc = reply_to(&d, Some(b"application/grpc+proto"));
        assert_eq!((grpc.grpc_status, grpc.details), (Some(7), "rolegate_role"));
    }
}
