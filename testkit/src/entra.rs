//! The Microsoft Entra ID tenant every local token comes from: issuer, audiences, client and
//! role, and the claims of a v2.0 application token.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// The tenant.
pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// v2.0 issuer.
pub const ISSUER: &str =
    "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
/// v1.0 issuer (also configured in the tests).
pub const ISSUER_V1: &str = "https://sts.windows.net/11111111-2222-3333-4444-555555555555/";
/// An issuer that is never configured.
pub const OTHER_ISSUER: &str =
    "https://login.microsoftonline.com/99999999-8888-7777-6666-555555555555/v2.0";
/// The API's application (client) id, accepted as audience.
pub const API_APP_ID: &str = "0a1b2c3d-0000-4000-8000-00000000ca1c";
/// The API's application id URI, accepted as audience.
pub const AUDIENCE: &str = "api://calc";
/// An audience that is never configured.
pub const OTHER_AUDIENCE: &str = "api://other";
/// `azp`, the calling client's id.
pub const CLIENT_ID: &str = "c11e47a0-aaaa-bbbb-cccc-000000000001";
/// The role `/calc/` requires.
pub const ROLE: &str = "invokeRole";
/// How long [`claims`] tokens live.
pub const TEST_LIFETIME_SECONDS: i64 = 3600;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The claims of a v2.0 application token holding `roles`, issued at `now` (10 s back, for
/// clocks that differ a little) and valid for `lifetime` seconds.
pub fn app_token_claims(roles: &[&str], now: i64, lifetime: i64) -> Value {
    json!({
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + lifetime,
        "azp": CLIENT_ID,
        "azpacr": "1",
        "oid": "0b0b0b0b-1111-2222-3333-444444444444",
        "sub": "0b0b0b0b-1111-2222-3333-444444444444",
        "tid": TENANT,
        "ver": "2.0",
        "roles": roles,
    })
}

/// Valid claims carrying `roles`, issued now, for an hour.
pub fn claims(roles: &[&str]) -> Value {
    app_token_claims(roles, now(), TEST_LIFETIME_SECONDS)
}

/// `claims(roles)` with some members replaced (`Value::Null` removes a member).
pub fn claims_with(roles: &[&str], changes: Value) -> Value {
    let mut c = claims(roles);
    if let (Some(obj), Some(ch)) = (c.as_object_mut(), changes.as_object()) {
        for (k, v) in ch {
            if v.is_null() {
                obj.remove(k);
            } else {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    c
}
