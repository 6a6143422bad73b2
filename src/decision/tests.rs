use super::denial::denial;
use super::pipeline::STALE_KEYS;
use super::rules::{Requirement, Rule};
use super::*;
use crate::config::Config;
use crate::crypto::rs256::Rs256Key;
use crate::crypto::rs256::{PureRust, SignatureVerifier};
use crate::keys::jwks::KeySet;
use crate::token::verified_token_cache::VerifiedTokenCache;
use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

const TOKEN: &str =
    include_str!("../../tests/vectors/azure-real/nav-pensjonskalkulator-v2-app-roles.jwt");
const KEYS_WITH_KID: &str =
    include_str!("../../tests/vectors/azure-real/entra-common-jwks-2024-09-03.json");
const KEYS_WITHOUT_KID: &str =
    include_str!("../../tests/vectors/azure-real/entra-common-jwks-2024-06-24.json");
const ISSUER: &str = "https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/v2.0";
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
    let reply = crate::decision::reply::local_reply(&denial(DenyReason::Path, NON_CANONICAL_PATH));
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
