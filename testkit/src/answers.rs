//! Checks on rolegate's answers (README "Answers"), each naming the case in its message:
//! `check_*` says what is wrong (for tests that retry or collect failures), and the plain
//! names panic with it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::http::Response;

/// `error_description` of a token whose `kid` is not in the key set.
pub const UNKNOWN_KID: &str = "token signing key is unknown";
/// `error_description` of a token whose issuer is not configured.
pub const UNTRUSTED_ISSUER: &str = "token issuer is not trusted";

fn ok<T>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A reply rolegate made itself: `status`, `content-type: application/json` and a JSON object
/// body with a non-empty string `error`. Returns the body.
pub fn check_local_reply(r: &Response, status: u16, what: &str) -> Result<Value, String> {
    if r.status != status {
        return Err(format!("{what}: status {}, want {status}: {r:?}", r.status));
    }
    let ct = r.header("content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Err(format!(
            "{what}: local reply content-type is {ct:?}, want application/json: {r:?}"
        ));
    }
    let body: Value = serde_json::from_slice(&r.body)
        .map_err(|e| format!("{what}: local reply body is not JSON ({e}): {r:?}"))?;
    if error_code(&body).is_empty() {
        return Err(format!(
            "{what}: local reply body has no string \"error\": {r:?}"
        ));
    }
    Ok(body)
}

/// See [`check_local_reply`].
pub fn local_reply(r: &Response, status: u16, what: &str) -> Value {
    ok(check_local_reply(r, status, what))
}

/// The `error` member of a local reply's JSON body.
pub fn error_code(body: &Value) -> &str {
    body.get("error").and_then(Value::as_str).unwrap_or("")
}

/// Parses `Bearer k="v", k2=v2` into its scheme and auth-params (names lowercased).
pub fn parse_challenge(value: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut params = BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            return Err(format!(
                "malformed auth-param list in www-authenticate {value:?}"
            ));
        };
        let name = name
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (val, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end =
                end.ok_or_else(|| format!("unterminated quote in www-authenticate {value:?}"))?;
            (out, q.get(end + 1..).unwrap_or_default())
        } else {
            let (val, tail) = after.split_at(after.find(',').unwrap_or(after.len()));
            (val.trim().to_string(), tail)
        };
        params.insert(name, val);
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Ok((scheme.to_string(), params))
}

/// The auth-params of the one `www-authenticate: Bearer ...` header.
pub fn check_challenge(r: &Response, what: &str) -> Result<BTreeMap<String, String>, String> {
    let all = r.header_all("www-authenticate");
    let [value] = all.as_slice() else {
        return Err(format!(
            "{what}: want exactly one www-authenticate header: {r:?}"
        ));
    };
    let (scheme, params) = parse_challenge(value).map_err(|e| format!("{what}: {e}: {r:?}"))?;
    if scheme != "Bearer" {
        return Err(format!(
            "{what}: challenge scheme {scheme:?}, want Bearer: {r:?}"
        ));
    }
    Ok(params)
}

/// See [`check_challenge`].
pub fn challenge(r: &Response, what: &str) -> BTreeMap<String, String> {
    ok(check_challenge(r, what))
}

/// 401 `invalid_token` with a non-empty `error_description` in the challenge.
pub fn check_invalid_token(r: &Response, what: &str) -> Result<(), String> {
    check_local_reply(r, 401, what)?;
    let params = check_challenge(r, what)?;
    if params.get("error").map(String::as_str) != Some("invalid_token") {
        return Err(format!(
            "{what}: want error=\"invalid_token\" in the challenge: {r:?}"
        ));
    }
    if params.get("error_description").is_none_or(|d| d.is_empty()) {
        return Err(format!(
            "{what}: challenge needs a non-empty error_description: {r:?}"
        ));
    }
    Ok(())
}

/// See [`check_invalid_token`].
pub fn some_invalid_token(r: &Response, what: &str) {
    ok(check_invalid_token(r, what))
}

/// 401 `invalid_token` with exactly this `error_description` (in body and challenge).
pub fn invalid_token(r: &Response, description: &str, what: &str) {
    some_invalid_token(r, what);
    let body = local_reply(r, 401, what);
    assert_eq!(error_code(&body), "invalid_token", "{what}: {r:?}");
    assert_eq!(
        body.get("error_description").and_then(Value::as_str),
        Some(description),
        "{what}: body error_description: {r:?}"
    );
    assert_eq!(
        challenge(r, what)
            .get("error_description")
            .map(String::as_str),
        Some(description),
        "{what}: challenge error_description: {r:?}"
    );
}

/// 401 with `Bearer realm="<host>"` and no error code (no credentials).
pub fn missing_credentials(r: &Response, host: &str, what: &str) {
    let body = local_reply(r, 401, what);
    assert_eq!(error_code(&body), "missing_token", "{what}: {r:?}");
    let params = challenge(r, what);
    assert_eq!(
        params.get("realm").map(String::as_str),
        Some(host),
        "{what}: {r:?}"
    );
    assert!(
        !params.contains_key("error"),
        "{what}: a request without credentials must not get an error code (RFC 6750 §3.1): {r:?}"
    );
}

/// 403 `insufficient_scope`, in the body and the challenge.
pub fn insufficient_scope(r: &Response, what: &str) {
    let body = local_reply(r, 403, what);
    let params = challenge(r, what);
    let codes = (error_code(&body), params.get("error").map(String::as_str));
    let want = ("insufficient_scope", Some("insufficient_scope"));
    assert_eq!(codes, want, "{what}: error in body and challenge: {r:?}");
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

/// What a request must get, in tables of requests and [`answer`].
#[derive(Clone, Copy, Debug)]
pub enum Want<'a> {
    /// The upstream's 200.
    Through,
    /// 401 `invalid_token`.
    Invalid,
    /// 401 `invalid_token` with this `error_description`.
    InvalidAs(&'a str),
    /// 403 `insufficient_scope`.
    Scope,
    /// 403: no rule matches.
    NoRule,
    /// 503: no usable keys.
    Unavailable,
}

/// Asserts that `r` is what `want` says.
pub fn answer(r: &Response, want: Want<'_>, what: &str) {
    match want {
        Want::Through => drop(upstream_ok(r, what)),
        Want::Invalid => some_invalid_token(r, what),
        Want::InvalidAs(description) => invalid_token(r, description, what),
        Want::Scope => insufficient_scope(r, what),
        Want::NoRule => drop(local_reply(r, 403, what)),
        Want::Unavailable => keys_unavailable(r, what),
    }
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

/// [`upstream_ok`], and the upstream saw each of `headers` with that value (`None`: not at all).
pub fn upstream_saw(r: &Response, what: &str, headers: &[(&str, Option<&str>)]) -> Value {
    let seen = upstream_ok(r, what);
    for (name, want) in headers {
        let got = seen_header(&seen, name);
        assert_eq!(got, *want, "{what}: {name} as the upstream saw it: {seen}");
    }
    seen
}

/// A header the upstream saw (from [`upstream_ok`]'s value).
pub fn seen_header<'a>(seen: &'a Value, name: &str) -> Option<&'a str> {
    seen.get("headers")
        .and_then(|h| h.get(name))
        .and_then(Value::as_str)
}
