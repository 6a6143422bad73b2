//! The top level of the configuration: its lists and settings, read into a `Config`.

use crate::config::claim_conditions::assign_slots;
use crate::config::field_reader::{index_path, ObjectReader, Problems};
use crate::config::headers::{read_claim_to_headers, read_from_headers};
use crate::config::plugin_config::{Config, PathScreening};
use crate::config::provider::{check_providers_distinct, read_provider};
use crate::config::rules::{check_rule_names_distinct, read_rule};
use serde_json::Value;

pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 60;
pub const DEFAULT_MAX_TOKEN_BYTES: u64 = 8192;
pub const DEFAULT_ROLES_CLAIM: &str = "roles";
pub const DEFAULT_TOKEN_CACHE_SIZE: u64 = 1000;

pub(super) fn read_config(value: &Value, problems: &mut Problems) -> Option<Config> {
    let mut top = ObjectReader::new("", value, problems)?;

    let mut providers = read_list(&mut top, "providers", "provider", problems, read_provider);
    check_providers_distinct(&providers, problems);
    let mut rules = read_list(
        &mut top,
        "rules",
        "rule (requests matching none are denied)",
        problems,
        read_rule,
    );
    let path_screening = read_path_screening(&mut top, problems);

    let roles_claim = top
        .string("roles_claim", problems)
        .unwrap_or_else(|| DEFAULT_ROLES_CLAIM.to_string());
    if roles_claim.is_empty() {
        problems.add("roles_claim", "must not be empty");
    }
    let clock_skew_seconds = top
        .integer("clock_skew_seconds", 0, 3600, problems)
        .unwrap_or(DEFAULT_CLOCK_SKEW_SECONDS);
    let forward = top.bool("forward", problems).unwrap_or(false);
    let dry_run = top.bool("dry_run", problems).unwrap_or(false);
    let decision_record = top.bool("decision_record", problems).unwrap_or(true);
    let max_token_bytes = top
        .integer("max_token_bytes", 256, 65536, problems)
        .unwrap_or(DEFAULT_MAX_TOKEN_BYTES);

    let token_cache_size = top
        .integer("token_cache_size", 0, 100_000, problems)
        .unwrap_or(DEFAULT_TOKEN_CACHE_SIZE);

    let from_headers = read_from_headers(&mut top, problems);
    let claim_to_headers = read_claim_to_headers(&mut top, &from_headers, problems);

    let mut token_headers: Vec<String> = Vec::new();
    for location in &from_headers {
        if !token_headers.contains(&location.name) {
            token_headers.push(location.name.clone());
        }
    }

    check_rule_names_distinct(&rules, problems);
    let claim_slots = assign_slots(&mut providers, &mut rules);

    top.finish(problems);
    Some(Config {
        claim_slots,
        dry_run,
        decision_record,
        providers,
        rules,
        path_screening,
        roles_claim,
        clock_skew_seconds: i64::try_from(clock_skew_seconds).unwrap_or(0),
        forward,
        claim_to_headers,
        from_headers,
        token_headers,
        max_token_bytes: usize::try_from(max_token_bytes).unwrap_or(0),
        token_cache_size: usize::try_from(token_cache_size).unwrap_or(0),
    })
}

/// The required, non-empty list `key`, each item read by `read`; `what` names an item in the
/// message for an empty list.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_list<T>(
    top: &mut ObjectReader<'_>,
    key: &'static str,
    what: &str,
    problems: &mut Problems,
    read: fn(&str, &Value, &mut Problems) -> Option<T>,
) -> Vec<T> {
    match top.array(key, problems) {
        Some([]) => {
            problems.add(key, format!("must list at least one {what}"));
            Vec::new()
        }
        Some(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| read(&index_path(key, i), item, problems))
            .collect(),
        None => {
            if !top.has(key) {
                problems.add(key, "is required");
            }
            Vec::new()
        }
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_path_screening(top: &mut ObjectReader<'_>, problems: &mut Problems) -> PathScreening {
    match top.string("path_screening", problems).as_deref() {
        None | Some("reject") => PathScreening::Reject,
        Some("off") => PathScreening::Off,
        Some(other) => {
            problems.add(
                "path_screening",
                format!("expected \"reject\" or \"off\", got \"{other}\""),
            );
            PathScreening::Reject
        }
    }
}
