//! The per-provider record every worker of one Envoy shares: which key set is current, when the
//! next fetch is due, who holds the fetch lease, and the unknown-`kid` refetch rate limit.
//!
//! It is small and text-encoded so workers can poll it cheaply; the key set body itself is
//! stored beside it and read only when `generation` moves.

use crate::keys::backoff::{refresh_delay_ms, retry_delay_ms};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedFetchRecord {
    /// Bumped each time a different good key set is stored; 0 = none yet.
    pub generation: u64,
    pub fetched_at_ms: u64,
    /// When the next periodic refresh or retry may start.
    pub next_fetch_ms: u64,
    pub consecutive_failures: u32,
    /// Fetches that ended (either way); waiters watch it move.
    pub completed: u64,
    /// Worker holding the fetch lease; 0 = free.
    pub lease_holder: u64,
    pub lease_expires_ms: u64,
    /// When the last unknown-`kid` refetch was granted; 0 = never.
    pub last_refetch_ms: u64,
    /// An unknown-`kid` refetch was granted and no fetch has started for it yet.
    pub refetch_requested: bool,
}

/// What a request with an unknown `kid` is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefetchDecision {
    /// A refetch was granted; wait for it.
    Started,
    /// A fetch is already under way or granted; wait for that one.
    Joined,
    /// Too soon after the previous unknown-`kid` refetch: answer now.
    RateLimited,
}

const FORMAT: &str = "v1";

impl SharedFetchRecord {
    pub fn encode(&self) -> String {
        format!(
            "{FORMAT} {} {} {} {} {} {} {} {} {}",
            self.generation,
            self.fetched_at_ms,
            self.next_fetch_ms,
            self.consecutive_failures,
            self.completed,
            self.lease_holder,
            self.lease_expires_ms,
            self.last_refetch_ms,
            u8::from(self.refetch_requested)
        )
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut fields = text.split(' ');
        if fields.next()? != FORMAT {
            return None;
        }
        // Digits only: no sign, no spaces, nothing after the last field.
        let mut next = || {
            let field = fields.next()?;
            if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            field.parse::<u64>().ok()
        };
        let record = SharedFetchRecord {
            generation: next()?,
            fetched_at_ms: next()?,
            next_fetch_ms: next()?,
            consecutive_failures: u32::try_from(next()?).ok()?,
            completed: next()?,
            lease_holder: next()?,
            lease_expires_ms: next()?,
            last_refetch_ms: next()?,
            refetch_requested: match next()? {
                0 => false,
                1 => true,
                _ => return None,
            },
        };
        fields.next().is_none().then_some(record)
    }

    pub fn has_keys(&self) -> bool {
        self.generation > 0
    }

    pub fn fetch_in_flight(&self, now_ms: u64) -> bool {
        self.lease_holder != 0 && now_ms < self.lease_expires_ms
    }

    fn fetch_wanted(&self, now_ms: u64) -> bool {
        self.refetch_requested || now_ms >= self.next_fetch_ms
    }

    /// Takes the fetch lease for `worker` if a fetch is due and nobody holds a live lease.
    pub fn try_claim(&mut self, worker: u64, now_ms: u64, lease_ms: u64) -> bool {
        if !self.fetch_wanted(now_ms) || self.fetch_in_flight(now_ms) {
            return false;
        }
        self.lease_holder = worker;
        self.lease_expires_ms = now_ms.saturating_add(lease_ms);
        self.refetch_requested = false;
        true
    }

    /// A good key set was fetched. `changed`: it differs from the stored one. The next refresh
    /// comes after `refresh_ms` spread by `jitter` (see `backoff::refresh_delay_ms`).
    pub fn succeeded(
        &mut self,
        worker: u64,
        now_ms: u64,
        refresh_ms: u64,
        changed: bool,
        jitter: f64,
    ) {
        if changed || self.generation == 0 {
            // Must move even from a corrupt u64::MAX, or workers would keep old keys; 0 means none.
            self.generation = self.generation.wrapping_add(1).max(1);
        }
        self.fetched_at_ms = now_ms;
        self.next_fetch_ms = now_ms.saturating_add(refresh_delay_ms(refresh_ms, jitter));
        self.consecutive_failures = 0;
        self.finish(worker);
    }

    pub fn failed(&mut self, worker: u64, now_ms: u64, jitter: f64) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.next_fetch_ms =
            now_ms.saturating_add(retry_delay_ms(self.consecutive_failures, jitter));
        self.finish(worker);
    }

    fn finish(&mut self, worker: u64) {
        self.completed = self.completed.saturating_add(1);
        if self.lease_holder == worker {
            self.lease_holder = 0;
            self.lease_expires_ms = 0;
        }
    }

    /// An unknown `kid` was seen. The interval counts from the previous unknown-`kid` refetch
    /// only, so a rotation just after start-up or a periodic refresh is still picked up.
    pub fn request_refetch(&mut self, now_ms: u64, min_interval_ms: u64) -> RefetchDecision {
        if self.fetch_in_flight(now_ms) || self.refetch_requested {
            return RefetchDecision::Joined;
        }
        let never = self.last_refetch_ms == 0;
        if never || now_ms >= self.last_refetch_ms.saturating_add(min_interval_ms) {
            self.last_refetch_ms = now_ms.max(1);
            self.refetch_requested = true;
            return RefetchDecision::Started;
        }
        RefetchDecision::RateLimited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let r = SharedFetchRecord {
            generation: 3,
            fetched_at_ms: 1_700_000_000_000,
            next_fetch_ms: 9,
            consecutive_failures: 2,
            completed: 7,
            lease_holder: 42,
            lease_expires_ms: 11,
            last_refetch_ms: 12,
            refetch_requested: true,
        };
        assert_eq!(SharedFetchRecord::decode(r.encode().as_bytes()), Some(r));
        assert_eq!(SharedFetchRecord::decode(b"v1 1 2"), None);
        assert_eq!(SharedFetchRecord::decode(b"v0 1 2 3 4 5 6 7 8 0"), None);
        assert_eq!(SharedFetchRecord::decode(&[0xff, 0xfe]), None);
    }

    #[test]
    fn one_lease_at_a_time_until_it_expires() {
        let mut r = SharedFetchRecord::default();
        assert!(r.try_claim(1, 0, 6_000));
        assert!(!r.try_claim(2, 100, 6_000), "held");
        assert!(
            r.try_claim(2, 6_000, 6_000),
            "expired leases are taken over"
        );
        r.succeeded(2, 6_500, 600_000, true, 0.5);
        assert_eq!((r.generation, r.lease_holder, r.completed), (1, 0, 1));
        assert!(!r.try_claim(1, 7_000, 6_000), "not due");
        assert!(r.try_claim(1, 606_500, 6_000), "refresh due");
        r.succeeded(1, 606_600, 600_000, false, 0.5);
        assert_eq!(r.generation, 1, "an unchanged set keeps its generation");
    }

    #[test]
    fn a_late_answer_from_a_lost_lease_does_not_release_the_new_holder() {
        let mut r = SharedFetchRecord::default();
        assert!(r.try_claim(1, 0, 1_000));
        assert!(r.try_claim(2, 1_000, 1_000));
        r.failed(1, 1_100, 0.5);
        assert_eq!(r.lease_holder, 2);
    }

    #[test]
    fn failures_back_off() {
        let mut r = SharedFetchRecord::default();
        assert!(r.try_claim(1, 0, 1_000));
        r.failed(1, 10, 0.5);
        assert!(!r.has_keys());
        assert!(!r.try_claim(1, 1_009, 1_000));
        assert!(r.try_claim(1, 1_010, 1_000));
        r.failed(1, 1_010, 0.5);
        assert!(!r.try_claim(1, 3_009, 1_000));
        assert!(r.try_claim(1, 3_010, 1_000));
    }

    #[test]
    fn unknown_kid_refetches_are_rate_limited_from_the_previous_refetch_only() {
        let mut r = SharedFetchRecord::default();
        assert!(r.try_claim(1, 0, 1_000));
        r.succeeded(1, 100, 600_000, true, 0.5);
        // Seconds after start-up: allowed at once.
        assert_eq!(r.request_refetch(2_000, 30_000), RefetchDecision::Started);
        assert_eq!(r.request_refetch(2_001, 30_000), RefetchDecision::Joined);
        assert!(r.try_claim(1, 2_002, 1_000));
        assert_eq!(r.request_refetch(2_003, 30_000), RefetchDecision::Joined);
        r.succeeded(1, 2_100, 600_000, true, 0.5);
        assert_eq!(
            r.request_refetch(2_200, 30_000),
            RefetchDecision::RateLimited
        );
        assert_eq!(r.request_refetch(32_000, 30_000), RefetchDecision::Started);
    }
}
