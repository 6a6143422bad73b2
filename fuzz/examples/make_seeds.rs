//! Writes `fuzz/seeds/decision/`: inputs for the `decision` target (layout:
//! `rolegate_fuzz::DecisionInput`). Raw-mode seeds carry tokens signed here with the RFC 7520
//! key, so the fuzzer starts past the signature; signed-mode seeds give it claims to mutate.
//!
//! Run in fuzz/: `cargo +nightly run --example make_seeds`

use rolegate_fuzz::{flags, signed_token, template_tokens, DecisionInput};
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds/decision");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let ready = flags::RELATIVE_TIME;
    let requests: [(&str, &str); 5] = [
        ("GET", "/calc/v1/add/1/2"),
        ("POST", "/admin?x=1"),
        ("GET", "/healthz"),
        ("DELETE", "/other"),
        ("GET", "/admin/x"),
    ];
    let input = |flags, now, fields: &[&[u8]]| DecisionInput {
        flags,
        now,
        fields: fields.iter().map(|f| f.to_vec()).collect(),
    };
    let mut inputs = Vec::new();
    for (i, (header, claims)) in template_tokens().iter().enumerate() {
        let token = signed_token(header.as_bytes(), claims.as_bytes());
        let bearer = format!("Bearer {token}");
        let (method, path) = requests[i % requests.len()];
        let (method, path) = (method.as_bytes(), path.as_bytes());
        let refetch = if i % 3 == 0 { flags::WAIT_REFETCH } else { 0 };
        let authority = b"api.example:443";
        inputs.push(input(
            ready | refetch,
            0,
            &[method, path, authority, bearer.as_bytes()],
        ));
        let basic = b"Basic dXNlcg==";
        inputs.push(input(
            ready,
            0,
            &[b"GET", b"/calc/x", b"h", basic, token.as_bytes()],
        ));
        let in_x_jwt = if i % 2 == 0 {
            flags::SIGNED_IN_X_JWT
        } else {
            0
        };
        let fields: [&[u8]; 7] = [
            method,
            path,
            b"api.example",
            b"",
            b"",
            header.as_bytes(),
            claims.as_bytes(),
        ];
        inputs.push(input(ready | flags::SIGN | in_x_jwt, 0, &fields));
    }
    // Keys pending / unavailable, a missing token, a realm worth sanitizing, absolute time.
    let pending = ready | flags::WAIT_FIRST_KEYS | (2 << flags::KEYS_SHIFT);
    inputs.push(input(pending, 0, &[b"GET", b"/", b"h", b"Bearer a.b.c"]));
    let realm = "h\"\\\u{7}\u{e9}".as_bytes();
    inputs.push(input(
        3 << flags::KEYS_SHIFT,
        i64::MAX,
        &[b"GET", b"/", realm],
    ));
    for (i, input) in inputs.iter().enumerate() {
        let path = dir.join(format!("seed-{i:03}"));
        std::fs::write(&path, input.encode()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    println!("{} seeds in {}", inputs.len(), dir.display());
}
