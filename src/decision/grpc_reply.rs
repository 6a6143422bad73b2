//! The answer to a denied gRPC request. Envoy turns a local reply to a request whose
//! `content-type` is gRPC into a trailers-only gRPC answer: HTTP status 200, `grpc-status` as
//! given, `grpc-message` = the body (percent-encoded). rolegate gives the status and the fixed
//! description; the challenge and `retry-after` headers stay.
//!
//! | rolegate answer | grpc-status |
//! |---|---|
//! | 400 (path) | 3, INVALID_ARGUMENT |
//! | 401 | 16, UNAUTHENTICATED |
//! | 403 | 7, PERMISSION_DENIED |
//! | 500 | 13, INTERNAL |
//! | 503 | 14, UNAVAILABLE |

use crate::decision::reply::{local_reply, LocalReply};
use crate::decision::Denial;

/// Whether Envoy treats a request with this `content-type` as gRPC: exactly
/// `application/grpc` or `application/grpc+<subtype>` (not `application/grpc-web`), as
/// Envoy's `Grpc::Common::hasGrpcContentType` compares it (case-sensitive).
pub fn is_grpc(content_type: Option<&[u8]>) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    content_type
        .and_then(|ct| ct.strip_prefix(GRPC))
        .is_some_and(|rest| rest.is_empty() || rest.first() == Some(&b'+'))
}

/// The gRPC status for one of rolegate's HTTP statuses.
pub fn grpc_status(http_status: u32) -> u32 {
    match http_status {
        400 => 3,
        401 => 16,
        403 => 7,
        503 => 14,
        _ => 13,
    }
}

pub fn grpc_reply(denial: &Denial) -> LocalReply {
    let http = local_reply(denial);
    LocalReply {
        status: http.status,
        headers: http
            .headers
            .into_iter()
            .filter(|(name, _)| *name != "content-type")
            .collect(),
        body: denial.description.to_string(),
        details: http.details,
        grpc_status: Some(grpc_status(http.status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::DenyReason;

    #[test]
    fn content_types_envoy_calls_grpc() {
        for ct in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc+json",
        ] {
            assert!(is_grpc(Some(ct.as_bytes())), "{ct}");
        }
        for ct in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpcx",
            "Application/grpc",
            "application/json",
            "",
        ] {
            assert!(!is_grpc(Some(ct.as_bytes())), "{ct}");
        }
        assert!(!is_grpc(None));
    }

    #[test]
    fn every_reason_maps_to_the_documented_status_with_its_description() {
        for reason in DenyReason::ALL {
            let denial = Denial {
                reason,
                description: "fixed text",
                realm: Some("api".into()),
                rule: None,
                condition: None,
                provider: None,
                client_id: None,
            };
            let http = local_reply(&denial);
            let grpc = grpc_reply(&denial);
            let want = match http.status {
                400 => 3,
                401 => 16,
                403 => 7,
                500 => 13,
                503 => 14,
                other => panic!("unexpected status {other}"),
            };
            assert_eq!(grpc.grpc_status, Some(want), "{reason:?}");
            assert_eq!(grpc.body, "fixed text");
            assert_eq!(grpc.details, http.details);
            assert!(grpc.headers.iter().all(|(n, _)| *n != "content-type"));
            let kept: Vec<_> = http
                .headers
                .iter()
                .filter(|(n, _)| *n != "content-type")
                .collect();
            assert_eq!(grpc.headers.iter().collect::<Vec<_>>(), kept);
        }
        assert_eq!(
            (grpc_status(401), grpc_status(403), grpc_status(503)),
            (16, 7, 14)
        );
    }
}
