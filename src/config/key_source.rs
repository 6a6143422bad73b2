//! Where a provider's keys come from, and how remote ones are fetched and kept.

use crate::config::field_reader::{describe, ObjectReader, Problems};
use crate::keys::backoff::REFRESH_SPREAD_PERCENT;
use crate::keys::jwks::KeySet;
use crate::keys::worker_key_sets::shortest_max_stale_seconds;
use serde_json::Value;

pub const DEFAULT_CACHE_DURATION_SECONDS: u64 = 600;
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
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
pub(super) fn check_max_stale_seconds(field: &str, keys: &KeySource, problems: &mut Problems) {
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
pub(super) fn read_remote_jwks(
    path: &str,
    value: &Value,
    problems: &mut Problems,
) -> Option<KeySource> {
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
pub(super) fn read_discovery(
    path: &str,
    value: &Value,
    problems: &mut Problems,
) -> Option<KeySource> {
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

/// An inline key set (`local_jwks`): a JWKS object with at least one usable RS256 key.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub(super) fn read_local_jwks(
    path: &str,
    value: &Value,
    problems: &mut Problems,
) -> Option<KeySet> {
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
