//! Finding the bearer token in the configured request headers.

/// One place a token may be sent, e.g. `authorization` with prefix `Bearer `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLocation {
    /// Lower-case header name.
    pub name: String,
    /// Matched case-insensitively (RFC 7235: the auth-scheme is case-insensitive).
    pub value_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted {
    /// The token and the header it came from.
    Token {
        header: String,
        token: String,
    },
    /// A configured header is there but carries another scheme (e.g. `Basic`).
    OtherScheme,
    Missing,
}

/// Looks through `locations` in order; `header` returns a request header's value.
pub fn extract(locations: &[TokenLocation], header: impl Fn(&str) -> Option<String>) -> Extracted {
    let mut other_scheme = false;
    for location in locations {
        let Some(value) = header(&location.name) else {
            continue;
        };
        let prefix_len = location.value_prefix.len();
        let prefix_matches = value
            .get(..prefix_len)
            .is_some_and(|p| p.eq_ignore_ascii_case(&location.value_prefix));
        if !prefix_matches {
            other_scheme = true;
            continue;
        }
        let token = value
            .get(prefix_len..)
            .unwrap_or_default()
            .trim_matches(' ');
        if token.is_empty() {
            other_scheme = true;
            continue;
        }
        return Extracted::Token {
            header: location.name.clone(),
            token: token.to_string(),
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

    fn one(value: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name| (name == "authorization").then(|| value.to_string())
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for v in ["Bearer abc", "bearer abc", "BEARER  abc "] {
            assert_eq!(
                extract(&bearer(), one(v)),
                Extracted::Token {
                    header: "authorization".into(),
                    token: "abc".into()
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
            (name == "x-jwt").then(|| "t".to_string())
        });
        assert_eq!(
            got,
            Extracted::Token {
                header: "x-jwt".into(),
                token: "t".into()
            }
        );
    }
}
