//! `rolegate`: the operator CLI. It shares the filter's pure core (the very `decide` the
//! Envoy filter runs) and is never part of the wasm module.
//!
//! Exit codes: 0 allow / valid / decoded, 1 deny / not decodable, 2 usage or input error.

mod args;
mod check;
mod decode;
mod text;
mod validate;

use std::io::{Read, Write};
use std::process::ExitCode;

pub const USAGE: &str = "\
rolegate: operator CLI for the rolegate Envoy filter (RS256 bearer tokens, app roles)

Usage:
  rolegate check --config CONFIG.json --jwks JWKS.json --token TOKEN|@FILE
                 [--path PATH] [--method METHOD] [--at UNIX_SECONDS]
  rolegate config validate CONFIG.json
  rolegate decode TOKEN|@FILE
  rolegate help [COMMAND]      (also: rolegate --help, rolegate COMMAND --help)
  rolegate --version

Commands:
  check            Runs the filter's exact decision offline for one request carrying the
                   token, with JWKS.json as the key set of every provider, and prints the
                   verdict, the HTTP answer, the reason, the header changes and the claims.
  config validate  Lists every problem of a plugin configuration, or summarizes it.
  decode           Prints a token's header and payload WITHOUT verifying anything.

TOKEN|@FILE: the token itself (no 'Bearer ' prefix), @FILE to read it from a file, or @- to
read it from stdin; surrounding whitespace is trimmed.

Exit codes: 0 allowed / configuration valid / decoded; 1 denied / not decodable;
            2 usage error, unreadable file, invalid configuration or key set.
";

pub const CHECK_USAGE: &str = "\
Usage: rolegate check --config CONFIG.json --jwks JWKS.json --token TOKEN|@FILE
                      [--path PATH] [--method METHOD] [--host HOST] [--at UNIX_SECONDS]

Runs the decision the filter makes (rule, token, issuer, key, signature, audience, lifetime,
required claims, roles, claims) for one request, offline:
  :method    METHOD (default GET; upper-cased)
  :path      PATH (default /; must start with /)
  :authority HOST (default localhost)
  the token in the first from_headers location (default 'authorization: Bearer TOKEN')

JWKS.json stands in for the key set of every provider of the configuration, remote ones
included, as if the filter had just fetched it (a key set the filter would refuse, e.g. one
with no usable RS256 key or over max_jwks_bytes, leaves that provider without keys: 503).

  --config FILE     plugin configuration (the JSON the Envoy filter takes)
  --jwks FILE       JSON Web Key Set
  --token T|@FILE   the bearer token; @FILE reads it from a file, @- from stdin
  --path PATH       request path, query included if you like (rules ignore it)
  --method METHOD   request method
  --host HOST       request host (:authority), port included if you like; rules with
                    match.hosts compare all of it, as Envoy's virtual hosts do
  --at SECONDS      freeze the clock at these Unix seconds (default: now)

Prints ALLOW or DENY, the status the filter answers (200 = the request continues upstream),
its headers and body on a deny, the reason, the headers added/removed on an allow, and the
token's claims, labelled VERIFIED only when the filter checked the signature.

Exit codes: 0 ALLOW, 1 DENY, 2 usage error or unreadable/invalid configuration, key set, token file.
";

pub const CONFIG_USAGE: &str = "\
Usage: rolegate config validate CONFIG.json

Reads the plugin configuration exactly as the filter does. Prints every problem, one per line
and naming its field, and exits 2; or prints a summary (providers with their issuers,
audiences and key source; rules in order) and exits 0.
";

pub const DECODE_USAGE: &str = "\
Usage: rolegate decode TOKEN|@FILE

Prints the token's header and payload as pretty JSON, UNVERIFIED: the signature is not
checked (use 'rolegate check' for that). exp, nbf and iat are shown as UTC dates. Any alg is
decoded. Segments that are not strict base64url (padding, '+' or '/') are decoded leniently
and flagged, since the filter refuses them.

Exit codes: 0 decoded, 1 not a decodable JWS, 2 usage error or unreadable file.
";

/// Why a command could not run at all (exit 2).
#[derive(Debug)]
pub enum CliError {
    Usage {
        message: String,
        command: &'static str,
    },
    /// An unreadable file, a key set that is not one, a bad token file.
    Input(String),
    /// Every problem of a configuration, one per line.
    Config { file: String, problems: Vec<String> },
}

/// What a command prints and how it exits.
#[derive(Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.stdout.push_str(text.as_ref());
        self.stdout.push('\n');
    }

    pub fn error(&mut self, text: impl AsRef<str>) {
        self.stderr.push_str(text.as_ref());
        self.stderr.push('\n');
    }

    /// Prints a usage text, as asked for: exit code 0.
    pub fn help(&mut self, usage: &str) -> Result<u8, CliError> {
        self.line(usage.trim_end());
        Ok(0)
    }
}

fn command_usage(command: &str) -> Option<&'static str> {
    match command {
        "check" => Some(CHECK_USAGE),
        "config" | "config validate" | "validate" => Some(CONFIG_USAGE),
        "decode" => Some(DECODE_USAGE),
        _ => None,
    }
}

fn usage_error(message: impl Into<String>, command: &'static str) -> CliError {
    let message = message.into();
    CliError::Usage { message, command }
}

/// Reads a whole file, naming what it was meant to be on failure.
pub fn read_file(what: &str, path: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Input(format!("cannot read {what} {path}: {e}")))
}

/// `TOKEN`, `@FILE` or `@-`, trimmed. A token is one header-safe word: no whitespace inside.
pub fn read_token(spec: &str, command: &'static str) -> Result<String, CliError> {
    let raw = match spec.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::Input(format!("cannot read the token from stdin: {e}")))?;
            text
        }
        Some(path) => {
            let bytes = read_file("token file", path)?;
            String::from_utf8(bytes)
                .map_err(|_| CliError::Input(format!("token file {path} is not UTF-8 text")))?
        }
        None => spec.to_string(),
    };
    let token = raw.trim();
    if token.is_empty() {
        return Err(usage_error("the token is empty", command));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(usage_error(
            "the token contains whitespace or control characters; pass the token alone, \
             without 'Bearer ' (a file must hold only the token)",
            command,
        ));
    }
    Ok(token.to_string())
}

fn run(args: &[String], out: &mut Output) -> Result<u8, CliError> {
    let (first, rest) = match args.split_first() {
        Some((first, rest)) => (first.as_str(), rest),
        None => return Err(usage_error("a command is required", "rolegate")),
    };
    match first {
        "-h" | "--help" => out.help(USAGE),
        "-V" | "--version" => {
            out.line(format!("rolegate {}", env!("CARGO_PKG_VERSION")));
            Ok(0)
        }
        "help" => match rest {
            [] => out.help(USAGE),
            [command, ..] => {
                let joined = rest.join(" ");
                match command_usage(&joined).or_else(|| command_usage(command)) {
                    Some(text) => out.help(text),
                    None => Err(usage_error(
                        format!("no such command: {command}"),
                        "rolegate",
                    )),
                }
            }
        },
        "check" => check::run(rest, out),
        "decode" => decode::run(rest, out),
        "config" => match rest.split_first() {
            Some((sub, rest)) if sub == "validate" => validate::run(rest, out),
            Some((sub, _)) if sub == "-h" || sub == "--help" => out.help(CONFIG_USAGE),
            Some((sub, _)) => Err(usage_error(
                format!("unknown config subcommand {sub:?} (expected: validate)"),
                "config",
            )),
            None => Err(usage_error(
                "a subcommand is required (expected: validate)",
                "config",
            )),
        },
        other => Err(usage_error(
            format!("unknown command {other:?}"),
            "rolegate",
        )),
    }
}

fn report(error: CliError, out: &mut Output) {
    match error {
        CliError::Usage { message, command } => {
            out.error(format!("rolegate: error: {message}"));
            let synopsis = command_usage(command)
                .and_then(|text| text.lines().next())
                .unwrap_or("Usage: rolegate check | config validate | decode | help");
            out.error(synopsis);
            let help = if command == "rolegate" {
                "rolegate --help".to_string()
            } else {
                format!("rolegate help {command}")
            };
            out.error(format!("Run '{help}' for details."));
        }
        CliError::Input(message) => out.error(format!("rolegate: error: {message}")),
        CliError::Config { file, problems } => {
            for problem in &problems {
                out.error(format!("{file}: {problem}"));
            }
            let n = problems.len();
            let plural = if n == 1 { "" } else { "s" };
            out.error(format!(
                "rolegate: error: configuration {file} is invalid ({n} problem{plural})"
            ));
        }
    }
}

fn main() -> ExitCode {
    let mut out = Output::default();
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let code = match args {
        Ok(args) => match run(&args, &mut out) {
            Ok(code) => code,
            Err(e) => {
                report(e, &mut out);
                2
            }
        },
        Err(_) => {
            out.error("rolegate: error: an argument is not valid UTF-8");
            2
        }
    };
    // Write errors (a closed pipe) are ignored rather than turned into a panic.
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    ExitCode::from(code)
}
