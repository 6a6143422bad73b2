//! `application/x-www-form-urlencoded` (the WHATWG URL standard's form encoding), as
//! OAuth 2.0 token requests use it (RFC 6749 §3.2, appendix B).

use std::collections::BTreeMap;
use std::fmt;

/// A decoded form in which each parameter appears at most once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Form {
    fields: BTreeMap<String, String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
    BadEncoding,
    /// RFC 6749 §3.2: parameters must not be included more than once.
    Duplicate(String),
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::BadEncoding => {
                write!(f, "the form is not valid x-www-form-urlencoded UTF-8")
            }
            FormError::Duplicate(name) => {
                write!(f, "parameter '{name}' is included more than once")
            }
        }
    }
}

impl Form {
    /// Decodes a body; `+` is a space and `%XX` a byte.
    pub fn parse(body: &[u8]) -> Result<Form, FormError> {
        let text = std::str::from_utf8(body).map_err(|_| FormError::BadEncoding)?;
        let mut fields = BTreeMap::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name).ok_or(FormError::BadEncoding)?;
            let value = decode(value).ok_or(FormError::BadEncoding)?;
            if fields.contains_key(&name) {
                return Err(FormError::Duplicate(name));
            }
            fields.insert(name, value);
        }
        Ok(Form { fields })
    }

    /// A parameter's value. RFC 6749 §3.2: one sent without a value counts as omitted.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Decodes one form component: `+` is a space, `%XX` a byte; the result must be UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'+' => {
                bytes.push(b' ');
                rest = tail;
            }
            b'%' => {
                let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = tail.get(2..)?;
            }
            other => {
                bytes.push(other);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

/// Encodes one form component: unreserved characters stay, a space becomes `+`, every other
/// byte `%XX`.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Encodes name/value pairs as a form body.
pub fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_plus_and_utf8() {
        let form = Form::parse(b"scope=api%3A%2F%2Fx%2F.default&a=b+c&e=%C3%A9&empty=").unwrap();
        assert_eq!(form.get("scope"), Some("api://x/.default"));
        assert_eq!(form.get("a"), Some("b c"));
        assert_eq!(form.get("e"), Some("é"));
        assert_eq!(
            form.get("empty"),
            None,
            "a parameter without value counts as omitted"
        );
        assert_eq!(form.get("missing"), None);
    }

    #[test]
    fn refuses_bad_escapes_non_utf8_and_repeats() {
        assert_eq!(Form::parse(b"a=%G1"), Err(FormError::BadEncoding));
        assert_eq!(Form::parse(b"a=%4"), Err(FormError::BadEncoding));
        assert_eq!(Form::parse(b"a=%FF"), Err(FormError::BadEncoding));
        assert_eq!(
            Form::parse(b"a=1&a=1"),
            Err(FormError::Duplicate("a".into()))
        );
        assert_eq!(
            Form::parse(b"a%3D=1&a%3d=2"),
            Err(FormError::Duplicate("a=".into()))
        );
    }

    #[test]
    fn encoding_round_trips() {
        let secret = "Demo~Secret+/= &é";
        assert_eq!(decode(&encode(secret)).as_deref(), Some(secret));
        assert_eq!(encode_pairs(&[("a b", "c&d")]), "a+b=c%26d");
    }
}
