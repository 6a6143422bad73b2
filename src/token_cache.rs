//! Tokens whose signature, issuer and audience were verified, so a client that sends the same
//! token again costs a hash and a comparison instead of an RSA verification.
//!
//! Bounded (CLOCK eviction), per worker. Only successes are kept. An entry carries the
//! fingerprint of the key that verified it: after a key-set change it survives only if the
//! same key is still there under the same name. Lifetime is re-checked on every use.

use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub provider: usize,
    pub claims: Map<String, Value>,
    /// The key set generation the signature was checked under.
    pub generation: u64,
    pub kid: Option<String>,
    pub x5t: Option<String>,
    pub key_fingerprint: [u8; 32],
}

struct Slot {
    token: Box<str>,
    hash: u64,
    entry: VerifiedToken,
    referenced: bool,
}

struct Inner {
    slots: Vec<Slot>,
    /// Hash of the token -> slot. A full comparison confirms every hit.
    index: HashMap<u64, usize>,
    hand: usize,
}

pub struct TokenCache {
    capacity: usize,
    hasher: RandomState,
    inner: RefCell<Inner>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            hasher: RandomState::new(),
            inner: RefCell::new(Inner {
                slots: Vec::with_capacity(capacity.min(4096)),
                index: HashMap::with_capacity(capacity.min(4096)),
                hand: 0,
            }),
        }
    }

    /// Runs `use_entry` on the entry for exactly this token, if any. `still_valid` may refuse
    /// it (e.g. its key is gone), which drops it; `Some(new_generation)` re-stamps it.
    pub fn with<T>(
        &self,
        token: &str,
        still_valid: impl FnOnce(&VerifiedToken) -> Option<u64>,
        use_entry: impl FnOnce(&VerifiedToken) -> T,
    ) -> Option<T> {
        if self.capacity == 0 {
            return None;
        }
        let hash = self.hasher.hash_one(token);
        let mut inner = self.inner.borrow_mut();
        let index = *inner.index.get(&hash)?;
        let slot = inner.slots.get_mut(index)?;
        if &*slot.token != token {
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

    pub fn insert(&self, token: &str, entry: VerifiedToken) {
        if self.capacity == 0 {
            return;
        }
        let hash = self.hasher.hash_one(token);
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

    pub fn len(&self) -> usize {
        self.inner.borrow().index.len()
    }

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

    fn entry(provider: usize) -> VerifiedToken {
        VerifiedToken {
            provider,
            claims: Map::new(),
            generation: 1,
            kid: Some("k".into()),
            x5t: None,
            key_fingerprint: [0; 32],
        }
    }

    fn hit(cache: &TokenCache, token: &str) -> Option<usize> {
        cache.with(token, |e| Some(e.generation), |e| e.provider)
    }

    #[test]
    fn exact_tokens_only() {
        let cache = TokenCache::new(4);
        cache.insert("a.b.c", entry(7));
        assert_eq!(hit(&cache, "a.b.c"), Some(7));
        assert_eq!(hit(&cache, "a.b.d"), None);
        assert_eq!(hit(&cache, "a.b.c "), None);
    }

    #[test]
    fn bounded_with_second_chance_for_used_entries() {
        let cache = TokenCache::new(3);
        for (i, t) in ["t0", "t1", "t2"].iter().enumerate() {
            cache.insert(t, entry(i));
        }
        assert_eq!(hit(&cache, "t0"), Some(0));
        cache.insert("t3", entry(3));
        assert_eq!(cache.len(), 3);
        assert_eq!(hit(&cache, "t0"), Some(0), "recently used survives");
        assert_eq!(hit(&cache, "t1"), None, "the unused one went");
        for i in 0..100 {
            cache.insert(&format!("x{i}"), entry(i));
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn refused_entries_are_dropped_and_capacity_zero_disables() {
        let cache = TokenCache::new(2);
        cache.insert("t", entry(1));
        assert_eq!(cache.with("t", |_| None, |e| e.provider), None);
        assert_eq!(hit(&cache, "t"), None);
        let off = TokenCache::new(0);
        off.insert("t", entry(1));
        assert_eq!(hit(&off, "t"), None);
        assert!(off.is_empty());
    }
}
