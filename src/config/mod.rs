//! The plugin configuration: read strictly, validated whole, compiled once at configure time.

pub mod azure_ad;
pub mod claim_conditions;
mod config_reader;
pub mod field_reader;
mod headers;
mod key_source;
mod names;
mod plugin_config;
mod provider;
pub mod rules;
mod warnings;

// The `config::` paths the rest of the crate, the CLI, fuzz and tests/ name. Some have no
// user in a given build (the wasm module, or natively without `internals`).
#[allow(unused_imports)]
pub use {
    config_reader::{
        DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_ROLES_CLAIM,
        DEFAULT_TOKEN_CACHE_SIZE,
    },
    headers::ClaimToHeader,
    key_source::{
        split_uri, Endpoint, FetchSettings, KeySource, DEFAULT_CACHE_DURATION_SECONDS,
        DEFAULT_MAX_JWKS_BYTES, DEFAULT_MIN_REFETCH_INTERVAL_SECONDS, DEFAULT_TIMEOUT_MS,
    },
    plugin_config::{Config, PathScreening},
    provider::Provider,
    warnings::ConfigWarning,
};

pub(crate) use {key_source::read_fetch_settings, names::is_metric_safe};

#[cfg(test)]
mod config_reader_tests;
#[cfg(test)]
mod headers_tests;
#[cfg(test)]
mod key_source_tests;
#[cfg(test)]
mod provider_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod warnings_tests;
