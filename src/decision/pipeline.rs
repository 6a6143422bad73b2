//! The decision itself: rule, token, key, signature, claims, roles, in that order.

use super::allow::Allow;
use super::claim_condition::first_failing;
use super::denial::{denial, Denial, DenyReason};
use super::outcome::{deny, Outcome};
use super::request_headers::RequestHeaders;
use super::rule_selection::match_rule;
use super::rules::{Requirement, Rule};
use crate::config::{Config, Provider};
use crate::crypto::rs256::{PureRust, SignatureVerifier};
use crate::keys::jwks::KeyLookup;
use crate::keys::key_wait::{WaitPermission, WaitReason};
use crate::keys::provider_keys::{keys_too_old, KeySetState, ProviderKeys};
use crate::request::extract::{self, Extracted};
use crate::token;
use crate::token::claims::{self, LifetimeError, TokenFacts};
use crate::token::verified_token_cache::{KeyName, TokenKey, VerifiedToken, VerifiedTokenCache};
use serde_json::Value;
use std::rc::Rc;

const NO_KEYS: &str = "signing keys are not available yet";
pub const REQUIRED_CLAIM: &str = "token lacks a claim its provider requires";
pub const RULE_CLAIM: &str = "token lacks a claim this resource requires";

const UNKNOWN_KID: &str = "token signing key is unknown";
pub(super) const STALE_KEYS: &str = "signing keys are out of date";

/// Header values never carry quotes, backslashes or control characters from the request.
fn sanitized_realm(host: Option<String>) -> String {
    host.unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(255)
        .collect()
}

/// What a decision draws on besides the configuration and the request.
pub struct Environment<'a> {
    pub keys: &'a dyn ProviderKeys,
    pub verifier: &'a dyn SignatureVerifier,
    /// Verified tokens of this worker; `None` verifies every token afresh.
    pub cache: Option<&'a VerifiedTokenCache>,
    /// Unix seconds.
    pub now: i64,
    pub wait: WaitPermission,
}

/// [`decide_with`] with pure-Rust crypto and no token cache: what the CLI and tests/ decide
/// with. `now` is Unix seconds.
pub fn decide<'c>(
    config: &'c Config,
    request: &dyn RequestHeaders,
    keys: &dyn ProviderKeys,
    now: i64,
    wait: WaitPermission,
) -> Outcome<'c> {
    let env = Environment {
        keys,
        verifier: &PureRust,
        cache: None,
        now,
        wait,
    };
    decide_with(config, request, &env)
}

/// The one decision entry point: rule, token, key, signature, audience, lifetime, roles.
pub fn decide_with<'c>(
    config: &'c Config,
    request: &dyn RequestHeaders,
    env: &Environment<'_>,
) -> Outcome<'c> {
    let index = match match_rule(config, request) {
        Ok(Some(index)) => index,
        Ok(None) => return deny(DenyReason::NoRule, "no rule allows this request"),
        Err(denial) => return Outcome::Deny(denial),
    };
    let Some(rule) = config.rules.get(index) else {
        return deny(DenyReason::NoRule, "no rule allows this request");
    };
    decide_under(config, index, rule, request, env).map_denial(|denial| Denial {
        rule: Some(index),
        ..denial
    })
}

/// The decision once rule `index` matched.
fn decide_under<'c>(
    config: &'c Config,
    index: usize,
    rule: &Rule,
    request: &dyn RequestHeaders,
    env: &Environment<'_>,
) -> Outcome<'c> {
    let anonymous = Allow::without_token(config, index);
    if rule.requirement == Requirement::Anonymous {
        return Outcome::Allow(anonymous);
    }

    let token = match extract::extract(&config.from_headers, |n| request.header_bytes(n)) {
        Extracted::Token { token, .. } => token,
        // allow_missing: no token is fine; a token that is there must be valid (below).
        Extracted::Missing | Extracted::OtherScheme
            if rule.requirement == Requirement::TokenIfPresent =>
        {
            return Outcome::Allow(anonymous);
        }
        Extracted::Missing | Extracted::OtherScheme => {
            return Outcome::Deny(Denial {
                reason: DenyReason::Missing,
                description: "a Bearer token is required",
                realm: Some(sanitized_realm(request.header(":authority"))),
                rule: None,
                condition: None,
                provider: None,
                client_id: None,
            })
        }
    };

    // A token over the size limit is refused below; it is not worth hashing.
    let cache_key = env
        .cache
        .filter(|_| token.len() <= config.max_token_bytes)
        .and_then(|cache| Some((cache, cache.key(&token)?)));
    if let Some(outcome) = cache_key
        .as_ref()
        .and_then(|(cache, key)| cached_outcome(config, index, rule, cache, key, env))
    {
        return outcome;
    }

    verify_and_admit(config, index, rule, &token, cache_key.as_ref(), env)
}

/// The decision for a token the cache holds, if it still counts as verified.
// Not inlined: see "Function size" in lib.rs (the hot path, one call more).
#[inline(never)]
fn cached_outcome<'c>(
    config: &'c Config,
    index: usize,
    rule: &Rule,
    cache: &VerifiedTokenCache,
    key: &TokenKey<'_>,
    env: &Environment<'_>,
) -> Option<Outcome<'c>> {
    cache.with(
        key,
        |entry| still_verified(entry, env.keys, env.now),
        |entry| admit(config, index, rule, entry.provider, &entry.facts, env.now),
    )
}

/// A token the cache did not answer for: verified, admitted, and filed in the cache when its
/// lifetime holds.
// Not inlined: see "Function size" in lib.rs (the cold path, one call more).
#[inline(never)]
fn verify_and_admit<'c>(
    config: &'c Config,
    index: usize,
    rule: &Rule,
    token: &[u8],
    cache_key: Option<&(&VerifiedTokenCache, TokenKey<'_>)>,
    env: &Environment<'_>,
) -> Outcome<'c> {
    // Bytes that are not text stay not base64url after the replacement: the parser refuses
    // them in its usual order (length first).
    let text = String::from_utf8_lossy(token);
    let verified = match verify(config, &text, env) {
        Ok(verified) => verified,
        Err(outcome) => return outcome,
    };
    let outcome = admit(
        config,
        index,
        rule,
        verified.provider,
        &verified.facts,
        env.now,
    );
    let lifetime_ok = !matches!(
        &outcome,
        Outcome::Deny(d) if matches!(d.reason, DenyReason::Expired | DenyReason::NotYetValid | DenyReason::BadTimeClaim)
    );
    if let (Some((cache, key)), true) = (cache_key, lifetime_ok) {
        cache.insert(key, verified);
    }
    outcome
}

/// A cached token stays verified while its provider's keys are unchanged, or still hold the
/// very key that verified it under the same name. Returns the generation to re-stamp.
fn still_verified(entry: &VerifiedToken, keys: &dyn ProviderKeys, now: i64) -> Option<u64> {
    if keys_too_old(keys, entry.provider, now) {
        return None;
    }
    let generation = keys.generation(entry.provider);
    if generation == entry.generation {
        return Some(generation);
    }
    let KeySetState::Ready(set) = keys.keys(entry.provider) else {
        return None;
    };
    let name = &entry.key;
    match set.lookup(name.kid.as_deref(), name.x5t.as_deref()) {
        KeyLookup::Found(key) if key.fingerprint() == &name.fingerprint => Some(generation),
        _ => None,
    }
}

/// Structure, issuer, key, signature and audience: everything about a token that does not
/// change with the clock or the route.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn verify(
    config: &Config,
    token: &str,
    env: &Environment<'_>,
) -> Result<VerifiedToken, Outcome<'static>> {
    let parsed = token::parse(token, config.max_token_bytes)
        .map_err(|e| deny(DenyReason::Malformed, e.description()))?;
    let provider_index = parsed
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|iss| config.provider_for_issuer(iss))
        .ok_or_else(|| deny(DenyReason::Issuer, "token issuer is not trusted"))?;
    let provider = config
        .providers
        .get(provider_index)
        .ok_or_else(|| deny(DenyReason::Issuer, "token issuer is not trusted"))?;

    let key_fingerprint =
        verify_with_key(provider, provider_index, &parsed, env).map_err(|outcome| {
            outcome.map_denial(|denial| Denial {
                provider: Some(provider_index),
                ..denial
            })
        })?;
    Ok(VerifiedToken {
        provider: provider_index,
        generation: env.keys.generation(provider_index),
        key: Rc::new(KeyName {
            kid: parsed.kid.map(Box::from),
            x5t: parsed.x5t.map(Box::from),
            fingerprint: key_fingerprint,
        }),
        facts: TokenFacts::from_claims(
            &parsed.claims,
            &config.roles_claim,
            config.claim_to_headers.iter().map(|c| c.claim.as_str()),
            &config.claim_slots,
        ),
    })
}

/// Key, signature, tenant and audience of a token whose issuer names `provider`; when all
/// hold, the fingerprint of the key that verified it.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn verify_with_key(
    provider: &Provider,
    provider_index: usize,
    parsed: &token::UnverifiedToken<'_>,
    env: &Environment<'_>,
) -> Result<[u8; 32], Outcome<'static>> {
    let key_set = match env.keys.keys(provider_index) {
        KeySetState::Ready(set) => set,
        KeySetState::Pending if env.wait.for_first_keys => {
            return Err(Outcome::WaitForKeys {
                provider: provider_index,
                reason: WaitReason::FirstKeys,
                otherwise: denial(DenyReason::NoKeys, NO_KEYS),
            })
        }
        KeySetState::Pending | KeySetState::Unavailable => {
            return Err(deny(DenyReason::NoKeys, NO_KEYS))
        }
    };
    // Kept keys that outlived max_stale_seconds may include one the IdP has withdrawn.
    if keys_too_old(env.keys, provider_index, env.now) {
        return Err(deny(DenyReason::NoKeys, STALE_KEYS));
    }
    let key = match key_set.lookup(parsed.kid.as_deref(), parsed.x5t.as_deref()) {
        KeyLookup::Found(key) => key,
        KeyLookup::NotFound if env.wait.for_refetch => {
            return Err(Outcome::WaitForKeys {
                provider: provider_index,
                reason: WaitReason::UnknownKid,
                otherwise: denial(DenyReason::UnknownKid, UNKNOWN_KID),
            })
        }
        KeyLookup::NotFound => return Err(deny(DenyReason::UnknownKid, UNKNOWN_KID)),
        KeyLookup::Unusable(_) => {
            return Err(deny(
                DenyReason::WeakKey,
                "token signing key is not usable for RS256",
            ))
        }
    };
    if !env
        .verifier
        .verify(key, parsed.signing_input.as_bytes(), &parsed.signature)
    {
        return Err(deny(DenyReason::Signature, "token signature is invalid"));
    }
    // The tenant before the audience: a denial for the audience names the client, which is
    // only the issuer's word once the issuer (here, its tenant) is one this provider trusts.
    if let Some(tenants) = &provider.tenant_issuers {
        let iss = parsed.claims.get("iss").and_then(Value::as_str);
        let tid = parsed.claims.get("tid").and_then(Value::as_str);
        if !iss.is_some_and(|iss| tenants.admits(iss, tid)) {
            return Err(deny(DenyReason::Issuer, "token issuer is not trusted"));
        }
    }
    if !claims::audience_allowed(&parsed.claims, &provider.audiences) {
        // The signature is good: the client id is the issuer's word.
        return Err(Outcome::Deny(Denial {
            client_id: claims::client_id(&parsed.claims).map(Rc::from),
            ..denial(DenyReason::Audience, "token audience is not accepted")
        }));
    }
    Ok(*key.fingerprint())
}

/// What is checked on every use of a verified token: its lifetime now, and the rule's roles.
/// Denials name the provider and the client: the signature was found good.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn admit<'c>(
    config: &'c Config,
    index: usize,
    rule: &Rule,
    provider: usize,
    facts: &TokenFacts,
    now: i64,
) -> Outcome<'c> {
    if let Some(refused) = refusal(config, rule, provider, facts, now) {
        return Outcome::Deny(Denial {
            provider: Some(provider),
            client_id: facts.client_id.clone(),
            ..refused
        });
    }
    // A header that gets a verified value is replaced, which drops any client-sent copy; only
    // claim headers without a value must be removed explicitly. One host call per header.
    Outcome::Allow(Allow {
        rule: index,
        provider: Some(provider),
        client_id: facts.client_id.clone(),
        claim_headers: &config.claim_to_headers,
        values: Some(Rc::clone(&facts.header_values)),
        token_headers: if config.forward {
            &[]
        } else {
            &config.token_headers
        },
    })
}

/// The first check a verified token fails now: lifetime, the provider's required claims, the
/// rule's roles, the rule's claims.
fn refusal(
    config: &Config,
    rule: &Rule,
    provider: usize,
    facts: &TokenFacts,
    now: i64,
) -> Option<Denial> {
    let lifetime = facts
        .lifetime
        .and_then(|l| l.check(now, config.clock_skew_seconds));
    match lifetime {
        Ok(()) => {}
        Err(LifetimeError::Expired) => return Some(denial(DenyReason::Expired, "token expired")),
        Err(LifetimeError::NotYetValid) => {
            return Some(denial(DenyReason::NotYetValid, "token is not valid yet"))
        }
        Err(LifetimeError::ExpMissingOrInvalid) => {
            return Some(denial(
                DenyReason::BadTimeClaim,
                "token exp is missing or not a NumericDate",
            ))
        }
        Err(LifetimeError::NbfInvalid) => {
            return Some(denial(
                DenyReason::BadTimeClaim,
                "token nbf is not a NumericDate",
            ))
        }
    }
    let required = config
        .providers
        .get(provider)
        .map_or(&[][..], |p| &p.required_claims);
    if let Some(failed) = first_failing(required, &facts.claim_texts) {
        return Some(Denial {
            condition: Some(failed),
            ..denial(DenyReason::RequiredClaim, REQUIRED_CLAIM)
        });
    }
    if let Requirement::Roles { roles, require_all } = &rule.requirement {
        if !claims::roles_satisfied(&facts.roles, roles, *require_all) {
            return Some(denial(DenyReason::Role, "token lacks a required role"));
        }
    }
    first_failing(&rule.claims, &facts.claim_texts).map(|failed| Denial {
        condition: Some(failed),
        ..denial(DenyReason::Claim, RULE_CLAIM)
    })
}
