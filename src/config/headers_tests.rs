// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of token and claim headers.

use super::test_support::*;

/// Headers that frame the request or route it: a claim written there would change what
/// Envoy or the upstream does with the request, not just tell it who called.
#[test]
fn claims_cannot_be_written_to_framing_or_pseudo_headers() {
    let with_header = |header: &str| GOOD.replace("x-client-id", header);
    assert!(errors(&with_header("x-tenant")).is_empty());
    for header in [
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
        "keep-alive",
        "proxy-connection",
    ] {
        for written in [header.to_string(), header.to_ascii_uppercase()] {
            assert_eq!(
                errors(&with_header(&written)),
                vec![format!(
                    "claim_to_headers[0].header: {header} cannot carry a claim"
                )],
                "{written}"
            );
        }
    }
    for header in [
        ":authority",
        ":path",
        ":method",
        ":scheme",
        ":status",
        "x client",
    ] {
        assert_eq!(
            errors(&with_header(header)),
            vec![format!(
                "claim_to_headers[0].header: {header} is not a header name"
            )],
        );
    }
    assert_eq!(
        errors(&with_header("")),
        vec!["claim_to_headers[0].header: must not be empty"]
    );
}

/// A claim header that is also a token header would replace the token the request came
/// with, or hand the upstream a claim where it looks for a credential.
#[test]
fn a_claim_header_cannot_be_a_token_header_or_set_twice() {
    let with_header = |header: &str| GOOD.replace("x-client-id", header);
    for header in ["authorization", "Authorization"] {
        assert_eq!(
            errors(&with_header(header)),
            vec!["claim_to_headers[0].header: header authorization also carries the token"],
            "the default token header, {header}"
        );
    }
    let own_token_headers = GOOD.replace(
        r#""rules""#,
        r#""from_headers": [{"name": "authorization", "value_prefix": "Bearer "},
                            {"name": "X-Token"}], "rules""#,
    );
    assert!(errors(&own_token_headers).is_empty());
    assert_eq!(
        errors(&own_token_headers.replace("x-client-id", "x-TOKEN")),
        vec!["claim_to_headers[0].header: header x-token also carries the token"]
    );
    let twice = GOOD.replace(
        r#"[{"claim": "azp", "header": "x-client-id"}]"#,
        r#"[{"claim": "azp", "header": "x-client-id"}, {"claim": "oid", "header": "X-Client-Id"}]"#,
    );
    assert_eq!(
        errors(&twice),
        vec!["claim_to_headers[1].header: header x-client-id is set twice"]
    );
}
