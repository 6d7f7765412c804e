//! The manifest room: YAML text → generic tree with locations, checked for shape
//! ([`structure`]) → raw types ([`raw`], which also derive the JSON Schema) → validated
//! [`Desired`] state ([`validate`]), with every problem reported at once as a [`Diagnostic`]
//! carrying `file:line:column`. Only YAML syntax errors and duplicate keys stop at the first
//! one ([`syntax`] words them): past them the document cannot be trusted. The result
//! ([`Parsed`]) carries the desired state together with its warnings.
//!
//! [`parse`] is pure given its inputs (text, `CLOUDFLARE_ACCOUNT_ID`, and a [`FileCheck`]
//! that says what is at each referenced path); [`load`] adds reading the file (bounded) and
//! the real file system. Nothing here touches the network or decrypts anything. [`edit`]
//! changes the manifest text without disturbing its comments and formatting (`secret set`),
//! and checks with [`parse`] that an edit introduces no problem; [`write`](mod@write) writes
//! new manifests (`init`, `import`); both spell YAML through [`yaml`].

pub mod diagnostic;
pub mod edit;
pub mod model;
pub mod raw;
pub mod structure;
pub mod syntax;
pub mod validate;
pub mod write;
pub mod yaml;

#[cfg(test)]
mod oracle;

use crate::domain::MAX_MANIFEST_FILE_BYTES;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::*;
pub use raw::manifest_schema_json;
pub use structure::read_as_written;
pub use validate::{FileCheck, PathKind, RealFs};

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

/// The 1-based line and column (in characters) just after `before`, valid UTF-8. Lines end
/// at `\n`, `\r\n` or a lone `\r`, as YAML counts them (and every other diagnostic does).
pub(crate) fn position_of(before: &[u8]) -> (u64, u64) {
    let text = std::str::from_utf8(before).unwrap_or_default();
    let (mut line, mut column) = (1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let ends_line = c == '\n' || (c == '\r' && chars.peek() != Some(&'\n'));
        if ends_line {
            (line, column) = (line + 1, 1);
        } else if c != '\r' {
            column += 1;
        }
    }
    (line, column)
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
        Err(err) => return Parsed::failed(syntax::syntax_diagnostic(path, text, &err)),
    };
    if !matches!(tree.value, structure::Kind::Map(_)) {
        return Parsed::failed(syntax::not_a_map(path, text, &tree));
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
