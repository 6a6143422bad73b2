//! The RSA public-key operation (RFC 8017 §5.2.2, RSAVP1): `s^e mod n`.
//!
//! Everything here is public (key and signature), so plain variable-time arithmetic is fine.
//! Numbers are little-endian vectors of 32-bit limbs, wasm's native word; the exponentiation
//! runs in Montgomery form so no step needs a division. This replaces a general-purpose bignum
//! library in the module: verification needs only this one operation, and a tenth of the code.

/// A modulus prepared for exponentiation. `n` is odd (the caller checks), so it has an inverse
/// modulo 2^32 and Montgomery reduction applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modulus {
    /// `n`, least significant limb first; the top limb is not zero.
    limbs: Vec<u32>,
    /// `-n^-1 mod 2^32`.
    n_prime: u32,
    /// `R^2 mod n` with `R = 2^(32·limbs)`: takes a number into Montgomery form.
    r_squared: Vec<u32>,
    /// Bytes in `n` without leading zeros: the length of every signature (RFC 8017 §8.2.2
    /// step 1) and of every result.
    byte_len: usize,
}

/// Big-endian bytes to `len` little-endian limbs; `None` if the value needs more.
fn limbs_from_be(bytes: &[u8], len: usize) -> Option<Vec<u32>> {
    let mut limbs = vec![0u32; len];
    let mut chunks = bytes.rchunks(4);
    for limb in limbs.iter_mut() {
        let Some(chunk) = chunks.next() else { break };
        *limb = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    }
    chunks.all(|c| c.iter().all(|b| *b == 0)).then_some(limbs)
}

/// `a >= b`, both little-endian; missing limbs count as zero.
fn at_least(a: &[u32], b: &[u32]) -> bool {
    let len = a.len().max(b.len());
    for i in (0..len).rev() {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b` for `a >= b`; `b` may be shorter.
fn subtract(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u64;
    for (i, limb) in a.iter_mut().enumerate() {
        let subtrahend = u64::from(b.get(i).copied().unwrap_or(0)) + borrow;
        let value = u64::from(*limb);
        if value >= subtrahend {
            *limb = (value - subtrahend) as u32;
            borrow = 0;
        } else {
            *limb = ((1u64 << 32) + value - subtrahend) as u32;
            borrow = 1;
        }
    }
}

/// Adds `carry` into the two limbs above the low `k` of `t` (which has `k + 2`).
fn add_to_top(t: &mut [u32], carry: u64) {
    if let [.., high, overflow] = t {
        let sum = u64::from(*high) + carry;
        *high = sum as u32;
        *overflow = overflow.wrapping_add((sum >> 32) as u32);
    }
}

impl Modulus {
    /// From the big-endian modulus; `None` unless it is odd and above 1.
    pub fn new(modulus_be: &[u8]) -> Option<Modulus> {
        let significant = modulus_be.iter().position(|b| *b != 0)?;
        let bytes = modulus_be.get(significant..)?;
        let limbs = limbs_from_be(bytes, bytes.len().div_ceil(4))?;
        let low = *limbs.first()?;
        if low & 1 == 0 || (limbs.len() == 1 && low == 1) {
            return None;
        }
        // Newton's iteration doubles the correct low bits each round: 1, 2, 4, .. 32 (odd `low`
        // is its own inverse modulo 8, which gives the first 3).
        let mut inverse = low;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u32.wrapping_sub(low.wrapping_mul(inverse)));
        }
        let mut modulus = Modulus {
            n_prime: inverse.wrapping_neg(),
            r_squared: Vec::new(),
            limbs,
            byte_len: bytes.len(),
        };
        modulus.r_squared = modulus.power_of_two_mod(64 * modulus.limbs.len());
        Some(modulus)
    }

    /// `2^exponent mod n`, by doubling: slow, but run once per key.
    fn power_of_two_mod(&self, exponent: usize) -> Vec<u32> {
        let mut x = vec![0u32; self.limbs.len() + 1];
        if let Some(first) = x.first_mut() {
            *first = 1;
        }
        for _ in 0..exponent {
            let mut carry = 0u32;
            for limb in x.iter_mut() {
                let doubled = (*limb << 1) | carry;
                carry = *limb >> 31;
                *limb = doubled;
            }
            if at_least(&x, &self.limbs) {
                subtract(&mut x, &self.limbs);
            }
        }
        x.truncate(self.limbs.len());
        x
    }

    /// `a·b·R^-1 mod n` for `a, b < n` (CIOS Montgomery multiplication).
    fn multiply(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let k = self.limbs.len();
        let mut t = vec![0u32; k + 2];
        for &a_limb in a {
            let mut carry = 0u64;
            for (t_limb, &b_limb) in t.iter_mut().zip(b) {
                let sum = u64::from(*t_limb) + u64::from(a_limb) * u64::from(b_limb) + carry;
                *t_limb = sum as u32;
                carry = sum >> 32;
            }
            add_to_top(&mut t, carry);
            // Adding m·n makes the lowest limb zero; dropping it divides by 2^32.
            let m = t.first().copied().unwrap_or(0).wrapping_mul(self.n_prime);
            let mut carry = 0u64;
            for (t_limb, &n_limb) in t.iter_mut().zip(&self.limbs) {
                let sum = u64::from(*t_limb) + u64::from(m) * u64::from(n_limb) + carry;
                *t_limb = sum as u32;
                carry = sum >> 32;
            }
            add_to_top(&mut t, carry);
            t.rotate_left(1);
        }
        // The result is below 2n: one subtraction brings it below n.
        if at_least(&t, &self.limbs) {
            subtract(&mut t, &self.limbs);
        }
        t.truncate(k);
        t
    }

    /// RSAVP1: `signature^exponent mod n` as big-endian bytes, as many as the modulus has
    /// without leading zeros. `None` unless the signature is exactly that long (RFC 8017
    /// §8.2.2 step 1: a signature is k bytes; a shorter or zero-padded one is no signature, and
    /// the result is always k bytes, never cut to the input's length), or when its value is
    /// not below `n` (§5.2.2 step 1) or the exponent is 0.
    pub fn public_op(&self, signature_be: &[u8], exponent: u32) -> Option<Vec<u8>> {
        if signature_be.len() != self.byte_len {
            return None;
        }
        let k = self.limbs.len();
        let s = limbs_from_be(signature_be, k)?;
        if at_least(&s, &self.limbs) || exponent == 0 {
            return None;
        }
        let base = self.multiply(&s, &self.r_squared);
        let mut acc = base.clone();
        let top_bit = 31 - exponent.leading_zeros();
        for bit in (0..top_bit).rev() {
            acc = self.multiply(&acc, &acc);
            if exponent >> bit & 1 == 1 {
                acc = self.multiply(&acc, &base);
            }
        }
        let mut one = vec![0u32; k];
        if let Some(first) = one.first_mut() {
            *first = 1;
        }
        let plain = self.multiply(&acc, &one);
        let mut out = vec![0u8; self.byte_len];
        for (i, byte) in out.iter_mut().rev().enumerate() {
            let limb = plain.get(i / 4).copied().unwrap_or(0);
            *byte = (limb >> (8 * (i % 4))) as u8;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimal big-endian bytes (at least one).
    fn be(value: u128) -> Vec<u8> {
        let bytes = value.to_be_bytes();
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(15);
        bytes[first..].to_vec()
    }

    /// `value` as exactly `len` big-endian bytes.
    fn be_len(value: u128, len: usize) -> Vec<u8> {
        let bytes = value.to_be_bytes();
        let mut out = vec![0u8; len.saturating_sub(16)];
        out.extend_from_slice(&bytes[16usize.saturating_sub(len)..]);
        out
    }

    fn pow_mod(base: u128, exponent: u32, modulus: u128) -> u128 {
        let mut result = 1u128;
        for _ in 0..exponent {
            result = result * base % modulus;
        }
        result
    }

    #[test]
    fn small_numbers_against_plain_arithmetic() {
        // Moduli of one to three limbs, with and without a top limb near 2^32.
        for modulus in [
            3u128,
            0xFFFF_FFFB,
            0x1_0000_0001,
            0xF123_4567_89AB_CDEF,
            (1 << 61) - 1,
        ] {
            let prepared = Modulus::new(&be(modulus)).expect("odd");
            let width = be(modulus).len();
            for base in [0u128, 1, 2, modulus / 3, modulus - 1] {
                for exponent in [1u32, 2, 3, 17, 65] {
                    let got = prepared
                        .public_op(&be_len(base, width), exponent)
                        .expect("below n");
                    assert_eq!(got.len(), width);
                    let got = got.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
                    let want = pow_mod(base, exponent, modulus);
                    assert_eq!(got, want, "{base}^{exponent} mod {modulus}");
                }
            }
        }
    }

    #[test]
    fn out_of_range_inputs_are_refused() {
        let n = Modulus::new(&be(0xF123_4567_89AB_CDEF)).expect("odd");
        assert_eq!(n.public_op(&be(0xF123_4567_89AB_CDEF), 3), None, "s = n");
        assert_eq!(n.public_op(&be(0xF123_4567_89AB_CDF0), 3), None, "s > n");
        assert_eq!(n.public_op(&be_len(5, 8), 0), None);
        assert!(Modulus::new(&be(0x10)).is_none(), "even");
        assert!(Modulus::new(&be(1)).is_none());
        assert!(Modulus::new(&[0, 0]).is_none());
    }

    #[test]
    fn the_signature_must_be_exactly_as_long_as_the_modulus() {
        // 7^3 = 343 = 0x0157: an output as long as the input would lose the 01.
        let n = Modulus::new(&be(0xF123_4567_89AB_CDEF)).expect("odd");
        assert_eq!(
            n.public_op(&be_len(7, 8), 3),
            Some(vec![0, 0, 0, 0, 0, 0, 0x01, 0x57])
        );
        assert_eq!(n.public_op(&[0x07], 3), None, "short");
        assert_eq!(n.public_op(&be_len(7, 7), 3), None, "one byte short");
        assert_eq!(n.public_op(&[], 3), None, "empty");
        assert_eq!(n.public_op(&be_len(7, 9), 3), None, "zero-padded");
        assert_eq!(n.public_op(&be_len(7, 16), 3), None, "zero-padded to 16");
        // The length is the modulus' own, not that of the bytes it was given in.
        let padded = Modulus::new(&be_len(0xF123_4567_89AB_CDEF, 12)).expect("odd");
        assert_eq!(padded, n);
        assert_eq!(padded.public_op(&be_len(7, 12), 3), None);
        // A modulus whose top byte is not full: 0x01_0000_0001 is 5 bytes, not 8 (2 limbs).
        let n = Modulus::new(&be(0x01_0000_0001)).expect("odd");
        assert_eq!(n.public_op(&be_len(2, 5), 3), Some(vec![0, 0, 0, 0, 8]));
        assert_eq!(n.public_op(&be_len(2, 8), 3), None, "limb-aligned length");
        assert_eq!(n.public_op(&be_len(2, 4), 3), None);
    }
}
