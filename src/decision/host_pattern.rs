//! `rules[].match.hosts`: which `:authority` values a rule applies to.
//!
//! Matching is case-insensitive and ignores the port, as DNS names and Envoy's virtual hosts do.
//! One trailing dot is ignored too: `api.contoso.com.` names the same host as `api.contoso.com`,
//! and a rule meant for that host must not be walked around by writing it fully qualified.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `*`: every host, including a request without `:authority`.
    Any,
    /// A name, stored in lower case.
    Exact(String),
    /// `*.contoso.com`, stored as `.contoso.com`: one or more labels before the suffix.
    Subdomains(String),
}

impl HostPattern {
    /// Why `text` is not a host pattern, for the configuration error.
    pub fn parse(text: &str) -> Result<HostPattern, &'static str> {
        if text == "*" {
            return Ok(HostPattern::Any);
        }
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if name.contains('*') {
            return Err("a wildcard may only be a whole leading label, as in *.contoso.com");
        }
        if name.contains(':') || name.starts_with('[') {
            return Err("write the host without a port; ports are ignored when matching");
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let labels_ok = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !labels_ok || name.len() > 253 {
            return Err(
                "must be a DNS name (letters, digits, '-', '_', dots between labels), *.name or *",
            );
        }
        let name = name.to_ascii_lowercase();
        Ok(if wildcard {
            HostPattern::Subdomains(format!(".{name}"))
        } else {
            HostPattern::Exact(name)
        })
    }

    /// `host` is `host_name(authority)`: without port or trailing dot, in any case.
    pub fn matches(&self, host: Option<&str>) -> bool {
        match (self, host) {
            (HostPattern::Any, _) => true,
            (_, None) => false,
            (HostPattern::Exact(name), Some(host)) => host.eq_ignore_ascii_case(name),
            (HostPattern::Subdomains(suffix), Some(host)) => {
                host.len() > suffix.len()
                    && host
                        .get(host.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
    }

    /// The configured text, for messages.
    pub fn text(&self) -> String {
        match self {
            HostPattern::Any => "*".to_string(),
            HostPattern::Exact(name) => name.clone(),
            HostPattern::Subdomains(suffix) => format!("*{suffix}"),
        }
    }
}

/// The host an `:authority` names: the port and one trailing dot removed. An IPv6 literal keeps
/// its brackets. `None` for an empty authority.
pub fn host_name(authority: &str) -> Option<&str> {
    let host = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => authority.get(..=end)?,
            None => authority,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

/// Whether a rule with `hosts` (or none: every host) applies to the request's host.
pub fn any_matches(patterns: Option<&[HostPattern]>, host: Option<&str>) -> bool {
    patterns.is_none_or(|patterns| patterns.iter().any(|p| p.matches(host)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> HostPattern {
        match HostPattern::parse(text) {
            Ok(p) => p,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn authority_to_host() {
        for (authority, host) in [
            ("api.contoso.com", Some("api.contoso.com")),
            ("API.Contoso.com:8443", Some("API.Contoso.com")),
            ("api.contoso.com.", Some("api.contoso.com")),
            ("api.contoso.com.:443", Some("api.contoso.com")),
            ("[::1]:10000", Some("[::1]")),
            ("[::1]", Some("[::1]")),
            ("127.0.0.1:80", Some("127.0.0.1")),
            ("host:notaport", Some("host:notaport")),
            ("", None),
            (":443", None),
        ] {
            assert_eq!(host_name(authority), host, "{authority}");
        }
    }

    #[test]
    fn exact_wildcard_and_any() {
        let exact = pattern("API.contoso.com");
        let wildcard = pattern("*.contoso.com");
        let any = pattern("*");
        let cases = [
            ("api.contoso.com", true, true),
            ("Api.Contoso.Com:443", true, true),
            ("api.contoso.com.", true, true),
            ("x.api.contoso.com", false, true),
            ("a.b.contoso.com", false, true),
            ("contoso.com", false, false),
            (".contoso.com", false, false),
            ("evilcontoso.com", false, false),
            ("api.contoso.com.evil", false, false),
        ];
        for (authority, exact_matches, wildcard_matches) in cases {
            let host = host_name(authority);
            assert_eq!(exact.matches(host), exact_matches, "{authority}");
            assert_eq!(wildcard.matches(host), wildcard_matches, "{authority}");
            assert!(any.matches(host));
        }
        assert!(!exact.matches(None));
        assert!(!wildcard.matches(None));
        assert!(any.matches(None));
        assert!(any_matches(None, None), "no hosts: every request");
        assert!(!any_matches(
            Some(std::slice::from_ref(&exact)),
            host_name("other")
        ));
        assert!(any_matches(
            Some(&[exact, wildcard]),
            host_name("b.contoso.com")
        ));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for text in [
            "",
            "*.",
            "**.x",
            "a.*.com",
            "x*.com",
            "api.contoso.com:443",
            "[::1]",
            "a..b",
            ".a",
            "a b",
            "ä.com",
        ] {
            assert!(HostPattern::parse(text).is_err(), "{text:?}");
        }
        assert_eq!(pattern("Api.Contoso.COM.").text(), "api.contoso.com");
        assert_eq!(pattern("*.Contoso.com").text(), "*.contoso.com");
    }
}
