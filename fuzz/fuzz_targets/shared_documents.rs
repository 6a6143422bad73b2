//! Documents that reach the core from outside the request: the shared key-set record (written
//! by other workers, or left corrupt), an OIDC discovery document, a key set read back from
//! the shared store, and the host's `verify_signature` answer. The first byte picks which; the
//! rest is the document (and, for the record, the operations applied to it after a 0x00).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::config::Config;
use rolegate::crypto::foreign_verify;
use rolegate::keys::discovery::{self, DiscoveryError, MAX_DOCUMENT_BYTES};
use rolegate::keys::shared_data::{MemorySharedData, SharedData};
use rolegate::keys::shared_fetch_record::SharedFetchRecord;
use rolegate::keys::worker_key_sets::WorkerKeySets;
use std::sync::OnceLock;

const REMOTE_CONFIG: &str = r#"{"providers":[{"name":"p","issuer":"https://idp.example/","audiences":["a"],
    "remote_jwks":{"cluster":"idp","uri":"http://idp/keys","max_jwks_bytes":65536}}],
    "rules":[{"match":{"prefix":"/"}}]}"#;

fn config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| Config::parse(REMOTE_CONFIG.as_bytes()).unwrap_or_else(|e| panic!("{e:?}")))
}

fn u64_at(ops: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, slot) in b.iter_mut().enumerate() {
        *slot = ops.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// Decodes a record, checks it re-encodes to itself, then runs the lease / refetch state
/// machine over it with fuzzed clocks and workers (overflow checks are on in fuzz builds).
fn record(text: &[u8], ops: &[u8]) {
    let Some(mut r) = SharedFetchRecord::decode(text) else {
        return;
    };
    assert_eq!(SharedFetchRecord::decode(r.encode().as_bytes()), Some(r));
    for op in ops.chunks(17) {
        let (Some(&code), a, b) = (op.first(), u64_at(op, 1), u64_at(op, 9)) else {
            break;
        };
        let before = r;
        match code % 5 {
            0 => {
                if r.try_claim(a | 1, b, a >> 40) {
                    assert_eq!(r.lease_holder, a | 1);
                    assert!(!r.refetch_requested);
                }
            }
            1 => {
                let changed = code & 0x80 != 0;
                r.succeeded(a, b, a >> 20, changed, (a & 0xff) as f64 / 256.0);
                // A new key set always moves the generation (wrapping from u64::MAX to 1, as
                // 0 means "no keys"); an unchanged one keeps it.
                assert!(r.generation >= 1);
                if changed || before.generation == 0 {
                    assert_ne!(r.generation, before.generation);
                } else {
                    assert_eq!(r.generation, before.generation);
                }
                assert_eq!(r.consecutive_failures, 0);
            }
            2 => {
                let jitter = (a % 1024) as f64 / 1024.0;
                r.failed(a, b, jitter);
                assert!(r.next_fetch_ms >= b.min(u64::MAX - 60_000));
                assert!(r.next_fetch_ms <= b.saturating_add(60_000));
            }
            3 => {
                let _ = r.request_refetch(b, a >> 32);
            }
            _ => {
                let _ = (r.has_keys(), r.fetch_in_flight(b));
            }
        }
        assert!(r.completed >= before.completed);
        assert_eq!(SharedFetchRecord::decode(r.encode().as_bytes()), Some(r));
    }
}

fn discovery_document(doc: &[u8]) {
    let issuers = ["https://idp.example/".to_string(), String::new()];
    match discovery::jwks_uri(doc, &issuers) {
        Ok(uri) => {
            assert!(doc.len() <= MAX_DOCUMENT_BYTES);
            assert!(rolegate::config::split_uri(&uri).is_some());
        }
        Err(DiscoveryError::IssuerMismatch(shown)) => assert!(shown.chars().count() <= 200),
        Err(_) => {}
    }
}

/// A worker syncing from a store whose record and key-set body are the fuzzed bytes.
fn synced_from_store(record: &[u8], body: &[u8]) {
    let store = MemorySharedData::default();
    let mut cache = WorkerKeySets::new(config(), 7);
    let record_key = cache.record_key(0).expect("remote").to_string();
    store.set(&record_key, record, 0);
    store.set(cache.body_key(0).expect("remote"), body, 0);
    let _ = cache.sync(&store);
    let _ = cache.claim_due(&store, u64_at(body, 0));
    let _ = cache.request_refetch(&store, 0, u64_at(record, 0));
    let _ = cache.age_seconds(0, u64::MAX);
    // Whatever was there, the record left behind must be readable.
    let stored = store.get(&record_key).map(|(b, _)| b).unwrap_or_default();
    assert!(SharedFetchRecord::decode(&stored).is_some() || stored == record);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (first, second) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    match which % 4 {
        0 => record(first, second),
        1 => discovery_document(rest),
        2 => synced_from_store(first, second),
        _ => {
            // Envoy's protobuf answer (host-written): any bytes decode or are refused, no panic.
            let _ = foreign_verify::decode_result(rest);
            let args = foreign_verify::encode_arguments(first, second, rest);
            assert!(args.len() > first.len() + second.len() + rest.len());
        }
    }
});
