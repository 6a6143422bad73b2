//! Every test that needs a real Envoy or the built module, one module per suite. Run by
//! `make test` (`cargo test --workspace`), not by plain `cargo test`: see CONTRIBUTING.md.
//!
//! Prerequisites (the tests fail, never skip, without them):
//! * `make envoy`: Envoy 1.40 in `.envoy/` (or `ROLEGATE_ENVOY=<binary>`);
//! * `make build`: `dist/rolegate.wasm`, newer than its sources (or `ROLEGATE_WASM=<module>`,
//!   taken as it is);
//! * `make probe` for `host_crypto`.
//!
//! Each test starts its own IdP, upstream and Envoy, so tests run in parallel.

mod access_log;
mod control_planes;
mod demo;
mod dry_run;
mod e2e;
mod envoy_examples;
mod function_size;
mod grpc;
mod host_crypto;
mod lifecycle;
mod module_exports;
mod oci_image;
mod paths;
mod policy;
