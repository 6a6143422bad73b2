//! `rules[]`: what each rule matches (hosts, path, methods) and what it requires.

use crate::config::claim_conditions::read_claim_conditions;
use crate::config::field_reader::{describe, index_path, ObjectReader, Problems};
use crate::config::is_metric_safe;
use crate::decision::host_pattern::HostPattern;
use crate::decision::rules::{PathMatch, Requirement, Rule};
use crate::request::path_screen;
use serde_json::Value;

/// One entry of `rules[]`. Claim conditions get their slots later, once every condition of the
/// configuration is known (see `ClaimSlots`).
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub fn read_rule(path: &str, value: &Value, problems: &mut Problems) -> Option<Rule> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let name = obj.string("name", problems);
    if let Some(n) = &name {
        if !is_metric_safe(n) {
            problems.add(
                &obj.path_of("name"),
                "use letters, digits, '_' and '-' only (it names metrics)",
            );
        }
    }
    let matcher = match obj.get("match") {
        Some(m) => read_match(&obj.path_of("match"), m, problems),
        None => {
            problems.add(&obj.path_of("match"), "is required");
            None
        }
    };
    let anonymous = obj.bool("allow_anonymous", problems).unwrap_or(false);
    let allow_missing = obj.bool("allow_missing", problems).unwrap_or(false);
    let dry_run = obj.bool("dry_run", problems).unwrap_or(false);
    let roles = if obj.has("roles") {
        match obj.string_list("roles", problems) {
            Some(list) if list.is_empty() => {
                problems.add(
                    &obj.path_of("roles"),
                    "must list at least one role (omit it to accept any valid token)",
                );
                None
            }
            other => other,
        }
    } else {
        None
    };
    let require_all = match obj.string("roles_match", problems).as_deref() {
        None | Some("any") => false,
        Some("all") => true,
        Some(other) => {
            problems.add(
                &obj.path_of("roles_match"),
                format!("expected \"any\" or \"all\", got \"{other}\""),
            );
            false
        }
    };
    if obj.has("roles_match") && !obj.has("roles") {
        problems.add(
            &obj.path_of("roles_match"),
            "only applies together with roles",
        );
    }
    let claims = match obj.get("claims") {
        Some(v) => read_claim_conditions(&obj.path_of("claims"), v, problems),
        None => Some(Vec::new()),
    };
    if anonymous && obj.has("roles") {
        problems.add(
            &obj.path_of("allow_anonymous"),
            "cannot be combined with roles",
        );
    }
    if anonymous && obj.has("claims") {
        problems.add(
            &obj.path_of("allow_anonymous"),
            "cannot be combined with claims: an anonymous request has none",
        );
    }
    if allow_missing {
        for other in ["roles", "claims", "allow_anonymous"] {
            if obj.has(other) {
                problems.add(
                    &obj.path_of("allow_missing"),
                    format!("cannot be combined with {other}: a request without a token passes"),
                );
            }
        }
    }
    obj.finish(problems);
    let requirement = match roles {
        _ if anonymous => Requirement::Anonymous,
        _ if allow_missing => Requirement::TokenIfPresent,
        Some(roles) => Requirement::Roles { roles, require_all },
        None => Requirement::AnyValidToken,
    };
    let (hosts, path_match, methods) = matcher?;
    Some(Rule {
        name,
        hosts,
        path: path_match,
        methods,
        requirement,
        claims: claims?,
        dry_run,
    })
}

/// Rule names are unique: they name metrics and are how `rolegate check` refers to a rule.
pub fn check_rule_names_distinct(rules: &[Rule], problems: &mut Problems) {
    for (i, rule) in rules.iter().enumerate() {
        let Some(name) = &rule.name else { continue };
        if rules.iter().take(i).any(|o| o.name.as_ref() == Some(name)) {
            problems.add(
                &format!("rules[{i}].name"),
                format!("rule name {name} is used twice"),
            );
        }
    }
}

type Matcher = (Option<Vec<HostPattern>>, PathMatch, Option<Vec<String>>);

const PATH_MATCHERS: [&str; 3] = ["path_separated_prefix", "prefix", "path"];

/// A rule's path is compared with the request's screened path, so it must be in the same
/// canonical form: a rule for `/a/../b` could never match, and one for `/v1/items%3Apurge` or
/// `/caf%C3%A9` would miss every request, since requests are matched decoded (`:`, `é`).
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_path_match(
    field_path: &str,
    field: &str,
    value: &str,
    problems: &mut Problems,
) -> Option<PathMatch> {
    if !value.starts_with('/') {
        problems.add(field_path, "must start with '/'");
        return None;
    }
    if value.contains(['?', '#']) {
        problems.add(field_path, "must not hold a query or fragment ('?' or '#')");
        return None;
    }
    let canonical = match path_screen::screen(value.as_bytes()) {
        Ok(screened) if screened.matched == value => value.to_string(),
        Ok(screened) => {
            problems.add(
                field_path,
                format!("is not in canonical form: write {}", screened.matched),
            );
            return None;
        }
        Err(why) => {
            problems.add(field_path, format!("is not in canonical form: {why}"));
            return None;
        }
    };
    match field {
        "path_separated_prefix" if canonical.ends_with('/') => {
            problems.add(
                field_path,
                "must not end with '/' (use prefix \"/\" to match every path)",
            );
            None
        }
        "path_separated_prefix" => Some(PathMatch::SeparatedPrefix(canonical)),
        "prefix" => Some(PathMatch::Prefix(canonical)),
        _ => Some(PathMatch::Exact(canonical)),
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_match(path: &str, value: &Value, problems: &mut Problems) -> Option<Matcher> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let given: Vec<(&'static str, String)> = PATH_MATCHERS
        .iter()
        .filter_map(|field| Some((*field, obj.string(field, problems)?)))
        .collect();
    let path_match = match given.as_slice() {
        [(field, value)] => read_path_match(&obj.path_of(field), field, value, problems),
        [] => {
            if !PATH_MATCHERS.iter().any(|field| obj.has(field)) {
                problems.add(
                    &obj.path_of("path_separated_prefix"),
                    "path_separated_prefix, prefix or path is required",
                );
            }
            None
        }
        [_, (second, _), ..] => {
            problems.add(
                &obj.path_of(second),
                "give one of path_separated_prefix, prefix and path",
            );
            None
        }
    };
    let methods = if obj.has("methods") {
        match obj.string_list("methods", problems) {
            Some(list) if list.is_empty() => {
                problems.add(&obj.path_of("methods"), "must list at least one method");
                None
            }
            Some(list) => Some(list.iter().map(|m| m.to_ascii_uppercase()).collect()),
            None => None,
        }
    } else {
        None
    };
    let methods_ok = !obj.has("methods") || methods.is_some();
    let hosts = match obj.get("hosts") {
        Some(v) => read_hosts(&obj.path_of("hosts"), v, problems).map(Some),
        None => Some(None),
    };
    obj.finish(problems);
    let path_match = path_match?;
    methods_ok.then_some((hosts?, path_match, methods))
}

/// `match.hosts`: a non-empty array of host patterns.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_hosts(path: &str, value: &Value, problems: &mut Problems) -> Option<Vec<HostPattern>> {
    let Value::Array(items) = value else {
        problems.add(
            path,
            format!("expected an array of host names, got {}", describe(value)),
        );
        return None;
    };
    if items.is_empty() {
        problems.add(
            path,
            "must list at least one host (omit it to match every host)",
        );
        return None;
    }
    let mut hosts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = index_path(path, i);
        match item.as_str().map(HostPattern::parse) {
            Some(Ok(host)) => hosts.push(host),
            Some(Err(why)) => problems.add(&field, why),
            None => problems.add(&field, format!("expected a string, got {}", describe(item))),
        }
    }
    (hosts.len() == items.len()).then_some(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `read_path_match` makes of `value` given as `field`, and the problems it reports.
    fn read_as(field: &str, value: &str) -> (Option<PathMatch>, Vec<String>) {
        let mut problems = Problems::default();
        let read = read_path_match(&format!("match.{field}"), field, value, &mut problems);
        let errors = problems
            .into_errors()
            .iter()
            .map(ToString::to_string)
            .collect();
        (read, errors)
    }

    #[test]
    fn a_rule_path_in_another_spelling_is_refused_with_the_one_to_write() {
        for (value, one_spelling) in [
            ("/v1/items%3Apurge", "/v1/items:purge"),
            ("/v1/items%3apurge", "/v1/items:purge"),
            ("/v1/%40me", "/v1/@me"),
            ("/caf%C3%A9", "/caf\u{e9}"),
            ("/caf%c3%a9", "/caf\u{e9}"),
            ("/%7euser", "/~user"),
            ("/calc/a%3bb", "/calc/a%3Bb"),
        ] {
            let (read, errors) = read_as("path_separated_prefix", value);
            assert_eq!(read, None, "{value}");
            assert_eq!(
                errors,
                [format!(
                    "match.path_separated_prefix: is not in canonical form: write {one_spelling}"
                )],
                "{value}"
            );
            let (read, errors) = read_as("path_separated_prefix", one_spelling);
            assert_eq!(
                read,
                Some(PathMatch::SeparatedPrefix(one_spelling.to_string())),
                "{one_spelling}: {errors:?}"
            );
        }
    }

    #[test]
    fn a_rule_path_the_screen_refuses_is_refused_with_the_reason() {
        for (value, reason) in [
            ("/healthz/%252e%252e/admin", "double-encoded escape"),
            ("/calc/%c0%ae", "not UTF-8"),
            ("/healthz/\u{ff0e}\u{ff0e}/admin", "(NFKC) turns into"),
            ("/healthz/%EF%BC%8E%EF%BC%8E/admin", "(NFKC) turns into"),
        ] {
            for field in PATH_MATCHERS {
                let (read, errors) = read_as(field, value);
                assert_eq!(read, None, "{field} {value}");
                let [error] = errors.as_slice() else {
                    panic!("{field} {value}: one problem expected, got {errors:?}");
                };
                assert!(
                    error.starts_with(&format!("match.{field}: is not in canonical form: "))
                        && error.contains(reason),
                    "{field} {value}: {error}"
                );
            }
        }
    }

    #[test]
    fn a_rule_path_with_a_kept_escape_is_its_own_spelling() {
        for value in ["/calc/100%25", "/calc/a%3Bb", "/calc/a%3Fb", "/calc/a%23b"] {
            let (read, errors) = read_as("path", value);
            assert_eq!(
                read,
                Some(PathMatch::Exact(value.to_string())),
                "{value}: {errors:?}"
            );
        }
    }
}
