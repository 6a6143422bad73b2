//! `Config::parse` on any bytes; a configuration that passes must hold its promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::config::{Config, KeySource};
use rolegate::keys::worker_key_sets::WorkerKeySets;

fuzz_target!(|data: &[u8]| {
    let config = match Config::parse(data) {
        Ok(config) => config,
        Err(errors) => {
            assert!(!errors.is_empty());
            return;
        }
    };
    assert!(!config.providers.is_empty());
    assert!(!config.rules.is_empty());
    assert!(!config.from_headers.is_empty());
    assert!((256..=65536).contains(&config.max_token_bytes));
    assert!((0..=3600).contains(&config.clock_skew_seconds));
    for p in &config.providers {
        // A multi-tenant Entra provider names its issuers by template, not in `issuers`.
        let templates = p.tenant_issuers.as_ref().map_or(0, |t| t.templates.len());
        assert!(!p.issuers.is_empty() || templates > 0);
        assert!(!p.audiences.is_empty());
        if let KeySource::Local(set) = &p.keys {
            assert!(set.usable_count() > 0);
        }
        if let Some(f) = p.keys.fetch_settings() {
            assert!(f.timeout_ms >= 1 && f.cache_duration_seconds >= 1);
        }
    }
    let _ = WorkerKeySets::new(&config, 1);
});
