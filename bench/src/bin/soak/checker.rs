//! The checker: beside wrk, a thread of its own sends requests of every class (kind and rule) in
//! turn, each on a fresh connection with the driver's HTTP client, and checks each answer in full
//! (status, challenge, content type, the JSON error, what reached the route).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rolegate_bench::tokens;
use rolegate_testkit::http;

use crate::corpus::{Class, Corpus, SPOOFED_CLIENT_ID};
use crate::schedule;

/// Wrong answers kept for the report.
const KEPT_SAMPLES: usize = 20;

/// What the checker saw of one class.
#[derive(Debug, Default)]
struct Row {
    sent: u64,
    right: u64,
    /// Each request's time to answer in microseconds.
    latencies_us: Vec<u64>,
}

/// What the checker saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// One row per class, in [`Class::all`] order.
    rows: Vec<(Class, Row)>,
    /// The first wrong answers, described.
    pub wrong: Vec<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            rows: Class::all()
                .into_iter()
                .map(|c| (c, Row::default()))
                .collect(),
            wrong: Vec::new(),
        }
    }

    fn row(&self, class: Class) -> Option<&Row> {
        self.rows.iter().find(|(c, _)| *c == class).map(|(_, r)| r)
    }

    fn record(&mut self, class: Class, outcome: Result<(), String>, took: Duration) {
        if let Some((_, row)) = self.rows.iter_mut().find(|(c, _)| *c == class) {
            row.sent += 1;
            row.right += u64::from(outcome.is_ok());
            let took_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
            row.latencies_us.push(took_us);
        }
        if let Err(problem) = outcome {
            if self.wrong.len() < KEPT_SAMPLES {
                self.wrong.push(problem);
            }
        }
    }

    pub fn sent(&self) -> u64 {
        self.rows.iter().map(|(_, r)| r.sent).sum()
    }

    /// (sent, right) of `class`.
    pub fn of(&self, class: Class) -> (u64, u64) {
        self.row(class).map_or((0, 0), |r| (r.sent, r.right))
    }

    /// The median and the longest time to answer a request of `class`, in microseconds.
    pub fn latency_us(&self, class: Class) -> (u64, u64) {
        let mut sorted = self
            .row(class)
            .map(|r| r.latencies_us.clone())
            .unwrap_or_default();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        (median, sorted.last().copied().unwrap_or(0))
    }

    pub fn wrong_count(&self) -> u64 {
        self.rows.iter().map(|(_, r)| r.sent - r.right).sum()
    }
}

/// Sends request number `turn` of `class` to the listener on `port` and checks the answer.
pub fn probe(
    corpus: &Corpus,
    class: Class,
    turn: usize,
    port: u16,
    origin: i64,
) -> Result<(), String> {
    let now = tokens::now();
    let epoch = schedule::epoch(origin, now);
    let choices = corpus.choices(class.kind, epoch);
    if choices.is_empty() {
        return Err(format!("{}: no requests of this kind", class.name()));
    }
    // A stride coprime to the list lengths walks every entry.
    let Some(entry) = choices.get(turn.wrapping_mul(7919) % choices.len()) else {
        return Err(format!("{}: no request {turn}", class.name()));
    };
    let mut headers = vec![SPOOFED_CLIENT_ID];
    if let Some(a) = entry.authorization.as_deref() {
        headers.push(("authorization", a));
    }
    let host = format!("127.0.0.1:{port}");
    let label = || {
        format!(
            "{} ({}{}, epoch {epoch}, t+{} s)",
            class.name(),
            entry.variant,
            entry
                .slot
                .map_or(String::new(), |s| format!(", kid soak-{s}")),
            now - origin
        )
    };
    let reply = http::send(port, "GET", class.rule.path(), &headers, None)
        .map_err(|e| format!("{}: no answer: {e}", label()))?;
    class
        .answer(entry)
        .check(&reply, &host, entry.authorization.as_deref())
        .map_err(|problem| format!("{}: {problem}", label()))
}

/// One request of every class; the first wrong answer, if any.
pub fn probe_every_class(corpus: &Corpus, port: u16, origin: i64) -> Result<(), String> {
    for class in Class::all() {
        probe(corpus, class, 0, port, origin)?;
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
                    for class in Class::all() {
                        let sent = Instant::now();
                        let outcome = probe(&corpus, class, turn, port, origin);
                        tally.record(class, outcome, sent.elapsed());
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
