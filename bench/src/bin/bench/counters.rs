//! The filters' own counters around each run: evidence that the hot path is served from the
//! caches, that the cold path is not, and that every request went through the filter.

use crate::envoy_config::Filter;
use crate::plan::Case;
use rolegate_testkit::Envoy;
use std::time::Duration;

const ROLEGATE_TICK_SLACK: Duration = Duration::from_millis(300);

/// The counters worth reading for a filter: (stat name, label).
fn watched(filter: Filter) -> &'static [(&'static str, &'static str)] {
    match filter {
        Filter::Passthrough | Filter::BareWasm | Filter::Floor => &[],
        Filter::JwtAuthn | Filter::JwtAuthnClaims => &[
            ("http.ingress.jwt_authn.allowed", "jwt_authn allowed"),
            ("http.ingress.jwt_authn.jwt_cache_hit", "cache hits"),
            ("http.ingress.jwt_authn.jwt_cache_miss", "cache misses"),
            ("http.ingress.rbac.allowed", "rbac allowed"),
        ],
        Filter::Rolegate
        | Filter::Baseline
        | Filter::RolegateUnscreened
        | Filter::RolegateClaims
        | Filter::RolegateUnrecorded => &[("wasmcustom.rolegate.allowed", "rolegate allowed")],
    }
}

/// The watched counters' values now (0 for a counter Envoy does not have).
pub fn read(envoy: &Envoy, filter: Filter) -> Result<Vec<u64>, String> {
    let names = watched(filter);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    if filter.is_rolegate() {
        // rolegate hands its per-request counts to Envoy on its 100 ms tick: wait for the
        // requests of the run that just ended to be counted.
        std::thread::sleep(ROLEGATE_TICK_SLACK);
    }
    let stats = envoy.stats("jwt_authn|rbac|rolegate")?;
    Ok(names
        .iter()
        .map(|(name, _)| {
            stats
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        })
        .collect())
}

/// What one case's runs added up to.
#[derive(Debug, Clone)]
pub struct CounterRow {
    pub case: Case,
    /// Responses wrk counted.
    pub requests: u64,
    /// Each watched counter's increase, with its label.
    pub counters: Vec<(&'static str, u64)>,
}

/// Sums of counter increases per case, over the measured runs.
#[derive(Default)]
pub struct Tally {
    rows: Vec<CounterRow>,
}

impl Tally {
    /// Adds one run: `before` and `after` are [`read`]'s values around it.
    pub fn add(&mut self, case: Case, requests: u64, before: &[u64], after: &[u64]) {
        let increases = watched(case.setup.filter)
            .iter()
            .zip(before.iter().zip(after))
            .map(|((_, label), (b, a))| (*label, a.saturating_sub(*b)));
        match self.rows.iter_mut().find(|row| row.case == case) {
            Some(row) => {
                row.requests += requests;
                for (sum, (_, n)) in row.counters.iter_mut().zip(increases) {
                    sum.1 += n;
                }
            }
            None => self.rows.push(CounterRow {
                case,
                requests,
                counters: increases.collect(),
            }),
        }
    }

    /// The cases whose set-up has counters.
    pub fn rows(&self) -> impl Iterator<Item = &CounterRow> {
        self.rows.iter().filter(|row| !row.counters.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::TokenPath;

    #[test]
    fn sums_increases_per_case() {
        let hot = Case::new(Filter::Rolegate, false, TokenPath::Hot);
        let passthrough = Case::new(Filter::Passthrough, false, TokenPath::Hot);
        let mut tally = Tally::default();
        tally.add(hot, 10, &[100], &[111]);
        tally.add(hot, 20, &[111], &[131]);
        tally.add(passthrough, 5, &[], &[]);
        let rows: Vec<_> = tally.rows().collect();
        assert_eq!(rows.len(), 1);
        let row = rows.first().unwrap();
        assert_eq!((row.case, row.requests), (hot, 30));
        assert_eq!(row.counters, vec![("rolegate allowed", 31)]);
    }
}
