#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The Wycheproof RSASSA-PKCS1-v1_5 SHA-256 vectors, proven natively in `tests/vectors.rs`,
//! run again inside real Envoy through the filter's `HostCrypto` (BoringSSL via the
//! `verify_signature` foreign function). The probe module is the filter's own code built with
//! the test-only feature `crypto-probe` (`make probe`).

use rolegate_testkit::bootstrap::{standard, wasm_filter};
use rolegate_testkit::{vectors, workspace, Envoy};
use serde_json::{json, Value};
use std::time::Duration;

/// One probe row per Wycheproof test: `acceptable` counts as must-reject (our policy).
fn rows(file: &str) -> Vec<Value> {
    let doc = vectors::read_json(&format!("wycheproof/{file}"));
    let mut rows = Vec::new();
    for group in doc["testGroups"].as_array().expect("groups") {
        let key = &group["publicKey"];
        for test in group["tests"].as_array().expect("tests") {
            rows.push(json!({
                "id": format!("{file}#{}", test["tcId"]),
                "n": key["modulus"],
                "e": key["publicExponent"],
                "msg": test["msg"],
                "sig": test["sig"],
                "valid": test["result"] == "valid",
            }));
        }
    }
    rows
}

/// (rows, agree, host_calls, disagree) from the probe's log line.
fn run_probe(rows: Vec<Value>) -> (usize, usize, usize, String) {
    let wasm = workspace::probe_module().unwrap_or_else(|e| panic!("{e}"));
    let config = json!({ "rows": rows });
    let envoy = Envoy::start_with(|dir| {
        standard(
            vec![wasm_filter(&config.to_string(), &wasm)],
            9,
            9,
            &dir.join("access.log"),
        )
    });
    envoy.assert_logged("crypto probe:", Duration::from_secs(30));
    let log = envoy.log();
    let line = log
        .lines()
        .find(|l| l.contains("crypto probe:"))
        .expect("probe line");
    println!("{}", &line[line.find("crypto probe:").unwrap_or(0)..]);
    let number = |name: &str| -> usize {
        let at = line.find(&format!("{name}=")).expect(name) + name.len() + 1;
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let disagree = line[line.find("disagree=").expect("disagree") + 9..].to_string();
    (
        number("rows"),
        number("agree"),
        number("host_calls"),
        disagree,
    )
}

#[test]
fn wycheproof_rsa_signatures_agree_in_envoy_boringssl() {
    let files = [
        "rsa_signature_2048_sha256_test.json",
        "rsa_signature_3072_sha256_test.json",
        "rsa_signature_4096_sha256_test.json",
        "rsa_signature_8192_sha256_test.json",
    ];
    let all: Vec<Value> = files.iter().flat_map(|f| rows(f)).collect();
    let total = all.len();
    assert_eq!(total, 259 + 259 + 258 + 258, "every row of the four files");
    // Rows whose signature has the modulus length reach BoringSSL; the others are refused by
    // the length check before it, exactly as in the filter.
    let (rows, agree, host_calls, disagree) = run_probe(all);
    assert_eq!(rows, total);
    assert_eq!(
        agree, total,
        "rows where Envoy's crypto disagrees: {disagree}"
    );
    assert_eq!(disagree, "[]");
    assert!(
        host_calls > total / 2,
        "BoringSSL must have answered most rows, answered {host_calls} of {total}"
    );
}
