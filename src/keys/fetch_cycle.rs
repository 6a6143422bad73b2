//! One fetch of a provider's key set, as a state machine the host drives: the cycle names the
//! GET to send, the host sends it and hands the answer back, and the cycle answers with the next
//! GET (the key set after a discovery document), the key set, or why the fetch failed. The host
//! only moves bytes, so every rule about answers (status, size, issuer, key set) is tested here.
//!
//! Who may fetch, and what a result does to the shared record, is `worker_key_sets`' business.

use crate::config::{Endpoint, KeySource, Provider};
use crate::keys::discovery::{self, DiscoveryError, MAX_DOCUMENT_BYTES};
use crate::keys::jwks::{KeySet, KeySetError};
use std::fmt;
use std::time::Duration;

/// Why one answer of a fetch cycle was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No HTTP answer: connect failure, reset or timeout, or the call could not be made.
    NoResponse,
    Status(u32),
    TooLarge(usize),
    NotKeySet(KeySetError),
    NoUsableKeys,
    Discovery(DiscoveryError),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NoResponse => write!(f, "no response (connect failure, reset or timeout)"),
            FetchError::Status(s) => write!(f, "HTTP status {s}"),
            FetchError::TooLarge(n) => write!(f, "body of {n} bytes is over the limit"),
            FetchError::NotKeySet(e) => write!(f, "body is not a key set: {e}"),
            FetchError::NoUsableKeys => write!(f, "key set holds no usable RS256 key"),
            FetchError::Discovery(e) => write!(f, "{e}"),
        }
    }
}

/// The status check every fetched document passes first. `status` is `None` when the host got
/// no HTTP answer at all.
fn check_status(status: Option<u32>) -> Result<(), FetchError> {
    match status {
        None => Err(FetchError::NoResponse),
        Some(200) => Ok(()),
        Some(other) => Err(FetchError::Status(other)),
    }
}

/// Judges a JWKS answer.
pub fn key_set_from_response(
    status: Option<u32>,
    body: &[u8],
    max_bytes: usize,
) -> Result<KeySet, FetchError> {
    check_status(status)?;
    if body.len() > max_bytes {
        return Err(FetchError::TooLarge(body.len()));
    }
    let set = KeySet::parse(body).map_err(FetchError::NotKeySet)?;
    if set.usable_count() == 0 {
        return Err(FetchError::NoUsableKeys);
    }
    Ok(set)
}

/// One GET for the host to dispatch to `endpoint.cluster`. It borrows the endpoint from the
/// configuration or from `Step::Call`, so that starting a cycle copies no strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub endpoint: &'a Endpoint,
    pub timeout: Duration,
}

impl Request<'_> {
    /// The call's headers, pseudo-headers first.
    pub fn headers(&self) -> [(&str, &str); 5] {
        [
            (":method", "GET"),
            (":path", &self.endpoint.path),
            (":authority", &self.endpoint.authority),
            ("accept", "application/json"),
            ("user-agent", "rolegate"),
        ]
    }

    /// The cycle's end when the host will not dispatch this request.
    pub fn refused(&self, refusal: CallRefusal) -> FetchFailure {
        FetchFailure::NotSent {
            cluster: self.endpoint.cluster.clone(),
            refusal,
        }
    }
}

/// Why the host refused to dispatch a call. The names are the proxy-wasm statuses the SDK's
/// `dispatch_http_call` returns, as operators know them from the log (README: troubleshooting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRefusal {
    /// Envoy has no cluster of that name (or the call lacked a pseudo-header it requires).
    BadArgument,
    /// Envoy knows the cluster but its HTTP client would not start the call.
    InternalFailure,
}

/// Which GET of the cycle an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// The discovery document; the key set's GET follows.
    Document,
    Keys,
}

/// A fetch cycle waiting for the answer to the request it last produced. It is `Copy` and holds
/// no strings: the host keeps one per call in flight, and reads the rest from the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchCycle {
    awaiting: Awaiting,
    /// Each call of the cycle has the whole `timeout_ms`.
    timeout: Duration,
    max_jwks_bytes: usize,
}

/// What the host does after an answer.
#[derive(Debug)]
pub enum Step {
    /// Dispatch `cycle.request(&endpoint)` and hand its answer to the cycle.
    Call(FetchCycle, Endpoint),
    /// The cycle is over: a key set with usable keys, and the body to share with other workers.
    Fetched { set: KeySet, body: Vec<u8> },
    /// The cycle is over without keys.
    Failed(FetchFailure),
}

/// Why a fetch cycle ended without keys. Its `Display` is the reason in the fetch-failure log
/// line, which operators and the end-to-end tests read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchFailure {
    NotSent {
        cluster: String,
        refusal: CallRefusal,
    },
    /// An answer's body over its limit (either call), refused unread whatever its status.
    TooLarge(usize),
    /// The discovery document's answer was refused.
    Document(FetchError),
    /// The key set's answer was refused.
    Keys(FetchError),
}

impl fmt::Display for FetchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchFailure::NotSent { cluster, refusal } => match refusal {
                CallRefusal::BadArgument => write!(
                    f,
                    "cannot call cluster {cluster} (BadArgument): Envoy has no cluster of that name"
                ),
                CallRefusal::InternalFailure => write!(
                    f,
                    "cannot call cluster {cluster} (InternalFailure): Envoy could not start the call"
                ),
            },
            FetchFailure::TooLarge(n) => FetchError::TooLarge(*n).fmt(f),
            FetchFailure::Document(e) => write!(f, "discovery document: {e}"),
            FetchFailure::Keys(e) => e.fmt(f),
        }
    }
}

impl FetchCycle {
    /// The cycle's first request; `None` for a provider with inline keys.
    pub fn start(provider: &Provider) -> Option<(FetchCycle, Request<'_>)> {
        let (awaiting, endpoint, fetch) = match &provider.keys {
            KeySource::Local(_) => return None,
            KeySource::Remote { jwks, fetch } => (Awaiting::Keys, jwks, fetch),
            KeySource::Discovery {
                document, fetch, ..
            } => (Awaiting::Document, document, fetch),
        };
        let cycle = FetchCycle {
            awaiting,
            timeout: Duration::from_millis(fetch.timeout_ms),
            max_jwks_bytes: fetch.max_jwks_bytes,
        };
        Some((cycle, cycle.request(endpoint)))
    }

    /// Takes the answer to the last request of the cycle `provider` started. `status` is `None`
    /// when there was no HTTP answer (connect failure, reset, timeout). `read_body` is called
    /// only for a body within the limit, so an oversized one is never copied out of the host.
    // Not inlined: see "Function size" in lib.rs.
    #[inline(never)]
    pub fn answered(
        self,
        provider: &Provider,
        status: Option<u32>,
        body_size: usize,
        read_body: impl FnOnce() -> Vec<u8>,
    ) -> Step {
        let limit = match self.awaiting {
            Awaiting::Document => MAX_DOCUMENT_BYTES,
            Awaiting::Keys => self.max_jwks_bytes,
        };
        if body_size > limit {
            return Step::Failed(FetchFailure::TooLarge(body_size));
        }
        let body = read_body();
        if self.awaiting == Awaiting::Keys {
            return match key_set_from_response(status, &body, self.max_jwks_bytes) {
                Ok(set) => Step::Fetched { set, body },
                Err(e) => Step::Failed(FetchFailure::Keys(e)),
            };
        }
        // Only a discovery provider starts with its document; any other one has no key-set URI
        // to follow either.
        let jwks_cluster = match &provider.keys {
            KeySource::Discovery { jwks_cluster, .. } => Some(jwks_cluster),
            _ => None,
        };
        // discovery::jwks_uri passes only a URI that Endpoint::new accepts: its NoJwksUri covers
        // a refused one too, so the rule for a usable jwks_uri stays in one place.
        let next = check_status(status)
            .and_then(|()| {
                discovery::jwks_uri(&body, &provider.document_issuers)
                    .map_err(FetchError::Discovery)
            })
            .and_then(|uri| {
                jwks_cluster
                    .and_then(|cluster| Endpoint::new(cluster, &uri))
                    .ok_or(FetchError::Discovery(DiscoveryError::NoJwksUri))
            });
        match next {
            Ok(endpoint) => {
                let cycle = FetchCycle {
                    awaiting: Awaiting::Keys,
                    ..self
                };
                Step::Call(cycle, endpoint)
            }
            Err(e) => Step::Failed(FetchFailure::Document(e)),
        }
    }

    /// The GET of this cycle's next call to `endpoint`.
    pub fn request(self, endpoint: &Endpoint) -> Request<'_> {
        Request {
            endpoint,
            timeout: self.timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const ISSUER: &str = "https://login.example/t/v2.0";
    const REMOTE: &str = r#"{"providers":[{"name":"p","issuer":"https://login.example/t/v2.0","audiences":["a"],
        "remote_jwks":{"cluster":"idp","uri":"https://login.example/t/keys","timeout_ms":700,"max_jwks_bytes":1024}}],
        "rules":[{"match":{"prefix":"/"}}]}"#;
    const DISCOVERY: &str = r#"{"providers":[{"name":"p","issuer":"https://login.example/t/v2.0","audiences":["a"],
        "discovery":{"cluster":"idp","uri":"https://login.example/t/v2.0/.well-known/openid-configuration",
                     "jwks_cluster":"keys","timeout_ms":700,"max_jwks_bytes":1024}}],
        "rules":[{"match":{"prefix":"/"}}]}"#;
    const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

    fn provider(config: &str) -> Provider {
        let mut c = Config::parse(config.as_bytes()).expect("config");
        c.providers.remove(0)
    }

    fn key_set() -> Vec<u8> {
        format!(r#"{{"keys":[{{"kty":"RSA","kid":"k1","n":"{N}","e":"AQAB"}}]}}"#).into_bytes()
    }

    fn document(issuer: &str, jwks_uri: &str) -> Vec<u8> {
        format!(r#"{{"issuer":"{issuer}","jwks_uri":"{jwks_uri}"}}"#).into_bytes()
    }

    /// Hands `body` to the cycle as a complete answer.
    fn answer(cycle: FetchCycle, p: &Provider, status: Option<u32>, body: &[u8]) -> Step {
        cycle.answered(p, status, body.len(), || body.to_vec())
    }

    fn failure(step: Step) -> FetchFailure {
        match step {
            Step::Failed(why) => why,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// A discovery cycle past its document: the cycle that waits for the key set.
    fn at_keys(p: &Provider) -> FetchCycle {
        let (cycle, _) = FetchCycle::start(p).expect("remote");
        match answer(
            cycle,
            p,
            Some(200),
            &document(ISSUER, "https://keys.example/k"),
        ) {
            Step::Call(cycle, _) => cycle,
            other => panic!("expected the key-set call, got {other:?}"),
        }
    }

    #[test]
    fn answers_are_judged_strictly() {
        assert_eq!(
            key_set_from_response(None, b"", 10).err(),
            Some(FetchError::NoResponse)
        );
        assert_eq!(
            key_set_from_response(Some(500), b"", 10).err(),
            Some(FetchError::Status(500))
        );
        assert!(matches!(
            key_set_from_response(Some(200), b"<html>", 100),
            Err(FetchError::NotKeySet(_))
        ));
        assert_eq!(
            key_set_from_response(Some(200), br#"{"keys":[]}"#, 100).err(),
            Some(FetchError::NoUsableKeys)
        );
        assert_eq!(
            key_set_from_response(Some(200), &[b' '; 11], 10).err(),
            Some(FetchError::TooLarge(11))
        );
    }

    #[test]
    fn remote_jwks_is_one_get_of_the_key_set() {
        let p = provider(REMOTE);
        let (cycle, request) = FetchCycle::start(&p).expect("remote");
        assert_eq!(request.endpoint.cluster, "idp");
        assert_eq!(request.timeout, Duration::from_millis(700));
        assert_eq!(
            request.headers(),
            [
                (":method", "GET"),
                (":path", "/t/keys"),
                (":authority", "login.example"),
                ("accept", "application/json"),
                ("user-agent", "rolegate"),
            ]
        );
        match answer(cycle, &p, Some(200), &key_set()) {
            Step::Fetched { set, body } => {
                assert_eq!(set.usable_count(), 1);
                assert_eq!(body, key_set(), "the body is what other workers get");
            }
            other => panic!("expected keys, got {other:?}"),
        }
    }

    #[test]
    fn discovery_fetches_the_document_then_its_jwks_uri_through_jwks_cluster() {
        let p = provider(DISCOVERY);
        let (cycle, request) = FetchCycle::start(&p).expect("remote");
        assert_eq!(request.endpoint.cluster, "idp");
        assert_eq!(request.endpoint.authority, "login.example");
        assert_eq!(
            request.endpoint.path,
            "/t/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(request.timeout, Duration::from_millis(700));
        let doc = document(ISSUER, "https://keys.example/t/discovery/keys?appid=1");
        let Step::Call(cycle, endpoint) = answer(cycle, &p, Some(200), &doc) else {
            panic!("expected the key-set call");
        };
        let request = cycle.request(&endpoint);
        assert_eq!(request.endpoint.cluster, "keys");
        assert_eq!(request.endpoint.authority, "keys.example");
        assert_eq!(request.endpoint.path, "/t/discovery/keys?appid=1");
        assert_eq!(request.timeout, Duration::from_millis(700), "per call");
        assert_eq!(request.headers()[0], (":method", "GET"));
        assert!(matches!(
            answer(cycle, &p, Some(200), &key_set()),
            Step::Fetched { .. }
        ));
    }

    #[test]
    fn without_jwks_cluster_the_key_set_goes_through_the_document_cluster() {
        let p = provider(&DISCOVERY.replace(r#""jwks_cluster":"keys","#, ""));
        let (cycle, _) = FetchCycle::start(&p).expect("remote");
        let doc = document(ISSUER, "https://keys.example/k");
        let Step::Call(_, endpoint) = answer(cycle, &p, Some(200), &doc) else {
            panic!("expected the key-set call");
        };
        assert_eq!(endpoint.cluster, "idp");
    }

    #[test]
    fn inline_keys_fetch_nothing() {
        let p = provider(&REMOTE.replace(
            r#""remote_jwks":{"cluster":"idp","uri":"https://login.example/t/keys","timeout_ms":700,"max_jwks_bytes":1024}"#,
            &format!(r#""local_jwks":{}"#, String::from_utf8(key_set()).expect("utf-8")),
        ));
        assert!(matches!(p.keys, KeySource::Local(_)));
        assert!(FetchCycle::start(&p).is_none());
    }

    #[test]
    fn a_document_for_another_issuer_is_a_failed_fetch() {
        let p = provider(DISCOVERY);
        let (cycle, _) = FetchCycle::start(&p).expect("remote");
        let doc = document("https://evil.example/", "https://evil.example/keys");
        let why = failure(answer(cycle, &p, Some(200), &doc));
        assert_eq!(
            why,
            FetchFailure::Document(FetchError::Discovery(DiscoveryError::IssuerMismatch(
                "https://evil.example/".to_string()
            )))
        );
        assert_eq!(
            why.to_string(),
            "discovery document: discovery document issuer \"https://evil.example/\" is not a configured issuer"
        );
    }

    /// Entra's tenant document is the v2.0 one and states the v2 issuer, whichever token
    /// versions the provider accepts: a v1-only provider must still take it, and still refuse
    /// another tenant's.
    #[test]
    fn an_entra_tenant_document_states_the_v2_issuer_even_for_v1_tokens_only() {
        let tenant = "11111111-2222-3333-4444-555555555555";
        let azure = |versions: &str| {
            provider(&format!(
                r#"{{"providers":[{{"name":"p","audiences":["a"],"azure_ad":{{"tenant":"{tenant}",
                    "cluster":"entra","versions":{versions}}}}}],"rules":[{{"match":{{"prefix":"/"}}}}]}}"#
            ))
        };
        let v2 = format!("https://login.microsoftonline.com/{tenant}/v2.0");
        let doc = document(&v2, "https://login.microsoftonline.com/k");
        for versions in [r#"["v1"]"#, r#"["v2"]"#, r#"["v1","v2"]"#] {
            let p = azure(versions);
            let (cycle, _) = FetchCycle::start(&p).expect("remote");
            assert!(
                matches!(answer(cycle, &p, Some(200), &doc), Step::Call(..)),
                "{versions}"
            );
            let (cycle, _) = FetchCycle::start(&p).expect("remote");
            let foreign = document(
                "https://login.microsoftonline.com/99999999-2222-3333-4444-555555555555/v2.0",
                "https://evil.example/keys",
            );
            assert!(
                matches!(
                    failure(answer(cycle, &p, Some(200), &foreign)),
                    FetchFailure::Document(FetchError::Discovery(DiscoveryError::IssuerMismatch(
                        _
                    )))
                ),
                "{versions}"
            );
        }
        assert_eq!(
            azure(r#"["v1"]"#).issuers,
            [format!("https://sts.windows.net/{tenant}/")],
            "tokens: v1 only"
        );
    }

    #[test]
    fn a_document_needs_a_jwks_uri_of_http_or_https() {
        let p = provider(DISCOVERY);
        let no_uri = format!(r#"{{"issuer":"{ISSUER}"}}"#).into_bytes();
        for doc in [
            no_uri,
            document(ISSUER, "ftp://keys.example/k"),
            document(ISSUER, "/relative/keys"),
        ] {
            let (cycle, _) = FetchCycle::start(&p).expect("remote");
            let why = failure(answer(cycle, &p, Some(200), &doc));
            assert_eq!(
                why,
                FetchFailure::Document(FetchError::Discovery(DiscoveryError::NoJwksUri))
            );
            assert_eq!(
                why.to_string(),
                "discovery document: discovery document has no usable jwks_uri"
            );
        }
        let (cycle, _) = FetchCycle::start(&p).expect("remote");
        assert_eq!(
            failure(answer(cycle, &p, Some(200), b"<html>")).to_string(),
            "discovery document: discovery document is not a JSON object"
        );
    }

    #[test]
    fn only_status_200_counts_for_either_call() {
        let remote = provider(REMOTE);
        let (cycle, _) = FetchCycle::start(&remote).expect("remote");
        let why = failure(answer(cycle, &remote, Some(500), &key_set()));
        assert_eq!(why, FetchFailure::Keys(FetchError::Status(500)));
        assert_eq!(why.to_string(), "HTTP status 500");

        let discovery = provider(DISCOVERY);
        let (cycle, _) = FetchCycle::start(&discovery).expect("remote");
        let doc = document(ISSUER, "https://keys.example/k");
        let why = failure(answer(cycle, &discovery, Some(404), &doc));
        assert_eq!(why, FetchFailure::Document(FetchError::Status(404)));
        assert_eq!(why.to_string(), "discovery document: HTTP status 404");

        let cycle = at_keys(&discovery);
        assert_eq!(
            failure(answer(cycle, &discovery, Some(204), &key_set())).to_string(),
            "HTTP status 204"
        );
    }

    #[test]
    fn no_answer_is_a_failed_fetch() {
        let text = "no response (connect failure, reset or timeout)";
        let remote = provider(REMOTE);
        let (cycle, _) = FetchCycle::start(&remote).expect("remote");
        let why = failure(answer(cycle, &remote, None, b""));
        assert_eq!(why, FetchFailure::Keys(FetchError::NoResponse));
        assert_eq!(why.to_string(), text);

        let discovery = provider(DISCOVERY);
        let (cycle, _) = FetchCycle::start(&discovery).expect("remote");
        let why = failure(answer(cycle, &discovery, None, b""));
        assert_eq!(why, FetchFailure::Document(FetchError::NoResponse));
        assert_eq!(why.to_string(), format!("discovery document: {text}"));

        let cycle = at_keys(&discovery);
        assert_eq!(
            failure(answer(cycle, &discovery, None, b"")).to_string(),
            text
        );
    }

    #[test]
    fn a_body_over_the_limit_is_refused_unread_whatever_its_status() {
        let unread = || -> Vec<u8> { panic!("an oversized body must not be read") };
        let remote = provider(REMOTE);
        for status in [Some(200), Some(500), None] {
            let (cycle, _) = FetchCycle::start(&remote).expect("remote");
            let why = failure(cycle.answered(&remote, status, 1025, unread));
            assert_eq!(why, FetchFailure::TooLarge(1025));
            assert_eq!(why.to_string(), "body of 1025 bytes is over the limit");
        }
        // At the limit the body is read (and here judged as a key set).
        let (cycle, _) = FetchCycle::start(&remote).expect("remote");
        let padded = vec![b' '; 1024];
        assert!(matches!(
            failure(answer(cycle, &remote, Some(200), &padded)),
            FetchFailure::Keys(FetchError::NotKeySet(_))
        ));

        let discovery = provider(DISCOVERY);
        let (cycle, _) = FetchCycle::start(&discovery).expect("remote");
        let over = MAX_DOCUMENT_BYTES + 1;
        let why = failure(cycle.answered(&discovery, Some(200), over, unread));
        assert_eq!(why, FetchFailure::TooLarge(over));
        assert_eq!(
            why.to_string(),
            format!("body of {over} bytes is over the limit")
        );
        // The document's own limit is not max_jwks_bytes (1024 here)...
        let (cycle, _) = FetchCycle::start(&discovery).expect("remote");
        let mut doc = document(ISSUER, "https://keys.example/k");
        doc.resize(2048, b' ');
        assert!(matches!(
            answer(cycle, &discovery, Some(200), &doc),
            Step::Call(..)
        ));
        // ...but the key set after it has it.
        let cycle = at_keys(&discovery);
        assert_eq!(
            failure(cycle.answered(&discovery, Some(200), 1025, unread)),
            FetchFailure::TooLarge(1025)
        );
    }

    #[test]
    fn a_body_that_is_not_a_key_set_is_a_failed_fetch() {
        let p = provider(REMOTE);
        let (cycle, _) = FetchCycle::start(&p).expect("remote");
        let why = failure(answer(cycle, &p, Some(200), b"<html>"));
        assert!(
            matches!(why, FetchFailure::Keys(FetchError::NotKeySet(_))),
            "{why:?}"
        );
        assert!(
            why.to_string().starts_with("body is not a key set: "),
            "{why}"
        );
        let (cycle, _) = FetchCycle::start(&p).expect("remote");
        assert_eq!(
            failure(answer(cycle, &p, Some(200), br#"{"kty":"RSA"}"#)),
            FetchFailure::Keys(FetchError::NotKeySet(KeySetError::NoKeysArray))
        );
    }

    #[test]
    fn a_key_set_without_a_usable_key_is_a_failed_fetch() {
        let p = provider(DISCOVERY);
        for set in [
            br#"{"keys":[]}"#.to_vec(),
            String::from_utf8(key_set())
                .expect("utf-8")
                .replace(r#""kty":"RSA""#, r#""kty":"EC""#)
                .into_bytes(),
        ] {
            let cycle = at_keys(&p);
            let why = failure(answer(cycle, &p, Some(200), &set));
            assert_eq!(why, FetchFailure::Keys(FetchError::NoUsableKeys));
            assert_eq!(why.to_string(), "key set holds no usable RS256 key");
        }
    }

    #[test]
    fn a_call_the_host_refuses_names_the_cluster() {
        let p = provider(REMOTE);
        let (_, request) = FetchCycle::start(&p).expect("remote");
        assert_eq!(
            request.refused(CallRefusal::BadArgument).to_string(),
            "cannot call cluster idp (BadArgument): Envoy has no cluster of that name"
        );
        let p = provider(DISCOVERY);
        let (cycle, _) = FetchCycle::start(&p).expect("remote");
        let doc = document(ISSUER, "https://keys.example/k");
        let Step::Call(cycle, endpoint) = answer(cycle, &p, Some(200), &doc) else {
            panic!("expected the key-set call");
        };
        assert_eq!(
            cycle
                .request(&endpoint)
                .refused(CallRefusal::InternalFailure)
                .to_string(),
            "cannot call cluster keys (InternalFailure): Envoy could not start the call"
        );
    }
}
