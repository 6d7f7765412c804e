//! Bundles: one sealed file holding many values, decrypted once.
//!
//! The format follows the extension before `.age`: `*.env.age` is dotenv (`KEY=value`,
//! optional `export ` prefix, single or double quotes, `#` comments, blank lines);
//! `*.yaml.age` / `*.yml.age` is a flat YAML map of string to string. Parse errors carry a
//! line number and a reason, never the text of the line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::secret::SecretValue;

/// A decrypted bundle: key → value. `Debug` lists the keys only.
pub struct Bundle(BTreeMap<String, SecretValue>);

impl Bundle {
    pub fn get(&self, key: &str) -> Option<&SecretValue> {
        self.0.get(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Bundle")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Which bundle format a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleFormat {
    Dotenv,
    Yaml,
}

impl BundleFormat {
    pub fn of(path: &Path) -> Option<BundleFormat> {
        let name = path.file_name()?.to_str()?;
        if name.ends_with(".env.age") {
            Some(BundleFormat::Dotenv)
        } else if name.ends_with(".yaml.age") || name.ends_with(".yml.age") {
            Some(BundleFormat::Yaml)
        } else {
            None
        }
    }
}

/// A bundle that could not be parsed: a 1-based line (when known) and a reason free of
/// plaintext.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("{0}")]
    Whole(String),
}

/// Parses decrypted bundle text.
pub fn parse(text: &str, format: BundleFormat) -> Result<Bundle, BundleError> {
    match format {
        BundleFormat::Dotenv => parse_dotenv(text),
        BundleFormat::Yaml => parse_yaml(text),
    }
}

fn line_err(line: usize, reason: &str) -> BundleError {
    BundleError::Line {
        line,
        reason: reason.to_string(),
    }
}

fn parse_dotenv(text: &str) -> Result<Bundle, BundleError> {
    let mut map = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(line_err(n, "expected KEY=value"));
        };
        let key = key.trim();
        if key.is_empty()
            || key.starts_with(|c: char| c.is_ascii_digit())
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(line_err(n, "invalid key (letters, digits, '_', '-', '.')"));
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('"') {
            let (v, tail) =
                unquote_double(body).ok_or_else(|| line_err(n, "unterminated double quote"))?;
            check_tail(tail, n)?;
            v
        } else if let Some(body) = rest.strip_prefix('\'') {
            let end = body
                .find('\'')
                .ok_or_else(|| line_err(n, "unterminated single quote"))?;
            check_tail(&body[end + 1..], n)?;
            body[..end].to_string()
        } else {
            // Unquoted: a ` #` starts a comment; surrounding blanks are dropped.
            let v = match rest.find(" #").or_else(|| rest.find("\t#")) {
                Some(pos) => &rest[..pos],
                None => rest,
            };
            v.trim_end().to_string()
        };
        if map
            .insert(key.to_string(), SecretValue::new(value))
            .is_some()
        {
            return Err(BundleError::Line {
                line: n,
                reason: format!("duplicate key {key}"),
            });
        }
    }
    Ok(Bundle(map))
}

fn check_tail(tail: &str, n: usize) -> Result<(), BundleError> {
    let tail = tail.trim();
    if tail.is_empty() || tail.starts_with('#') {
        Ok(())
    } else {
        Err(line_err(n, "unexpected text after the closing quote"))
    }
}

/// Content of a double-quoted value (after the opening quote) and the text after the
/// closing quote. Supports `\n`, `\t`, `\\`, `\"`.
fn unquote_double(body: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn parse_yaml(text: &str) -> Result<Bundle, BundleError> {
    if text.trim().is_empty() {
        return Ok(Bundle(BTreeMap::new()));
    }
    let map: BTreeMap<String, String> = serde_saphyr::from_str(text).map_err(|e| {
        // The library's message may quote the document; keep only the position.
        match e.location() {
            Some(loc) => BundleError::Line {
                line: loc.line() as usize,
                reason: "not a flat map of string keys to string values".to_string(),
            },
            None => {
                BundleError::Whole("not a flat map of string keys to string values".to_string())
            }
        }
    })?;
    Ok(Bundle(
        map.into_iter()
            .map(|(k, v)| (k, SecretValue::new(v)))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(b: &Bundle, k: &str) -> String {
        b.get(k).unwrap().expose_secret().to_string()
    }

    #[test]
    fn dotenv_forms() {
        let b = parse(
            "# c\n\nA=plain\nexport B = spaced  # note\nC=\"q \\\"x\\\" #no\\n\"\nD='single # kept'\nE=\n",
            BundleFormat::Dotenv,
        )
        .unwrap();
        assert_eq!(get(&b, "A"), "plain");
        assert_eq!(get(&b, "B"), "spaced");
        assert_eq!(get(&b, "C"), "q \"x\" #no\n");
        assert_eq!(get(&b, "D"), "single # kept");
        assert_eq!(get(&b, "E"), "");
        assert_eq!(format!("{b:?}"), r#"Bundle(["A", "B", "C", "D", "E"])"#);
    }

    #[test]
    fn dotenv_errors_name_lines_only() {
        let err = parse("A=1\nsecretvalue-no-equals\n", BundleFormat::Dotenv).unwrap_err();
        assert_eq!(err.to_string(), "line 2: expected KEY=value");
        let err = parse("A=\"opensecret\n", BundleFormat::Dotenv).unwrap_err();
        assert!(!err.to_string().contains("opensecret"));
        assert!(parse("A=1\nA=2\n", BundleFormat::Dotenv).is_err());
    }

    #[test]
    fn yaml_flat_map() {
        let b = parse("A: one\nB: \"two\"\nC: 8080\n", BundleFormat::Yaml).unwrap();
        assert_eq!(get(&b, "A"), "one");
        assert_eq!(get(&b, "B"), "two");
        assert_eq!(get(&b, "C"), "8080");
        let err = parse("A: one\nB:\n  nested: topsecretvalue\n", BundleFormat::Yaml).unwrap_err();
        assert!(!err.to_string().contains("topsecretvalue"), "{err}");
    }

    #[test]
    fn format_from_extension() {
        assert_eq!(
            BundleFormat::of(Path::new("v/p.env.age")),
            Some(BundleFormat::Dotenv)
        );
        assert_eq!(
            BundleFormat::of(Path::new("p.yml.age")),
            Some(BundleFormat::Yaml)
        );
        assert_eq!(BundleFormat::of(Path::new("p.age")), None);
    }
}
