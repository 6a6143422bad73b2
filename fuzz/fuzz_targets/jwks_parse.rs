//! `KeySet::parse` on any bytes, then lookups and, for every distinct key found, a verify of
//! the RFC 7520 §4.1 signature (valid for the bilbo key only).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::crypto::rs256::Rs256Key;
use rolegate::keys::fetch_cycle::key_set_from_response;
use rolegate::keys::jwks::{KeyLookup, KeySet, MAX_KEYS};

const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4";
const SIGNATURE: &str = "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg";

/// Each distinct key found is verified once: an RSA public operation is most of the cost.
fn verify_found<'a>(set: &KeySet, lookup: KeyLookup<'a>, seen: &mut Vec<&'a Rs256Key>) {
    let KeyLookup::Found(key) = lookup else {
        return;
    };
    assert!(set.usable_count() >= 1);
    if seen.iter().any(|k| std::ptr::eq(*k, key)) {
        return;
    }
    seen.push(key);
    let signature = rolegate::token::base64url::decode(SIGNATURE).unwrap_or_default();
    // Only the RFC 7520 modulus can accept the RFC 7520 signature.
    if key.verify(MESSAGE, &signature) {
        assert_eq!(
            rolegate::token::base64url::encode(key.modulus()).get(..20),
            Some("n4EPtAOCc9AlkeQHPzHS")
        );
    }
    // A signature of the wrong length is refused before any arithmetic.
    assert!(!key.verify(MESSAGE, &signature[..signature.len().saturating_sub(1)]));
}

fuzz_target!(|data: &[u8]| {
    let Ok(set) = KeySet::parse(data) else {
        return;
    };
    assert!(set.keys().len() <= MAX_KEYS);
    assert!(set.usable_count() <= set.keys().len());
    let mut seen = Vec::new();
    for kid in [Some("bilbo.baggins@hobbiton.example"), Some(""), None] {
        verify_found(&set, set.lookup(kid, None), &mut seen);
        verify_found(&set, set.lookup(kid, Some("x5t")), &mut seen);
    }
    // The kids and thumbprints the document itself names.
    for jwk in set.keys().iter().take(4) {
        verify_found(
            &set,
            set.lookup(jwk.kid.as_deref(), jwk.x5t.as_deref()),
            &mut seen,
        );
        verify_found(&set, set.lookup(None, jwk.x5t.as_deref()), &mut seen);
    }
    // The fetch path's own checks come before parsing: no answer, a bad status, too large.
    assert!(key_set_from_response(None, data, usize::MAX).is_err());
    assert!(key_set_from_response(Some(500), data, usize::MAX).is_err());
    assert!(key_set_from_response(Some(200), data, data.len().saturating_sub(1)).is_err());
});
