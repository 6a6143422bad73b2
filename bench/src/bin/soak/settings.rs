//! The soak's knobs: environment variables (`SOAK_SECONDS=600`), overridden by command-line
//! arguments (`--seconds 600`).

use lexopt::prelude::*;
use rolegate_bench::knob;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long wrk drives Envoy.
    pub seconds: u32,
    /// When memory is first measured for the growth check, counted from the start of the load.
    pub warmup_seconds: u32,
    /// wrk connections, one per wrk thread.
    pub connections: u32,
}

/// One knob: environment variable, argument, meaning, bounds, default.
struct Knob {
    env: &'static str,
    arg: &'static str,
    help: &'static str,
    min: u64,
    max: u64,
    default: u32,
}

const KNOBS: [Knob; 3] = [
    Knob {
        env: "SOAK_SECONDS",
        arg: "--seconds",
        help: "seconds of load",
        min: 30,
        max: 7 * 24 * 3600,
        default: 120,
    },
    Knob {
        env: "SOAK_WARMUP_SECONDS",
        arg: "--warmup",
        help: "seconds of load before the memory baseline",
        min: 0,
        max: 3600,
        default: 20,
    },
    Knob {
        env: "SOAK_CONNECTIONS",
        arg: "--connections",
        help: "wrk connections, one per wrk thread",
        min: 1,
        max: 64,
        default: 8,
    },
];

pub enum Command {
    Run(Settings),
    Help(String),
}

impl Settings {
    /// Reads the environment, then `args` (without the program name).
    pub fn parse(args: &[String]) -> Result<Command, String> {
        let mut values: Vec<u32> = KNOBS.iter().map(|k| k.default).collect();
        for (knob, value) in KNOBS.iter().zip(values.iter_mut()) {
            if let Ok(text) = std::env::var(knob.env) {
                *value = parse(knob, &text, knob.env)?;
            }
        }
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
            let name = match arg {
                Short('h') | Long("help") => return Ok(Command::Help(usage())),
                Long(name) => format!("--{name}"),
                other => return Err(format!("{}\n\n{}", other.unexpected(), usage())),
            };
            let (knob, value) = KNOBS
                .iter()
                .zip(values.iter_mut())
                .find(|(k, _)| k.arg == name)
                .ok_or_else(|| format!("unknown argument {name:?}\n\n{}", usage()))?;
            let text = parser
                .value()
                .map_err(|_| format!("{name} needs a value"))?
                .string()
                .map_err(|e| e.to_string())?;
            *value = parse(knob, &text, &name)?;
        }
        let [seconds, warmup_seconds, connections] = *values.as_slice() else {
            return Err("internal error: wrong number of settings".into());
        };
        if warmup_seconds + 20 > seconds {
            return Err(format!(
                "the warm-up ({warmup_seconds} s) must end at least 20 s before the load \
                 ({seconds} s) does, so memory growth can be measured"
            ));
        }
        Ok(Command::Run(Settings {
            seconds,
            warmup_seconds,
            connections,
        }))
    }
}

fn parse(knob: &Knob, text: &str, source: &str) -> Result<u32, String> {
    let value = knob::parse_bounded(text, source, knob.min, knob.max)?;
    u32::try_from(value).map_err(|_| format!("{source}: {value} is too large"))
}

fn usage() -> String {
    let mut text = String::from(
        "rolegate-soak: Envoy with rolegate under wrk, with a mix of valid, expired, forged, \
         wrong-role, retired-key, malformed and missing tokens, while the IdP flaps and rotates \
         keys; every answer is checked\n\nusage: rolegate-soak [options]\n\n",
    );
    for knob in &KNOBS {
        text.push_str(&format!(
            "  {:<14} N   {} (env {}, default {})\n",
            knob.arg, knob.help, knob.env, knob.default
        ));
    }
    text.push_str(
        "\nNeeds .envoy/envoy/_bin/envoy and dist/rolegate.wasm (`make build envoy`; \
         ROLEGATE_ENVOY / ROLEGATE_WASM override the paths) and wrk on PATH.\n",
    );
    text
}
