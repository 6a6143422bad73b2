//! Assertions on rolegate's answers (README "Answers"), each naming the case in
//! its failure message.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::http::Response;

/// `error_description` of a token whose `kid` is not in the key set.
pub const UNKNOWN_KID: &str = "token signing key is unknown";
/// `error_description` of a token whose issuer is not configured.
pub const UNTRUSTED_ISSUER: &str = "token issuer is not trusted";

/// A reply rolegate made itself: `status`, `content-type: application/json` and
/// a JSON object body with a non-empty string `error`. Returns the body.
pub fn local_reply(r: &Response, status: u16, what: &str) -> Value {
    assert_eq!(r.status, status, "{what}: want status {status}: {r:?}");
    let ct = r.header("content-type").unwrap_or("");
    assert!(
        ct.to_ascii_lowercase().starts_with("application/json"),
        "{what}: local reply content-type {ct:?}, want application/json: {r:?}"
    );
    let body: Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{what}: local reply body is not JSON ({e}): {r:?}"));
    assert!(
        body.get("error")
            .and_then(Value::as_str)
            .is_some_and(|e| !e.is_empty()),
        "{what}: local reply body has no string \"error\": {r:?}"
    );
    body
}

/// The `error` member of a local reply's JSON body.
pub fn error_code(body: &Value) -> &str {
    body.get("error").and_then(Value::as_str).unwrap_or("")
}

/// The auth-params of the one `www-authenticate: Bearer ...` header.
pub fn challenge(r: &Response, what: &str) -> BTreeMap<String, String> {
    let all = r.header_all("www-authenticate");
    assert_eq!(
        all.len(),
        1,
        "{what}: want exactly one www-authenticate header: {r:?}"
    );
    let value = all.first().copied().unwrap_or_default().trim();
    let (scheme, mut rest) = value.split_once(' ').unwrap_or((value, ""));
    assert_eq!(scheme, "Bearer", "{what}: challenge scheme: {r:?}");
    let mut params = BTreeMap::new();
    loop {
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        if rest.is_empty() {
            return params;
        }
        let Some((name, after)) = rest.split_once('=') else {
            panic!("{what}: malformed auth-params in {value:?}");
        };
        let (val, tail) = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut out = String::new();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in quoted.char_indices() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {
                            out.push(c);
                            escaped = false;
                        }
                    }
                }
                let end = end.unwrap_or_else(|| panic!("{what}: unterminated quote in {value:?}"));
                (out, quoted.get(end + 1..).unwrap_or_default())
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                let (value, tail) = after.split_at(end);
                (value.trim().to_string(), tail)
            }
        };
        params.insert(name.trim().to_ascii_lowercase(), val);
        rest = tail;
    }
}

/// 401 `invalid_token` with exactly this `error_description` (in body and challenge).
pub fn invalid_token(r: &Response, description: &str, what: &str) {
    let body = local_reply(r, 401, what);
    assert_eq!(error_code(&body), "invalid_token", "{what}: {r:?}");
    assert_eq!(
        body.get("error_description").and_then(Value::as_str),
        Some(description),
        "{what}: body error_description: {r:?}"
    );
    let params = challenge(r, what);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("invalid_token"),
        "{what}: challenge: {r:?}"
    );
    assert_eq!(
        params.get("error_description").map(String::as_str),
        Some(description),
        "{what}: challenge error_description: {r:?}"
    );
}

/// 401 `missing_token` with `Bearer realm="<host>"` and no error code.
pub fn missing_credentials(r: &Response, host: &str, what: &str) {
    let body = local_reply(r, 401, what);
    assert_eq!(error_code(&body), "missing_token", "{what}: {r:?}");
    let params = challenge(r, what);
    assert_eq!(
        params.get("realm").map(String::as_str),
        Some(host),
        "{what}: realm: {r:?}"
    );
    assert!(
        !params.contains_key("error"),
        "{what}: no error code without credentials (RFC 6750 §3.1): {r:?}"
    );
}

/// 403 `insufficient_scope`.
pub fn insufficient_scope(r: &Response, what: &str) {
    let body = local_reply(r, 403, what);
    assert_eq!(error_code(&body), "insufficient_scope", "{what}: {r:?}");
    assert_eq!(
        challenge(r, what).get("error").map(String::as_str),
        Some("insufficient_scope"),
        "{what}: challenge: {r:?}"
    );
}

/// 503 `temporarily_unavailable` with a `retry-after` of whole seconds (≥ 1).
pub fn keys_unavailable(r: &Response, what: &str) {
    let body = local_reply(r, 503, what);
    assert_eq!(
        error_code(&body),
        "temporarily_unavailable",
        "{what}: {r:?}"
    );
    let retry_after = r.header("retry-after").unwrap_or("");
    assert!(
        retry_after.parse::<u32>().is_ok_and(|s| s >= 1),
        "{what}: want retry-after in seconds: {r:?}"
    );
}

/// 200 from the echo upstream; returns the request the upstream saw.
pub fn upstream_ok(r: &Response, what: &str) -> Value {
    assert_eq!(r.status, 200, "{what}: want the upstream's 200: {r:?}");
    let seen = r.body_json();
    assert!(
        seen.get("headers").is_some_and(Value::is_object),
        "{what}: not an echo reply: {r:?}"
    );
    seen
}

/// A header the upstream saw (from [`upstream_ok`]'s value).
pub fn seen_header<'a>(seen: &'a Value, name: &str) -> Option<&'a str> {
    seen.get("headers")
        .and_then(|h| h.get(name))
        .and_then(Value::as_str)
}
