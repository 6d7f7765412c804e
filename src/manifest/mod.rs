//! The manifest room: YAML text → generic tree with locations, checked for shape
//! ([`structure`]) → raw types ([`raw`], which also derive the JSON Schema) → validated
//! [`Desired`] state ([`validate`]), with every problem reported at once as a [`Diagnostic`]
//! carrying `file:line:column`. Only YAML syntax errors and duplicate keys stop at the first
//! one: past them the document cannot be trusted. The result ([`Parsed`]) carries the
//! desired state together with its warnings.
//!
//! [`parse`] is pure given its inputs (text, `CLOUDFLARE_ACCOUNT_ID`, and a [`FileCheck`]
//! that says whether referenced files exist); [`load`] adds reading the file and the real
//! file system. Nothing here touches the network or decrypts anything. [`edit`] changes
//! the manifest text without disturbing its comments and formatting (`secret set`), and
//! checks with [`parse`] that an edit introduces no problem; [`write`](mod@write) writes new manifests
//! (`init`, `import`); both spell YAML through [`yaml`].

pub mod diagnostic;
pub mod edit;
pub mod model;
pub mod raw;
pub mod structure;
pub mod validate;
pub mod write;
pub mod yaml;

#[cfg(test)]
mod oracle;

use crate::domain::MAX_MANIFEST_FILE_BYTES;
use crate::text::printable;
use diagnostic::quoted;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::*;
pub use raw::manifest_schema_json;
pub use structure::read_as_written;
pub use validate::{FileCheck, PathKind, RealFs};

use serde_saphyr::{MessageFormatter, UserMessageFormatter};

/// What reading a manifest found: the desired state when nothing is wrong, and every
/// diagnostic, sorted by position. Warnings travel with a success; any error means no
/// desired state.
#[derive(Debug)]
pub struct Parsed {
    /// `Some` exactly when no diagnostic is an error.
    pub desired: Option<Desired>,
    pub diagnostics: Diagnostics,
}

impl Parsed {
    fn failed(diagnostic: Diagnostic) -> Parsed {
        Parsed {
            desired: None,
            diagnostics: Diagnostics(vec![diagnostic]),
        }
    }

    /// The desired state with its warnings, or every diagnostic when any is an error.
    pub fn into_result(self) -> Result<(Desired, Diagnostics), Diagnostics> {
        match self.desired {
            Some(desired) => Ok((desired, self.diagnostics)),
            None => Err(self.diagnostics),
        }
    }
}

/// Reads and validates the manifest at `path`. Relative paths inside it resolve against its
/// directory; `env_account_id` is the value of `CLOUDFLARE_ACCOUNT_ID`, if set.
pub fn load(path: &Path, env_account_id: Option<&str>) -> Parsed {
    match read_text(path) {
        Ok(text) => parse(path, &text, &base_dir_of(path), env_account_id, &RealFs),
        Err(diagnostic) => Parsed::failed(diagnostic),
    }
}

/// The manifest's text: a regular file of at most [`MAX_MANIFEST_FILE_BYTES`], refused by
/// size before it is read, in UTF-8 (else the position of the first bad byte is named).
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let bytes = crate::fs::read_bounded(path, MAX_MANIFEST_FILE_BYTES).map_err(|err| {
        Diagnostic::error(
            path,
            0,
            0,
            format!("cannot read the manifest: {}", err.reason()),
        )
    })?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(err) => {
            let (line, column) = position_of(&bytes[..err.valid_up_to()]);
            Err(Diagnostic::error(
                path,
                line,
                column,
                "cannot read the manifest: not valid UTF-8 (the first bad byte is here)",
            ))
        }
    }
}

/// The 1-based line and column (in characters) just after `before`, valid UTF-8.
fn position_of(before: &[u8]) -> (u64, u64) {
    let text = std::str::from_utf8(before).unwrap_or_default();
    let line = text.matches('\n').count() as u64 + 1;
    let last = text.rsplit('\n').next().unwrap_or_default();
    (line, last.chars().count() as u64 + 1)
}

/// Validates manifest `text`. `path` is only used in messages and stored in [`Desired`];
/// `base_dir` is what relative paths resolve against; `fs` answers file existence.
///
/// One reader: the text becomes a generic tree with locations ([`structure::parse_tree`]);
/// the walk against the expected shape ([`structure::walk`]) finds every unknown key, wrong
/// type and missing key and builds the raw manifest from what is sound; validation then
/// checks that, so a problem of shape never hides one of meaning. A document the tree
/// cannot take (a syntax error, a duplicate key) or that is not a map is reported alone:
/// past it the document cannot be trusted.
pub fn parse(
    path: &Path,
    text: &str,
    base_dir: &Path,
    env_account_id: Option<&str>,
    fs: &dyn FileCheck,
) -> Parsed {
    let tree = match structure::parse_tree(text) {
        Ok(tree) => tree,
        Err(err) => return Parsed::failed(structure::syntax_diagnostic(path, text, &err)),
    };
    if !matches!(tree.value, structure::Kind::Map(_)) {
        return Parsed::failed(structure::not_a_map(path, text, &tree));
    }
    let (raw, mut diagnostics) = structure::walk(path, text, &tree);
    let (desired, more) = validate::validate(path, base_dir, &raw, env_account_id, fs);
    diagnostics.extend(more);
    diagnostics.sort();
    let desired = desired.filter(|_| !diagnostics.has_errors());
    Parsed {
        desired,
        diagnostics,
    }
}

/// The directory a manifest's relative paths resolve against (`.` for a bare file name).
pub fn base_dir_of(path: &Path) -> PathBuf {
    crate::fs::dir_of(path)
}

/// Turns a parser error (syntax, duplicate or unknown key, wrong type) into a diagnostic.
pub(crate) fn parser_diagnostic(path: &Path, err: &serde_saphyr::Error) -> Diagnostic {
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
        E::Budget { breach, .. } => format!(
            "the document is too large or too complex to read: {}",
            budget_reason(breach)
        ),
        // Parser messages may quote input.
        other => printable(&UserMessageFormatter.format_message(other)),
    }
}

/// Which of the YAML reader's limits a document breached, in words (the limits guard
/// against documents built to exhaust memory, such as alias bombs).
fn budget_reason(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let limits = serde_saphyr::Budget::default();
    match breach {
        B::Nodes { .. } => format!(
            "more than {} values, lists and maps",
            thousands(limits.max_nodes)
        ),
        B::Events { .. } => format!("more than {} YAML events", thousands(limits.max_events)),
        B::Depth { .. } => format!("nested more than {} levels deep", limits.max_depth),
        B::Aliases { .. } => format!(
            "more than {} aliases (`*name`)",
            thousands(limits.max_aliases)
        ),
        B::Anchors { .. } => format!(
            "more than {} anchors (`&name`)",
            thousands(limits.max_anchors)
        ),
        B::AliasAnchorRatio { .. } => {
            "far more aliases (`*name`) than anchors (`&name`), as in an alias bomb".to_string()
        }
        B::Documents { .. } => format!(
            "more than {} YAML documents (`---`)",
            thousands(limits.max_documents)
        ),
        B::ScalarBytes { .. } => format!(
            "more than {} of text in its values",
            crate::text::bytes(limits.max_total_scalar_bytes as u64)
        ),
        B::MergeKeys { .. } => format!(
            "more than {} merge keys (`<<`)",
            thousands(limits.max_merge_keys)
        ),
        _ => "it exceeds one of the YAML reader's limits".to_string(),
    }
}

fn thousands(n: usize) -> String {
    crate::text::thousands(n as u64)
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
