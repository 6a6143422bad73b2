//! Test RSA keys (from `tests/keys/*.json`), RS256 token minting and the
//! claim values the tests use.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Azure AD tenant used in every test.
pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// v2.0 issuer.
pub const ISSUER: &str =
    "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
/// v1.0 issuer (also configured).
pub const ISSUER_V1: &str = "https://sts.windows.net/11111111-2222-3333-4444-555555555555/";
/// An issuer that is never configured.
pub const OTHER_ISSUER: &str =
    "https://login.microsoftonline.com/99999999-8888-7777-6666-555555555555/v2.0";
/// The API's application (client) id, accepted as audience.
pub const API_APP_ID: &str = "0a1b2c3d-0000-4000-8000-00000000ca1c";
/// The API's application id URI, accepted as audience.
pub const AUDIENCE: &str = "api://calc";
/// An audience that is never configured.
pub const OTHER_AUDIENCE: &str = "api://other";
/// `azp` (calling client id) put in tokens.
pub const CLIENT_ID: &str = "c11e47a0-aaaa-bbbb-cccc-000000000001";
/// The role the `/calc/` rule requires.
pub const ROLE: &str = "invokeRole";

/// `kid`s under which the keys are published by [`standard_jwks`].
pub const KID_A: &str = "kid-a";
pub const KID_B: &str = "kid-b";
pub const KID_C: &str = "kid-c";
pub const KID_WEAK: &str = "kid-weak-1024";

/// An RSA key pair loaded from `tests/keys/<name>.json`.
pub struct TestKey {
    pub name: String,
    n: Vec<u8>,
    e: Vec<u8>,
    private: PrivateKey,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestKey({}, {} bits)", self.name, self.bits())
    }
}

fn b64d(jwk: &Value, member: &str, file: &std::path::Path) -> Vec<u8> {
    let text = jwk
        .get(member)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: member {member:?} missing", file.display()));
    URL_SAFE_NO_PAD.decode(text).unwrap_or_else(|e| {
        panic!(
            "{}: member {member:?} is not base64url: {e}",
            file.display()
        )
    })
}

impl TestKey {
    /// Loads `tests/keys/<name>.json` (a private JWK).
    pub fn load(name: &str) -> TestKey {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/keys")
            .join(format!("{name}.json"));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let jwk: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        let n = b64d(&jwk, "n", &file);
        let e = b64d(&jwk, "e", &file);
        let d = b64d(&jwk, "d", &file);
        let p = b64d(&jwk, "p", &file);
        let q = b64d(&jwk, "q", &file);
        let big = |b: &[u8]| BoxedUint::from_be_slice_vartime(b);
        let private =
            PrivateKey::from_components(big(&n), big(&e), big(&d), vec![big(&p), big(&q)])
                .unwrap_or_else(|err| panic!("{}: not a valid RSA key: {err}", file.display()));
        TestKey {
            name: name.to_string(),
            n,
            e,
            private,
        }
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        let lead = self.n.iter().position(|b| *b != 0).unwrap_or(self.n.len());
        let rest = &self.n[lead..];
        match rest.first() {
            None => 0,
            Some(first) => (rest.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        }
    }

    /// Raw big-endian modulus.
    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    /// The public JWK: `{"kty":"RSA","kid":..,"use":"sig","n":..,"e":..}`.
    pub fn public_jwk(&self, kid: &str) -> Value {
        json!({
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "n": b64url(&self.n),
            "e": b64url(&self.e),
        })
    }

    /// Raw big-endian public exponent.
    pub fn exponent(&self) -> &[u8] {
        &self.e
    }

    /// RSASP1 (`m^d mod n`) on an encoded message of the caller's choosing, as many bytes as
    /// the modulus: signs encodings no signer would produce, to build forgeries that pass the
    /// RSA arithmetic and must fail on their padding.
    pub fn sign_raw(&self, encoded: &[u8]) -> Vec<u8> {
        use rsa::traits::PublicKeyParts;
        let precision = self.private.n_bits_precision();
        let m = BoxedUint::from_be_slice(encoded, precision)
            .unwrap_or_else(|e| panic!("{}: encoded message too long: {e}", self.name));
        let s = rsa::hazmat::rsa_decrypt(None::<&mut NoRng>, &self.private, &m)
            .unwrap_or_else(|e| panic!("raw signing with {} failed: {e}", self.name));
        let bytes = s.to_be_bytes();
        let k = self.private.size();
        bytes[bytes.len() - k..].to_vec()
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`.
    pub fn sign_rs256(&self, data: &[u8]) -> Vec<u8> {
        let digest = Sha256::digest(data);
        self.private
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .unwrap_or_else(|e| panic!("signing with {} failed: {e}", self.name))
    }
}

/// The RNG `rsa_decrypt` names in its type; without blinding it is never called.
struct NoRng;

impl rsa::rand_core::TryRng for NoRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!("no blinding")
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!("no blinding")
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
        unreachable!("no blinding")
    }
}

impl rsa::rand_core::TryCryptoRng for NoRng {}

/// `key-a` (2048 bit), loaded once.
pub fn key_a() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| TestKey::load("key-a"))
}

/// `key-b` (2048 bit), loaded once.
pub fn key_b() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| TestKey::load("key-b"))
}

/// `key-c` (3072 bit), loaded once.
pub fn key_c() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| TestKey::load("key-c"))
}

/// `weak-1024` (1024 bit), loaded once.
pub fn key_weak() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| TestKey::load("weak-1024"))
}

/// base64url without padding.
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// `{"keys": [...]}` from `(key, kid)` pairs.
pub fn jwks(entries: &[(&TestKey, &str)]) -> Value {
    json!({ "keys": entries.iter().map(|(k, kid)| k.public_jwk(kid)).collect::<Vec<_>>() })
}

/// The JWKS the test IdP normally publishes: key-a, key-c and the weak key
/// (key-b is deliberately absent).
pub fn standard_jwks() -> Value {
    jwks(&[(key_a(), KID_A), (key_c(), KID_C), (key_weak(), KID_WEAK)])
}

/// Compact JWS: `b64(header).b64(claims).b64(RS256 signature)`.
pub fn mint(key: &TestKey, header: Value, claims: Value) -> String {
    mint_raw(
        key,
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
    )
}

/// Like [`mint`] with arbitrary header/payload bytes (need not be JSON).
pub fn mint_raw(key: &TestKey, header: &[u8], payload: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64url(header), b64url(payload));
    let sig = key.sign_rs256(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(&sig))
}

/// HS256 token (HMAC-SHA256 with `secret`): for alg-confusion tests.
pub fn mint_hs256(secret: &[u8], header: Value, claims: Value) -> String {
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mac = hmac_sha256(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(&mac))
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this never fails.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `{"alg":"RS256","typ":"JWT","kid":kid}`.
pub fn header(kid: &str) -> Value {
    json!({ "alg": "RS256", "typ": "JWT", "kid": kid })
}

/// Typical valid Azure AD v2 application-token claims carrying `roles`.
pub fn claims(roles: &[&str]) -> Value {
    let now = now();
    json!({
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3600,
        "azp": CLIENT_ID,
        "azpacr": "1",
        "oid": "0b0b0b0b-1111-2222-3333-444444444444",
        "sub": "0b0b0b0b-1111-2222-3333-444444444444",
        "tid": TENANT,
        "ver": "2.0",
        "roles": roles,
    })
}

/// `claims(roles)` with some members replaced (`Value::Null` removes a member).
pub fn claims_with(roles: &[&str], changes: Value) -> Value {
    let mut c = claims(roles);
    if let (Some(obj), Some(ch)) = (c.as_object_mut(), changes.as_object()) {
        for (k, v) in ch {
            if v.is_null() {
                obj.remove(k);
            } else {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    c
}

/// A valid token signed by key-a (`kid-a`) with the given roles.
pub fn token(roles: &[&str]) -> String {
    mint(key_a(), header(KID_A), claims(roles))
}

/// `Bearer <token>`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
