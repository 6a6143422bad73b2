//! The soak's clock: which keys the IdP publishes, which key a token sent now is signed with, and
//! how the IdP misbehaves. All of it is a function of whole Unix seconds, which wrk's Lua reads
//! too (`os.time()`), so the driver, the IdP and every wrk thread agree on each second.
//!
//! Keys rotate every [`ROTATE_SECONDS`] from the rotation origin. Key slots form a ring of
//! [`SLOTS`] `kid`s (`soak-0` .. `soak-7`). During epoch `e` the IdP publishes slots `e-1` (the
//! previous key), `e` (the current one) and `e+1`, `e+2` (the next ones, published ahead as
//! Entra ID does), and tokens sent during epoch `e` are signed with slot `e`. That key is in every
//! set published from the start of epoch `e-2` to the end of epoch `e+1`: the filter has it
//! during all of epoch `e` whatever set it holds, as long as its key set is never more than
//! [`MAX_STALENESS_SECONDS`] old. Retired tokens are signed with slot `e+4` (≡ `e-4`), which is
//! in no set published over that same span, so the filter cannot have it. Both outcomes are
//! certain, with no window around a rotation where either answer would do.
//!
//! The IdP answers normally until the load starts, then cycles through [`CYCLE`]: short
//! outages of each kind, each followed by long enough normal service for the filter's retry
//! back-off to find it (see the test at the bottom).

/// Seconds between two key rotations.
pub const ROTATE_SECONDS: i64 = 20;
/// Key slots in the ring.
pub const SLOTS: usize = 8;
/// The slots published during epoch `e`, relative to `e`.
pub const PUBLISHED_SHIFTS: [i64; 4] = [-1, 0, 1, 2];
/// The slot valid tokens are signed with during epoch `e`, relative to `e`.
pub const CURRENT_SHIFT: i64 = 0;
/// The slot retired tokens are signed with during epoch `e`, relative to `e`.
pub const RETIRED_SHIFT: i64 = 4;
/// How old the filter's key set may get before the outcomes above stop being certain: the
/// current key was first published two epochs before it signs.
pub const MAX_STALENESS_SECONDS: i64 = 2 * ROTATE_SECONDS;

/// The filter's `remote_jwks.cache_duration_seconds`: short, so refreshes meet the outages.
pub const REFRESH_SECONDS: u64 = 5;
/// The filter's `remote_jwks.timeout_ms`.
pub const FETCH_TIMEOUT_MS: u64 = 500;
/// How long the IdP holds a request in a [`Phase::Hang`] before answering: past the timeout.
pub const HANG_MS: u64 = 4 * FETCH_TIMEOUT_MS;

/// The rotation epoch of Unix second `now`.
pub fn epoch(origin: i64, now: i64) -> i64 {
    (now - origin).div_euclid(ROTATE_SECONDS)
}

/// The key slot `shift` epochs after `epoch`.
pub fn slot(epoch: i64, shift: i64) -> usize {
    let ring = i64::try_from(SLOTS).unwrap_or(1);
    usize::try_from((epoch + shift).rem_euclid(ring)).unwrap_or(0)
}

/// The slots the IdP publishes during `epoch`.
pub fn published_slots(epoch: i64) -> [usize; PUBLISHED_SHIFTS.len()] {
    PUBLISHED_SHIFTS.map(|shift| slot(epoch, shift))
}

/// How the IdP answers a key-set request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// 200 with the key set of the current epoch.
    Normal,
    /// 500 with a text body.
    Status500,
    /// Holds the request for [`HANG_MS`], past the filter's timeout.
    Hang,
    /// 200 with a body that is no usable key set (not JSON, wrong shape, cut short, no usable key).
    Garbage,
    /// Closes the connection without answering.
    Reset,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Normal,
        Phase::Status500,
        Phase::Hang,
        Phase::Garbage,
        Phase::Reset,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Phase::Normal => "normal",
            Phase::Status500 => "500",
            Phase::Hang => "hang",
            Phase::Garbage => "garbage",
            Phase::Reset => "reset",
        }
    }
}

/// The IdP's cycle once the load has started: (phase, seconds). 16 s of every 48 are outages.
/// 8 s of normal service after each outage let the retry back-off find the IdP again even when
/// an unknown-kid refetch adds a failure (see the test below); with 6 s it can escalate into the
/// next outage.
pub const CYCLE: [(Phase, i64); 8] = [
    (Phase::Normal, 8),
    (Phase::Status500, 4),
    (Phase::Normal, 8),
    (Phase::Hang, 4),
    (Phase::Normal, 8),
    (Phase::Garbage, 4),
    (Phase::Normal, 8),
    (Phase::Reset, 4),
];

/// The length of [`CYCLE`] in seconds.
pub fn cycle_seconds() -> i64 {
    CYCLE.iter().map(|(_, s)| s).sum()
}

/// The phase `since` seconds after flapping started (normal before it started).
pub fn phase_at(since: i64) -> Phase {
    if since < 0 {
        return Phase::Normal;
    }
    let mut at = since.rem_euclid(cycle_seconds().max(1));
    for (phase, seconds) in CYCLE {
        if at < seconds {
            return phase;
        }
        at -= seconds;
    }
    Phase::Normal
}

/// The cycle in one line, for the report.
pub fn describe_cycle() -> String {
    CYCLE
        .iter()
        .map(|(phase, seconds)| format!("{} {seconds} s", phase.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rolegate::keys::backoff::retry_delay_ms;

    fn published_during(epochs: std::ops::RangeInclusive<i64>) -> Vec<usize> {
        epochs.flat_map(published_slots).collect()
    }

    #[test]
    fn epochs_and_slots_follow_whole_seconds() {
        assert_eq!(epoch(1000, 1000), 0);
        assert_eq!(epoch(1000, 1019), 0);
        assert_eq!(epoch(1000, 1020), 1);
        assert_eq!(epoch(1000, 999), -1);
        assert_eq!(slot(-1, 0), SLOTS - 1);
        assert_eq!(slot(5, 4), (9 % SLOTS));
    }

    #[test]
    fn current_key_is_published_all_around_its_epoch_and_retired_key_nowhere_near() {
        let staleness_epochs = MAX_STALENESS_SECONDS / ROTATE_SECONDS;
        for e in -20..20 {
            // Any set the filter may hold during epoch e, or a moment after it (a request sent
            // in the last second of e and decided in the first of e+1).
            let sets = published_during(e - staleness_epochs..=e + 1);
            for s in (e - staleness_epochs..=e + 1).map(published_slots) {
                assert!(s.contains(&slot(e, CURRENT_SHIFT)), "epoch {e}");
            }
            assert!(!sets.contains(&slot(e, RETIRED_SHIFT)), "epoch {e}");
        }
    }

    #[test]
    fn the_cycle_starts_normal_and_returns_to_normal_after_each_outage() {
        assert_eq!(cycle_seconds(), 48);
        assert_eq!(phase_at(-5), Phase::Normal);
        assert_eq!(phase_at(0), Phase::Normal);
        assert_eq!(phase_at(8), Phase::Status500);
        assert_eq!(phase_at(20), Phase::Hang);
        assert_eq!(phase_at(47), Phase::Reset);
        assert_eq!(phase_at(48), Phase::Normal);
        for pair in CYCLE.windows(2) {
            assert!(pair[0].0 == Phase::Normal || pair[1].0 == Phase::Normal);
        }
    }

    /// The filter's default `min_refetch_interval_seconds`, which the soak keeps.
    const MIN_REFETCH_MS: u64 = 30_000;

    /// The longest time between two good fetches, replaying the filter's own back-off against the
    /// cycle: periodic refreshes every REFRESH_SECONDS, retries after failures, a hang costing
    /// the timeout, and (with `refetch_at`) an unknown-kid refetch every MIN_REFETCH_MS from
    /// then on (retired tokens ask for one all the time), which counts as a failure too when it
    /// meets an outage.
    fn longest_gap_ms(offset_ms: u64, jitter: f64, refetch_at: Option<u64>) -> u64 {
        let cycle_ms = u64::try_from(cycle_seconds()).unwrap() * 1000;
        let mut next = offset_ms;
        let mut next_refetch = refetch_at.map(|r| offset_ms + r);
        let mut last_good = offset_ms;
        let mut failures = 0u32;
        let mut longest = 0;
        while next < offset_ms + 4 * cycle_ms {
            let t = match next_refetch {
                Some(r) if r < next => {
                    next_refetch = Some(r + MIN_REFETCH_MS);
                    r
                }
                _ => next,
            };
            match phase_at(i64::try_from(t / 1000).unwrap()) {
                Phase::Normal => {
                    longest = longest.max(t - last_good);
                    last_good = t;
                    failures = 0;
                    next = t + REFRESH_SECONDS * 1000;
                }
                phase => {
                    let done = t + if phase == Phase::Hang {
                        FETCH_TIMEOUT_MS
                    } else {
                        0
                    };
                    failures += 1;
                    next = done + retry_delay_ms(failures, jitter);
                }
            }
        }
        longest
    }

    #[test]
    fn the_filter_key_set_never_gets_stale_enough_to_blur_an_outcome() {
        let mut worst = 0;
        for offset_ms in (0..48_000).step_by(100) {
            for jitter in [0.0, 0.5, 0.999] {
                let refetches = (0..MIN_REFETCH_MS).step_by(500).map(Some);
                for refetch_at in std::iter::once(None).chain(refetches) {
                    worst = worst.max(longest_gap_ms(offset_ms, jitter, refetch_at));
                }
            }
        }
        // Well within the margin, so a busy machine's late ticks do not matter either.
        assert!(worst < 25_000, "{worst} ms");
        assert!(worst < u64::try_from(MAX_STALENESS_SECONDS).unwrap() * 1000);
    }
}
