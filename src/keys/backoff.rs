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

/// How far a refresh may move from `cache_duration_seconds`, either way.
pub const REFRESH_SPREAD: f64 = 0.1;

/// Delay before the next periodic refresh. `jitter` in [0, 1) places it in
/// `cache_duration_ms` ± 10%; never below one second.
pub fn refresh_delay_ms(cache_duration_ms: u64, jitter: f64) -> u64 {
    let factor = 1.0 - REFRESH_SPREAD + 2.0 * REFRESH_SPREAD * jitter.clamp(0.0, 1.0);
    ((cache_duration_ms as f64 * factor) as u64).max(FIRST_RETRY_MS.min(cache_duration_ms))
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
    fn jitter_spreads_but_never_exceeds_the_cap() {
        assert_eq!(retry_delay_ms(1, 0.0), 750);
        assert_eq!(retry_delay_ms(1, 0.999), 1_249);
        assert_eq!(retry_delay_ms(10, 0.999), 60_000);
        assert_eq!(retry_delay_ms(1, f64::NAN.max(2.0)), 1_250);
    }
}
