//! The command line: `run` (the tutorial), `idp` (the authorization server alone) and
//! `calc` (the calc API alone).

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
    let mut options = Options::new(rest);
    let parsed = match command.as_str() {
        "run" => Command::Run {
            envoy: options
                .value("--envoy")?
                .or_else(|| env("ROLEGATE_ENVOY").filter(|v| !v.is_empty()))
                .unwrap_or_else(|| ".envoy/envoy/_bin/envoy".to_string())
                .into(),
            wasm: options
                .value("--wasm")?
                .or_else(|| env("ROLEGATE_WASM").filter(|v| !v.is_empty()))
                .unwrap_or_else(|| "dist/rolegate.wasm".to_string())
                .into(),
            registrations: options.value("--registrations")?.map(PathBuf::from),
            keep_running: options.flag("--keep-running"),
        },
        "idp" => Command::Idp {
            registrations: options.value("--registrations")?.map(PathBuf::from),
            port: options.port()?,
            print_port: options.flag("--print-port"),
        },
        "calc" => Command::Calc {
            port: options.port()?,
            print_port: options.flag("--print-port"),
        },
        "help" | "--help" | "-h" => Command::Help,
        other => return Err(format!("unknown command {other}")),
    };
    options.finish()?;
    Ok(parsed)
}

/// `--name value` and `--flag` options, each taken once.
struct Options {
    rest: Vec<String>,
}

impl Options {
    fn new(args: &[String]) -> Options {
        Options {
            rest: args.to_vec(),
        }
    }

    fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(i) = self.rest.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if self.rest.get(i + 1).is_none() {
            return Err(format!("{name} needs a value"));
        }
        let mut taken = self.rest.drain(i..i + 2);
        let _ = taken.next();
        Ok(taken.next())
    }

    fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    fn port(&mut self) -> Result<u16, String> {
        match self.value("--port")? {
            None => Ok(0),
            Some(text) => text
                .parse()
                .map_err(|_| format!("--port: expected 0 to 65535, got {text}")),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.rest.first() {
            None => Ok(()),
            Some(unknown) => Err(format!("unexpected argument {unknown}")),
        }
    }
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
        assert!(parse(&args("idp --registrations"), |_| None).is_err());
        assert!(parse(&args("fly"), |_| None).is_err());
        assert!(parse(&[], |_| None).is_err());
    }
}
