//! Strict base64url (RFC 7515 §2): URL alphabet, no padding, no stray bits, nothing else.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// `None` for padding, `+`, `/`, whitespace, or a non-canonical last character.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    STRICT.decode(text).ok()
}

const TOLERANT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// For key material from the configured IdP, not from clients: some IdPs publish `n` in
/// padded standard base64 (Battle.net does), and refusing their keys protects nobody.
pub fn decode_key_member(text: &str) -> Option<Vec<u8>> {
    if let Some(bytes) = decode(text) {
        return Some(bytes);
    }
    let url_alphabet: String = text
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    TOLERANT.decode(url_alphabet).ok()
}

/// Tokens and key sets are only read in the module; tests and fuzz targets build them.
#[cfg(any(test, feature = "internals"))]
pub fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_unpadded_url_alphabet_decodes() {
        assert_eq!(decode("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode("aGk="), None);
        assert_eq!(decode("aGl"), None, "non-canonical trailing bits");
        assert_eq!(decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode("+/8"), None);
        assert_eq!(decode("aG k"), None);
        assert_eq!(decode(""), Some(vec![]));
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn key_members_may_use_standard_base64_and_padding() {
        assert_eq!(decode_key_member("+/8="), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_key_member("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_key_member("AQAB"), Some(vec![1, 0, 1]));
        assert_eq!(decode_key_member("A Q"), None);
        assert_eq!(decode_key_member("*"), None);
    }
}
