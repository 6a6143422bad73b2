//! The drivers' command lines: numeric settings read from the environment or the command line,
//! checked against their bounds, and what `main` does with them.

use std::process::ExitCode;

use lexopt::ValueExt as _;

/// What a driver's command line asked for.
pub enum Command<S> {
    Run(S),
    Help(String),
}

/// A driver's `main`: parses the arguments with `parse`, then prints the help or runs `run`.
/// Exits 2 on a bad command line, 1 when `run` fails or returns false (having said why).
pub fn main<S>(
    name: &str,
    parse: fn(&[String]) -> Result<Command<S>, String>,
    run: fn(&S) -> Result<bool, String>,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Command::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run(settings)) => match run(&settings) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => {
                eprintln!("\n{name} FAILED (see the verdict above)");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("\n{name} FAILED: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// One numeric setting of a driver's settings `S`: where it is kept, its environment variable
/// and argument, its meaning and bounds.
pub struct Knob<S> {
    pub field: fn(&mut S) -> &mut u32,
    pub env: &'static str,
    pub arg: &'static str,
    pub help: &'static str,
    pub min: u64,
    pub max: u64,
}

impl<S> Knob<S> {
    /// Sets the knob in `settings` from `text`; `source` (the variable or argument) names it in
    /// the error.
    fn set(&self, settings: &mut S, text: &str, source: &str) -> Result<(), String> {
        let value = parse_bounded(text, source, self.min, self.max)?;
        // The bounds keep every value within u32.
        *(self.field)(settings) =
            u32::try_from(value).map_err(|_| format!("{source}: {value} is too large"))?;
        Ok(())
    }
}

/// Sets each of `knobs` whose environment variable is set.
pub fn read_env<S>(settings: &mut S, knobs: &[Knob<S>]) -> Result<(), String> {
    for knob in knobs {
        if let Ok(text) = std::env::var(knob.env) {
            knob.set(settings, &text, knob.env)?;
        }
    }
    Ok(())
}

/// Sets the knob of argument `--<name>` from the value after it; an unknown name is an error
/// followed by `usage()`.
pub fn read_arg<S>(
    settings: &mut S,
    knobs: &[Knob<S>],
    name: String,
    parser: &mut lexopt::Parser,
    usage: fn() -> String,
) -> Result<(), String> {
    let name = format!("--{name}");
    let knob = knobs
        .iter()
        .find(|k| k.arg == name)
        .ok_or_else(|| format!("unknown argument {name:?}\n\n{}", usage()))?;
    let value = parser
        .value()
        .map_err(|_| format!("{name} needs a value"))?
        .string()
        .map_err(|e| e.to_string())?;
    knob.set(settings, &value, &name)
}

/// The knobs' lines of `--help`, with the values of `defaults`.
pub fn usage<S>(knobs: &[Knob<S>], mut defaults: S) -> String {
    knobs
        .iter()
        .map(|knob| {
            let default = *(knob.field)(&mut defaults);
            let (arg, help, env) = (knob.arg, knob.help, knob.env);
            format!("  {arg:<14} N   {help} (env {env}, default {default})\n")
        })
        .collect()
}

/// `text` as a whole number from `min` to `max`; `source` (the variable or argument) names it in
/// the error.
pub fn parse_bounded(text: &str, source: &str, min: u64, max: u64) -> Result<u64, String> {
    let value: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{source}: expected a whole number, got {text:?}"))?;
    if value < min || value > max {
        return Err(format!("{source}: expected {min} to {max}, got {value}"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_errors() {
        assert_eq!(parse_bounded(" 12 ", "X", 1, 20), Ok(12));
        assert!(parse_bounded("0", "X", 1, 20)
            .unwrap_err()
            .contains("1 to 20"));
        assert!(parse_bounded("1s", "X", 1, 20)
            .unwrap_err()
            .starts_with("X:"));
    }
}
