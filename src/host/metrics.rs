//! Envoy stats defined through proxy-wasm; every worker defines the same names and Envoy
//! keeps one stat per name.

use crate::decision::DenyReason;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

pub struct Metrics {
    allowed: Option<u32>,
    denied: Vec<(DenyReason, Option<u32>)>,
    providers: Vec<ProviderMetrics>,
}

struct ProviderMetrics {
    fetch_success: Option<u32>,
    fetch_failure: Option<u32>,
    key_set_age_seconds: Option<u32>,
    unknown_kid_refetch: Option<u32>,
}

fn define(kind: MetricType, name: &str) -> Option<u32> {
    hostcalls::define_metric(kind, name).ok()
}

fn increment(id: Option<u32>) {
    if let Some(id) = id {
        let _ = hostcalls::increment_metric(id, 1);
    }
}

impl Metrics {
    pub fn define(provider_names: &[&str]) -> Self {
        Metrics {
            allowed: define(MetricType::Counter, "rolegate.allowed"),
            denied: DenyReason::ALL
                .iter()
                .map(|r| {
                    let name = format!("rolegate.denied.{}", r.name());
                    (*r, define(MetricType::Counter, &name))
                })
                .collect(),
            providers: provider_names
                .iter()
                .map(|p| ProviderMetrics {
                    fetch_success: define(
                        MetricType::Counter,
                        &format!("rolegate.jwks.{p}.fetch_success"),
                    ),
                    fetch_failure: define(
                        MetricType::Counter,
                        &format!("rolegate.jwks.{p}.fetch_failure"),
                    ),
                    key_set_age_seconds: define(
                        MetricType::Gauge,
                        &format!("rolegate.jwks.{p}.key_set_age_seconds"),
                    ),
                    unknown_kid_refetch: define(
                        MetricType::Counter,
                        &format!("rolegate.jwks.{p}.unknown_kid_refetch"),
                    ),
                })
                .collect(),
        }
    }

    pub fn allowed(&self) {
        increment(self.allowed);
    }

    pub fn denied(&self, reason: DenyReason) {
        let id = self
            .denied
            .iter()
            .find(|(r, _)| *r == reason)
            .and_then(|(_, id)| *id);
        increment(id);
    }

    pub fn fetch(&self, provider: usize, succeeded: bool) {
        if let Some(p) = self.providers.get(provider) {
            increment(if succeeded {
                p.fetch_success
            } else {
                p.fetch_failure
            });
        }
    }

    pub fn unknown_kid_refetch(&self, provider: usize) {
        increment(
            self.providers
                .get(provider)
                .and_then(|p| p.unknown_kid_refetch),
        );
    }

    pub fn key_set_age(&self, provider: usize, seconds: u64) {
        if let Some(id) = self
            .providers
            .get(provider)
            .and_then(|p| p.key_set_age_seconds)
        {
            let _ = hostcalls::record_metric(id, seconds);
        }
    }
}
