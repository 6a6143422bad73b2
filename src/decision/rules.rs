//! Ordered request rules, compiled at configure time; the first match decides.

use crate::decision::claim_condition::ClaimCondition;
use crate::decision::host_pattern::{self, HostPattern};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// Envoy's `prefix`: a plain string prefix, so `/calc` also matches `/calculator`.
    Prefix(String),
    /// Envoy's `path_separated_prefix`: `/calc` matches `/calc` and `/calc/...` only.
    SeparatedPrefix(String),
    Exact(String),
}

impl PathMatch {
    /// `path` is the path alone, without query or fragment.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathMatch::SeparatedPrefix(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            PathMatch::Exact(exact) => path == exact,
        }
    }

    /// The configured text.
    pub fn value(&self) -> &str {
        match self {
            PathMatch::Prefix(p) | PathMatch::SeparatedPrefix(p) | PathMatch::Exact(p) => p,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Anonymous,
    /// `allow_missing`: no token passes as anonymous; a token present must be valid.
    TokenIfPresent,
    AnyValidToken,
    Roles {
        roles: Vec<String>,
        require_all: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `rules[].name`, for logs, metrics and `rolegate check`.
    pub name: Option<String>,
    /// `match.hosts`; `None` matches every host.
    pub hosts: Option<Vec<HostPattern>>,
    pub path: PathMatch,
    /// Upper-case method names; `None` matches every method.
    pub methods: Option<Vec<String>>,
    pub requirement: Requirement,
    /// `claims`: every entry must hold, after the roles.
    pub claims: Vec<ClaimCondition>,
    /// `rules[].dry_run`: a denial under this rule is recorded, not enforced.
    pub dry_run: bool,
}

/// What a request offers the rules to match on. `path` is without query or fragment; `host` is
/// one reading of `:authority` (see `host_pattern`), `None` when it is empty.
#[derive(Debug, Clone, Copy)]
pub struct RequestTarget<'r> {
    pub host: Option<&'r str>,
    pub method: &'r str,
    pub path: &'r str,
}

/// The path without query or fragment: rules are about resources, and `?` must not let a
/// request slip past an exact match.
pub fn path_only(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

impl Rule {
    pub fn matches(&self, target: &RequestTarget<'_>) -> bool {
        host_pattern::any_matches(self.hosts.as_deref(), target.host)
            && self.path.matches(target.path)
            && self
                .methods
                .as_ref()
                .is_none_or(|methods| methods.iter().any(|m| method_covers(m, target.method)))
    }

    /// The name if it has one, else its index: how logs and messages refer to it.
    pub fn label(&self, index: usize) -> String {
        let mut label = String::new();
        self.push_label(index, &mut label);
        label
    }

    /// Appends the label to `out`, allocating nothing of its own: the decision record writes it
    /// on every request.
    pub fn push_label(&self, index: usize, out: &mut String) {
        match &self.name {
            Some(name) => out.push_str(name),
            None => {
                use std::fmt::Write as _;
                let _ = write!(out, "rules[{index}]");
            }
        }
    }
}

/// Whether a rule's method `listed` (upper case) covers the request's `method`. Case is
/// ignored: HTTP/2 passes `get` on as sent, and upstreams such as ASP.NET Core route it as GET.
/// GET covers HEAD: servers answer HEAD with their GET handler (RFC 9110 §9.3.2), so a GET-only
/// rule must not be walked around with HEAD.
fn method_covers(listed: &str, method: &str) -> bool {
    listed.eq_ignore_ascii_case(method) || (listed == "GET" && method.eq_ignore_ascii_case("HEAD"))
}

/// The index of the first rule that matches.
pub fn first_match(rules: &[Rule], target: &RequestTarget<'_>) -> Option<usize> {
    rules.iter().position(|rule| rule.matches(target))
}

/// An unnamed rule for any host that asks for any valid token on `path` (and `methods`, when
/// given): the rule the matching and shadowing tests build theirs from.
#[cfg(any(test, feature = "internals"))]
pub fn any_token_rule(path: PathMatch, methods: Option<&[&str]>) -> Rule {
    Rule {
        name: None,
        hosts: None,
        path,
        methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
        requirement: Requirement::AnyValidToken,
        claims: Vec::new(),
        dry_run: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(rules: &[Rule], method: &str, path: &str) -> Option<usize> {
        let target = RequestTarget {
            host: None,
            method,
            path: path_only(path),
        };
        first_match(rules, &target)
    }

    #[test]
    fn prefix_exact_methods_and_query() {
        let rules = vec![
            any_token_rule(PathMatch::Exact("/admin".into()), Some(&["GET"])),
            any_token_rule(PathMatch::Prefix("/calc/".into()), None),
        ];
        assert_eq!(first(&rules, "GET", "/admin?x=1"), Some(0));
        assert_eq!(first(&rules, "POST", "/admin"), None);
        assert_eq!(first(&rules, "GET", "/admin/x"), None);
        assert_eq!(first(&rules, "PUT", "/calc/v1/add/1/1"), Some(1));
        assert_eq!(first(&rules, "GET", "/calc"), None);
        assert_eq!(first(&rules, "GET", "/x?/calc/"), None);
    }

    #[test]
    fn methods_match_in_any_case_and_get_covers_head() {
        let rules = vec![
            any_token_rule(PathMatch::Prefix("/a".into()), Some(&["GET"])),
            any_token_rule(PathMatch::Prefix("/a".into()), Some(&["DELETE"])),
            any_token_rule(PathMatch::Prefix("/b".into()), Some(&["HEAD"])),
        ];
        assert_eq!(
            first(&rules, "get", "/a"),
            Some(0),
            "HTTP/2 passes lower case on"
        );
        assert_eq!(
            first(&rules, "HEAD", "/a"),
            Some(0),
            "HEAD is served by GET"
        );
        assert_eq!(first(&rules, "head", "/a"), Some(0));
        assert_eq!(first(&rules, "delete", "/a"), Some(1));
        assert_eq!(first(&rules, "DeLeTe", "/a"), Some(1));
        assert_eq!(first(&rules, "POST", "/a"), None);
        assert_eq!(first(&rules, "GET", "/b"), None, "HEAD does not cover GET");
        assert_eq!(first(&rules, "HEAD", "/b"), Some(2));
    }

    #[test]
    fn separated_prefixes_respect_segments() {
        let healthz = PathMatch::SeparatedPrefix("/healthz".into());
        for path in ["/healthz", "/healthz/", "/healthz/live"] {
            assert!(healthz.matches(path), "{path}");
        }
        for path in ["/healthzX", "/healthz.json", "/healthz;x", "/health", "/"] {
            assert!(!healthz.matches(path), "{path}");
        }
        let plain = PathMatch::Prefix("/healthz".into());
        assert!(
            plain.matches("/healthzX"),
            "Envoy's prefix is a string prefix"
        );
    }

    #[test]
    fn hosts_narrow_a_rule_and_order_still_decides() {
        let host = |text: &str| match HostPattern::parse(text) {
            Ok(p) => p,
            Err(e) => panic!("{text}: {e}"),
        };
        let mut api = any_token_rule(PathMatch::Prefix("/".into()), None);
        api.hosts = Some(vec![host("api.contoso.com")]);
        let mut tenants = any_token_rule(PathMatch::Prefix("/".into()), None);
        tenants.hosts = Some(vec![host("*.tenants.contoso.com")]);
        let anywhere = any_token_rule(PathMatch::Prefix("/".into()), None);
        let rules = vec![api, tenants, anywhere];
        let pick = |authority: &str| {
            let target = RequestTarget {
                host: host_pattern::as_written(authority),
                method: "GET",
                path: "/x",
            };
            first_match(&rules, &target)
        };
        assert_eq!(pick("API.contoso.com"), Some(0));
        assert_eq!(
            pick("api.contoso.com:8443"),
            Some(2),
            "the port is part of the host"
        );
        assert_eq!(pick("a.tenants.contoso.com"), Some(1));
        assert_eq!(pick("tenants.contoso.com"), Some(2));
        assert_eq!(pick(""), Some(2));
        assert_eq!(rules[0].label(0), "rules[0]");
    }
}
