//! Access tokens shaped like the v2.0 app-only tokens Entra ID issues to daemons, and the
//! token endpoint's success answer (RFC 6749 §5.1).

use crate::registrations::{Client, Registrations};
use rolegate_testkit::token::{self, b64url};
use rolegate_testkit::SigningKey;
use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Lifetime of an access token, in seconds (Entra's default for app-only tokens).
pub const LIFETIME_SECONDS: u64 = 3600;

/// The claims of an app-only token for `client` calling the registered API.
///
/// `aud` is the API's app id (v2 tokens), `azp` the calling client's app id, `oid` and
/// `sub` its service principal's object id, `roles` the app roles granted to it (Entra
/// leaves the claim out when there are none), `idtyp: app` marks an app-only token.
pub fn claims(
    issuer: &str,
    registrations: &Registrations,
    client: &Client,
    issued_at: u64,
    opaque: &OpaqueValues,
) -> Value {
    let mut claims = Map::new();
    let mut put = |name: &str, value: Value| {
        claims.insert(name.to_string(), value);
    };
    put("aud", json!(registrations.api.app_id));
    put("iss", json!(issuer));
    put("iat", json!(issued_at));
    put("nbf", json!(issued_at));
    put("exp", json!(issued_at + LIFETIME_SECONDS));
    put("azp", json!(client.app_id));
    put("azpacr", json!("1"));
    put("idtyp", json!("app"));
    put("oid", json!(client.service_principal_object_id));
    put("rh", json!(opaque.rh));
    if !client.granted_app_roles.is_empty() {
        put("roles", json!(client.granted_app_roles));
    }
    put("sub", json!(client.service_principal_object_id));
    put("tid", json!(registrations.tenant_id));
    put("uti", json!(opaque.uti));
    put("ver", json!("2.0"));
    Value::Object(claims)
}

/// Claims Entra fills with values only it interprets: `uti` (a token id) and `rh`.
#[derive(Debug, Clone)]
pub struct OpaqueValues {
    pub uti: String,
    pub rh: String,
}

impl OpaqueValues {
    pub fn random() -> Result<OpaqueValues, String> {
        let (mut uti, mut rh) = ([0; 16], [0; 48]);
        getrandom::fill(&mut uti).map_err(|e| format!("the OS random source: {e}"))?;
        getrandom::fill(&mut rh).map_err(|e| format!("the OS random source: {e}"))?;
        Ok(OpaqueValues {
            uti: b64url(&uti),
            rh: format!("0.{}.", b64url(&rh)),
        })
    }
}

/// A signed access token for `client`, issued now.
pub fn issue(
    key: &SigningKey,
    issuer: &str,
    registrations: &Registrations,
    client: &Client,
) -> Result<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_string())?
        .as_secs();
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": key.thumbprint()});
    let claims = claims(issuer, registrations, client, now, &OpaqueValues::random()?);
    token::sign(key, &header, &claims)
}

/// The token endpoint's JSON answer, members in Entra's order.
pub fn token_response_body(access_token: &str) -> String {
    format!(
        r#"{{"token_type":"Bearer","expires_in":{LIFETIME_SECONDS},"ext_expires_in":{LIFETIME_SECONDS},"access_token":{}}}"#,
        Value::String(access_token.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrations::BUILT_IN;

    #[test]
    fn claims_are_those_of_an_entra_v2_app_only_token() {
        let r = Registrations::parse(BUILT_IN).unwrap();
        let opaque = OpaqueValues::random().unwrap();
        let calc = r.client_named("calc-client").unwrap();
        let c = claims("https://iss/v2.0", &r, calc, 1_000, &opaque);
        assert_eq!(c["aud"], r.api.app_id.as_str());
        assert_eq!(c["azp"], calc.app_id.as_str());
        assert_eq!(c["sub"], c["oid"]);
        assert_eq!(c["roles"], json!(["invokeRole"]));
        assert_eq!(
            (c["iat"].as_u64(), c["exp"].as_u64()),
            (Some(1_000), Some(4_600))
        );
        assert_eq!(
            (&c["idtyp"], &c["ver"], &c["azpacr"]),
            (&json!("app"), &json!("2.0"), &json!("1"))
        );
        assert_eq!(c["tid"], r.tenant_id.as_str());

        let reporting = r.client_named("reporting-client").unwrap();
        let c = claims("https://iss/v2.0", &r, reporting, 1_000, &opaque);
        assert!(c.get("roles").is_none(), "no roles granted: no roles claim");
    }

    #[test]
    fn the_answer_is_rfc6749_json() {
        let v: Value = serde_json::from_str(&token_response_body("a.b.c")).unwrap();
        assert_eq!(
            v,
            json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": "a.b.c"})
        );
    }
}
