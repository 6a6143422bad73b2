//! The module's own RSA arithmetic (`rsa_public`) against the `rsa` crate as an oracle: the raw
//! public-key operation must agree on every input, at every key size rolegate accepts, and
//! verification must accept what the crate signs and nothing else.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rolegate::crypto::rs256::{PureRust, Rs256Key, SignatureVerifier};
use rolegate::crypto::rsa_public::Modulus;
use rolegate_testkit::test_keys::{self, key_a, key_b, key_c};
use rolegate_testkit::SigningKey;
use rsa::hazmat::rsa_encrypt;
use rsa::{BoxedUint, PublicKey};
use sha2::{Digest, Sha256};

mod support;
use support::{hex, read_json};

fn strip(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// (modulus, exponent) of every Wycheproof RS256 key (2048 to 8192 bits) and the test keys.
fn keys() -> Vec<(Vec<u8>, u32)> {
    let mut keys = Vec::new();
    for bits in [2048, 3072, 4096, 8192] {
        let doc = read_json(&format!("wycheproof/rsa_signature_{bits}_sha256_test.json"));
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
        1024..=8192,
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
            let signature = key.sign_rs256(&message).unwrap();
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

/// Exponents at the edges of the exponentiation loop: the largest rolegate accepts, every top
/// bit from 2^24 up, and the common ones.
const EXPONENTS: [u32; 7] = [
    3,
    65537,
    (1 << 24) + 1,
    (1 << 31) - 1,
    0x8000_0001,
    u32::MAX - 2,
    u32::MAX,
];

/// A random odd number of exactly `bits` bits, big-endian in the fewest bytes.
fn odd_modulus(random: &mut XorShift, bits: usize) -> Vec<u8> {
    let mut n = random.bytes(bits.div_ceil(8));
    let top_bits = bits - 8 * (n.len() - 1);
    n[0] &= 0xff >> (8 - top_bits);
    n[0] |= 1 << (top_bits - 1);
    *n.last_mut().unwrap() |= 1;
    n
}

/// `a + b`, two big-endian numbers of `a`'s length, and the carry out of the top byte.
fn add(a: &[u8], b: &[u8]) -> (Vec<u8>, u16) {
    let mut sum = a.to_vec();
    let mut carry = 0u16;
    for (x, y) in sum.iter_mut().zip(b).rev() {
        let digit = u16::from(*x) + u16::from(*y) + carry;
        *x = digit as u8;
        carry = digit >> 8;
    }
    (sum, carry)
}

/// Below `n` and as long as it: a random value with the top byte brought under n's.
fn below(random: &mut XorShift, n: &[u8]) -> Vec<u8> {
    let mut s = random.bytes(n.len());
    s[0] %= n[0];
    s
}

/// Moduli whose length is not a whole number of bytes, or of 32-bit limbs, with exponents of
/// 2^24 and above: the sizes no Wycheproof key has and the exponents no fixed test key uses.
#[test]
fn odd_sized_moduli_and_large_exponents_agree_with_the_rsa_crate() {
    let mut random = XorShift(0x2545_f491_4f6c_dd1d);
    let mut compared = 0;
    for bits in [1025, 1031, 2047, 2049, 2056, 2063, 2072, 2081, 3071, 4095] {
        let n = odd_modulus(&mut random, bits);
        let modulus = Modulus::new(&n).expect("odd modulus");
        for (i, e) in EXPONENTS.into_iter().enumerate() {
            let mut inputs = vec![below(&mut random, &n)];
            // Edge values at one exponent each, so the test stays quick in a debug build.
            match i % 3 {
                0 => inputs.push(vec![0; n.len()]),
                1 => {
                    let mut n_minus_1 = n.clone();
                    *n_minus_1.last_mut().unwrap() -= 1;
                    inputs.push(n_minus_1);
                }
                _ => {
                    let mut two = vec![0; n.len()];
                    *two.last_mut().unwrap() = 2;
                    inputs.push(two);
                }
            }
            for s in inputs {
                let ours = modulus.public_op(&s, e).expect("s < n");
                assert_eq!(ours, oracle(&n, e, &s), "{bits} bits, e = {e}");
                compared += 1;
                // The same number one byte shorter or longer is not a signature for n.
                let padded = [&[0], &s[..]].concat();
                assert_eq!(modulus.public_op(&padded, e), None, "{bits} bits, 00 added");
                assert_eq!(
                    modulus.public_op(&s[1..], e),
                    None,
                    "{bits} bits, byte removed"
                );
            }
        }
        // At and above the modulus, and s + n, which fits n's length when n's top byte is
        // not full: refused.
        assert_eq!(modulus.public_op(&n, EXPONENTS[1]), None);
        let (s_plus_n, carry) = add(&below(&mut random, &n), &n);
        if carry == 0 {
            assert_eq!(
                modulus.public_op(&s_plus_n, EXPONENTS[1]),
                None,
                "{bits}: s + n"
            );
        }
    }
    assert_eq!(compared, 10 * EXPONENTS.len() * 2);
}

/// The fixed odd-sized test keys (`tests/keys/odd-*.json`): a modulus of 2049 bits (one bit
/// in its top byte), 2056 (whole bytes but not whole limbs), 2071 and 3071, with the
/// exponents 65537, 2^24 + 1, 2^31 - 1 and 2^32 - 1.
fn odd_keys() -> Vec<SigningKey> {
    let keys: Vec<SigningKey> = ["odd-2049", "odd-2056", "odd-2071", "odd-3071"]
        .into_iter()
        .map(test_keys::load)
        .collect();
    let sizes: Vec<(usize, &[u8])> = keys.iter().map(|k| (k.bits(), k.exponent())).collect();
    assert_eq!(
        sizes,
        vec![
            (2049, &[1, 0, 1][..]),
            (2056, &[1, 0, 0, 1][..]),
            (2071, &[0x7f, 0xff, 0xff, 0xff][..]),
            (3071, &[0xff, 0xff, 0xff, 0xff][..]),
        ]
    );
    keys
}

const SHA256_DIGEST_INFO: &str = "3031300d060960864801650304020105000420";

/// `00 <block type> <padding_len bytes of FF> 00 <digest info> <digest>` then `trailer`,
/// zero-filled on the left to `k` bytes.
fn encoding(k: usize, block_type: u8, padding_len: usize, info: &[u8], digest: &[u8]) -> Vec<u8> {
    let mut body = vec![block_type];
    body.extend(std::iter::repeat_n(0xff, padding_len));
    body.push(0);
    body.extend_from_slice(info);
    body.extend_from_slice(digest);
    assert!(body.len() < k, "{} bytes for {k}", body.len());
    let mut em = vec![0; k - body.len()];
    em.extend_from_slice(&body);
    em
}

/// RS256 end to end at odd key sizes and large exponents: the genuine signature verifies, and
/// every forgery built with the private key (so the arithmetic comes out right and only the
/// encoding or the signature's form is wrong) is refused.
#[test]
fn odd_sized_keys_accept_genuine_rs256_and_refuse_forgeries() {
    let mut leading_zero_removed = 0;
    for key in odd_keys() {
        let name = key.name();
        let ours = Rs256Key::from_components(key.modulus(), key.exponent()).unwrap();
        let k = strip(key.modulus()).len();
        assert_eq!(ours.modulus().len(), k);
        let accepts = |message: &[u8], signature: &[u8]| {
            let verdict = ours.verify(message, signature);
            assert_eq!(PureRust.verify(&ours, message, signature), verdict);
            verdict
        };

        let message = b"odd-sized keys";
        let genuine = key.sign_rs256(message).unwrap();
        assert_eq!(genuine.len(), k);
        assert!(accepts(message, &genuine), "{name}: genuine");
        let digest = Sha256::digest(message);
        let info = hex(SHA256_DIGEST_INFO);
        let well_formed = encoding(k, 1, k - 3 - info.len() - 32, &info, &digest);
        assert_eq!(
            key.sign_raw(&well_formed).unwrap(),
            genuine,
            "{name}: raw signing"
        );

        // The encoding is wrong, the arithmetic right. Bleichenbacher's 2006 forgery: short
        // padding, the digest, then bytes a lax parser never looks at.
        let spare = k - 3 - 7 - info.len() - 32;
        let mut garbage_after = encoding(k, 1, 7, &info, &digest);
        garbage_after.rotate_left(spare);
        garbage_after[k - spare..].fill(0x5a);
        let mut info_without_null = hex("302f300b0609608648016503040201");
        info_without_null.extend_from_slice(&hex("0420"));
        let forgeries = [
            (
                "7 bytes of padding, garbage after the digest",
                garbage_after,
            ),
            (
                "7 bytes of padding, zeros in front",
                encoding(k, 1, 7, &info, &digest),
            ),
            (
                "no NULL in the DigestInfo",
                encoding(
                    k,
                    1,
                    k - 3 - info_without_null.len() - 32,
                    &info_without_null,
                    &digest,
                ),
            ),
            (
                "block type 02",
                encoding(k, 2, k - 3 - info.len() - 32, &info, &digest),
            ),
            (
                "one FF short, a 00 in front",
                encoding(k, 1, k - 4 - info.len() - 32, &info, &digest),
            ),
        ];
        for (what, em) in forgeries {
            assert_eq!(em.len(), k, "{name}: {what}");
            assert!(
                !accepts(message, &key.sign_raw(&em).unwrap()),
                "{name}: {what}"
            );
        }

        // The genuine value in another form.
        let (mut s_plus_n, carry) = add(&genuine, strip(key.modulus()));
        // Below a full top byte, s + n still fits k bytes and only the range check stops it.
        assert!(carry == 0 || strip(key.modulus())[0] >= 0x80, "{name}");
        if carry == 1 {
            s_plus_n.insert(0, 1);
        }
        assert!(!accepts(message, &s_plus_n), "{name}: s + n");
        let zero_added = [&[0], &genuine[..]].concat();
        assert!(!accepts(message, &zero_added), "{name}: 00 added");
        assert!(
            !accepts(message, &genuine[1..]),
            "{name}: first byte removed"
        );
        // A signature that starts with 00 is the same number without it.
        for round in 0..6u8 {
            let message = [b'm', round];
            let signature = key.sign_rs256(&message).unwrap();
            if signature[0] == 0 {
                assert!(accepts(&message, &signature), "{name}: genuine {round}");
                assert!(!accepts(&message, &signature[1..]), "{name}: 00 removed");
                leading_zero_removed += 1;
                break;
            }
        }
    }
    assert!(leading_zero_removed >= 1, "no signature started with 00");
}
