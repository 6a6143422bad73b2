//! Tokens whose signature, issuer and audience were verified, so a client that sends the same
//! token again costs a lookup and a comparison instead of an RSA verification.
//!
//! Bounded (CLOCK eviction), per worker. Only successes are kept. An entry carries the
//! fingerprint of the key that verified it: after a key-set change it survives only if the
//! same key is still there under the same name. Lifetime is re-checked on every use.

use crate::token::claims::TokenFacts;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub provider: usize,
    pub facts: TokenFacts,
    /// The key set generation the signature was checked under.
    pub generation: u64,
    pub kid: Option<String>,
    pub x5t: Option<String>,
    pub key_fingerprint: [u8; 32],
}

struct Slot {
    token: Box<[u8]>,
    hash: u64,
    entry: VerifiedToken,
    referenced: bool,
}

/// The index is keyed by `token_hash`, already mixed: hashing it again would be wasted work.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Inner {
    slots: Vec<Slot>,
    /// Hash of the token -> slot. A full comparison confirms every hit.
    index: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    hand: usize,
}

pub struct VerifiedTokenCache {
    capacity: usize,
    inner: RefCell<Inner>,
}

/// Where a token is looked up. Only the last 32 bytes and the length are mixed in: they lie in
/// the RS256 signature, which is uniformly distributed for the tokens the cache holds (only
/// verified ones get in), and hashing the whole token (often over 1 KB) would cost more than
/// the rest of a cache hit. A client can craft a token that lands on a cached one's slot; the
/// full comparison then refuses it, as it refuses any other stranger.
fn token_hash(token: &[u8]) -> u64 {
    const MIX: u64 = 0x9e37_79b9_7f4a_7c15;
    let tail = token.get(token.len().saturating_sub(32)..).unwrap_or(token);
    let mut hash = (token.len() as u64).wrapping_mul(MIX);
    for chunk in tail.chunks(8) {
        let mut word = [0u8; 8];
        word.iter_mut().zip(chunk).for_each(|(w, b)| *w = *b);
        hash = (hash ^ u64::from_le_bytes(word)).wrapping_mul(MIX);
        hash ^= hash >> 29;
    }
    hash
}

/// Byte equality without an early exit, a word at a time. A cached token is a credential: how
/// long a comparison takes must not tell a client how much of its guess was right. And the
/// slice `==` calls the C library's `memcmp`, a byte-at-a-time loop in the wasm build.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut difference = a_words
        .remainder()
        .iter()
        .zip(b_words.remainder())
        .fold(0u64, |d, (x, y)| d | u64::from(x ^ y));
    for (x, y) in a_words.zip(b_words) {
        match (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) {
            (Ok(x), Ok(y)) => difference |= u64::from_ne_bytes(x) ^ u64::from_ne_bytes(y),
            _ => return false,
        }
    }
    difference == 0
}

impl VerifiedTokenCache {
    pub fn new(capacity: usize) -> Self {
        VerifiedTokenCache {
            capacity,
            inner: RefCell::new(Inner {
                slots: Vec::with_capacity(capacity.min(4096)),
                index: HashMap::with_capacity_and_hasher(
                    capacity.min(4096),
                    BuildHasherDefault::default(),
                ),
                hand: 0,
            }),
        }
    }

    /// Runs `use_entry` on the entry for exactly this token, if any. `still_valid` may refuse
    /// it (e.g. its key is gone), which drops it; `Some(new_generation)` re-stamps it.
    pub fn with<T>(
        &self,
        token: &[u8],
        still_valid: impl FnOnce(&VerifiedToken) -> Option<u64>,
        use_entry: impl FnOnce(&VerifiedToken) -> T,
    ) -> Option<T> {
        if self.capacity == 0 {
            return None;
        }
        let hash = token_hash(token);
        let mut inner = self.inner.borrow_mut();
        let index = *inner.index.get(&hash)?;
        let slot = inner.slots.get_mut(index)?;
        if !same_bytes(&slot.token, token) {
            return None;
        }
        match still_valid(&slot.entry) {
            Some(generation) => {
                slot.entry.generation = generation;
                slot.referenced = true;
                Some(use_entry(&slot.entry))
            }
            None => {
                inner.index.remove(&hash);
                None
            }
        }
    }

    // Not inlined: see "Function size" in lib.rs.
    #[inline(never)]
    pub fn insert(&self, token: &[u8], entry: VerifiedToken) {
        if self.capacity == 0 {
            return;
        }
        let hash = token_hash(token);
        let mut inner = self.inner.borrow_mut();
        let slot = Slot {
            token: token.into(),
            hash,
            entry,
            referenced: false,
        };
        if inner.slots.len() < self.capacity {
            let index = inner.slots.len();
            inner.slots.push(slot);
            inner.index.insert(hash, index);
            return;
        }
        let victim = inner.next_victim();
        if let Some(old) = inner.slots.get_mut(victim) {
            let old_hash = old.hash;
            *old = slot;
            if inner.index.get(&old_hash) == Some(&victim) {
                inner.index.remove(&old_hash);
            }
            inner.index.insert(hash, victim);
        }
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn len(&self) -> usize {
        self.inner.borrow().index.len()
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// CLOCK: sweep, giving each recently used slot a second chance.
    fn next_victim(&mut self) -> usize {
        let len = self.slots.len();
        for _ in 0..=len.saturating_mul(2) {
            let at = self.hand % len.max(1);
            self.hand = at + 1;
            match self.slots.get_mut(at) {
                Some(slot) if slot.referenced => slot.referenced = false,
                _ => return at,
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn entry(provider: usize) -> VerifiedToken {
        VerifiedToken {
            provider,
            facts: TokenFacts {
                lifetime: Err(crate::token::claims::LifetimeError::ExpMissingOrInvalid),
                roles: Vec::new(),
                header_values: Rc::from(Vec::new()),
                claim_texts: Box::new([]),
                client_id: None,
            },
            generation: 1,
            kid: Some("k".into()),
            x5t: None,
            key_fingerprint: [0; 32],
        }
    }

    fn hit(cache: &VerifiedTokenCache, token: &str) -> Option<usize> {
        cache.with(token.as_bytes(), |e| Some(e.generation), |e| e.provider)
    }

    #[test]
    fn byte_equality_at_every_length_and_position() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x80;
                assert!(!same_bytes(&a, &b), "len {len}, differs at {at}");
            }
            assert!(!same_bytes(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
    }

    #[test]
    fn exact_tokens_only() {
        let cache = VerifiedTokenCache::new(4);
        cache.insert(b"a.b.c", entry(7));
        assert_eq!(hit(&cache, "a.b.c"), Some(7));
        assert_eq!(hit(&cache, "a.b.d"), None);
        assert_eq!(hit(&cache, "a.b.c "), None);
    }

    #[test]
    fn bounded_with_second_chance_for_used_entries() {
        let cache = VerifiedTokenCache::new(3);
        for (i, t) in ["t0", "t1", "t2"].iter().enumerate() {
            cache.insert(t.as_bytes(), entry(i));
        }
        assert_eq!(hit(&cache, "t0"), Some(0));
        cache.insert(b"t3", entry(3));
        assert_eq!(cache.len(), 3);
        assert_eq!(hit(&cache, "t0"), Some(0), "recently used survives");
        assert_eq!(hit(&cache, "t1"), None, "the unused one went");
        for i in 0..100 {
            cache.insert(format!("x{i}").as_bytes(), entry(i));
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn refused_entries_are_dropped_and_capacity_zero_disables() {
        let cache = VerifiedTokenCache::new(2);
        cache.insert(b"t", entry(1));
        assert_eq!(cache.with(b"t", |_| None, |e| e.provider), None);
        assert_eq!(hit(&cache, "t"), None);
        let off = VerifiedTokenCache::new(0);
        off.insert(b"t", entry(1));
        assert_eq!(hit(&off, "t"), None);
        assert!(off.is_empty());
    }
}
