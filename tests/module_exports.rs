//! The shipped module exports exactly the callbacks `src/host/exports.json` keeps. Envoy calls
//! every proxy-wasm callback a module exports; the ones rolegate does not use (response
//! headers and bodies, the access log, `proxy_on_done`, the TCP events) must be gone, or each
//! request pays for calls into V8 that do nothing. The request body and trailers are kept: a
//! request waiting for keys is held through them.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::Value;
use std::collections::BTreeSet;

fn leb128(bytes: &[u8], at: &mut usize) -> usize {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// The names in the module's export section.
fn exports(module: &[u8]) -> BTreeSet<String> {
    assert_eq!(&module[..8], b"\0asm\x01\0\0\0", "not a wasm module");
    let mut at = 8;
    while at < module.len() {
        let id = module[at];
        at += 1;
        let size = leb128(module, &mut at);
        let end = at + size;
        if id == 7 {
            let mut names = BTreeSet::new();
            let count = leb128(module, &mut at);
            for _ in 0..count {
                let len = leb128(module, &mut at);
                names.insert(String::from_utf8(module[at..at + len].to_vec()).unwrap());
                at += len + 1; // name, then the export's kind byte
                leb128(module, &mut at); // and its index
            }
            return names;
        }
        at = end;
    }
    panic!("no export section")
}

#[test]
fn the_module_exports_only_the_callbacks_it_uses() {
    let path = rolegate_testkit::workspace::wasm_module().unwrap();
    let module = std::fs::read(&path).unwrap();
    let got = exports(&module);

    let graph: Value = serde_json::from_str(include_str!("../src/host/exports.json")).unwrap();
    let kept: BTreeSet<String> = graph
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|node| node["export"].as_str().map(str::to_string))
        .collect();
    assert_eq!(got, kept, "{}", path.display());

    for needed in [
        "proxy_abi_version_0_2_1",
        "proxy_on_memory_allocate",
        "proxy_on_context_create",
        "proxy_on_configure",
        "proxy_on_tick",
        "proxy_on_http_call_response",
        "proxy_on_request_headers",
        // A request held for keys must stay held when its body or trailers arrive: without
        // these Envoy continues the stream on the first body chunk (tests/lifecycle.rs).
        "proxy_on_request_body",
        "proxy_on_request_trailers",
        "proxy_on_delete",
    ] {
        assert!(got.contains(needed), "{needed} missing");
    }
    for dropped in [
        "proxy_on_done",
        "proxy_on_log",
        "proxy_on_response_headers",
        "proxy_on_response_body",
        "proxy_on_downstream_data",
    ] {
        assert!(!got.contains(dropped), "{dropped} still exported");
    }
}
