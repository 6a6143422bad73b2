//! Ordered request rules, compiled at configure time; the first match decides.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Prefix(String),
    Exact(String),
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
fn path_only(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

impl Rule {
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let path = path_only(path);
        let path_ok = match &self.path {
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathMatch::Exact(exact) => path == exact,
        };
        path_ok
            && self
                .methods
                .as_ref()
                .is_none_or(|methods| methods.iter().any(|m| m == method))
    }
}

pub fn first_match<'a>(rules: &'a [Rule], method: &str, path: &str) -> Option<&'a Rule> {
    rules.iter().find(|rule| rule.matches(method, path))
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

    #[test]
    fn prefix_exact_methods_and_query() {
        let rules = vec![
            rule(PathMatch::Exact("/admin".into()), Some(&["GET"])),
            rule(PathMatch::Prefix("/calc/".into()), None),
        ];
        assert_eq!(first_match(&rules, "GET", "/admin?x=1"), rules.first());
        assert_eq!(first_match(&rules, "POST", "/admin"), None);
        assert_eq!(first_match(&rules, "GET", "/admin/x"), None);
        assert_eq!(first_match(&rules, "PUT", "/calc/v1/add/1/1"), rules.get(1));
        assert_eq!(first_match(&rules, "GET", "/calc"), None);
        assert_eq!(first_match(&rules, "GET", "/x?/calc/"), None);
    }
}
