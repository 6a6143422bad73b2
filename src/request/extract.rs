//! Finding the bearer token in the configured request headers.

use std::borrow::Cow;

/// One place a token may be sent, e.g. `authorization` with prefix `Bearer `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLocation {
    /// Lower-case header name.
    pub name: String,
    /// Matched case-insensitively (RFC 7235: the auth-scheme is case-insensitive).
    pub value_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted<'a, 'h> {
    /// The token's bytes (not yet known to be text) and the header it came from.
    Token {
        header: &'a str,
        token: Cow<'h, [u8]>,
    },
    /// A configured header is there but carries another scheme (e.g. `Basic`).
    OtherScheme,
    Missing,
}

/// Looks through `locations` in order; `header` returns a request header's value. The token
/// is cut out of the value without a copy: it is often over 1 KB and read on every request.
pub fn extract<'a, 'h>(
    locations: &'a [TokenLocation],
    header: impl Fn(&str) -> Option<Cow<'h, [u8]>>,
) -> Extracted<'a, 'h> {
    let mut other_scheme = false;
    for location in locations {
        let Some(value) = header(&location.name) else {
            continue;
        };
        let prefix = location.value_prefix.as_bytes();
        let prefix_matches = value
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix));
        if !prefix_matches {
            other_scheme = true;
            continue;
        }
        let end = value.iter().rposition(|b| *b != b' ').map_or(0, |i| i + 1);
        let start = value
            .iter()
            .skip(prefix.len())
            .position(|b| *b != b' ')
            .map_or(end, |i| i + prefix.len());
        if start >= end {
            other_scheme = true;
            continue;
        }
        let token = match value {
            Cow::Borrowed(value) => Cow::Borrowed(value.get(start..end).unwrap_or_default()),
            Cow::Owned(mut value) => {
                value.truncate(end);
                value.drain(..start);
                Cow::Owned(value)
            }
        };
        return Extracted::Token {
            header: &location.name,
            token,
        };
    }
    if other_scheme {
        Extracted::OtherScheme
    } else {
        Extracted::Missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer() -> Vec<TokenLocation> {
        vec![TokenLocation {
            name: "authorization".into(),
            value_prefix: "Bearer ".into(),
        }]
    }

    fn one(value: &'static str) -> impl Fn(&str) -> Option<Cow<'static, [u8]>> {
        move |name| (name == "authorization").then_some(Cow::Borrowed(value.as_bytes()))
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for v in ["Bearer abc", "bearer abc", "BEARER  abc "] {
            assert_eq!(
                extract(&bearer(), one(v)),
                Extracted::Token {
                    header: "authorization",
                    token: Cow::Borrowed(b"abc")
                }
            );
        }
    }

    #[test]
    fn other_schemes_and_absence() {
        assert_eq!(
            extract(&bearer(), one("Basic dXNlcg==")),
            Extracted::OtherScheme
        );
        assert_eq!(extract(&bearer(), one("Bearer ")), Extracted::OtherScheme);
        assert_eq!(extract(&bearer(), one("Bear")), Extracted::OtherScheme);
        assert_eq!(
            extract(&bearer(), one("Bearer    ")),
            Extracted::OtherScheme
        );
        assert_eq!(
            extract(&bearer(), one("Bearer \u{e9}t ")),
            Extracted::Token {
                header: "authorization",
                token: Cow::Borrowed("\u{e9}t".as_bytes())
            },
            "not text: left to the token parser to refuse"
        );
        assert_eq!(extract(&bearer(), |_| None), Extracted::Missing);
    }

    #[test]
    fn later_locations_are_tried() {
        let mut locations = bearer();
        locations.push(TokenLocation {
            name: "x-jwt".into(),
            value_prefix: String::new(),
        });
        let got = extract(&locations, |name| {
            (name == "x-jwt").then(|| Cow::Owned(b" t ".to_vec()))
        });
        assert_eq!(
            got,
            Extracted::Token {
                header: "x-jwt",
                token: Cow::Owned(b"t".to_vec())
            }
        );
    }
}
