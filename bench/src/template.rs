//! Envoy configuration templates in `envoy/bench/`: each placeholder, a name in double braces,
//! becomes a JSON value. A JSON string, number or object is also valid YAML there, and valid
//! JSON inside a plugin configuration.

use std::path::Path;

use serde_json::Value;

/// Reads `file` and fills in `values`.
pub fn render(file: &Path, values: &[(&str, Value)]) -> Result<String, String> {
    let template = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    fill(&template, values).map_err(|e| format!("{}: {e}", file.display()))
}

/// Replaces every `{{name}}` with the compact JSON text of its value. Each value is one line, so
/// it keeps the indentation of a YAML block scalar. A placeholder without a value is an error.
pub fn fill(template: &str, values: &[(&str, Value)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let end = from
            .find("}}")
            .ok_or("a placeholder opened with {{ is not closed")?;
        let name = from.get(2..end).unwrap_or_default().trim();
        let value = values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
            .ok_or_else(|| format!("unknown placeholder {{{{{name}}}}}"))?;
        out.push_str(&value.to_string());
        rest = from.get(end + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_json_values() {
        let values = [
            ("a", json!("x\"y")),
            ("n", json!(3)),
            ("o", json!({"k": [1]})),
        ];
        let got = fill("s: {{a}}\nn: {{ n }}\no: {{o}}\n", &values).unwrap();
        assert_eq!(got, "s: \"x\\\"y\"\nn: 3\no: {\"k\":[1]}\n");
    }

    #[test]
    fn refuses_unknown_and_unclosed_placeholders() {
        assert!(fill("{{nope}}", &[]).unwrap_err().contains("{{nope}}"));
        assert!(fill("x {{a", &[("a", json!(1))]).is_err());
    }
}
