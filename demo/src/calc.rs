//! The "calc" API behind Envoy: `GET /calc/v1/{add,sub,mul}/{a}/{b}` answers the integer
//! result as its body, and `/healthz` answers `ok`.
//!
//! It trusts Envoy: it reads who called from the headers rolegate sets (`x-client-id`,
//! `x-client-roles`) and echoes them back as `x-seen-client-id` and `x-seen-client-roles`,
//! with `x-seen-authorization: present|absent`, so that the demo can show what reached the
//! upstream.

use rolegate_testkit::http::{Handler, Limits, Request, Response, Server};
use std::net::SocketAddr;
use std::sync::Arc;

/// Starts the calc API on `addr` (port 0: a free port).
pub fn start(addr: SocketAddr) -> Result<Server, String> {
    let handler: Handler = Arc::new(|request: &Request| handle(request).into());
    Server::start("calc", addr, Limits::STRICT, handler).map_err(|e| format!("bind {addr}: {e}"))
}

/// Answers one request.
pub fn handle(request: &Request) -> Response {
    let path = request.path();
    if path == "/healthz" {
        return only_get(request).unwrap_or_else(|| Response::text(200, "ok"));
    }
    let Some(operation) = path.strip_prefix("/calc/v1/") else {
        return Response::text(404, "not found");
    };
    if let Some(refusal) = only_get(request) {
        return refusal;
    }
    let parts: Vec<&str> = operation.split('/').collect();
    let [name, a, b] = parts.as_slice() else {
        return Response::text(404, "expected /calc/v1/{add|sub|mul}/{a}/{b}");
    };
    let apply: fn(i64, i64) -> Option<i64> = match *name {
        "add" => i64::checked_add,
        "sub" => i64::checked_sub,
        "mul" => i64::checked_mul,
        _ => return Response::text(404, "unknown operation; use add, sub or mul"),
    };
    let (Ok(a), Ok(b)) = (a.parse::<i64>(), b.parse::<i64>()) else {
        return Response::text(400, "operands must be 64-bit integers");
    };
    let Some(result) = apply(a, b) else {
        return Response::text(400, "the result does not fit in 64 bits");
    };
    echo_identity(request, Response::text(200, &result.to_string()))
}

fn only_get(request: &Request) -> Option<Response> {
    (request.method != "GET").then(|| Response::text(405, "use GET").with_header("allow", "GET"))
}

fn echo_identity(request: &Request, response: Response) -> Response {
    let seen = |name: &str| request.header(name).unwrap_or("").to_string();
    let authorization = if request.header("authorization").is_some() {
        "present"
    } else {
        "absent"
    };
    response
        .with_header("x-seen-client-id", &seen("x-client-id"))
        .with_header("x-seen-client-roles", &seen("x-client-roles"))
        .with_header("x-seen-authorization", authorization)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(target: &str, headers: &[(&str, &str)]) -> Response {
        handle(&Request::new("GET", target, headers, &[]))
    }

    #[test]
    fn arithmetic_and_echo() {
        let r = get("/calc/v1/add/1/1", &[("x-client-id", "abc")]);
        assert_eq!((r.status, r.body_text()), (200, "2".to_string()));
        assert_eq!(r.header("x-seen-client-id"), Some("abc"));
        assert_eq!(r.header("x-seen-authorization"), Some("absent"));
        assert_eq!(get("/calc/v1/sub/1/5", &[]).body_text(), "-4");
        assert_eq!(get("/calc/v1/mul/-3/7?x=1", &[]).body_text(), "-21");
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(get("/calc/v1/add/1/x", &[]).status, 400);
        assert_eq!(get("/calc/v1/add/1.5/1", &[]).status, 400);
        assert_eq!(get("/calc/v1/mul/9223372036854775807/2", &[]).status, 400);
        assert_eq!(get("/calc/v1/div/1/1", &[]).status, 404);
        assert_eq!(get("/calc/v1/add/1", &[]).status, 404);
        assert_eq!(get("/elsewhere", &[]).status, 404);
        assert_eq!(
            (
                get("/healthz", &[]).status,
                get("/healthz", &[]).body_text()
            ),
            (200, "ok".into())
        );
    }
}
