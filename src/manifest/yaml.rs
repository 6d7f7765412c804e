//! YAML scalars and flow collections as this tool writes them: plain when unambiguous, else
//! double-quoted. Shared by the text edit of `secret set` and the manifest writer.

use crate::domain::Scope;

/// A YAML scalar for `s`: plain when unambiguous, else double-quoted.
pub fn yaml_str(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !s.starts_with(['-', '.'])
        && !matches!(
            lower.as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "keep"
        )
        && s.parse::<f64>().is_err()
        && !s.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("strings serialize")
    }
}

/// `[workers, ai_gateway]`: scopes as a flow list, each in its one spelling
/// ([`Scope::as_wire`]), in the order given.
pub fn yaml_scopes(scopes: &[Scope]) -> String {
    let inner: Vec<String> = scopes.iter().map(|s| yaml_str(s.as_wire())).collect();
    format!("[{}]", inner.join(", "))
}

/// A JSON value (a flow entry read back) written as YAML flow text.
pub fn render_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => yaml_str(s),
        serde_json::Value::Array(a) => {
            let inner: Vec<String> = a.iter().map(render_json).collect();
            format!("[{}]", inner.join(", "))
        }
        serde_json::Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml_str(k), render_json(v)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_plain_only_when_unambiguous() {
        assert_eq!(yaml_str("values/a.age"), "values/a.age");
        for quoted in [
            "", "keep", "Yes", "null", "1.5", "0123", "-x", ".x", "a: b", "a # b",
        ] {
            assert_eq!(
                yaml_str(quoted),
                serde_json::to_string(quoted).unwrap(),
                "{quoted}"
            );
        }
        assert_eq!(
            yaml_scopes(&[Scope::Workers, Scope::AiGateway]),
            "[workers, ai_gateway]"
        );
        let v: serde_json::Value = serde_json::json!({ "bundle": "b.env.age", "key": "K" });
        assert_eq!(render_json(&v), "{ bundle: b.env.age, key: K }");
    }
}
