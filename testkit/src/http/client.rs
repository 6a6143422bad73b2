//! The client for servers on 127.0.0.1 (Envoy's listener and admin interface, the local IdPs):
//! ureq, one connection per request.
//!
//! Nothing is pooled and every request says `connection: close`, so that each one is a new
//! connection Envoy may hand to any worker. Any status is an answer, not an error; redirects
//! are not followed; the target goes on the wire as written, however odd its path.

use std::sync::OnceLock;
use std::time::Duration;

use ureq::http;

use super::response::Response;

/// How long a connection and an answer may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// `host` of [`request`] when the caller sends none.
pub const DEFAULT_HOST: &str = "rolegate.test";
/// The largest body read back.
const MAX_BODY_BYTES: u64 = 64 << 20;

pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    /// A client whose requests give up after `timeout`.
    pub fn with_timeout(timeout: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .allow_non_standard_methods(true)
            .max_idle_connections(0)
            .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
            .timeout_global(Some(timeout))
            .build();
        Client {
            agent: config.into(),
        }
    }

    /// Sends one request to `127.0.0.1:port` and reads the whole answer. `host` is
    /// `127.0.0.1:<port>` unless `headers` has one; `transfer-encoding: chunked` in `headers`
    /// sends the body chunked, else it goes with a `content-length`.
    pub fn send(
        &self,
        port: u16,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, String> {
        let what = format!("{method} {target} to 127.0.0.1:{port}");
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{port}{target}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("connection"))
        {
            builder = builder.header("connection", "close");
        }
        let wants_body = matches!(method, "POST" | "PUT" | "PATCH");
        let sent = match body {
            Some(body) => builder.body(body).map(|r| self.agent.run(r)),
            // An empty body goes with `content-length: 0`, not as chunked.
            None if wants_body => builder.body(&[][..]).map(|r| self.agent.run(r)),
            None => builder.body(()).map(|r| self.agent.run(r)),
        };
        let mut answer = sent
            .map_err(|e| format!("{what}: not a valid request: {e}"))?
            .map_err(|e| format!("{what}: {e}"))?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = answer
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| format!("{what}: reading the body: {e}"))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// The client with the default timeout.
fn shared() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| Client::with_timeout(TIMEOUT))
}

/// [`Client::send`] with the default timeout.
pub fn send(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, String> {
    shared().send(port, method, target, headers, body)
}

/// `GET target` with the default timeout.
pub fn get(port: u16, target: &str) -> Result<Response, String> {
    send(port, "GET", target, &[], None)
}

/// [`send`] for tests: `host` is [`DEFAULT_HOST`] unless `headers` has one, and a failure to
/// get an answer panics.
pub fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut all: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 1);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        all.push(("host", DEFAULT_HOST));
    }
    all.extend_from_slice(headers);
    send(port, method, target, &all, body).unwrap_or_else(|e| panic!("HTTP {e}"))
}
