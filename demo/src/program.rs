//! `rolegate-demo`'s command line (see `args::USAGE`), carried out. It lives in the library so
//! that the Envoy tests (envoy-tests/) can build the same program as a binary of their own:
//! Cargo hands an integration test only its own package's binaries.

use crate::args::{self, Command, USAGE};
use crate::idp::Idp;
use crate::registrations::{Registrations, BUILT_IN};
use crate::tutorial::{self, Options, Outcome};
use crate::{calc, signals};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

/// Exit status when the demo could not be started or the command line is wrong.
const SETUP_FAILED: u8 = 2;

/// What `rolegate-demo` does with its command line; the exit status says how it went.
pub fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&argv, |name| std::env::var(name).ok()) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("rolegate-demo: {e}\n{USAGE}");
            return ExitCode::from(SETUP_FAILED);
        }
    };
    match execute(command) {
        // The interrupt watcher exits with 130 after its cleanup, but the main thread also sees
        // the signal (it ends `--keep-running`) and may finish first: it must not answer 0.
        Ok(_) if signals::interrupted() => ExitCode::from(signals::INTERRUPTED_EXIT_STATUS as u8),
        Ok(code) => code,
        Err(e) => {
            eprintln!("rolegate-demo: {e}");
            if signals::interrupted() {
                ExitCode::from(signals::INTERRUPTED_EXIT_STATUS as u8)
            } else {
                ExitCode::from(SETUP_FAILED)
            }
        }
    }
}

fn execute(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            envoy,
            wasm,
            registrations,
            keep_running,
        } => {
            let (registrations, registrations_source) = load(registrations.as_deref())?;
            let outcome = tutorial::run(Options {
                envoy,
                wasm,
                registrations,
                registrations_source,
                keep_running,
            })?;
            Ok(match outcome {
                Outcome::AllPassed => ExitCode::SUCCESS,
                Outcome::SomeFailed => ExitCode::FAILURE,
            })
        }
        Command::Idp {
            registrations,
            port,
            print_port,
        } => {
            let (registrations, _) = load(registrations.as_deref())?;
            let idp = Idp::start(registrations, localhost(port))?;
            if print_port {
                announce(&idp.port().to_string())?;
            } else {
                announce(&format!(
                    "authorization server on {}\n  issuer          {}\n  token endpoint  {}\n  discovery       {}\n  keys            {}",
                    idp.base_url(),
                    idp.issuer(),
                    idp.token_url(),
                    idp.discovery_url(),
                    idp.jwks_url()
                ))?;
            }
            idp.run_forever();
            Ok(ExitCode::SUCCESS)
        }
        Command::Calc { port, print_port } => {
            let server = calc::start(localhost(port))?;
            if print_port {
                announce(&server.port().to_string())?;
            } else {
                announce(&format!("calc API on http://127.0.0.1:{}", server.port()))?;
            }
            server.run_forever();
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The registrations from `path`, else the built-in ones, and where they came from.
fn load(path: Option<&Path>) -> Result<(Registrations, String), String> {
    match path {
        Some(path) => Ok((Registrations::load(path)?, path.display().to_string())),
        None => Ok((
            Registrations::parse(BUILT_IN)?,
            "envoy/demo/registrations.json, built in".to_string(),
        )),
    }
}

/// Prints a line and flushes it, so that a parent reading our stdout sees it at once.
fn announce(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))
}
