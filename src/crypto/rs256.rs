//! RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.2), the only signature rolegate accepts.

use crate::crypto::rsa_public::Modulus;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::OnceLock;

/// Keys below this size are refused: NIST has disallowed RSA-1024 signatures since 2013.
pub const MIN_MODULUS_BITS: usize = 2048;
/// Larger keys are refused: nobody issues them and each verify costs the proxy dearly.
pub const MAX_MODULUS_BITS: usize = 8192;

/// Why a public key cannot be used for RS256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWeakness {
    ModulusTooSmall(usize),
    ModulusTooLarge(usize),
    BadModulus,
    BadExponent,
}

impl fmt::Display for KeyWeakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyWeakness::ModulusTooSmall(bits) => {
                write!(f, "RSA modulus of {bits} bits is below {MIN_MODULUS_BITS}")
            }
            KeyWeakness::ModulusTooLarge(bits) => {
                write!(f, "RSA modulus of {bits} bits is above {MAX_MODULUS_BITS}")
            }
            KeyWeakness::BadModulus => write!(f, "RSA modulus is not a valid odd number"),
            KeyWeakness::BadExponent => {
                write!(f, "RSA exponent must be odd, at least 3, below 2^32")
            }
        }
    }
}

/// A public key checked once, when its key set is loaded, so a request only runs the math.
#[derive(Clone)]
pub struct Rs256Key {
    modulus: Vec<u8>,
    exponent: Vec<u8>,
    exponent_value: u32,
    /// Prepared on the first pure-Rust verification: a host that verifies with its own crypto
    /// library never needs it.
    arithmetic: OnceLock<Option<Modulus>>,
    spki_der: Vec<u8>,
    fingerprint: [u8; 32],
}

/// Checks RS256 signatures. Pure Rust by default; a host may verify with its own crypto
/// library instead (Envoy: BoringSSL through the `verify_signature` foreign function).
pub trait SignatureVerifier {
    fn verify(&self, key: &Rs256Key, message: &[u8], signature: &[u8]) -> bool;
}

pub struct PureRust;

impl SignatureVerifier for PureRust {
    fn verify(&self, key: &Rs256Key, message: &[u8], signature: &[u8]) -> bool {
        key.verify(message, signature)
    }
}

impl fmt::Debug for Rs256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rs256Key({} bits)", self.modulus_bits())
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

fn bit_length(be: &[u8]) -> usize {
    match be.first() {
        Some(top) => (be.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    }
}

/// DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2, note 1), parameters NULL included.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of a SHA-256 digest, `len` bytes long. Keys here are at
/// least 2048 bits, so the padding is always longer than the required 8 bytes.
fn pkcs1_v15_sha256_encoding(digest: &[u8], len: usize) -> Vec<u8> {
    let padding = len.saturating_sub(3 + SHA256_DIGEST_INFO.len() + digest.len());
    let mut encoded = Vec::with_capacity(len);
    encoded.extend_from_slice(&[0x00, 0x01]);
    encoded.resize(2 + padding, 0xff);
    encoded.push(0x00);
    encoded.extend_from_slice(&SHA256_DIGEST_INFO);
    encoded.extend_from_slice(digest);
    encoded
}

impl Rs256Key {
    /// From big-endian modulus and exponent; a leading zero byte (seen in real key sets) is fine.
    pub fn from_components(modulus: &[u8], exponent: &[u8]) -> Result<Self, KeyWeakness> {
        let n = strip_leading_zeros(modulus);
        let e = strip_leading_zeros(exponent);
        let bits = bit_length(n);
        if bits < MIN_MODULUS_BITS {
            return Err(KeyWeakness::ModulusTooSmall(bits));
        }
        if bits > MAX_MODULUS_BITS {
            return Err(KeyWeakness::ModulusTooLarge(bits));
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyWeakness::BadModulus);
        }
        let e_value = match e.len() {
            1..=4 => e.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)),
            _ => return Err(KeyWeakness::BadExponent),
        };
        if e_value < 3 || e_value & 1 == 0 {
            return Err(KeyWeakness::BadExponent);
        }
        let spki_der = crate::crypto::spki::rsa_public_key_der(n, e);
        Ok(Rs256Key {
            modulus: n.to_vec(),
            exponent: e.to_vec(),
            exponent_value: e_value,
            arithmetic: OnceLock::new(),
            fingerprint: Sha256::digest(&spki_der).into(),
            spki_der,
        })
    }

    pub fn modulus_bits(&self) -> usize {
        bit_length(&self.modulus)
    }

    /// Big-endian modulus without leading zeros.
    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }

    /// Big-endian public exponent without leading zeros.
    pub fn exponent(&self) -> &[u8] {
        &self.exponent
    }

    /// DER SubjectPublicKeyInfo, for hosts that verify with their own crypto library.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// SHA-256 of the DER public key: tells two keys apart without keeping them.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// True only if `signature` is exactly k bytes, below the modulus, and its public-key
    /// image is the one valid encoding of SHA-256(`message`): 00 01 FF.. 00 DigestInfo hash.
    /// The expected encoding is built and compared whole (RFC 8017 §8.2.2), never parsed.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.modulus.len() {
            return false;
        }
        let arithmetic = self.arithmetic.get_or_init(|| Modulus::new(&self.modulus));
        let Some(image) = arithmetic
            .as_ref()
            .and_then(|m| m.public_op(signature, self.exponent_value))
        else {
            return false;
        };
        image == pkcs1_v15_sha256_encoding(&Sha256::digest(message), self.modulus.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_counts_the_top_byte() {
        assert_eq!(bit_length(&[0x01, 0x00]), 9);
        assert_eq!(bit_length(&[0x80]), 8);
        assert_eq!(bit_length(&[]), 0);
    }

    #[test]
    fn small_and_even_and_bad_exponent_keys_are_refused() {
        let mut n = vec![0xC5u8; 128];
        assert_eq!(
            Rs256Key::from_components(&n, &[1, 0, 1]).err(),
            Some(KeyWeakness::ModulusTooSmall(1024))
        );
        n = vec![0xC4u8; 256];
        assert_eq!(
            Rs256Key::from_components(&n, &[1, 0, 1]).err(),
            Some(KeyWeakness::BadModulus)
        );
        n = vec![0xC5u8; 256];
        assert_eq!(
            Rs256Key::from_components(&n, &[1]).err(),
            Some(KeyWeakness::BadExponent)
        );
        assert_eq!(
            Rs256Key::from_components(&n, &[1, 0, 0]).err(),
            Some(KeyWeakness::BadExponent)
        );
        assert_eq!(
            Rs256Key::from_components(&n, &[1, 0, 0, 0, 1]).err(),
            Some(KeyWeakness::BadExponent)
        );
        assert!(Rs256Key::from_components(&n, &[1, 0, 1]).is_ok());
        let mut padded = vec![0u8];
        padded.extend_from_slice(&n);
        let key = Rs256Key::from_components(&padded, &[0, 1, 0, 1]).ok();
        assert_eq!(key.map(|k| k.modulus_bits()), Some(2048));
    }
}
