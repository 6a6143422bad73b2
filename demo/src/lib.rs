//! The pieces of `make demo`: a local OAuth 2.0 authorization server standing in for
//! Microsoft Entra ID, the "calc" API that rolegate protects, and the driver that runs both
//! with Envoy and walks through the client credentials flow.
//!
//! Envoy, HTTP, signing keys and the local IdP come from the test kit (`rolegate-testkit`).
//! One concept per module here: the OAuth form (`form`), the authorization server
//! (`registrations`, `access_token`, `token_endpoint`, `oauth_error`, `idp`), the upstream
//! (`calc`), rolegate's configuration and bootstrap (`bootstrap`), and the driver
//! (`tutorial`, `tamper`, `console`, `signals`, `work_dir`, `args`, `program`).

pub mod access_token;
pub mod args;
pub mod bootstrap;
pub mod calc;
pub mod console;
pub mod form;
pub mod idp;
pub mod oauth_error;
pub mod program;
pub mod registrations;
pub mod signals;
pub mod tamper;
pub mod token_endpoint;
pub mod tutorial;
pub mod work_dir;
