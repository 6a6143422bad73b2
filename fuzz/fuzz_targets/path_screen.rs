//! `path_screen::screen` on any bytes, checked against a second, plainer reading of the rules:
//! a path passes exactly when that reading finds nothing ambiguous, and what passes is a form
//! that means the same to every decoder and screens to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::request::path_screen::{path_part, screen};

/// Every escape decoded: what a decoding upstream sees (lossy where escapes are broken).
fn decode_all(path: &str) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) if hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// The reference: the screen's rules written out with string operations.
fn canonical(raw: &[u8]) -> bool {
    let Ok(path) = std::str::from_utf8(path_part(raw)) else {
        return false;
    };
    if !path.starts_with('/') || path.contains('\\') {
        return false;
    }
    if path.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    let bytes = path.as_bytes();
    for (i, _) in path.match_indices('%') {
        let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
            return false;
        };
        if !is_hex(h) || !is_hex(l) {
            return false;
        }
        let v = u8::from_str_radix(&path[i + 1..i + 3], 16).unwrap_or(0);
        if v == b'/' || v == b'\\' || v < 0x20 || v == 0x7f {
            return false;
        }
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let name = segment.split(';').next().unwrap_or("");
        let decoded = decode_all(name);
        if decoded == b"." || decoded == b".." {
            return false;
        }
        let last = i + 1 == segments.len();
        if name.is_empty() && !(last && segment.is_empty()) {
            return false;
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let result = screen(data);
    assert_eq!(
        result.is_ok(),
        canonical(data),
        "{:?} -> {result:?}",
        String::from_utf8_lossy(data)
    );
    let Ok(screened) = result else {
        return;
    };
    let matched = &*screened.matched;
    let original = std::str::from_utf8(path_part(data)).expect("screened paths are text");
    assert_eq!(
        decode_all(matched),
        decode_all(original),
        "same resource once decoded"
    );
    assert!(!matched.contains("//") && !matched.contains('\\'));
    for (i, _) in matched.match_indices('%') {
        let hex = &matched[i + 1..i + 3];
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        let v = u8::from_str_radix(hex, 16).expect("hex");
        assert!(
            !(v.is_ascii_alphanumeric() || b"-._~".contains(&v)),
            "unreserved left encoded"
        );
    }
    let again = screen(matched.as_bytes()).expect("the screened form is canonical");
    assert_eq!(&*again.matched, matched);
    assert_eq!(screened.without_parameters.is_some(), matched.contains(';'));
    if let Some(stripped) = &screened.without_parameters {
        assert!(!stripped.contains(';') && stripped.starts_with('/'));
    }
});
