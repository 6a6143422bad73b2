//! The module's RSA public-key operation against the `rsa` crate's (`hazmat::rsa_encrypt`) on
//! fuzzed moduli, exponents and signatures: they must agree whenever the input is in range, and
//! the module must refuse a signature representative at or above the modulus, and one that is
//! not exactly as long as the modulus (without its leading zeros).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::crypto::rsa_public::Modulus;
use rsa::hazmat::rsa_encrypt;
use rsa::{BoxedUint, PublicKey};

fuzz_target!(|data: &[u8]| {
    // [modulus length - 1][exponent: 3 low bytes][modulus][signature][exponent: top byte][flags]
    // The last two are optional, so inputs of the older 3-byte-exponent layout still mean what
    // they did: without them the exponent is below 2^24 and the modulus' top bit is set.
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len) + 1;
    if rest.len() < 3 + 2 * len {
        return;
    }
    let (low, rest) = rest.split_at(3);
    let (n, rest) = rest.split_at(len);
    let (s, rest) = rest.split_at(len);
    let e_top = rest.first().copied().unwrap_or(0);
    let flags = rest.get(1).copied().unwrap_or(0);
    let exponent = u32::from_be_bytes([e_top, low[0], low[1], low[2]]) | 1;
    if exponent < 3 {
        return; // rolegate refuses e < 3 when it loads a key
    }
    let mut n = n.to_vec();
    // Flag bit 0: the modulus as drawn (leading zero bytes, a partly used top byte);
    // otherwise its top bit is set, the full length.
    if flags & 1 == 0 {
        n[0] |= 0x80;
    }
    n[len - 1] |= 1; // odd
    let Some(modulus) = Modulus::new(&n) else {
        assert!(
            n[..len - 1].iter().all(|b| *b == 0) && n[len - 1] == 1,
            "n = 1 only"
        );
        return;
    };
    // The modulus without its leading zeros: its length is every signature's.
    let first = n.iter().position(|b| *b != 0).expect("odd");
    let n = &n[first..];
    let k = n.len();
    if k != len {
        assert_eq!(modulus.public_op(s, exponent), None, "longer than n");
    }
    let s = &s[len - k..];
    let mut padded = vec![0u8];
    padded.extend_from_slice(s);
    assert_eq!(modulus.public_op(&padded, exponent), None, "a 00 in front");
    assert_eq!(modulus.public_op(&s[1..], exponent), None, "a byte short");

    let ours = modulus.public_op(s, exponent);
    if s >= n {
        assert_eq!(ours, None, "s >= n must be refused");
        return;
    }
    let ours = ours.expect("s < n");
    assert_eq!(ours.len(), k);
    let precision = (k * 8) as u32;
    let Ok(key) = PublicKey::new_with_size_limits(
        BoxedUint::from_be_slice(n, precision).unwrap(),
        BoxedUint::from(u64::from(exponent)),
        1..=8192,
    ) else {
        return; // e >= n, which rolegate's key sizes never meet
    };
    let m = rsa_encrypt(&key, &BoxedUint::from_be_slice(s, precision).unwrap()).unwrap();
    let want = m.to_be_bytes();
    let want = &want[want.len() - k..];
    assert_eq!(ours.as_slice(), want);
});
