//! `rules[].match.hosts`: which `:authority` values a rule applies to.
//!
//! A host rule must never apply to a request that Envoy routes to another virtual host, so a
//! host is judged the way Envoy's virtual-host selection judges it: the whole `:authority`,
//! case-insensitively, port and trailing dot included. The connection manager's
//! `strip_any_host_port`, `strip_matching_host_port` and `strip_trailing_host_dot` rewrite the
//! header before any filter runs, so where they are set rolegate sees the stripped form too.
//! One setting rolegate cannot see leaves the header alone: the route configuration's
//! `ignore_port_in_host_matching`, which drops the port for the lookup only. An authority with a
//! port therefore has two readings, as written and without its port ([`without_port`]); the
//! caller refuses a request whose two readings pick different rules rather than guess which
//! one Envoy used.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `*`: every host, including a request without `:authority`.
    Any,
    /// A name, with its port or trailing dot if the pattern has them, stored in lower case.
    Exact(String),
    /// `*.contoso.com`, stored as `.contoso.com` (with the pattern's port, if any): one or more
    /// labels before the suffix.
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
        if name.starts_with('[') {
            return Err("IPv6 literals are not supported; use a DNS name");
        }
        let (host, port) = match name.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (name, None),
        };
        if let Some(port) = port {
            let valid = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0);
            if !valid {
                return Err("a port must be a number from 1 to 65535, as in api.contoso.com:8443");
            }
        }
        // A trailing dot is part of the name as Envoy matches it; the labels are checked without it.
        let labels = host.strip_suffix('.').unwrap_or(host);
        let labels_ok = !labels.is_empty()
            && labels.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !labels_ok || labels.len() > 253 {
            return Err(
                "must be a DNS name (letters, digits, '-', '_', dots between labels), *.name or *, \
                 with an optional :port",
            );
        }
        let name = name.to_ascii_lowercase();
        Ok(if wildcard {
            HostPattern::Subdomains(format!(".{name}"))
        } else {
            HostPattern::Exact(name)
        })
    }

    /// `authority` is the `:authority` as Envoy matches it (or one of its readings), `None`
    /// when it is empty or missing.
    pub fn matches(&self, authority: Option<&str>) -> bool {
        match (self, authority) {
            (HostPattern::Any, _) => true,
            (_, None) => false,
            (HostPattern::Exact(name), Some(authority)) => authority.eq_ignore_ascii_case(name),
            (HostPattern::Subdomains(suffix), Some(authority)) => {
                authority.len() > suffix.len()
                    && authority
                        .get(authority.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
    }

    /// The configured text (in lower case), for messages.
    pub fn text(&self) -> String {
        match self {
            HostPattern::Any => "*".to_string(),
            HostPattern::Exact(name) => name.clone(),
            HostPattern::Subdomains(suffix) => format!("*{suffix}"),
        }
    }
}

/// The authority rules compare: `None` when it is empty.
pub fn as_written(authority: &str) -> Option<&str> {
    (!authority.is_empty()).then_some(authority)
}

/// The authority as `ignore_port_in_host_matching` reads it: everything before its last `:`,
/// unless that `:` is inside an IPv6 literal's brackets (Envoy's `getPortStart`, which does not
/// look at what follows the colon). `None` when the authority has no port, so there is no
/// second reading; `Some(None)` when nothing is left before the port.
pub fn without_port(authority: &str) -> Option<Option<&str>> {
    let colon = authority.rfind(':')?;
    if authority.rfind(']').is_some_and(|bracket| bracket > colon) {
        return None;
    }
    Some(as_written(authority.get(..colon)?))
}

/// Whether a rule with `hosts` (or none: every host) applies to the request's authority.
pub fn any_matches(patterns: Option<&[HostPattern]>, authority: Option<&str>) -> bool {
    patterns.is_none_or(|patterns| patterns.iter().any(|p| p.matches(authority)))
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
    fn an_authority_with_a_port_has_a_second_reading_without_it() {
        for (authority, second) in [
            ("api.contoso.com", None),
            ("api.contoso.com.", None),
            ("API.Contoso.com:8443", Some(Some("API.Contoso.com"))),
            ("api.contoso.com.:443", Some(Some("api.contoso.com."))),
            ("[::1]:10000", Some(Some("[::1]"))),
            ("[::1]", None),
            ("[::1:2]", None),
            ("127.0.0.1:80", Some(Some("127.0.0.1"))),
            ("host:notaport", Some(Some("host"))),
            ("host:", Some(Some("host"))),
            (":443", Some(None)),
            ("", None),
        ] {
            assert_eq!(without_port(authority), second, "{authority}");
        }
        assert_eq!(as_written(""), None);
        assert_eq!(as_written("a:1"), Some("a:1"));
    }

    #[test]
    fn a_host_matches_as_envoy_matches_it_port_and_trailing_dot_included() {
        let exact = pattern("API.contoso.com");
        let wildcard = pattern("*.contoso.com");
        let any = pattern("*");
        let cases = [
            ("api.contoso.com", true, true),
            ("Api.Contoso.Com", true, true),
            ("api.contoso.com:443", false, false),
            ("api.contoso.com.", false, false),
            ("api.contoso.com.:443", false, false),
            ("x.api.contoso.com", false, true),
            ("a.b.contoso.com", false, true),
            ("contoso.com", false, false),
            (".contoso.com", false, false),
            ("evilcontoso.com", false, false),
            ("api.contoso.com.evil", false, false),
        ];
        for (authority, exact_matches, wildcard_matches) in cases {
            let authority = as_written(authority);
            assert_eq!(exact.matches(authority), exact_matches, "{authority:?}");
            assert_eq!(
                wildcard.matches(authority),
                wildcard_matches,
                "{authority:?}"
            );
            assert!(any.matches(authority));
        }
        assert!(!exact.matches(None));
        assert!(!wildcard.matches(None));
        assert!(any.matches(None));
        assert!(any_matches(None, None), "no hosts: every request");
        assert!(!any_matches(
            Some(std::slice::from_ref(&exact)),
            Some("other")
        ));
        assert!(any_matches(Some(&[exact, wildcard]), Some("b.contoso.com")));
    }

    #[test]
    fn a_pattern_may_name_a_port_or_a_trailing_dot() {
        let with_port = pattern("Api.Contoso.com:8443");
        assert!(with_port.matches(Some("api.contoso.com:8443")));
        assert!(!with_port.matches(Some("api.contoso.com")));
        assert!(!with_port.matches(Some("api.contoso.com:443")));
        let wildcard_with_port = pattern("*.contoso.com:8443");
        assert!(wildcard_with_port.matches(Some("x.contoso.com:8443")));
        assert!(!wildcard_with_port.matches(Some("x.contoso.com")));
        let dotted = pattern("api.contoso.com.");
        assert!(dotted.matches(Some("api.contoso.com.")));
        assert!(!dotted.matches(Some("api.contoso.com")));
        assert_eq!(with_port.text(), "api.contoso.com:8443");
        assert_eq!(pattern("*.Contoso.com").text(), "*.contoso.com");
    }

    #[test]
    fn bad_patterns_are_refused() {
        for text in [
            "",
            "*.",
            "**.x",
            "a.*.com",
            "x*.com",
            "api.contoso.com:",
            "api.contoso.com:0",
            "api.contoso.com:65536",
            "api.contoso.com:+1",
            "api.contoso.com:1:2",
            "api.contoso.com:http",
            "[::1]",
            "a..b",
            ".a",
            "a b",
            "ä.com",
            ":443",
        ] {
            assert!(HostPattern::parse(text).is_err(), "{text:?}");
        }
    }
}
