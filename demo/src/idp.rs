//! The demo's authorization server, standing in for Microsoft Entra ID with the same paths: the
//! test kit's local IdP for the tenant of the registrations, publishing a key generated at
//! start, with the client credentials grant ([`crate::token_endpoint`]) as its token endpoint:
//!
//! - `POST /<tenant>/oauth2/v2.0/token`: the client credentials grant;
//! - `GET /<tenant>/v2.0/.well-known/openid-configuration`: OIDC discovery;
//! - `GET /<tenant>/discovery/v2.0/keys`: the JWKS with the signing key.
//!
//! Its issuer is `http://127.0.0.1:<port>/<tenant>/v2.0`: the server is its own issuer, so
//! the discovery document's `issuer` is exactly the URL it was fetched from without the
//! `/.well-known/openid-configuration` suffix (OIDC Discovery 1.0 §4.3), and every URL in it
//! can be fetched. Entra's is `https://login.microsoftonline.com/<tenant>/v2.0`; only the
//! host differs.

use crate::access_token;
use crate::oauth_error::{ErrorCode, OAuthError};
use crate::registrations::Registrations;
use crate::token_endpoint;
use rolegate_testkit::http::{Request, Response};
use rolegate_testkit::jwks::key_set;
use rolegate_testkit::SigningKey;
use serde_json::json;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

/// Modulus size of the generated key.
pub const KEY_BITS: usize = 2048;

/// A running authorization server; stopped when dropped.
pub struct Idp {
    registrations: Arc<Registrations>,
    server: rolegate_testkit::Idp,
}

impl Idp {
    /// Generates the signing key (nothing private is stored), binds `addr` (port 0: a free
    /// port) and starts serving.
    pub fn start(registrations: Registrations, addr: SocketAddr) -> Result<Idp, String> {
        let key = Arc::new(SigningKey::generate(KEY_BITS)?);
        let registrations = Arc::new(registrations);
        let server = rolegate_testkit::Idp::serve(&registrations.tenant_id, addr)?;
        // As Entra publishes it: the thumbprint as `kid`, the key's `issuer`, no `alg`.
        let mut jwk = key.public_jwk(&key.thumbprint());
        if let Some(members) = jwk.as_object_mut() {
            members.insert("issuer".into(), json!(server.issuer()));
        }
        server.set_jwks(key_set(vec![jwk]));
        let grant_registrations = Arc::clone(&registrations);
        server.set_token_endpoint(Arc::new(move |request: &Request, issuer: &str| {
            token(request, issuer, &grant_registrations, &key)
        }));
        Ok(Idp {
            registrations,
            server,
        })
    }

    pub fn registrations(&self) -> &Registrations {
        &self.registrations
    }

    /// Serves until the process ends.
    pub fn run_forever(self) {
        self.server.run_forever();
    }
}

/// Everything else is the test kit's IdP: its port, its URLs (its issuer, on 127.0.0.1, is the
/// `iss` of every token) and the requests it served.
impl Deref for Idp {
    type Target = rolegate_testkit::Idp;

    fn deref(&self) -> &rolegate_testkit::Idp {
        &self.server
    }
}

/// The token endpoint: a token for the client the request authenticates, or an RFC 6749 §5.2
/// error.
fn token(
    request: &Request,
    issuer: &str,
    registrations: &Registrations,
    key: &SigningKey,
) -> Response {
    let issued = token_endpoint::authorize(request, registrations).and_then(|client| {
        access_token::issue(key, issuer, registrations, client)
            .map_err(|e| OAuthError::new(ErrorCode::InvalidRequest, e))
    });
    match issued {
        Ok(token) => Response::new(
            200,
            "application/json; charset=utf-8",
            access_token::token_response_body(&token),
        )
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache"),
        Err(error) => error.to_response(),
    }
}
