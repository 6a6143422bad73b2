// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! What the decision's tests share: a real Entra token, its keys and provider, and requests
//! and key sets shaped for them.

use super::*;
use crate::config::Config;
use crate::crypto::rs256::Rs256Key;
use crate::crypto::rs256::{PureRust, SignatureVerifier};
use crate::keys::jwks::KeySet;
use crate::token::verified_token_cache::VerifiedTokenCache;
use std::cell::Cell;

pub(super) const TOKEN: &str =
    include_str!("../../tests/vectors/azure-real/nav-pensjonskalkulator-v2-app-roles.jwt");
pub(super) const KEYS_WITH_KID: &str =
    include_str!("../../tests/vectors/azure-real/entra-common-jwks-2024-09-03.json");
pub(super) const KEYS_WITHOUT_KID: &str =
    include_str!("../../tests/vectors/azure-real/entra-common-jwks-2024-06-24.json");
pub(super) const ISSUER: &str =
    "https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/v2.0";
pub(super) const AUDIENCE: &str = "f407babd-8d0f-4afc-a6e7-46f28612670b";
/// Between the token's nbf (1725265453) and exp (1725269353).
pub(super) const DURING: i64 = 1_725_266_000;

pub(super) struct Request(pub(super) String);

impl RequestHeaders for Request {
    fn header(&self, name: &str) -> Option<String> {
        match name {
            ":method" => Some("GET".into()),
            ":path" => Some("/calc/v1/add/1/1".into()),
            ":authority" => Some("api".into()),
            "authorization" => Some(format!("Bearer {}", self.0)),
            _ => None,
        }
    }
}

/// Keys whose set and generation a test can swap, as a refresh would.
pub(super) struct SwappableKeys {
    pub(super) set: KeySet,
    pub(super) generation: u64,
}

impl ProviderKeys for SwappableKeys {
    fn keys(&self, _: usize) -> KeySetState<'_> {
        KeySetState::Ready(&self.set)
    }
    fn generation(&self, _: usize) -> u64 {
        self.generation
    }
}

#[derive(Default)]
pub(super) struct CountingVerifier(pub(super) Cell<usize>);

impl SignatureVerifier for CountingVerifier {
    fn verify(&self, key: &Rs256Key, message: &[u8], signature: &[u8]) -> bool {
        self.0.set(self.0.get() + 1);
        key.verify(message, signature)
    }
}

pub(super) fn config() -> Config {
    let text = format!(
        r#"{{"providers":[{{"name":"aad","issuer":"{ISSUER}","audiences":["{AUDIENCE}"],
            "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}}}}],
            "claim_to_headers":[{{"claim":"azp","header":"x-client-id"}}],
            "rules":[{{"match":{{"prefix":"/calc/"}},"roles":["access_as_application"]}}]}}"#
    );
    Config::parse(text.as_bytes()).expect("config")
}

pub(super) fn keys(text: &str, generation: u64) -> SwappableKeys {
    SwappableKeys {
        set: KeySet::parse(text.as_bytes()).expect("key set"),
        generation,
    }
}

pub(super) fn run<'c>(
    config: &'c Config,
    token: &str,
    keys: &SwappableKeys,
    verifier: &CountingVerifier,
    cache: &VerifiedTokenCache,
    now: i64,
) -> Result<Allow<'c>, DenyReason> {
    let env = Environment {
        keys,
        verifier,
        cache: Some(cache),
        now,
        wait: WaitPermission::default(),
    };
    match decide_with(config, &Request(token.trim().to_string()), &env) {
        Outcome::Allow(allow) => Ok(allow),
        Outcome::Deny(d) => Err(d.reason),
        Outcome::WaitForKeys { .. } => Err(DenyReason::NoKeys),
    }
}

/// A request with a chosen `:authority` and token (or none).
pub(super) struct Addressed {
    pub(super) authority: &'static str,
    pub(super) token: Option<&'static str>,
}

impl RequestHeaders for Addressed {
    fn header(&self, name: &str) -> Option<String> {
        match name {
            ":method" => Some("GET".into()),
            ":path" => Some("/calc/v1/add/1/1".into()),
            ":authority" => Some(self.authority.into()),
            "authorization" => self.token.map(|t| format!("Bearer {}", t.trim())),
            _ => None,
        }
    }
}

pub(super) const AZP: &str = "5f28c10f-ecd5-45ef-96b8-db4311802e89";
pub(super) const TID: &str = "966ac572-f5b7-4bbe-aa88-c76419c0f851";

/// The real token's provider (local keys stand in for any source) with `provider_extra`
/// fields, and `rules`.
pub(super) fn policy(provider_extra: &str, rules: &str) -> Config {
    let text = format!(
        r#"{{"providers":[{{"name":"aad","issuer":"{ISSUER}","audiences":["{AUDIENCE}"],
            "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}}{provider_extra}}}],
            "claim_to_headers":[{{"claim":"azp","header":"x-client-id"}}],
            "rules":{rules}}}"#
    );
    Config::parse(text.as_bytes()).expect("config")
}

/// (rule index, verified) of an allow, or the denial's reason and failing claim entry.
pub(super) type Decided = Result<(usize, bool), (DenyReason, Option<usize>)>;

pub(super) fn outcome_of(config: &Config, request: &dyn RequestHeaders) -> Decided {
    let keys = keys(KEYS_WITH_KID, 1);
    let cache = VerifiedTokenCache::with_fixed_key(10);
    let env = Environment {
        keys: &keys,
        verifier: &PureRust,
        cache: Some(&cache),
        now: DURING,
        wait: WaitPermission::default(),
    };
    // Twice: the second answer comes from the token cache and must be the same.
    let mut answers = (0..2).map(|_| match decide_with(config, request, &env) {
        Outcome::Allow(allow) => Ok((allow.rule, allow.verified())),
        Outcome::Deny(d) => Err((d.reason, d.condition)),
        Outcome::WaitForKeys { .. } => Err((DenyReason::NoKeys, None)),
    });
    let first = answers.next().expect("first");
    assert_eq!(
        answers.next().expect("second"),
        first,
        "cached answer differs"
    );
    first
}

pub(super) fn with_token() -> Addressed {
    Addressed {
        authority: "api",
        token: Some(TOKEN),
    }
}

/// A request with no token and the given path.
pub(super) struct Anonymous(pub(super) &'static str);

impl RequestHeaders for Anonymous {
    fn header(&self, name: &str) -> Option<String> {
        (name == ":path").then(|| self.0.to_string())
    }
}

pub(super) fn path_config(screening: &str) -> Config {
    let text = format!(
        r#"{{"providers":[{{"name":"aad","issuer":"{ISSUER}","audiences":["{AUDIENCE}"],
            "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}}}}],
            "path_screening":"{screening}",
            "rules":[{{"match":{{"path_separated_prefix":"/healthz"}},"allow_anonymous":true}},
                     {{"match":{{"path_separated_prefix":"/calc"}},"roles":["invokeRole"]}},
                     {{"match":{{"path_separated_prefix":"/public"}},"allow_anonymous":true}},
                     {{"match":{{"prefix":"/"}},"roles":["admin"]}}]}}"#
    );
    Config::parse(text.as_bytes()).expect("config")
}
