//! The shipped module exports exactly the callbacks `src/host/exports.json` keeps. Envoy calls
//! every proxy-wasm callback a module exports; the ones rolegate does not use (response
//! headers and bodies, the access log, `proxy_on_done`, the TCP events) must be gone, or each
//! request pays for calls into V8 that do nothing. The request body and trailers are kept: a
//! request waiting for keys is held through them.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use rolegate_testkit::wasm::Module;
use rolegate_testkit::workspace;
use serde_json::Value;
use std::collections::BTreeSet;

#[test]
fn the_module_exports_only_the_callbacks_it_uses() {
    let path = workspace::wasm_module().unwrap();
    let module = std::fs::read(&path).unwrap();
    let got = Module::parse(&module).unwrap().exports().unwrap();

    let graph = std::fs::read_to_string(workspace::root().join("src/host/exports.json")).unwrap();
    let graph: Value = serde_json::from_str(&graph).unwrap();
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
        // these Envoy continues the stream on the first body chunk (lifecycle.rs).
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
