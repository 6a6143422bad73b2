//! An RSA private key that signs RS256 (RSASSA-PKCS1-v1_5 with SHA-256): read from a private
//! JWK (`n`, `e`, `d`, `p`, `q`, base64url), or generated at start; its public half as a JWK.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use getrandom::SysRng;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::token::b64url;

pub struct SigningKey {
    name: String,
    n: Vec<u8>,
    e: Vec<u8>,
    private: PrivateKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, {} bits)", self.name, self.bits())
    }
}

fn member(jwk: &Value, name: &str, source: &str) -> Result<Vec<u8>, String> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{source}: member {name:?} missing"))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| format!("{source}: member {name:?} is not base64url: {e}"))
}

impl SigningKey {
    /// Reads a private JWK; `name` names the key in messages.
    pub fn from_jwk(jwk: &Value, name: &str) -> Result<SigningKey, String> {
        let n = member(jwk, "n", name)?;
        let e = member(jwk, "e", name)?;
        let d = member(jwk, "d", name)?;
        let p = member(jwk, "p", name)?;
        let q = member(jwk, "q", name)?;
        let big = |b: &[u8]| BoxedUint::from_be_slice_vartime(b);
        let private =
            PrivateKey::from_components(big(&n), big(&e), big(&d), vec![big(&p), big(&q)])
                .map_err(|err| format!("{name}: not a valid RSA key: {err}"))?;
        Ok(SigningKey {
            name: name.to_string(),
            n,
            e,
            private,
        })
    }

    /// Reads a private JWK file; the key is named after the file.
    pub fn load(file: &Path) -> Result<SigningKey, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let jwk: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
        let name = file.file_stem().map_or_else(
            || file.display().to_string(),
            |s| s.to_string_lossy().into(),
        );
        SigningKey::from_jwk(&jwk, &name).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// A fresh key of `bits` from the OS's random source (a fraction of a second for 2048):
    /// nothing private is ever stored.
    pub fn generate(bits: usize) -> Result<SigningKey, String> {
        let private = PrivateKey::new(&mut SysRng, bits)
            .map_err(|e| format!("RSA key generation failed: {e}"))?;
        Ok(SigningKey {
            name: format!("generated-{bits}"),
            n: private.n_bytes().to_vec(),
            e: private.e_bytes().to_vec(),
            private,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        let lead = self.n.iter().position(|b| *b != 0).unwrap_or(self.n.len());
        let rest = self.n.get(lead..).unwrap_or_default();
        match rest.first() {
            None => 0,
            Some(first) => (rest.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        }
    }

    /// Raw big-endian modulus.
    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    /// Raw big-endian public exponent.
    pub fn exponent(&self) -> &[u8] {
        &self.e
    }

    /// The public JWK: `{"kty":"RSA","kid":..,"use":"sig","n":..,"e":..}`. Callers add what
    /// their IdP publishes besides (`alg`, Entra's `issuer`).
    pub fn public_jwk(&self, kid: &str) -> Value {
        json!({
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "n": b64url(&self.n),
            "e": b64url(&self.e),
        })
    }

    /// The JWK thumbprint (RFC 7638 §3.2: `e`, `kty`, `n` in that order, no whitespace), base64url
    /// of SHA-256: Entra's kind of `kid`.
    pub fn thumbprint(&self) -> String {
        thumbprint(&b64url(&self.n), &b64url(&self.e))
    }

    /// A short hex digest of the public key, to tell stored tokens of one key from another's.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(&self.n)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`.
    pub fn sign_rs256(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let digest = Sha256::digest(data);
        self.private
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .map_err(|e| format!("signing with {} failed: {e}", self.name))
    }

    /// RSASP1 (`m^d mod n`) on an encoded message of the caller's choosing, as many bytes as
    /// the modulus: signs encodings no signer would produce, to build forgeries that pass the
    /// RSA arithmetic and must fail on their padding.
    pub fn sign_raw(&self, encoded: &[u8]) -> Result<Vec<u8>, String> {
        let precision = self.private.n_bits_precision();
        let m = BoxedUint::from_be_slice(encoded, precision)
            .map_err(|e| format!("{}: encoded message too long: {e}", self.name))?;
        let s = rsa::hazmat::rsa_decrypt(None::<&mut NoRng>, &self.private, &m)
            .map_err(|e| format!("raw signing with {} failed: {e}", self.name))?;
        let bytes = s.to_be_bytes();
        let k = self.private.size();
        Ok(bytes
            .get(bytes.len().saturating_sub(k)..)
            .unwrap_or_default()
            .to_vec())
    }
}

/// RFC 7638 §3.2 over the base64url members `n` and `e`.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    b64url(&Sha256::digest(canonical.as_bytes()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::verify_rs256;

    #[test]
    fn rfc7638_example_thumbprint() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_generated_key_verifies_its_own_rs256_signature() {
        let key = SigningKey::generate(2048).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.bits(), 2048, "no leading zero octet, full 2048 bits");
        let jwk = key.public_jwk("k");
        assert_eq!(jwk["e"], "AQAB");
        let signature = key
            .sign_rs256(b"header.payload")
            .unwrap_or_else(|e| panic!("{e}"));
        let jws = |data: &str| format!("{data}.{}", b64url(&signature));
        let e65537 = [1, 0, 1];
        assert_eq!(
            verify_rs256(&jws("header.payload"), key.modulus(), &e65537),
            Ok(())
        );
        assert!(verify_rs256(&jws("other"), key.modulus(), &e65537).is_err());
    }
}
