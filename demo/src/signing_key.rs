//! The authorization server's token-signing key: RSA-2048, generated when the server starts
//! (nothing private is stored on disk), published as a JWK whose `kid` is its RFC 7638
//! thumbprint, and used for RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signatures.

use crate::jwt::b64url;
use getrandom::SysRng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt;

/// Modulus size of the generated key.
pub const KEY_BITS: usize = 2048;

pub struct SigningKey {
    private: PrivateKey,
    n: String,
    e: String,
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(kid {})", self.kid)
    }
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key (a fraction of a second).
    pub fn generate() -> Result<SigningKey, String> {
        let mut rng = SysRng;
        let private = PrivateKey::new(&mut rng, KEY_BITS)
            .map_err(|e| format!("RSA key generation failed: {e}"))?;
        let n = b64url(&private.n_bytes());
        let e = b64url(&private.e_bytes());
        let kid = thumbprint(&n, &e);
        Ok(SigningKey { private, n, e, kid })
    }

    /// The key id: the JWK thumbprint (RFC 7638), base64url of SHA-256.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as Entra publishes it: `kty`, `use`, `kid`, `n`, `e` and the key's
    /// `issuer` (Entra's v2 key sets name it; no `alg`, as in Entra).
    pub fn public_jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": self.n,
            "e": self.e,
            "issuer": issuer,
        })
    }

    /// The RS256 signature of `input`, blinded with fresh randomness.
    pub fn sign_rs256(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        let digest = Sha256::digest(input);
        let mut rng = SysRng;
        self.private
            .sign_with_rng(&mut rng, Pkcs1v15Sign::new::<Sha256>(), &digest)
            .map_err(|e| format!("RS256 signing failed: {e}"))
    }
}

/// RFC 7638 §3.2: the members `e`, `kty`, `n` in that order, no whitespace.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    b64url(&Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use rsa::{BoxedUint, PublicKey};

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
        let key = SigningKey::generate().unwrap();
        let jwk = key.public_jwk("https://issuer.example/");
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(jwk["e"], "AQAB");
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(
            n.len() * 8,
            KEY_BITS,
            "no leading zero octet, full 2048 bits"
        );
        let public = PublicKey::new(
            BoxedUint::from_be_slice_vartime(&n),
            BoxedUint::from(65537u32),
        )
        .unwrap();
        let signature = key.sign_rs256(b"header.payload").unwrap();
        let digest = Sha256::digest(b"header.payload");
        public
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
            .unwrap();
        assert!(public
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(b"other"),
                &signature
            )
            .is_err());
    }
}
