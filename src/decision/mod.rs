//! The request decision: rule, token, key, signature, claims, roles, in that order.
//!
//! Pure: the host supplies headers, keys and the clock, and carries out the outcome.

pub mod claim_condition;
pub mod decision_record;
pub mod dry_run;
pub mod enforcement;
pub mod grpc_reply;
pub mod host_pattern;
pub mod reply;
pub mod rules;

use crate::config::{ClaimToHeader, Config, PathScreening, Provider};
use crate::crypto::rs256::{PureRust, SignatureVerifier};
use crate::decision::claim_condition::first_failing;
use crate::decision::rules::{RequestTarget, Requirement, Rule};
use crate::keys::jwks::{KeyLookup, KeySet};
use crate::request::extract::{self, Extracted};
use crate::request::path_screen;
use crate::token;
use crate::token::claims::{self, LifetimeError, TokenFacts};
use crate::token::verified_token_cache::{KeyName, VerifiedToken, VerifiedTokenCache};
use serde_json::Value;
use std::borrow::Cow;
use std::rc::Rc;

/// Request headers as the host sees them (pseudo-headers included: `:path`, `:method`,
/// `:authority`). Only the ones the decision needs are asked for.
pub trait RequestHeaders {
    fn header(&self, name: &str) -> Option<String>;

    /// The raw value, borrowed where the host can: a cached token is recognised without a
    /// copy and without checking that it is text.
    fn header_bytes(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.header(name).map(|text| Cow::Owned(text.into_bytes()))
    }

    /// Calls `each` with every header's name; false when the host cannot list them (then an
    /// allowed request that would need the list is refused: see [`Allow::apply`]).
    fn each_name(&self, _each: &mut dyn FnMut(&[u8])) -> bool {
        false
    }
}

/// A request built as a list of (name, value) pairs, the first of a name winning: what the
/// CLI, the tests and the fuzz targets decide on. Names are compared as given (lower case, as
/// Envoy hands them over).
impl<N: AsRef<str>, V: AsRef<str>> RequestHeaders for Vec<(N, V)> {
    fn header(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| v.as_ref().to_owned())
    }

    fn each_name(&self, each: &mut dyn FnMut(&[u8])) -> bool {
        self.iter()
            .for_each(|(name, _)| each(name.as_ref().as_bytes()));
        true
    }
}

/// The state of one provider's key set.
pub enum KeySetState<'a> {
    Ready(&'a KeySet),
    /// The first fetch has not finished yet: worth waiting for.
    Pending,
    /// No key set was ever obtained and fetching has failed: answer 503 at once.
    Unavailable,
}

/// Each configured provider's signing keys, by the provider's index in the configuration: what
/// the decision verifies with. A worker answers from its view of the shared key sets
/// (`WorkerKeySets`); the CLI and tests from key sets they were given.
pub trait ProviderKeys {
    fn keys(&self, provider: usize) -> KeySetState<'_>;

    /// Changes whenever the provider's key set does; cached tokens are re-checked then.
    fn generation(&self, _provider: usize) -> u64 {
        0
    }

    /// Unix seconds from which the provider's keys no longer verify (`max_stale_seconds` after
    /// the last successful fetch); `None`: no limit.
    fn usable_until(&self, _provider: usize) -> Option<i64> {
        None
    }
}

/// Whether the provider's keys have outlived `max_stale_seconds` at `now`.
fn keys_too_old(keys: &dyn ProviderKeys, provider: usize, now: i64) -> bool {
    keys.usable_until(provider)
        .is_some_and(|until| now >= until)
}

/// What the host may do instead of answering at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitPermission {
    /// Hold the request until the first key set arrives.
    pub for_first_keys: bool,
    /// Hold the request while the key set is fetched again for an unknown `kid`.
    pub for_refetch: bool,
}

/// Why a request was denied; each reason belongs to one stage of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The path is not in canonical form (see `path_screen`).
    Path,
    /// The authority's port changes which rule applies (see `host_pattern`).
    Host,
    NoRule,
    Missing,
    /// The token does not parse: structure, encoding, `alg`, `crit`, size.
    Malformed,
    /// A verified token whose `exp` or `nbf` is not a NumericDate (counted as `malformed`).
    BadTimeClaim,
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    UnknownKid,
    WeakKey,
    Role,
    /// A provider's `required_claims` entry does not hold (401, counted as `claim`).
    RequiredClaim,
    /// A rule's `claims` entry does not hold (403, counted as `claim`).
    Claim,
    NoKeys,
    /// The request's headers could not be changed as an allowed request needs.
    Internal,
}

impl DenyReason {
    pub const ALL: [DenyReason; 18] = [
        DenyReason::Path,
        DenyReason::Host,
        DenyReason::NoRule,
        DenyReason::Missing,
        DenyReason::Malformed,
        DenyReason::BadTimeClaim,
        DenyReason::Signature,
        DenyReason::Expired,
        DenyReason::NotYetValid,
        DenyReason::Issuer,
        DenyReason::Audience,
        DenyReason::UnknownKid,
        DenyReason::WeakKey,
        DenyReason::Role,
        DenyReason::RequiredClaim,
        DenyReason::Claim,
        DenyReason::NoKeys,
        DenyReason::Internal,
    ];

    /// Whether a denial for this reason comes after the signature was checked and found good:
    /// only then do the token's claims deserve any trust.
    pub fn after_signature(self) -> bool {
        matches!(
            self,
            DenyReason::Audience
                | DenyReason::Expired
                | DenyReason::NotYetValid
                | DenyReason::BadTimeClaim
                | DenyReason::Role
                | DenyReason::RequiredClaim
                | DenyReason::Claim
        )
    }

    /// The metric name: `rolegate.denied.<name>`.
    pub fn name(self) -> &'static str {
        self.details().strip_prefix("rolegate_").unwrap_or_default()
    }

    /// Envoy's response code details of rolegate's answer: `rolegate_` and the metric name.
    /// One table for both, so they cannot drift apart.
    pub fn details(self) -> &'static str {
        match self {
            DenyReason::Path => "rolegate_path",
            DenyReason::Host => "rolegate_host",
            DenyReason::NoRule => "rolegate_no_rule",
            DenyReason::Missing => "rolegate_missing",
            DenyReason::Malformed | DenyReason::BadTimeClaim => "rolegate_malformed",
            DenyReason::Signature => "rolegate_signature",
            DenyReason::Expired => "rolegate_expired",
            DenyReason::NotYetValid => "rolegate_not_yet_valid",
            DenyReason::Issuer => "rolegate_issuer",
            DenyReason::Audience => "rolegate_audience",
            DenyReason::UnknownKid => "rolegate_unknown_kid",
            DenyReason::WeakKey => "rolegate_weak_key",
            DenyReason::Role => "rolegate_role",
            DenyReason::RequiredClaim | DenyReason::Claim => "rolegate_claim",
            DenyReason::NoKeys => "rolegate_no_keys",
            DenyReason::Internal => "rolegate_internal",
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
    /// The index of the rule that matched, if one did.
    pub rule: Option<usize>,
    /// For `RequiredClaim` and `Claim`: the index of the entry that failed, in the provider's
    /// `required_claims` or the rule's `claims`.
    pub condition: Option<usize>,
    /// The provider whose issuer the token names, once it was looked up.
    pub provider: Option<usize>,
    /// The token's client (`azp`/`appid`), only when its signature was found good.
    pub client_id: Option<Rc<str>>,
}

/// What an allowed request's headers become. Names are borrowed from the configuration and
/// values shared with the token cache: allowing a request copies neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow<'c> {
    /// The index of the rule that allowed the request.
    pub rule: usize,
    /// The verified token's provider; `None` when no token was verified (see `verified`).
    pub provider: Option<usize>,
    /// The verified token's client (`azp`/`appid`).
    pub client_id: Option<Rc<str>>,
    claim_headers: &'c [ClaimToHeader],
    /// The token's value for each claim header, by position; a header without one is removed,
    /// so a client cannot supply it. `None` for an anonymous request: all are removed.
    values: Option<Rc<[Option<Rc<str>>]>>,
    /// Every header a token may come in, removed unless `forward` is set; none for an
    /// anonymous request, which has no verified token to protect.
    token_headers: &'c [String],
}

impl<'c> Allow<'c> {
    /// A pass under rule `rule` with no accepted token: an anonymous rule, or a request that
    /// goes on only because a dry run recorded its denial. Every claim header is removed (so a
    /// client cannot supply one) and the token headers stay.
    pub fn without_token(config: &'c Config, rule: usize) -> Self {
        Allow {
            rule,
            provider: None,
            client_id: None,
            claim_headers: &config.claim_to_headers,
            values: None,
            token_headers: &[],
        }
    }

    /// Whether a token was verified (false for an anonymous rule or a dry-run pass): only a
    /// verified token has a provider.
    pub fn verified(&self) -> bool {
        self.provider.is_some()
    }

    fn claim_values(&self) -> impl Iterator<Item = (&'c str, Option<&Rc<str>>)> + '_ {
        self.claim_headers.iter().enumerate().map(|(i, c)| {
            let value = self.values.as_ref().and_then(|v| v.get(i)?.as_ref());
            (c.header.as_str(), value)
        })
    }

    /// Set, replacing every client-sent value of the same name.
    pub fn add_headers(&self) -> impl Iterator<Item = (&'c str, &Rc<str>)> + '_ {
        self.claim_values()
            .filter_map(|(name, value)| Some((name, value?)))
    }

    /// Removed: claim headers that get no verified value, and the token unless forwarded.
    pub fn remove_headers(&self) -> impl Iterator<Item = &'c str> + '_ {
        self.claim_values()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name)
            .chain(self.token_headers.iter().map(String::as_str))
    }
}

/// The request's header map, as far as an allowed request changes it.
pub trait HeaderEditor {
    /// Removes every value of `name`; false when the host refused.
    fn remove(&mut self, name: &str) -> bool;
    /// Replaces every value of `name` with `value`; false when the host refused.
    fn set(&mut self, name: &str, value: &str) -> bool;
}

/// A header change the host refused: the request must not go on with a client-sent claim
/// header or an unverified token still in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderChangeFailed<'c> {
    pub header: &'c str,
}

pub const HEADER_CHANGE_FAILED: &str = "request headers could not be changed";

impl HeaderChangeFailed<'_> {
    pub fn denial(&self) -> Denial {
        denial(DenyReason::Internal, HEADER_CHANGE_FAILED)
    }
}

impl<'c> Allow<'c> {
    /// Makes the header changes to `request`, removals first, then removes the underscore
    /// twins of every header changed; stops at the first change the host refuses.
    pub fn apply(
        &self,
        editor: &mut dyn HeaderEditor,
        request: &dyn RequestHeaders,
    ) -> Result<(), HeaderChangeFailed<'c>> {
        for header in self.remove_headers() {
            if !editor.remove(header) {
                return Err(HeaderChangeFailed { header });
            }
        }
        for (header, value) in self.add_headers() {
            if !editor.set(header, value) {
                return Err(HeaderChangeFailed { header });
            }
        }
        self.remove_underscore_twins(editor, request)
    }

    /// Every header this pass may set or remove: the claim headers, and the token headers
    /// when they go.
    fn changed_names(&self) -> impl Iterator<Item = &'c str> + '_ {
        let claim_headers = self.claim_headers;
        let token_headers = self.token_headers;
        claim_headers
            .iter()
            .map(|c| c.header.as_str())
            .chain(token_headers.iter().map(String::as_str))
    }

    /// CGI, WSGI and Rack upstreams read `x_client_id` as `HTTP_X_CLIENT_ID`, just as they
    /// read `x-client-id`, and Envoy passes names with underscores on by default
    /// (`headers_with_underscores_action: ALLOW`). So a client-sent header that names one
    /// rolegate changes, once `_` and `-` are read alike, goes too: otherwise a client could
    /// supply a claim header after all. When the host cannot list the request's headers, the
    /// request is refused rather than let through with a twin in place.
    fn remove_underscore_twins(
        &self,
        editor: &mut dyn HeaderEditor,
        request: &dyn RequestHeaders,
    ) -> Result<(), HeaderChangeFailed<'c>> {
        let Some(twinnable) = self.changed_names().find(|name| name.contains(['-', '_'])) else {
            return Ok(());
        };
        let mut twins: Vec<(String, &'c str)> = Vec::new();
        let listed = request.each_name(&mut |name| {
            if let Some(changed) = self.changed_names().find(|c| is_underscore_twin(name, c)) {
                // A twin of an ASCII name is ASCII.
                let text = String::from_utf8_lossy(name).into_owned();
                twins.push((text, changed));
            }
        });
        if !listed {
            return Err(HeaderChangeFailed { header: twinnable });
        }
        for (twin, changed) in twins {
            if !editor.remove(&twin) {
                return Err(HeaderChangeFailed { header: changed });
            }
        }
        Ok(())
    }
}

/// Whether the request header `name` is another spelling of `changed` once `_` and `-` are
/// read alike (and case is ignored), without being `changed` itself.
fn is_underscore_twin(name: &[u8], changed: &str) -> bool {
    let alike = |a: u8, b: u8| {
        a.eq_ignore_ascii_case(&b) || (matches!(a, b'-' | b'_') && matches!(b, b'-' | b'_'))
    };
    name.len() == changed.len()
        && name != changed.as_bytes()
        && name.iter().zip(changed.bytes()).all(|(&a, b)| alike(a, b))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'c> {
    Allow(Allow<'c>),
    Deny(Denial),
    /// Hold the request until this provider's keys change, then decide again; if the host
    /// cannot hold it, answer `otherwise`.
    WaitForKeys {
        provider: usize,
        reason: WaitReason,
        otherwise: Denial,
    },
}

impl Outcome<'_> {
    /// Changes the denial, or the fallback denial of a wait; an allow stays as it is.
    fn map_denial(self, change: impl FnOnce(Denial) -> Denial) -> Self {
        match self {
            Outcome::Deny(denial) => Outcome::Deny(change(denial)),
            Outcome::WaitForKeys {
                provider,
                reason,
                otherwise,
            } => Outcome::WaitForKeys {
                provider,
                reason,
                otherwise: change(otherwise),
            },
            allow => allow,
        }
    }
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
        rule: None,
        condition: None,
        provider: None,
        client_id: None,
    }
}

fn deny(reason: DenyReason, description: &'static str) -> Outcome<'static> {
    Outcome::Deny(denial(reason, description))
}

const NO_KEYS: &str = "signing keys are not available yet";
pub const REQUIRED_CLAIM: &str = "token lacks a claim its provider requires";
pub const RULE_CLAIM: &str = "token lacks a claim this resource requires";

const UNKNOWN_KID: &str = "token signing key is unknown";
const STALE_KEYS: &str = "signing keys are out of date";

/// Header values never carry quotes, backslashes or control characters from the request.
fn sanitized_realm(host: Option<String>) -> String {
    host.unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(255)
        .collect()
}

/// A pseudo-header that is not text counts as empty: no rule matches it.
fn as_text<'v>(value: &'v Option<Cow<'_, [u8]>>) -> &'v str {
    value
        .as_deref()
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or_default()
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

/// Decides one request with pure-Rust crypto and no token cache. `now` is Unix seconds.
pub fn decide<'c>(
    config: &'c Config,
    request: &dyn RequestHeaders,
    keys: &dyn ProviderKeys,
    now: i64,
    wait: WaitPermission,
) -> Outcome<'c> {
    decide_verified_by(config, request, keys, &PureRust, now, wait)
}

/// [`decide`] with signatures checked by `verifier` (the fuzz target's stand-in for RSA).
pub fn decide_verified_by<'c>(
    config: &'c Config,
    request: &dyn RequestHeaders,
    keys: &dyn ProviderKeys,
    verifier: &dyn SignatureVerifier,
    now: i64,
    wait: WaitPermission,
) -> Outcome<'c> {
    let env = Environment {
        keys,
        verifier,
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
    if let Some((cache, key)) = &cache_key {
        let cached = cache.with(
            key,
            |entry| still_verified(entry, env.keys, env.now),
            |entry| admit(config, index, rule, entry.provider, &entry.facts, env.now),
        );
        if let Some(outcome) = cached {
            return outcome;
        }
    }

    // Bytes that are not text stay not base64url after the replacement: the parser refuses
    // them in its usual order (length first).
    let text = String::from_utf8_lossy(&token);
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
    if let (Some((cache, key)), true) = (&cache_key, lifetime_ok) {
        cache.insert(key, verified);
    }
    outcome
}

pub const NON_CANONICAL_PATH: &str = "request path is not in canonical form";
pub const PORT_CHANGES_THE_RULE: &str =
    "the port in the request's authority changes which rule applies";

/// Why no rule could be chosen for a request: each of these has two readings that pick
/// different rules, and rolegate cannot know which one Envoy or the upstream takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRefusal {
    NonCanonical(path_screen::NonCanonical),
    /// With its `;` parameters the path picks another rule than without them (Tomcat, Jetty
    /// and Spring route without them).
    ParametersChangeTheRule,
    /// With its port the authority picks another rule than without it (Envoy drops the port
    /// for virtual-host selection under `ignore_port_in_host_matching`).
    PortChangesTheRule,
}

impl TargetRefusal {
    /// The denial: 400 either way, counted as `path` or `host`.
    pub fn denial(self) -> Denial {
        match self {
            TargetRefusal::NonCanonical(_) | TargetRefusal::ParametersChangeTheRule => {
                denial(DenyReason::Path, NON_CANONICAL_PATH)
            }
            TargetRefusal::PortChangesTheRule => denial(DenyReason::Host, PORT_CHANGES_THE_RULE),
        }
    }
}

impl std::fmt::Display for TargetRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetRefusal::NonCanonical(why) => why.fmt(f),
            TargetRefusal::ParametersChangeTheRule => f.write_str(
                "the path's ;parameters change which rule applies (Tomcat and Spring route without them)",
            ),
            TargetRefusal::PortChangesTheRule => f.write_str(
                "the authority's port changes which rule applies (Envoy ignores it for virtual \
                 hosts under ignore_port_in_host_matching): list the host with its port in \
                 match.hosts, or strip ports in the connection manager (strip_any_host_port)",
            ),
        }
    }
}

/// The index of the rule for the raw `:authority`, `method` and the raw `:path`. With path
/// screening on, a path that is not canonical gets no rule, and neither does one whose `;`
/// parameters would make Tomcat route it under another rule than the one that matches it as
/// written. Nor does an authority whose port changes the rule.
pub fn select_rule(
    config: &Config,
    authority: &str,
    method: &str,
    raw_path: &[u8],
) -> Result<Option<usize>, TargetRefusal> {
    let host = host_pattern::as_written(authority);
    let host_without_port = host_pattern::without_port(authority);
    let first = |path: &str| {
        let pick = |host| {
            let target = RequestTarget { host, method, path };
            rules::first_match(&config.rules, &target)
        };
        let index = pick(host);
        match host_without_port {
            Some(other) if pick(other) != index => Err(TargetRefusal::PortChangesTheRule),
            _ => Ok(index),
        }
    };
    match config.path_screening {
        PathScreening::Off => {
            let path = std::str::from_utf8(raw_path).unwrap_or_default();
            first(rules::path_only(path))
        }
        PathScreening::Reject => {
            let screened = path_screen::screen(raw_path).map_err(TargetRefusal::NonCanonical)?;
            let index = first(&screened.matched)?;
            match &screened.without_parameters {
                Some(stripped) if first(stripped)? != index => {
                    Err(TargetRefusal::ParametersChangeTheRule)
                }
                _ => Ok(index),
            }
        }
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn match_rule(config: &Config, request: &dyn RequestHeaders) -> Result<Option<usize>, Denial> {
    // `:method` only matters when some rule names methods.
    let method = if config.rules.iter().any(|r| r.methods.is_some()) {
        request.header_bytes(":method")
    } else {
        None
    };
    // `:authority` only matters when some rule names hosts.
    let authority = if config.rules.iter().any(|r| r.hosts.is_some()) {
        request.header_bytes(":authority")
    } else {
        None
    };
    let path = request.header_bytes(":path");
    select_rule(
        config,
        as_text(&authority),
        as_text(&method),
        path.as_deref().unwrap_or_default(),
    )
    .map_err(TargetRefusal::denial)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rs256::Rs256Key;
    use std::cell::Cell;

    const TOKEN: &str =
        include_str!("../../tests/vectors/azure-real/nav-pensjonskalkulator-v2-app-roles.jwt");
    const KEYS_WITH_KID: &str =
        include_str!("../../tests/vectors/azure-real/entra-common-jwks-2024-09-03.json");
    const KEYS_WITHOUT_KID: &str =
        include_str!("../../tests/vectors/azure-real/entra-common-jwks-2024-06-24.json");
    const ISSUER: &str =
        "https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/v2.0";
    const AUDIENCE: &str = "f407babd-8d0f-4afc-a6e7-46f28612670b";
    /// Between the token's nbf (1725265453) and exp (1725269353).
    const DURING: i64 = 1_725_266_000;

    struct Request(String);

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
    struct SwappableKeys {
        set: KeySet,
        generation: u64,
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
    struct CountingVerifier(Cell<usize>);

    impl SignatureVerifier for CountingVerifier {
        fn verify(&self, key: &Rs256Key, message: &[u8], signature: &[u8]) -> bool {
            self.0.set(self.0.get() + 1);
            key.verify(message, signature)
        }
    }

    fn config() -> Config {
        let text = format!(
            r#"{{"providers":[{{"name":"aad","issuer":"{ISSUER}","audiences":["{AUDIENCE}"],
                "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}}}}],
                "claim_to_headers":[{{"claim":"azp","header":"x-client-id"}}],
                "rules":[{{"match":{{"prefix":"/calc/"}},"roles":["access_as_application"]}}]}}"#
        );
        Config::parse(text.as_bytes()).expect("config")
    }

    fn keys(text: &str, generation: u64) -> SwappableKeys {
        SwappableKeys {
            set: KeySet::parse(text.as_bytes()).expect("key set"),
            generation,
        }
    }

    fn run<'c>(
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

    #[test]
    fn a_real_entra_token_is_allowed_with_its_claim_headers_and_without_its_token() {
        let config = config();
        let allow = run(
            &config,
            TOKEN,
            &keys(KEYS_WITH_KID, 1),
            &CountingVerifier::default(),
            &VerifiedTokenCache::with_fixed_key(10),
            DURING,
        )
        .expect("allowed");
        assert_eq!(
            allow.add_headers().collect::<Vec<_>>(),
            vec![(
                "x-client-id",
                &Rc::from("5f28c10f-ecd5-45ef-96b8-db4311802e89")
            )]
        );
        assert_eq!(
            allow.remove_headers().collect::<Vec<_>>(),
            vec!["authorization"]
        );
    }

    #[test]
    fn the_cache_skips_rsa_but_not_the_clock_or_the_roles() {
        let config = config();
        let keys = keys(KEYS_WITH_KID, 1);
        let verifier = CountingVerifier::default();
        let cache = VerifiedTokenCache::with_fixed_key(10);
        for _ in 0..3 {
            assert!(run(&config, TOKEN, &keys, &verifier, &cache, DURING).is_ok());
        }
        assert_eq!(
            verifier.0.get(),
            1,
            "verified once, then served from the cache"
        );
        assert_eq!(
            run(&config, TOKEN, &keys, &verifier, &cache, DURING + 3 * 3600),
            Err(DenyReason::Expired)
        );
        let other_role = Config {
            rules: vec![Rule {
                requirement: Requirement::Roles {
                    roles: vec!["admin".into()],
                    require_all: false,
                },
                ..config.rules[0].clone()
            }],
            ..config.clone()
        };
        assert_eq!(
            run(&other_role, TOKEN, &keys, &verifier, &cache, DURING),
            Err(DenyReason::Role)
        );
        assert_eq!(verifier.0.get(), 1);
    }

    #[test]
    fn a_token_that_is_not_text_is_malformed_and_not_cached() {
        struct Binary;
        impl RequestHeaders for Binary {
            fn header(&self, name: &str) -> Option<String> {
                (name == ":path").then(|| "/calc/v1/add/1/1".to_string())
            }
            fn header_bytes(&self, name: &str) -> Option<Cow<'_, [u8]>> {
                match name {
                    "authorization" => Some(Cow::Borrowed(b"Bearer a.\xff\xfe.c")),
                    _ => self.header(name).map(|v| Cow::Owned(v.into_bytes())),
                }
            }
        }
        let config = config();
        let keys = keys(KEYS_WITH_KID, 1);
        let cache = VerifiedTokenCache::with_fixed_key(10);
        let env = Environment {
            keys: &keys,
            verifier: &CountingVerifier::default(),
            cache: Some(&cache),
            now: DURING,
            wait: WaitPermission::default(),
        };
        match decide_with(&config, &Binary, &env) {
            Outcome::Deny(d) => assert_eq!(d.reason, DenyReason::Malformed),
            other => panic!("{other:?}"),
        }
        assert!(cache.is_empty());
    }

    #[test]
    fn failures_are_not_cached() {
        let config = config();
        let keys = keys(KEYS_WITH_KID, 1);
        let verifier = CountingVerifier::default();
        let cache = VerifiedTokenCache::with_fixed_key(10);
        let mut tampered = TOKEN.trim().to_string();
        let last = tampered.pop().expect("char");
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        for _ in 0..2 {
            assert_eq!(
                run(&config, &tampered, &keys, &verifier, &cache, DURING),
                Err(DenyReason::Signature)
            );
        }
        assert_eq!(verifier.0.get(), 2);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_cached_token_dies_with_its_key_but_survives_an_unrelated_refresh() {
        let config = config();
        let verifier = CountingVerifier::default();
        let cache = VerifiedTokenCache::with_fixed_key(10);
        assert!(run(
            &config,
            TOKEN,
            &keys(KEYS_WITH_KID, 1),
            &verifier,
            &cache,
            DURING
        )
        .is_ok());
        // Same keys republished under a new generation: still served from the cache.
        assert!(run(
            &config,
            TOKEN,
            &keys(KEYS_WITH_KID, 2),
            &verifier,
            &cache,
            DURING
        )
        .is_ok());
        assert_eq!(verifier.0.get(), 1);
        // The key is gone from the new set: the cached entry must not let the token through.
        assert_eq!(
            run(
                &config,
                TOKEN,
                &keys(KEYS_WITHOUT_KID, 3),
                &verifier,
                &cache,
                DURING
            ),
            Err(DenyReason::UnknownKid)
        );
    }

    /// A request with no token and the given path.
    struct Anonymous(&'static str);

    impl RequestHeaders for Anonymous {
        fn header(&self, name: &str) -> Option<String> {
            (name == ":path").then(|| self.0.to_string())
        }
    }

    fn path_config(screening: &str) -> Config {
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

    /// What a request without a token gets: the rule it reached shows as allowed (anonymous)
    /// or missing (a token is needed).
    fn answer(config: &Config, path: &'static str) -> Result<(), DenyReason> {
        match decide(
            config,
            &Anonymous(path),
            &keys(KEYS_WITH_KID, 1),
            DURING,
            WaitPermission::default(),
        ) {
            Outcome::Allow(_) => Ok(()),
            Outcome::Deny(d) => Err(d.reason),
            Outcome::WaitForKeys { .. } => Err(DenyReason::NoKeys),
        }
    }

    #[test]
    fn a_path_that_is_not_canonical_gets_no_rule() {
        let config = path_config("reject");
        for path in [
            "/healthz/../calc/v1/add/1/1",
            "/healthz/%2e%2e/calc/v1",
            "/healthz%2f..%2fcalc/v1",
            "/healthz\\..\\calc",
            "/healthz/..;/calc",
            "//calc",
            "calc",
            "",
        ] {
            assert_eq!(answer(&config, path), Err(DenyReason::Path), "{path:?}");
        }
        let reply =
            crate::decision::reply::local_reply(&denial(DenyReason::Path, NON_CANONICAL_PATH));
        assert_eq!(reply.status, 400);
        assert_eq!(
            reply.body,
            r#"{"error":"invalid_request","error_description":"request path is not in canonical form"}"#
        );
    }

    #[test]
    fn canonical_paths_get_the_rule_of_the_path_the_upstream_routes() {
        let config = path_config("reject");
        assert_eq!(answer(&config, "/healthz"), Ok(()));
        assert_eq!(answer(&config, "/healthz/live?x=/../"), Ok(()));
        assert_eq!(
            answer(&config, "/healthzX"),
            Err(DenyReason::Missing),
            "a separated prefix stops at the segment: /healthzX falls to the admin rule"
        );
        assert_eq!(
            answer(&config, "/c%61lc/v1"),
            Err(DenyReason::Missing),
            "unreserved escapes are decoded: this is /calc"
        );
        assert_eq!(
            answer(&config, "/%68ealthz"),
            Ok(()),
            "decoding goes both ways: an encoded /healthz is /healthz"
        );
        // ;parameters: allowed while both readings pick the same rule.
        assert_eq!(answer(&config, "/healthz/live;v=1"), Ok(()));
        assert_eq!(
            answer(&config, "/public;x/admin"),
            Err(DenyReason::Path),
            "Tomcat routes /public/admin (anonymous), Go /public;x/admin (admin rule)"
        );
        assert_eq!(
            answer(&config, "/admin;x/panel"),
            Err(DenyReason::Missing),
            "both readings fall to the admin rule"
        );
    }

    #[test]
    fn with_screening_off_rules_see_the_raw_path() {
        let config = path_config("off");
        assert_eq!(
            answer(&config, "/healthz/../calc/v1"),
            Ok(()),
            "the door path screening closes: only safe behind a normalizing Envoy"
        );
        assert_eq!(answer(&config, "/c%61lc/v1"), Err(DenyReason::Missing));
        assert_eq!(config.warnings().len(), 1);
    }

    /// The real token in `authorization`, and something else in a second token header.
    struct TwoTokenHeaders(String);

    impl RequestHeaders for TwoTokenHeaders {
        fn header(&self, name: &str) -> Option<String> {
            match name {
                "x-jwt-assertion" => Some("forged.token.here".into()),
                other => Request(self.0.clone()).header(other),
            }
        }
    }

    fn two_locations(forward: bool) -> Config {
        let mut config = config();
        config.forward = forward;
        config
            .from_headers
            .push(crate::request::extract::TokenLocation {
                name: "x-jwt-assertion".into(),
                value_prefix: String::new(),
            });
        config.token_headers = vec!["authorization".into(), "x-jwt-assertion".into()];
        config
    }

    fn allow_of<'c>(config: &'c Config) -> Allow<'c> {
        match decide(
            config,
            &TwoTokenHeaders(TOKEN.trim().to_string()),
            &keys(KEYS_WITH_KID, 1),
            DURING,
            WaitPermission::default(),
        ) {
            Outcome::Allow(allow) => allow,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_token_header_is_removed_not_only_the_verified_one() {
        let config = two_locations(false);
        let removed: Vec<&str> = allow_of(&config).remove_headers().collect();
        assert_eq!(removed, vec!["authorization", "x-jwt-assertion"]);
        let config = two_locations(true);
        assert_eq!(
            allow_of(&config).remove_headers().count(),
            0,
            "forward: true keeps every token header"
        );
        let parsed = Config::parse(
            br#"{"providers":[{"name":"p","issuer":"i","audiences":["a"],
                 "remote_jwks":{"cluster":"c","uri":"https://login/keys"}}],
                 "from_headers":[{"name":"Authorization","value_prefix":"Bearer "},
                                 {"name":"authorization","value_prefix":"JWT "},
                                 {"name":"x-jwt-assertion"}],
                 "rules":[{"match":{"prefix":"/"}}]}"#,
        )
        .expect("config");
        assert_eq!(
            parsed.token_headers,
            vec!["authorization", "x-jwt-assertion"]
        );
    }

    /// Refuses the change to one header; records the others.
    struct RefusingEditor {
        refuse: &'static str,
        done: Vec<String>,
    }

    impl HeaderEditor for RefusingEditor {
        fn remove(&mut self, name: &str) -> bool {
            self.done.push(format!("-{name}"));
            name != self.refuse
        }
        fn set(&mut self, name: &str, value: &str) -> bool {
            self.done.push(format!("+{name}: {value}"));
            name != self.refuse
        }
    }

    #[test]
    fn a_header_change_the_host_refuses_fails_the_request_closed() {
        let config = two_locations(false);
        let allow = allow_of(&config);
        let mut editor = RefusingEditor {
            refuse: "none",
            done: Vec::new(),
        };
        assert_eq!(
            allow.apply(&mut editor, &Vec::<(&str, &str)>::new()),
            Ok(())
        );
        assert_eq!(
            editor.done,
            vec![
                "-authorization",
                "-x-jwt-assertion",
                "+x-client-id: 5f28c10f-ecd5-45ef-96b8-db4311802e89"
            ]
        );
        for refuse in ["authorization", "x-jwt-assertion", "x-client-id"] {
            let mut editor = RefusingEditor {
                refuse,
                done: Vec::new(),
            };
            let failed = allow
                .apply(&mut editor, &Vec::<(&str, &str)>::new())
                .expect_err("refused");
            assert_eq!(failed.header, refuse);
            let reply = crate::decision::reply::local_reply(&failed.denial());
            assert_eq!(reply.status, 500);
            assert_eq!(
                reply.body,
                r#"{"error":"internal_error","error_description":"request headers could not be changed"}"#
            );
            assert_eq!(failed.denial().reason.name(), "internal");
        }
    }

    #[test]
    fn a_cached_token_is_admitted_as_its_own_provider() {
        // The token's provider is the second; the first would refuse it (its tenant differs).
        let text = format!(
            r#"{{"providers":[
                {{"name":"first","issuer":"https://first.example/","audiences":["{AUDIENCE}"],
                  "remote_jwks":{{"cluster":"c","uri":"https://first/keys"}},
                  "required_claims":[{{"claim":"tid","values":["another-tenant"]}}]}},
                {{"name":"aad","issuer":"{ISSUER}","audiences":["{AUDIENCE}"],
                  "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}},
                  "required_claims":[{{"claim":"tid","values":["966ac572-f5b7-4bbe-aa88-c76419c0f851"]}}]}}],
                "claim_to_headers":[{{"claim":"azp","header":"x-client-id"}}],
                "rules":[{{"match":{{"prefix":"/calc/"}},"roles":["access_as_application"]}}]}}"#
        );
        let config = Config::parse(text.as_bytes()).expect("config");
        let keys = keys(KEYS_WITH_KID, 1);
        let verifier = CountingVerifier::default();
        let cache = VerifiedTokenCache::with_fixed_key(10);
        let env = Environment {
            keys: &keys,
            verifier: &verifier,
            cache: Some(&cache),
            now: DURING,
            wait: WaitPermission::default(),
        };
        let request = Request(TOKEN.trim().to_string());
        for what in ["fresh", "cached"] {
            match decide_with(&config, &request, &env) {
                Outcome::Allow(allow) => assert_eq!(allow.provider, Some(1), "{what}"),
                other => panic!("{what}: {other:?}"),
            }
        }
        assert_eq!(
            verifier.0.get(),
            1,
            "the second decision came from the cache"
        );
    }

    #[test]
    fn underscore_twins_of_changed_headers_are_removed_too() {
        let config = two_locations(false);
        let allow = allow_of(&config);
        let request = vec![
            (":path", "/calc"),
            ("x_client_id", "victim"),
            ("x_client-id", "victim"),
            ("X-CLIENT_ID", "victim"),
            ("x_jwt_assertion", "unverified"),
            ("x_request_id", "kept: names no changed header"),
            ("x_client_idx", "kept: another name"),
            ("authorization", "Bearer t"),
        ];
        let mut editor = RefusingEditor {
            refuse: "none",
            done: Vec::new(),
        };
        assert_eq!(allow.apply(&mut editor, &request), Ok(()));
        assert_eq!(
            editor.done,
            vec![
                "-authorization",
                "-x-jwt-assertion",
                "+x-client-id: 5f28c10f-ecd5-45ef-96b8-db4311802e89",
                "-x_client_id",
                "-x_client-id",
                "-X-CLIENT_ID",
                "-x_jwt_assertion",
            ]
        );
        let anonymous = Allow::without_token(&config, 0);
        let mut editor = RefusingEditor {
            refuse: "none",
            done: Vec::new(),
        };
        assert_eq!(anonymous.apply(&mut editor, &request), Ok(()));
        assert_eq!(
            editor.done,
            vec![
                "-x-client-id",
                "-x_client_id",
                "-x_client-id",
                "-X-CLIENT_ID"
            ],
            "an anonymous pass keeps the token headers, twins included, and drops claim twins"
        );
        let mut refusing = RefusingEditor {
            refuse: "x_client_id",
            done: Vec::new(),
        };
        assert_eq!(
            allow.apply(&mut refusing, &request),
            Err(HeaderChangeFailed {
                header: "x-client-id"
            }),
            "a twin that cannot be removed fails the request closed"
        );
    }

    #[test]
    fn a_host_that_cannot_list_headers_gets_no_pass_a_twin_could_ride() {
        let config = two_locations(false);
        let allow = allow_of(&config);
        let mut editor = RefusingEditor {
            refuse: "none",
            done: Vec::new(),
        };
        assert_eq!(
            allow.apply(&mut editor, &Anonymous("/calc")),
            Err(HeaderChangeFailed {
                header: "x-client-id"
            })
        );
        let mut plain = two_locations(false);
        plain.claim_to_headers.clear();
        plain.token_headers = vec!["authorization".into()];
        let allow = allow_of(&plain);
        assert_eq!(
            allow.apply(&mut editor, &Anonymous("/calc")),
            Ok(()),
            "authorization has no twin: nothing to list"
        );
    }

    /// Keys that stop verifying at a given time, as max_stale_seconds makes them.
    struct AgingKeys {
        inner: SwappableKeys,
        until: i64,
    }

    impl ProviderKeys for AgingKeys {
        fn keys(&self, provider: usize) -> KeySetState<'_> {
            self.inner.keys(provider)
        }
        fn generation(&self, provider: usize) -> u64 {
            self.inner.generation(provider)
        }
        fn usable_until(&self, _: usize) -> Option<i64> {
            Some(self.until)
        }
    }

    #[test]
    fn keys_past_max_stale_seconds_verify_nothing_not_even_cached_tokens() {
        let config = config();
        let cache = VerifiedTokenCache::with_fixed_key(10);
        let keys = AgingKeys {
            inner: keys(KEYS_WITH_KID, 1),
            until: DURING + 60,
        };
        let decide_at = |now: i64| {
            let env = Environment {
                keys: &keys,
                verifier: &PureRust,
                cache: Some(&cache),
                now,
                wait: WaitPermission::default(),
            };
            decide_with(&config, &Request(TOKEN.trim().to_string()), &env)
        };
        assert!(matches!(decide_at(DURING), Outcome::Allow(_)));
        assert!(
            !cache.is_empty(),
            "verified and cached while the keys are fresh"
        );
        match decide_at(DURING + 60) {
            Outcome::Deny(d) => {
                assert_eq!((d.reason, d.description), (DenyReason::NoKeys, STALE_KEYS));
                assert_eq!(crate::decision::reply::local_reply(&d).status, 503);
            }
            other => panic!("the cached token must not outlive its keys: {other:?}"),
        }
    }

    #[test]
    fn the_decision_reports_its_rule_and_whether_it_verified_a_token() {
        let paths = path_config("reject");
        let keys = keys(KEYS_WITH_KID, 1);
        let at = |path: &'static str| {
            decide(
                &paths,
                &Anonymous(path),
                &keys,
                DURING,
                WaitPermission::default(),
            )
        };
        match at("/healthz/live") {
            Outcome::Allow(allow) => assert_eq!((allow.rule, allow.verified()), (0, false)),
            other => panic!("{other:?}"),
        }
        match at("/calc/v1") {
            Outcome::Deny(d) => assert_eq!((d.reason, d.rule), (DenyReason::Missing, Some(1))),
            other => panic!("{other:?}"),
        }
        match at("/calc/../x") {
            Outcome::Deny(d) => assert_eq!((d.reason, d.rule), (DenyReason::Path, None)),
            other => panic!("{other:?}"),
        }
        let entra = config();
        match decide(
            &entra,
            &Request(TOKEN.trim().to_string()),
            &keys,
            DURING,
            WaitPermission::default(),
        ) {
            Outcome::Allow(allow) => assert_eq!((allow.rule, allow.verified()), (0, true)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_reason_names_one_stage_and_metric_names_stay() {
        assert_eq!(DenyReason::Malformed.name(), "malformed");
        assert_eq!(DenyReason::BadTimeClaim.name(), "malformed");
        assert!(
            !DenyReason::Malformed.after_signature(),
            "a token that does not parse"
        );
        assert!(
            DenyReason::BadTimeClaim.after_signature(),
            "exp/nbf are read from verified claims"
        );
        let after: Vec<&str> = DenyReason::ALL
            .iter()
            .filter(|r| r.after_signature())
            .map(|r| r.name())
            .collect();
        assert_eq!(
            after,
            vec![
                "malformed",
                "expired",
                "not_yet_valid",
                "audience",
                "role",
                "claim",
                "claim"
            ]
        );
    }

    /// A request with a chosen `:authority` and token (or none).
    struct Addressed {
        authority: &'static str,
        token: Option<&'static str>,
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

    const AZP: &str = "5f28c10f-ecd5-45ef-96b8-db4311802e89";
    const TID: &str = "966ac572-f5b7-4bbe-aa88-c76419c0f851";

    /// The real token's provider (local keys stand in for any source) with `provider_extra`
    /// fields, and `rules`.
    fn policy(provider_extra: &str, rules: &str) -> Config {
        let text = format!(
            r#"{{"providers":[{{"name":"aad","issuer":"{ISSUER}","audiences":["{AUDIENCE}"],
                "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}}{provider_extra}}}],
                "claim_to_headers":[{{"claim":"azp","header":"x-client-id"}}],
                "rules":{rules}}}"#
        );
        Config::parse(text.as_bytes()).expect("config")
    }

    /// (rule index, verified) of an allow, or the denial's reason and failing claim entry.
    type Decided = Result<(usize, bool), (DenyReason, Option<usize>)>;

    fn outcome_of(config: &Config, request: &dyn RequestHeaders) -> Decided {
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

    fn with_token() -> Addressed {
        Addressed {
            authority: "api",
            token: Some(TOKEN),
        }
    }

    #[test]
    fn claim_conditions_after_the_roles_and_required_claims_before() {
        let role = r#""roles":["access_as_application"]"#;
        let rows: [(&str, String, Decided); 8] = [
            ("", format!(r#"[{{"match":{{"prefix":"/"}},{role},"claims":[{{"claim":"azp","values":["x","{AZP}"]}}]}}]"#), Ok((0, true))),
            ("", format!(r#"[{{"match":{{"prefix":"/"}},{role},"claims":[{{"claim":"azp","values":["{AZP}"]}},{{"claim":"idtyp","values":["user"]}}]}}]"#), Err((DenyReason::Claim, Some(1)))),
            ("", r#"[{"match":{"prefix":"/"},"roles":["admin"],"claims":[{"claim":"azp","values":["x"]}]}]"#.to_string(), Err((DenyReason::Role, None))),
            ("", r#"[{"match":{"prefix":"/"},"claims":[{"claim":"roles","values":["access_as_application"]},{"claim":"ver","values":["2.0"]}]}]"#.to_string(), Ok((0, true))),
            ("", r#"[{"match":{"prefix":"/"},"claims":[{"claim":"nbf","values":["1725265453"]}]}]"#.to_string(), Ok((0, true))),
            (&format!(r#","required_claims":[{{"claim":"tid","values":["{TID}"]}},{{"claim":"idtyp","values":["app"]}}]"#), format!(r#"[{{"match":{{"prefix":"/"}},{role}}}]"#), Ok((0, true))),
            (r#","required_claims":[{"claim":"idtyp","values":["app"]},{"claim":"tid","values":["other"]}]"#, r#"[{"match":{"prefix":"/"},"roles":["admin"]}]"#.to_string(), Err((DenyReason::RequiredClaim, Some(1)))),
            (r#","required_claims":[{"claim":"missing","values":["x"]}]"#, r#"[{"match":{"prefix":"/"},"allow_missing":true}]"#.to_string(), Err((DenyReason::RequiredClaim, Some(0)))),
        ];
        for (provider, rules, want) in rows {
            let config = policy(provider, &rules);
            assert_eq!(
                outcome_of(&config, &with_token()),
                want,
                "{provider} {rules}"
            );
        }
        let config = policy(
            r#","required_claims":[{"claim":"tid","values":["other"]}]"#,
            r#"[{"match":{"prefix":"/"}}]"#,
        );
        let denial = match decide(
            &config,
            &with_token(),
            &keys(KEYS_WITH_KID, 1),
            DURING,
            WaitPermission::default(),
        ) {
            Outcome::Deny(d) => d,
            other => panic!("{other:?}"),
        };
        let reply = reply::local_reply(&denial);
        assert_eq!((reply.status, denial.reason.name()), (401, "claim"));
        let config = policy(
            "",
            r#"[{"match":{"prefix":"/"},"claims":[{"claim":"tid","values":["other"]}]}]"#,
        );
        let denial = match decide(
            &config,
            &with_token(),
            &keys(KEYS_WITH_KID, 1),
            DURING,
            WaitPermission::default(),
        ) {
            Outcome::Deny(d) => d,
            other => panic!("{other:?}"),
        };
        let reply = reply::local_reply(&denial);
        assert_eq!((reply.status, denial.reason.name()), (403, "claim"));
        assert!(reply.body.contains("insufficient_scope"));
    }

    #[test]
    fn hosts_and_allow_missing() {
        let config = policy(
            "",
            r#"[{"match":{"hosts":["api.contoso.com"],"prefix":"/"},"roles":["admin"]},
                {"match":{"hosts":["*.contoso.com"],"prefix":"/"},"allow_missing":true},
                {"match":{"prefix":"/calc/"},"roles":["access_as_application"]}]"#,
        );
        let at = |authority: &'static str, token: Option<&'static str>| {
            outcome_of(&config, &Addressed { authority, token })
        };
        assert_eq!(
            at("API.contoso.com", Some(TOKEN)),
            Err((DenyReason::Role, None))
        );
        assert_eq!(
            at("API.contoso.com:443", Some(TOKEN)),
            Err((DenyReason::Host, None)),
            "with its port no host rule applies, without it the first: refused, not guessed"
        );
        assert_eq!(
            at("api.contoso.com.", None),
            Err((DenyReason::Missing, None)),
            "a trailing dot is another name to Envoy: not the api.contoso.com rule"
        );
        assert_eq!(
            at("x.contoso.com", Some(TOKEN)),
            Ok((1, true)),
            "a valid token is verified"
        );
        assert_eq!(at("x.contoso.com", None), Ok((1, false)), "no token passes");
        assert_eq!(
            at("x.contoso.com", Some("a.b.c")),
            Err((DenyReason::Malformed, None))
        );
        assert_eq!(at("contoso.com", None), Err((DenyReason::Missing, None)));
        assert_eq!(at("other", Some(TOKEN)), Ok((2, true)));
        assert_eq!(
            at("", Some(TOKEN)),
            Ok((2, true)),
            "no host: only rules without hosts"
        );
        assert_eq!(
            at("other:8443", Some(TOKEN)),
            Ok((2, true)),
            "a port that picks the same rule either way is fine"
        );
    }

    #[test]
    fn a_host_listed_with_its_port_is_read_alike_with_and_without_it() {
        let config = policy(
            "",
            r#"[{"match":{"hosts":["public.contoso.com","public.contoso.com:8443"],"prefix":"/"},"allow_anonymous":true},
                {"match":{"prefix":"/"},"roles":["admin"]}]"#,
        );
        let at = |authority: &'static str| {
            outcome_of(
                &config,
                &Addressed {
                    authority,
                    token: None,
                },
            )
        };
        assert_eq!(at("public.contoso.com:8443"), Ok((0, false)));
        assert_eq!(at("public.contoso.com"), Ok((0, false)));
        assert_eq!(
            at("public.contoso.com:9443"),
            Err((DenyReason::Host, None)),
            "a port the rule does not list"
        );
        assert_eq!(
            at("public.contoso.com."),
            Err((DenyReason::Missing, None)),
            "another virtual host to Envoy: the catch-all"
        );
        assert_eq!(
            at("public.contoso.com.:1"),
            Err((DenyReason::Missing, None)),
            "dotted with a port: the catch-all either way"
        );
        let reply = reply::local_reply(&TargetRefusal::PortChangesTheRule.denial());
        assert_eq!((reply.status, DenyReason::Host.name()), (400, "host"));
        assert!(reply.body.contains("invalid_request"));
    }

    #[test]
    fn multi_tenant_issuers_name_a_listed_tenant_that_the_token_also_names() {
        let tenant_config = |tenants: &str| {
            let text = format!(
                r#"{{"providers":[{{"name":"entra","audiences":["{AUDIENCE}"],
                    "azure_ad":{{"tenant":"organizations","cluster":"entra"{tenants}}}}}],
                    "rules":[{{"match":{{"prefix":"/"}}}}]}}"#
            );
            Config::parse(text.as_bytes()).expect("config")
        };
        let listed = tenant_config(&format!(r#","tenants":["{}"]"#, TID.to_uppercase()));
        assert_eq!(outcome_of(&listed, &with_token()), Ok((0, true)));
        let any = tenant_config(r#","allow_any_tenant":true"#);
        assert_eq!(outcome_of(&any, &with_token()), Ok((0, true)));
        let others = tenant_config(r#","tenants":["11111111-2222-3333-4444-555555555555"]"#);
        assert_eq!(
            outcome_of(&others, &with_token()),
            Err((DenyReason::Issuer, None))
        );
        let v1_only = tenant_config(r#","allow_any_tenant":true,"versions":["v1"]"#);
        assert_eq!(
            outcome_of(&v1_only, &with_token()),
            Err((DenyReason::Issuer, None)),
            "a v2 issuer"
        );
        // An unlisted tenant's token for another audience: refused for its issuer, and its
        // client id (that tenant's word, not a trusted issuer's) is not reported.
        let elsewhere = Config::parse(
            br#"{"providers":[{"name":"entra","audiences":["api://other"],
                    "azure_ad":{"tenant":"organizations","cluster":"entra",
                    "tenants":["11111111-2222-3333-4444-555555555555"]}}],
                    "rules":[{"match":{"prefix":"/"}}]}"#,
        )
        .expect("config");
        match decide(
            &elsewhere,
            &with_token(),
            &keys(KEYS_WITH_KID, 1),
            DURING,
            WaitPermission::default(),
        ) {
            Outcome::Deny(d) => assert_eq!((d.reason, d.client_id), (DenyReason::Issuer, None)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_client_id_is_reported_only_once_the_signature_is_good() {
        let decided = |config: &Config, request: &dyn RequestHeaders| match decide(
            config,
            request,
            &keys(KEYS_WITH_KID, 1),
            DURING,
            WaitPermission::default(),
        ) {
            Outcome::Allow(a) => (None, a.provider, a.client_id.map(|c| c.to_string())),
            Outcome::Deny(d) => (
                Some(d.reason),
                d.provider,
                d.client_id.map(|c| c.to_string()),
            ),
            other => panic!("{other:?}"),
        };
        let admin = policy("", r#"[{"match":{"prefix":"/"},"roles":["admin"]}]"#);
        assert_eq!(
            decided(&admin, &with_token()),
            (Some(DenyReason::Role), Some(0), Some(AZP.to_string()))
        );
        let any = policy("", r#"[{"match":{"prefix":"/"}}]"#);
        assert_eq!(
            decided(&any, &with_token()),
            (None, Some(0), Some(AZP.to_string()))
        );
        assert_eq!(
            decided(
                &any,
                &Addressed {
                    authority: "api",
                    token: None
                }
            ),
            (Some(DenyReason::Missing), None, None)
        );
        let token = TOKEN.trim();
        let cut = token.len() - 10;
        let flipped = if token.as_bytes()[cut] == b'A' {
            "B"
        } else {
            "A"
        };
        let forged = format!("{}{flipped}{}", &token[..cut], &token[cut + 1..]);
        let forged: &'static str = Box::leak(forged.into_boxed_str());
        assert_eq!(
            decided(
                &any,
                &Addressed {
                    authority: "api",
                    token: Some(forged)
                }
            ),
            (Some(DenyReason::Signature), Some(0), None),
            "a bad signature names the provider, not the client"
        );
        let other_audience = Config::parse(
            format!(
                r#"{{"providers":[{{"name":"aad","issuer":"{ISSUER}","audiences":["other"],
                    "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}}}}],
                    "rules":[{{"match":{{"prefix":"/"}}}}]}}"#
            )
            .as_bytes(),
        )
        .expect("config");
        assert_eq!(
            decided(&other_audience, &with_token()),
            (Some(DenyReason::Audience), Some(0), Some(AZP.to_string()))
        );
    }
}
