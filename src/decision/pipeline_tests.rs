// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of the decision pipeline: verification, the token cache, claims, roles, tenants.

use super::pipeline::STALE_KEYS;
use super::rules::{Requirement, Rule};
use super::test_support::*;
use super::*;
use crate::config::Config;
use crate::crypto::rs256::PureRust;
use crate::token::verified_token_cache::VerifiedTokenCache;
use std::borrow::Cow;
use std::rc::Rc;

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
