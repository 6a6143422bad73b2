//! The headers a token comes in and the headers claims are copied to.

use crate::config::field_reader::{index_path, ObjectReader, Problems};
use crate::config::names::is_header_name;
use crate::request::extract::TokenLocation;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToHeader {
    pub claim: String,
    pub header: String,
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub(super) fn read_from_headers(
    top: &mut ObjectReader<'_>,
    problems: &mut Problems,
) -> Vec<TokenLocation> {
    match top.array("from_headers", problems) {
        None => vec![TokenLocation {
            name: "authorization".to_string(),
            value_prefix: "Bearer ".to_string(),
        }],
        Some([]) => {
            problems.add("from_headers", "must list at least one header");
            Vec::new()
        }
        Some(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                read_from_header(&index_path("from_headers", i), item, problems)
            })
            .collect(),
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub(super) fn read_claim_to_headers(
    top: &mut ObjectReader<'_>,
    from_headers: &[TokenLocation],
    problems: &mut Problems,
) -> Vec<ClaimToHeader> {
    let claim_to_headers: Vec<ClaimToHeader> = top
        .array("claim_to_headers", problems)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            read_claim_to_header(&index_path("claim_to_headers", i), item, problems)
        })
        .collect();
    for (i, c) in claim_to_headers.iter().enumerate() {
        let field = format!("claim_to_headers[{i}].header");
        if claim_to_headers
            .iter()
            .take(i)
            .any(|o| o.header == c.header)
        {
            problems.add(&field, format!("header {} is set twice", c.header));
        }
        if from_headers.iter().any(|f| f.name == c.header) {
            problems.add(
                &field,
                format!("header {} also carries the token", c.header),
            );
        }
    }
    claim_to_headers
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_from_header(path: &str, value: &Value, problems: &mut Problems) -> Option<TokenLocation> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let name = obj
        .required_string("name", problems)
        .map(|n| n.to_ascii_lowercase());
    if let Some(n) = &name {
        if !is_header_name(n) {
            problems.add(&obj.path_of("name"), format!("{n} is not a header name"));
        }
    }
    let value_prefix = obj.string("value_prefix", problems).unwrap_or_default();
    obj.finish(problems);
    Some(TokenLocation {
        name: name?,
        value_prefix,
    })
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_claim_to_header(
    path: &str,
    value: &Value,
    problems: &mut Problems,
) -> Option<ClaimToHeader> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let claim = obj.required_string("claim", problems);
    let header = obj
        .required_string("header", problems)
        .map(|h| h.to_ascii_lowercase());
    if let Some(h) = &header {
        if !is_header_name(h) {
            problems.add(&obj.path_of("header"), format!("{h} is not a header name"));
        } else if matches!(
            h.as_str(),
            "host"
                | "content-length"
                | "transfer-encoding"
                | "connection"
                | "te"
                | "upgrade"
                | "keep-alive"
                | "proxy-connection"
        ) {
            problems.add(&obj.path_of("header"), format!("{h} cannot carry a claim"));
        }
    }
    obj.finish(problems);
    Some(ClaimToHeader {
        claim: claim?,
        header: header?,
    })
}
