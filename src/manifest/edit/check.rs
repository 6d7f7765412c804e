//! Judging an edit: validate the original and the edited text with the real reader and
//! tell the edited text's problems apart, those the original already had from those the
//! edit introduces. A caller writes nothing while the second list is not empty. Pure: files
//! are only asked about through [`FileCheck`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::manifest::{Desired, Diagnostic, Diagnostics, FileCheck, PathKind};

/// A [`FileCheck`] that also counts more files as existing: the value files (or bundle) an
/// edit is about to write (resolved the same way validation resolves paths:
/// `base_dir.join(path)`).
pub struct AlsoExisting<'a> {
    pub fs: &'a dyn FileCheck,
    pub files: HashSet<PathBuf>,
}

impl FileCheck for AlsoExisting<'_> {
    fn is_file(&self, path: &Path) -> bool {
        self.files.contains(path) || self.fs.is_file(path)
    }

    fn kind(&self, path: &Path) -> PathKind {
        if self.files.contains(path) {
            PathKind::File { size: 0 }
        } else {
            self.fs.kind(path)
        }
    }

    fn stays_inside(&self, path: &Path, dir: &Path) -> bool {
        self.fs.stays_inside(path, dir)
    }
}

/// What validating an edit found. Positions are those of the edited text.
#[derive(Debug)]
pub struct EditCheck {
    /// The edited manifest, validated, when it has no error.
    pub desired: Option<Desired>,
    /// Errors of the edited manifest that the original already had.
    pub pre_existing: Diagnostics,
    /// Errors the edit introduces; the edit must not be written unless this is empty.
    pub introduced: Diagnostics,
    /// Warnings of the edited manifest; they never stop an edit.
    pub warnings: Diagnostics,
}

/// Validates `original` and `edited` with [`crate::manifest::parse`] (same `path`, `base_dir`,
/// account id and file check) and tells the edited text's problems apart: one the original
/// had at the same place (or, for problems inside the edited lines, anywhere with the same
/// message) is pre-existing; every other one is introduced by the edit.
pub fn check_edit(
    path: &Path,
    base_dir: &Path,
    original: &str,
    edited: &str,
    env_account_id: Option<&str>,
    fs: &dyn FileCheck,
) -> EditCheck {
    let after = crate::manifest::parse(path, edited, base_dir, env_account_id, fs);
    let warnings = after.diagnostics.warnings();
    if let Some(desired) = after.desired {
        return EditCheck {
            desired: Some(desired),
            pre_existing: Diagnostics::new(),
            introduced: Diagnostics::new(),
            warnings,
        };
    }
    let before = crate::manifest::parse(path, original, base_dir, env_account_id, fs)
        .diagnostics
        .errors();
    let (pre_existing, introduced) =
        split_introduced(original, &before, edited, after.diagnostics.errors());
    EditCheck {
        desired: None,
        pre_existing,
        introduced,
        warnings,
    }
}

/// The lines that differ between two texts, as one region: the common prefix and suffix
/// (in lines) are unchanged.
struct Changed {
    prefix: u64,
    suffix: u64,
    original_len: u64,
    edited_len: u64,
}

impl Changed {
    fn new(original: &str, edited: &str) -> Changed {
        let o: Vec<&str> = original.split('\n').collect();
        let e: Vec<&str> = edited.split('\n').collect();
        let prefix = o.iter().zip(&e).take_while(|(a, b)| a == b).count();
        let max_suffix = o.len().min(e.len()) - prefix;
        let suffix = o
            .iter()
            .rev()
            .zip(e.iter().rev())
            .take(max_suffix)
            .take_while(|(a, b)| a == b)
            .count();
        Changed {
            prefix: prefix as u64,
            suffix: suffix as u64,
            original_len: o.len() as u64,
            edited_len: e.len() as u64,
        }
    }

    /// The original line of edited line `line` (1-based; 0 is the whole file), or `None`
    /// when it lies in the changed region.
    fn original_line(&self, line: u64) -> Option<u64> {
        if line <= self.prefix {
            Some(line)
        } else if line > self.edited_len - self.suffix {
            Some(line + self.original_len - self.edited_len)
        } else {
            None
        }
    }

    fn in_original_region(&self, line: u64) -> bool {
        line > self.prefix && line <= self.original_len - self.suffix
    }
}

/// Splits `after` into (pre-existing, introduced) by matching against `before`, each
/// diagnostic of `before` used at most once.
fn split_introduced(
    original: &str,
    before: &Diagnostics,
    edited: &str,
    after: Diagnostics,
) -> (Diagnostics, Diagnostics) {
    let changed = Changed::new(original, edited);
    let mut unused: Vec<Option<&Diagnostic>> = before.iter().map(Some).collect();
    let mut take = |pred: &dyn Fn(&Diagnostic) -> bool| -> bool {
        match unused.iter_mut().find(|b| b.is_some_and(pred)) {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    };
    let same = |a: &Diagnostic, b: &Diagnostic| a.severity == b.severity && a.message == b.message;
    let mut matched = vec![false; after.len()];
    // First the problems at the same place in unchanged lines.
    for (i, d) in after.iter().enumerate() {
        if let Some(line) = changed.original_line(d.line) {
            matched[i] = take(&|b| same(b, d) && b.line == line && b.column == d.column);
        }
    }
    // Then problems inside the edited lines, which may have moved within them.
    for (i, d) in after.iter().enumerate() {
        if !matched[i] && changed.original_line(d.line).is_none() {
            matched[i] = take(&|b| same(b, d) && changed.in_original_region(b.line));
        }
    }
    let mut pre_existing = Diagnostics::new();
    let mut introduced = Diagnostics::new();
    for (d, m) in after.into_iter().zip(matched) {
        if m {
            pre_existing.push(d);
        } else {
            introduced.push(d);
        }
    }
    (pre_existing, introduced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::edit::text::tests::upd;
    use crate::manifest::edit::{EntryUpdate, set_entry};

    /// Files that exist for the edit checks: the recipients, the fingerprint key, `a.age`.
    struct Files;
    impl FileCheck for Files {
        fn is_file(&self, path: &Path) -> bool {
            ["r", "k", "a.age"].iter().any(|f| path == Path::new(f))
        }
    }

    const SMALL: &str = "\
version: 1
recipients_file: r
fingerprint_key: k
defaults: { scopes: [workers] }
accounts:
  prod:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      s:
        secrets:
          A: { value: a.age }
          NEW: { renamed_from: OLD, value: keep }
";

    fn edit_and_check(text: &str, u: &EntryUpdate) -> (String, EditCheck) {
        let (edited, _) = set_entry(text, u).unwrap();
        let fs = AlsoExisting {
            fs: &Files,
            files: HashSet::from([PathBuf::from(u.value.file())]),
        };
        let path = Path::new("m.yaml");
        let checked = check_edit(path, Path::new(""), text, &edited, None, &fs);
        (edited, checked)
    }

    #[test]
    fn a_clean_edit_validates_and_counts_the_new_file_as_written() {
        let (_, c) = edit_and_check(SMALL, &upd("prod", "s", "B", "b.age"));
        assert!(
            c.introduced.is_empty() && c.pre_existing.is_empty(),
            "{c:?}"
        );
        let desired = c.desired.unwrap();
        assert_eq!(desired.accounts[0].stores[0].secrets.len(), 3);
    }

    #[test]
    fn an_edit_that_breaks_a_rule_is_introduced_with_its_position() {
        // Adding OLD collides with NEW's `renamed_from: OLD`.
        let (_, c) = edit_and_check(SMALL, &upd("prod", "s", "OLD", "old.age"));
        assert!(c.pre_existing.is_empty());
        assert_eq!(
            c.introduced.to_string(),
            "m.yaml:12:32: error: secret `NEW` is renamed from `OLD`, which is also declared in this store"
        );
        // A scope listed twice.
        let twice = [crate::domain::Scope::Workers, crate::domain::Scope::Workers];
        let mut u = upd("prod", "s", "A", "a.age");
        u.scopes = Some(&twice);
        let (_, c) = edit_and_check(SMALL, &u);
        assert_eq!(c.introduced.len(), 1, "{c:?}");
        assert!(c.introduced.0[0].message.contains("listed twice"), "{c:?}");
        assert_eq!(c.introduced.0[0].line, 13);
    }

    #[test]
    fn problems_the_manifest_already_had_are_told_apart_after_lines_shift() {
        // Three unrelated problems: one above the edit, two below it (their lines move by one).
        let text = SMALL
            .replace("fingerprint_key: k\n", "fingerprint_key: missing.age\n")
            .replace(
                "          A: { value: a.age }\n",
                "          A: { value: a.age }\n          BAD: { value: gone.age }\n",
            )
            + "  other:\n    account_id: 0123456789abcdef0123456789abcdef\n    stores: { t: { secrets: {} } }\n";
        let (edited, c) = edit_and_check(&text, &upd("prod", "s", "A", "a2.age"));
        assert!(c.introduced.is_empty(), "{c:?}");
        assert_eq!(c.pre_existing.len(), 3, "{c:?}");
        assert!(c.desired.is_none());
        // Positions are those of the edited text (A grew from one line to two).
        let lines: Vec<_> = c.pre_existing.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![3, 13, 16], "{edited}\n{c:?}");
        // The same edit also introducing a problem: only the new one is introduced.
        let (_, c) = edit_and_check(&text, &upd("prod", "s", "OLD", "old.age"));
        assert_eq!(c.pre_existing.len(), 3, "{c:?}");
        assert_eq!(c.introduced.len(), 1, "{c:?}");
        assert!(c.introduced.0[0].message.contains("also declared"));
    }

    #[test]
    fn the_same_message_twice_counts_as_one_more() {
        let before = Diagnostics(vec![Diagnostic::error(Path::new("m"), 2, 1, "same")]);
        let after = Diagnostics(vec![
            Diagnostic::error(Path::new("m"), 2, 1, "same"),
            Diagnostic::error(Path::new("m"), 3, 1, "same"),
        ]);
        let (pre, new) = split_introduced("a\nb\nc\n", &before, "a\nb\nx\nc\n", after);
        assert_eq!(pre.0[0].line, 2);
        assert_eq!(new.0[0].line, 3);
    }
}
