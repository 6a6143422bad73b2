//! Tokens whose signature, issuer and audience were verified, so a client that sends the same
//! token again costs a lookup instead of an RSA verification.
//!
//! Bounded (CLOCK eviction), per worker. Only successes are kept. An entry carries the
//! fingerprint of the key that verified it: after a key-set change it survives only if the
//! same key is still there under the same name. Lifetime is re-checked on every use.
//!
//! An entry is found and confirmed by the token's 128-bit SipHash-2-4 under a key drawn from
//! the host's random source when the worker starts, not by the token itself: a token is about
//! 1 KB, and with 1,000 entries per worker in every sidecar that was most of rolegate's memory.
//! A token that is not in the cache can hit an entry only if its SipHash equals the entry's:
//! without the key each try is a blind guess with a chance of about 2^-128 per cached token,
//! and the key and the hashes never leave the VM (a client sees whether its token was
//! admitted and, by timing at most, whether it was one of the recent tokens below: neither
//! tells it anything about the key). Two different tokens sharing an entry would be the
//! same failure, with the same odds.
//!
//! Hashing a 0.95 KB token takes about 0.35 µs in V8; paid on every cache hit, it cost about
//! 3% of hot throughput in `make bench`. So the last tokens the cache served or took in are
//! also kept whole, in 16 places picked by the token's tail: a client that sends the same
//! token again and again on its connection is found by a comparison, as before, and its hash
//! is taken from there.

use crate::crypto::siphash::{sip24_128, SipKey};
use crate::token::claims::TokenFacts;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub provider: usize,
    pub facts: TokenFacts,
    /// The key set generation the signature was checked under.
    pub generation: u64,
    pub key: Rc<KeyName>,
}

/// The key that verified a token, as the token named it and as it was: the entry stays valid
/// after a key-set change only if the same key is still found under the same name. Shared by
/// the entries one key verified.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyName {
    pub kid: Option<Box<str>>,
    pub x5t: Option<Box<str>>,
    pub fingerprint: [u8; 32],
}

impl VerifiedToken {
    /// Takes `other`'s copy of each part both hold alike, so that entries of one key, one
    /// client or one set of roles keep one copy between them. Entries verified one after the
    /// other are most often alike (one IdP key, few clients).
    fn share_with(&mut self, other: &VerifiedToken) {
        fn share<T: PartialEq + ?Sized>(mine: &mut Rc<T>, theirs: &Rc<T>) {
            if !Rc::ptr_eq(mine, theirs) && **mine == **theirs {
                *mine = Rc::clone(theirs);
            }
        }
        share(&mut self.key, &other.key);
        let (mine, theirs) = (&mut self.facts, &other.facts);
        share(&mut mine.roles, &theirs.roles);
        share(&mut mine.header_values, &theirs.header_values);
        if let (Some(mine), Some(theirs)) = (&mut mine.client_id, &theirs.client_id) {
            share(mine, theirs);
        }
    }
}

/// A token's name in the cache: its SipHash-2-4-128 under the cache's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTag(u128);

impl TokenTag {
    /// Where the index files it: the tag is already uniformly mixed.
    fn index_key(self) -> u64 {
        self.0 as u64
    }
}

/// A token and its tag, as `VerifiedTokenCache::key` made them.
pub struct TokenKey<'t> {
    token: &'t [u8],
    tag: TokenTag,
    /// Where the token is kept whole among the recent ones; whether it is there already.
    recent: usize,
    was_recent: bool,
}

/// How many tokens are kept whole: a power of two.
const RECENT: usize = 16;

/// A token admitted lately, whole, with its tag. Its buffer keeps its capacity, so taking
/// another token allocates only when that one is longer than any kept here before.
#[derive(Default)]
struct RecentToken {
    token: Vec<u8>,
    tag: Option<TokenTag>,
}

struct Slot {
    tag: TokenTag,
    entry: VerifiedToken,
    referenced: bool,
}

/// Where a token goes among the recent ones. Only the last 32 bytes and the length are mixed
/// in: they lie in the RS256 signature, which is uniformly distributed for the tokens kept
/// (only verified ones), and hashing the whole token is what this place saves. A token made to
/// land on a kept one's place is refused by the full comparison, as any other stranger is.
fn tail_hash(token: &[u8]) -> u64 {
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

/// Byte equality without an early exit, a word at a time. A kept token is a credential: how
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

/// The index is keyed by part of a `TokenTag`, already mixed: hashing it again would be
/// wasted work.
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
    /// The slot filled last: a new entry shares what it has in common with it.
    last: usize,
    recent: [RecentToken; RECENT],
    /// Low half of the tag -> slot. The whole tag confirms every hit.
    index: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    hand: usize,
}

pub struct VerifiedTokenCache {
    capacity: usize,
    key: SipKey,
    inner: RefCell<Inner>,
}

impl VerifiedTokenCache {
    /// `key` must be secret and unpredictable (the host's random source): it is all that
    /// stands between a forged token and a cached one's admission.
    pub fn new(capacity: usize, key: SipKey) -> Self {
        VerifiedTokenCache {
            capacity,
            key,
            inner: RefCell::new(Inner {
                slots: Vec::with_capacity(capacity.min(4096)),
                index: HashMap::with_capacity_and_hasher(
                    capacity.min(4096),
                    BuildHasherDefault::default(),
                ),
                hand: 0,
                last: 0,
                recent: Default::default(),
            }),
        }
    }

    /// A cache under a key anyone can read here: for tests and fuzz targets, never to serve.
    #[cfg(any(test, feature = "internals"))]
    pub fn with_fixed_key(capacity: usize) -> Self {
        VerifiedTokenCache::new(capacity, SipKey::from_bytes([7; 16]))
    }

    /// The token's tag: from the recent tokens if it is one of them, else hashed. `None` when
    /// the cache holds nothing (size 0): no need to hash the token.
    pub fn key<'t>(&self, token: &'t [u8]) -> Option<TokenKey<'t>> {
        if self.capacity == 0 {
            return None;
        }
        let recent = (tail_hash(token) as usize) & (RECENT - 1);
        let kept = self
            .inner
            .borrow()
            .recent
            .get(recent)
            .and_then(|kept| kept.tag.filter(|_| same_bytes(&kept.token, token)));
        Some(TokenKey {
            token,
            tag: kept.unwrap_or_else(|| TokenTag(sip24_128(&self.key, token))),
            recent,
            was_recent: kept.is_some(),
        })
    }

    /// Runs `use_entry` on the entry for exactly this token, if any. `still_valid` may refuse
    /// it (e.g. its key is gone), which drops it; `Some(new_generation)` re-stamps it.
    pub fn with<T>(
        &self,
        key: &TokenKey<'_>,
        still_valid: impl FnOnce(&VerifiedToken) -> Option<u64>,
        use_entry: impl FnOnce(&VerifiedToken) -> T,
    ) -> Option<T> {
        let mut inner = self.inner.borrow_mut();
        let tag = key.tag;
        let index = *inner.index.get(&tag.index_key())?;
        let slot = inner.slots.get_mut(index)?;
        if slot.tag != tag {
            return None;
        }
        match still_valid(&slot.entry) {
            Some(generation) => {
                slot.entry.generation = generation;
                slot.referenced = true;
                let answer = use_entry(&slot.entry);
                inner.keep_recent(key);
                Some(answer)
            }
            None => {
                inner.index.remove(&tag.index_key());
                None
            }
        }
    }

    // Not inlined: see "Function size" in lib.rs.
    #[inline(never)]
    pub fn insert(&self, key: &TokenKey<'_>, mut entry: VerifiedToken) {
        if self.capacity == 0 {
            return;
        }
        let tag = key.tag;
        let mut inner = self.inner.borrow_mut();
        inner.keep_recent(key);
        if let Some(last) = inner.slots.get(inner.last) {
            entry.share_with(&last.entry);
        }
        let slot = Slot {
            tag,
            entry,
            referenced: false,
        };
        if inner.slots.len() < self.capacity {
            let index = inner.slots.len();
            inner.slots.push(slot);
            inner.index.insert(tag.index_key(), index);
            inner.last = index;
            return;
        }
        let victim = inner.next_victim();
        inner.last = victim;
        if let Some(old) = inner.slots.get_mut(victim) {
            let old_key = old.tag.index_key();
            *old = slot;
            if inner.index.get(&old_key) == Some(&victim) {
                inner.index.remove(&old_key);
            }
            inner.index.insert(tag.index_key(), victim);
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
    fn keep_recent(&mut self, key: &TokenKey<'_>) {
        if key.was_recent {
            return;
        }
        if let Some(kept) = self.recent.get_mut(key.recent) {
            kept.token.clear();
            kept.token.extend_from_slice(key.token);
            kept.tag = Some(key.tag);
        }
    }

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

    fn cache(capacity: usize) -> VerifiedTokenCache {
        VerifiedTokenCache::with_fixed_key(capacity)
    }

    fn entry(provider: usize) -> VerifiedToken {
        VerifiedToken {
            provider,
            facts: TokenFacts {
                lifetime: Err(crate::token::claims::LifetimeError::ExpMissingOrInvalid),
                roles: Rc::new([]),
                header_values: Rc::new([]),
                claim_texts: Box::new([]),
                client_id: None,
            },
            generation: 1,
            key: Rc::new(KeyName {
                kid: Some("k".into()),
                x5t: None,
                fingerprint: [0; 32],
            }),
        }
    }

    fn insert(cache: &VerifiedTokenCache, token: &[u8], provider: usize) {
        if let Some(key) = cache.key(token) {
            cache.insert(&key, entry(provider));
        }
    }

    fn hit(cache: &VerifiedTokenCache, token: &[u8]) -> Option<usize> {
        let key = cache.key(token)?;
        cache.with(&key, |e| Some(e.generation), |e| e.provider)
    }

    #[test]
    fn exact_tokens_only_down_to_every_bit() {
        let cache = cache(4);
        let token: Vec<u8> = (0..951).map(|i| b"ABCxyz019-_."[i % 12]).collect();
        insert(&cache, &token, 7);
        assert_eq!(hit(&cache, &token), Some(7));
        for at in 0..token.len() {
            for bit in 0..8 {
                let mut other = token.clone();
                other[at] ^= 1 << bit;
                assert_eq!(hit(&cache, &other), None, "byte {at}, bit {bit}");
            }
        }
        assert_eq!(hit(&cache, &token[..950]), None);
        assert_eq!(hit(&cache, &[&token[..], b" "].concat()), None);
        assert_eq!(hit(&cache, b""), None);
    }

    #[test]
    fn entries_alike_keep_one_copy_of_what_they_share() {
        let cache = cache(4);
        let with = |roles: &[&str], client: &str, kid: &str| {
            let mut e = entry(0);
            e.key = Rc::new(KeyName {
                kid: Some(kid.into()),
                x5t: None,
                fingerprint: [kid.len() as u8; 32],
            });
            e.facts.roles = roles.iter().map(|r| Box::from(*r)).collect();
            e.facts.client_id = Some(Rc::from(client));
            e.facts.header_values = Rc::new([Some(Rc::from(client)), None]);
            e
        };
        let shared = |token: &[u8]| {
            let key = cache.key(token).expect("a cache of 4 takes tokens");
            cache
                .with(&key, |e| Some(e.generation), |e| e.clone())
                .expect("cached")
        };
        for (token, roles, client, kid) in [
            (&b"t0"[..], &["r1"][..], "c1", "k1"),
            (b"t1", &["r1"], "c1", "k1"),
            (b"t2", &["r1", "r2"], "c2", "k1"),
            (b"t3", &["r1", "r2"], "c2", "key-2"),
        ] {
            let key = cache.key(token).expect("a cache of 4 takes tokens");
            cache.insert(&key, with(roles, client, kid));
        }
        let (t0, t1, t2) = (shared(b"t0"), shared(b"t1"), shared(b"t2"));
        assert!(Rc::ptr_eq(&t0.key, &t1.key) && Rc::ptr_eq(&t1.key, &t2.key));
        // Another key: its own name and fingerprint, or the entry would outlive its key.
        let t3 = shared(b"t3");
        assert!(!Rc::ptr_eq(&t2.key, &t3.key));
        assert_eq!(t3.key.kid.as_deref(), Some("key-2"));
        assert_eq!(t3.key.fingerprint, [5; 32]);
        assert!(Rc::ptr_eq(&t2.facts.roles, &t3.facts.roles));
        assert!(Rc::ptr_eq(&t0.facts.roles, &t1.facts.roles));
        assert!(Rc::ptr_eq(&t0.facts.header_values, &t1.facts.header_values));
        assert!(!Rc::ptr_eq(&t1.facts.roles, &t2.facts.roles));
        assert!(!Rc::ptr_eq(
            &t1.facts.header_values,
            &t2.facts.header_values
        ));
        assert_eq!(t2.facts.client_id.as_deref(), Some("c2"));
        assert_eq!(&*t2.facts.roles, &[Box::from("r1"), Box::from("r2")]);
    }

    /// Two tags filed at the same place in the index (same low half): each finds only its
    /// own entry, and evicting the older one leaves the newer one's filing alone.
    #[test]
    fn tags_sharing_an_index_place_are_told_apart_by_their_other_half() {
        let cache = cache(2);
        let low = 0x1234_5678_9abc_def0_u128;
        let key = |high: u128, low: u128, token: &'static [u8]| TokenKey {
            token,
            tag: TokenTag(high << 64 | low),
            recent: 0,
            was_recent: true,
        };
        let (first, second) = (key(1, low, b"first"), key(2, low, b"second"));
        let found = |k: &TokenKey<'_>| cache.with(k, |e| Some(e.generation), |e| e.provider);
        cache.insert(&first, entry(1));
        assert_eq!(found(&first), Some(1));
        assert_eq!(found(&second), None, "same index place, other tag");
        cache.insert(&second, entry(2));
        assert_eq!(found(&second), Some(2));
        assert_eq!(found(&first), None, "its filing went to the newer tag");
        // The cache is full: the next insert evicts slot 0 (first's), whose index place is
        // second's now and must stay so.
        let third = key(3, low + 1, b"third");
        cache.insert(&third, entry(3));
        assert_eq!(found(&third), Some(3));
        assert_eq!(found(&second), Some(2));
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
    fn admitted_tokens_are_kept_whole_and_only_exact_ones_reuse_the_tag() {
        let cache = cache(4);
        let token: Vec<u8> = (0..951).map(|i| b"ABCxyz019-_."[i % 13 % 12]).collect();
        let hashed = |t: &[u8]| TokenTag(sip24_128(&SipKey::from_bytes([7; 16]), t));
        let first = cache.key(&token).expect("a cache of 4 takes tokens");
        assert!(!first.was_recent);
        assert_eq!(hit(&cache, &token), None, "a stranger is not kept");
        assert!(!cache.key(&token).expect("key").was_recent);
        insert(&cache, &token, 3);
        let again = cache.key(&token).expect("key");
        assert!(again.was_recent, "kept once inserted");
        assert_eq!(again.tag, hashed(&token));
        assert_eq!(hit(&cache, &token), Some(3));
        // Same tail, so the same place among the recent tokens: compared in full, not reused.
        let mut head_changed = token.clone();
        head_changed[0] ^= 1;
        let other = cache.key(&head_changed).expect("key");
        assert_eq!((other.recent, other.was_recent), (again.recent, false));
        assert_eq!(other.tag, hashed(&head_changed));
        assert_eq!(hit(&cache, &head_changed), None);
    }

    #[test]
    fn another_key_names_the_same_token_otherwise() {
        let other = VerifiedTokenCache::new(4, SipKey::from_bytes([8; 16]));
        let tag = |cache: &VerifiedTokenCache| cache.key(b"a.b.c").map(|k| k.tag);
        assert_ne!(tag(&cache(4)), tag(&other));
    }

    #[test]
    fn bounded_with_second_chance_for_used_entries() {
        let cache = cache(3);
        for (i, t) in ["t0", "t1", "t2"].iter().enumerate() {
            insert(&cache, t.as_bytes(), i);
        }
        assert_eq!(hit(&cache, b"t0"), Some(0));
        insert(&cache, b"t3", 3);
        assert_eq!(cache.len(), 3);
        assert_eq!(hit(&cache, b"t0"), Some(0), "recently used survives");
        assert_eq!(hit(&cache, b"t1"), None, "the unused one went");
        for i in 0..100 {
            insert(&cache, format!("x{i}").as_bytes(), i);
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn refused_entries_are_dropped_and_capacity_zero_disables() {
        let cache = cache(2);
        insert(&cache, b"t", 1);
        let key = cache.key(b"t").expect("a cache of 2 takes tokens");
        assert_eq!(cache.with(&key, |_| None, |e| e.provider), None);
        assert_eq!(hit(&cache, b"t"), None);
        let off = VerifiedTokenCache::with_fixed_key(0);
        assert!(
            off.key(b"t").is_none(),
            "nothing is hashed for a cache of 0"
        );
        off.insert(&key, entry(1));
        assert!(off.is_empty());
    }
}
