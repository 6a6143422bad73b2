//! RS256 through Envoy's `verify_signature` foreign function (BoringSSL, about twenty times
//! faster than RSA compiled to wasm), and what to do with each kind of answer.
//!
//! The wire format: protobuf messages
//! `VerifySignatureArguments {hash_function=1, public_key=2 (DER), signature=3, text=4}` and
//! `VerifySignatureResult {result=1, error=2}`, encoded by hand (a protobuf crate would cost
//! more module size than these forty lines).

use crate::crypto::rs256::{Rs256Key, SignatureVerifier};
use std::cell::Cell;

/// What the host did with one `verify_signature` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAnswer {
    /// The call returned these bytes (a `VerifySignatureResult`, if all is well).
    Data(Vec<u8>),
    /// The call succeeded without returning anything.
    NoData,
    /// The host has no such function (other proxies, older Envoy).
    NotFound,
    /// Any other failure status (BadArgument, ...).
    Failed,
}

/// The host side of the call; Envoy's in the module, a stand-in in tests.
pub trait VerifySignatureHost {
    fn verify_signature(&self, arguments: &[u8]) -> HostAnswer;
}

/// Verifies with the host's crypto where it answers, with the pure-Rust path where it cannot.
/// A well-formed answer is final, also a refusal with an error text: falling back then would
/// let a signature the host rejected be judged again. Only an answer that says nothing (no
/// data, bytes that are not a result, a failure status) falls back, and the pure-Rust path is
/// never less strict.
pub struct HostVerifier<H> {
    host: H,
    available: Cell<bool>,
    host_calls: Cell<u64>,
}

impl<H: VerifySignatureHost> HostVerifier<H> {
    pub fn new(host: H) -> Self {
        HostVerifier {
            host,
            available: Cell::new(true),
            host_calls: Cell::new(0),
        }
    }

    /// Verifications the host answered (the rest fell back to pure Rust): what the crypto probe
    /// reports.
    #[cfg(any(test, feature = "crypto-probe"))]
    pub fn host_calls(&self) -> u64 {
        self.host_calls.get()
    }
}

impl<H: VerifySignatureHost> SignatureVerifier for HostVerifier<H> {
    fn verify(&self, key: &Rs256Key, message: &[u8], signature: &[u8]) -> bool {
        // RFC 8017 §8.2.2 step 1, checked here whatever the host does.
        if signature.len() != key.modulus().len() {
            return false;
        }
        if self.available.get() {
            let arguments = encode_arguments(key.spki_der(), signature, message);
            match self.host.verify_signature(&arguments) {
                HostAnswer::Data(answer) => {
                    if let Some(result) = decode_result(&answer) {
                        self.host_calls.set(self.host_calls.get().saturating_add(1));
                        return result;
                    }
                }
                // Not offered by this host: stop asking.
                HostAnswer::NotFound => self.available.set(false),
                HostAnswer::NoData | HostAnswer::Failed => {}
            }
        }
        key.verify(message, signature)
    }
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn push_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    push_varint(out, (field << 3) | 2);
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub fn encode_arguments(public_key_der: &[u8], signature: &[u8], text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(public_key_der.len() + signature.len() + text.len() + 24);
    push_bytes_field(&mut out, 1, b"sha256");
    push_bytes_field(&mut out, 2, public_key_der);
    push_bytes_field(&mut out, 3, signature);
    push_bytes_field(&mut out, 4, text);
    out
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// `Some(result)` for a well-formed answer (a missing `result` field is proto3's false);
/// `None` when the bytes are not a `VerifySignatureResult`.
pub fn decode_result(bytes: &[u8]) -> Option<bool> {
    let mut at = 0;
    let mut result = false;
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at)?;
        match (key >> 3, key & 7) {
            (1, 0) => result = read_varint(bytes, &mut at)? == 1,
            (_, 0) => {
                read_varint(bytes, &mut at)?;
            }
            (_, 2) => {
                let len = usize::try_from(read_varint(bytes, &mut at)?).ok()?;
                at = at.checked_add(len).filter(|end| *end <= bytes.len())?;
            }
            _ => return None,
        }
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::jwks::{KeyLookup, KeySet};
    use std::cell::RefCell;

    /// Answers every call with the same thing and counts the calls.
    struct Scripted {
        answer: HostAnswer,
        calls: RefCell<Vec<Vec<u8>>>,
    }

    impl VerifySignatureHost for &Scripted {
        fn verify_signature(&self, arguments: &[u8]) -> HostAnswer {
            self.calls.borrow_mut().push(arguments.to_vec());
            self.answer.clone()
        }
    }

    const TOKEN: &str =
        include_str!("../../tests/vectors/azure-real/nav-pensjonskalkulator-v2-app-roles.jwt");
    const KEYS: &str =
        include_str!("../../tests/vectors/azure-real/entra-common-jwks-2024-09-03.json");

    /// The real Entra token's key, signing input and signature, and a tampered signature.
    fn material() -> (Rs256Key, Vec<u8>, Vec<u8>, Vec<u8>) {
        let token = crate::token::parse(TOKEN.trim(), 8192).expect("token");
        let set = KeySet::parse(KEYS.as_bytes()).expect("keys");
        let KeyLookup::Found(key) = set.lookup(token.kid.as_deref(), None) else {
            panic!("key not found");
        };
        let mut bad = token.signature.clone();
        bad[10] ^= 1;
        (
            key.clone(),
            token.signing_input.as_bytes().to_vec(),
            token.signature.clone(),
            bad,
        )
    }

    fn run(answer: HostAnswer) -> (bool, bool, usize, u64) {
        let (key, message, good, bad) = material();
        let host = Scripted {
            answer,
            calls: RefCell::new(Vec::new()),
        };
        let verifier = HostVerifier::new(&host);
        let with_good = verifier.verify(&key, &message, &good);
        let with_bad = verifier.verify(&key, &message, &bad);
        let calls = host.calls.borrow().len();
        (with_good, with_bad, calls, verifier.host_calls())
    }

    #[test]
    fn each_kind_of_host_answer() {
        // A result is final, whatever the signature: the host said so.
        assert_eq!(run(HostAnswer::Data(vec![0x08, 0x01])), (true, true, 2, 2));
        assert_eq!(
            run(HostAnswer::Data(b"\x12\x0bbad key der".to_vec())),
            (false, false, 2, 2),
            "an error text with no result is a refusal, not a reason to ask pure Rust"
        );
        // Answers that say nothing: the pure-Rust check decides, on every call.
        for answer in [
            HostAnswer::Data(vec![0x12, 0x05, b'n']),
            HostAnswer::NoData,
            HostAnswer::Failed,
        ] {
            assert_eq!(run(answer.clone()), (true, false, 2, 0), "{answer:?}");
        }
        // A host without the function is asked once, then never again.
        assert_eq!(run(HostAnswer::NotFound), (true, false, 1, 0));
    }

    #[test]
    fn a_signature_of_the_wrong_length_never_reaches_the_host() {
        let (key, message, good, _) = material();
        let host = Scripted {
            answer: HostAnswer::Data(vec![0x08, 0x01]),
            calls: RefCell::new(Vec::new()),
        };
        let verifier = HostVerifier::new(&host);
        assert!(!verifier.verify(&key, &message, &good[1..]));
        let mut long = good.clone();
        long.insert(0, 0);
        assert!(!verifier.verify(&key, &message, &long));
        assert!(host.calls.borrow().is_empty());
        assert!(verifier.verify(&key, &message, &good));
        assert_eq!(
            host.calls.borrow()[0],
            encode_arguments(key.spki_der(), &good, &message)
        );
    }

    #[test]
    fn arguments_are_length_delimited_fields_in_order() {
        let args = encode_arguments(&[1, 2], &[3; 200], b"t");
        assert_eq!(&args[..8], b"\x0a\x06sha256");
        assert_eq!(&args[8..12], &[0x12, 2, 1, 2]);
        assert_eq!(
            &args[12..15],
            &[0x1a, 0xc8, 0x01],
            "200 as a two-byte varint"
        );
        assert_eq!(&args[215..], &[0x22, 1, b't']);
    }

    #[test]
    fn results_decode_strictly() {
        assert_eq!(decode_result(&[0x08, 0x01]), Some(true));
        assert_eq!(
            decode_result(&[0x08, 0x00, 0x12, 0x02, b'n', b'o']),
            Some(false)
        );
        assert_eq!(decode_result(&[0x12, 0x02, b'n', b'o']), Some(false));
        assert_eq!(decode_result(&[]), Some(false));
        assert_eq!(decode_result(&[0x12, 0x05, b'n']), None, "truncated");
        assert_eq!(decode_result(&[0x08]), None);
        assert_eq!(
            decode_result(&[0x0d, 0, 0, 0, 0]),
            None,
            "fixed32 is not expected"
        );
    }
}
