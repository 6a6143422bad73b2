//! The store all worker VMs of one Envoy share (proxy-wasm shared data), behind a small trait
//! so the key-set lifecycle can be tested natively with several simulated workers.

use crate::keys::shared_fetch_record::SharedFetchRecord;
#[cfg(any(test, feature = "internals"))]
use std::cell::RefCell;
#[cfg(any(test, feature = "internals"))]
use std::collections::HashMap;

pub trait SharedData {
    /// The value and its CAS version; `None` when the key was never written.
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Writes when `cas` is 0 or matches the current version (or the key is absent); false on a
    /// CAS mismatch or any failure.
    fn set(&self, key: &str, value: &[u8], cas: u32) -> bool;
}

/// A CAS version no real entry carries: writing with it succeeds only while the key is absent
/// (an absent key accepts any CAS), which turns `set` into "create if missing".
const CREATE_ONLY_CAS: u32 = u32::MAX;
const CAS_ATTEMPTS: usize = 16;

fn read_record(store: &dyn SharedData, key: &str) -> Option<(SharedFetchRecord, u32)> {
    if let Some((bytes, cas)) = store.get(key) {
        // A record we cannot read is replaced, never trusted.
        return Some((SharedFetchRecord::decode(&bytes).unwrap_or_default(), cas));
    }
    store.set(
        key,
        SharedFetchRecord::default().encode().as_bytes(),
        CREATE_ONLY_CAS,
    );
    let (bytes, cas) = store.get(key)?;
    Some((SharedFetchRecord::decode(&bytes).unwrap_or_default(), cas))
}

/// The current record (created empty if missing).
pub fn load_record(store: &dyn SharedData, key: &str) -> Option<SharedFetchRecord> {
    read_record(store, key).map(|(record, _)| record)
}

/// Applies `change` atomically: re-reads and retries when another worker wrote in between.
/// `change` returns whether it modified the record (and what to hand back). `None` when the
/// store kept refusing.
pub fn update_record<T>(
    store: &dyn SharedData,
    key: &str,
    mut change: impl FnMut(&mut SharedFetchRecord) -> (bool, T),
) -> Option<(SharedFetchRecord, T)> {
    for _ in 0..CAS_ATTEMPTS {
        let (mut record, cas) = read_record(store, key)?;
        let (modified, result) = change(&mut record);
        if !modified || store.set(key, record.encode().as_bytes(), cas) {
            return Some((record, result));
        }
    }
    None
}

/// A number no other worker sharing `store` gets: it names fetch-lease holders. `fallback`
/// (e.g. from the clock) is used if the store keeps refusing; never 0, which means "nobody".
pub fn next_worker_id(store: &dyn SharedData, key: &str, fallback: u64) -> u64 {
    for _ in 0..CAS_ATTEMPTS {
        let Some((bytes, cas)) = store.get(key) else {
            if store.set(key, b"1", CREATE_ONLY_CAS) {
                return 1;
            }
            continue;
        };
        let current = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        let next = current.saturating_add(1);
        if store.set(key, next.to_string().as_bytes(), cas) {
            return next;
        }
    }
    // A collision would only mean two fetches instead of one.
    fallback.max(1)
}

/// An in-process store with the same CAS rules as Envoy's shared data, for simulating several
/// workers natively.
#[cfg(any(test, feature = "internals"))]
#[derive(Default)]
pub struct MemorySharedData {
    entries: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    next_cas: RefCell<u32>,
}

#[cfg(any(test, feature = "internals"))]
impl SharedData for MemorySharedData {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.entries.borrow().get(key).cloned()
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> bool {
        let mut entries = self.entries.borrow_mut();
        if let Some((_, current)) = entries.get(key) {
            if cas != 0 && cas != *current {
                return false;
            }
        }
        let mut next = self.next_cas.borrow_mut();
        *next = next.wrapping_add(1).max(1);
        entries.insert(key.to_string(), (value.to_vec(), *next));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_only_writes_never_clobber() {
        let store = MemorySharedData::default();
        assert!(store.set("k", b"first", CREATE_ONLY_CAS));
        assert!(!store.set("k", b"second", CREATE_ONLY_CAS));
        assert_eq!(store.get("k").map(|(v, _)| v), Some(b"first".to_vec()));
    }

    #[test]
    fn worker_ids_are_distinct() {
        let store = MemorySharedData::default();
        let ids: Vec<u64> = (0..4).map(|_| next_worker_id(&store, "seq", 99)).collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
    }

    #[test]
    fn updates_retry_on_a_concurrent_write() {
        let store = MemorySharedData::default();
        let mut interfered = false;
        let (record, ()) = update_record(&store, "r", |r| {
            if !interfered {
                interfered = true;
                // Another worker bumps the record between our read and our write.
                let mut other = *r;
                other.completed = 5;
                let cas = store.get("r").map_or(0, |(_, c)| c);
                assert!(store.set("r", other.encode().as_bytes(), cas));
            }
            r.generation += 1;
            (true, ())
        })
        .expect("updated");
        assert_eq!((record.generation, record.completed), (1, 5));
        assert_eq!(load_record(&store, "r"), Some(record));
    }
}
