//! The configuration a request decision runs on, checked and compiled.

use crate::config::config_reader::read_config;
use crate::config::field_reader::{ConfigError, Problems};
use crate::config::headers::ClaimToHeader;
use crate::config::provider::Provider;
use crate::decision::claim_condition::ClaimSlots;
use crate::decision::rules::Rule;
use crate::request::extract::TokenLocation;
use serde_json::Value;

/// What happens to a request path that is not in canonical form (see `path_screen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathScreening {
    /// 400 before any rule is looked at.
    Reject,
    /// Rules see the raw path: only safe behind an Envoy that normalizes it.
    Off,
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
