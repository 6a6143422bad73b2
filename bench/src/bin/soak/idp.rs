//! The flapping IdP: the test kit's local IdP serving the key set of the current epoch (see
//! [`crate::schedule`]) and, once the load has started, cycling through outages: 500s, hangs past
//! the filter's timeout, garbage, and connections closed without an answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use rolegate_bench::tokens::{self, TENANT};
use rolegate_testkit::IdpMode;

use crate::keyring::published_set;
use crate::schedule::{self, Phase, HANG_MS};

pub use rolegate_testkit::idp::jwks_uri;

const NOT_STARTED: i64 = i64::MAX;

struct Flapping {
    /// When flapping started (Unix seconds), or [`NOT_STARTED`].
    from: AtomicI64,
    /// Requests answered, by phase ([`Phase::ALL`] order).
    served: [AtomicU64; Phase::ALL.len()],
}

impl Flapping {
    /// The mode of a request arriving now, counted under its phase.
    fn mode_now(&self) -> IdpMode {
        let from = self.from.load(Ordering::SeqCst);
        let phase = if from == NOT_STARTED {
            Phase::Normal
        } else {
            schedule::phase_at(tokens::now() - from)
        };
        if let Some(n) = Phase::ALL
            .iter()
            .position(|p| *p == phase)
            .and_then(|i| self.served.get(i))
        {
            n.fetch_add(1, Ordering::Relaxed);
        }
        match phase {
            Phase::Normal => IdpMode::Normal,
            Phase::Status500 => IdpMode::Fail500,
            // Far too late: the filter gave up long ago. The key set of the moment it asked.
            Phase::Hang => IdpMode::Slow(Duration::from_millis(HANG_MS)),
            Phase::Garbage => IdpMode::Garbage,
            Phase::Reset => IdpMode::Reset,
        }
    }
}

pub struct Idp {
    idp: rolegate_testkit::Idp,
    flapping: Arc<Flapping>,
}

impl Idp {
    /// Listens on 127.0.0.1 (a free port) and serves, normally until [`Idp::start_flapping`].
    pub fn start(jwks_by_slot: Vec<Value>, origin: i64) -> Result<Idp, String> {
        let idp = rolegate_testkit::Idp::serve(TENANT, SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(|e| format!("IdP: {e}"))?;
        idp.compute_jwks(Arc::new(move || {
            published_set(&jwks_by_slot, schedule::epoch(origin, tokens::now()))
        }));
        let flapping = Arc::new(Flapping {
            from: AtomicI64::new(NOT_STARTED),
            served: Default::default(),
        });
        let schedule = Arc::clone(&flapping);
        idp.schedule_modes(Arc::new(move || schedule.mode_now()));
        Ok(Idp { idp, flapping })
    }

    pub fn port(&self) -> u16 {
        self.idp.port()
    }

    /// From Unix second `at` on, the IdP cycles through [`schedule::CYCLE`].
    pub fn start_flapping(&self, at: i64) {
        self.flapping.from.store(at, Ordering::SeqCst);
    }

    /// Requests answered in each phase.
    pub fn served(&self) -> Vec<(Phase, u64)> {
        Phase::ALL
            .iter()
            .zip(&self.flapping.served)
            .map(|(phase, n)| (*phase, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Requests for a path other than the key set's (there should be none).
    pub fn strays(&self) -> u64 {
        let others = self.idp.total_requests() - self.idp.jwks_requests();
        u64::try_from(others).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rolegate_testkit::http;
    use rolegate_testkit::idp::JWKS_PATH;
    use serde_json::json;

    fn jwks_by_slot() -> Vec<Value> {
        (0..schedule::SLOTS)
            .map(|s| json!({"kid": crate::keyring::kid(s)}))
            .collect()
    }

    #[test]
    fn serves_the_current_set_then_flaps() {
        let origin = tokens::now();
        let idp = Idp::start(jwks_by_slot(), origin).unwrap();
        let reply = http::client::get(idp.port(), JWKS_PATH).unwrap();
        assert_eq!(reply.status, 200);
        let set: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(set["keys"].as_array().unwrap().len(), 4);
        assert_eq!(http::client::get(idp.port(), "/other").unwrap().status, 404);
        assert_eq!(idp.strays(), 1);
        // 9 s into the cycle: the 500s.
        idp.start_flapping(tokens::now() - 9);
        assert_eq!(
            http::client::get(idp.port(), JWKS_PATH).unwrap().status,
            500
        );
        // 45 s into the cycle: the connection is closed without an answer.
        idp.start_flapping(tokens::now() - 45);
        assert!(http::client::get(idp.port(), JWKS_PATH).is_err());
        let served = idp.served();
        assert_eq!(served[0], (Phase::Normal, 1));
        assert_eq!(served[1], (Phase::Status500, 1));
        assert_eq!(served[4], (Phase::Reset, 1));
    }
}
