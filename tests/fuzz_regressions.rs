//! Regression tests from fuzzing (fuzz/, see tests/FUZZING.md) and the limits audit: every
//! input an attacker or a broken IdP controls must be refused past its limit, never wrapped,
//! truncated into something else or allowed to exhaust the proxy.
//!
//! Inputs the fuzzers found are pinned in the "Crashes found by fuzzing" section (none so far);
//! the rest is one test per limit.

#![allow(clippy::expect_used, clippy::panic)]

use rolegate::config::Config;
use rolegate::crypto::rs256::{KeyWeakness, Rs256Key};
use rolegate::decision::{DenyReason, KeySetState, Outcome, ProviderKeys};
use rolegate::keys::discovery::{self, DiscoveryError, MAX_DOCUMENT_BYTES};
use rolegate::keys::fetch_cycle::{key_set_from_response, FetchError};
use rolegate::keys::jwks::{KeyLookup, KeySet, KeySetError, Unusable, MAX_JSON_DEPTH, MAX_KEYS};
use rolegate::keys::shared_data::{MemorySharedData, SharedData};
use rolegate::keys::shared_fetch_record::SharedFetchRecord;
use rolegate::keys::worker_key_sets::WorkerKeySets;
use rolegate::token::claims::{self, LifetimeError, MAX_CLAIM_HEADER_BYTES, MAX_NUMERIC_DATE};
use rolegate::token::{self, Segment, TokenError};
use rolegate_testkit::test_keys::{rfc7520, RFC7520_KID};
use rolegate_testkit::token::{b64url as b64, mint_raw};
use serde_json::{Map, Value};

mod support;
use support::{decide_at, Request};

// ---------------------------------------------------------------------------------------------
// Fixtures: the RFC 7520 §3.4 example key (the one the fuzz targets use, from the test kit), a configuration with
// it inline, and a request built from a few headers.

const KID: &str = RFC7520_KID;
const ISS: &str = "https://idp.example/";
const NOW: i64 = 1_700_000_000;

/// A token over the exact `claims` text (so numbers serde_json would rewrite stay as written).
fn token_with(header: &str, claims: &str) -> String {
    mint_raw(rfc7520(), header.as_bytes(), claims.as_bytes())
}

fn token(claims: &str) -> String {
    token_with(&format!(r#"{{"alg":"RS256","kid":"{KID}"}}"#), claims)
}

fn public_jwk() -> String {
    let n = b64(rfc7520().modulus());
    format!(r#"{{"kty":"RSA","kid":"{KID}","use":"sig","n":"{n}","e":"AQAB"}}"#)
}

fn config_text(extra: &str) -> String {
    format!(
        r#"{{"providers":[{{"name":"p","issuer":"{ISS}","audiences":["api"],
            "local_jwks":{{"keys":[{}]}}}}],
          "rules":[{{"match":{{"prefix":"/healthz"}},"allow_anonymous":true}},
                   {{"match":{{"prefix":"/"}}}}],
          "claim_to_headers":[{{"claim":"azp","header":"x-client-id"}}]{extra}}}"#,
        public_jwk()
    )
}

fn config() -> Config {
    Config::parse(config_text("").as_bytes()).expect("the fixture configuration is valid")
}

fn config_errors(extra: &str) -> Vec<String> {
    match Config::parse(config_text(extra).as_bytes()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// `"field": value` is refused for each of `bad` and accepted for each of `good`.
fn assert_bounded(field: &str, bad: &[&str], good: &[&str]) {
    for value in bad {
        let e = config_errors(&format!(r#","{field}":{value}"#));
        let named = e.iter().any(|m| m.starts_with(&format!("{field}:")));
        assert!(named, "{field} {value}: {e:?}");
    }
    for value in good {
        let e = config_errors(&format!(r#","{field}":{value}"#));
        assert!(e.is_empty(), "{field} {value}: {e:?}");
    }
}

fn denied(outcome: &Outcome) -> Option<(DenyReason, &'static str)> {
    match outcome {
        Outcome::Deny(d) => Some((d.reason, d.description)),
        _ => None,
    }
}

/// The denial (reason, description) of a request bearing `token` at `now`, under [`config`].
fn denial_of(token: &str, now: i64) -> Option<(DenyReason, &'static str)> {
    denied(&decide_at(&config(), &Request::bearer(token), now))
}

/// The reason of [`denial_of`].
fn reason_of(token: &str, now: i64) -> Option<DenyReason> {
    denial_of(token, now).map(|(reason, _)| reason)
}

/// A token valid at [`NOW`] for a minute, with `extra` members (`,"azp":"x"` ...) spliced in.
fn valid_token(extra: &str) -> String {
    token(&format!(
        r#"{{"iss":"{ISS}","aud":"api","exp":{}{extra}}}"#,
        NOW + 60
    ))
}

fn claims_of(text: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(text).expect("claims JSON") {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `{"a": [[...]]}`: an object holding arrays, `depth` levels in all.
fn nested_object(depth: usize) -> String {
    format!(r#"{{"a":{}}}"#, nested(depth - 1))
}

#[test]
fn the_fixture_key_signs_what_rolegate_verifies() {
    let t = valid_token("");
    assert!(matches!(
        decide_at(&config(), &Request::bearer(&t), NOW),
        Outcome::Allow(_)
    ));
}

// ---------------------------------------------------------------------------------------------
// Crashes found by fuzzing: none so far (see tests/FUZZING.md for the runs). Each input a
// fuzzer finds gets a test here, named after its target, with the input inline.

// Found by the limits audit (not by a fuzzer): see "Open core bugs" at the end of this file.

// ---------------------------------------------------------------------------------------------
// Token bytes.

#[test]
fn a_token_over_the_limit_is_refused_before_it_is_decoded() {
    // Not even base64: the length check must come first.
    let long = format!(
        "{}.{}.{}",
        "!".repeat(4000),
        "!".repeat(4000),
        "!".repeat(998)
    );
    assert_eq!(long.len(), 9000);
    assert_eq!(token::parse(&long, 8192).err(), Some(TokenError::TooLong));
    // One byte under the limit is judged on its content instead.
    let at_limit = &long[..8192];
    assert_ne!(
        token::parse(at_limit, 8192).err(),
        Some(TokenError::TooLong)
    );
    // A correctly signed token is refused too, once over the limit.
    let padded = valid_token(&format!(r#","pad":"{}""#, "x".repeat(7000)));
    assert!(padded.len() > 8192, "{}", padded.len());
    assert_eq!(
        denial_of(&padded, NOW),
        Some((DenyReason::Malformed, "token too long"))
    );
}

#[test]
fn the_token_limit_itself_is_bounded() {
    let bad = [
        "255",
        "65537",
        "-1",
        "8192.5",
        "1e4",
        "\"8192\"",
        "18446744073709551616",
    ];
    assert_bounded("max_token_bytes", &bad, &["256", "65536"]);
}

#[test]
fn a_huge_signature_segment_is_refused_without_rsa_math() {
    let good = valid_token("");
    let (input, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", b64(&[0xAB; 5000]));
    assert_eq!(reason_of(&forged, NOW), Some(DenyReason::Signature));
}

// ---------------------------------------------------------------------------------------------
// JSON depth: token header and payload, key sets, discovery documents, configuration.

#[test]
fn deep_token_json_is_refused_at_the_documented_depth() {
    let header = r#"{"alg":"RS256"}"#;
    let shallow = format!(
        "{}.{}.",
        b64(header.as_bytes()),
        b64(nested_object(MAX_JSON_DEPTH).as_bytes())
    );
    assert!(token::parse(&shallow, 65536).is_ok());
    for depth in [MAX_JSON_DEPTH + 1, 100, 10_000] {
        let payload = format!(
            "{}.{}.",
            b64(header.as_bytes()),
            b64(nested_object(depth).as_bytes())
        );
        assert_eq!(
            token::parse(&payload, 65536).err(),
            Some(TokenError::NotJsonObject(Segment::Payload)),
            "payload depth {depth}"
        );
        let deep_header = format!(r#"{{"alg":"RS256","x":{}}}"#, nested(depth - 1));
        let t = format!("{}.{}.", b64(deep_header.as_bytes()), b64(b"{}"));
        assert_eq!(
            token::parse(&t, 65536).err(),
            Some(TokenError::NotJsonObject(Segment::Header)),
            "header depth {depth}"
        );
    }
}

#[test]
fn brackets_inside_strings_do_not_count_as_depth() {
    let payload = format!(
        r#"{{"s":"{}\"{}","t":"\\"}}"#,
        "[{".repeat(100),
        "]}".repeat(3)
    );
    let t = format!(
        "{}.{}.",
        b64(br#"{"alg":"RS256"}"#),
        b64(payload.as_bytes())
    );
    let parsed = token::parse(&t, 65536).expect("strings are not nesting");
    assert_eq!(parsed.claims["t"], "\\");
}

#[test]
fn deep_key_sets_and_discovery_documents_are_refused() {
    for depth in [MAX_JSON_DEPTH + 1, 100, 100_000] {
        let doc = format!(r#"{{"keys":[{{"x":{}}}]}}"#, nested(depth - 3));
        assert_eq!(
            KeySet::parse(doc.as_bytes()).err(),
            Some(KeySetError::TooDeep),
            "{depth}"
        );
        if doc.len() <= MAX_DOCUMENT_BYTES {
            let doc = format!(r#"{{"issuer":"{ISS}","x":{}}}"#, nested(depth - 1));
            assert_eq!(
                discovery::jwks_uri(doc.as_bytes(), &[ISS.to_string()]),
                Err(DiscoveryError::NotJson),
                "{depth}"
            );
        }
    }
    let ok = format!(r#"{{"keys":[],"x":{}}}"#, nested(MAX_JSON_DEPTH - 1));
    assert!(KeySet::parse(ok.as_bytes()).is_ok());
}

#[test]
fn deep_configuration_is_an_error_not_a_stack_overflow() {
    // The configuration has no depth check of its own: serde_json's recursion limit (128)
    // is what stands between a deep document and the stack. This pins it.
    for depth in [100, 129, 100_000] {
        let text = config_text(&format!(r#","extra":{}"#, nested(depth)));
        assert!(Config::parse(text.as_bytes()).is_err(), "{depth}");
    }
    let local = config_text("").replace(
        r#""keys":["#,
        &format!(r#""deep":{},"keys":["#, nested(100_000)),
    );
    assert!(Config::parse(local.as_bytes()).is_err());
}

// ---------------------------------------------------------------------------------------------
// exp / nbf: whole non-negative seconds up to 9999-12-31 only; nothing is rounded or wrapped.

const BAD_NUMERIC_DATES: [&str; 14] = [
    "9223372036854775807",  // i64::MAX: beyond MAX_NUMERIC_DATE
    "9223372036854775808",  // 2^63
    "18446744073709551615", // u64::MAX
    "18446744073709551616", // 2^64: no longer an integer to serde_json
    "1e308",
    "1e309", // out of f64 range: not JSON serde_json accepts as a number
    "-1",
    "-9223372036854775808",
    "1.5",
    "1700000000.0",
    "1.7e9",
    "\"1700003600\"",
    "253402300800", // one past 9999-12-31T23:59:59Z
    "null",
];

#[test]
fn hostile_exp_values_are_refused_not_wrapped() {
    for exp in BAD_NUMERIC_DATES {
        let text = format!(r#"{{"exp":{exp}}}"#);
        let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(&text) else {
            // Not JSON at all (1e309): the token parser refuses it before any claim check.
            let t = format!("{}.{}.", b64(br#"{"alg":"RS256"}"#), b64(text.as_bytes()));
            assert_eq!(
                token::parse(&t, 8192).err(),
                Some(TokenError::NotJsonObject(Segment::Payload)),
                "{exp}"
            );
            continue;
        };
        for now in [i64::MIN, -1, 0, NOW, i64::MAX] {
            for skew in [0, 3600] {
                assert_eq!(
                    claims::check_lifetime(&claims, now, skew),
                    Err(LifetimeError::ExpMissingOrInvalid),
                    "exp {exp} now {now}"
                );
            }
        }
    }
    let edge = claims_of(&format!(r#"{{"exp":{MAX_NUMERIC_DATE}}}"#));
    assert_eq!(claims::check_lifetime(&edge, NOW, 60), Ok(()));
    assert_eq!(
        claims::check_lifetime(&edge, i64::MAX, 3600),
        Err(LifetimeError::Expired)
    );
    let zero = claims_of(r#"{"exp":0}"#);
    assert_eq!(
        claims::check_lifetime(&zero, i64::MIN, 3600),
        Ok(()),
        "a clock before 1970 is the host's business, and must not overflow"
    );
}

#[test]
fn hostile_nbf_values_are_refused_not_wrapped() {
    for nbf in BAD_NUMERIC_DATES {
        let text = format!(r#"{{"exp":{},"nbf":{nbf}}}"#, NOW + 60);
        let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for now in [i64::MIN, 0, NOW, i64::MAX] {
            let got = claims::check_lifetime(&claims, now, 3600);
            if now >= NOW + 60 + 3600 {
                assert_eq!(got, Err(LifetimeError::Expired), "nbf {nbf}");
            } else {
                assert_eq!(got, Err(LifetimeError::NbfInvalid), "nbf {nbf} now {now}");
            }
        }
    }
    let edge = claims_of(&format!(
        r#"{{"exp":{MAX_NUMERIC_DATE},"nbf":{MAX_NUMERIC_DATE}}}"#
    ));
    assert_eq!(
        claims::check_lifetime(&edge, i64::MIN, 3600),
        Err(LifetimeError::NotYetValid)
    );
}

#[test]
fn signed_tokens_with_hostile_exp_are_denied_as_malformed() {
    for exp in [
        "18446744073709551616",
        "1e308",
        "-1",
        "1.5",
        "\"123\"",
        "9223372036854775808",
    ] {
        let t = token(&format!(r#"{{"iss":"{ISS}","aud":"api","exp":{exp}}}"#));
        assert_eq!(
            denial_of(&t, NOW),
            Some((
                DenyReason::BadTimeClaim,
                "token exp is missing or not a NumericDate"
            )),
            "{exp}"
        );
    }
    let t = valid_token(r#","nbf":1e308"#);
    assert_eq!(reason_of(&t, NOW), Some(DenyReason::BadTimeClaim));
    // Extreme host clocks decide, they do not overflow.
    let t = token(&format!(
        r#"{{"iss":"{ISS}","aud":"api","exp":{MAX_NUMERIC_DATE},"nbf":0}}"#
    ));
    assert_eq!(reason_of(&t, i64::MAX), Some(DenyReason::Expired));
    assert_eq!(reason_of(&t, i64::MIN), Some(DenyReason::NotYetValid));
}

#[test]
fn clock_skew_is_bounded_in_the_configuration() {
    let bad = [
        "3601",
        "-1",
        "1e20",
        "18446744073709551616",
        "60.5",
        "\"60\"",
    ];
    assert_bounded("clock_skew_seconds", &bad, &["3600"]);
}

// ---------------------------------------------------------------------------------------------
// Key sets: size of the body, number of keys, size of each key.

fn key_set_of(n: usize) -> String {
    let keys = vec![public_jwk().replace(KID, "k"); n]
        .iter()
        .enumerate()
        .map(|(i, k)| k.replace(r#""kid":"k""#, &format!(r#""kid":"k{i}""#)))
        .collect::<Vec<_>>()
        .join(",");
    format!(r#"{{"keys":[{keys}]}}"#)
}

#[test]
fn a_key_set_of_101_keys_is_refused_and_100_are_read() {
    let many = key_set_of(MAX_KEYS + 1);
    assert_eq!(
        KeySet::parse(many.as_bytes()).err(),
        Some(KeySetError::TooManyKeys(MAX_KEYS + 1))
    );
    assert_eq!(
        key_set_from_response(Some(200), many.as_bytes(), 4 << 20).err(),
        Some(FetchError::NotKeySet(KeySetError::TooManyKeys(
            MAX_KEYS + 1
        )))
    );
    // Unusable entries count too: 101 empty objects are as many keys.
    let empties = format!(r#"{{"keys":[{}]}}"#, vec!["{}"; MAX_KEYS + 1].join(","));
    assert_eq!(
        KeySet::parse(empties.as_bytes()).err(),
        Some(KeySetError::TooManyKeys(MAX_KEYS + 1))
    );
    let hundred = KeySet::parse(key_set_of(MAX_KEYS).as_bytes()).expect("100 keys");
    assert_eq!(hundred.usable_count(), MAX_KEYS);
    // The same limit holds inline.
    let inline = config_text("").replace(
        &format!(r#"{{"keys":[{}]}}"#, public_jwk()),
        &key_set_of(MAX_KEYS + 1),
    );
    let e = match Config::parse(inline.as_bytes()) {
        Ok(_) => panic!("101 inline keys accepted"),
        Err(e) => e.iter().map(ToString::to_string).collect::<Vec<_>>(),
    };
    assert!(
        e.iter().any(|m| m.contains("101 keys, more than 100")),
        "{e:?}"
    );
}

#[test]
fn a_key_set_body_over_the_limit_is_refused_before_parsing() {
    let body = vec![b'{'; 2048];
    assert_eq!(
        key_set_from_response(Some(200), &body, 2047).err(),
        Some(FetchError::TooLarge(2048))
    );
    let good = key_set_of(1);
    assert!(key_set_from_response(Some(200), good.as_bytes(), good.len()).is_ok());
    assert_eq!(
        key_set_from_response(Some(200), good.as_bytes(), good.len() - 1).err(),
        Some(FetchError::TooLarge(good.len()))
    );
    for bad in ["1023", "4194305", "-1", "1e6"] {
        let remote = format!(
            r#"{{"providers":[{{"name":"p","issuer":"i","audiences":["a"],
              "remote_jwks":{{"cluster":"c","uri":"http://idp/keys","max_jwks_bytes":{bad}}}}}],
              "rules":[{{"match":{{"prefix":"/"}}}}]}}"#
        );
        let e = Config::parse(remote.as_bytes()).err().unwrap_or_default();
        assert!(
            e.iter().any(|m| m.field.ends_with("max_jwks_bytes")),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn key_sizes_and_exponents_are_bounded() {
    let mut n = vec![0xC5u8; 8192 / 8 + 1];
    assert_eq!(
        Rs256Key::from_components(&n, &[1, 0, 1]).err(),
        Some(KeyWeakness::ModulusTooLarge(8200))
    );
    n.truncate(8192 / 8);
    assert!(Rs256Key::from_components(&n, &[1, 0, 1]).is_ok());
    for e in [
        &[1u8, 0, 0, 0, 1][..],
        &[],
        &[0, 0, 0, 0, 0, 0, 0, 0, 3][..],
    ] {
        // Leading zeros are stripped first: the last one is e = 3, allowed.
        let got = Rs256Key::from_components(&n, e).err();
        if e.last() == Some(&3) {
            assert_eq!(got, None);
        } else {
            assert_eq!(got, Some(KeyWeakness::BadExponent), "{e:?}");
        }
    }
    // An 8192-bit modulus hidden behind 100 KB of leading zeros is still 8192 bits, and
    // a signature must match the real modulus length, not the padded one.
    let mut padded = vec![0u8; 100_000];
    padded.extend_from_slice(&n);
    let key = Rs256Key::from_components(&padded, &[1, 0, 1]).expect("leading zeros allowed");
    assert_eq!(key.modulus_bits(), 8192);
    assert!(!key.verify(b"m", &vec![1u8; padded.len()]));
    let doc = format!(
        r#"{{"keys":[{{"kty":"RSA","kid":"big","n":"{}","e":"AQAB"}}]}}"#,
        b64(&[0xC5u8; 2048])
    );
    let set = KeySet::parse(doc.as_bytes()).expect("a set");
    assert!(matches!(
        set.lookup(Some("big"), None),
        KeyLookup::Unusable(Unusable::Weak(KeyWeakness::ModulusTooLarge(16384)))
    ));
}

// ---------------------------------------------------------------------------------------------
// Values that leave the filter as headers.

#[test]
fn claim_header_values_are_bounded_and_clean() {
    let at_limit = "a".repeat(MAX_CLAIM_HEADER_BYTES);
    let over = "a".repeat(MAX_CLAIM_HEADER_BYTES + 1);
    let joined: Vec<String> = vec!["abcdefg".to_string(); MAX_CLAIM_HEADER_BYTES / 8 + 1];
    let claims = claims_of(
        &serde_json::json!({
            "at": at_limit, "over": over, "joined": joined, "nul": "a\u{0}b",
            "lf": ["ok", "x\ny"], "del": "\u{7f}", "nested": [["a"]], "big": 1e308,
            "tab": "a\tb", "utf8": "\u{e9}\u{1F600}",
        })
        .to_string(),
    );
    let header = |name: &str| claims::header_value(&claims, name);
    assert_eq!(header("at").as_deref(), Some(&*at_limit));
    for dropped in ["over", "joined", "nul", "lf", "del", "nested"] {
        assert_eq!(header(dropped), None, "{dropped}");
    }
    // Numbers are forwarded as serde_json writes them.
    assert_eq!(header("big").as_deref(), Some("1e+308"));
    assert_eq!(header("tab").as_deref(), Some("a\tb"));
    assert!(header("utf8").is_some());

    // Through the decision: the long claim is dropped and the client's copy still removed.
    let config = config();
    let t = valid_token(&format!(r#","azp":"{over}""#));
    let Outcome::Allow(allow) = decide_at(&config, &Request::bearer(&t), NOW) else {
        panic!("a valid token")
    };
    assert_eq!(allow.add_headers().count(), 0);
    assert!(allow.remove_headers().any(|h| h == "x-client-id"));
}

#[test]
fn the_realm_echoed_from_authority_is_bounded_and_clean() {
    let config = config();
    let authority = format!("{}\"\\\r\n\u{0}{}", "h".repeat(10), "\u{e9}".repeat(10_000));
    let request = Request(vec![
        (":method", "GET".into()),
        (":path", "/api".into()),
        (":authority", authority),
    ]);
    let Outcome::Deny(denial) = decide_at(&config, &request, NOW) else {
        panic!("no token must be denied")
    };
    let realm = denial.realm.expect("a realm");
    assert_eq!(realm.chars().count(), 255);
    assert!(!realm
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\'));
}

// ---------------------------------------------------------------------------------------------
// Discovery documents.

#[test]
fn discovery_documents_are_bounded() {
    let issuers = [ISS.to_string()];
    let doc = format!(r#"{{"issuer":"{ISS}","jwks_uri":"https://idp.example/keys"}}"#);
    let mut exact = doc.clone();
    exact.push_str(&" ".repeat(MAX_DOCUMENT_BYTES - doc.len()));
    assert_eq!(
        discovery::jwks_uri(exact.as_bytes(), &issuers).as_deref(),
        Ok("https://idp.example/keys")
    );
    exact.push(' ');
    assert_eq!(
        discovery::jwks_uri(exact.as_bytes(), &issuers),
        Err(DiscoveryError::TooLarge(MAX_DOCUMENT_BYTES + 1))
    );
    // An issuer the document names is echoed into a log line: 200 characters at most.
    let spoofed = format!(
        r#"{{"issuer":"{}","jwks_uri":"https://e/k"}}"#,
        "\u{e9}".repeat(30_000)
    );
    let Err(DiscoveryError::IssuerMismatch(shown)) =
        discovery::jwks_uri(spoofed.as_bytes(), &issuers)
    else {
        panic!("issuer mismatch expected")
    };
    assert_eq!(shown.chars().count(), 200);
    // A jwks_uri that is not an http(s) URL is refused.
    for uri in [
        "",
        "/keys",
        "ftp://h/k",
        "https://",
        "https://u@h/k",
        "https://h/k#f",
    ] {
        let d = format!(r#"{{"issuer":"{ISS}","jwks_uri":"{uri}"}}"#);
        assert_eq!(
            discovery::jwks_uri(d.as_bytes(), &issuers),
            Err(DiscoveryError::NoJwksUri),
            "{uri}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The record all workers share: corrupt or extreme values must not wrap or panic.

#[test]
fn shared_records_with_out_of_range_numbers_are_not_read() {
    for bad in [
        "v1 18446744073709551616 0 0 0 0 0 0 0 0",
        "v1 0 0 0 4294967296 0 0 0 0 0",
        "v1 -1 0 0 0 0 0 0 0 0",
        "v1 1.5 0 0 0 0 0 0 0 0",
        "v1 0 0 0 0 0 0 0 0",
        "v1  0 0 0 0 0 0 0 0 0",
        "v1 0 0 0 0 0 0 0 0 ",
        "v2 0 0 0 0 0 0 0 0 0",
        "",
    ] {
        assert_eq!(SharedFetchRecord::decode(bad.as_bytes()), None, "{bad:?}");
    }
    assert_eq!(SharedFetchRecord::decode(&[b'v', b'1', b' ', 0xff]), None);
}

#[test]
fn extreme_shared_records_never_wrap_into_a_past_state() {
    let max = "v1 18446744073709551615 18446744073709551615 18446744073709551615 4294967295 18446744073709551615 18446744073709551615 18446744073709551615 18446744073709551615 1";
    let mut r = SharedFetchRecord::decode(max.as_bytes()).expect("in range");
    assert_eq!(r.encode(), max);
    assert!(r.try_claim(u64::MAX, u64::MAX, u64::MAX));
    assert_eq!(r.lease_expires_ms, u64::MAX);
    r.failed(u64::MAX, u64::MAX, 0.999);
    assert_eq!(r.consecutive_failures, u32::MAX);
    assert_eq!(r.next_fetch_ms, u64::MAX);
    r.succeeded(1, u64::MAX, u64::MAX, true, 0.5);
    // The generation must still move (see below); the fetch count saturates, and a waiter
    // that can no longer see it move is answered at its deadline.
    assert_eq!((r.generation, r.completed), (1, u64::MAX));
    let _ = r.request_refetch(u64::MAX, u64::MAX);
    let _ = r.request_refetch(0, u64::MAX);
    assert_eq!(SharedFetchRecord::decode(r.encode().as_bytes()), Some(r));
}

const REMOTE: &str = r#"{"providers":[{"name":"p","issuer":"i","audiences":["a"],
    "remote_jwks":{"cluster":"idp","uri":"http://idp/keys","max_jwks_bytes":1024}}],
    "rules":[{"match":{"prefix":"/"}}]}"#;
#[test]
fn a_corrupt_shared_record_is_replaced_and_an_oversized_body_ignored() {
    let config = Config::parse(REMOTE.as_bytes()).unwrap();
    let store = MemorySharedData::default();
    let mut cache = WorkerKeySets::new(&config, 3);
    let record_key = cache.record_key(0).unwrap().to_string();
    let body_key = cache.body_key(0).unwrap().to_string();
    assert!(store.set(&record_key, &[0xff; 64], 0));
    let _ = cache.sync(&store);
    assert_eq!(cache.claim_due(&store, 10), vec![0]);
    let (record, _) = store.get(&record_key).unwrap();
    let record = SharedFetchRecord::decode(&record).expect("rewritten readable");
    assert_eq!(record.lease_holder, 3);

    // Another worker "published" a body over this provider's limit: it is not parsed.
    let big = key_set_of(3);
    assert!(big.len() > 1024);
    assert!(store.set(&body_key, big.as_bytes(), 0));
    let mut published = record;
    published.generation = 1;
    assert!(store.set(&record_key, published.encode().as_bytes(), 0));
    let mut other = WorkerKeySets::new(&config, 4);
    let _ = other.sync(&store);
    assert!(matches!(other.keys(0), KeySetState::Pending));
}

// ---------------------------------------------------------------------------------------------
// Core bugs found by the limits audit, fixed; these keep them fixed.

/// `claims::check_lifetime` adds the skew to `exp` unchecked: the configuration caps the skew
/// at 3600 s so `decide` never overflows, but the public function panics (debug) or wraps
/// (release: `nbf - i64::MIN` wraps negative and a future nbf passes) for an extreme skew.
#[test]
fn check_lifetime_does_not_overflow_for_any_skew() {
    let claims = claims_of(&format!(
        r#"{{"exp":{MAX_NUMERIC_DATE},"nbf":{MAX_NUMERIC_DATE}}}"#
    ));
    for skew in [i64::MAX, i64::MAX - MAX_NUMERIC_DATE + 1, i64::MIN, -1] {
        for now in [i64::MIN, 0, NOW, i64::MAX] {
            let got = std::panic::catch_unwind(|| claims::check_lifetime(&claims, now, skew));
            let got = got.unwrap_or_else(|_| panic!("panicked: now {now} skew {skew}"));
            if now < MAX_NUMERIC_DATE && skew <= 0 {
                // No skew (or a negative one) never makes a token from 9999 valid today.
                assert_ne!(got, Ok(()), "now {now} skew {skew}");
            }
        }
    }
}

/// A readable record whose generation is already u64::MAX (corruption, or a hostile VM in the
/// same Envoy) freezes key rotation: `succeeded(changed = true)` saturates, the generation no
/// longer moves, and other workers never load the new key set until a restart.
#[test]

fn a_changed_key_set_always_moves_the_generation() {
    let mut r = SharedFetchRecord::decode(b"v1 18446744073709551615 0 0 0 0 0 0 0 0").unwrap();
    let before = r.generation;
    r.succeeded(1, 10, 10, true, 0.5);
    assert_ne!(r.generation, before);
    assert_ne!(r.generation, 0, "0 means no key set");
}

/// The record decoder ignores fields after the ninth and reads any non-zero flag as true
/// (`+1` also parses): lenient for a format only rolegate writes.
#[test]

fn shared_records_are_decoded_strictly() {
    for lenient in [
        "v1 1 2 3 4 5 6 7 8 0 trailing",
        "v1 1 2 3 4 5 6 7 8 2",
        "v1 +1 2 3 4 5 6 7 8 0",
    ] {
        assert_eq!(
            SharedFetchRecord::decode(lenient.as_bytes()),
            None,
            "{lenient}"
        );
    }
}
