//! The request decision: rule, token, key, signature, claims, roles, in that order.
//!
//! Pure: the host supplies headers, keys and the clock, and carries out the outcome.

use crate::claims::{self, LifetimeError};
use crate::config::Config;
use crate::extract::{self, Extracted};
use crate::jwks::{KeyLookup, KeySet};
use crate::rules::{self, Requirement};
use crate::token::{self, TokenError};
use serde_json::Value;

/// Request headers as the host sees them (pseudo-headers included: `:path`, `:method`,
/// `:authority`). Only the ones the decision needs are asked for.
pub trait RequestHeaders {
    fn header(&self, name: &str) -> Option<String>;
}

/// The state of one provider's key set.
pub enum Keys<'a> {
    Ready(&'a KeySet),
    /// The first fetch has not finished yet: worth waiting for.
    Pending,
    /// No key set was ever obtained and fetching has failed: answer 503 at once.
    Unavailable,
}

pub trait KeyStore {
    fn keys(&self, provider: usize) -> Keys<'_>;
}

/// What the host may do instead of answering at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitPermission {
    /// Hold the request until the first key set arrives.
    pub for_first_keys: bool,
    /// Hold the request while the key set is fetched again for an unknown `kid`.
    pub for_refetch: bool,
}

/// Metric-friendly reason for a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    NoRule,
    Missing,
    Malformed,
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    UnknownKid,
    WeakKey,
    Role,
    NoKeys,
}

impl DenyReason {
    pub const ALL: [DenyReason; 12] = [
        DenyReason::NoRule,
        DenyReason::Missing,
        DenyReason::Malformed,
        DenyReason::Signature,
        DenyReason::Expired,
        DenyReason::NotYetValid,
        DenyReason::Issuer,
        DenyReason::Audience,
        DenyReason::UnknownKid,
        DenyReason::WeakKey,
        DenyReason::Role,
        DenyReason::NoKeys,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DenyReason::NoRule => "no_rule",
            DenyReason::Missing => "missing",
            DenyReason::Malformed => "malformed",
            DenyReason::Signature => "signature",
            DenyReason::Expired => "expired",
            DenyReason::NotYetValid => "not_yet_valid",
            DenyReason::Issuer => "issuer",
            DenyReason::Audience => "audience",
            DenyReason::UnknownKid => "unknown_kid",
            DenyReason::WeakKey => "weak_key",
            DenyReason::Role => "role",
            DenyReason::NoKeys => "no_keys",
        }
    }
}

/// A refusal, before it is turned into an HTTP answer (see `reply`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub reason: DenyReason,
    /// Short, fixed text: it goes into a header, so it never echoes request content.
    pub description: &'static str,
    /// For `WWW-Authenticate: Bearer realm=...` on a missing token.
    pub realm: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allow {
    /// Removed first: client-sent copies of claim headers, and the token unless forwarded.
    pub remove_headers: Vec<String>,
    pub add_headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allow(Allow),
    Deny(Denial),
    /// Hold the request until this provider's keys change, then decide again; if the host
    /// cannot hold it, answer `otherwise`.
    WaitForKeys {
        provider: usize,
        reason: WaitReason,
        otherwise: Denial,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// No key set yet; the first fetch is under way.
    FirstKeys,
    /// The token's `kid` is not in the key set: it may have just been rotated in.
    UnknownKid,
}

fn denial(reason: DenyReason, description: &'static str) -> Denial {
    Denial {
        reason,
        description,
        realm: None,
    }
}

fn deny(reason: DenyReason, description: &'static str) -> Outcome {
    Outcome::Deny(denial(reason, description))
}

const NO_KEYS: &str = "signing keys are not available yet";
const UNKNOWN_KID: &str = "token signing key is unknown";

fn token_error_text(e: &TokenError) -> &'static str {
    match e {
        TokenError::TooLong => "token too long",
        TokenError::NotThreeSegments => "token is not a compact JWS",
        TokenError::BadBase64(_) => "token is not base64url",
        TokenError::NotJsonObject(_) => "token header or payload is not a JSON object",
        TokenError::AlgNotRs256 => "token alg is not RS256",
        TokenError::CritHeader => "token crit header is not supported",
        TokenError::BadKid => "token kid is not a string",
    }
}

/// Header values never carry quotes, backslashes or control characters from the request.
fn sanitized_realm(host: Option<String>) -> String {
    host.unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(255)
        .collect()
}

fn claim_header_removals(config: &Config) -> Vec<String> {
    config
        .claim_to_headers
        .iter()
        .map(|c| c.header.clone())
        .collect()
}

/// Decides one request. `now` is Unix seconds.
pub fn decide(
    config: &Config,
    request: &dyn RequestHeaders,
    keys: &dyn KeyStore,
    now: i64,
    wait: WaitPermission,
) -> Outcome {
    let method = request.header(":method").unwrap_or_default();
    let path = request.header(":path").unwrap_or_default();
    let Some(rule) = rules::first_match(&config.rules, &method, &path) else {
        return deny(DenyReason::NoRule, "no rule allows this request");
    };
    if rule.requirement == Requirement::Anonymous {
        return Outcome::Allow(Allow {
            remove_headers: claim_header_removals(config),
            add_headers: Vec::new(),
        });
    }

    let (token_header, token) = match extract::extract(&config.from_headers, |n| request.header(n))
    {
        Extracted::Token { header, token } => (header, token),
        Extracted::Missing | Extracted::OtherScheme => {
            return Outcome::Deny(Denial {
                reason: DenyReason::Missing,
                description: "a Bearer token is required",
                realm: Some(sanitized_realm(request.header(":authority"))),
            })
        }
    };

    let parsed = match token::parse(&token, config.max_token_bytes) {
        Ok(parsed) => parsed,
        Err(e) => return deny(DenyReason::Malformed, token_error_text(&e)),
    };
    let Some(provider_index) = parsed
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|iss| config.provider_for_issuer(iss))
    else {
        return deny(DenyReason::Issuer, "token issuer is not trusted");
    };
    let Some(provider) = config.providers.get(provider_index) else {
        return deny(DenyReason::Issuer, "token issuer is not trusted");
    };

    let key_set = match keys.keys(provider_index) {
        Keys::Ready(set) => set,
        Keys::Pending if wait.for_first_keys => {
            return Outcome::WaitForKeys {
                provider: provider_index,
                reason: WaitReason::FirstKeys,
                otherwise: denial(DenyReason::NoKeys, NO_KEYS),
            }
        }
        Keys::Pending | Keys::Unavailable => return deny(DenyReason::NoKeys, NO_KEYS),
    };
    let key = match key_set.lookup(parsed.kid.as_deref(), parsed.x5t.as_deref()) {
        KeyLookup::Found(key) => key,
        KeyLookup::NotFound if wait.for_refetch => {
            return Outcome::WaitForKeys {
                provider: provider_index,
                reason: WaitReason::UnknownKid,
                otherwise: denial(DenyReason::UnknownKid, UNKNOWN_KID),
            }
        }
        KeyLookup::NotFound => return deny(DenyReason::UnknownKid, UNKNOWN_KID),
        KeyLookup::Unusable(_) => {
            return deny(
                DenyReason::WeakKey,
                "token signing key is not usable for RS256",
            )
        }
    };
    if !key.verify(parsed.signing_input.as_bytes(), &parsed.signature) {
        return deny(DenyReason::Signature, "token signature is invalid");
    }

    let claims = &parsed.claims;
    match claims::check_lifetime(claims, now, config.clock_skew_seconds) {
        Ok(()) => {}
        Err(LifetimeError::Expired) => return deny(DenyReason::Expired, "token expired"),
        Err(LifetimeError::NotYetValid) => {
            return deny(DenyReason::NotYetValid, "token is not valid yet")
        }
        Err(LifetimeError::ExpMissingOrInvalid) => {
            return deny(
                DenyReason::Malformed,
                "token exp is missing or not a NumericDate",
            )
        }
        Err(LifetimeError::NbfInvalid) => {
            return deny(DenyReason::Malformed, "token nbf is not a NumericDate")
        }
    }
    if !claims::audience_allowed(claims, &provider.audiences) {
        return deny(DenyReason::Audience, "token audience is not accepted");
    }
    if let Requirement::Roles { roles, require_all } = &rule.requirement {
        let held = claims::roles(claims, &config.roles_claim);
        if !claims::roles_satisfied(&held, roles, *require_all) {
            return deny(DenyReason::Role, "token lacks a required role");
        }
    }

    let mut remove_headers = claim_header_removals(config);
    if !config.forward {
        remove_headers.push(token_header);
    }
    let add_headers = config
        .claim_to_headers
        .iter()
        .filter_map(|c| Some((c.header.clone(), claims::header_value(claims, &c.claim)?)))
        .collect();
    Outcome::Allow(Allow {
        remove_headers,
        add_headers,
    })
}
