//! SipHash with a 128-bit output (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
//! 2012): a keyed pseudo-random function. The token cache names each verified token by its
//! SipHash under a secret key of the VM instead of keeping the token itself (about 1 KB each,
//! times 1,000 entries per worker, in every sidecar).
//!
//! SipHash-2-4, the variant its authors recommend as a MAC: two compression rounds per 8 bytes,
//! four to finish. A 0.95 KB token takes about 0.35 µs in V8 (SipHash-1-3, the variant Rust's
//! `HashMap` uses, 0.25 µs). What the cache needs from it is that nobody without the key can
//! find a second token with the same 128 bits; the outputs never leave the VM, so an attacker
//! learns only whether a guess was admitted (see `verified_token_cache`).

/// A SipHash key: 128 secret bits.
#[derive(Clone, Copy)]
pub struct SipKey {
    k0: u64,
    k1: u64,
}

impl SipKey {
    pub fn from_bytes(bytes: [u8; 16]) -> SipKey {
        let (low, high) = bytes.split_at(8);
        let word = |half: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(half);
            u64::from_le_bytes(w)
        };
        SipKey {
            k0: word(low),
            k1: word(high),
        }
    }
}

struct State([u64; 4]);

impl State {
    #[inline(always)]
    fn round(&mut self) {
        let [v0, v1, v2, v3] = &mut self.0;
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v2 = v2.rotate_left(32);
    }

    #[inline(always)]
    fn absorb<const C: usize>(&mut self, word: u64) {
        self.0[3] ^= word;
        for _ in 0..C {
            self.round();
        }
        self.0[0] ^= word;
    }

    #[inline(always)]
    fn squeeze<const D: usize>(&mut self) -> u64 {
        for _ in 0..D {
            self.round();
        }
        let [v0, v1, v2, v3] = self.0;
        v0 ^ v1 ^ v2 ^ v3
    }
}

/// SipHash-c-d of `data` under `key`, 128-bit output (the reference's `outlen == 16` mode).
#[inline(always)]
fn siphash128<const C: usize, const D: usize>(key: &SipKey, data: &[u8]) -> u128 {
    let mut state = State([
        key.k0 ^ 0x736f_6d65_7073_6575,
        key.k1 ^ 0x646f_7261_6e64_6f6d ^ 0xee,
        key.k0 ^ 0x6c79_6765_6e65_7261,
        key.k1 ^ 0x7465_6462_7974_6573,
    ]);
    let words = data.chunks_exact(8);
    let rest = words.remainder();
    for chunk in words {
        // Not `copy_from_slice`: at opt-level "s" that is a call to memcpy per word, which
        // made the hash 2.5 times slower in V8.
        let word = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
        state.absorb::<C>(word);
    }
    // The last word: the bytes left over, and the input's length (mod 256) in the top byte.
    let mut last = [0u8; 8];
    last.iter_mut().zip(rest).for_each(|(l, b)| *l = *b);
    last[7] = data.len() as u8;
    state.absorb::<C>(u64::from_le_bytes(last));
    state.0[2] ^= 0xee;
    let low = state.squeeze::<D>();
    state.0[1] ^= 0xdd;
    let high = state.squeeze::<D>();
    u128::from(low) | (u128::from(high) << 64)
}

/// SipHash-2-4-128.
pub fn sip24_128(key: &SipKey, data: &[u8]) -> u128 {
    siphash128::<2, 4>(key, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use siphasher::sip128::{Hasher128, SipHasher13, SipHasher24};
    use std::hash::Hasher;

    fn key(seed: u8) -> ([u8; 16], SipKey) {
        let bytes: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ seed);
        (bytes, SipKey::from_bytes(bytes))
    }

    /// Every length up to 200 bytes, then lengths around and past 256 (the length byte
    /// wraps) up to a large token, against the `siphasher` crate as the oracle, for the
    /// variant used and for SipHash-1-3 (which checks each round count is used where it
    /// should be).
    #[test]
    fn agrees_with_the_siphasher_crate() {
        let lengths = (0..200).chain([255, 256, 257, 511, 512, 513, 950, 951, 1023, 4099]);
        for seed in [0u8, 0x5a, 0xff] {
            let (bytes, ours) = key(seed);
            let data: Vec<u8> = (0..4100u32)
                .map(|i| (i * 7 + u32::from(seed)) as u8)
                .collect();
            for len in lengths.clone() {
                let input = &data[..len];
                let mut oracle = SipHasher24::new_with_key(&bytes);
                oracle.write(input);
                assert_eq!(
                    sip24_128(&ours, input),
                    oracle.finish128().as_u128(),
                    "2-4, {len}"
                );
                let mut oracle = SipHasher13::new_with_key(&bytes);
                oracle.write(input);
                let mine = siphash128::<1, 3>(&ours, input);
                assert_eq!(mine, oracle.finish128().as_u128(), "1-3, {len}");
            }
        }
    }

    /// The first two 128-bit vectors of the SipHash reference implementation (its
    /// `vectors.h`, CC0: key 00..0f, input 00..len-1), so the oracle itself is pinned to the
    /// paper's definition.
    #[test]
    fn reference_vectors_for_siphash_2_4() {
        let bytes: [u8; 16] = std::array::from_fn(|i| i as u8);
        let k = SipKey::from_bytes(bytes);
        let expected: [[u8; 16]; 2] = [
            [
                0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55,
                0x02, 0x93,
            ],
            [
                0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22,
                0xfc, 0x45,
            ],
        ];
        for (len, want) in expected.iter().enumerate() {
            let input: Vec<u8> = (0..len as u8).collect();
            let got = sip24_128(&k, &input);
            assert_eq!(got.to_le_bytes(), *want, "input of {len} bytes");
        }
    }

    #[test]
    fn the_key_matters() {
        let (_, a) = key(1);
        let (_, b) = key(2);
        assert_ne!(sip24_128(&a, b"token"), sip24_128(&b, b"token"));
    }
}
