//! Envoy's `verify_signature` foreign function behind the core's `VerifySignatureHost`; what
//! each answer means is decided in `foreign_verify`.

use crate::crypto::foreign_verify::{HostAnswer, HostVerifier, VerifySignatureHost};
use proxy_wasm::hostcalls;
use proxy_wasm::types::Status;

pub struct EnvoyVerifySignature;

impl VerifySignatureHost for EnvoyVerifySignature {
    fn verify_signature(&self, arguments: &[u8]) -> HostAnswer {
        match hostcalls::call_foreign_function("verify_signature", Some(arguments)) {
            Ok(Some(answer)) => HostAnswer::Data(answer),
            Ok(None) => HostAnswer::NoData,
            Err(Status::NotFound) => HostAnswer::NotFound,
            Err(_) => HostAnswer::Failed,
        }
    }
}

/// RS256 with Envoy's BoringSSL, pure Rust where the host lacks it.
pub type HostCrypto = HostVerifier<EnvoyVerifySignature>;

pub fn host_crypto() -> HostCrypto {
    HostVerifier::new(EnvoyVerifySignature)
}
