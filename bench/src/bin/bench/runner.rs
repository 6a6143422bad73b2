//! Drives the fleet: an optional warm-up, then interleaved rounds of every selected case in
//! [`round_order`](crate::plan::round_order); records each run (with Envoy's CPU time over it)
//! and every run that got a non-200.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::counters::{self, Tally};
use crate::cpu;
use crate::envoy_config::Setup;
use crate::fleet::Fleet;
use crate::plan::{round_order, Case, TokenPath};
use crate::preflight;
use crate::report::Sample;
use crate::settings::Settings;
use rolegate_bench::wrk::{Measurement, Wrk};

/// The token files wrk sends.
pub struct TokenFiles {
    /// One token.
    pub hot: PathBuf,
    /// `settings.tokens` distinct tokens.
    pub cold: PathBuf,
}

/// A run that did not get 200 on every request.
pub struct Failure {
    pub case: Case,
    /// `warm-up` or `round i/n`.
    pub round: String,
    pub measurement: Measurement,
}

/// Everything the rounds produced.
#[derive(Default)]
pub struct Results {
    /// Measured runs (not the warm-up).
    pub samples: Vec<Sample>,
    pub failures: Vec<Failure>,
    /// The filters' counters over the measured runs.
    pub tally: Tally,
}

pub fn run_rounds(
    fleet: &Fleet,
    wrk: &Wrk,
    files: &TokenFiles,
    settings: &Settings,
) -> Result<Results, String> {
    let mut results = Results::default();
    // Where each set-up's next cold run starts in the token list.
    let mut cold_offsets: HashMap<Setup, usize> = HashMap::new();
    let first_round = if settings.warmup_seconds > 0 { 0 } else { 1 };
    for round in first_round..=settings.rounds {
        let (label, seconds) = match round {
            0 => ("warm-up".to_string(), settings.warmup_seconds),
            r => (format!("round {r}/{}", settings.rounds), settings.seconds),
        };
        println!("\n{label}");
        for case in round_order(&settings.cases, round) {
            let offset = cold_offsets.get(&case.setup).copied().unwrap_or(0);
            let file = match case.path {
                TokenPath::Hot => &files.hot,
                TokenPath::Cold => &files.cold,
            };
            let envoy = fleet.get(case.setup)?;
            let url = format!("http://127.0.0.1:{}{}", envoy.port(), preflight::PATH);
            // The counters are read through the admin API, which costs Envoy CPU: outside the
            // CPU readings.
            let before = counters::read(envoy, case.setup.filter)?;
            let rss_start_kib = envoy.rss_kib()?;
            let cpu_start_us = cpu::process_cpu_us(envoy.pid())?;
            let m = wrk.run(&url, seconds, file, offset)?;
            let cpu_us = cpu::process_cpu_us(envoy.pid())? - cpu_start_us;
            let rss_end_kib = envoy.rss_kib()?;
            let after = counters::read(envoy, case.setup.filter)?;
            if !envoy.is_running() {
                return Err(format!(
                    "{} exited during the {} run\n{}",
                    case.setup.label(),
                    case.path_label(),
                    envoy.log_tail(40)
                ));
            }
            if case.path == TokenPath::Cold {
                cold_offsets.insert(case.setup, next_cold_offset(offset, &m, settings));
            }
            let sample = Sample {
                case,
                round,
                measurement: m,
                rss_start_kib,
                rss_end_kib,
                cpu_us,
            };
            print_run(&sample);
            let m = &sample.measurement;
            if !m.all_ok() {
                results.failures.push(Failure {
                    case,
                    round: label.clone(),
                    measurement: m.clone(),
                });
            }
            if round > 0 {
                results.tally.add(case, m.requests, &before, &after);
                results.samples.push(sample);
            }
        }
    }
    Ok(results)
}

fn print_run(sample: &Sample) {
    let m = &sample.measurement;
    let verdict = if m.all_ok() {
        String::new()
    } else {
        format!("  FAILED: {} {}", m.codes, m.first_bad)
    };
    println!(
        "  {:<35} {:<4} {:>9.0} req/s  {:>6.1} us CPU/req  p50 {:>6} us  p99 {:>6} us  \
         non-200 {}  RSS {} -> {} KiB{verdict}",
        sample.case.setup.label(),
        sample.case.path_label(),
        m.requests_per_second(),
        sample.cpu_us_per_request(),
        m.p50_us,
        m.p99_us,
        m.non200 + m.socket_errors,
        sample.rss_start_kib,
        sample.rss_end_kib,
    );
}

/// Where the next cold run of a set-up starts in the token list, so that it does not begin with
/// tokens that set-up verified moments ago (which would still be cached): past what each wrk
/// thread walked, past the requests still in flight when wrk stopped, and a cache size further.
fn next_cold_offset(offset: usize, m: &Measurement, settings: &Settings) -> usize {
    let walked = usize::try_from(m.requests).unwrap_or(0) / settings.threads.max(1) as usize;
    let skip = walked + settings.connections as usize + settings.cache_size as usize;
    (offset + skip) % settings.tokens.max(1) as usize
}

/// Every failed run, then each failing set-up's non-zero counters and the notable lines of its log.
pub fn describe_failures(fleet: &Fleet, failures: &[Failure]) -> String {
    let mut text = format!(
        "{} run(s) got answers other than 200 (the report was not written):\n",
        failures.len()
    );
    for f in failures {
        let m = &f.measurement;
        text.push_str(&format!(
            "  {} {} ({}): {}; first: {}\n",
            f.case.setup.label(),
            f.case.path_label(),
            f.round,
            m.failures(),
            m.first_bad
        ));
    }
    let mut shown: Vec<Setup> = Vec::new();
    for f in failures {
        if shown.contains(&f.case.setup) {
            continue;
        }
        shown.push(f.case.setup);
        let Ok(envoy) = fleet.get(f.case.setup) else {
            continue;
        };
        text.push_str(&format!("\n{} counters:\n", f.case.setup.label()));
        let stats = envoy
            .stats("rolegate|jwt_authn|rbac|downstream_rq_[0-9]xx")
            .unwrap_or_default();
        for (name, value) in stats.iter().filter(|(_, v)| v != "0") {
            text.push_str(&format!("  {name}: {value}\n"));
        }
        text.push_str(&envoy.notable_log_tail(40));
        text.push_str(&format!("(logs in {})\n", envoy.dir().display()));
    }
    text
}
