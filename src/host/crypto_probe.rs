//! A test-only root context (feature `crypto-probe`, never in the shipped module): runs
//! signature vectors given as plugin configuration through the same `HostCrypto` the filter
//! uses, so the vectors proven natively are also proven against Envoy's BoringSSL.
//!
//! Configuration: `{"rows": [{"id", "n", "e", "msg", "sig" (hex), "valid": bool}]}`.
//! Result: one log line `crypto probe: rows=R agree=A host_calls=H disagree=[ids]`.

use super::crypto::host_crypto;
use super::log;
use crate::crypto::rs256::{Rs256Key, SignatureVerifier};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, RootContext};
use proxy_wasm::types::BufferType;
use serde_json::Value;

pub struct CryptoProbe;

fn hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

fn run(rows: &[Value]) -> String {
    let crypto = host_crypto();
    let mut agree = 0;
    let mut disagree = Vec::new();
    for row in rows {
        let field = |name: &str| row.get(name).and_then(Value::as_str).and_then(hex);
        let id = row.get("id").and_then(Value::as_str).unwrap_or("?");
        let expected = row.get("valid").and_then(Value::as_bool).unwrap_or(false);
        let (Some(n), Some(e), Some(msg), Some(sig)) =
            (field("n"), field("e"), field("msg"), field("sig"))
        else {
            disagree.push(format!("{id}:unreadable"));
            continue;
        };
        let verified = match Rs256Key::from_components(&n, &e) {
            Ok(key) => crypto.verify(&key, &msg, &sig),
            Err(_) => false,
        };
        if verified == expected {
            agree += 1;
        } else {
            disagree.push(id.to_string());
        }
    }
    format!(
        "crypto probe: rows={} agree={agree} host_calls={} disagree={disagree:?}",
        rows.len(),
        crypto.host_calls()
    )
}

impl Context for CryptoProbe {}

impl RootContext for CryptoProbe {
    fn on_configure(&mut self, _: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        let rows = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("rows").and_then(Value::as_array).cloned())
            .unwrap_or_default();
        log::info(&run(&rows));
        true
    }
}
