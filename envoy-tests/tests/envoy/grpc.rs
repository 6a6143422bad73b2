//! rolegate's answers to gRPC requests, over HTTP/2 (h2c, prior knowledge) in real Envoy: a
//! denied request whose content-type is `application/grpc` or `application/grpc+<subtype>`
//! gets a trailers-only gRPC answer (HTTP 200, `grpc-status` 16, 7 or 14, `grpc-message` = the
//! fixed description); any other content-type gets the HTTP answer. The HTTP/2 client is the
//! system's curl (testkit `h2`); without it these tests fail.
//!
//! Prerequisites: `make envoy` and `make build` (the tests fail without them).
#![allow(clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};

use rolegate_testkit::entra::{AUDIENCE, ROLE};
use rolegate_testkit::stack::Stack;
use rolegate_testkit::test_keys::{standard_jwks, token, token_with};
use rolegate_testkit::token::bearer;
use rolegate_testkit::{h2, idp, Idp, Response};

/// A provider whose keys never come: its tokens get 503 / UNAVAILABLE.
const DOWN_ISSUER: &str = "https://down.example/v2.0";
const METHOD: &str = "/calc.v1.Calculator/Add";
/// An empty gRPC message: uncompressed, length 0.
const EMPTY_MESSAGE: &[u8] = &[0, 0, 0, 0, 0];

fn config() -> Value {
    json!({
        "providers": [
            idp::provider(),
            {"name": "down", "issuer": DOWN_ISSUER, "audiences": [AUDIENCE],
             "remote_jwks": {"cluster": "idp", "uri": "https://idp.local/no/such/keys"}},
        ],
        "rules": [
            {"name": "calc", "match": {"path_separated_prefix": "/calc.v1.Calculator"},
             "roles": [ROLE]},
        ],
    })
}

/// A call rolegate is to deny: headers only (see `h2::request`).
fn call(s: &Stack, content_type: &str, token: Option<&str>) -> Response {
    call_with(s, content_type, token, &[])
}

fn call_with(s: &Stack, content_type: &str, token: Option<&str>, body: &[u8]) -> Response {
    let auth = token.map(bearer);
    let mut headers = vec![
        ("content-type", content_type),
        ("te", "trailers"),
        ("host", "calc.example"),
    ];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    h2::request(s.envoy.port(), "POST", METHOD, &headers, body)
        .unwrap_or_else(|e| panic!("{content_type} {token:?}: {e}"))
}

/// A trailers-only gRPC answer with `status` and `message`.
fn assert_grpc(r: &Response, status: &str, message: &str, what: &str) {
    assert_eq!(r.status, 200, "{what}: gRPC answers carry HTTP 200: {r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("application/grpc"),
        "{what}: {r:?}"
    );
    assert_eq!(r.header("grpc-status"), Some(status), "{what}: {r:?}");
    assert_eq!(r.header("grpc-message"), Some(message), "{what}: {r:?}");
    assert!(r.body.is_empty(), "{what}: no body: {r:?}");
}

#[test]
fn denied_grpc_requests_get_grpc_statuses_over_http2() {
    let s = Stack::start_logging_decisions(&config(), Idp::start(standard_jwks()));
    let good = token(&[ROLE]);
    let no_role = token(&["other"]);
    let down = token_with(&[ROLE], json!({"iss": DOWN_ISSUER}));

    let r = call(&s, "application/grpc", None);
    assert_grpc(&r, "16", "a Bearer token is required", "no token");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"calc.example\""),
        "the challenge stays"
    );
    let r = call(&s, "application/grpc+proto", Some("a.b.c"));
    assert_grpc(&r, "16", "token is not base64url", "malformed");
    assert_grpc(
        &call(&s, "application/grpc", Some(&no_role)),
        "7",
        "token lacks a required role",
        "no role",
    );
    let r = call(&s, "application/grpc", Some(&down));
    assert_grpc(&r, "14", "signing keys are not available yet", "no keys");
    assert_eq!(r.header("retry-after"), Some("5"));

    // Not gRPC: the HTTP answer, over HTTP/2 as well.
    for content_type in ["application/grpc-web", "application/json"] {
        let r = call(&s, content_type, None);
        assert_eq!(r.status, 401, "{content_type}: {r:?}");
        assert_eq!(r.header("grpc-status"), None, "{content_type}: {r:?}");
        assert_eq!(
            r.json_body()
                .and_then(|b| b.get("error").and_then(Value::as_str).map(str::to_string)),
            Some("missing_token".to_string()),
            "{content_type}: {r:?}"
        );
    }

    // Allowed: through to the (HTTP/1.1) upstream.
    let r = call_with(&s, "application/grpc", Some(&good), EMPTY_MESSAGE);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("grpc-status"), None, "{r:?}");
    assert_eq!(s.up.count(), 1);

    let lines = s
        .envoy
        .wait_for_access_log(Duration::from_secs(5), |log| log.lines().count() >= 7);
    for details in [
        "200 rolegate_missing decision=denied reason=missing",
        "200 rolegate_malformed",
        "200 rolegate_role",
        "200 rolegate_no_keys",
        "401 rolegate_missing",
    ] {
        assert!(lines.contains(details), "{details}:\n{lines}");
    }
}
