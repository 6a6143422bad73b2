//! When the next key-set fetch comes. After a success: `cache_duration_seconds` ±10%, drawn
//! afresh each time, so proxies started together drift apart and a fleet does not refresh in
//! step. After a failure: 1 s doubling to 60 s, ±25%, so a down IdP is not hammered and a
//! recovered one is noticed within a minute.

pub const FIRST_RETRY_MS: u64 = 1_000;
pub const MAX_RETRY_MS: u64 = 60_000;

/// Delay before the next attempt after `consecutive_failures` (≥ 1) failures. `jitter` in
/// [0, 1) spreads it by ±25% so proxies do not retry in step; the cap holds regardless.
pub fn retry_delay_ms(consecutive_failures: u32, jitter: f64) -> u64 {
    let doublings = consecutive_failures.saturating_sub(1).min(16);
    let base = FIRST_RETRY_MS
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_MS);
    let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
    ((base as f64 * factor) as u64).min(MAX_RETRY_MS)
}

/// How far a refresh may move from `cache_duration_seconds`, either way, in percent. An
/// integer so that messages print it without float formatting (about 17 KB of module).
pub const REFRESH_SPREAD_PERCENT: u64 = 10;
const REFRESH_SPREAD: f64 = REFRESH_SPREAD_PERCENT as f64 / 100.0;

/// Delay before the next periodic refresh. `jitter` in [0, 1) places it in
/// `cache_duration_ms` ± 10%; never below one second.
pub fn refresh_delay_ms(cache_duration_ms: u64, jitter: f64) -> u64 {
    let factor = 1.0 - REFRESH_SPREAD + 2.0 * REFRESH_SPREAD * jitter.clamp(0.0, 1.0);
    ((cache_duration_ms as f64 * factor) as u64).max(FIRST_RETRY_MS.min(cache_duration_ms))
}

/// How late a due fetch may start: on the next tick of any worker (the host ticks every
/// 100 ms), later on a loaded Envoy.
pub const START_SLACK_MS: u64 = 1_000;

/// How long after a successful fetch the next one has succeeded at the latest, when the IdP
/// answers at least one of two tries: the latest refresh the draw can place, a first try that
/// fails only when its lease (`lease_ms`: every call's timeout and a margin) runs out, the
/// longest first retry delay, and the retry. Each try may start `START_SLACK_MS` late. A
/// `max_stale_seconds` shorter than this would refuse a healthy IdP's tokens before the
/// refresh lands.
pub fn next_success_within_ms(cache_duration_ms: u64, lease_ms: u64) -> u64 {
    // Both delays grow with the jitter, so its top (clamped to 1) is the latest either draws.
    let one_try = START_SLACK_MS.saturating_add(lease_ms);
    refresh_delay_ms(cache_duration_ms, 1.0)
        .saturating_add(one_try)
        .saturating_add(retry_delay_ms(1, 1.0))
        .saturating_add(one_try)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_one_second_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay_ms(n, 0.5)).collect();
        assert_eq!(
            delays,
            vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
        assert_eq!(retry_delay_ms(u32::MAX, 0.5), 60_000);
    }

    #[test]
    fn refreshes_spread_ten_percent_either_way() {
        assert_eq!(refresh_delay_ms(600_000, 0.0), 540_000);
        assert_eq!(refresh_delay_ms(600_000, 0.5), 600_000);
        assert_eq!(refresh_delay_ms(600_000, 0.999_999), 659_999);
        assert_eq!(refresh_delay_ms(600_000, 7.0), 660_000, "clamped");
        assert_eq!(
            refresh_delay_ms(1_000, 0.0),
            1_000,
            "one second stays one second at least"
        );
    }

    #[test]
    fn the_latest_next_success_adds_the_top_of_every_draw() {
        // 660 s refresh, 1 s + 6 s failed try, 1.25 s retry delay, 1 s + 6 s retry.
        assert_eq!(next_success_within_ms(600_000, 6_000), 675_250);
        // The largest jitter the host draws, just below 1, lands no later.
        let top = 1.0 - f64::EPSILON / 2.0;
        let drawn =
            refresh_delay_ms(600_000, top) + 2 * (START_SLACK_MS + 6_000) + retry_delay_ms(1, top);
        assert!(drawn <= next_success_within_ms(600_000, 6_000), "{drawn}");
        assert_eq!(next_success_within_ms(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn jitter_spreads_but_never_exceeds_the_cap() {
        assert_eq!(retry_delay_ms(1, 0.0), 750);
        assert_eq!(retry_delay_ms(1, 0.999), 1_249);
        assert_eq!(retry_delay_ms(10, 0.999), 60_000);
        assert_eq!(retry_delay_ms(1, f64::NAN.max(2.0)), 1_250);
    }
}
