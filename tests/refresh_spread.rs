//! A fleet's load on its IdP, simulated with the core's own scheduling code
//! (`SharedFetchRecord::try_claim` / `succeeded`, which draw the next refresh from
//! `backoff::refresh_delay_ms`): 10,000 proxies started within a minute refresh every 600 s for
//! six hours. Each proxy is one Envoy, with its own shared record; the fetch itself is taken to
//! be instant. Over the last hour the busiest second must see at most three times the mean.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rolegate::keys::shared_fetch_record::SharedFetchRecord;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const PROXIES: u64 = 10_000;
const START_WINDOW_MS: u64 = 60_000;
const REFRESH_MS: u64 = 600_000;
const HOURS: u64 = 6;
const HOUR_MS: u64 = 3_600_000;
const LEASE_MS: u64 = 6_000;

/// Fetches per second of the simulation's last hour. `jitter` draws each refresh's spread.
fn last_hour_per_second(seed: u64, mut jitter: impl FnMut(&mut StdRng) -> f64) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let end = HOURS * HOUR_MS;
    let mut records: Vec<SharedFetchRecord> =
        (0..PROXIES).map(|_| SharedFetchRecord::default()).collect();
    let mut due: BinaryHeap<Reverse<(u64, usize)>> = (0..records.len())
        .map(|i| Reverse((rng.random_range(0..START_WINDOW_MS), i)))
        .collect();
    let mut per_second = vec![0u32; (HOUR_MS / 1000) as usize];
    while let Some(Reverse((now, i))) = due.pop() {
        if now >= end {
            break;
        }
        let record = &mut records[i];
        assert!(
            record.try_claim(1, now, LEASE_MS),
            "proxy {i} could not take its lease"
        );
        record.succeeded(1, now, REFRESH_MS, false, jitter(&mut rng));
        if now >= end - HOUR_MS {
            per_second[((now - (end - HOUR_MS)) / 1000) as usize] += 1;
        }
        due.push(Reverse((record.next_fetch_ms, i)));
    }
    per_second
}

fn peak_and_mean(per_second: &[u32]) -> (u32, f64) {
    let peak = per_second.iter().copied().max().unwrap_or(0);
    let total: u64 = per_second.iter().map(|n| u64::from(*n)).sum();
    (peak, total as f64 / per_second.len() as f64)
}

#[test]
fn ten_thousand_proxies_started_together_spread_their_refreshes() {
    let (peak, mean) = peak_and_mean(&last_hour_per_second(7, |rng| rng.random::<f64>()));
    println!(
        "with jitter: last hour mean {mean:.1} fetches/s, peak {peak}/s ({:.2}x the mean)",
        f64::from(peak) / mean
    );
    // 10,000 proxies x 6 refreshes an hour (a little more: the spread is symmetric, the
    // mean delay exactly 600 s) = about 16.7 fetches/s.
    assert!((15.0..18.5).contains(&mean), "mean {mean}");
    assert!(
        f64::from(peak) <= 3.0 * mean,
        "peak {peak}/s against mean {mean:.1}/s"
    );
}

#[test]
fn without_jitter_the_start_window_never_spreads() {
    // jitter 0.5 is the exact cache duration: the proxies keep the minute they started in.
    let (peak, mean) = peak_and_mean(&last_hour_per_second(7, |_| 0.5));
    println!(
        "without jitter: last hour mean {mean:.1} fetches/s, peak {peak}/s ({:.2}x the mean)",
        f64::from(peak) / mean
    );
    assert!(
        f64::from(peak) > 3.0 * mean,
        "the simulation must be able to tell: peak {peak}/s, mean {mean:.1}/s"
    );
}
