//! The module's RSA public-key operation against the `rsa` crate's (`hazmat::rsa_encrypt`) on
//! fuzzed moduli, exponents and signatures: they must agree whenever the input is in range, and
//! the module must refuse a signature representative at or above the modulus.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::rsa_public::Modulus;
use rsa::hazmat::rsa_encrypt;
use rsa::{BoxedUint, PublicKey};

fuzz_target!(|data: &[u8]| {
    // [modulus length - 1][exponent: 3 bytes][modulus][signature]
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len) + 1;
    if rest.len() < 3 + 2 * len {
        return;
    }
    let exponent = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) | 1;
    let mut n = rest[3..3 + len].to_vec();
    n[0] |= 0x80; // full length, so both sides agree on the size
    n[len - 1] |= 1; // odd
    let s = &rest[3 + len..3 + 2 * len];
    if exponent < 3 {
        return; // rolegate refuses e < 3 when it loads a key
    }
    let modulus = Modulus::new(&n).expect("odd modulus above 1");
    let ours = modulus.public_op(s, exponent);
    if s >= n.as_slice() {
        assert_eq!(ours, None, "s >= n must be refused");
        return;
    }
    let ours = ours.expect("s < n");
    let precision = (len * 8) as u32;
    let Ok(key) = PublicKey::new_with_size_limits(
        BoxedUint::from_be_slice(&n, precision).unwrap(),
        BoxedUint::from(u64::from(exponent)),
        8..=8192,
    ) else {
        return;
    };
    let m = rsa_encrypt(&key, &BoxedUint::from_be_slice(s, precision).unwrap()).unwrap();
    let want = m.to_be_bytes();
    let want = &want[want.len() - len..];
    assert_eq!(ours.as_slice(), want);
});
