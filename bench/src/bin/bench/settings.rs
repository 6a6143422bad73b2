//! The benchmark's knobs: environment variables (`BENCH_ROUNDS=5`), overridden by command-line
//! arguments (`--rounds 5`).

use std::path::PathBuf;

use lexopt::prelude::*;
use rolegate_bench::knob::{self, Command, Knob};

/// How long and how hard to drive each set-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Interleaved rounds; the table shows the median over them.
    pub rounds: u32,
    /// Length of one measured wrk run, in seconds.
    pub seconds: u32,
    /// Length of the warm-up run of each set-up and path, in seconds (0: none).
    pub warmup_seconds: u32,
    /// wrk connections (`-c`).
    pub connections: u32,
    /// wrk threads (`-t`).
    pub threads: u32,
    /// Distinct tokens cycled through on the cold path.
    pub tokens: u32,
    /// Verified-token cache size of both filters, per worker.
    pub cache_size: u32,
    /// Where the report goes; `None` when `--no-write`.
    pub output: Option<PathBuf>,
    /// Only the memory table: no speed rounds, and only the `## Memory` section of the report
    /// is rewritten (`--memory`, `BENCH_MEMORY_ONLY=1`).
    pub memory_only: bool,
    /// `--concurrency` values of the memory table; empty: no memory table.
    pub memory_workers: Vec<u32>,
    /// Envoys started per set-up and worker count in the memory table; the median is shown.
    pub memory_repeats: u32,
}

/// The numeric settings.
const KNOBS: [Knob<Settings>; 8] = [
    Knob {
        field: |s| &mut s.rounds,
        env: "BENCH_ROUNDS",
        arg: "--rounds",
        help: "interleaved rounds; the table shows the median",
        min: 1,
        max: 100,
    },
    Knob {
        field: |s| &mut s.seconds,
        env: "BENCH_SECONDS",
        arg: "--seconds",
        help: "seconds per measured wrk run",
        min: 1,
        max: 3600,
    },
    Knob {
        field: |s| &mut s.warmup_seconds,
        env: "BENCH_WARMUP_SECONDS",
        arg: "--warmup",
        help: "seconds of warm-up per set-up and path, before round 1",
        min: 0,
        max: 600,
    },
    Knob {
        field: |s| &mut s.connections,
        env: "BENCH_CONNECTIONS",
        arg: "--connections",
        help: "wrk connections (-c)",
        min: 1,
        max: 10_000,
    },
    Knob {
        field: |s| &mut s.threads,
        env: "BENCH_THREADS",
        arg: "--threads",
        help: "wrk threads (-t)",
        min: 1,
        max: 64,
    },
    Knob {
        field: |s| &mut s.tokens,
        env: "BENCH_TOKENS",
        arg: "--tokens",
        help: "distinct tokens on the cold path (more than the cache size)",
        min: 2,
        max: 1_000_000,
    },
    Knob {
        field: |s| &mut s.cache_size,
        env: "BENCH_CACHE_SIZE",
        arg: "--cache-size",
        help: "verified-token cache size of both filters",
        min: 1,
        max: 100_000,
    },
    Knob {
        field: |s| &mut s.memory_repeats,
        env: "BENCH_MEMORY_REPEATS",
        arg: "--memory-repeats",
        help: "Envoys per cell of the memory table (the median is shown)",
        min: 1,
        max: 9,
    },
];

/// The memory table's worker counts when none are given.
const MEMORY_WORKERS: [u32; 3] = [1, 2, 4];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rounds: 3,
            seconds: 10,
            warmup_seconds: 2,
            connections: 16,
            threads: 1,
            tokens: 20_000,
            cache_size: 1000,
            output: Some(PathBuf::from("BENCHMARKS.md")),
            memory_only: false,
            memory_workers: MEMORY_WORKERS.to_vec(),
            memory_repeats: 1,
        }
    }
}

impl Settings {
    /// Reads the environment, then `args` (without the program name).
    pub fn parse(args: &[String]) -> Result<Command<Settings>, String> {
        let mut s = Settings::default();
        knob::read_env(&mut s, &KNOBS)?;
        if let Ok(path) = std::env::var("BENCH_OUTPUT") {
            s.output = Some(PathBuf::from(path));
        }
        if let Ok(flag) = std::env::var("BENCH_MEMORY_ONLY") {
            s.memory_only = !matches!(flag.trim(), "" | "0" | "false" | "no");
        }
        if let Ok(text) = std::env::var("BENCH_MEMORY_WORKERS") {
            s.memory_workers = parse_workers(&text, "BENCH_MEMORY_WORKERS")?;
        }
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
            match arg {
                Short('h') | Long("help") => return Ok(Command::Help(usage())),
                Long("no-write") => s.output = None,
                Long("memory") => s.memory_only = true,
                Long("memory-workers") => {
                    let text = parser
                        .value()
                        .map_err(|_| "--memory-workers needs a list")?
                        .string()
                        .map_err(|e| e.to_string())?;
                    s.memory_workers = parse_workers(&text, "--memory-workers")?;
                }
                Long("output") => {
                    let path = parser.value().map_err(|_| "--output needs a path")?;
                    s.output = Some(PathBuf::from(path));
                }
                Long(name) => knob::read_arg(&mut s, &KNOBS, name.into(), &mut parser, usage)?,
                other => return Err(format!("{}\n\n{}", other.unexpected(), usage())),
            }
        }
        if s.tokens <= s.cache_size {
            return Err(format!(
                "the cold path needs more tokens ({}) than the cache holds ({}), or it would hit",
                s.tokens, s.cache_size
            ));
        }
        if s.memory_only && s.memory_workers.is_empty() {
            return Err("--memory with no worker counts (BENCH_MEMORY_WORKERS=none)".to_string());
        }
        Ok(Command::Run(s))
    }

    /// One line for the report: what was run.
    pub fn describe(&self) -> String {
        let warmup = match self.warmup_seconds {
            0 => "no warm-up".to_string(),
            s => format!("after a {s} s warm-up per set-up and path"),
        };
        format!(
            "{} round{} × {} s per run ({warmup}), wrk -t{} -c{}, {} distinct cold tokens, \
             token caches of {} on both sides, Envoy --concurrency 1",
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.seconds,
            self.threads,
            self.connections,
            self.tokens,
            self.cache_size
        )
    }

    /// One line for the memory section: what it was measured with.
    pub fn describe_memory(&self) -> String {
        format!(
            "wrk -t{} -c{} over distinct tokens, token caches of {} per worker, {} Envoy{} per \
             cell",
            self.threads,
            self.connections,
            self.cache_size,
            self.memory_repeats,
            if self.memory_repeats == 1 {
                ""
            } else {
                "s (median)"
            }
        )
    }
}

/// `1,2,4` (or spaces between): worker counts, 1 to 64, ascending; `none`: no memory table.
fn parse_workers(text: &str, source: &str) -> Result<Vec<u32>, String> {
    if text.trim() == "none" {
        return Ok(Vec::new());
    }
    let mut workers = Vec::new();
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let n = knob::parse_bounded(part, source, 1, 64)?;
        workers.push(u32::try_from(n).map_err(|_| format!("{source}: {n} is too large"))?);
    }
    if workers.is_empty() || !workers.windows(2).all(|w| w.first() < w.get(1)) {
        return Err(format!(
            "{source}: {text:?} is not a list of worker counts in ascending order, e.g. 1,2,4"
        ));
    }
    Ok(workers)
}

fn usage() -> String {
    let mut text = String::from(
        "rolegate-bench: rolegate against jwt_authn + rbac and against no auth filter, in the \
         same Envoy\n\nusage: rolegate-bench [options]\n\n",
    );
    text.push_str(&knob::usage(&KNOBS, Settings::default()));
    text.push_str(
        "  --output PATH      report file, relative to the repository root (env BENCH_OUTPUT, \
         default BENCHMARKS.md)\n\
         \x20 --no-write         print the table only\n\
         \x20 --memory           only the memory table; rewrites only the report's Memory \
         section (env BENCH_MEMORY_ONLY=1)\n\
         \x20 --memory-workers L Envoy --concurrency values of the memory table (env \
         BENCH_MEMORY_WORKERS, default 1,2,4; none: skip it)\n\n\
         Needs .envoy/envoy/_bin/envoy and dist/rolegate.wasm (`make build envoy`; \
         ROLEGATE_ENVOY / ROLEGATE_WASM override the paths) and wrk on PATH.\n",
    );
    text
}
