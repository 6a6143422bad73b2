//! The benchmark's knobs: environment variables (`BENCH_ROUNDS=5`), overridden by command-line
//! arguments (`--rounds 5`).

use std::path::PathBuf;

use lexopt::prelude::*;
use rolegate_bench::knob;

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
    pub tokens: usize,
    /// Verified-token cache size of both filters, per worker.
    pub cache_size: usize,
    /// Where the report goes; `None` when `--no-write`.
    pub output: Option<PathBuf>,
}

/// A numeric setting.
#[derive(Debug, Clone, Copy)]
enum Field {
    Rounds,
    Seconds,
    Warmup,
    Connections,
    Threads,
    Tokens,
    CacheSize,
}

/// One knob: its setting, environment variable, argument, meaning and bounds.
struct Knob {
    field: Field,
    env: &'static str,
    arg: &'static str,
    help: &'static str,
    min: u64,
    max: u64,
}

const KNOBS: [Knob; 7] = [
    Knob {
        field: Field::Rounds,
        env: "BENCH_ROUNDS",
        arg: "--rounds",
        help: "interleaved rounds; the table shows the median",
        min: 1,
        max: 100,
    },
    Knob {
        field: Field::Seconds,
        env: "BENCH_SECONDS",
        arg: "--seconds",
        help: "seconds per measured wrk run",
        min: 1,
        max: 3600,
    },
    Knob {
        field: Field::Warmup,
        env: "BENCH_WARMUP_SECONDS",
        arg: "--warmup",
        help: "seconds of warm-up per set-up and path, before round 1",
        min: 0,
        max: 600,
    },
    Knob {
        field: Field::Connections,
        env: "BENCH_CONNECTIONS",
        arg: "--connections",
        help: "wrk connections (-c)",
        min: 1,
        max: 10_000,
    },
    Knob {
        field: Field::Threads,
        env: "BENCH_THREADS",
        arg: "--threads",
        help: "wrk threads (-t)",
        min: 1,
        max: 64,
    },
    Knob {
        field: Field::Tokens,
        env: "BENCH_TOKENS",
        arg: "--tokens",
        help: "distinct tokens on the cold path (more than the cache size)",
        min: 2,
        max: 1_000_000,
    },
    Knob {
        field: Field::CacheSize,
        env: "BENCH_CACHE_SIZE",
        arg: "--cache-size",
        help: "verified-token cache size of both filters",
        min: 1,
        max: 100_000,
    },
];

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
        }
    }
}

/// What the command line asked for.
pub enum Command {
    Run(Settings),
    Help(String),
}

impl Settings {
    /// Reads the environment, then `args` (without the program name).
    pub fn parse(args: &[String]) -> Result<Command, String> {
        let mut s = Settings::default();
        for knob in &KNOBS {
            if let Ok(text) = std::env::var(knob.env) {
                s.set(knob, &text, knob.env)?;
            }
        }
        if let Ok(path) = std::env::var("BENCH_OUTPUT") {
            s.output = Some(PathBuf::from(path));
        }
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
            match arg {
                Short('h') | Long("help") => return Ok(Command::Help(usage())),
                Long("no-write") => s.output = None,
                Long("output") => {
                    let path = parser.value().map_err(|_| "--output needs a path")?;
                    s.output = Some(PathBuf::from(path));
                }
                Long(name) => {
                    let name = format!("--{name}");
                    let knob = KNOBS
                        .iter()
                        .find(|k| k.arg == name)
                        .ok_or_else(|| format!("unknown argument {name:?}\n\n{}", usage()))?;
                    let value = parser
                        .value()
                        .map_err(|_| format!("{name} needs a value"))?
                        .string()
                        .map_err(|e| e.to_string())?;
                    s.set(knob, &value, &name)?;
                }
                other => return Err(format!("{}\n\n{}", other.unexpected(), usage())),
            }
        }
        if s.tokens <= s.cache_size {
            return Err(format!(
                "the cold path needs more tokens ({}) than the cache holds ({}), or it would hit",
                s.tokens, s.cache_size
            ));
        }
        Ok(Command::Run(s))
    }

    fn set(&mut self, knob: &Knob, text: &str, source: &str) -> Result<(), String> {
        let value = knob::parse_bounded(text, source, knob.min, knob.max)?;
        // The bounds above keep every value within u32.
        let value = u32::try_from(value).map_err(|_| format!("{source}: {value} is too large"))?;
        match knob.field {
            Field::Rounds => self.rounds = value,
            Field::Seconds => self.seconds = value,
            Field::Warmup => self.warmup_seconds = value,
            Field::Connections => self.connections = value,
            Field::Threads => self.threads = value,
            Field::Tokens => self.tokens = value as usize,
            Field::CacheSize => self.cache_size = value as usize,
        }
        Ok(())
    }

    fn get(&self, field: Field) -> String {
        match field {
            Field::Rounds => self.rounds.to_string(),
            Field::Seconds => self.seconds.to_string(),
            Field::Warmup => self.warmup_seconds.to_string(),
            Field::Connections => self.connections.to_string(),
            Field::Threads => self.threads.to_string(),
            Field::Tokens => self.tokens.to_string(),
            Field::CacheSize => self.cache_size.to_string(),
        }
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
}

fn usage() -> String {
    let mut text = String::from(
        "rolegate-bench: rolegate against jwt_authn + rbac and against no auth filter, in the \
         same Envoy\n\nusage: rolegate-bench [options]\n\n",
    );
    let defaults = Settings::default();
    for knob in &KNOBS {
        text.push_str(&format!(
            "  {:<14} N   {} (env {}, default {})\n",
            knob.arg,
            knob.help,
            knob.env,
            defaults.get(knob.field)
        ));
    }
    text.push_str(
        "  --output PATH      report file, relative to the repository root (env BENCH_OUTPUT, \
         default BENCHMARKS.md)\n\
         \x20 --no-write         print the table only\n\n\
         Needs .envoy/envoy/_bin/envoy and dist/rolegate.wasm (`make build envoy`; \
         ROLEGATE_ENVOY / ROLEGATE_WASM override the paths) and wrk on PATH.\n",
    );
    text
}
