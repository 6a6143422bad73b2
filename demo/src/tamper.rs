//! Tampering with a token's payload, to show that rolegate notices: one character changed so
//! that the claims still read as JSON, under the original signature.

use rolegate_testkit::token::decode_part;
use serde_json::Value;

/// A token with one payload character replaced, and a description of the change.
///
/// The replacement is chosen so that the payload still decodes to a JSON object with the
/// same claim names, and `iss` and `exp` unchanged: rolegate then gets a well-formed token
/// from a trusted issuer whose signature no longer matches, which is what a forger would
/// send.
pub fn tamper(token: &str) -> Option<(String, String)> {
    let (header, rest) = token.split_once('.')?;
    let (payload, signature) = rest.split_once('.')?;
    let original_claims = decode_part(payload)?;
    let original_claims = original_claims.as_object()?;
    let chars: Vec<char> = payload.chars().collect();
    // Skip the last characters: they may carry padding bits.
    let candidates = 0..chars.len().saturating_sub(4);
    let middle = chars.len() / 2;
    let mut positions: Vec<usize> = candidates.collect();
    positions.sort_by_key(|i| i.abs_diff(middle));
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in positions {
        let original = *chars.get(i)?;
        for replacement in ALPHABET.chars().filter(|c| *c != original) {
            let mut changed = chars.clone();
            *changed.get_mut(i)? = replacement;
            let changed: String = changed.into_iter().collect();
            let Some(claims) = decode_part(&changed) else {
                continue;
            };
            let Some(claims) = claims.as_object() else {
                continue;
            };
            let same_names = claims.keys().eq(original_claims.keys());
            let kept = ["iss", "exp"]
                .iter()
                .all(|name| claims.get(*name) == original_claims.get(*name));
            let altered: Vec<&String> = claims
                .iter()
                .filter(|(name, value)| original_claims.get(name.as_str()) != Some(*value))
                .map(|(name, _)| name)
                .collect();
            if same_names && kept && !altered.is_empty() {
                let description = format!(
                    "payload character {i} changed from '{original}' to '{replacement}'; \
                     claim {} now reads {}",
                    altered
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    altered
                        .iter()
                        .filter_map(|n| claims.get(n.as_str()))
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Some((format!("{header}.{changed}.{signature}"), description));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rolegate_testkit::token::{decode_unverified, sign};
    use rolegate_testkit::SigningKey;
    use serde_json::json;

    #[test]
    fn tampering_keeps_a_signed_token_well_formed() {
        let key = SigningKey::generate(2048).unwrap();
        let claims = json!({"aud": "api", "azp": "client-0001", "exp": 1_900_000_000,
            "iss": "https://issuer.example/", "roles": ["invokeRole"]});
        let token = sign(&key, &json!({"alg": "RS256", "typ": "JWT"}), &claims).unwrap();
        let (header, decoded) = decode_unverified(&token).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(decoded, claims);

        let (tampered, description) = tamper(&token).unwrap();
        assert!(
            description.starts_with("payload character"),
            "{description}"
        );
        assert_ne!(tampered, token);
        let (_, changed) = decode_unverified(&tampered).unwrap();
        assert_ne!(changed, claims);
        assert_eq!(changed["iss"], claims["iss"]);
        assert_eq!(changed["exp"], claims["exp"]);
        assert_eq!(
            tampered.rsplit('.').next(),
            token.rsplit('.').next(),
            "the signature is kept"
        );
        assert_eq!(
            tampered
                .chars()
                .zip(token.chars())
                .filter(|(a, b)| a != b)
                .count(),
            1
        );
    }
}
