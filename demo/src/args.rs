//! The command line: `run` (the tutorial), `idp` (the authorization server alone) and
//! `calc` (the calc API alone).

use lexopt::Arg::{Long, Value};
use std::path::PathBuf;

pub const USAGE: &str = "\
usage:
  rolegate-demo run  [--envoy PATH] [--wasm PATH] [--registrations FILE] [--keep-running]
      Starts the authorization server, calc and Envoy with rolegate, and walks through the
      client credentials flow. Exit status 0 when every step passed, 1 when one failed,
      2 when the demo could not start, 130 when interrupted.
      --envoy defaults to $ROLEGATE_ENVOY, else .envoy/envoy/_bin/envoy
      --wasm  defaults to $ROLEGATE_WASM, else dist/rolegate.wasm
      --keep-running leaves everything up after the steps, until Ctrl-C
  rolegate-demo idp  [--registrations FILE] [--port N] [--print-port]
      Serves the Entra-like authorization server on 127.0.0.1 (port 0: a free one).
      --print-port prints only the port, on one line, once it listens.
  rolegate-demo calc [--port N] [--print-port]
      Serves the calc API on 127.0.0.1.
  --registrations defaults to the built-in copy of envoy/demo/registrations.json.";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run {
        envoy: PathBuf,
        wasm: PathBuf,
        registrations: Option<PathBuf>,
        keep_running: bool,
    },
    Idp {
        registrations: Option<PathBuf>,
        port: u16,
        print_port: bool,
    },
    Calc {
        port: u16,
        print_port: bool,
    },
    Help,
}

/// Parses the arguments after the program name; `env` reads environment variables.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("a command is required".to_string());
    };
    // The command decides which options exist, so it is checked before any option is read.
    let command = match command.as_str() {
        "help" | "--help" | "-h" => "help",
        known @ ("run" | "idp" | "calc") => known,
        other => return Err(format!("unknown command {other}")),
    };
    let mut given = Given::default();
    let mut parser = lexopt::Parser::from_args(rest);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match (command, arg) {
            ("run", Long("envoy")) => given.envoy = Some(value(&mut parser)?),
            ("run", Long("wasm")) => given.wasm = Some(value(&mut parser)?),
            ("run", Long("keep-running")) => given.keep_running = true,
            ("run" | "idp", Long("registrations")) => {
                given.registrations = Some(value(&mut parser)?.into());
            }
            ("idp" | "calc", Long("port")) => {
                let text = value(&mut parser)?;
                given.port = text
                    .parse()
                    .map_err(|_| format!("--port: expected 0 to 65535, got {text}"))?;
            }
            ("idp" | "calc", Long("print-port")) => given.print_port = true,
            (_, Value(unknown)) => {
                return Err(format!("unexpected argument {}", unknown.to_string_lossy()))
            }
            (_, other) => return Err(other.unexpected().to_string()),
        }
    }
    Ok(match command {
        "run" => Command::Run {
            envoy: given
                .envoy
                .or_else(|| env("ROLEGATE_ENVOY").filter(|v| !v.is_empty()))
                .unwrap_or_else(|| ".envoy/envoy/_bin/envoy".to_string())
                .into(),
            wasm: given
                .wasm
                .or_else(|| env("ROLEGATE_WASM").filter(|v| !v.is_empty()))
                .unwrap_or_else(|| "dist/rolegate.wasm".to_string())
                .into(),
            registrations: given.registrations,
            keep_running: given.keep_running,
        },
        "idp" => Command::Idp {
            registrations: given.registrations,
            port: given.port,
            print_port: given.print_port,
        },
        "calc" => Command::Calc {
            port: given.port,
            print_port: given.print_port,
        },
        _ => Command::Help,
    })
}

/// What the command line said, before defaults from the environment are filled in.
#[derive(Default)]
struct Given {
    envoy: Option<String>,
    wasm: Option<String>,
    registrations: Option<PathBuf>,
    keep_running: bool,
    port: u16,
    print_port: bool,
}

/// An option's value (`--name value` or `--name=value`) as text.
fn value(parser: &mut lexopt::Parser) -> Result<String, String> {
    let value = parser.value().map_err(|e| e.to_string())?;
    value
        .into_string()
        .map_err(|v| format!("{} is not UTF-8", v.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn run_takes_paths_from_options_then_environment_then_defaults() {
        let env = |name: &str| (name == "ROLEGATE_WASM").then(|| "/m.wasm".to_string());
        assert_eq!(
            parse(&args("run --envoy /e --keep-running"), env),
            Ok(Command::Run {
                envoy: "/e".into(),
                wasm: "/m.wasm".into(),
                registrations: None,
                keep_running: true
            })
        );
        assert_eq!(
            parse(&args("run"), |_| None),
            Ok(Command::Run {
                envoy: ".envoy/envoy/_bin/envoy".into(),
                wasm: "dist/rolegate.wasm".into(),
                registrations: None,
                keep_running: false
            })
        );
    }

    #[test]
    fn servers_and_mistakes() {
        assert_eq!(
            parse(
                &args("idp --registrations r.json --port 0 --print-port"),
                |_| None
            ),
            Ok(Command::Idp {
                registrations: Some("r.json".into()),
                port: 0,
                print_port: true
            })
        );
        assert_eq!(
            parse(&args("calc --port 8080"), |_| None),
            Ok(Command::Calc {
                port: 8080,
                print_port: false
            })
        );
        assert!(parse(&args("calc --port x"), |_| None).is_err());
        assert!(parse(&args("calc --bogus"), |_| None).is_err());
        assert!(parse(&args("calc --keep-running"), |_| None).is_err());
        assert!(parse(&args("help extra"), |_| None).is_err());
        assert_eq!(
            parse(&args("calc --port=9"), |_| None),
            Ok(Command::Calc {
                port: 9,
                print_port: false
            })
        );
        assert!(parse(&args("idp --registrations"), |_| None).is_err());
        assert!(parse(&args("fly"), |_| None).is_err());
        assert!(parse(&[], |_| None).is_err());
    }
}
