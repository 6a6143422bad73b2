//! Echo upstream: answers every request with 200 and a JSON description of it:
//! `{"method":..,"path":..,"headers":{name: value,..},"body":"<body as text>"}`
//! (header names lowercased; repeated headers joined with ",").

use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::http::server::lock;
use crate::http::{Handler, Limits, Outcome, Request, Response, Server};

pub struct Echo {
    seen: Arc<Mutex<Vec<Request>>>,
    server: Server,
}

/// The JSON description of a request, as sent back by [`Echo`].
pub fn describe(req: &Request) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    for (n, v) in &req.headers {
        let joined = match headers.get(n).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{v}"),
            None => v.clone(),
        };
        headers.insert(n.clone(), Value::String(joined));
    }
    json!({
        "method": req.method,
        "path": req.target,
        "headers": headers,
        "body": String::from_utf8_lossy(&req.body),
    })
}

impl Echo {
    /// Starts on a free port of 127.0.0.1; panics when it cannot.
    pub fn start() -> Echo {
        let seen: Arc<Mutex<Vec<Request>>> = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = {
            let seen = seen.clone();
            Arc::new(move |req: &Request| {
                lock(&seen).push(req.clone());
                Outcome::Reply(Response::json(200, &describe(req)))
            })
        };
        Echo {
            seen,
            server: Server::on_localhost("upstream", Limits::FORWARDED, handler),
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Number of requests that reached the upstream.
    pub fn count(&self) -> usize {
        lock(&self.seen).len()
    }
}
