//! Diagnostics: one problem found in the manifest, with `file:line:column`, and the sorted
//! list of all of them that validation returns.

use std::fmt;
use std::path::{Path, PathBuf};

/// How serious a diagnostic is. Errors fail `check`; warnings are printed and let it pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem at one place. `line` and `column` are 1-based; 0 means "the whole file"
/// (e.g. the file could not be read), and the position is then left out of the display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: u64,
    pub column: u64,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(path: &Path, line: u64, column: u64, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line,
            column,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    pub fn warning(path: &Path, line: u64, column: u64, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(path, line, column, message)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(
                f,
                "{}: {}: {}",
                self.path.display(),
                self.severity,
                self.message
            )
        } else {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.severity,
                self.message
            )
        }
    }
}

/// Every diagnostic of one run, sorted by position (then by message, for a stable order).
/// Its `Display` is one diagnostic per line, without a trailing newline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn extend(&mut self, more: Diagnostics) {
        self.0.extend(more.0);
    }

    /// Only the errors.
    pub fn errors(&self) -> Diagnostics {
        Diagnostics(
            self.0
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .cloned()
                .collect(),
        )
    }

    /// Only the warnings.
    pub fn warnings(&self) -> Diagnostics {
        Diagnostics(
            self.0
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .cloned()
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Number of diagnostics with [`Severity::Error`].
    pub fn error_count(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Sorts by path, line, column, severity, message.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.path, a.line, a.column, a.severity, &a.message)
                .cmp(&(&b.path, b.line, b.column, b.severity, &b.message))
        });
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// `` `a`, `b`, `c` ``: names listed in a message.
pub(crate) fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Keeps user-written text short and printable in messages (a 10,000-character key helps
/// nobody, and a control character must not reach a terminal).
pub(crate) fn shown(s: &str) -> String {
    crate::text::clipped(s, 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_col_severity_message() {
        let d = Diagnostic::error(Path::new("m.yaml"), 3, 7, "bad thing");
        assert_eq!(d.to_string(), "m.yaml:3:7: error: bad thing");
        let w = Diagnostic::warning(Path::new("m.yaml"), 0, 0, "whole file");
        assert_eq!(w.to_string(), "m.yaml: warning: whole file");
    }

    #[test]
    fn sorting_orders_by_position() {
        let p = Path::new("m.yaml");
        let mut all = Diagnostics(vec![
            Diagnostic::error(p, 9, 1, "c"),
            Diagnostic::error(p, 2, 5, "b"),
            Diagnostic::error(p, 2, 3, "a"),
        ]);
        all.sort();
        let messages: Vec<_> = all.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, ["a", "b", "c"]);
        assert_eq!(all.error_count(), 3);
    }
}
