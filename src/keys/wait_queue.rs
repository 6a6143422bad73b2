//! Requests parked until a provider's keys change: who waits for which fetch, until when, and
//! whether each may wait again once it is decided anew. The host holds the requests and carries
//! the answers out; which request is answered when is decided here.
//!
//! A request waits at most once for each reason: for the first keys, then (if those keys lack
//! its `kid`, as after a rotation) for one refetch. An overdue request waits no more.

use crate::keys::key_wait::{WaitPermission, WaitReason};

/// Slack past the fetch lease: a waiting request gets the fetch's own result, not a timeout.
pub const WAIT_MARGIN_MS: u64 = 500;

/// What a request waits for, as the worker's key sets see it (`WorkerKeySets::wait_for`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyWait {
    /// Answered once more fetches than this have finished for the provider.
    pub after_completed: u64,
    /// How long the fetch it waits for may hold its lease; the deadline follows from it.
    pub lease_ms: u64,
    /// This request's unknown `kid` started a refetch (rather than joining one under way).
    pub started_refetch: bool,
}

struct Parked {
    context_id: u32,
    provider: usize,
    reason: WaitReason,
    after_completed: u64,
    deadline_ms: u64,
}

/// A request taken out of the queue: decide it again, with `wait`.
#[derive(Debug, Clone, Copy)]
pub struct Resumption {
    pub context_id: u32,
    pub wait: WaitPermission,
}

#[derive(Default)]
pub struct WaitQueue {
    parked: Vec<Parked>,
}

impl WaitQueue {
    /// Parks the request `context_id` until `provider` has finished more fetches than `wait`
    /// names, or the fetch's lease and a margin have passed. A request already parked is
    /// parked anew, not twice: it is answered once.
    pub fn park(
        &mut self,
        context_id: u32,
        provider: usize,
        reason: WaitReason,
        wait: KeyWait,
        now_ms: u64,
    ) {
        self.forget(context_id);
        self.parked.push(Parked {
            context_id,
            provider,
            reason,
            after_completed: wait.after_completed,
            deadline_ms: now_ms
                .saturating_add(wait.lease_ms)
                .saturating_add(WAIT_MARGIN_MS),
        });
    }

    /// Drops the request `context_id` (its stream is gone: nobody is left to answer).
    pub fn forget(&mut self, context_id: u32) {
        self.parked.retain(|p| p.context_id != context_id);
    }

    pub fn is_parked(&self, context_id: u32) -> bool {
        self.parked.iter().any(|p| p.context_id == context_id)
    }

    pub fn is_empty(&self) -> bool {
        self.parked.is_empty()
    }

    /// Takes out the requests that a finished fetch of `provider` answers, now that
    /// `completed_fetches` have finished. One that waited for the first keys may still wait
    /// for one refetch (those keys may predate its `kid`).
    pub fn take_answered(&mut self, provider: usize, completed_fetches: u64) -> Vec<Resumption> {
        self.take(Due::Answered {
            provider,
            completed_fetches,
        })
    }

    /// Takes out the requests whose deadline has come at `now_ms`: they are answered with the
    /// keys at hand and wait no more.
    pub fn take_overdue(&mut self, now_ms: u64) -> Vec<Resumption> {
        self.take(Due::Overdue { now_ms })
    }

    /// Removes the requests that are `due`, in the order they were parked.
    fn take(&mut self, due: Due) -> Vec<Resumption> {
        let mut taken = Vec::new();
        self.parked.retain(|p| {
            let Some(wait) = due.resumes(p) else {
                return true;
            };
            taken.push(Resumption {
                context_id: p.context_id,
                wait,
            });
            false
        });
        taken
    }
}

/// Which parked requests are answered now. One selection type rather than a closure per
/// caller: each closure would be another copy of `retain` in the module.
enum Due {
    Answered {
        provider: usize,
        completed_fetches: u64,
    },
    Overdue {
        now_ms: u64,
    },
}

impl Due {
    /// How `parked` may wait once decided again, if it is answered now.
    fn resumes(&self, parked: &Parked) -> Option<WaitPermission> {
        match *self {
            Due::Answered {
                provider,
                completed_fetches,
            } => (parked.provider == provider && completed_fetches > parked.after_completed)
                .then_some(WaitPermission {
                    for_first_keys: false,
                    for_refetch: parked.reason == WaitReason::FirstKeys,
                }),
            Due::Overdue { now_ms } => (parked.deadline_ms <= now_ms).then_some(WaitPermission {
                for_first_keys: false,
                for_refetch: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE_MS: u64 = 3_000;

    fn wait_beyond(after_completed: u64) -> KeyWait {
        KeyWait {
            after_completed,
            lease_ms: LEASE_MS,
            started_refetch: false,
        }
    }

    fn ids(resumptions: &[Resumption]) -> Vec<u32> {
        resumptions.iter().map(|r| r.context_id).collect()
    }

    #[test]
    fn a_parked_request_is_overdue_once_the_lease_and_the_margin_have_passed() {
        let mut queue = WaitQueue::default();
        queue.park(7, 0, WaitReason::FirstKeys, wait_beyond(0), 10_000);
        let deadline = 10_000 + LEASE_MS + WAIT_MARGIN_MS;
        assert!(queue.take_overdue(deadline - 1).is_empty());
        assert!(queue.is_parked(7));
        let overdue = queue.take_overdue(deadline);
        assert_eq!(ids(&overdue), vec![7]);
        let may_wait = overdue[0].wait;
        assert!(
            !may_wait.for_first_keys && !may_wait.for_refetch,
            "an overdue request waits no more"
        );
        assert!(!queue.is_parked(7) && queue.is_empty());
    }

    #[test]
    fn a_deadline_near_the_end_of_time_saturates_instead_of_wrapping() {
        let mut queue = WaitQueue::default();
        queue.park(1, 0, WaitReason::FirstKeys, wait_beyond(0), u64::MAX - 10);
        assert!(queue.take_overdue(u64::MAX - 1).is_empty());
        assert_eq!(ids(&queue.take_overdue(u64::MAX)), vec![1]);
    }

    #[test]
    fn a_finished_fetch_answers_only_the_requests_of_its_provider_that_waited_for_it() {
        let mut queue = WaitQueue::default();
        queue.park(1, 0, WaitReason::FirstKeys, wait_beyond(0), 0);
        queue.park(2, 0, WaitReason::UnknownKid, wait_beyond(3), 0);
        queue.park(3, 1, WaitReason::FirstKeys, wait_beyond(0), 0);
        queue.park(4, 0, WaitReason::FirstKeys, wait_beyond(0), 0);

        assert!(
            queue.take_answered(0, 0).is_empty(),
            "no fetch finished yet"
        );
        assert_eq!(
            ids(&queue.take_answered(0, 3)),
            vec![1, 4],
            "parked in order; 2 waits beyond the third fetch, 3 for another provider"
        );
        assert!(
            queue.take_answered(0, 3).is_empty(),
            "each is answered once"
        );
        assert_eq!(ids(&queue.take_answered(0, 4)), vec![2]);
        assert_eq!(ids(&queue.take_answered(1, 1)), vec![3]);
        assert!(queue.is_empty());
    }

    #[test]
    fn nothing_waits_twice_for_the_same_reason() {
        let mut queue = WaitQueue::default();
        queue.park(9, 0, WaitReason::FirstKeys, wait_beyond(0), 0);
        let first = queue.take_answered(0, 1);
        assert_eq!(ids(&first), vec![9]);
        let may_wait = first[0].wait;
        assert!(!may_wait.for_first_keys, "the first keys came");
        assert!(may_wait.for_refetch, "they may predate the token's kid");

        queue.park(9, 0, WaitReason::UnknownKid, wait_beyond(1), 100);
        let second = queue.take_answered(0, 2);
        assert_eq!(ids(&second), vec![9]);
        let may_wait = second[0].wait;
        assert!(
            !may_wait.for_first_keys && !may_wait.for_refetch,
            "after its refetch a request is answered with the keys at hand"
        );
    }

    #[test]
    fn a_request_is_never_parked_twice() {
        let mut queue = WaitQueue::default();
        queue.park(5, 0, WaitReason::FirstKeys, wait_beyond(0), 0);
        queue.park(5, 0, WaitReason::UnknownKid, wait_beyond(2), 1_000);
        assert_eq!(
            ids(&queue.take_answered(0, 2)),
            Vec::<u32>::new(),
            "the second parking replaced the first"
        );
        assert_eq!(ids(&queue.take_answered(0, 3)), vec![5]);
        assert!(queue.take_overdue(u64::MAX).is_empty(), "and it is gone");
    }

    #[test]
    fn a_forgotten_request_is_never_answered() {
        let mut queue = WaitQueue::default();
        queue.park(1, 0, WaitReason::FirstKeys, wait_beyond(0), 0);
        queue.park(2, 0, WaitReason::FirstKeys, wait_beyond(0), 0);
        queue.forget(1);
        queue.forget(42);
        assert!(!queue.is_parked(1) && queue.is_parked(2));
        assert_eq!(ids(&queue.take_answered(0, 1)), vec![2]);
        queue.park(3, 0, WaitReason::FirstKeys, wait_beyond(0), 0);
        queue.forget(3);
        assert!(queue.take_overdue(u64::MAX).is_empty());
    }
}
