//! `rolegate-demo`, built for the demo's tests in this package (see Cargo.toml).

fn main() -> std::process::ExitCode {
    rolegate_demo::program::main()
}
