//! `rolegate config validate FILE`: every problem, or a summary of what the filter will do.

use crate::args::Options;
use crate::text::list;
use crate::{read_file, CliError, Output};
use rolegate::config::{FetchSettings, KeySource};
use rolegate::decision::claim_condition::ClaimCondition;
use rolegate::decision::host_pattern::HostPattern;
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
        return out.help(crate::CONFIG_USAGE);
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

/// `rules[i]`, with the rule's name when it has one.
pub fn rule_name(rule: &Rule, index: usize) -> String {
    match &rule.name {
        Some(name) => format!("rules[{index}] {name}"),
        None => format!("rules[{index}]"),
    }
}

fn conditions_text(conditions: &[ClaimCondition]) -> String {
    conditions
        .iter()
        .map(|c| format!("{} in [{}]", c.claim, c.values.join(", ")))
        .collect::<Vec<_>>()
        .join(" and ")
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
    let hosts = match &rule.hosts {
        None => String::new(),
        Some(hosts) => {
            let names: Vec<String> = hosts.iter().map(HostPattern::text).collect();
            format!("hosts {}, ", names.join("|"))
        }
    };
    let requirement = match &rule.requirement {
        Requirement::Anonymous => "anonymous: no token needed".to_string(),
        Requirement::TokenIfPresent => {
            "allow_missing: no token needed, but a token sent must be valid".to_string()
        }
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
    let claims = if rule.claims.is_empty() {
        String::new()
    } else {
        format!(", claims {}", conditions_text(&rule.claims))
    };
    let dry_run = if rule.dry_run {
        " (dry_run: denials recorded, not enforced)"
    } else {
        ""
    };
    format!("{hosts}{path}, {methods} -> {requirement}{claims}{dry_run}")
}

/// Whether every host `later` names is one `earlier` names too.
fn hosts_cover(earlier: Option<&[HostPattern]>, later: Option<&[HostPattern]>) -> bool {
    let covers = |e: &HostPattern, l: &HostPattern| match (e, l) {
        (HostPattern::Any, _) => true,
        (_, HostPattern::Any) => false,
        (HostPattern::Exact(e), HostPattern::Exact(l)) => e == l,
        (HostPattern::Subdomains(suffix), HostPattern::Exact(l)) => {
            l.len() > suffix.len() && l.ends_with(suffix.as_str())
        }
        (HostPattern::Subdomains(e), HostPattern::Subdomains(l)) => l.ends_with(e.as_str()),
        (HostPattern::Exact(_), HostPattern::Subdomains(_)) => false,
    };
    match (earlier, later) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(e), Some(l)) => l.iter().all(|l| e.iter().any(|e| covers(e, l))),
    }
}

/// Whether every request `later` matches is matched by `earlier` first.
fn shadows(earlier: &Rule, later: &Rule) -> bool {
    if !hosts_cover(earlier.hosts.as_deref(), later.hosts.as_deref()) {
        return false;
    }
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
        match &p.tenant_issuers {
            None => out.line(format!("      issuers:   {}", list(&p.issuers))),
            Some(t) => {
                let templates: Vec<String> = t
                    .templates
                    .iter()
                    .map(|(before, after)| format!("{before}{{tid}}{after}"))
                    .collect();
                out.line(format!(
                    "      issuers:   {} where {{tid}} is the token's tid claim",
                    list(&templates)
                ));
                out.line(format!(
                    "      tenants:   {}",
                    match &t.tenants {
                        Some(tenants) => list(tenants),
                        None => "any (allow_any_tenant)".to_string(),
                    }
                ));
            }
        }
        if !p.required_claims.is_empty() {
            out.line(format!(
                "      required:  {} (else 401)",
                conditions_text(&p.required_claims)
            ));
        }
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
    if config.dry_run {
        out.line("  dry_run: every denial is recorded (logged, counted), not enforced");
    }
    for (i, rule) in config.rules.iter().enumerate() {
        let name = rule
            .name
            .as_ref()
            .map(|n| format!(" {n}:"))
            .unwrap_or_default();
        out.line(format!("  [{i}]{name} {}", rule_text(rule)));
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
    if !config.decision_record {
        out.line("decision record: off (no wasm.rolegate filter state for the access log)");
    }
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
    use rolegate::decision::rules::any_token_rule as rule;

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

    #[test]
    fn hosts_limit_shadowing() {
        let host = |t: &str| HostPattern::parse(t).expect("host");
        let mut api = rule(PathMatch::Prefix("/".into()), None);
        api.hosts = Some(vec![host("api.contoso.com")]);
        let mut subdomains = rule(PathMatch::Prefix("/".into()), None);
        subdomains.hosts = Some(vec![host("*.contoso.com")]);
        let mut deeper = rule(PathMatch::Prefix("/".into()), None);
        deeper.hosts = Some(vec![host("*.eu.contoso.com")]);
        let anywhere = rule(PathMatch::Prefix("/".into()), None);
        assert!(shadows(&subdomains, &api));
        assert!(shadows(&subdomains, &deeper));
        assert!(!shadows(&deeper, &subdomains));
        assert!(!shadows(&api, &anywhere), "other hosts still reach it");
        assert!(shadows(&anywhere, &api));
    }
}
