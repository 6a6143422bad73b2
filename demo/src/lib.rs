//! The pieces of `make demo`: a local OAuth 2.0 authorization server standing in for
//! Microsoft Entra ID, the "calc" API that rolegate protects, and the driver that runs both
//! with Envoy and walks through the client credentials flow.
//!
//! One concept per module: HTTP (`http_message`, `http_server`, `http_client`, `form`), the
//! authorization server (`registrations`, `signing_key`, `jwt`, `access_token`,
//! `token_endpoint`, `oauth_error`, `idp`), the upstream (`calc`), Envoy (`bootstrap`,
//! `envoy`), and the driver (`tutorial`, `console`, `signals`, `work_dir`, `args`).

pub mod access_token;
pub mod args;
pub mod bootstrap;
pub mod calc;
pub mod console;
pub mod envoy;
pub mod form;
pub mod http_client;
pub mod http_message;
pub mod http_server;
pub mod idp;
pub mod jwt;
pub mod oauth_error;
pub mod registrations;
pub mod signals;
pub mod signing_key;
pub mod token_endpoint;
pub mod tutorial;
pub mod work_dir;
