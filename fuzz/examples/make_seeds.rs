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
    let mut inputs = Vec::new();
    for (i, (header, claims)) in template_tokens().iter().enumerate() {
        let token = signed_token(header.as_bytes(), claims.as_bytes());
        let (method, path) = requests[i % requests.len()];
        let field = |s: &str| s.as_bytes().to_vec();
        inputs.push(DecisionInput {
            flags: ready | if i % 3 == 0 { flags::WAIT_REFETCH } else { 0 },
            now: 0,
            fields: vec![
                field(method),
                field(path),
                field("api.example:443"),
                field(&format!("Bearer {token}")),
            ],
        });
        inputs.push(DecisionInput {
            flags: ready,
            now: 0,
            fields: vec![
                field("GET"),
                field("/calc/x"),
                field("h"),
                field("Basic dXNlcg=="),
                field(&token),
            ],
        });
        inputs.push(DecisionInput {
            flags: ready
                | flags::SIGN
                | if i % 2 == 0 {
                    flags::SIGNED_IN_X_JWT
                } else {
                    0
                },
            now: 0,
            fields: vec![
                field(method),
                field(path),
                field("api.example"),
                Vec::new(),
                Vec::new(),
                field(header),
                field(claims),
            ],
        });
    }
    // Keys pending / unavailable, a missing token, a realm worth sanitizing, absolute time.
    inputs.push(DecisionInput {
        flags: ready | flags::WAIT_FIRST_KEYS | (2 << flags::KEYS_SHIFT),
        now: 0,
        fields: vec![
            b"GET".to_vec(),
            b"/".to_vec(),
            b"h".to_vec(),
            b"Bearer a.b.c".to_vec(),
        ],
    });
    inputs.push(DecisionInput {
        flags: 3 << flags::KEYS_SHIFT,
        now: i64::MAX,
        fields: vec![
            b"GET".to_vec(),
            b"/".to_vec(),
            "h\"\\\u{7}\u{e9}".as_bytes().to_vec(),
        ],
    });
    for (i, input) in inputs.iter().enumerate() {
        let path = dir.join(format!("seed-{i:03}"));
        std::fs::write(&path, input.encode()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    println!("{} seeds in {}", inputs.len(), dir.display());
}
