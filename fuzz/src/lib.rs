//! Shared pieces of the rolegate fuzz targets: the fixed signing key (RFC 7520 §3.4, a
//! published example key that protects nothing, from the test kit), the fixed configuration of the `decision`
//! target, and the byte layout of its structured input.
//!
//! The layout is written down here once so `examples/make_seeds.rs` and the target agree.

use rolegate::config::Config;
use rolegate_testkit::test_keys::rfc7520;
use rolegate_testkit::token::b64url as b64;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub use rolegate_testkit::test_keys::RFC7520_KID as KID;
pub const X5T: &str = "bilbo-thumbprint";
/// A second, usable 2048-bit key whose private half we do not have (rotation / wrong key).
const OTHER_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

pub const ISSUER: &str = "https://login.hobbiton.example/t/v2.0";
pub const ISSUER_V1: &str = "https://sts.hobbiton.example/t/";
pub const OTHER_ISSUER: &str = "https://other.example/";
/// The clock the seeds are written for; inputs may say "relative to this".
pub const BASE_TIME: i64 = 1_700_000_000;

/// The stand-in signature the `decision` target uses: SHA-256 of the signing input, repeated to
/// the key's length. A fuzzer cannot forge it (it would have to invert SHA-256), and making it
/// costs microseconds instead of an RSA private operation, so the target spends its time in
/// the decision, not in the harness. RSA itself is fuzzed by `jwks_parse` and proven by the
/// vector suites.
pub fn digest_signature(signing_input: &[u8]) -> Vec<u8> {
    let digest = Sha256::digest(signing_input);
    digest.iter().copied().cycle().take(256).collect()
}

/// Accepts exactly the signatures `digest_signature` makes, of the key's length.
pub struct DigestVerifier;

impl rolegate::crypto::rs256::SignatureVerifier for DigestVerifier {
    fn verify(
        &self,
        key: &rolegate::crypto::rs256::Rs256Key,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        signature.len() == key.modulus().len() && signature == digest_signature(message)
    }
}

/// `b64(header).b64(claims).b64(digest_signature)`, for the `decision` target and its seeds.
pub fn signed_token(header: &[u8], claims: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = b64(&digest_signature(input.as_bytes()));
    format!("{input}.{signature}")
}

/// The public RFC 7520 key as a JWK, with `extra` members (`,"kid":"x"` ...) spliced in.
pub fn public_jwk(extra: &str) -> String {
    let n = b64(rfc7520().modulus());
    format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"{extra}}}"#)
}

/// The `decision` target's configuration: two providers with inline keys (one named by `kid`
/// and `x5t` beside a second RSA key, an EC key and a 1024-bit key; one with a single key and
/// no `kid`), anonymous / role / all-roles / any-token rules (one in dry run), two token
/// headers, two claim headers.
pub fn decision_config_json() -> String {
    let weak_n = b64(&[0xC5u8; 128]);
    format!(
        r#"{{
  "providers": [
    {{"name": "hobbiton", "issuers": ["{ISSUER}", "{ISSUER_V1}"], "audiences": ["api://app", "app-guid"],
      "local_jwks": {{"keys": [
        {bilbo},
        {{"kty":"RSA","kid":"rotated","use":"sig","n":"{OTHER_N}","e":"AQAB"}},
        {{"kty":"EC","kid":"ec-key","crv":"P-256","x":"a","y":"b"}},
        {{"kty":"RSA","kid":"weak-key","n":"{weak_n}","e":"AQAB"}}
      ]}}}},
    {{"name": "other", "issuer": "{OTHER_ISSUER}", "audiences": ["other"],
      "local_jwks": {{"keys": [{single}]}},
      "required_claims": [{{"claim": "idtyp", "values": ["app"]}}]}}
  ],
  "rules": [
    {{"match": {{"path_separated_prefix": "/healthz"}}, "allow_anonymous": true}},
    {{"name": "docs", "match": {{"path_separated_prefix": "/docs"}}, "allow_missing": true, "dry_run": true}},
    {{"name": "tenant-calc", "match": {{"hosts": ["*.tenants.example", "api.example"], "prefix": "/calc/"}},
      "roles": ["invokeRole"], "claims": [{{"claim": "azp", "values": ["client-1"]}}, {{"claim": "groups", "values": ["2", "true"]}}]}},
    {{"match": {{"path": "/admin", "methods": ["GET", "post"]}}, "roles": ["admin", "ops"], "roles_match": "all"}},
    {{"match": {{"prefix": "/calc/"}}, "roles": ["invokeRole"]}},
    {{"match": {{"prefix": "/"}}}}
  ],
  "from_headers": [{{"name": "authorization", "value_prefix": "Bearer "}}, {{"name": "X-JWT-Assertion"}}],
  "claim_to_headers": [{{"claim": "azp", "header": "x-client-id"}}, {{"claim": "groups", "header": "x-groups"}}],
  "clock_skew_seconds": 60,
  "max_token_bytes": 8192
}}"#,
        bilbo = public_jwk(&format!(
            r#","kid":"{KID}","use":"sig","x5t":"{X5T}","alg":"RS256""#
        )),
        single = public_jwk(""),
    )
}

pub fn decision_config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::parse(decision_config_json().as_bytes())
            .unwrap_or_else(|e| panic!("the fuzz configuration is invalid: {e:?}"))
    })
}

/// Header and claims of the tokens signed once, up front: the seeds carry them as raw tokens, so
/// the fuzzer reaches the checks after the signature without paying for a signature.
pub fn template_tokens() -> Vec<(String, String)> {
    let t = BASE_TIME;
    let (hour_ago, in_a_minute, in_an_hour) = (t - 3600, t + 60, t + 3600);
    let kid = format!(r#"{{"alg":"RS256","kid":"{KID}","typ":"JWT"}}"#);
    let valid = |extra: &str| {
        format!(
            r#"{{"iss":"{ISSUER}","aud":"api://app","iat":{t},"nbf":{},"exp":{in_an_hour}{extra}}}"#,
            t - 60
        )
    };
    let with_kid = |claims: String| (kid.clone(), claims);
    let headed = |header: &str, claims: String| (header.to_string(), claims);
    vec![
        with_kid(valid(
            r#","roles":["invokeRole","admin","ops"],"azp":"client-1","groups":["g1",2,true]"#,
        )),
        with_kid(valid(r#","roles":"invokeRole reader""#)),
        with_kid(valid(
            r#","roles":["admin"],"azp":"a\r\nb","groups":[{"x":1}]"#,
        )),
        with_kid(format!(
            r#"{{"iss":"{ISSUER_V1}","aud":["x","app-guid"],"exp":{hour_ago},"roles":["invokeRole"]}}"#
        )),
        with_kid(format!(
            r#"{{"iss":"{ISSUER}","aud":"api://app","nbf":{},"exp":{in_an_hour}}}"#,
            t + 600
        )),
        with_kid(format!(
            r#"{{"iss":"{ISSUER}","aud":"api://other","exp":{in_an_hour}}}"#
        )),
        with_kid(format!(
            r#"{{"iss":"{ISSUER}","aud":"api://app","exp":{in_an_hour}.5}}"#
        )),
        with_kid(format!(
            r#"{{"iss":"{ISSUER}","aud":"api://app","exp":"{in_an_hour}"}}"#
        )),
        headed(
            &format!(r#"{{"alg":"RS256","x5t":"{X5T}"}}"#),
            valid(r#","roles":["invokeRole"]"#),
        ),
        headed(
            r#"{"alg":"RS256"}"#,
            format!(
                r#"{{"iss":"{OTHER_ISSUER}","aud":"other","exp":{in_a_minute},"azp":"{}"}}"#,
                "z".repeat(5000)
            ),
        ),
        headed(r#"{"alg":"RS256","kid":"new-key"}"#, valid("")),
        headed(r#"{"alg":"RS256","kid":"ec-key"}"#, valid("")),
        headed(r#"{"alg":"RS256","kid":"weak-key"}"#, valid("")),
        headed(r#"{"alg":"RS256","kid":"rotated"}"#, valid("")),
    ]
}

/// Flags of a `decision` input (its first byte).
pub mod flags {
    pub const WAIT_FIRST_KEYS: u8 = 1;
    pub const WAIT_REFETCH: u8 = 1 << 1;
    /// Two bits: 0 or 1 = keys ready, 2 = first fetch pending, 3 = unavailable.
    pub const KEYS_SHIFT: u8 = 2;
    /// Build the token from the header and claims fields and sign it (`signed_token`).
    pub const SIGN: u8 = 1 << 4;
    /// `now` is BASE_TIME plus a signed 32-bit offset instead of a raw i64.
    pub const RELATIVE_TIME: u8 = 1 << 5;
    /// A signed token goes into `x-jwt-assertion` instead of `authorization: Bearer`.
    pub const SIGNED_IN_X_JWT: u8 = 1 << 6;
    /// The cached re-decision happens an hour later, under a new key-set generation.
    pub const LATER: u8 = 1 << 7;
}

pub const SEPARATOR: u8 = 0;
pub const FIELD_NAMES: [&str; 7] = [
    ":method",
    ":path",
    ":authority",
    "authorization",
    "x-jwt-assertion",
    "token header (signed mode)",
    "token claims (signed mode)",
];

/// One `decision` input: `flags`, 8 bytes of `now` (little-endian), then up to seven fields
/// separated by 0x00 (see `FIELD_NAMES`); a missing field is an absent header.
#[derive(Debug, Clone, Default)]
pub struct DecisionInput {
    pub flags: u8,
    pub now: i64,
    pub fields: Vec<Vec<u8>>,
}

impl DecisionInput {
    pub fn decode(data: &[u8]) -> Option<DecisionInput> {
        let (&flags, rest) = data.split_first()?;
        let now = rest.get(..8)?;
        let now = i64::from_le_bytes(now.try_into().ok()?);
        let fields = rest
            .get(8..)?
            .split(|b| *b == SEPARATOR)
            .take(FIELD_NAMES.len())
            .map(<[u8]>::to_vec)
            .collect();
        Some(DecisionInput { flags, now, fields })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.flags];
        out.extend_from_slice(&self.now.to_le_bytes());
        out.extend_from_slice(&self.fields.join(&SEPARATOR));
        out
    }

    pub fn field(&self, i: usize) -> Option<String> {
        self.fields
            .get(i)
            .map(|f| String::from_utf8_lossy(f).into_owned())
    }

    pub fn now(&self) -> i64 {
        if self.flags & flags::RELATIVE_TIME != 0 {
            BASE_TIME + i64::from(self.now as i32)
        } else {
            self.now
        }
    }
}
