//! When to fetch a provider's key set: at once on start, then every `cache_duration_seconds`;
//! after a failure, again after 1 s doubling to 60 s with jitter, so a down IdP is not hammered
//! and a recovered one is noticed within a minute.

pub const FIRST_RETRY_MS: u64 = 1_000;
pub const MAX_RETRY_MS: u64 = 60_000;

#[derive(Debug, Clone)]
pub struct FetchSchedule {
    refresh_interval_ms: u64,
    next_due_ms: u64,
    in_flight_since_ms: Option<u64>,
    consecutive_failures: u32,
}

/// How a fetch ended, from the schedule's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchResult {
    Succeeded,
    Failed,
}

impl FetchSchedule {
    /// Due immediately.
    pub fn new(now_ms: u64, refresh_interval_ms: u64) -> Self {
        FetchSchedule {
            refresh_interval_ms,
            next_due_ms: now_ms,
            in_flight_since_ms: None,
            consecutive_failures: 0,
        }
    }

    pub fn in_flight(&self) -> bool {
        self.in_flight_since_ms.is_some()
    }

    pub fn is_due(&self, now_ms: u64) -> bool {
        !self.in_flight() && now_ms >= self.next_due_ms
    }

    pub fn started(&mut self, now_ms: u64) {
        self.in_flight_since_ms = Some(now_ms);
    }

    /// A fetch whose answer never came (the host lost it) counts as failed after this long.
    pub fn is_stuck(&self, now_ms: u64, timeout_ms: u64) -> bool {
        self.in_flight_since_ms.is_some_and(|since| {
            now_ms
                > since
                    .saturating_add(timeout_ms)
                    .saturating_add(FIRST_RETRY_MS)
        })
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// `jitter` in [0, 1) spreads retries by ±25% so workers and proxies do not retry in step.
    pub fn finished(&mut self, now_ms: u64, result: FetchResult, jitter: f64) {
        self.in_flight_since_ms = None;
        match result {
            FetchResult::Succeeded => {
                self.consecutive_failures = 0;
                self.next_due_ms = now_ms.saturating_add(self.refresh_interval_ms);
            }
            FetchResult::Failed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.next_due_ms = now_ms.saturating_add(self.retry_delay_ms(jitter));
            }
        }
    }

    fn retry_delay_ms(&self, jitter: f64) -> u64 {
        let doublings = self.consecutive_failures.saturating_sub(1).min(16);
        let base = FIRST_RETRY_MS
            .saturating_mul(1 << doublings)
            .min(MAX_RETRY_MS);
        let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
        ((base as f64 * factor) as u64).min(MAX_RETRY_MS)
    }

    /// Moves the next fetch to now (e.g. for an unknown `kid`), unless one is running.
    pub fn bring_forward(&mut self, now_ms: u64) {
        self.next_due_ms = self.next_due_ms.min(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_at_start_then_after_the_refresh_interval() {
        let mut s = FetchSchedule::new(1_000, 600_000);
        assert!(s.is_due(1_000));
        s.started(1_000);
        assert!(!s.is_due(2_000));
        s.finished(1_200, FetchResult::Succeeded, 0.5);
        assert!(!s.is_due(600_000));
        assert!(s.is_due(601_200));
    }

    #[test]
    fn failures_back_off_from_one_second_to_a_minute() {
        let mut s = FetchSchedule::new(0, 600_000);
        let mut now = 0;
        let mut delays = Vec::new();
        for _ in 0..9 {
            s.started(now);
            s.finished(now, FetchResult::Failed, 0.5);
            let mut t = now;
            while !s.is_due(t) {
                t += 1;
            }
            delays.push(t - now);
            now = t;
        }
        assert_eq!(
            delays,
            vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
        s.started(now);
        s.finished(now, FetchResult::Succeeded, 0.5);
        assert_eq!(s.consecutive_failures(), 0);
    }

    #[test]
    fn jitter_spreads_but_never_exceeds_the_cap() {
        let mut low = FetchSchedule::new(0, 1);
        low.finished(0, FetchResult::Failed, 0.0);
        assert!(low.is_due(750) && !low.is_due(749));
        let mut high = FetchSchedule::new(0, 1);
        for _ in 0..10 {
            high.finished(0, FetchResult::Failed, 0.999);
        }
        assert!(high.is_due(60_000));
    }

    #[test]
    fn stuck_fetches_are_detected_and_refetches_brought_forward() {
        let mut s = FetchSchedule::new(0, 600_000);
        s.started(0);
        assert!(!s.is_stuck(5_999, 5_000));
        assert!(s.is_stuck(6_001, 5_000));
        s.finished(6_001, FetchResult::Succeeded, 0.0);
        s.bring_forward(7_000);
        assert!(s.is_due(7_000));
    }
}
