//! RS256 signature verification: the key and the PKCS#1 v1.5 check, the RSA arithmetic of the
//! pure-Rust path, and the seam to Envoy's BoringSSL with the DER key it imports.

pub mod foreign_verify;
pub mod rs256;
pub mod rsa_public;
pub mod siphash;
pub mod spki;
