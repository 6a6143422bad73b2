//! The plugin configuration: read strictly, validated whole, compiled once at configure time.

pub mod azure_ad;
pub mod claim_conditions;
pub mod field_reader;
pub mod rules;

use crate::config::azure_ad::{read_azure_ad, AzureAd, TenantIssuers};
use crate::config::claim_conditions::{assign_slots, read_claim_conditions};
use crate::config::field_reader::{
    child_path, describe, index_path, ConfigError, ObjectReader, Problems,
};
use crate::config::rules::{check_rule_names_distinct, read_rule};
use crate::decision::claim_condition::{ClaimCondition, ClaimSlots};
use crate::decision::rules::{PathMatch, Requirement, Rule};
use crate::keys::backoff::REFRESH_SPREAD_PERCENT;
use crate::keys::jwks::KeySet;
use crate::keys::worker_key_sets::shortest_max_stale_seconds;
use crate::request::extract::TokenLocation;
use serde_json::Value;

pub const DEFAULT_CACHE_DURATION_SECONDS: u64 = 600;
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 60;
pub const DEFAULT_MAX_TOKEN_BYTES: u64 = 8192;
pub const DEFAULT_ROLES_CLAIM: &str = "roles";
pub const DEFAULT_TOKEN_CACHE_SIZE: u64 = 1000;
pub const DEFAULT_MIN_REFETCH_INTERVAL_SECONDS: u64 = 30;
pub const DEFAULT_MAX_JWKS_BYTES: u64 = 256 * 1024;

/// Where one HTTP GET of the key-set lifecycle goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The Envoy cluster the call is dispatched to.
    pub cluster: String,
    pub uri: String,
    pub authority: String,
    pub path: String,
}

impl Endpoint {
    /// `uri` must be `http(s)://authority/path`.
    pub fn new(cluster: &str, uri: &str) -> Option<Endpoint> {
        let (authority, path) = split_uri(uri)?;
        Some(Endpoint {
            cluster: cluster.to_string(),
            uri: uri.to_string(),
            authority,
            path,
        })
    }
}

/// How a remote key set is fetched and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchSettings {
    pub cache_duration_seconds: u64,
    pub timeout_ms: u64,
    pub min_refetch_interval_seconds: u64,
    pub max_jwks_bytes: usize,
    /// Keys stop verifying this long after the last successful fetch; 0: never.
    pub max_stale_seconds: u64,
}

#[derive(Debug, Clone)]
pub enum KeySource {
    Local(KeySet),
    Remote {
        jwks: Endpoint,
        fetch: FetchSettings,
    },
    /// OIDC discovery: the document names the key set's URI; `jwks_cluster` carries that GET.
    Discovery {
        document: Endpoint,
        jwks_cluster: String,
        fetch: FetchSettings,
    },
}

impl KeySource {
    pub fn fetch_settings(&self) -> Option<&FetchSettings> {
        match self {
            KeySource::Local(_) => None,
            KeySource::Remote { fetch, .. } | KeySource::Discovery { fetch, .. } => Some(fetch),
        }
    }

    /// GETs in one fetch cycle, each with the whole `timeout_ms`: discovery costs the document
    /// and then the key set.
    pub fn calls_per_fetch(&self) -> u64 {
        match self {
            KeySource::Local(_) => 0,
            KeySource::Remote { .. } => 1,
            KeySource::Discovery { .. } => 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    /// Exact issuers; empty for a multi-tenant Entra ID provider, which has `tenant_issuers`.
    pub issuers: Vec<String>,
    pub tenant_issuers: Option<TenantIssuers>,
    /// The issuers a discovery document for this provider may state: its issuers, or for
    /// `azure_ad` the v2 issuers the v2.0 document states.
    pub document_issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub keys: KeySource,
    /// Checked for every token of this provider, after lifetime; a failure is 401.
    pub required_claims: Vec<ClaimCondition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToHeader {
    pub claim: String,
    pub header: String,
}

/// What happens to a request path that is not in canonical form (see `path_screen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathScreening {
    /// 400 before any rule is looked at.
    Reject,
    /// Rules see the raw path: only safe behind an Envoy that normalizes it.
    Off,
}

/// Something valid but probably not meant, said at start-up and by `rolegate config validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Everything a request decision needs, checked and compiled.
#[derive(Debug, Clone)]
pub struct Config {
    pub providers: Vec<Provider>,
    pub rules: Vec<Rule>,
    pub path_screening: PathScreening,
    pub roles_claim: String,
    pub clock_skew_seconds: i64,
    pub forward: bool,
    pub claim_to_headers: Vec<ClaimToHeader>,
    pub from_headers: Vec<TokenLocation>,
    /// The distinct header names of `from_headers`: all are removed when `forward` is false,
    /// so a second, unverified token cannot ride along with the verified one.
    pub token_headers: Vec<String>,
    pub max_token_bytes: usize,
    /// Verified tokens remembered per worker; 0 verifies every token afresh.
    pub token_cache_size: usize,
    /// Every claim name a claim condition refers to; each verified token's values for them are
    /// read once.
    pub claim_slots: ClaimSlots,
    /// `dry_run`: every denial is recorded, not enforced (see `decision::dry_run`).
    pub dry_run: bool,
    /// `decision_record`: whether each decision is set as the `wasm.rolegate` filter state for
    /// the access log. Off saves one host call per request where no access log prints it.
    pub decision_record: bool,
}

impl Config {
    /// Parses and validates; on failure every problem found is returned, each naming its field.
    pub fn parse(text: &[u8]) -> Result<Config, Vec<ConfigError>> {
        let value: Value = serde_json::from_slice(text).map_err(|e| {
            vec![ConfigError {
                field: String::new(),
                message: format!("configuration is not valid JSON: {e}"),
            }]
        })?;
        let mut problems = Problems::default();
        let config = read_config(&value, &mut problems);
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(problems.into_errors()),
        }
    }

    /// Settings that are valid but leave a door open; each names its field.
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let mut warnings = Vec::new();
        if self.path_screening == PathScreening::Off {
            warnings.push(ConfigWarning {
                field: "path_screening".to_string(),
                message: "is off: rules match the raw path, so /healthz/../admin is not /admin \
                    to them. Only safe when Envoy normalizes paths before rolegate \
                    (normalize_path, merge_slashes, path_with_escaped_slashes_action)"
                    .to_string(),
            });
        }
        if self.dry_run {
            warnings.push(ConfigWarning {
                field: "dry_run".to_string(),
                message: "is on: no request is denied; would-be denials are only logged and \
                    counted (rolegate.dry_run.denied.<reason>)"
                    .to_string(),
            });
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.dry_run && !self.dry_run {
                warnings.push(ConfigWarning {
                    field: format!("rules[{i}].dry_run"),
                    message: format!(
                        "is on: requests under {} are not denied; would-be denials are only \
                         logged and counted",
                        rule.label(i)
                    ),
                });
            }
            // allow_missing lets a request without a token through just as allow_anonymous
            // does, so its string prefix opens the same door.
            let tokenless = matches!(
                rule.requirement,
                Requirement::Anonymous | Requirement::TokenIfPresent
            );
            if let (true, PathMatch::Prefix(prefix)) = (tokenless, &rule.path) {
                if !prefix.ends_with('/') {
                    warnings.push(ConfigWarning {
                        field: format!("rules[{i}].match.prefix"),
                        message: format!(
                            "opens {prefix}... without a token, not only {prefix}/: \
                             a string prefix also matches {prefix}X. \
                             Use path_separated_prefix"
                        ),
                    });
                }
            }
        }
        warnings
    }

    /// The provider whose issuer list holds `iss`; failing that, the multi-tenant provider
    /// whose issuer templates fit it (the tenant is checked once the token is verified).
    pub fn provider_for_issuer(&self, iss: &str) -> Option<usize> {
        self.providers
            .iter()
            .position(|p| p.issuers.iter().any(|i| i == iss))
            .or_else(|| {
                self.providers.iter().position(|p| {
                    p.tenant_issuers
                        .as_ref()
                        .is_some_and(|t| t.tenant_of(iss).is_some())
                })
            })
    }
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.!#$%&'*+^`|~".contains(&b)
        })
}

pub(crate) fn is_metric_safe(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Splits `http(s)://authority/path` into the `:authority` and `:path` of the JWKS GET.
pub fn split_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    let valid = !authority.is_empty()
        && !authority.contains(['@', ' ', '?', '#'])
        && !path.contains([' ', '#']);
    valid.then(|| (authority.to_string(), path.to_string()))
}

fn read_config(value: &Value, problems: &mut Problems) -> Option<Config> {
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

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_from_headers(top: &mut ObjectReader<'_>, problems: &mut Problems) -> Vec<TokenLocation> {
    match top.array("from_headers", problems) {
        None => vec![TokenLocation {
            name: "authorization".to_string(),
            value_prefix: "Bearer ".to_string(),
        }],
        Some([]) => {
            problems.add("from_headers", "must list at least one header");
            Vec::new()
        }
        Some(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                read_from_header(&index_path("from_headers", i), item, problems)
            })
            .collect(),
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_claim_to_headers(
    top: &mut ObjectReader<'_>,
    from_headers: &[TokenLocation],
    problems: &mut Problems,
) -> Vec<ClaimToHeader> {
    let claim_to_headers: Vec<ClaimToHeader> = top
        .array("claim_to_headers", problems)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            read_claim_to_header(&index_path("claim_to_headers", i), item, problems)
        })
        .collect();
    for (i, c) in claim_to_headers.iter().enumerate() {
        let field = format!("claim_to_headers[{i}].header");
        if claim_to_headers
            .iter()
            .take(i)
            .any(|o| o.header == c.header)
        {
            problems.add(&field, format!("header {} is set twice", c.header));
        }
        if from_headers.iter().any(|f| f.name == c.header) {
            problems.add(
                &field,
                format!("header {} also carries the token", c.header),
            );
        }
    }
    claim_to_headers
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn check_providers_distinct(providers: &[Provider], problems: &mut Problems) {
    for (i, p) in providers.iter().enumerate() {
        let earlier = providers.iter().take(i);
        if earlier.clone().any(|o| o.name == p.name) {
            problems.add(
                &format!("providers[{i}].name"),
                format!("provider name {} is used twice", p.name),
            );
        }
        for iss in &p.issuers {
            if earlier.clone().any(|o| o.issuers.contains(iss)) {
                problems.add(
                    &format!("providers[{i}].issuers"),
                    format!("issuer {iss} belongs to two providers; a token's iss must pick one"),
                );
            }
        }
        if let Some(tenants) = &p.tenant_issuers {
            let overlaps = earlier.clone().any(|o| {
                o.tenant_issuers
                    .as_ref()
                    .is_some_and(|t| t.templates.iter().any(|x| tenants.templates.contains(x)))
            });
            if overlaps {
                problems.add(
                    &format!("providers[{i}].azure_ad.tenant"),
                    "two multi-tenant providers of one cloud: a token's iss must pick one; list every tenant in one provider's tenants",
                );
            }
        }
    }
}

const KEY_SOURCES: [&str; 4] = ["remote_jwks", "discovery", "azure_ad", "local_jwks"];

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_provider(path: &str, value: &Value, problems: &mut Problems) -> Option<Provider> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let name = obj.required_string("name", problems);
    if let Some(n) = &name {
        if !is_metric_safe(n) {
            problems.add(
                &obj.path_of("name"),
                "use letters, digits, '_' and '-' only (it names metrics)",
            );
        }
    }

    let given: Vec<&'static str> = KEY_SOURCES.into_iter().filter(|k| obj.has(k)).collect();
    let azure = if obj.has("azure_ad") {
        let field = obj.path_of("azure_ad");
        obj.get("azure_ad")
            .and_then(|v| read_azure_ad(&field, v, problems))
    } else {
        None
    };

    let issuers = match (
        obj.has("issuer"),
        obj.has("issuers"),
        given.contains(&"azure_ad"),
    ) {
        (false, false, true) => azure.as_ref().map(|a| a.issuers.clone()),
        (_, _, true) => {
            let field = if obj.has("issuer") {
                "issuer"
            } else {
                "issuers"
            };
            problems.add(
                &obj.path_of(field),
                "azure_ad derives the issuers from the tenant; remove this field",
            );
            obj.get("issuer");
            obj.get("issuers");
            None
        }
        (true, true, _) => {
            problems.add(&obj.path_of("issuers"), "give issuer or issuers, not both");
            obj.get("issuer");
            obj.get("issuers");
            None
        }
        (true, false, _) => obj.required_string("issuer", problems).map(|i| vec![i]),
        (false, true, _) => match obj.string_list("issuers", problems) {
            Some(list) if list.is_empty() => {
                problems.add(&obj.path_of("issuers"), "must list at least one issuer");
                None
            }
            other => other,
        },
        (false, false, false) => {
            problems.add(&obj.path_of("issuers"), "issuer or issuers is required");
            None
        }
    };

    let audiences = if obj.has("audiences") {
        match obj.string_list("audiences", problems) {
            Some(list) if list.is_empty() => {
                problems.add(&obj.path_of("audiences"), "must list at least one audience");
                None
            }
            other => other,
        }
    } else {
        obj.get("audiences");
        problems.add(
            &obj.path_of("audiences"),
            "is required (a token for another API must not be accepted)",
        );
        None
    };

    let keys = match given.as_slice() {
        [] => {
            problems.add(
                &obj.path_of("remote_jwks"),
                "a key source is required: remote_jwks, discovery, azure_ad or local_jwks",
            );
            None
        }
        [source] => {
            let field = obj.path_of(source);
            let keys = match *source {
                "remote_jwks" => obj
                    .get("remote_jwks")
                    .and_then(|v| read_remote_jwks(&field, v, problems)),
                "discovery" => obj
                    .get("discovery")
                    .and_then(|v| read_discovery(&field, v, problems)),
                "azure_ad" => azure.as_ref().map(|a| a.keys.clone()),
                _ => obj
                    .get("local_jwks")
                    .and_then(|v| read_local_jwks(&field, v, problems))
                    .map(KeySource::Local),
            };
            if let Some(keys) = &keys {
                check_max_stale_seconds(&child_path(&field, "max_stale_seconds"), keys, problems);
            }
            keys
        }
        several => {
            for source in several {
                obj.get(source);
            }
            problems.add(
                &obj.path_of(several.get(1).copied().unwrap_or("remote_jwks")),
                format!("give one key source, not {}", several.join(" and ")),
            );
            None
        }
    };
    let required_claims = match obj.get("required_claims") {
        Some(v) => read_claim_conditions(&obj.path_of("required_claims"), v, problems),
        None => Some(Vec::new()),
    };
    obj.finish(problems);
    let issuers = issuers?;
    let (tenant_issuers, document_issuers) = match azure {
        Some(AzureAd {
            tenant_issuers,
            document_issuers,
            ..
        }) => (tenant_issuers, document_issuers),
        None => (None, issuers.clone()),
    };
    Some(Provider {
        name: name?,
        issuers,
        tenant_issuers,
        document_issuers,
        audiences: audiences?,
        keys: keys?,
        required_claims: required_claims?,
    })
}

/// The fetch settings every remote key source shares.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub(crate) fn read_fetch_settings(
    obj: &mut ObjectReader<'_>,
    problems: &mut Problems,
) -> FetchSettings {
    let cache_duration_seconds = obj
        .integer("cache_duration_seconds", 1, 7 * 24 * 3600, problems)
        .unwrap_or(DEFAULT_CACHE_DURATION_SECONDS);
    let timeout_ms = obj
        .integer("timeout_ms", 1, 60_000, problems)
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    let min_refetch_interval_seconds = obj
        .integer("min_refetch_interval_seconds", 0, 24 * 3600, problems)
        .unwrap_or(DEFAULT_MIN_REFETCH_INTERVAL_SECONDS);
    let max_jwks_bytes = obj
        .integer("max_jwks_bytes", 1024, 4 * 1024 * 1024, problems)
        .unwrap_or(DEFAULT_MAX_JWKS_BYTES);
    // Checked against the refresh schedule once the key source is known: see
    // check_max_stale_seconds.
    let max_stale_seconds = obj
        .integer("max_stale_seconds", 0, 30 * 24 * 3600, problems)
        .unwrap_or(0);
    FetchSettings {
        cache_duration_seconds,
        timeout_ms,
        min_refetch_interval_seconds,
        max_jwks_bytes: usize::try_from(max_jwks_bytes).unwrap_or(usize::MAX),
        max_stale_seconds,
    }
}

/// Refuses a `max_stale_seconds` that the next refresh could miss with a healthy IdP: its
/// tokens would get 503 until the refresh lands. The shortest limit comes from the fetch
/// schedule itself (`worker_key_sets::shortest_max_stale_seconds`), so a change to the spread
/// or the retries moves it too.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn check_max_stale_seconds(field: &str, keys: &KeySource, problems: &mut Problems) {
    let (Some(fetch), Some(shortest)) = (keys.fetch_settings(), shortest_max_stale_seconds(keys))
    else {
        return;
    };
    if fetch.max_stale_seconds != 0 && fetch.max_stale_seconds < shortest {
        problems.add(
            field,
            format!(
                "must be at least {shortest} with these settings, or 0 for no limit: the next \
                 refresh may come up to {}% past cache_duration_seconds ({}) and, with a \
                 healthy IdP, still need a retry after a timed-out try (timeout_ms {} per call, \
                 {} call(s) per try); keys would go stale before it lands",
                REFRESH_SPREAD_PERCENT,
                fetch.cache_duration_seconds,
                fetch.timeout_ms,
                keys.calls_per_fetch()
            ),
        );
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_endpoint(
    obj: &mut ObjectReader<'_>,
    cluster: Option<&str>,
    problems: &mut Problems,
) -> Option<Endpoint> {
    let uri = obj.required_string("uri", problems)?;
    let endpoint = Endpoint::new(cluster.unwrap_or_default(), &uri);
    if endpoint.is_none() {
        problems.add(
            &obj.path_of("uri"),
            "expected http:// or https:// followed by a host and a path",
        );
    }
    endpoint
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_remote_jwks(path: &str, value: &Value, problems: &mut Problems) -> Option<KeySource> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let cluster = obj.required_string("cluster", problems);
    let jwks = read_endpoint(&mut obj, cluster.as_deref(), problems);
    let fetch = read_fetch_settings(&mut obj, problems);
    obj.finish(problems);
    cluster?;
    Some(KeySource::Remote { jwks: jwks?, fetch })
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_discovery(path: &str, value: &Value, problems: &mut Problems) -> Option<KeySource> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let cluster = obj.required_string("cluster", problems);
    let document = read_endpoint(&mut obj, cluster.as_deref(), problems);
    let jwks_cluster = if obj.has("jwks_cluster") {
        obj.required_string("jwks_cluster", problems)
    } else {
        cluster.clone()
    };
    let fetch = read_fetch_settings(&mut obj, problems);
    obj.finish(problems);
    cluster?;
    Some(KeySource::Discovery {
        document: document?,
        jwks_cluster: jwks_cluster?,
        fetch,
    })
}

/// Expands the Entra ID preset into the tenant's issuers and its discovery document.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_local_jwks(path: &str, value: &Value, problems: &mut Problems) -> Option<KeySet> {
    if !value.is_object() {
        problems.add(
            path,
            format!("expected a JWKS object, got {}", describe(value)),
        );
        return None;
    }
    match KeySet::from_value(value) {
        Ok(set) if set.usable_count() > 0 => Some(set),
        Ok(_) => {
            problems.add(path, "holds no usable RS256 key");
            None
        }
        Err(e) => {
            problems.add(path, format!("not a key set: {e}"));
            None
        }
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_from_header(path: &str, value: &Value, problems: &mut Problems) -> Option<TokenLocation> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let name = obj
        .required_string("name", problems)
        .map(|n| n.to_ascii_lowercase());
    if let Some(n) = &name {
        if !is_header_name(n) {
            problems.add(&obj.path_of("name"), format!("{n} is not a header name"));
        }
    }
    let value_prefix = obj.string("value_prefix", problems).unwrap_or_default();
    obj.finish(problems);
    Some(TokenLocation {
        name: name?,
        value_prefix,
    })
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_claim_to_header(
    path: &str,
    value: &Value,
    problems: &mut Problems,
) -> Option<ClaimToHeader> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let claim = obj.required_string("claim", problems);
    let header = obj
        .required_string("header", problems)
        .map(|h| h.to_ascii_lowercase());
    if let Some(h) = &header {
        if !is_header_name(h) {
            problems.add(&obj.path_of("header"), format!("{h} is not a header name"));
        } else if matches!(
            h.as_str(),
            "host"
                | "content-length"
                | "transfer-encoding"
                | "connection"
                | "te"
                | "upgrade"
                | "keep-alive"
                | "proxy-connection"
        ) {
            problems.add(&obj.path_of("header"), format!("{h} cannot carry a claim"));
        }
    }
    obj.finish(problems);
    Some(ClaimToHeader {
        claim: claim?,
        header: header?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::host_pattern::HostPattern;

    const GOOD: &str = r#"{
      "providers": [{
        "name": "aad",
        "issuers": ["https://login.microsoftonline.com/t/v2.0", "https://sts.windows.net/t/"],
        "audiences": ["app", "api://app"],
        "remote_jwks": {"cluster": "idp", "uri": "https://login.microsoftonline.com/t/discovery/v2.0/keys",
                        "cache_duration_seconds": 600, "timeout_ms": 5000}
      }],
      "claim_to_headers": [{"claim": "azp", "header": "x-client-id"}],
      "rules": [
        {"match": {"path_separated_prefix": "/healthz"}, "allow_anonymous": true},
        {"match": {"path_separated_prefix": "/calc"}, "roles": ["invokeRole"]}
      ]
    }"#;

    fn with_rules(rules: &str) -> String {
        let start = GOOD.find(r#""rules""#).expect("rules");
        format!("{}\"rules\": {rules}}}", &GOOD[..start])
    }

    #[test]
    fn path_matchers_and_their_canonical_form() {
        let c = Config::parse(GOOD.as_bytes()).expect("valid");
        assert_eq!(c.path_screening, PathScreening::Reject, "on by default");
        assert_eq!(
            c.rules[0].path,
            PathMatch::SeparatedPrefix("/healthz".into())
        );
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        for (rules, field, message) in [
            (
                r#"[{"match": {"path_separated_prefix": "/calc/"}}]"#,
                "rules[0].match.path_separated_prefix",
                "must not end with '/'",
            ),
            (
                r#"[{"match": {"path_separated_prefix": "/"}}]"#,
                "rules[0].match.path_separated_prefix",
                "must not end with '/'",
            ),
            (
                r#"[{"match": {"path_separated_prefix": "calc"}}]"#,
                "rules[0].match.path_separated_prefix",
                "must start with '/'",
            ),
            (
                r#"[{"match": {"prefix": "/calc", "path": "/calc"}}]"#,
                "rules[0].match.path",
                "give one of",
            ),
            (
                r#"[{"match": {"methods": ["GET"]}}]"#,
                "rules[0].match.path_separated_prefix",
                "is required",
            ),
            (
                r#"[{"match": {"prefix": "/calc/../admin"}}]"#,
                "rules[0].match.prefix",
                "not in canonical form: the path has a . or .. segment",
            ),
            (
                r#"[{"match": {"path": "/a//b"}}]"#,
                "rules[0].match.path",
                "empty segment",
            ),
            (
                r#"[{"match": {"prefix": "/%7euser"}}]"#,
                "rules[0].match.prefix",
                "write /~user",
            ),
            (
                r#"[{"match": {"prefix": "/calc?x=1"}}]"#,
                "rules[0].match.prefix",
                "query",
            ),
        ] {
            let errs = errors(&with_rules(rules));
            assert!(
                errs.iter()
                    .any(|e| e.starts_with(field) && e.contains(message)),
                "{rules}: {errs:?}"
            );
        }
        assert!(errors(&with_rules(
            r#"[{"match": {"path_separated_prefix": "/caf\u00e9"}}]"#
        ))
        .is_empty());
        let bad = GOOD.replace(r#""rules""#, r#""path_screening": "normalize", "rules""#);
        assert!(errors(&bad)
            .iter()
            .any(|e| e.starts_with("path_screening: expected")));
    }

    #[test]
    fn max_stale_seconds_must_outlast_a_refresh() {
        let c = Config::parse(GOOD.as_bytes()).expect("valid");
        let fetch = c.providers[0].keys.fetch_settings().expect("remote");
        assert_eq!(fetch.max_stale_seconds, 0, "no limit by default");
        let with = |value: &str| {
            GOOD.replace(
                "\"timeout_ms\": 5000",
                &format!("\"timeout_ms\": 5000, \"max_stale_seconds\": {value}"),
            )
        };
        let c = Config::parse(with("86400").as_bytes()).expect("valid");
        let fetch = c.providers[0].keys.fetch_settings().expect("remote");
        assert_eq!(fetch.max_stale_seconds, 86400);
        assert!(errors(&with("-1"))[0].starts_with("providers[0].remote_jwks.max_stale_seconds"));
    }

    /// 600 s +10% = 660 s for the latest refresh; a try that times out holds its lease for
    /// 5 s (per call) + 1 s and may start 1 s late; the first retry waits up to 1.25 s; the
    /// retry takes as long as the try. One second more for the rounding of the fetch time.
    #[test]
    fn max_stale_seconds_must_outlast_the_latest_refresh_and_a_retry() {
        let remote = |value: u64| {
            GOOD.replace(
                "\"timeout_ms\": 5000",
                &format!("\"timeout_ms\": 5000, \"max_stale_seconds\": {value}"),
            )
        };
        // 660 + (1 + 6) + 1.25 + (1 + 6) = 675.25 s, rounded up, + 1.
        assert!(
            errors(&remote(677)).is_empty(),
            "{:?}",
            errors(&remote(677))
        );
        let refused = "providers[0].remote_jwks.max_stale_seconds: must be at least 677 with \
             these settings, or 0 for no limit: the next refresh may come up to 10% past \
             cache_duration_seconds (600) and, with a healthy IdP, still need a retry after a \
             timed-out try (timeout_ms 5000 per call, 1 call(s) per try); keys would go stale \
             before it lands";
        assert_eq!(errors(&remote(676)), vec![refused]);
        // The limit the old check let through: a refresh drawn late left 503s for up to a
        // minute.
        let short = GOOD.replace(
            "\"cache_duration_seconds\": 600,",
            "\"cache_duration_seconds\": 600, \"max_stale_seconds\": 601,",
        );
        assert_eq!(errors(&short), vec![refused]);

        // Discovery makes two calls per try: 660 + (1 + 11) + 1.25 + (1 + 11) = 685.25 s.
        let discovery = |value: u64| {
            format!(
                r#"{{"providers":[{{"name":"p","issuer":"https://idp/","audiences":["a"],
                    "discovery":{{"cluster":"c","uri":"http://idp/.well-known/openid-configuration",
                    "max_stale_seconds":{value}}}}}],"rules":[{{"match":{{"prefix":"/"}}}}]}}"#
            )
        };
        assert!(errors(&discovery(687)).is_empty());
        let e = errors(&discovery(686));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "providers[0].discovery.max_stale_seconds: must be at least 687 with these settings"
            ) && e[0].contains("timeout_ms 5000 per call, 2 call(s) per try"),
            "{e:?}"
        );
        let azure = |value: u64| {
            format!(
                r#"{{"providers":[{{"name":"aad","audiences":["a"],"azure_ad":{{"tenant":"11111111-2222-3333-4444-555555555555",
                    "cluster":"entra","max_stale_seconds":{value}}}}}],"rules":[{{"match":{{"prefix":"/"}}}}]}}"#
            )
        };
        assert!(errors(&azure(687)).is_empty());
        assert!(
            errors(&azure(686))[0]
                .starts_with("providers[0].azure_ad.max_stale_seconds: must be at least 687"),
            "{:?}",
            errors(&azure(686))
        );
        // A shorter refresh and timeout lower the bar: 11 + (1 + 2) + 1.25 + (1 + 2) = 18.25 s.
        let quick = GOOD
            .replace(
                "\"cache_duration_seconds\": 600",
                "\"cache_duration_seconds\": 10",
            )
            .replace(
                "\"timeout_ms\": 5000",
                "\"timeout_ms\": 1000, \"max_stale_seconds\": 19",
            );
        assert!(
            errors(&quick)[0].contains("must be at least 20"),
            "{:?}",
            errors(&quick)
        );
        assert!(errors(&quick.replace(": 19", ": 20")).is_empty());
    }

    #[test]
    fn open_doors_are_warned_about() {
        let c = Config::parse(
            with_rules(
                r#"[{"match": {"prefix": "/healthz"}, "allow_anonymous": true},
                    {"match": {"prefix": "/docs/"}, "allow_anonymous": true},
                    {"match": {"prefix": "/calc"}, "roles": ["r"]}]"#,
            )
            .replace(r#""rules""#, r#""path_screening": "off", "rules""#)
            .as_bytes(),
        )
        .expect("valid");
        let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("path_screening: is off"));
        assert!(
            warnings[1].starts_with("rules[0].match.prefix: opens /healthz...")
                && warnings[1].contains("/healthzX"),
            "{warnings:?}"
        );
    }

    #[test]
    fn allow_missing_with_a_bare_prefix_is_warned_about_as_allow_anonymous_is() {
        let c = Config::parse(
            with_rules(
                r#"[{"match": {"prefix": "/public"}, "allow_missing": true},
                    {"match": {"prefix": "/docs/"}, "allow_missing": true},
                    {"match": {"path_separated_prefix": "/open"}, "allow_missing": true},
                    {"match": {"prefix": "/calc"}, "roles": ["r"]},
                    {"match": {"prefix": "/any"}}]"#,
            )
            .as_bytes(),
        )
        .expect("valid");
        let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            vec![
                "rules[0].match.prefix: opens /public... without a token, not only /public/: \
                 a string prefix also matches /publicX. Use path_separated_prefix"
            ],
            "rules that need a token (roles or any valid one) open nothing"
        );
    }

    fn errors(text: &str) -> Vec<String> {
        match Config::parse(text.as_bytes()) {
            Ok(_) => Vec::new(),
            Err(errs) => errs.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn claims_hosts_names_and_allow_missing() {
        let c = Config::parse(
            with_rules(
                r#"[{"name": "calc", "match": {"hosts": ["API.contoso.com", "*.t.contoso.com"],
                      "path_separated_prefix": "/calc"}, "roles": ["r"],
                      "claims": [{"claim": "azp", "values": ["a", "b"]}, {"claim": "tid", "values": ["t"]}]},
                    {"match": {"prefix": "/docs/"}, "allow_missing": true}]"#,
            )
            .as_bytes(),
        )
        .expect("valid");
        let rule = &c.rules[0];
        assert_eq!(rule.name.as_deref(), Some("calc"));
        let hosts: Vec<String> = rule.hosts.iter().flatten().map(HostPattern::text).collect();
        assert_eq!(hosts, ["api.contoso.com", "*.t.contoso.com"]);
        assert_eq!(rule.claims.len(), 2);
        assert_eq!(
            (rule.claims[0].slot, rule.claims[1].slot),
            (0, 1),
            "each claim name its slot"
        );
        assert_eq!(c.rules[1].requirement, Requirement::TokenIfPresent);
        assert!(c.rules[1].hosts.is_none() && c.rules[1].name.is_none());

        for (rules, want) in [
            (
                r#"[{"match": {"prefix": "/"}, "allow_missing": true, "roles": ["r"]}]"#,
                "rules[0].allow_missing: cannot be combined with roles",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "allow_missing": true, "claims": [{"claim": "a", "values": ["b"]}]}]"#,
                "rules[0].allow_missing: cannot be combined with claims",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "allow_missing": true, "allow_anonymous": true}]"#,
                "rules[0].allow_missing: cannot be combined with allow_anonymous",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "allow_anonymous": true, "claims": [{"claim": "a", "values": ["b"]}]}]"#,
                "rules[0].allow_anonymous: cannot be combined with claims",
            ),
            (
                r#"[{"name": "a", "match": {"prefix": "/a/"}}, {"name": "a", "match": {"prefix": "/b/"}}]"#,
                "rules[1].name: rule name a is used twice",
            ),
            (
                r#"[{"name": "a.b", "match": {"prefix": "/"}}]"#,
                "rules[0].name: use letters, digits",
            ),
            (
                r#"[{"match": {"prefix": "/", "hosts": []}}]"#,
                "rules[0].match.hosts: must list at least one host",
            ),
            (
                r#"[{"match": {"prefix": "/", "hosts": ["api.contoso.com:0"]}}]"#,
                "rules[0].match.hosts[0]: a port must be a number from 1 to 65535",
            ),
            (
                r#"[{"match": {"prefix": "/", "hosts": ["a.*.com"]}}]"#,
                "rules[0].match.hosts[0]: a wildcard may only be a whole leading label",
            ),
            (
                r#"[{"match": {"prefix": "/", "hosts": "a.com"}}]"#,
                "rules[0].match.hosts: expected an array",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "claims": []}]"#,
                "rules[0].claims: must list at least one claim",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "a"}]}]"#,
                "rules[0].claims[0].values: is required",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "a", "values": []}]}]"#,
                "rules[0].claims[0].values: must list at least one value",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "a", "values": [42]}]}]"#,
                "rules[0].claims[0].values",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "", "values": ["x"]}]}]"#,
                "rules[0].claims[0].claim: must not be empty",
            ),
            (
                r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "a", "values": ["x"], "value": "y"}]}]"#,
                "rules[0].claims[0].value",
            ),
        ] {
            let e = errors(&with_rules(rules));
            assert!(
                e.iter().any(|line| line.starts_with(want)),
                "{rules}: want {want}, got {e:?}"
            );
        }
    }

    #[test]
    fn required_claims_share_slots_with_rule_claims() {
        let text = GOOD.replace(
            r#""audiences": ["app", "api://app"],"#,
            r#""audiences": ["app", "api://app"],
               "required_claims": [{"claim": "tid", "values": ["t1"]}, {"claim": "idtyp", "values": ["app"]}],"#,
        );
        let text = text.replace(
            r#""roles": ["invokeRole"]}"#,
            r#""roles": ["invokeRole"], "claims": [{"claim": "tid", "values": ["t2"]}]}"#,
        );
        let c = Config::parse(text.as_bytes()).expect("valid");
        let required = &c.providers[0].required_claims;
        assert_eq!((required[0].slot, required[1].slot), (0, 1));
        assert_eq!(c.rules[1].claims[0].slot, 0, "tid is read once");
        let e = errors(&GOOD.replace(
            r#""audiences": ["app", "api://app"],"#,
            r#""audiences": ["app", "api://app"], "required_claims": {"claim": "tid"},"#,
        ));
        assert!(
            e[0].starts_with("providers[0].required_claims: expected an array"),
            "{e:?}"
        );
    }

    #[test]
    fn multi_tenant_azure_ad() {
        let provider = |azure: &str| {
            format!(
                r#"{{"providers": [{{"name": "entra", "audiences": ["api://app"],
                    "azure_ad": {{"tenant": "organizations", "cluster": "entra"{azure}}}}}],
                    "rules": [{{"match": {{"prefix": "/"}}}}]}}"#
            )
        };
        let t1 = "11111111-2222-3333-4444-555555555555";
        let t2 = "AAAAAAAA-2222-3333-4444-555555555555";
        let c = Config::parse(provider(&format!(r#","tenants": ["{t1}", "{t2}"]"#)).as_bytes())
            .expect("valid");
        let p = &c.providers[0];
        assert!(p.issuers.is_empty());
        let tenants = p.tenant_issuers.as_ref().expect("multi-tenant");
        assert_eq!(
            p.document_issuers,
            ["https://login.microsoftonline.com/{tenantid}/v2.0"]
        );
        let v2 = format!("https://login.microsoftonline.com/{t1}/v2.0");
        let v1 = format!("https://sts.windows.net/{t1}/");
        assert_eq!(c.provider_for_issuer(&v2), Some(0));
        assert_eq!(c.provider_for_issuer(&v1), Some(0));
        assert!(tenants.admits(&v2, Some(t1)));
        assert!(tenants.admits(&v1, Some(t1)));
        let second = format!(
            "https://login.microsoftonline.com/{}/v2.0",
            t2.to_lowercase()
        );
        assert!(tenants.admits(&second, Some(&t2.to_lowercase())));
        let other = "99999999-2222-3333-4444-555555555555";
        let foreign = format!("https://login.microsoftonline.com/{other}/v2.0");
        assert_eq!(
            c.provider_for_issuer(&foreign),
            Some(0),
            "picked, then refused"
        );
        assert!(!tenants.admits(&foreign, Some(other)));
        assert!(!tenants.admits(&v2, Some(other)), "iss and tid disagree");
        assert!(!tenants.admits(&v2, None));
        for not_a_tenant in [
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/organizations/v2.0",
            "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0/x",
        ] {
            assert_eq!(c.provider_for_issuer(not_a_tenant), None, "{not_a_tenant}");
        }
        let KeySource::Discovery { document, .. } = &p.keys else {
            panic!("discovery")
        };
        assert_eq!(
            document.uri,
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
        );

        let any =
            Config::parse(provider(r#","allow_any_tenant": true"#).as_bytes()).expect("valid");
        let any = any.providers[0]
            .tenant_issuers
            .as_ref()
            .expect("multi-tenant");
        assert!(any.admits(&foreign, Some(other)));

        for (azure, want) in [
            ("", "providers[0].azure_ad.tenants: is required"),
            (
                r#","tenants": []"#,
                "providers[0].azure_ad.tenants: must list at least one",
            ),
            (
                r#","tenants": ["contoso.com"]"#,
                "providers[0].azure_ad.tenants: expected tenant ids",
            ),
            (
                &format!(r#","tenants": ["{t1}"], "allow_any_tenant": true"#),
                "providers[0].azure_ad.allow_any_tenant: give tenants or allow_any_tenant",
            ),
        ] {
            let e = errors(&provider(azure));
            assert!(e[0].starts_with(want), "{azure}: {e:?}");
        }
        let single = provider(&format!(r#","tenants": ["{t1}"]"#)).replace("organizations", t1);
        let e = errors(&single);
        assert!(
            e[0].starts_with("providers[0].azure_ad.tenants: only applies with"),
            "{e:?}"
        );
        let two = format!(
            r#"{{"providers": [
                {{"name": "a", "audiences": ["x"], "azure_ad": {{"tenant": "organizations", "cluster": "c", "allow_any_tenant": true}}}},
                {{"name": "b", "audiences": ["y"], "azure_ad": {{"tenant": "organizations", "cluster": "c", "tenants": ["{t1}"]}}}}],
                "rules": [{{"match": {{"prefix": "/"}}}}]}}"#
        );
        let e = errors(&two);
        assert!(
            e[0].starts_with("providers[1].azure_ad.tenant: two multi-tenant providers"),
            "{e:?}"
        );
    }

    /// An issuer one provider lists exactly picks that provider, even where a multi-tenant
    /// provider's templates fit it too and come first: that tenant's own provider (its
    /// audiences, its required claims) must decide.
    #[test]
    fn an_exact_issuer_wins_over_a_multi_tenant_provider_that_fits_it() {
        let t1 = "11111111-2222-3333-4444-555555555555";
        let t2 = "22222222-2222-3333-4444-555555555555";
        let multi = r#"{"name": "multi", "audiences": ["api://multi"],
            "azure_ad": {"tenant": "organizations", "cluster": "entra", "allow_any_tenant": true}}"#;
        let single = format!(
            r#"{{"name": "single", "audiences": ["api://single"],
                "azure_ad": {{"tenant": "{t1}", "cluster": "entra"}}}}"#
        );
        let v2 = format!("https://login.microsoftonline.com/{t1}/v2.0");
        let v1 = format!("https://sts.windows.net/{t1}/");
        let other = format!("https://login.microsoftonline.com/{t2}/v2.0");
        for (providers, multi_at, single_at) in [
            (format!("[{multi}, {single}]"), 0, 1),
            (format!("[{single}, {multi}]"), 1, 0),
        ] {
            let text = format!(
                r#"{{"providers": {providers}, "rules": [{{"match": {{"prefix": "/"}}}}]}}"#
            );
            let c = Config::parse(text.as_bytes()).expect("valid");
            assert_eq!(c.providers[single_at].name, "single");
            let tenants = c.providers[multi_at]
                .tenant_issuers
                .as_ref()
                .expect("multi-tenant");
            assert!(tenants.tenant_of(&v2).is_some(), "the template fits {v2}");
            assert_eq!(c.provider_for_issuer(&v2), Some(single_at), "{providers}");
            assert_eq!(c.provider_for_issuer(&v1), Some(single_at), "{providers}");
            assert_eq!(c.provider_for_issuer(&other), Some(multi_at), "{providers}");
        }
    }

    /// Headers that frame the request or route it: a claim written there would change what
    /// Envoy or the upstream does with the request, not just tell it who called.
    #[test]
    fn claims_cannot_be_written_to_framing_or_pseudo_headers() {
        let with_header = |header: &str| GOOD.replace("x-client-id", header);
        assert!(errors(&with_header("x-tenant")).is_empty());
        for header in [
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "te",
            "upgrade",
            "keep-alive",
            "proxy-connection",
        ] {
            for written in [header.to_string(), header.to_ascii_uppercase()] {
                assert_eq!(
                    errors(&with_header(&written)),
                    vec![format!(
                        "claim_to_headers[0].header: {header} cannot carry a claim"
                    )],
                    "{written}"
                );
            }
        }
        for header in [
            ":authority",
            ":path",
            ":method",
            ":scheme",
            ":status",
            "x client",
        ] {
            assert_eq!(
                errors(&with_header(header)),
                vec![format!(
                    "claim_to_headers[0].header: {header} is not a header name"
                )],
            );
        }
        assert_eq!(
            errors(&with_header("")),
            vec!["claim_to_headers[0].header: must not be empty"]
        );
    }

    /// A claim header that is also a token header would replace the token the request came
    /// with, or hand the upstream a claim where it looks for a credential.
    #[test]
    fn a_claim_header_cannot_be_a_token_header_or_set_twice() {
        let with_header = |header: &str| GOOD.replace("x-client-id", header);
        for header in ["authorization", "Authorization"] {
            assert_eq!(
                errors(&with_header(header)),
                vec!["claim_to_headers[0].header: header authorization also carries the token"],
                "the default token header, {header}"
            );
        }
        let own_token_headers = GOOD.replace(
            r#""rules""#,
            r#""from_headers": [{"name": "authorization", "value_prefix": "Bearer "},
                                {"name": "X-Token"}], "rules""#,
        );
        assert!(errors(&own_token_headers).is_empty());
        assert_eq!(
            errors(&own_token_headers.replace("x-client-id", "x-TOKEN")),
            vec!["claim_to_headers[0].header: header x-token also carries the token"]
        );
        let twice = GOOD.replace(
            r#"[{"claim": "azp", "header": "x-client-id"}]"#,
            r#"[{"claim": "azp", "header": "x-client-id"}, {"claim": "oid", "header": "X-Client-Id"}]"#,
        );
        assert_eq!(
            errors(&twice),
            vec!["claim_to_headers[1].header: header x-client-id is set twice"]
        );
    }

    #[test]
    fn the_documented_example_parses_with_defaults() {
        let c = Config::parse(GOOD.as_bytes()).expect("valid");
        assert_eq!(c.clock_skew_seconds, 60);
        assert_eq!(c.max_token_bytes, 8192);
        assert!(!c.forward);
        assert_eq!(c.roles_claim, "roles");
        assert_eq!(
            c.from_headers.first().map(|f| f.name.as_str()),
            Some("authorization")
        );
        let KeySource::Remote { jwks, fetch } = &c.providers[0].keys else {
            panic!("remote expected")
        };
        assert_eq!(jwks.authority, "login.microsoftonline.com");
        assert_eq!(jwks.path, "/t/discovery/v2.0/keys");
        assert_eq!(jwks.cluster, "idp");
        assert_eq!(fetch.min_refetch_interval_seconds, 30);
        assert_eq!(fetch.max_jwks_bytes, 256 * 1024);
        assert_eq!(c.provider_for_issuer("https://sts.windows.net/t/"), Some(0));
        assert_eq!(c.provider_for_issuer("https://sts.windows.net/x/"), None);
    }

    #[test]
    fn typos_and_wrong_types_name_their_field() {
        let e = errors(&GOOD.replacen("\"rules\"", "\"rulez\"", 1));
        assert!(
            e.iter().any(|m| m.starts_with("rulez: unknown field")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.starts_with("rules: is required")),
            "{e:?}"
        );
        let e = errors(&GOOD.replace("\"timeout_ms\": 5000", "\"timeout_ms\": \"5s\""));
        assert_eq!(e, vec!["providers[0].remote_jwks.timeout_ms: expected an integer from 1 to 60000, got a string"]);
        let e = errors(&GOOD.replace(
            "\"cache_duration_seconds\": 600",
            "\"cache_duration_seconds\": 1.5",
        ));
        assert!(
            e[0].starts_with("providers[0].remote_jwks.cache_duration_seconds"),
            "{e:?}"
        );
        let e = errors(&GOOD.replace(
            "\"path_separated_prefix\": \"/calc\"}",
            "\"path_separated_prefix\": \"/calc\", \"method\": [\"GET\"]}",
        ));
        assert!(
            e[0].starts_with("rules[1].match.method: unknown field"),
            "{e:?}"
        );
    }

    #[test]
    fn missing_key_source_and_empty_lists_are_refused() {
        let no_source = r#"{"providers":[{"name":"p","issuer":"i","audiences":["a"]}],"rules":[{"match":{"prefix":"/"}}]}"#;
        let e = errors(no_source);
        assert!(
            e.iter()
                .any(|m| m.starts_with("providers[0].remote_jwks: a key source is required")),
            "{e:?}"
        );
        let e = errors(&GOOD.replace(
            r#""issuers": ["https://login.microsoftonline.com/t/v2.0", "https://sts.windows.net/t/"]"#,
            r#""issuers": []"#,
        ));
        assert_eq!(
            e,
            vec!["providers[0].issuers: must list at least one issuer"]
        );
        let e = errors(&GOOD.replace(r#""audiences": ["app", "api://app"],"#, ""));
        assert!(
            e[0].starts_with("providers[0].audiences: is required"),
            "{e:?}"
        );
        let e = errors(&GOOD.replace(r#""roles": ["invokeRole"]"#, r#""roles": []"#));
        assert!(e[0].starts_with("rules[1].roles: must list"), "{e:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = r#"{"providers":[{"name":"p p","issuer":1,"audiences":"a","remote_jwks":{"cluster":"c","uri":"ftp://x"}}],
                      "rules":[{"match":{"prefix":"calc"},"allow_anonymous":true,"roles":["r"]}],
                      "clock_skew_seconds":-1,"forward":"yes"}"#;
        let e = errors(bad);
        for field in [
            "providers[0].name",
            "providers[0].issuer",
            "providers[0].audiences",
            "providers[0].remote_jwks.uri",
            "rules[0].match.prefix",
            "rules[0].allow_anonymous",
            "clock_skew_seconds",
            "forward",
        ] {
            assert!(
                e.iter().any(|m| m.starts_with(field)),
                "{field} missing in {e:?}"
            );
        }
    }

    #[test]
    fn discovery_and_the_azure_preset() {
        let discovery = r#"{"providers":[{"name":"p","issuer":"https://idp/","audiences":["a"],
            "discovery":{"cluster":"c","uri":"http://idp/.well-known/openid-configuration","timeout_ms":700}}],
            "rules":[{"match":{"prefix":"/"}}]}"#;
        let c = Config::parse(discovery.as_bytes()).expect("valid");
        let KeySource::Discovery {
            document,
            jwks_cluster,
            fetch,
        } = &c.providers[0].keys
        else {
            panic!("discovery expected")
        };
        assert_eq!(
            (
                document.path.as_str(),
                jwks_cluster.as_str(),
                fetch.timeout_ms
            ),
            ("/.well-known/openid-configuration", "c", 700)
        );

        let azure = r#"{"providers":[{"name":"aad","audiences":["a"],
            "azure_ad":{"tenant":"11111111-2222-3333-4444-555555555555","cluster":"entra"}}],"rules":[{"match":{"prefix":"/"}}]}"#;
        let c = Config::parse(azure.as_bytes()).expect("valid");
        assert_eq!(
            c.providers[0].issuers,
            vec![
                "https://sts.windows.net/11111111-2222-3333-4444-555555555555/",
                "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
            ]
        );
        let KeySource::Discovery { document, .. } = &c.providers[0].keys else {
            panic!("discovery expected")
        };
        assert_eq!(
            document.uri,
            "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration"
        );

        let china = azure.replace(
            r#""cluster":"entra""#,
            r#""cluster":"entra","cloud":"china","versions":["v2"]"#,
        );
        let c = Config::parse(china.as_bytes()).expect("valid");
        assert_eq!(
            c.providers[0].issuers,
            vec![
                "https://login.partner.microsoftonline.cn/11111111-2222-3333-4444-555555555555/v2.0",
                "https://login.chinacloudapi.cn/11111111-2222-3333-4444-555555555555/v2.0"
            ]
        );
        for (versions, want) in [
            (
                "[]",
                "providers[0].azure_ad.versions: must list v1, v2 or both",
            ),
            (
                r#"["v2","v3"]"#,
                r#"providers[0].azure_ad.versions: expected "v1" and/or "v2", got ["v3"]"#,
            ),
        ] {
            let bad = azure.replace(
                r#""cluster":"entra""#,
                &format!(r#""cluster":"entra","versions":{versions}"#),
            );
            assert_eq!(errors(&bad), vec![want]);
        }
        let e = errors(&azure.replace("11111111-2222-3333-4444-555555555555", "contoso.com"));
        assert!(
            e[0].starts_with("providers[0].azure_ad.tenant: expected the tenant id"),
            "{e:?}"
        );
        let e = errors(&azure.replace("11111111-2222-3333-4444-555555555555", "common"));
        assert!(
            e[0].starts_with("providers[0].azure_ad.tenant: common is not supported"),
            "{e:?}"
        );
        let e = errors(&azure.replace(
            r#""cluster":"entra""#,
            r#""cluster":"entra","cloud":"mars""#,
        ));
        assert!(e[0].starts_with("providers[0].azure_ad.cloud"), "{e:?}");
        let e = errors(&azure.replace(r#""audiences""#, r#""issuer":"x","audiences""#));
        assert!(
            e[0].starts_with("providers[0].issuer: azure_ad derives"),
            "{e:?}"
        );
        let both = discovery.replace(r#""discovery""#, r#""local_jwks":{"keys":[]},"discovery""#);
        let e = errors(&both);
        assert!(e.iter().any(|m| m.contains("give one key source")), "{e:?}");
    }

    #[test]
    fn uri_splitting() {
        assert_eq!(
            split_uri("http://127.0.0.1:9000/keys?x=1"),
            Some(("127.0.0.1:9000".into(), "/keys?x=1".into()))
        );
        assert_eq!(split_uri("https://host"), Some(("host".into(), "/".into())));
        assert_eq!(split_uri("host/keys"), None);
        assert_eq!(split_uri("https:///keys"), None);
    }

    #[test]
    fn dry_run_for_the_plugin_and_for_one_rule() {
        let c = Config::parse(
            with_rules(
                r#"[{"name": "calc", "match": {"prefix": "/calc/"}, "roles": ["r"], "dry_run": true},
                    {"match": {"prefix": "/"}}]"#,
            )
            .as_bytes(),
        )
        .expect("valid");
        assert!(!c.dry_run);
        assert_eq!((c.rules[0].dry_run, c.rules[1].dry_run), (true, false));
        let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            vec![
                "rules[0].dry_run: is on: requests under calc are not denied; would-be denials \
                  are only logged and counted"
            ]
        );
        let top = Config::parse(
            with_rules(r#"[{"match": {"prefix": "/"}, "dry_run": false}]"#)
                .replace(r#""rules""#, r#""dry_run": true, "rules""#)
                .as_bytes(),
        )
        .expect("valid");
        assert!(top.dry_run && !top.rules[0].dry_run);
        assert!(top.warnings()[0].to_string().starts_with("dry_run: is on"));
        assert_eq!(
            errors(
                &with_rules(r#"[{"match": {"prefix": "/"}, "dry_run": "yes"}]"#)
                    .replace(r#""rules""#, r#""dry_run": 1, "rules""#)
            ),
            vec![
                "rules[0].dry_run: expected true or false, got a string",
                "dry_run: expected true or false, got a number",
            ]
        );
        assert!(errors(&with_rules(
            r#"[{"match": {"prefix": "/"}, "dryrun": true}]"#
        ))
        .iter()
        .any(|e| e.starts_with("rules[0].dryrun: unknown field") && e.contains("dry_run")));
    }

    #[test]
    fn decision_record_is_on_unless_switched_off() {
        let on = Config::parse(with_rules(r#"[{"match": {"prefix": "/"}}]"#).as_bytes());
        assert!(on.expect("valid").decision_record);
        let off = with_rules(r#"[{"match": {"prefix": "/"}}]"#)
            .replace(r#""rules""#, r#""decision_record": false, "rules""#);
        assert!(
            !Config::parse(off.as_bytes())
                .expect("valid")
                .decision_record
        );
        assert_eq!(
            errors(&off.replace("false", "\"no\"")),
            vec!["decision_record: expected true or false, got a string"]
        );
    }
}
