//! Ordered request rules, compiled at configure time; the first match decides.

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
    AnyValidToken,
    Roles {
        roles: Vec<String>,
        require_all: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub path: PathMatch,
    /// Upper-case method names; `None` matches every method.
    pub methods: Option<Vec<String>>,
    pub requirement: Requirement,
}

/// The path without query or fragment: rules are about resources, and `?` must not let a
/// request slip past an exact match.
pub fn path_only(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

impl Rule {
    /// `path` is the path alone, without query or fragment.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.path.matches(path)
            && self
                .methods
                .as_ref()
                .is_none_or(|methods| methods.iter().any(|m| m == method))
    }
}

/// The index of the first rule that matches; `path` is without query or fragment.
pub fn first_match(rules: &[Rule], method: &str, path: &str) -> Option<usize> {
    rules.iter().position(|rule| rule.matches(method, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: PathMatch, methods: Option<&[&str]>) -> Rule {
        Rule {
            path,
            methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
            requirement: Requirement::AnyValidToken,
        }
    }

    fn first(rules: &[Rule], method: &str, path: &str) -> Option<usize> {
        first_match(rules, method, path_only(path))
    }

    #[test]
    fn prefix_exact_methods_and_query() {
        let rules = vec![
            rule(PathMatch::Exact("/admin".into()), Some(&["GET"])),
            rule(PathMatch::Prefix("/calc/".into()), None),
        ];
        assert_eq!(first(&rules, "GET", "/admin?x=1"), Some(0));
        assert_eq!(first(&rules, "POST", "/admin"), None);
        assert_eq!(first(&rules, "GET", "/admin/x"), None);
        assert_eq!(first(&rules, "PUT", "/calc/v1/add/1/1"), Some(1));
        assert_eq!(first(&rules, "GET", "/calc"), None);
        assert_eq!(first(&rules, "GET", "/x?/calc/"), None);
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
}
