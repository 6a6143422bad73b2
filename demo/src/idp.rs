//! The demo's authorization server, standing in for Microsoft Entra ID with the same paths:
//!
//! - `POST /<tenant>/oauth2/v2.0/token`: the client credentials grant ([`crate::token_endpoint`]);
//! - `GET /<tenant>/v2.0/.well-known/openid-configuration`: OIDC discovery;
//! - `GET /<tenant>/discovery/v2.0/keys`: the JWKS with the signing key.
//!
//! Its issuer is `http://127.0.0.1:<port>/<tenant>/v2.0`: the server is its own issuer, so
//! the discovery document's `issuer` is exactly the URL it was fetched from without the
//! `/.well-known/openid-configuration` suffix (OIDC Discovery 1.0 §4.3), and every URL in it
//! can be fetched. Entra's is `https://login.microsoftonline.com/<tenant>/v2.0`; only the
//! host differs.

use crate::access_token;
use crate::http_message::{Request, Response};
use crate::http_server::{Handler, Server};
use crate::oauth_error::{ErrorCode, OAuthError};
use crate::registrations::Registrations;
use crate::signing_key::SigningKey;
use crate::token_endpoint;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

/// A request the server answered, for the tutorial to show.
#[derive(Debug, Clone)]
pub struct Served {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub user_agent: String,
}

pub struct Idp {
    registrations: Registrations,
    key: SigningKey,
    port: u16,
    base_url: String,
    served: Mutex<VecDeque<Served>>,
}

/// How many answered requests [`Idp::served`] remembers.
const SERVED_KEPT: usize = 100;

/// A running authorization server; stopped when dropped.
pub struct RunningIdp {
    pub idp: Arc<Idp>,
    pub server: Server,
}

impl Idp {
    /// Generates the signing key, binds `addr` (port 0: a free port) and starts serving.
    pub fn start(registrations: Registrations, addr: SocketAddr) -> Result<RunningIdp, String> {
        let key = SigningKey::generate()?;
        let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        let bound = listener
            .local_addr()
            .map_err(|e| format!("bind {addr}: {e}"))?;
        let idp = Arc::new(Idp {
            registrations,
            key,
            port: bound.port(),
            base_url: format!("http://{bound}"),
            served: Mutex::new(VecDeque::new()),
        });
        let handler_idp = Arc::clone(&idp);
        let handler: Handler = Arc::new(move |request: &Request| handler_idp.handle(request));
        let server = Server::serve(listener, handler).map_err(|e| format!("serve {bound}: {e}"))?;
        Ok(RunningIdp { idp, server })
    }

    pub fn registrations(&self) -> &Registrations {
        &self.registrations
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn tenant(&self) -> &str {
        &self.registrations.tenant_id
    }

    /// `http://127.0.0.1:<port>/<tenant>/v2.0`: the `iss` of every token.
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.base_url, self.tenant())
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.base_url, self.tenant())
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/{}/discovery/v2.0/keys", self.base_url, self.tenant())
    }

    /// The last requests answered, oldest first.
    pub fn served(&self) -> Vec<Served> {
        self.served
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Answers one request.
    pub fn handle(&self, request: &Request) -> Response {
        let response = self.route(request);
        if let Ok(mut served) = self.served.lock() {
            if served.len() >= SERVED_KEPT {
                served.pop_front();
            }
            served.push_back(Served {
                method: request.method.clone(),
                path: request.path().to_string(),
                status: response.status,
                user_agent: request.header("user-agent").unwrap_or("-").to_string(),
            });
        }
        response
    }

    fn route(&self, request: &Request) -> Response {
        let path = request.path();
        let Some((tenant, endpoint)) = path.strip_prefix('/').and_then(|p| p.split_once('/'))
        else {
            return not_found();
        };
        let (allowed, answer): (&str, fn(&Idp, &Request) -> Response) = match endpoint {
            "oauth2/v2.0/token" => ("POST", Idp::token),
            "v2.0/.well-known/openid-configuration" => ("GET", Idp::discovery),
            "discovery/v2.0/keys" => ("GET", Idp::keys),
            _ => return not_found(),
        };
        if request.method != allowed {
            return Response::json(
                405,
                &json!({"error": "invalid_request", "error_description": format!("use {allowed}")}),
            )
            .with_header("allow", allowed);
        }
        if tenant != self.tenant() {
            return unknown_tenant(tenant, endpoint);
        }
        answer(self, request)
    }

    fn token(&self, request: &Request) -> Response {
        let issued = token_endpoint::authorize(request, &self.registrations).and_then(|client| {
            access_token::issue(&self.key, &self.issuer(), &self.registrations, client)
                .map_err(|e| OAuthError::new(ErrorCode::InvalidRequest, e))
        });
        match issued {
            Ok(token) => Response {
                status: 200,
                headers: Vec::new(),
                body: access_token::token_response_body(&token).into_bytes(),
            }
            .with_header("content-type", "application/json; charset=utf-8")
            .with_header("cache-control", "no-store")
            .with_header("pragma", "no-cache"),
            Err(error) => error.to_response(),
        }
    }

    /// The OpenID Provider metadata; only what a client credentials server has.
    pub fn discovery_document(&self) -> Value {
        json!({
            "issuer": self.issuer(),
            "token_endpoint": self.token_url(),
            "jwks_uri": self.jwks_url(),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["pairwise"],
        })
    }

    fn discovery(&self, _: &Request) -> Response {
        Response::json(200, &self.discovery_document())
            .with_header("cache-control", "max-age=86400, private")
    }

    fn keys(&self, _: &Request) -> Response {
        Response::json(200, &json!({"keys": [self.key.public_jwk(&self.issuer())]}))
            .with_header("cache-control", "max-age=86400, private")
    }
}

fn not_found() -> Response {
    Response::json(
        404,
        &json!({"error": "not_found", "error_description": "no such endpoint"}),
    )
}

fn unknown_tenant(tenant: &str, endpoint: &str) -> Response {
    let description = format!("tenant '{tenant}' not found");
    if endpoint == "oauth2/v2.0/token" {
        OAuthError::new(ErrorCode::InvalidRequest, description).to_response()
    } else {
        Response::json(
            400,
            &json!({"error": "invalid_tenant", "error_description": description}),
        )
    }
}
