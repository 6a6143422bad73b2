//! `path_screen::screen` on any bytes, checked against a second, plainer reading of the rules:
//! a path passes exactly when that reading finds nothing ambiguous, and what passes is the one
//! spelling of the path: it means the same to every decoder, holds no escape but the four that
//! keep one, and screens to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::request::path_screen::{path_part, screen};

/// Every escape decoded: what a decoding upstream sees (lossy where escapes are broken).
fn decode_all(path: &str) -> Vec<u8> {
    decode_except(path, b"")
}

/// Every well-formed escape decoded but those of `kept`, which are written back with
/// upper-case hex; broken escapes left as they are.
fn decode_except(path: &str, kept: &[u8]) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) if hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) => {
                if kept.contains(&v) {
                    out.extend_from_slice(format!("%{v:02X}").as_bytes());
                } else {
                    out.push(v);
                }
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

/// The escapes the matched form keeps: decoded, they would read as an escape, a parameter or
/// the end of the path.
const KEPT: &[u8] = b"%;?#";

/// Every character NFKC turns into text with `.`, `/` or `\` (Python's unicodedata, all code
/// points), written out rather than as ranges.
const NFKC_DOTS_AND_SEPARATORS: &str = "\u{2024}\u{2025}\u{2026}\u{2100}\u{2101}\u{2105}\u{2106}\
    \u{2488}\u{2489}\u{248a}\u{248b}\u{248c}\u{248d}\u{248e}\u{248f}\u{2490}\u{2491}\u{2492}\
    \u{2493}\u{2494}\u{2495}\u{2496}\u{2497}\u{2498}\u{2499}\u{249a}\u{249b}\u{33c2}\u{33c7}\
    \u{33d8}\u{fe19}\u{fe30}\u{fe52}\u{fe68}\u{ff0e}\u{ff0f}\u{ff3c}\u{1f100}";

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// The reference: the screen's rules written out with string operations.
fn canonical(raw: &[u8]) -> bool {
    let Ok(path) = std::str::from_utf8(path_part(raw)) else {
        return false;
    };
    if !path.starts_with('/') {
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
        if v == b'/' || v == b'\\' {
            return false;
        }
    }
    let Ok(decoded) = String::from_utf8(decode_except(path, KEPT)) else {
        return false;
    };
    if decoded.contains('\\') || decoded.chars().any(char::is_control) {
        return false;
    }
    if decoded.chars().any(|c| NFKC_DOTS_AND_SEPARATORS.contains(c)) {
        return false;
    }
    let double = decoded.match_indices("%25").any(|(i, _)| {
        let after = &decoded.as_bytes()[i + 3..];
        after.len() >= 2 && is_hex(after[0]) && is_hex(after[1])
    });
    if double {
        return false;
    }
    let segments: Vec<&str> = decoded[1..].split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let name = segment.split(';').next().unwrap_or("");
        if name == "." || name == ".." {
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
    assert_eq!(
        matched.as_bytes(),
        decode_except(original, KEPT),
        "every escape decoded but the kept ones"
    );
    assert!(!matched.contains("//") && !matched.contains('\\'));
    for (i, _) in matched.match_indices('%') {
        let hex = &matched[i + 1..i + 3];
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        let v = u8::from_str_radix(hex, 16).expect("hex");
        assert!(KEPT.contains(&v), "{v:#04x} left encoded");
    }
    // The fixed point: the one spelling is canonical and is its own spelling, with the same
    // parameters, so a rule written in it matches exactly the requests that screen to it.
    let again = screen(matched.as_bytes()).expect("the screened form is canonical");
    assert_eq!(&*again.matched, matched, "the screened form screens to itself");
    assert_eq!(again.without_parameters, screened.without_parameters);
    assert_eq!(screened.without_parameters.is_some(), matched.contains(';'));
    if let Some(stripped) = &screened.without_parameters {
        assert!(!stripped.contains(';') && stripped.starts_with('/'));
    }
});
