//! Third-party test vectors run through rolegate's core, row by row.
//!
//! The data lives in `tests/vectors/` (sources and licenses in its README). Every row of every
//! file is checked against the upstream expectation; where rolegate answers differently on
//! purpose, the row is recorded under one of the policies below, and each test pins both the
//! number of rows it saw and the number of rows per policy, so neither a silently empty loop
//! nor a silently widened exception can pass.

#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rolegate::config::Config;
use rolegate::crypto::rs256::Rs256Key;
use rolegate::decision::{DenyReason, Outcome};
use rolegate::keys::jwks::{KeyLookup, KeySet, KeySetError, Unusable};
use rolegate::token::base64url;
use rolegate::token::claims::{self, LifetimeError};
use rolegate::token::{self, Segment, TokenError, UnverifiedToken};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::PublicKey;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Display;

mod support;
use support::{decide_at, hex, read, read_json, Request};

// Policies: why rolegate's answer for a row differs from the upstream expectation.

/// Only `alg: "RS256"` is accepted; HS*, ES*, PS*, RS384/512, EdDSA and none are refused.
const ONLY_RS256: &str = "only RS256 is accepted";
/// A JWT payload must be a JSON object (RFC 7519 §7.2); JWS vectors sign arbitrary bytes.
const CLAIMS_SET: &str = "payload must be a JSON claims set";
/// Segments must be canonical unpadded base64url (RFC 7515 §2).
const STRICT_BASE64URL: &str = "strict base64url";
/// Key members `n`/`e` may be standard base64 or padded: they come from the configured IdP.
const TOLERANT_KEY_BASE64: &str = "key members may be standard base64";
/// Key sets must be strict JSON.
const STRICT_JSON: &str = "key set must be strict JSON";
/// Only RFC 7517 `{"keys": [...]}` documents are key sets (no Google x509 map, no PEM).
const JWKS_ONLY: &str = "only RFC 7517 JWKS documents";
/// Without kid/x5t only a set with a single usable key is used; keys are never tried in turn.
const NO_KEY_TRIAL: &str = "no kid: no trying of keys";
/// A key that cannot be used is skipped; the rest of its set stays usable.
const LENIENT_KEY_SET: &str = "unusable keys are skipped, not fatal";
/// RSA keys are not screened for the ROCA (CVE-2017-15361) fingerprint.
const NO_ROCA_CHECK: &str = "no ROCA fingerprint check";
/// Clock skew is at most 3600 s.
const SKEW_CAP: &str = "clock skew is capped at 3600 s";
/// Wycheproof `acceptable` (DigestInfo without NULL) is rejected: only the one DER encoding.
const ACCEPTABLE_REJECTED: &str = "`acceptable` is rejected";
/// Rows that exercise a format rolegate does not read at all.
const SKIP_PEM: &str = "skipped: PEM key, not read by rolegate";
const SKIP_NO_DATA: &str = "skipped: API-only test without key set text";

/// Vector tokens are parsed with the largest token size the configuration allows.
const MAX_TOKEN_BYTES: usize = 65536;

// ---------------------------------------------------------------------------------------------
// Data access

fn read_text(rel: &str) -> String {
    String::from_utf8(read(rel)).unwrap_or_else(|e| panic!("{rel} is not UTF-8: {e}"))
}

fn text<'a>(value: &'a Value, member: &str) -> &'a str {
    value[member]
        .as_str()
        .unwrap_or_else(|| panic!("{member} is not a string in {value}"))
}

fn list<'a>(value: &'a Value, member: &str) -> &'a [Value] {
    value[member]
        .as_array()
        .unwrap_or_else(|| panic!("{member} is not an array"))
}

// ---------------------------------------------------------------------------------------------
// Row bookkeeping

/// Rows of one data file: what was checked, what failed, and which rows deviate from upstream
/// (or were skipped) under which policy.
struct Tally {
    file: String,
    rows: usize,
    skipped: usize,
    failures: Vec<String>,
    deviations: BTreeMap<&'static str, Vec<String>>,
}

impl Tally {
    fn new(file: impl Into<String>) -> Self {
        Tally {
            file: file.into(),
            rows: 0,
            skipped: 0,
            failures: Vec::new(),
            deviations: BTreeMap::new(),
        }
    }

    /// One row: `ok` is whether rolegate did what the (policy-adjusted) expectation says.
    fn check(&mut self, id: impl Display, ok: bool, detail: impl Display) {
        self.rows += 1;
        if !ok {
            self.failures.push(format!("row {id}: {detail}"));
        }
    }

    /// The row's expectation is not upstream's, because of `policy`.
    fn deviate(&mut self, policy: &'static str, id: impl Display) {
        self.deviations
            .entry(policy)
            .or_default()
            .push(id.to_string());
    }

    /// A row that is counted but not run.
    fn skip(&mut self, reason: &'static str, id: impl Display) {
        self.rows += 1;
        self.skipped += 1;
        self.deviate(reason, id);
    }

    /// Asserts that every row passed, that `rows` rows were seen, and the count per policy.
    fn finish(self, rows: usize, deviations: &[(&str, usize)]) {
        let counts: BTreeMap<&str, usize> = self
            .deviations
            .iter()
            .map(|(p, ids)| (*p, ids.len()))
            .collect();
        let mut summary = format!(
            "{}: {} rows, {} passed, {} skipped",
            self.file,
            self.rows,
            self.rows - self.skipped - self.failures.len(),
            self.skipped
        );
        for (policy, ids) in &self.deviations {
            summary.push_str(&format!(
                "\n    {policy}: {} [{}]",
                ids.len(),
                ids.join(" ")
            ));
        }
        println!("{summary}");
        assert!(
            self.failures.is_empty(),
            "{}: {} rows failed:\n{}",
            self.file,
            self.failures.len(),
            self.failures.join("\n")
        );
        assert_eq!(self.rows, rows, "{}: row count", self.file);
        let expected: BTreeMap<&str, usize> = deviations.iter().copied().collect();
        assert_eq!(counts, expected, "{}: rows per policy", self.file);
    }
}

// ---------------------------------------------------------------------------------------------
// Keys, tokens and the signature path

/// A key set holding `keys`, through the byte parser the proxy uses.
fn key_set(keys: &[Value]) -> KeySet {
    let doc = serde_json::to_vec(&json!({ "keys": keys })).expect("serializes");
    KeySet::parse(&doc).unwrap_or_else(|e| panic!("key set refused: {e}"))
}

/// A JWK without its private members.
fn public_members(jwk: &Value) -> Value {
    let mut public = jwk.clone();
    if let Some(members) = public.as_object_mut() {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            members.remove(private);
        }
    }
    public
}

/// Key lookup, then RSASSA-PKCS1-v1_5 SHA-256 verification; `Err` says which step refused.
fn verify_with(
    set: &KeySet,
    kid: Option<&str>,
    x5t: Option<&str>,
    signing_input: &str,
    signature: &[u8],
) -> Result<(), String> {
    match set.lookup(kid, x5t) {
        KeyLookup::Found(key) if key.verify(signing_input.as_bytes(), signature) => Ok(()),
        KeyLookup::Found(_) => Err("signature does not verify".into()),
        KeyLookup::Unusable(why) => Err(format!("key unusable: {why}")),
        KeyLookup::NotFound => Err("no key found".into()),
    }
}

/// rolegate's whole signature path for a token: `token::parse`, key lookup by kid/x5t, verify.
fn chain<'t>(token: &'t str, set: &KeySet) -> Result<UnverifiedToken<'t>, String> {
    let parsed = token::parse(token, MAX_TOKEN_BYTES).map_err(|e| format!("token: {e:?}"))?;
    verify_with(
        set,
        parsed.kid.as_deref(),
        parsed.x5t.as_deref(),
        parsed.signing_input,
        &parsed.signature,
    )?;
    Ok(parsed)
}

/// A compact JWS split like `token::parse` splits a JWT (three segments, strict base64url, a
/// JSON-object header, kid a string), minus the JWT-only rule that the payload is a JSON
/// object. JWS vectors (Wycheproof, RFC 7520) sign arbitrary bytes; this lets their signatures
/// still reach the key lookup and the RSA check. `chain` is always asserted alongside.
struct Jws<'t> {
    alg: Option<String>,
    kid: Option<String>,
    x5t: Option<String>,
    signing_input: &'t str,
    signature: Vec<u8>,
}

fn split_jws(token: &str) -> Result<Jws<'_>, String> {
    let segments: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = segments[..] else {
        return Err("not three segments".into());
    };
    let decode = |s: &str| base64url::decode(s).ok_or_else(|| "not base64url".to_string());
    let header: Value = serde_json::from_slice(&decode(header_b64)?).map_err(|e| e.to_string())?;
    let header = header.as_object().ok_or("header is not an object")?;
    decode(payload_b64)?;
    if header.contains_key("crit") {
        return Err("crit".into());
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("kid is not a string".into()),
    };
    let member = |name: &str| header.get(name).and_then(Value::as_str).map(String::from);
    Ok(Jws {
        alg: member("alg"),
        kid,
        x5t: member("x5t"),
        signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
        signature: decode(signature_b64)?,
    })
}

/// The JWS-level path: split, alg must be RS256, key lookup, verify.
fn jws_chain(token: &str, set: &KeySet) -> Result<(), String> {
    let jws = split_jws(token)?;
    if jws.alg.as_deref() != Some("RS256") {
        return Err(format!("alg {:?}", jws.alg));
    }
    verify_with(
        set,
        jws.kid.as_deref(),
        jws.x5t.as_deref(),
        jws.signing_input,
        &jws.signature,
    )
}

fn alg_of(token: &str) -> Option<String> {
    split_jws(token).ok().and_then(|jws| jws.alg)
}

fn payload_is_claims_set(token: &str) -> bool {
    token
        .split('.')
        .nth(1)
        .and_then(base64url::decode)
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|payload| payload.is_object())
}

/// What a key lookup found, coarsely, for tables.
fn lookup_class(lookup: KeyLookup<'_>) -> &'static str {
    match lookup {
        KeyLookup::Found(_) => "found",
        KeyLookup::NotFound => "not found",
        KeyLookup::Unusable(why) => match why {
            Unusable::NotRsa(_) => "not RSA",
            Unusable::UseNotSig(_) => "use not sig",
            Unusable::AlgNotRs256(_) => "alg not RS256",
            Unusable::KeyOpsWithoutVerify => "key_ops without verify",
            Unusable::Malformed(_) => "malformed",
            Unusable::Weak(_) => "weak",
            Unusable::DuplicateKid => "duplicate kid",
            Unusable::DuplicateX5t => "duplicate x5t",
        },
    }
}

fn is_refused_as(token: &str, expected: TokenError) -> bool {
    token::parse(token, MAX_TOKEN_BYTES).err() == Some(expected)
}

/// The key of a PEM `PUBLIC KEY` (SubjectPublicKeyInfo, RFC 5280 §4.1.2.7, holding an
/// RSAPublicKey, RFC 8017 A.1.1), read by the `rsa` crate.
fn rsa_key_from_spki_pem(pem: &str) -> Rs256Key {
    let public = PublicKey::from_public_key_pem(pem).expect("an RSA SubjectPublicKeyInfo");
    let key =
        Rs256Key::from_components(&public.n_bytes(), &public.e_bytes()).expect("a usable RSA key");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = STANDARD.decode(body).expect("PEM body is base64");
    assert_eq!(key.spki_der(), spki, "rolegate's DER encoding of the key");
    key
}

fn jwk_of(key: &Rs256Key) -> Value {
    json!({
        "kty": "RSA",
        "n": base64url::encode(key.modulus()),
        "e": base64url::encode(key.exponent()),
    })
}

// ---------------------------------------------------------------------------------------------
// Full decisions

/// The outcome of a decision: `Ok` for Allow, the reason for a denial.
type Verdict = Result<(), DenyReason>;
const ALLOW: Verdict = Ok(());

/// One provider with a local key set, one rule for every path (requiring `roles`, if any).
fn config_json(issuer: &str, audiences: &[&str], jwks: &Value, roles: &[&str]) -> Value {
    let mut rule = json!({ "match": { "prefix": "/" } });
    if !roles.is_empty() {
        rule["roles"] = json!(roles);
    }
    json!({
        "providers": [{
            "name": "idp",
            "issuer": issuer,
            "audiences": audiences,
            "local_jwks": jwks,
        }],
        "rules": [rule],
    })
}

fn parse(config: &Value) -> Result<Config, Vec<rolegate::ConfigError>> {
    Config::parse(&serde_json::to_vec(config).expect("serializes"))
}

fn compile(config: &Value) -> Config {
    parse(config).unwrap_or_else(|errors| panic!("configuration refused: {errors:?}"))
}

fn decide(config: &Config, authorization: Option<String>, now: i64) -> Verdict {
    match decide_at(config, &Request::get(authorization), now) {
        Outcome::Allow(_) => ALLOW,
        Outcome::Deny(denial) => Err(denial.reason),
        Outcome::WaitForKeys { .. } => panic!("local keys never make a request wait"),
    }
}

fn decide_token(config: &Config, token: &str, now: i64) -> Verdict {
    decide(config, Some(format!("Bearer {token}")), now)
}

// ---------------------------------------------------------------------------------------------
// 1. Wycheproof RSASSA-PKCS1-v1_5 SHA-256 primitive

#[test]
fn wycheproof_rsa_pkcs1_sha256() {
    for (bits, rows) in [(2048, 259), (3072, 259), (4096, 258), (8192, 258)] {
        let file = format!("wycheproof/rsa_signature_{bits}_sha256_test.json");
        let doc = read_json(&file);
        assert_eq!(doc["numberOfTests"], rows, "{file}: numberOfTests");
        let mut tally = Tally::new(&file);
        for group in list(&doc, "testGroups") {
            let public = &group["publicKey"];
            let key = Rs256Key::from_components(
                &hex(text(public, "modulus")),
                &hex(text(public, "publicExponent")),
            )
            .unwrap_or_else(|e| panic!("{file}: group key refused: {e}"));
            assert_eq!(key.modulus_bits(), bits, "{file}: key size");
            assert_eq!(
                key.spki_der(),
                hex(text(group, "publicKeyDer")),
                "{file}: DER SubjectPublicKeyInfo"
            );
            for test in list(group, "tests") {
                let id = &test["tcId"];
                let result = text(test, "result");
                let verified = key.verify(&hex(text(test, "msg")), &hex(text(test, "sig")));
                if result == "acceptable" {
                    tally.deviate(ACCEPTABLE_REJECTED, id);
                }
                tally.check(
                    id,
                    verified == (result == "valid"),
                    format_args!("{result} ({}), verify = {verified}", test["comment"]),
                );
            }
        }
        tally.finish(rows, &[(ACCEPTABLE_REJECTED, 1)]);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Wycheproof JSON Web Signature

#[test]
fn wycheproof_json_web_signature() {
    let file = "wycheproof/json_web_signature_test.json";
    let doc = read_json(file);
    let mut tally = Tally::new(file);
    let mut json_serialized = 0;
    for group in list(&doc, "testGroups") {
        let jwk = group
            .get("public")
            .cloned()
            .unwrap_or_else(|| public_members(&group["private"]));
        let set = key_set(&[jwk]);
        for test in list(group, "tests") {
            let id = &test["tcId"];
            let jws = text(test, "jws");
            let valid = text(test, "result") == "valid";
            let rs256 = alg_of(jws).as_deref() == Some("RS256");
            let want_signature = valid && rs256;
            let want_chain = want_signature && payload_is_claims_set(jws);
            if valid && !rs256 {
                tally.deviate(ONLY_RS256, id);
            } else if want_signature && !want_chain {
                tally.deviate(CLAIMS_SET, id);
            }
            let signature = jws_chain(jws, &set);
            let whole = chain(jws, &set).map(|_| ());
            let mut ok = signature.is_ok() == want_signature && whole.is_ok() == want_chain;
            if jws.starts_with('{') {
                json_serialized += 1;
                ok &= is_refused_as(jws, TokenError::NotThreeSegments);
            }
            tally.check(
                id,
                ok,
                format_args!(
                    "{} ({}): jws {signature:?}, chain {whole:?}",
                    text(test, "result"),
                    test["comment"]
                ),
            );
        }
    }
    assert_eq!(json_serialized, 1, "JSON-serialization rows");
    assert_eq!(doc["numberOfTests"], 401);
    tally.finish(401, &[(ONLY_RS256, 38), (CLAIMS_SET, 8)]);
}

// ---------------------------------------------------------------------------------------------
// 3. Wycheproof JSON Web Key (key set validation)

/// Per tcId: what looking up the token's kid in the group's key set finds, and whether the
/// JWS-level path accepts the token; the policy if that differs from upstream.
const JWK_ROWS: [(u64, &str, bool, Option<&str>); 26] = [
    (1, "not RSA", false, None), // HS256 token; the mixed oct/EC set itself parses
    (2, "not RSA", false, Some(ONLY_RS256)),
    (3, "not RSA", false, None),
    (4, "duplicate kid", false, None), // two oct keys under one kid: neither is used
    (5, "found", true, None),
    (6, "use not sig", false, None), // use: enc, alg: RSA1_5
    (7, "found", true, Some(NO_ROCA_CHECK)),
    (8, "weak", false, None), // 1024-bit modulus
    (9, "weak", false, None), // e = 1
    (10, "not RSA", false, None),
    (11, "not RSA", false, None),
    (12, "not RSA", false, None),
    (13, "not RSA", false, Some(ONLY_RS256)),
    (14, "not RSA", false, Some(ONLY_RS256)),
    (15, "not RSA", false, Some(ONLY_RS256)),
    (16, "not RSA", false, None),
    (17, "not RSA", false, None),
    (18, "not RSA", false, None),
    (19, "not RSA", false, None),
    (20, "not RSA", false, None),
    (21, "not RSA", false, None),
    (22, "not RSA", false, None),
    (23, "not RSA", false, None),
    (24, "alg not RS256", false, None), // kty RSA carrying EC members, alg ES256
    (25, "not RSA", false, None),
    (26, "not RSA", false, None),
];

/// The group's key set: `public` if given, else `private`; a JSON string or an object.
fn wycheproof_key_set(group: &Value) -> Result<KeySet, KeySetError> {
    let keys = group.get("public").unwrap_or(&group["private"]);
    match keys {
        Value::String(doc) => KeySet::parse(doc.as_bytes()),
        object => KeySet::from_value(object),
    }
}

#[test]
fn wycheproof_json_web_key() {
    let file = "wycheproof/json_web_key_test.json";
    let doc = read_json(file);
    let mut tally = Tally::new(file);
    let mut expectations = JWK_ROWS.iter();
    for group in list(&doc, "testGroups") {
        let set = wycheproof_key_set(group).unwrap_or_else(|e| panic!("{}: {e}", group["comment"]));
        for test in list(group, "tests") {
            let id = test["tcId"].as_u64().expect("tcId");
            let &(row, want_lookup, want_accept, policy) =
                expectations.next().expect("a JWK_ROWS entry per row");
            assert_eq!(row, id, "JWK_ROWS is in tcId order");
            let jws = text(test, "jws");
            let valid = text(test, "result") == "valid";
            if let Some(policy) = policy {
                tally.deviate(policy, id);
            }
            let claims_set = payload_is_claims_set(jws);
            if valid && want_accept && !claims_set {
                tally.deviate(CLAIMS_SET, id);
            }
            let header = split_jws(jws).expect("a compact JWS");
            let found = lookup_class(set.lookup(header.kid.as_deref(), header.x5t.as_deref()));
            let signature = jws_chain(jws, &set);
            let whole = chain(jws, &set).map(|_| ());
            let ok = found == want_lookup
                && signature.is_ok() == want_accept
                && whole.is_ok() == (want_accept && claims_set)
                && (valid == want_accept || policy.is_some());
            tally.check(
                id,
                ok,
                format_args!(
                    "{} ({}): key {found}, jws {signature:?}, chain {whole:?}",
                    test["result"], group["comment"]
                ),
            );
        }
    }
    assert!(
        expectations.next().is_none(),
        "JWK_ROWS has more rows than the file"
    );
    tally.finish(26, &[(ONLY_RS256, 4), (NO_ROCA_CHECK, 1), (CLAIMS_SET, 1)]);
}

// ---------------------------------------------------------------------------------------------
// 4. RFC 7515 Appendix A and RFC 7520 §4

#[test]
fn rfc_examples() {
    let mut tally = Tally::new("rfc");
    let appendix = read_json("rfc/rfc7515_appendix_A.json");
    let cases = list(&appendix, "cases");
    for case in cases {
        let id = text(case, "id");
        let token = text(case, "jws_compact");
        let ok = match id {
            "rfc7515-A.2" => {
                let set = KeySet::from_value(&case["jwks"]).expect("A.2 key set");
                let verified = chain(token, &set);
                verified.as_ref().is_ok_and(|t| {
                    claims::check_lifetime(&t.claims, 1_700_000_000, 60)
                        == Err(LifetimeError::Expired)
                })
            }
            "rfc7515-A.1" | "rfc7515-A.5" => is_refused_as(token, TokenError::AlgNotRs256),
            _ => false,
        };
        tally.check(
            id,
            ok,
            "A.2 verifies (and is expired); A.1 and A.5 are refused for alg",
        );
    }
    assert_eq!(cases.len(), 3);

    let cookbook = "rfc/rfc7520_cookbook";
    let rsa_jwk = read_json(&format!("{cookbook}/jwk_3_3.rsa_public_key.json"));
    for (section, name, rs256) in [
        ("4.1", "jws_4_1.rsa_v15_signature.json", true),
        ("4.2", "jws_4_2.rsa-pss_signature.json", false),
        ("4.3", "jws_4_3.ecdsa_signature.json", false),
        ("4.4", "jws_4_4.hmac-sha2_integrity_protection.json", false),
    ] {
        let example = read_json(&format!("{cookbook}/{name}"));
        let jwk = public_members(&example["input"]["key"]);
        if rs256 {
            assert_eq!(jwk, rsa_jwk, "RFC 7520 §4.1 key is §3.3");
            tally.deviate(CLAIMS_SET, section);
        }
        let set = key_set(&[jwk]);
        let compact = text(&example["output"], "compact");
        let signature = jws_chain(compact, &set);
        let ok = signature.is_ok() == rs256
            && if rs256 {
                is_refused_as(compact, TokenError::NotJsonObject(Segment::Payload))
            } else {
                is_refused_as(compact, TokenError::AlgNotRs256)
            };
        tally.check(
            format_args!("7520 {section} compact"),
            ok,
            format_args!("jws {signature:?}"),
        );
        for form in ["json", "json_flat"] {
            let serialized = example["output"][form].to_string();
            tally.check(
                format_args!("7520 {section} {form}"),
                is_refused_as(&serialized, TokenError::NotThreeSegments),
                "JSON serialization must be refused",
            );
        }
    }
    let multiple = read_json(&format!("{cookbook}/jws_4_8.multiple_signatures.json"));
    tally.check(
        "7520 4.8 json",
        is_refused_as(
            &multiple["output"]["json"].to_string(),
            TokenError::NotThreeSegments,
        ),
        "JSON serialization must be refused",
    );
    tally.finish(16, &[(CLAIMS_SET, 1)]);
}

// ---------------------------------------------------------------------------------------------
// 5. golang-jwt

#[test]
fn golang_jwt_cases() {
    let file = "golang_jwt/cases.json";
    let doc = read_json(file);
    let key = rsa_key_from_spki_pem(&read_text("golang_jwt/sample_key.pub"));
    let jwk = jwk_of(&key);
    let collector = &doc["keys"]["sample_key.pub"]["jwk_derived_by_collector"];
    assert_eq!(
        (&jwk["n"], &jwk["e"]),
        (&collector["n"], &collector["e"]),
        "SPKI read back"
    );
    let set = key_set(&[jwk]);
    let mut tally = Tally::new(file);
    for case in list(&doc, "cases") {
        let id = format!("{} {}", case["id"], text(case, "name"));
        let upstream = case["upstream_valid"].as_bool().expect("upstream_valid");
        let rs256 = case["alg"] == "RS256";
        let strict = case["segments_are_strict_canonical_base64url"] == true;
        if upstream && !rs256 {
            tally.deviate(ONLY_RS256, &case["id"]);
        } else if upstream && !strict {
            tally.deviate(STRICT_BASE64URL, &case["id"]);
        }
        let verdict = chain(text(case, "jwt"), &set).map(|_| ());
        tally.check(
            id,
            verdict.is_ok() == (upstream && rs256 && strict),
            format_args!("upstream {upstream}, got {verdict:?}"),
        );
    }
    tally.finish(23, &[(ONLY_RS256, 6), (STRICT_BASE64URL, 2)]);
}

// ---------------------------------------------------------------------------------------------
// 6. google/jwt_verify_lib

fn jwt_verify_lib_cases(kind: &str) -> Vec<Value> {
    let doc = read_json("jwt_verify_lib/cases.json");
    list(&doc, "cases")
        .iter()
        .filter(|case| case["kind"] == kind)
        .cloned()
        .collect()
}

fn case_id(case: &Value) -> String {
    format!("{} {}", case["id"], text(case, "test"))
}

/// Upstream-valid RS256 `verify` rows that rolegate refuses, by test name.
const JWT_VERIFY_LIB_POLICY: [(&str, &str); 6] = [
    ("VerifyJwkRsaTest.NoKidOK", NO_KEY_TRIAL),
    ("VerifyJwkRsaTest.NoKidLongExpOK", NO_KEY_TRIAL),
    ("VerifyJwkRsaTest.OkPublicKeyNotAlg", NO_KEY_TRIAL),
    ("VerifyJwkRsaTest.OkPublicKeyNotKid", NO_KEY_TRIAL),
    ("VerifyX509Test.NoKidToken", JWKS_ONLY),
    ("VerifyX509Test.RealToken", JWKS_ONLY),
];

/// The case's key set; a case without one has an empty set.
fn case_key_set(case: &Value) -> Result<KeySet, KeySetError> {
    match case["jwks"].as_str() {
        None => Ok(KeySet::default()),
        Some(doc) => KeySet::parse(doc.as_bytes()),
    }
}

/// Whether a row is RS256 with a key set to read. A row of another alg is checked to be
/// refused for it (a deviation when upstream calls it valid); a PEM key's row is skipped.
fn rs256_with_a_key_set(tally: &mut Tally, case: &Value, upstream_valid: bool) -> bool {
    if case["jwt_alg"] != "RS256" {
        if upstream_valid {
            tally.deviate(ONLY_RS256, &case["id"]);
        }
        let refused = is_refused_as(text(case, "jwt"), TokenError::AlgNotRs256);
        tally.check(case_id(case), refused, "alg refused");
        return false;
    }
    if case["jwks_type"] == "PEM" {
        tally.skip(SKIP_PEM, &case["id"]);
        return false;
    }
    true
}

/// `verify` rows: signature path (token, key set, kid lookup, RSA) plus the audience check
/// when the row names audiences. Time is not applied (see README).
#[test]
fn jwt_verify_lib_verify() {
    let mut tally = Tally::new("jwt_verify_lib verify");
    for case in jwt_verify_lib_cases("verify") {
        let id = case_id(&case);
        let jwt = text(&case, "jwt");
        let upstream = case["expected"] == "valid";
        if !rs256_with_a_key_set(&mut tally, &case, upstream) {
            continue;
        }
        assert_ne!(case["jwks_is_strict_json"], false, "{id}: lenient JSON");
        let policy = JWT_VERIFY_LIB_POLICY
            .iter()
            .find(|(test, _)| case["test"] == *test)
            .map(|(_, policy)| *policy);
        if let Some(policy) = policy {
            assert!(upstream, "{id}: policy listed for an upstream-invalid row");
            tally.deviate(policy, &case["id"]);
        }
        let audiences: Vec<String> = case["audiences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(String::from))
            .collect();
        let set = case_key_set(&case);
        let refused_set = set.is_err();
        let verdict = set
            .map_err(|e| format!("key set: {e}"))
            .and_then(|set| chain(jwt, &set).map(|t| t.claims))
            .and_then(|claims| {
                (audiences.is_empty() || claims::audience_allowed(&claims, &audiences))
                    .then_some(())
                    .ok_or_else(|| "audience".to_string())
            });
        tally.check(
            id,
            verdict.is_ok() == (upstream && policy.is_none())
                && refused_set == (policy == Some(JWKS_ONLY)),
            format_args!("upstream {}, got {verdict:?}", case["expected_status"]),
        );
    }
    tally.finish(
        46,
        &[
            (ONLY_RS256, 25),
            (SKIP_PEM, 1),
            (NO_KEY_TRIAL, 4),
            (JWKS_ONLY, 2),
        ],
    );
}

/// `verify_fuzzed_signature` generators: every bit flip of the signature and every truncation
/// to 1..k-1 bytes must fail against the key that verifies the original.
#[test]
fn jwt_verify_lib_fuzzed_signatures() {
    let mut tally = Tally::new("jwt_verify_lib verify_fuzzed_signature");
    let mut mutants = 0usize;
    for case in jwt_verify_lib_cases("verify_fuzzed_signature") {
        let id = case_id(&case);
        let jwt = text(&case, "jwt");
        // Another alg is refused before the signature is even decoded: so is every mutant.
        if !rs256_with_a_key_set(&mut tally, &case, false) {
            continue;
        }
        let Ok(set) = case_key_set(&case) else {
            // A Google x509 map is no key set: every mutant is refused, nothing to fuzz
            tally.deviate(JWKS_ONLY, &case["id"]);
            tally.check(
                id,
                case["test"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("VerifyX509Test")),
                "x509 map",
            );
            continue;
        };
        // The key that verifies the original, tried in turn (test side only), so that
        // tokens without kid are fuzzed too.
        let parsed = token::parse(jwt, MAX_TOKEN_BYTES).expect("the original parses");
        let key = set
            .keys()
            .iter()
            .filter_map(|jwk| jwk.key.as_ref().ok())
            .find(|key| key.verify(parsed.signing_input.as_bytes(), &parsed.signature))
            .unwrap_or_else(|| panic!("{id}: no key verifies the original"));
        let message = parsed.signing_input.as_bytes();
        let signature = &parsed.signature;
        let mut accepted = Vec::new();
        for bit in 0..signature.len() * 8 {
            let mut flipped = signature.clone();
            flipped[bit / 8] ^= 0x80 >> (bit % 8);
            if key.verify(message, &flipped) {
                accepted.push(format!("flip {bit}"));
            }
        }
        for len in 1..signature.len() {
            if key.verify(message, &signature[..len]) {
                accepted.push(format!("truncate to {len}"));
            }
        }
        mutants += signature.len() * 9 - 1;
        tally.check(
            id,
            accepted.is_empty(),
            format_args!("mutants accepted: {accepted:?}"),
        );
    }
    println!("    {mutants} RS256 signature mutants, all refused");
    assert_eq!(mutants, 4 * (256 * 9 - 1), "four 2048-bit RS256 generators");
    tally.finish(28, &[(SKIP_PEM, 1), (JWKS_ONLY, 2)]);
}

/// `jwks_parse` rows: a document rolegate accepts as a key set, with how many usable keys.
/// Upstream-valid sets must yield every RSA key; sets upstream refuses must yield none.
#[test]
fn jwt_verify_lib_jwks_parse() {
    let mut tally = Tally::new("jwt_verify_lib jwks_parse");
    for case in jwt_verify_lib_cases("jwks_parse") {
        let id = case_id(&case);
        let Some(doc) = case["jwks"]
            .as_str()
            .filter(|_| case["jwks_type"] == "JWKS")
        else {
            let reason = if case["jwks_type"] == "PEM" {
                SKIP_PEM
            } else {
                SKIP_NO_DATA
            };
            tally.skip(reason, &case["id"]);
            continue;
        };
        let upstream = case["expected"] == "valid";
        let value: Option<Value> = serde_json::from_str(doc).ok();
        let keys = value.as_ref().and_then(|v| v["keys"].as_array());
        let rsa_keys = keys.map_or(0, |k| k.iter().filter(|k| k["kty"] == "RSA").count());
        // Upstream refuses a standard-base64 `n`; rolegate reads it (see the policy).
        let standard_base64_n = case["test"] == "JwksParseTest.JwksRSAInvalidN";
        let expected = match (&value, keys) {
            (None, _) => Err(KeySetError::NotJson),
            (Some(_), None) => Err(KeySetError::NoKeysArray),
            (Some(_), Some(_)) if standard_base64_n => Ok(rsa_keys),
            (Some(_), Some(_)) => Ok(if upstream { rsa_keys } else { 0 }),
        };
        match (upstream, &expected) {
            (true, Err(KeySetError::NotJson)) => tally.deviate(STRICT_JSON, &case["id"]),
            (true, Err(_)) => tally.deviate(JWKS_ONLY, &case["id"]),
            (false, Ok(_)) if standard_base64_n => tally.deviate(TOLERANT_KEY_BASE64, &case["id"]),
            (false, Ok(_)) => tally.deviate(LENIENT_KEY_SET, &case["id"]),
            _ => {}
        }
        let got = KeySet::parse(doc.as_bytes()).map(|set| set.usable_count());
        tally.check(
            id,
            got == expected,
            format_args!(
                "upstream {}, got {got:?}, want {expected:?}",
                case["expected_status"]
            ),
        );
    }
    tally.finish(
        95,
        &[
            (SKIP_PEM, 19),
            (SKIP_NO_DATA, 3),
            (STRICT_JSON, 2),
            (JWKS_ONLY, 4),
            (LENIENT_KEY_SET, 35),
            (TOLERANT_KEY_BASE64, 1),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Envoy jwt_authn

/// Per case id: the decision with the signing key alone, the decision with all of
/// `jwks_strict` (three keys; these tokens carry no kid), and the policy if rolegate's
/// accept/refuse differs from upstream's.
const ENVOY_ROWS: [(u64, Verdict, Verdict, Option<&str>); 16] = {
    use DenyReason::{Audience, Expired, Issuer, Malformed, Signature, UnknownKid};
    [
        (1, ALLOW, Err(UnknownKid), None),
        (2, ALLOW, Err(UnknownKid), None),
        (3, ALLOW, Err(UnknownKid), None),
        (4, Err(Expired), Err(UnknownKid), None),
        (5, Err(Expired), Err(UnknownKid), Some(SKEW_CAP)),
        (6, Err(Signature), Err(UnknownKid), None), // upstream: not yet valid
        (7, Err(Audience), Err(UnknownKid), None),
        (8, ALLOW, Err(UnknownKid), None),
        (9, Err(Audience), Err(UnknownKid), None),
        (10, Err(Issuer), Err(Issuer), None),
        (11, Err(Signature), Err(UnknownKid), None),
        (12, Err(Issuer), Err(Issuer), None),
        (13, ALLOW, Err(UnknownKid), None), // issuer/audiences set to the token's own
        (14, Err(Signature), Err(UnknownKid), None), // upstream: audience
        (15, Err(Malformed), Err(Malformed), None),
        (16, Err(Malformed), Err(Malformed), Some(ONLY_RS256)),
    ]
};

/// Envoy's per-case provider changes, as far as rolegate can express them: a cleared issuer or
/// audience list becomes the token's own (both are required), and the skew is capped.
fn envoy_config(base: &Value, overrides: &Value, payload: &Value) -> Value {
    let mut config = base.clone();
    let provider = &mut config["providers"][0];
    if let Some(issuer) = overrides.get("issuer") {
        if !issuer.is_null() {
            provider["issuer"] = issuer.clone();
        } else if let Some(own) = payload.get("iss") {
            provider["issuer"] = own.clone();
        }
    }
    if let Some(audiences) = overrides.get("audiences") {
        provider["audiences"] = if audiences.is_null() {
            json!([payload["aud"]])
        } else {
            audiences.clone()
        };
    }
    if overrides.get("clock_skew_s").is_some() {
        config["clock_skew_seconds"] = json!(3600);
    }
    config
}

#[test]
fn envoy_jwt_authn_cases() {
    let file = "envoy_jwt_authn/test_common_cases.json";
    let doc = read_json(file);
    let now = 1_700_000_000;
    let provider = &doc["provider_config"];
    let issuer = text(provider, "issuer");
    let audiences: Vec<&str> = list(provider, "audiences")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let jwks: Value = serde_json::from_str(text(&doc, "jwks_strict")).expect("jwks_strict");
    let whole_set = config_json(issuer, &audiences, &jwks, &[]);
    let signing_key = config_json(
        issuer,
        &audiences,
        &json!({ "keys": [jwks["keys"][0]] }),
        &[],
    );
    let mut tally = Tally::new(file);

    let cases = list(&doc, "cases");
    assert_eq!(cases.len(), ENVOY_ROWS.len());
    for (case, &(row, want_signing_key, want_whole_set, policy)) in cases.iter().zip(&ENVOY_ROWS) {
        assert_eq!(case["id"], row, "ENVOY_ROWS is in case order");
        let id = format!("{row} {}", text(case, "token_name"));
        let jwt = text(case, "jwt");
        let upstream = case["expected"] == "valid";
        if let Some(policy) = policy {
            tally.deviate(policy, row);
        }
        let payload: Value = serde_json::from_str(text(case, "payload_json")).expect("payload");
        let overrides = &case["config_overrides"];
        if overrides.get("jwks").is_some() {
            // Envoy's ES256 key set cannot configure a provider: it holds no RS256 key
            let es256: Value = serde_json::from_str(text(&doc, "es256_jwks")).expect("es256");
            let with_es256 = config_json(issuer, &audiences, &es256, &[]);
            assert!(parse(&with_es256).is_err());
        }
        let by_signing_key = decide_token(
            &compile(&envoy_config(&signing_key, overrides, &payload)),
            jwt,
            now,
        );
        let by_whole_set = decide_token(
            &compile(&envoy_config(&whole_set, overrides, &payload)),
            jwt,
            now,
        );
        // The transcription check: an RS256 signature verifies under some key of the set
        // exactly when the collector says so (ES256 rows were checked against their EC key).
        let rs256 = alg_of(jwt).as_deref() == Some("RS256");
        let signed = split_jws(jwt).is_ok_and(|jws| {
            key_set(list(&jwks, "keys")).keys().iter().any(|k| {
                k.key
                    .as_ref()
                    .is_ok_and(|key| key.verify(jws.signing_input.as_bytes(), &jws.signature))
            })
        });
        let ok = by_signing_key == want_signing_key
            && by_whole_set == want_whole_set
            && (!rs256 || signed == (case["signature_valid_under_jwks"] == true))
            && (upstream == (want_signing_key == ALLOW) || policy.is_some());
        tally.check(
            id,
            ok,
            format_args!(
                "upstream {}, signing key {by_signing_key:?}, whole set {by_whole_set:?}, \
                 signed {signed}",
                case["expected_status"]
            ),
        );
    }

    let whole = compile(&whole_set);
    for case in list(&doc, "non_token_cases") {
        let id = case["id"].as_u64().expect("id");
        let ok = match id {
            17 => decide_token(&whole, text(case, "jwt"), now) == Err(DenyReason::Malformed),
            18 => {
                let header = Some(text(case, "authorization_header").to_string());
                decide(&whole, header, now) == Err(DenyReason::Missing)
            }
            19 => {
                let inline = text(case, "local_jwks_inline");
                KeySet::parse(inline.as_bytes()).err() == Some(KeySetError::NotJson)
                    && parse(&config_json(issuer, &audiences, &json!(inline), &[])).is_err()
            }
            _ => {
                tally.skip(SKIP_PEM, id);
                continue;
            }
        };
        tally.check(id, ok, case["expected_status"].to_string());
    }
    tally.finish(20, &[(SKEW_CAP, 1), (ONLY_RS256, 1), (SKIP_PEM, 1)]);
}

// ---------------------------------------------------------------------------------------------
// 8. Real provider key sets

/// Usable for RS256 by the facts `index.json` records: RSA, use sig or absent, alg RS256 or
/// absent, modulus of at least 2048 bits.
fn usable_by_facts(key: &Value) -> bool {
    key["kty"] == "RSA"
        && (key["use"].is_null() || key["use"] == "sig")
        && (key["alg"].is_null() || key["alg"] == "RS256")
        && key["n_bits"].as_u64().is_some_and(|bits| bits >= 2048)
}

#[test]
fn real_provider_key_sets() {
    let index = read_json("jwks_real/index.json");
    let issuers = index["issuers"].as_object().expect("issuers");
    let mut tally = Tally::new("jwks_real");
    let (mut by_facts, mut usable) = (0, 0);
    for (provider, facts) in issuers {
        let set = KeySet::parse(&read(&format!("jwks_real/{}", text(facts, "file"))))
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let keys = list(facts, "keys");
        let mut expected = 0;
        let mut wrong = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let kid = text(key, "kid");
            // Battle.net publishes `n` in padded standard base64: accepted for key
            // material (it comes from the configured IdP), never for tokens.
            let want = usable_by_facts(key);
            let found = lookup_class(set.lookup(Some(kid), None));
            if (found == "found") != want {
                wrong.push(format!("{kid}[{i}]: {found}"));
            }
            by_facts += usize::from(usable_by_facts(key));
            expected += usize::from(want);
        }
        usable += set.usable_count();
        tally.check(
            provider,
            set.usable_count() == expected && set.keys().len() == keys.len() && wrong.is_empty(),
            format_args!(
                "{} usable, expected {expected}; answered wrongly: {wrong:?}",
                set.usable_count()
            ),
        );
    }
    assert_eq!(
        (by_facts, usable),
        (49, 49),
        "usable keys over all providers"
    );
    assert_eq!(
        KeySet::parse(&read("jwks_real/yahoo.jwks.json")).map(|s| s.usable_count()),
        Ok(0),
        "Yahoo publishes only 1024-bit RSA keys (and one EC key)"
    );
    assert_eq!(
        KeySet::parse(&read("jwks_real/google_service_account_x509_map.json")).err(),
        Some(KeySetError::NoKeysArray),
        "the x509 map is not a JWKS"
    );
    tally.finish(19, &[]);
}

#[test]
fn real_provider_key_set_history() {
    for (provider, snapshots) in [("apple", 9), ("google", 37), ("entra-common", 12)] {
        let file = format!("jwks_real/history/{provider}.history.json");
        let history = read_json(&file);
        let mut tally = Tally::new(&file);
        for snapshot in list(&history, "snapshots") {
            let set = KeySet::parse(snapshot["jwks"].to_string().as_bytes());
            let kids = list(snapshot, "kids");
            let ok = set.as_ref().is_ok_and(|set| {
                set.usable_count() == kids.len()
                    && kids
                        .iter()
                        .all(|kid| matches!(set.lookup(kid.as_str(), None), KeyLookup::Found(_)))
            });
            tally.check(
                text(snapshot, "date"),
                ok,
                "every listed kid is a usable key",
            );
        }
        tally.finish(snapshots, &[]);
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Real Microsoft Entra ID tokens

const V2_APP_TOKEN: &str = "azure-real/nav-pensjonskalkulator-v2-app-roles.jwt";
const V1_ID_TOKEN: &str = "azure-real/identitymodel-cyrano-v1-idtoken.jwt";
/// A key set from before the v2 and v1 signing keys were published.
const JWKS_WITHOUT_KID: &str = "azure-real/entra-common-jwks-2024-06-24.json";

/// One real token with the provider that accepts it.
struct Entra {
    token: String,
    issuer: &'static str,
    audience: &'static str,
    jwks: &'static str,
}

impl Entra {
    fn new(token: &str, issuer: &'static str, audience: &'static str, jwks: &'static str) -> Self {
        Entra {
            token: read_text(token).trim().to_string(),
            issuer,
            audience,
            jwks,
        }
    }

    fn config(&self, jwks: &str, roles: &[&str]) -> Value {
        config_json(self.issuer, &[self.audience], &read_json(jwks), roles)
    }

    fn decide(&self, jwks: &str, roles: &[&str], token: &str, now: i64) -> Verdict {
        decide_token(&compile(&self.config(jwks, roles)), token, now)
    }

    /// `nbf` and `exp` of the token.
    fn lifetime(&self) -> (i64, i64) {
        let claims = token::parse(&self.token, MAX_TOKEN_BYTES)
            .expect("parses")
            .claims;
        let date = |name: &str| claims[name].as_i64().expect("a NumericDate");
        (date("nbf"), date("exp"))
    }

    /// The frozen clock: halfway through the token's lifetime.
    fn frozen_now(&self) -> i64 {
        let (nbf, exp) = self.lifetime();
        nbf + (exp - nbf) / 2
    }

    /// The token with one character of the payload JSON changed (in the `sub` value).
    fn tampered(&self) -> String {
        let segments: Vec<&str> = self.token.split('.').collect();
        let payload =
            String::from_utf8(base64url::decode(segments[1]).expect("b64")).expect("utf-8");
        let at = payload.find("\"sub\":\"").expect("a sub claim") + 7;
        let replacement = if payload[at..].starts_with('X') {
            "Y"
        } else {
            "X"
        };
        let changed = format!("{}{replacement}{}", &payload[..at], &payload[at + 1..]);
        let payload = base64url::encode(changed.as_bytes());
        format!("{}.{payload}.{}", segments[0], segments[2])
    }

    /// An app-only token: allowed with its role; denied for another role, after exp, with a
    /// changed payload, for another audience, and by a key set that lacks its signing key.
    fn assert_app_token(&self, role: &str) {
        let (now, token) = (self.frozen_now(), self.token.as_str());
        let mut for_another_api = self.config(self.jwks, &[role]);
        for_another_api["providers"][0]["audiences"] = json!(["api://another-api"]);
        let expired = self.lifetime().1 + 3600;
        let tampered = self.tampered();
        let with_role = |token: &str, now| self.decide(self.jwks, &[role], token, now);
        use DenyReason::{Audience, Expired, Role, Signature, UnknownKid};
        let cases = [
            ("its role", with_role(token, now), ALLOW),
            (
                "another role",
                self.decide(self.jwks, &["Another.Role"], token, now),
                Err(Role),
            ),
            ("after exp", with_role(token, expired), Err(Expired)),
            ("changed payload", with_role(&tampered, now), Err(Signature)),
            (
                "another audience",
                decide_token(&compile(&for_another_api), token, now),
                Err(Audience),
            ),
            (
                "key set without its kid",
                self.decide(JWKS_WITHOUT_KID, &[role], token, now),
                Err(UnknownKid),
            ),
        ];
        for (case, got, want) in cases {
            assert_eq!(got, want, "{case}");
        }
    }
}

#[test]
fn entra_v2_app_token() {
    Entra::new(
        V2_APP_TOKEN,
        "https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/v2.0",
        "f407babd-8d0f-4afc-a6e7-46f28612670b",
        "azure-real/entra-common-jwks-2024-09-03.json",
    )
    .assert_app_token("access_as_application");
}

/// The 2014 v1 id token has no kid, only x5t; it verifies through x5t lookup, and having no
/// roles it is denied by any role rule.
#[test]
fn entra_v1_id_token_by_x5t() {
    let id_token = Entra::new(
        V1_ID_TOKEN,
        "https://sts.windows.net/add29489-7269-41f4-8841-b63c95564420/",
        "fe78e0b4-6fe7-47e6-812c-fb75cee266a4",
        "azure-real/identitymodel-jwks-2014-normalized.json",
    );
    let parsed = token::parse(&id_token.token, MAX_TOKEN_BYTES).expect("parses");
    assert_eq!(
        (parsed.kid.as_deref(), parsed.x5t.as_deref()),
        (None, Some("kriMPdmBvx68skT8-mPAB3BseeA"))
    );
    let now = id_token.frozen_now();
    let token = id_token.token.as_str();
    assert_eq!(id_token.decide(id_token.jwks, &[], token, now), ALLOW);
    assert_eq!(
        id_token.decide(id_token.jwks, &["Any.Role"], token, now),
        Err(DenyReason::Role)
    );
    assert_eq!(
        id_token.decide(id_token.jwks, &[], &id_token.tampered(), now),
        Err(DenyReason::Signature)
    );
    // The upstream original of that key set (standard base64 n/e, alg "SHA256") parses, but
    // none of its keys is usable, so it cannot configure a provider.
    let original = KeySet::parse(&read(
        "azure-real/identitymodel-JsonWebKeySet-original.json",
    ))
    .expect("parses");
    assert_eq!(original.usable_count(), 0);
    assert_eq!(
        lookup_class(original.lookup(None, parsed.x5t.as_deref())),
        "alg not RS256"
    );
}
