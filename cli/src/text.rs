//! Small formatting helpers: UTC dates, durations, lenient base64, JSON.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// `2024-09-02T08:24:13Z` for Unix seconds; the bare number for a time chrono cannot place
/// (beyond ±262,000 years), which no token the filter accepts carries.
pub fn utc(seconds: i64) -> String {
    match DateTime::<Utc>::from_timestamp(seconds, 0) {
        Some(time) => time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => format!("{seconds} s after 1970"),
    }
}

/// `1y 83d`, `2h 5m`, `42s`: the two largest units, which is enough to read a lifetime.
/// Hand-written on purpose: humantime prints every unit down to the second (and counts
/// 30.44-day months), and chrono has no duration text at all.
pub fn duration(seconds: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (365 * 86_400, "y"),
        (86_400, "d"),
        (3600, "h"),
        (60, "m"),
        (1, "s"),
    ];
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut rest = seconds;
    let mut parts = Vec::new();
    for (size, unit) in UNITS {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            // Keep the two parts adjacent: "1h 0m", not "1h 5s".
            parts.push(format!("0{unit}"));
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// `at` seen from `reference`: `in 55m 53s` / `9m 7s ago` / `same second` when `label` is
/// `None` (the current time), else `55m 53s after the check time` (`before`, `the same second
/// as`).
pub fn relative_to(at: i64, reference: i64, label: Option<&str>) -> String {
    let diff = i128::from(at) - i128::from(reference);
    let magnitude = duration(u64::try_from(diff.unsigned_abs()).unwrap_or(u64::MAX));
    match (diff.signum(), label) {
        (0, None) => "same second".to_string(),
        (1, None) => format!("in {magnitude}"),
        (_, None) => format!("{magnitude} ago"),
        (0, Some(label)) => format!("the same second as {label}"),
        (1, Some(label)) => format!("{magnitude} after {label}"),
        (_, Some(label)) => format!("{magnitude} before {label}"),
    }
}

/// A JSON NumericDate as the filter reads it: a whole number of seconds that fits `i64`.
pub fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// How a segment had to be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Mode {
    /// Strict base64url, as the filter requires.
    Strict,
    /// Only with leniency (padding, `+`/`/`, stray trailing bits): the filter refuses it.
    Lenient,
}

/// base64url that forgives what some tools emit: `+`/`/` are mapped to the url-safe
/// alphabet and `=` padding is trimmed before decoding, and non-zero trailing bits pass.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64url strictly if possible, else leniently: both alphabets, `=` padding,
/// non-zero trailing bits. `None` for any other character or an impossible length.
pub fn decode_base64(text: &str) -> Option<(Vec<u8>, Base64Mode)> {
    // The strict verdict is the filter's own decoder, so "Strict" means "the filter reads it".
    if let Some(bytes) = rolegate::token::base64url::decode(text) {
        return Some((bytes, Base64Mode::Strict));
    }
    let body = text
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    let bytes = LENIENT.decode(body).ok()?;
    Some((bytes, Base64Mode::Lenient))
}

/// Pretty JSON indented by `indent` spaces (keys in sorted order, as serde_json keeps them).
pub fn pretty_json(value: &Value, indent: usize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let pad = " ".repeat(indent);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A list for display: `a, b` or `(none)`.
pub fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_known_by_heart() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(utc(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(utc(1_725_265_453), "2024-09-02T08:24:13Z");
        assert_eq!(utc(1_704_649_202), "2024-01-07T17:40:02Z");
        assert_eq!(utc(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(utc(-62_162_035_200), "0000-03-01T00:00:00Z");
        assert_eq!(utc(i64::MAX), "9223372036854775807 s after 1970");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(3900), "1h 5m");
        assert_eq!(duration(3605), "1h 0m");
        assert_eq!(duration(3353), "55m 53s");
        assert_eq!(duration(400 * 86_400), "1y 35d");
        assert_eq!(relative_to(10, 0, None), "in 10s");
        assert_eq!(relative_to(0, 10, None), "10s ago");
    }

    #[test]
    fn lenient_base64() {
        use Base64Mode::{Lenient, Strict};
        let hi = || b"hi".to_vec();
        for (text, want) in [
            ("aGk", Some((hi(), Strict))),
            ("aGk=", Some((hi(), Lenient))),
            ("+/8", Some((vec![0xfb, 0xff], Lenient))),
            ("aGl", Some((hi(), Lenient))),
            ("aGk==", Some((hi(), Lenient))),
            ("a", None),
            ("a b", None),
            ("a=Gk", None),
        ] {
            assert_eq!(decode_base64(text), want, "{text}");
        }
    }
}
