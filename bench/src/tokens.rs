//! The drivers' tokens: an RS256 signer over the test keys in `tests/keys/`, the public keys the
//! filters trust, and minted tokens shaped like Entra ID application tokens.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The Entra ID tenant the tokens come from.
pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// `iss` of every token, trusted by both filters.
pub const ISSUER: &str =
    "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
/// `aud` of every token, accepted by both filters.
pub const AUDIENCE: &str = "api://calc";
/// The role `/calc/` requires; every bench token holds it.
pub const ROLE: &str = "invokeRole";
/// `azp`, the calling client, which both filters copy to `x-client-id`.
pub const CLIENT_ID: &str = "c11e47a0-aaaa-bbbb-cccc-000000000001";
/// The `kid` the bench's key is published under.
pub const KID: &str = "bench-key-a";
/// How long the tokens stay valid: far beyond any run.
const LIFETIME_SECONDS: i64 = 30 * 24 * 3600;

/// An RSA private key read from a private JWK (`n`, `e`, `d`, `p`, `q`, base64url).
pub struct SigningKey {
    n: Vec<u8>,
    e: Vec<u8>,
    private: PrivateKey,
}

fn member(jwk: &Value, name: &str, file: &Path) -> Result<Vec<u8>, String> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{}: member {name:?} missing", file.display()))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| format!("{}: member {name:?} is not base64url: {e}", file.display()))
}

impl SigningKey {
    /// Reads a private JWK file.
    pub fn load(file: &Path) -> Result<SigningKey, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let jwk: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
        let n = member(&jwk, "n", file)?;
        let e = member(&jwk, "e", file)?;
        let d = member(&jwk, "d", file)?;
        let p = member(&jwk, "p", file)?;
        let q = member(&jwk, "q", file)?;
        let big = |b: &[u8]| BoxedUint::from_be_slice_vartime(b);
        let private =
            PrivateKey::from_components(big(&n), big(&e), big(&d), vec![big(&p), big(&q)])
                .map_err(|err| format!("{}: not a valid RSA key: {err}", file.display()))?;
        Ok(SigningKey { n, e, private })
    }

    /// The public key set the bench's filters are given: `{"keys": [this key as KID]}`.
    pub fn public_jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk(KID)] })
    }

    /// The public key as a JWK published under `kid`.
    pub fn public_jwk(&self, kid: &str) -> Value {
        json!({
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// A short hex digest of the public key.
    pub fn fingerprint(&self) -> String {
        hex_prefix(&Sha256::digest(&self.n))
    }

    /// A compact JWS over `claims`: RS256, `kid` [`KID`].
    pub fn mint(&self, claims: &Value) -> Result<String, String> {
        self.sign(KID, claims)
    }

    /// A compact JWS over `claims`: RS256 with `kid` in the header.
    pub fn sign(&self, kid: &str, claims: &Value) -> Result<String, String> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let digest = Sha256::digest(signing_input.as_bytes());
        let signature = self
            .private
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .map_err(|e| format!("signing failed: {e}"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The claims of token number `serial`: an Entra ID v2.0 application token holding `roles`.
/// Tokens differ only in `jti` (fixed width, so every token has the same length).
pub fn claims(serial: usize, roles: &[&str], now: i64) -> Value {
    json!({
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + LIFETIME_SECONDS,
        "azp": CLIENT_ID,
        "azpacr": "1",
        "oid": "0b0b0b0b-1111-2222-3333-444444444444",
        "sub": "0b0b0b0b-1111-2222-3333-444444444444",
        "tid": TENANT,
        "ver": "2.0",
        "jti": format!("bench-{serial:010}"),
        "roles": roles,
    })
}

/// `count` distinct valid tokens, numbered from `first`, signed on every core.
pub fn mint_many(key: &SigningKey, first: usize, count: usize) -> Result<Vec<String>, String> {
    let now = now();
    let serials: Vec<usize> = (first..first + count).collect();
    on_every_core(&serials, |&serial| key.mint(&claims(serial, &[ROLE], now)))
}

/// `make(item)` for each of `items`, in order, spread over every core (RSA signing is slow).
pub fn on_every_core<T, F>(items: &[T], make: F) -> Result<Vec<String>, String>
where
    T: Sync,
    F: Fn(&T) -> Result<String, String> + Sync,
{
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_worker = items.len().div_ceil(workers).max(1);
    let make = &make;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per_worker)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(make)
                        .collect::<Result<Vec<String>, String>>()
                })
            })
            .collect();
        let mut tokens = Vec::with_capacity(items.len());
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| "a token-minting thread panicked".to_string())??;
            tokens.extend(part);
        }
        Ok(tokens)
    })
}

/// A short hex digest of the claim layout (`claims` with fixed inputs): it changes whenever the
/// claims a token carries change.
pub fn layout_fingerprint() -> String {
    hex_prefix(&Sha256::digest(claims(0, &[ROLE], 0).to_string()))
}

fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Writes one token per line (the format envoy/bench/tokens.lua reads).
pub fn write_token_file(path: &Path, tokens: &[String]) -> Result<(), String> {
    let mut text = tokens.join("\n");
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
