//! `application/x-www-form-urlencoded` (the WHATWG URL standard's form encoding), as
//! OAuth 2.0 token requests use it (RFC 6749 §3.2, appendix B).

use percent_encoding::percent_decode_str;
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
        // form_urlencoded forgives malformed escapes and bad UTF-8 (U+FFFD); a credential
        // changed silently would fail later and obscurely, so both are refused up front. The
        // separators are ASCII, so the whole body decodes as UTF-8 exactly when each part does.
        let text = std::str::from_utf8(body).map_err(|_| FormError::BadEncoding)?;
        if !escapes_are_well_formed(text) || percent_decode_str(text).decode_utf8().is_err() {
            return Err(FormError::BadEncoding);
        }
        let mut fields = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            let name = name.into_owned();
            if fields.contains_key(&name) {
                return Err(FormError::Duplicate(name));
            }
            fields.insert(name, value.into_owned());
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

/// Every `%` is followed by two hex digits.
fn escapes_are_well_formed(text: &str) -> bool {
    text.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Decodes one form component: `+` is a space, `%XX` a byte; the result must be UTF-8.
pub fn decode(text: &str) -> Option<String> {
    if !escapes_are_well_formed(text) {
        return None;
    }
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Encodes one form component: unreserved characters stay, a space becomes `+`, every other
/// byte `%XX`.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Encodes name/value pairs as a form body.
pub fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
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
        assert_eq!(encode("A-z.0_*~/é"), "A-z.0_*%7E%2F%C3%A9");
        assert_eq!(Form::parse(b"x=%C3&y=%A9"), Err(FormError::BadEncoding));
    }
}
