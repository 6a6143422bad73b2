//! `rolegate config validate FILE`: every problem, or a summary of what the filter will do.

use crate::args::Options;
use crate::text::list;
use crate::{read_file, CliError, Output};
use rolegate::config::{FetchSettings, KeySource};
use rolegate::decision::rules::{PathMatch, Requirement, Rule};
use rolegate::Config;

/// Reads and validates a configuration file; every problem becomes one line of the error.
pub fn load(path: &str) -> Result<Config, CliError> {
    let bytes = read_file("configuration", path)?;
    Config::parse(&bytes).map_err(|errors| CliError::Config {
        file: path.to_string(),
        problems: errors.iter().map(ToString::to_string).collect(),
    })
}

pub fn run(args: &[String], out: &mut Output) -> Result<u8, CliError> {
    let options = Options::parse("config validate", &[], args)?;
    if options.help {
        out.line(crate::CONFIG_USAGE.trim_end());
        return Ok(0);
    }
    let [path] = options.positional_exactly(&["CONFIG.json"])? else {
        return Err(options.usage("CONFIG.json is required".to_string()));
    };
    let config = load(path)?;
    out.line(format!("{path}: valid"));
    for warning in config.warnings() {
        out.line(format!("warning: {warning}"));
    }
    summarize(&config, out);
    Ok(0)
}

fn fetch_text(fetch: &FetchSettings) -> String {
    let stale = match fetch.max_stale_seconds {
        0 => "kept keys verify until replaced (no max_stale_seconds)".to_string(),
        n => format!("kept keys verify for {n} s after the last good fetch"),
    };
    format!(
        "refresh every {} s, timeout {} ms, unknown-kid refetch at most every {} s, body up to {} bytes; {stale}",
        fetch.cache_duration_seconds,
        fetch.timeout_ms,
        fetch.min_refetch_interval_seconds,
        fetch.max_jwks_bytes
    )
}

pub fn key_source_text(source: &KeySource) -> Vec<String> {
    match source {
        KeySource::Local(set) => {
            let kids: Vec<String> = set
                .keys()
                .iter()
                .map(|k| {
                    let name = k
                        .kid
                        .clone()
                        .or_else(|| k.x5t.as_ref().map(|t| format!("x5t {t}")))
                        .unwrap_or_else(|| "(no kid)".to_string());
                    match &k.key {
                        Ok(key) => format!("{name} ({} bits)", key.modulus_bits()),
                        Err(why) => format!("{name} (unusable: {why})"),
                    }
                })
                .collect();
            vec![format!(
                "local_jwks: {} key(s), {} usable: {}",
                set.keys().len(),
                set.usable_count(),
                list(&kids)
            )]
        }
        KeySource::Remote { jwks, fetch } => vec![
            format!(
                "remote_jwks: GET {} through cluster {}",
                jwks.uri, jwks.cluster
            ),
            fetch_text(fetch),
        ],
        KeySource::Discovery {
            document,
            jwks_cluster,
            fetch,
        } => vec![
            format!(
                "discovery: GET {} through cluster {}, then its jwks_uri through cluster {}",
                document.uri, document.cluster, jwks_cluster
            ),
            fetch_text(fetch),
        ],
    }
}

pub fn rule_text(rule: &Rule) -> String {
    let path = match &rule.path {
        PathMatch::Prefix(p) => format!("prefix {p}"),
        PathMatch::SeparatedPrefix(p) => format!("path_separated_prefix {p}"),
        PathMatch::Exact(p) => format!("path {p}"),
    };
    let methods = match &rule.methods {
        None => "any method".to_string(),
        Some(m) => m.join("|"),
    };
    let requirement = match &rule.requirement {
        Requirement::Anonymous => "anonymous: no token needed".to_string(),
        Requirement::AnyValidToken => "any valid token".to_string(),
        Requirement::Roles {
            roles,
            require_all: false,
        } => format!("a valid token with any of the roles [{}]", roles.join(", ")),
        Requirement::Roles {
            roles,
            require_all: true,
        } => format!("a valid token with all of the roles [{}]", roles.join(", ")),
    };
    format!("{path}, {methods} -> {requirement}")
}

/// Whether every request `later` matches is matched by `earlier` first.
fn shadows(earlier: &Rule, later: &Rule) -> bool {
    let methods = match (&earlier.methods, &later.methods) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(e), Some(l)) => l.iter().all(|m| e.contains(m)),
    };
    // Every path `later` matches starts with its value, and (for a separated prefix) continues
    // only at a segment boundary: `earlier` shadows it when it matches all of those.
    let path = match (&earlier.path, &later.path) {
        (PathMatch::Exact(e), PathMatch::Exact(l)) => e == l,
        (PathMatch::Exact(_), _) => false,
        (PathMatch::Prefix(e), later) => later.value().starts_with(e.as_str()),
        (PathMatch::SeparatedPrefix(e), PathMatch::Prefix(l)) => l
            .strip_prefix(e.as_str())
            .is_some_and(|rest| rest.starts_with('/')),
        (earlier @ PathMatch::SeparatedPrefix(_), later) => earlier.matches(later.value()),
    };
    methods && path
}

pub fn summarize(config: &Config, out: &mut Output) {
    out.line(format!("providers ({}):", config.providers.len()));
    for (i, p) in config.providers.iter().enumerate() {
        out.line(format!("  [{i}] {}", p.name));
        out.line(format!("      issuers:   {}", list(&p.issuers)));
        out.line(format!("      audiences: {}", list(&p.audiences)));
        for (j, line) in key_source_text(&p.keys).iter().enumerate() {
            let label = if j == 0 { "keys:     " } else { "          " };
            out.line(format!("      {label} {line}"));
        }
    }
    out.line(format!(
        "rules ({}, first match wins; a request matching none gets 403):",
        config.rules.len()
    ));
    for (i, rule) in config.rules.iter().enumerate() {
        out.line(format!("  [{i}] {}", rule_text(rule)));
    }
    let locations: Vec<String> = config
        .from_headers
        .iter()
        .map(|l| format!("{}: {}TOKEN", l.name, l.value_prefix))
        .collect();
    out.line(format!("token from:  {}", locations.join(" | ")));
    out.line(format!(
        "token:       up to {} bytes; roles in claim {:?}; clock skew {} s; token header {}",
        config.max_token_bytes,
        config.roles_claim,
        config.clock_skew_seconds,
        if config.forward {
            "forwarded upstream"
        } else {
            "removed before the upstream"
        }
    ));
    let claims: Vec<String> = config
        .claim_to_headers
        .iter()
        .map(|c| format!("{} -> {}", c.claim, c.header))
        .collect();
    out.line(format!("claim_to_headers: {}", list(&claims)));
    out.line(format!(
        "token cache: {}",
        match config.token_cache_size {
            0 => "off (every token is verified afresh)".to_string(),
            n => format!("up to {n} verified tokens per worker"),
        }
    ));
    for (i, later) in config.rules.iter().enumerate() {
        if let Some(j) = config
            .rules
            .iter()
            .take(i)
            .position(|earlier| shadows(earlier, later))
        {
            out.line(format!(
                "note: rules[{i}] never applies: every request it matches is matched by rules[{j}] first"
            ));
        }
    }
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
    fn shadowing() {
        let all = rule(PathMatch::Prefix("/".into()), None);
        let calc = rule(PathMatch::Prefix("/calc/".into()), Some(&["GET"]));
        let exact = rule(PathMatch::Exact("/calc/x".into()), Some(&["GET", "POST"]));
        assert!(shadows(&all, &calc));
        assert!(!shadows(&calc, &all));
        assert!(!shadows(&calc, &exact), "POST is not covered");
        assert!(shadows(&exact, &exact));
        assert!(!shadows(&exact, &calc));
        let separated = rule(PathMatch::SeparatedPrefix("/calc".into()), None);
        let calculator = rule(PathMatch::Prefix("/calculator".into()), None);
        let calc_slash = rule(PathMatch::Prefix("/calc/x".into()), None);
        assert!(
            !shadows(&separated, &calculator),
            "/calculator is another segment"
        );
        assert!(shadows(&separated, &calc_slash));
        assert!(shadows(&separated, &calc));
        assert!(shadows(&separated, &exact));
        assert!(shadows(&all, &separated));
        assert!(!shadows(&separated, &all));
    }
}
