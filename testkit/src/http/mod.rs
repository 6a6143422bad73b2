//! HTTP/1.1 for the local IdPs, upstreams and clients: the messages, a threaded server that
//! can also hang or reset a connection on purpose, and a client (ureq) for 127.0.0.1.

pub mod client;
pub mod request;
pub mod response;
pub mod server;

pub use client::{request, send, Client};
pub use request::Request;
pub use response::Response;
pub use server::{Handler, Limits, Outcome, Server};

/// First value of a header in lowercased (name, value) pairs (name case-insensitive).
fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
