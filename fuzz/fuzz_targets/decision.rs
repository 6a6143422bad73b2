//! The whole request decision over fuzzed request headers, clock and key-set state, against a
//! fixed configuration with inline keys (see `rolegate_fuzz::decision_config_json`).
//!
//! Input: see `rolegate_fuzz::DecisionInput`. In signed mode the target signs the fuzzed token
//! header and claims, so the checks after the signature see arbitrary claims. Signatures here
//! are `rolegate_fuzz::digest_signature` (SHA-256 of the signing input), checked by
//! `DigestVerifier` through the decision's `SignatureVerifier` seam: an RSA private operation
//! per input made the harness, not the decision, 96% of the time. In raw mode the token is
//! taken as is: the seeds carry tokens signed up front.
//!
//! Each input is decided through `decide_with` without a token cache, then with a fresh
//! `VerifiedTokenCache` (a miss: same answer required), and once more from the cache, possibly
//! an hour later under a new key-set generation: the cached answer must equal a fresh decision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::config::KeySource;
use rolegate::decision::{
    decide_with, select_rule, DenyReason, Environment, KeySetState, Outcome, ProviderKeys,
    WaitPermission, WaitReason,
};
use rolegate::keys::jwks::KeySet;
use rolegate::token::claims::MAX_CLAIM_HEADER_BYTES;

use rolegate::decision::decision_record::DecisionRecord;
use rolegate::decision::dry_run;
use rolegate::decision::reply::reply_to;
use rolegate::decision::rules::Requirement;
use rolegate::token::verified_token_cache::VerifiedTokenCache;
use rolegate_fuzz::{
    decision_config, flags, signed_token, template_tokens, DecisionInput, DigestVerifier,
};
use std::collections::HashSet;
use std::sync::OnceLock;

struct Store {
    sets: &'static [KeySet],
    state: u8,
    generation: u64,
}

impl ProviderKeys for Store {
    fn keys(&self, provider: usize) -> KeySetState<'_> {
        match (self.state, self.sets.get(provider)) {
            (2, _) => KeySetState::Pending,
            (3, _) | (_, None) => KeySetState::Unavailable,
            (_, Some(set)) => KeySetState::Ready(set),
        }
    }

    fn generation(&self, _provider: usize) -> u64 {
        self.generation
    }
}

fn store(state: u8, generation: u64) -> Store {
    static SETS: OnceLock<Vec<KeySet>> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        decision_config()
            .providers
            .iter()
            .filter_map(|p| match &p.keys {
                KeySource::Local(set) => Some(set.clone()),
                _ => None,
            })
            .collect()
    });
    Store {
        sets,
        state,
        generation,
    }
}

/// Signing inputs of the tokens signed up front: in raw mode no other token can be allowed.
fn presigned() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        template_tokens()
            .iter()
            .map(|(h, c)| {
                let t = signed_token(h.as_bytes(), c.as_bytes());
                t.rsplit_once('.')
                    .map(|(i, _)| i.to_string())
                    .unwrap_or_default()
            })
            .collect()
    })
}

fn env<'a>(
    keys: &'a dyn ProviderKeys,
    cache: Option<&'a VerifiedTokenCache>,
    now: i64,
    wait: WaitPermission,
) -> Environment<'a> {
    Environment {
        keys,
        verifier: &DigestVerifier,
        cache,
        now,
        wait,
    }
}

fn header_safe(v: &str) -> bool {
    v.len() <= MAX_CLAIM_HEADER_BYTES && v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = DecisionInput::decode(data) else {
        return;
    };
    let config = decision_config();
    let _ = presigned();
    let names = rolegate_fuzz::FIELD_NAMES;
    let mut headers: Vec<(&'static str, String)> = names
        .iter()
        .take(5)
        .enumerate()
        .filter_map(|(i, n)| Some((*n, input.field(i)?)))
        .collect();
    let signed = input.flags & flags::SIGN != 0;
    if signed {
        let header = input.fields.get(5).cloned().unwrap_or_default();
        let claims = input.fields.get(6).cloned().unwrap_or_default();
        let token = signed_token(&header, &claims);
        headers.retain(|(n, _)| *n != "authorization" && *n != "x-jwt-assertion");
        if input.flags & flags::SIGNED_IN_X_JWT != 0 {
            headers.push(("x-jwt-assertion", token));
        } else {
            headers.push(("authorization", format!("Bearer {token}")));
        }
    }
    let request = headers;
    let state = (input.flags >> flags::KEYS_SHIFT) & 3;
    let wait = WaitPermission {
        for_first_keys: input.flags & flags::WAIT_FIRST_KEYS != 0,
        for_refetch: input.flags & flags::WAIT_REFETCH != 0,
    };
    let now = input.now();
    let first_store = store(state, 1);
    let outcome = decide_with(config, &request, &env(&first_store, None, now, wait));

    // The same request through a token cache: first a miss (must answer the same), then a hit.
    let cache = VerifiedTokenCache::with_fixed_key(4);
    assert_eq!(
        decide_with(
            config,
            &request,
            &env(&first_store, Some(&cache), now, wait)
        ),
        outcome
    );
    if !cache.is_empty() {
        assert!(matches!(&outcome, Outcome::Allow(_) | Outcome::Deny(_)));
        let later = input.flags & flags::LATER != 0;
        let (now2, generation2) = if later {
            (now.saturating_add(3600), 2)
        } else {
            (now, 1)
        };
        let second_store = store(state, generation2);
        let cached = decide_with(
            config,
            &request,
            &env(&second_store, Some(&cache), now2, wait),
        );
        let fresh = decide_with(config, &request, &env(&second_store, None, now2, wait));
        assert_eq!(cached, fresh, "cached and fresh decisions differ");
    }

    let method = input.field(0).unwrap_or_default();
    let path = input.field(1).unwrap_or_default();
    let authority = input.field(2).unwrap_or_default();
    let selected = select_rule(config, &authority, &method, path.as_bytes());
    if let Err(refusal) = selected {
        assert_eq!(
            outcome,
            Outcome::Deny(refusal.denial()),
            "a refused path or host must be denied before anything else"
        );
    }
    let rule = selected.ok().flatten().and_then(|i| config.rules.get(i));
    // The access-log record: one line of key=value fields, whatever the token says.
    let mut record = String::new();
    match &outcome {
        Outcome::Allow(allow) => DecisionRecord::allowed(allow).encode_into(config, &mut record),
        Outcome::Deny(d) | Outcome::WaitForKeys { otherwise: d, .. } => {
            DecisionRecord::denied(d, dry_run::rehearses(config, d))
                .encode_into(config, &mut record)
        }
    }
    assert!(record.starts_with("decision="), "{record}");
    assert_eq!(record.matches("decision=").count(), 1, "{record}");
    assert!(
        record.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
        "{record:?}"
    );
    match &outcome {
        Outcome::Deny(d) | Outcome::WaitForKeys { otherwise: d, .. } => {
            // Only the dry-run rule rehearses, and never a refused header change.
            let rehearsed = dry_run::rehearses(config, d);
            let in_dry_run_rule = d
                .rule
                .and_then(|i| config.rules.get(i))
                .is_some_and(|r| r.dry_run);
            assert_eq!(
                rehearsed,
                in_dry_run_rule && d.reason != DenyReason::Internal
            );
            if d.client_id.is_some() {
                assert!(
                    d.reason.after_signature(),
                    "client id from an unverified token"
                );
            }
            let grpc = reply_to(d, Some(b"application/grpc"));
            assert_eq!(grpc.body, d.description);
            assert!(matches!(grpc.grpc_status, Some(3 | 7 | 13 | 14 | 16)));
            assert!(grpc.details.starts_with("rolegate_"));
        }
        Outcome::Allow(allow) => assert_eq!(allow.client_id.is_some() && !allow.verified(), false),
    }
    match outcome {
        Outcome::Allow(allow) => {
            let rule = rule.unwrap_or_else(|| panic!("allowed without a rule"));
            // Every claim header is either set (replacing client copies) or removed: a
            // client-sent copy never reaches the upstream.
            for c in &config.claim_to_headers {
                let set = allow.add_headers().filter(|(n, _)| *n == c.header).count();
                let removed = allow.remove_headers().filter(|n| *n == c.header).count();
                assert_eq!(
                    set + removed,
                    1,
                    "claim header {} set {set}, removed {removed}",
                    c.header
                );
            }
            for (name, value) in allow.add_headers() {
                assert!(config.claim_to_headers.iter().any(|c| c.header == name));
                assert!(header_safe(value), "unsafe header value {value:?}");
            }
            if allow.verified() {
                assert_ne!(rule.requirement, Requirement::Anonymous);
                assert!(state < 2, "allowed without keys");
                if !signed {
                    let carried = |(n, v): &(&str, String)| {
                        (*n == "authorization" || *n == "x-jwt-assertion")
                            && presigned().iter().any(|i| v.contains(i.as_str()))
                    };
                    let allowed_input = request.iter().any(carried);
                    let token = request;
                    assert!(
                        allowed_input,
                        "a token nobody signed was allowed: {token:?}"
                    );
                }
            } else {
                assert!(matches!(
                    rule.requirement,
                    Requirement::Anonymous | Requirement::TokenIfPresent
                ));
                assert_eq!(allow.add_headers().count(), 0);
            }
        }
        Outcome::Deny(denial) => {
            assert!(!denial.description.is_empty());
            if let Some(realm) = &denial.realm {
                assert!(realm.chars().count() <= 255);
                assert!(!realm
                    .chars()
                    .any(|c| c.is_control() || c == '"' || c == '\\'));
            }
        }
        Outcome::WaitForKeys {
            provider,
            reason,
            otherwise,
        } => {
            assert!(provider < config.providers.len());
            match reason {
                WaitReason::FirstKeys => assert!(wait.for_first_keys && state == 2),
                WaitReason::UnknownKid => assert!(wait.for_refetch && state < 2),
            }
            assert!(otherwise.realm.is_none());
        }
    }
});
