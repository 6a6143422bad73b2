//! The module's own RSA arithmetic (`rsa_public`) against the `rsa` crate as an oracle: the raw
//! public-key operation must agree on every input, at every key size rolegate accepts, and
//! verification must accept what the crate signs and nothing else.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use rolegate::rs256::Rs256Key;
use rolegate::rsa_public::Modulus;
use rsa::hazmat::rsa_encrypt;
use rsa::{BoxedUint, PublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::keys::{key_a, key_b, key_c};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn strip(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// (modulus, exponent) of every Wycheproof RS256 key (2048 to 8192 bits) and the test keys.
fn keys() -> Vec<(Vec<u8>, u32)> {
    let mut keys = Vec::new();
    for bits in [2048, 3072, 4096, 8192] {
        let path = format!(
            "{}/tests/vectors/wycheproof/rsa_signature_{bits}_sha256_test.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for group in doc["testGroups"].as_array().unwrap() {
            let public = &group["publicKey"];
            let n = hex(public["modulus"].as_str().unwrap());
            let e = hex(public["publicExponent"].as_str().unwrap());
            let e = strip(&e)
                .iter()
                .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
            keys.push((strip(&n).to_vec(), e));
        }
    }
    for key in [key_a(), key_b(), key_c()] {
        keys.push((strip(key.modulus()).to_vec(), 65537));
    }
    keys.sort();
    keys.dedup();
    assert!(keys.len() >= 7, "{} keys", keys.len());
    keys
}

/// Deterministic bytes: the same inputs on every run, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 >> 24) as u8
            })
            .collect()
    }
}

fn oracle(n: &[u8], e: u32, s: &[u8]) -> Vec<u8> {
    let precision = (n.len() * 8) as u32;
    let key = PublicKey::new_with_size_limits(
        BoxedUint::from_be_slice(n, precision).unwrap(),
        BoxedUint::from(u64::from(e)),
        2048..=8192,
    )
    .unwrap();
    let m = rsa_encrypt(&key, &BoxedUint::from_be_slice(s, precision).unwrap()).unwrap();
    let bytes = m.to_be_bytes();
    let bytes = strip(&bytes);
    let mut out = vec![0u8; n.len() - bytes.len()];
    out.extend_from_slice(bytes);
    out
}

#[test]
fn the_public_operation_agrees_with_the_rsa_crate_at_every_key_size() {
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut compared = 0;
    for (n, e) in keys() {
        let modulus = Modulus::new(&n).expect("odd modulus");
        let mut inputs: Vec<Vec<u8>> = (0..12).map(|_| random.bytes(n.len())).collect();
        // Edge values: 0, 1, n - 1, and values just below n with a short top.
        inputs.push(vec![0; n.len()]);
        let mut one = vec![0; n.len()];
        *one.last_mut().unwrap() = 1;
        inputs.push(one);
        let mut n_minus_1 = n.clone();
        *n_minus_1.last_mut().unwrap() -= 1;
        inputs.push(n_minus_1);
        for mut s in inputs {
            // Keep s below n so both sides accept it: clear the top bit of a random value
            // above the modulus' top byte.
            if s.as_slice() >= n.as_slice() {
                s[0] = n[0].saturating_sub(1);
            }
            let ours = modulus.public_op(&s, e).expect("s < n");
            assert_eq!(ours, oracle(&n, e, &s), "{} bits, e = {e}", n.len() * 8);
            compared += 1;
        }
        // At and above the modulus: refused (RFC 8017 §5.2.2 step 1).
        assert_eq!(modulus.public_op(&n, e), None);
        assert_eq!(modulus.public_op(&vec![0xff; n.len()], e), None);
    }
    assert!(compared >= 7 * 15, "{compared} comparisons");
}

#[test]
fn verification_accepts_what_the_rsa_crate_signs_and_refuses_near_misses() {
    let mut random = XorShift(42);
    for key in [key_a(), key_b(), key_c()] {
        let ours = Rs256Key::from_components(key.modulus(), &[1, 0, 1]).unwrap();
        for round in 0..8 {
            let message = random.bytes(1 + round * 97);
            let signature = key.sign_rs256(&message);
            assert!(ours.verify(&message, &signature), "round {round}");
            let mut other = message.clone();
            other[0] ^= 1;
            assert!(!ours.verify(&other, &signature), "another message");
            for bit in [0, 7, 8 * signature.len() / 2, 8 * signature.len() - 1] {
                let mut bent = signature.clone();
                bent[bit / 8] ^= 1 << (bit % 8);
                assert!(!ours.verify(&message, &bent), "bit {bit} flipped");
            }
            assert!(!ours.verify(&message, &signature[1..]), "one byte short");
        }
        // The padded digest itself is no signature: a public operation that did nothing
        // (e = 1) would accept it.
        let digest = Sha256::digest(b"m");
        let mut encoded = vec![0x00, 0x01];
        encoded.resize(key.modulus().len() - 3 - 19 - 32 + 2, 0xff);
        encoded.push(0);
        encoded.extend_from_slice(&hex("3031300d060960864801650304020105000420"));
        encoded.extend_from_slice(&digest);
        assert_eq!(encoded.len(), key.modulus().len());
        assert!(!ours.verify(b"m", &encoded));
    }
}
