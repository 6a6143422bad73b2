//! HTTP/2 with prior knowledge (h2c), as gRPC clients speak it, through the system's `curl`
//! (built with nghttp2). The testkit's own client (ureq) speaks HTTP/1.1 only. Without curl
//! every call fails with a message saying so: a test cannot pass without having sent.

use std::process::Command;

use crate::http::Response;

/// Sends `method path` over HTTP/2 to 127.0.0.1:`port` with `headers` and `body`; the answer
/// with its headers (lowercased by HTTP/2; the `:status` line parsed into `status`).
///
/// An empty `body` ends the stream with the headers. Send one when the request is to be
/// answered before its body is read (a denial): Envoy then resets the rest of the stream with
/// NO_ERROR after its answer, and curl 7.88 reports that as a framing error (exit 92) when it
/// has not finished sending.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("scratch directory: {e}"))?;
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, body).map_err(|e| format!("write request body: {e}"))?;
    let mut command = Command::new("curl");
    command
        .args([
            "--silent",
            "--show-error",
            "--http2-prior-knowledge",
            "--include",
        ])
        .args(["--max-time", "10", "--request", method])
        .arg("--data-binary")
        .arg(format!("@{}", body_file.display()));
    for (name, value) in headers {
        command.arg("--header").arg(format!("{name}: {value}"));
    }
    command.arg(format!("http://127.0.0.1:{port}{path}"));
    let output = command.output().map_err(|e| {
        format!("cannot run curl ({e}): the HTTP/2 tests need it (apt-get install curl)")
    })?;
    if !output.status.success() {
        return Err(format!(
            "curl failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&output.stdout)
}

/// `curl --include` output: `HTTP/2 <status>`, header lines, a blank line, the body.
fn parse(out: &[u8]) -> Result<Response, String> {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {:?}", String::from_utf8_lossy(out)))?;
    let head = String::from_utf8_lossy(out.get(..split).unwrap_or_default()).into_owned();
    let body = out.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = match status_line.split(' ').collect::<Vec<_>>().as_slice() {
        ["HTTP/2", code, ..] => code
            .parse::<u16>()
            .map_err(|e| format!("status line {status_line:?}: {e}"))?,
        _ => return Err(format!("not an HTTP/2 answer: {status_line:?}")),
    };
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect();
    Ok(Response {
        status,
        headers,
        body,
    })
}
