//! `rolegate-demo`: see `args::USAGE` (the program is `rolegate_demo::program`).

fn main() -> std::process::ExitCode {
    rolegate_demo::program::main()
}
