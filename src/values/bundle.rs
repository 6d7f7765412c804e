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

/// A bundle that could not be parsed: every bad line (1-based) with a reason free of
/// plaintext, or one reason for the whole file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("{}", lines.iter().map(|(line, reason)| format!("line {line}: {reason}")).collect::<Vec<_>>().join("; "))]
    Lines { lines: Vec<(usize, String)> },
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

fn parse_dotenv(text: &str) -> Result<Bundle, BundleError> {
    let (entries, bad) = dotenv_entries(text);
    if !bad.is_empty() {
        return Err(BundleError::Lines { lines: bad });
    }
    Ok(Bundle(
        entries.into_iter().map(|e| (e.key, e.value)).collect(),
    ))
}

/// One `KEY=value` line of a dotenv file, with its line number (1-based).
pub struct DotenvEntry {
    pub line: usize,
    pub key: String,
    pub value: SecretValue,
}

impl fmt::Debug for DotenvEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DotenvEntry(line {}, {})", self.line, self.key)
    }
}

/// The entries of a dotenv text in file order, by the same rules as a `*.env.age` bundle
/// (so an imported file and a sealed bundle agree), and every bad line (1-based) with a
/// reason free of plaintext; a key given twice is a bad line. Every line is read, so that
/// every bad one is reported.
pub fn dotenv_entries(text: &str) -> (Vec<DotenvEntry>, Vec<(usize, String)>) {
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match dotenv_line(line) {
            Err(reason) => bad.push((n, reason.to_string())),
            Ok((key, _)) if !seen.insert(key.to_string()) => {
                bad.push((n, format!("duplicate key {key}")));
            }
            Ok((key, value)) => entries.push(DotenvEntry {
                line: n,
                key: key.to_string(),
                value: SecretValue::new(value),
            }),
        }
    }
    (entries, bad)
}

/// A dotenv text holding `entries`, one `KEY="value"` line each, that [`dotenv_entries`]
/// reads back to the same keys and values (`\`, `"`, newline, CR and tab escaped).
/// The buffer is sized up front, so that no copy of a value is left behind by a growing
/// string.
pub fn render_dotenv(entries: &[(&str, &SecretValue)]) -> zeroize::Zeroizing<String> {
    let size = entries
        .iter()
        .map(|(key, value)| key.len() + 2 * value.len() + 4)
        .sum();
    let mut text = zeroize::Zeroizing::new(String::with_capacity(size));
    for (key, value) in entries {
        text.push_str(key);
        text.push_str("=\"");
        for c in value.expose_secret().chars() {
            match c {
                '\\' => text.push_str("\\\\"),
                '"' => text.push_str("\\\""),
                '\n' => text.push_str("\\n"),
                '\r' => text.push_str("\\r"),
                '\t' => text.push_str("\\t"),
                c => text.push(c),
            }
        }
        text.push_str("\"\n");
    }
    text
}

/// One `KEY=value` line (trimmed, not a comment), or why not.
fn dotenv_line(line: &str) -> Result<(&str, String), &'static str> {
    let line = line
        .strip_prefix("export ")
        .map(str::trim_start)
        .unwrap_or(line);
    let (key, rest) = line.split_once('=').ok_or("expected KEY=value")?;
    let key = key.trim();
    if key.is_empty()
        || key.starts_with(|c: char| c.is_ascii_digit())
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err("invalid key (letters, digits, '_', '-', '.')");
    }
    let rest = rest.trim_start();
    let value = if let Some(body) = rest.strip_prefix('"') {
        let (v, tail) = unquote_double(body).ok_or("unterminated double quote")?;
        check_tail(tail)?;
        v
    } else if let Some(body) = rest.strip_prefix('\'') {
        let end = body.find('\'').ok_or("unterminated single quote")?;
        check_tail(&body[end + 1..])?;
        body[..end].to_string()
    } else {
        // Unquoted: a ` #` starts a comment; surrounding blanks are dropped.
        let v = match rest.find(" #").or_else(|| rest.find("\t#")) {
            Some(pos) => &rest[..pos],
            None => rest,
        };
        v.trim_end().to_string()
    };
    Ok((key, value))
}

fn check_tail(tail: &str) -> Result<(), &'static str> {
    let tail = tail.trim();
    if tail.is_empty() || tail.starts_with('#') {
        Ok(())
    } else {
        Err("unexpected text after the closing quote")
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

const NOT_FLAT: &str = "not a flat map of string keys to string values";

fn parse_yaml(text: &str) -> Result<Bundle, BundleError> {
    if text.trim().is_empty() {
        return Ok(Bundle(BTreeMap::new()));
    }
    let map: BTreeMap<String, String> = serde_saphyr::from_str(text).map_err(|e| {
        // The library's message may quote the document; keep only positions.
        every_bad_yaml_value(text).unwrap_or_else(|| match e.location() {
            Some(loc) => BundleError::Lines {
                lines: vec![(loc.line() as usize, NOT_FLAT.to_string())],
            },
            None => BundleError::Whole(NOT_FLAT.to_string()),
        })
    })?;
    Ok(Bundle(
        map.into_iter()
            .map(|(k, v)| (k, SecretValue::new(v)))
            .collect(),
    ))
}

/// A YAML bundle value as far as its shape goes: a scalar (any scalar reads as a string),
/// or something else; never the value itself.
struct Shape(Option<&'static str>);

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape(None))
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape(Some("a key without a value")))
            }
            fn visit_none<E>(self) -> Result<Shape, E> {
                Ok(Shape(Some("a key without a value")))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Shape, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Shape(Some("a list where a string belongs")))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Shape, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Shape(Some(
                    "a map where a string belongs (bundles are flat)",
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// Every entry of a YAML bundle whose value is not a string, by line; `None` when the text
/// is not a YAML map at all or every value is a scalar (the caller then reports the
/// parser's one position).
fn every_bad_yaml_value(text: &str) -> Option<BundleError> {
    let entries: Vec<(serde_saphyr::Spanned<String>, serde_saphyr::Spanned<Shape>)> =
        serde_saphyr::from_str::<OrderedEntries>(text).ok()?.0;
    let lines: Vec<(usize, String)> = entries
        .iter()
        .filter_map(|(key, value)| {
            let reason = value.value.0?;
            Some((key.referenced.line() as usize, reason.to_string()))
        })
        .collect();
    (!lines.is_empty()).then_some(BundleError::Lines { lines })
}

/// A YAML map's entries in source order.
struct OrderedEntries(Vec<(serde_saphyr::Spanned<String>, serde_saphyr::Spanned<Shape>)>);

impl<'de> serde::Deserialize<'de> for OrderedEntries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedEntries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedEntries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(OrderedEntries(entries))
            }
        }
        d.deserialize_map(V)
    }
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
    fn every_bad_dotenv_line_is_reported() {
        let text = "A=1\nsecret-one\nB=\"open-two\n# c\n9X=three\nC='x' tail-four\nA=2\nD=ok\n";
        let err = parse(text, BundleFormat::Dotenv).unwrap_err().to_string();
        assert_eq!(
            err,
            "line 2: expected KEY=value; line 3: unterminated double quote; line 5: invalid key \
             (letters, digits, '_', '-', '.'); line 6: unexpected text after the closing quote; \
             line 7: duplicate key A"
        );
        for text in ["secret-one", "open-two", "three", "tail-four"] {
            assert!(!err.contains(text), "{err}");
        }
    }

    #[test]
    fn every_value_of_a_yaml_bundle_that_is_not_a_string_is_reported() {
        let text = "A: one\nB:\n  nested: secret-one\nC: [secret-two]\nD: ok\nE:\n";
        let err = parse(text, BundleFormat::Yaml).unwrap_err().to_string();
        assert_eq!(
            err,
            "line 2: a map where a string belongs (bundles are flat); line 4: a list where a \
             string belongs; line 6: a key without a value"
        );
        assert!(!err.contains("secret-"), "{err}");
        // A syntax error stops the parser: its one position.
        let err = parse("A: [secret-three\nB: 1\n", BundleFormat::Yaml).unwrap_err();
        assert!(
            matches!(&err, BundleError::Lines { lines } if lines.len() == 1),
            "{err}"
        );
        assert!(!err.to_string().contains("secret-three"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn a_rendered_dotenv_reads_back_the_same(
            values in proptest::collection::vec(proptest::prelude::any::<String>(), 0..8)
        ) {
            let values: Vec<SecretValue> = values.into_iter().map(SecretValue::new).collect();
            let keys: Vec<String> = (0..values.len()).map(|i| format!("K_{i}")).collect();
            let pairs: Vec<(&str, &SecretValue)> =
                keys.iter().map(String::as_str).zip(values.iter()).collect();
            let text = render_dotenv(&pairs);
            let (back, bad) = dotenv_entries(&text);
            proptest::prop_assert!(bad.is_empty());
            proptest::prop_assert_eq!(back.len(), values.len());
            for (entry, (key, value)) in back.iter().zip(&pairs) {
                proptest::prop_assert_eq!(&entry.key, key);
                proptest::prop_assert_eq!(entry.value.expose_secret(), value.expose_secret());
            }
        }
    }

    #[test]
    fn dotenv_entries_keep_file_order_and_line_numbers() {
        let text = "# c\nexport B=2\n\nA='1'\n";
        let (entries, bad) = dotenv_entries(text);
        assert!(bad.is_empty());
        let seen: Vec<(usize, &str, &str)> = entries
            .iter()
            .map(|e| (e.line, e.key.as_str(), e.value.expose_secret()))
            .collect();
        assert_eq!(seen, [(2, "B", "2"), (4, "A", "1")]);
        assert_eq!(format!("{:?}", entries[0]), "DotenvEntry(line 2, B)");
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
