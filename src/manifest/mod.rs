//! The manifest room: YAML text → generic tree with locations, checked for shape
//! ([`structure`]) → raw types ([`raw`], which also derive the JSON Schema) → validated
//! [`Desired`] state ([`validate`]), with every problem reported at once as a [`Diagnostic`]
//! carrying `file:line:column`. Only YAML syntax errors and duplicate keys stop at the first
//! one: past them the document cannot be trusted.
//!
//! [`parse`] is pure given its inputs (text, `CLOUDFLARE_ACCOUNT_ID`, and a [`FileCheck`]
//! that says whether referenced files exist); [`load`] adds reading the file and the real
//! file system. Nothing here touches the network or decrypts anything. [`edit`] changes
//! the manifest text without disturbing its comments and formatting (`secret set`), and
//! checks with [`parse`] that an edit introduces no problem; [`write`] writes new manifests
//! (`init`, `import`); both spell YAML through [`yaml`].

pub mod diagnostic;
pub mod edit;
pub mod model;
pub mod raw;
pub mod structure;
pub mod validate;
pub mod write;
pub mod yaml;

use crate::text::printable;
use diagnostic::quoted;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::*;
pub use raw::manifest_schema_json;
pub use structure::read_as_written;
pub use validate::{FileCheck, RealFs};

use serde_saphyr::{MessageFormatter, UserMessageFormatter};

/// Reads and validates the manifest at `path`. Relative paths inside it resolve against its
/// directory; `env_account_id` is the value of `CLOUDFLARE_ACCOUNT_ID`, if set.
pub fn load(path: &Path, env_account_id: Option<&str>) -> Result<Desired, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        Diagnostics(vec![Diagnostic::error(
            path,
            0,
            0,
            format!("cannot read the manifest: {}", io_reason(&err)),
        )])
    })?;
    parse(path, &text, &base_dir_of(path), env_account_id, &RealFs)
}

/// Validates manifest `text`. `path` is only used in messages and stored in [`Desired`];
/// `base_dir` is what relative paths resolve against; `fs` answers file existence.
pub fn parse(
    path: &Path,
    text: &str,
    base_dir: &Path,
    env_account_id: Option<&str>,
    fs: &dyn FileCheck,
) -> Result<Desired, Diagnostics> {
    // First the shape, on a generic tree, so that every unknown key, wrong type and missing
    // key is found; when there is any, validation still runs on what was sound.
    let tree = structure::parse_tree(text);
    if let Ok(tree) = &tree
        && matches!(tree.value, structure::Kind::Map(_))
    {
        let (lenient, mut diags) = structure::walk(path, text, tree);
        if diags.has_errors() {
            if let Err(more) = validate::validate(path, base_dir, &lenient, env_account_id, fs) {
                for d in more {
                    diags.push(d);
                }
            }
            diags.sort();
            return Err(diags);
        }
    }
    // A sound shape goes through the typed parse, which has the last word. A document the
    // tree could not take (a syntax error, a duplicate key) is reported with the tree's
    // error alone: past it the document cannot be trusted. (Should the typed parse accept
    // what the tree refused, that is accepted as before.)
    let raw: raw::RawManifest = serde_saphyr::from_str(text).map_err(|err| {
        let first = tree.as_ref().err().unwrap_or(&err);
        Diagnostics(vec![parser_diagnostic(path, first)])
    })?;
    validate::validate(path, base_dir, &raw, env_account_id, fs)
}

/// The directory a manifest's relative paths resolve against (`.` for a bare file name).
pub fn base_dir_of(path: &Path) -> PathBuf {
    crate::fs::dir_of(path)
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::InvalidData => "not valid UTF-8".to_string(),
        _ => err.to_string().to_lowercase(),
    }
}

/// Turns a parser error (syntax, duplicate or unknown key, wrong type) into a diagnostic.
fn parser_diagnostic(path: &Path, err: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    Diagnostic::error(path, line, column, parser_message(err))
}

fn parser_message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match err {
        E::WithSnippet { error, .. } => parser_message(error),
        E::AliasError { error, .. } => parser_message(error),
        E::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown key `{}`; expected one of {}",
            field.escape_debug(),
            quoted(expected)
        ),
        E::SerdeMissingField { field, .. } => format!("missing key `{field}`"),
        E::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key `{}`", key.escape_debug())
        }
        E::DuplicateMappingKey { key: None, .. } => "duplicate key".to_string(),
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => format!(
            "unknown value `{}`; expected one of {}",
            variant.escape_debug(),
            quoted(expected)
        ),
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("wrong type: found {unexpected}, expected {expected}"),
        E::Unexpected { expected, .. } => format!(
            "wrong type: expected {}",
            match *expected {
                "mapping start" => "a map",
                "sequence start" => "a list",
                other => other,
            }
        ),
        E::Eof { .. } => "unexpected end of file (is the manifest empty?)".to_string(),
        E::InvalidBooleanStrict { .. } => "wrong type: expected `true` or `false`".to_string(),
        E::InvalidScalar { ty, .. } => format!("wrong type: expected {}", scalar_kind(ty)),
        // Parser messages may quote input.
        other => printable(&UserMessageFormatter.format_message(other)),
    }
}

fn scalar_kind(ty: &str) -> &str {
    match ty {
        "bool" => "`true` or `false`",
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" => {
            "an integer"
        }
        "f32" | "f64" => "a number",
        other => other,
    }
}

/// What a validated manifest declares, for the `check` summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub accounts: usize,
    pub stores: usize,
    pub secrets: usize,
    pub absent: usize,
    pub kept: usize,
}

impl Desired {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            accounts: self.accounts.len(),
            ..Counts::default()
        };
        for store in self.accounts.iter().flat_map(|a| &a.stores) {
            counts.stores += 1;
            for secret in store.secrets.values() {
                counts.secrets += 1;
                match secret {
                    DesiredSecret::Absent => counts.absent += 1,
                    DesiredSecret::Present(p) if p.value == ValueSource::Keep => counts.kept += 1,
                    DesiredSecret::Present(_) => {}
                }
            }
        }
        counts
    }
}
