//! The checker: beside wrk, a thread of its own sends requests of every kind in turn, each on a
//! fresh connection with the driver's HTTP client, and checks each answer in full (status,
//! challenge, content type, the JSON error, what reached the route).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rolegate_bench::tokens;
use rolegate_testkit::http;

use crate::corpus::{Corpus, Kind};
use crate::schedule;

/// The path every request goes to; the filter guards `/calc/`.
pub const PATH: &str = "/calc/add";
/// Wrong answers kept for the report.
const KEPT_SAMPLES: usize = 20;

/// What the checker saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// (kind, sent, right), in [`Kind::ALL`] order.
    pub by_kind: Vec<(Kind, u64, u64)>,
    /// Each request's time to answer in microseconds, by kind, in [`Kind::ALL`] order.
    latencies_us: Vec<Vec<u64>>,
    /// The first wrong answers, described.
    pub wrong: Vec<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            by_kind: Kind::ALL.iter().map(|k| (*k, 0, 0)).collect(),
            latencies_us: Kind::ALL.iter().map(|_| Vec::new()).collect(),
            wrong: Vec::new(),
        }
    }

    fn record(&mut self, kind: Kind, outcome: Result<(), String>, took: Duration) {
        if let Some(list) = Kind::ALL
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| self.latencies_us.get_mut(i))
        {
            list.push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        }
        if let Some(row) = self.by_kind.iter_mut().find(|(k, _, _)| *k == kind) {
            row.1 += 1;
            if outcome.is_ok() {
                row.2 += 1;
            }
        }
        if let Err(problem) = outcome {
            if self.wrong.len() < KEPT_SAMPLES {
                self.wrong.push(problem);
            }
        }
    }

    pub fn sent(&self) -> u64 {
        self.by_kind.iter().map(|(_, n, _)| n).sum()
    }

    /// The median and the longest time to answer a request of `kind`, in microseconds.
    pub fn latency_us(&self, kind: Kind) -> (u64, u64) {
        let Some(list) = Kind::ALL
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| self.latencies_us.get(i))
        else {
            return (0, 0);
        };
        let mut sorted = list.clone();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        (median, sorted.last().copied().unwrap_or(0))
    }

    pub fn wrong_count(&self) -> u64 {
        self.by_kind.iter().map(|(_, n, right)| n - right).sum()
    }
}

/// Sends request number `turn` of `kind` to the listener on `port` and checks the answer.
pub fn probe(
    corpus: &Corpus,
    kind: Kind,
    turn: usize,
    port: u16,
    origin: i64,
) -> Result<(), String> {
    let now = tokens::now();
    let epoch = schedule::epoch(origin, now);
    let choices = corpus.choices(kind, epoch);
    if choices.is_empty() {
        return Err(format!("{}: no requests of this kind", kind.name()));
    }
    // A stride coprime to the list lengths walks every entry.
    let Some(entry) = choices.get(turn.wrapping_mul(7919) % choices.len()) else {
        return Err(format!("{}: no request {turn}", kind.name()));
    };
    let headers: Vec<(&str, &str)> = entry
        .authorization
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    let host = format!("127.0.0.1:{port}");
    let label = || {
        format!(
            "{} ({}{}, epoch {epoch}, t+{} s)",
            kind.name(),
            entry.variant,
            entry
                .slot
                .map_or(String::new(), |s| format!(", kid soak-{s}")),
            now - origin
        )
    };
    let reply = http::send(port, "GET", PATH, &headers, None)
        .map_err(|e| format!("{}: no answer: {e}", label()))?;
    entry
        .answer
        .check(&reply, &host)
        .map_err(|problem| format!("{}: {problem}", label()))
}

/// One request of every kind; the first wrong answer, if any.
pub fn probe_every_kind(corpus: &Corpus, port: u16, origin: i64) -> Result<(), String> {
    for kind in Kind::ALL {
        probe(corpus, kind, 0, port, origin)?;
    }
    Ok(())
}

pub struct Checker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Tally>>,
}

impl Checker {
    /// Starts checking, one request every `pause`, until [`Checker::finish`].
    pub fn start(
        corpus: Arc<Corpus>,
        port: u16,
        origin: i64,
        pause: Duration,
    ) -> Result<Checker, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("checker".into())
            .spawn(move || {
                let mut tally = Tally::new();
                let mut turn = 0usize;
                while !flag.load(Ordering::SeqCst) {
                    for kind in Kind::ALL {
                        let sent = Instant::now();
                        let outcome = probe(&corpus, kind, turn, port, origin);
                        tally.record(kind, outcome, sent.elapsed());
                        std::thread::sleep(pause);
                    }
                    turn += 1;
                }
                tally
            })
            .map_err(|e| format!("cannot start the checker thread: {e}"))?;
        Ok(Checker {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the checker and returns what it saw.
    pub fn finish(mut self) -> Result<Tally, String> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .ok_or("the checker was already stopped")?
            .join()
            .map_err(|_| "the checker thread panicked".to_string())
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
