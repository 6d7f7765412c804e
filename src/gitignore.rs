//! Keeping a file out of git: the line of a project's `.gitignore` that names it, and adding
//! that line once. `init` uses it for an identity it generates inside the project.
//!
//! Only an exact line counts as present (`me.key` or `/me.key`): a wider pattern that happens
//! to cover the file (`*.key`) is left alone, and the line is still added, which git treats
//! the same.

use std::io::Write as _;
use std::path::{Component, Path};

use crate::fs::FsError;

/// The file name, in the project's directory.
pub const GITIGNORE: &str = ".gitignore";

/// The most of an existing `.gitignore` that is read (far more than any real one).
const MAX_GITIGNORE_BYTES: u64 = 1 << 20;

/// What [`add`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// There was no `.gitignore`; it now holds the line.
    Created,
    /// The line was appended to the existing file.
    Appended,
    /// The file already had the line; it is unchanged.
    AlreadyListed,
}

/// The `.gitignore` line for `file` (which exists) relative to the directory `project`, when
/// the file lies inside it once symbolic links are resolved: `/`-separated, with the
/// characters git would read as a pattern escaped. `None` for a file outside the project,
/// or a path that is not UTF-8.
pub fn pattern_for(project: &Path, file: &Path) -> Option<String> {
    let project = std::fs::canonicalize(project).ok()?;
    let file = std::fs::canonicalize(file).ok()?;
    let relative = file.strip_prefix(&project).ok()?;
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(escape(part.to_str()?)),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// One path segment as a literal `.gitignore` pattern: `*`, `?`, `[` and `\` escaped, a
/// leading `#` or `!` escaped, trailing spaces escaped.
fn escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for (i, c) in segment.char_indices() {
        let trailing_space = c == ' ' && segment[i..].trim_start_matches(' ').is_empty();
        if matches!(c, '*' | '?' | '[' | '\\')
            || (i == 0 && matches!(c, '#' | '!'))
            || trailing_space
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `text` (a `.gitignore`) has a line that is exactly `pattern` or `/pattern`
/// (surrounding blanks and a CR ignored).
pub fn has_line(text: &str, pattern: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_end_matches('\r').trim();
        line == pattern || line.strip_prefix('/') == Some(pattern)
    })
}

/// Adds `pattern` as a line of `project/.gitignore`, creating the file when missing, and
/// leaving it unchanged when the line is already there. Appends (a symbolic link to a
/// shared ignore file is followed, not replaced), after a newline when the file lacks a
/// final one.
pub fn add(project: &Path, pattern: &str) -> Result<Added, FsError> {
    let path = project.join(GITIGNORE);
    let existing = match crate::fs::read_bounded(&path, MAX_GITIGNORE_BYTES) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(FsError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    if existing.as_deref().is_some_and(|t| has_line(t, pattern)) {
        return Ok(Added::AlreadyListed);
    }
    let mut line = String::new();
    if existing
        .as_deref()
        .is_some_and(|t| !t.is_empty() && !t.ends_with('\n'))
    {
        line.push('\n');
    }
    line.push_str(pattern);
    line.push('\n');
    let write_err = |source| FsError::Write {
        path: path.clone(),
        source,
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(write_err)?;
    Ok(if existing.is_some() {
        Added::Appended
    } else {
        Added::Created
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_inside_the_project_gets_its_relative_path_and_one_outside_none() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        std::fs::create_dir_all(project.join("keys")).unwrap();
        for f in ["p/me.key", "p/keys/a b .key", "outside.key", "p/#x[1]!"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let at = |f: &str| pattern_for(&project, &dir.path().join(f));
        assert_eq!(at("p/me.key").as_deref(), Some("me.key"));
        assert_eq!(at("p/keys/a b .key").as_deref(), Some("keys/a b .key"));
        assert_eq!(at("p/#x[1]!").as_deref(), Some("\\#x\\[1]!"));
        assert_eq!(at("outside.key"), None);
        // Through `..` that comes back inside, and the project itself written as `.`-ish.
        assert_eq!(at("p/keys/../me.key").as_deref(), Some("me.key"));
        assert_eq!(escape("tail  "), "tail\\ \\ ");
        assert_eq!(escape("!a*b?c\\"), "\\!a\\*b\\?c\\\\");
    }

    #[test]
    fn the_line_is_added_once_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(add(d, "me.key").unwrap(), Added::Created);
        assert_eq!(
            std::fs::read_to_string(d.join(GITIGNORE)).unwrap(),
            "me.key\n"
        );
        assert_eq!(add(d, "me.key").unwrap(), Added::AlreadyListed);
        std::fs::write(d.join(GITIGNORE), "target/\r\n/other.key").unwrap();
        assert_eq!(add(d, "other.key").unwrap(), Added::AlreadyListed);
        assert_eq!(add(d, "me.key").unwrap(), Added::Appended);
        assert_eq!(
            std::fs::read_to_string(d.join(GITIGNORE)).unwrap(),
            "target/\r\n/other.key\nme.key\n"
        );
        // A wider pattern is not the line: it is still added.
        std::fs::write(d.join(GITIGNORE), "*.key\n").unwrap();
        assert_eq!(add(d, "me.key").unwrap(), Added::Appended);
        assert!(has_line("  me.key  \n", "me.key"));
        assert!(!has_line("me.key.bak\n# me.key\n", "me.key"));
    }
}
