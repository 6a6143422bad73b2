//! The soak's knobs: environment variables (`SOAK_SECONDS=600`), overridden by command-line
//! arguments (`--seconds 600`).

use lexopt::prelude::*;
use rolegate_bench::knob::{self, Command, Knob};

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long wrk drives Envoy.
    pub seconds: u32,
    /// When memory is first measured for the growth check, counted from the start of the load.
    pub warmup_seconds: u32,
    /// wrk connections, one per wrk thread.
    pub connections: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seconds: 120,
            warmup_seconds: 20,
            connections: 8,
        }
    }
}

/// The numeric settings.
const KNOBS: [Knob<Settings>; 3] = [
    Knob {
        field: |s| &mut s.seconds,
        env: "SOAK_SECONDS",
        arg: "--seconds",
        help: "seconds of load",
        min: 30,
        max: 7 * 24 * 3600,
    },
    Knob {
        field: |s| &mut s.warmup_seconds,
        env: "SOAK_WARMUP_SECONDS",
        arg: "--warmup",
        help: "seconds of load before the memory baseline",
        min: 0,
        max: 3600,
    },
    Knob {
        field: |s| &mut s.connections,
        env: "SOAK_CONNECTIONS",
        arg: "--connections",
        help: "wrk connections, one per wrk thread",
        min: 1,
        max: 64,
    },
];

impl Settings {
    /// Reads the environment, then `args` (without the program name).
    pub fn parse(args: &[String]) -> Result<Command<Settings>, String> {
        let mut s = Settings::default();
        knob::read_env(&mut s, &KNOBS)?;
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
            match arg {
                Short('h') | Long("help") => return Ok(Command::Help(usage())),
                Long(name) => knob::read_arg(&mut s, &KNOBS, name.into(), &mut parser, usage)?,
                other => return Err(format!("{}\n\n{}", other.unexpected(), usage())),
            }
        }
        if s.warmup_seconds + 20 > s.seconds {
            return Err(format!(
                "the warm-up ({} s) must end at least 20 s before the load ({} s) does, so \
                 memory growth can be measured",
                s.warmup_seconds, s.seconds
            ));
        }
        Ok(Command::Run(s))
    }
}

fn usage() -> String {
    let mut text = String::from(
        "rolegate-soak: Envoy with rolegate under wrk, with a mix of valid, expired, forged, \
         wrong-role, retired-key, malformed and missing tokens, while the IdP flaps and rotates \
         keys; every answer is checked\n\nusage: rolegate-soak [options]\n\n",
    );
    text.push_str(&knob::usage(&KNOBS, Settings::default()));
    text.push_str(
        "\nNeeds .envoy/envoy/_bin/envoy and dist/rolegate.wasm (`make build envoy`; \
         ROLEGATE_ENVOY / ROLEGATE_WASM override the paths) and wrk on PATH.\n",
    );
    text
}
