//! Envoy stats defined through proxy-wasm; every worker defines the same names and Envoy
//! keeps one stat per name.
//!
//! Per-request counters are counted in the VM and handed to Envoy on each tick (100 ms), and
//! when the worker goes away: a host call per request cost about 1% of the hot path's
//! throughput (interleaved A/B of two modules on the bench's hot path).

use crate::decision::DenyReason;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::cell::Cell;

pub struct Metrics {
    allowed: BatchedCounter,
    /// One counter per metric name; several reasons may share a name.
    denied: Vec<(&'static str, BatchedCounter)>,
    /// `dry_run.denied.<reason>`, as `denied`; defined only when some dry run is configured.
    dry_run_denied: Vec<(&'static str, BatchedCounter)>,
    providers: Vec<ProviderMetrics>,
    /// By rule index: `rule.<name>.allowed` and `.denied` for named rules, as RBAC's
    /// `track_per_rule_stats` does; `None` for rules without a name.
    rules: Vec<Option<(BatchedCounter, BatchedCounter)>>,
}

/// A counter whose increments wait in the VM until `flush`.
struct BatchedCounter {
    id: Option<u32>,
    pending: Cell<i64>,
}

impl BatchedCounter {
    fn new(name: &str) -> Self {
        BatchedCounter {
            id: define(MetricType::Counter, name),
            pending: Cell::new(0),
        }
    }

    fn bump(&self) {
        self.pending.set(self.pending.get().saturating_add(1));
    }

    fn flush(&self) {
        let pending = self.pending.replace(0);
        if let (Some(id), true) = (self.id, pending > 0) {
            let _ = hostcalls::increment_metric(id, pending);
        }
    }
}

struct ProviderMetrics {
    fetch_success: Option<u32>,
    fetch_failure: Option<u32>,
    key_set_age_seconds: Option<u32>,
    unknown_kid_refetch: Option<u32>,
    keys_stale: Option<u32>,
}

/// `<prefix>.<reason>`, one counter per distinct reason name.
fn reason_counters(prefix: &str) -> Vec<(&'static str, BatchedCounter)> {
    let mut names: Vec<&'static str> = Vec::new();
    for reason in DenyReason::ALL {
        if !names.contains(&reason.name()) {
            names.push(reason.name());
        }
    }
    names
        .into_iter()
        .map(|name| (name, BatchedCounter::new(&format!("{prefix}.{name}"))))
        .collect()
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
    pub fn define(provider_names: &[&str], rule_names: &[Option<&str>], dry_run: bool) -> Self {
        Metrics {
            rules: rule_names
                .iter()
                .map(|name| {
                    name.map(|n| {
                        (
                            BatchedCounter::new(&format!("rolegate.rule.{n}.allowed")),
                            BatchedCounter::new(&format!("rolegate.rule.{n}.denied")),
                        )
                    })
                })
                .collect(),
            allowed: BatchedCounter::new("rolegate.allowed"),
            denied: reason_counters("rolegate.denied"),
            dry_run_denied: if dry_run {
                reason_counters("rolegate.dry_run.denied")
            } else {
                Vec::new()
            },
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
                    keys_stale: define(MetricType::Gauge, &format!("rolegate.jwks.{p}.keys_stale")),
                })
                .collect(),
        }
    }

    pub fn allowed(&self, rule: usize) {
        self.allowed.bump();
        if let Some(Some((allowed, _))) = self.rules.get(rule) {
            allowed.bump();
        }
    }

    pub fn denied(&self, reason: DenyReason, rule: Option<usize>) {
        let name = reason.name();
        if let Some((_, counter)) = self.denied.iter().find(|(n, _)| *n == name) {
            counter.bump();
        }
        if let Some(Some((_, denied))) = rule.and_then(|r| self.rules.get(r)) {
            denied.bump();
        }
    }

    /// A denial recorded under `dry_run`: neither `denied` nor the rule's `denied` counts it.
    pub fn dry_run_denied(&self, reason: DenyReason) {
        let name = reason.name();
        if let Some((_, counter)) = self.dry_run_denied.iter().find(|(n, _)| *n == name) {
            counter.bump();
        }
    }

    /// Hands the per-request counts gathered since the last tick to Envoy.
    pub fn flush(&self) {
        self.allowed.flush();
        for (_, counter) in self.denied.iter().chain(&self.dry_run_denied) {
            counter.flush();
        }
        for (allowed, denied) in self.rules.iter().flatten() {
            allowed.flush();
            denied.flush();
        }
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

    /// 1 while the provider's keys are past `max_stale_seconds` and refuse to verify.
    pub fn keys_stale(&self, provider: usize, stale: bool) {
        if let Some(id) = self.providers.get(provider).and_then(|p| p.keys_stale) {
            let _ = hostcalls::record_metric(id, u64::from(stale));
        }
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
