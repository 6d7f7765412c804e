//! The Workers-bindings room: what a Worker's wrangler configuration binds from the Secrets
//! Store, and whether the manifest and a plan agree with it.
//!
//! A Worker binds a secret with `secrets_store_secrets = [{ binding, store_id, secret_name }]`
//! in `wrangler.toml`, `wrangler.json` or `wrangler.jsonc`, at the top level and separately
//! under each `env.<name>`: the key is not inherited, so every environment is read on its own.
//!
//! * [`read`] — the three formats through real parsers that keep positions (`toml_edit` for
//!   TOML; `jsonc-parser` for JSON and JSONC, comments and trailing commas allowed, as wrangler
//!   reads both), reduced to one small located tree and walked for the bindings, with every
//!   bad shape reported at once at its `file:line:column`.
//! * [`names`] — the JavaScript-identifier rule for binding names, and the binding name
//!   `cfsecrets bindings` derives from a secret name.
//! * [`check`] — the offline checks against the manifest (`check --wrangler`), and the
//!   shape checks alone that `plan --wrangler` runs before any request.
//! * [`live`] — the checks that need the live state and the plan (`plan --wrangler`), over
//!   plain inputs so that they do not depend on the planner's types.
//! * [`render`] — the `secrets_store_secrets` entries and the `Env` interface that
//!   `cfsecrets bindings` prints.
//!
//! * [`local`] — `cfsecrets local`: which wrangler to run, the arguments of a local
//!   `secrets-store secret create`, running it with the value on stdin, and what of its
//!   stderr may be shown.
//!
//! Everything here is pure except [`load`], [`locate`] and the `load_and_check*` functions
//! built on them, which read the file system; [`local::find_program`], which looks for
//! wrangler on it; and [`local::run_with_stdin`], which runs wrangler.

pub mod check;
pub mod live;
pub mod local;
pub mod names;
pub mod read;
pub mod render;

use std::path::{Path, PathBuf};

use crate::domain::MAX_WRANGLER_CONFIG_BYTES;
use crate::manifest::{Diagnostic, Diagnostics};

pub use check::{Declared, check_offline, check_shapes};
pub use live::{Break, BrokenBinding, LiveReport, ManagedStore, PlannedBreak, check_live};

/// The config file names wrangler looks for in a directory, in wrangler's order of
/// precedence: `wrangler.json`, then `wrangler.jsonc`, then `wrangler.toml` (wrangler's
/// `findWranglerConfig` tries them in this order, each searched upwards; here only the
/// directory given is searched).
pub const CONFIG_NAMES: [&str; 3] = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/// How a config file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    /// JSON with comments and trailing commas (`.json` and `.jsonc` alike, as wrangler reads
    /// both with the same parser).
    Jsonc,
}

impl Format {
    /// The format of a file, by its extension.
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "toml" => Some(Format::Toml),
            "json" | "jsonc" => Some(Format::Jsonc),
            _ => None,
        }
    }
}

/// A 1-based line and column (columns count characters). `0:0` means "no position".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

/// A value read from a config, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub pos: Pos,
}

/// Which part of a config a binding belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Environment {
    /// The top level (what `wrangler deploy` without `--env` uses).
    TopLevel,
    /// `env.<name>`.
    Named(String),
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Environment::TopLevel => f.write_str("the top level"),
            Environment::Named(name) => write!(f, "env `{}`", crate::text::clipped(name, 60)),
        }
    }
}

/// One `{ binding, store_id, secret_name }` entry whose three keys were all strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The config file it is written in.
    pub file: PathBuf,
    pub env: Environment,
    /// Where the entry starts.
    pub at: Pos,
    pub binding: Located<String>,
    pub store_id: Located<String>,
    pub secret_name: Located<String>,
}

impl Binding {
    /// A diagnostic at `pos` in this binding's file.
    pub fn error_at(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.file, pos.line, pos.column, message)
    }

    pub fn warning_at(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(&self.file, pos.line, pos.column, message)
    }

    /// `wrangler.toml:12:1`, for messages that point at the binding from elsewhere.
    pub fn location(&self) -> String {
        format!(
            "{}:{}:{}",
            self.file.display(),
            self.at.line,
            self.at.column
        )
    }
}

/// The bindings one config file declares, top level first, then each environment in file
/// order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WranglerConfig {
    pub path: PathBuf,
    /// The SHA-256 of the bytes these bindings were read from (hex; empty when the file
    /// could not be read): what a saved plan's digest records, so that it describes the
    /// very file that was checked.
    pub sha256: String,
    /// Every environment the file declares under `env` (with or without bindings).
    pub envs: Vec<String>,
    pub bindings: Vec<Binding>,
}

/// The config file `path` names: `path` itself, or for a directory the first of
/// [`CONFIG_NAMES`] in it. A directory holding more than one also gets a warning naming the
/// ones wrangler would ignore.
pub fn locate(path: &Path) -> Result<(PathBuf, Option<Diagnostic>), Diagnostic> {
    if !path.is_dir() {
        return Ok((path.to_path_buf(), None));
    }
    // `.` stays out of the names shown: `wrangler.toml`, not `./wrangler.toml`.
    let in_dir = |name: &str| {
        if path == Path::new(".") {
            PathBuf::from(name)
        } else {
            path.join(name)
        }
    };
    let found: Vec<PathBuf> = CONFIG_NAMES
        .iter()
        .map(|name| in_dir(name))
        .filter(|p| p.is_file())
        .collect();
    let Some(first) = found.first() else {
        return Err(Diagnostic::error(
            path,
            0,
            0,
            format!(
                "no wrangler config here (looked for {})",
                CONFIG_NAMES.join(", ")
            ),
        ));
    };
    let note = (found.len() > 1).then(|| {
        let ignored: Vec<String> = found[1..]
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        Diagnostic::warning(
            first,
            0,
            0,
            format!(
                "this directory also holds {}; reading this file, which wrangler prefers \
                 (order: {})",
                ignored.join(" and "),
                CONFIG_NAMES.join(", ")
            ),
        )
    });
    Ok((first.clone(), note))
}

/// Reads the config `path` names (a file, or a directory holding one): every binding that
/// could be read, and every problem found. Problems never stop the reading of the rest.
pub fn load(path: &Path) -> (WranglerConfig, Diagnostics) {
    let mut diagnostics = Diagnostics::new();
    let file = match locate(path) {
        Ok((file, note)) => {
            diagnostics.0.extend(note);
            file
        }
        Err(d) => {
            diagnostics.push(d);
            return (empty(path), diagnostics);
        }
    };
    let read = crate::fs::read_bounded(&file, MAX_WRANGLER_CONFIG_BYTES)
        .map_err(|err| (0, 0, err.reason()))
        .and_then(|bytes| match std::str::from_utf8(&bytes) {
            Ok(text) => Ok((text.to_string(), crate::values::index::sha256_hex(&bytes))),
            Err(err) => {
                // As for a manifest: the position of the first bad byte.
                let (line, column) = crate::manifest::position_of(&bytes[..err.valid_up_to()]);
                let why = "not valid UTF-8 (the first bad byte is here)".to_string();
                Err((line, column, why))
            }
        });
    let (text, sha256) = match read {
        Ok(read) => read,
        Err((line, column, why)) => {
            diagnostics.push(Diagnostic::error(
                &file,
                line,
                column,
                format!("cannot read the wrangler config: {why}"),
            ));
            return (empty(&file), diagnostics);
        }
    };
    let Some(format) = Format::of(&file) else {
        diagnostics.push(Diagnostic::error(
            &file,
            0,
            0,
            "cannot tell the format: a wrangler config ends in .toml, .json or .jsonc",
        ));
        return (empty(&file), diagnostics);
    };
    let (mut config, more) = read::parse(&file, &text, format);
    config.sha256 = sha256;
    diagnostics.0.extend(more);
    diagnostics.sort();
    (config, diagnostics)
}

/// Reads every config `paths` name and runs the offline checks on all of them: the configs
/// as read, and every diagnostic (shape and checks), sorted. A config that reads cleanly but
/// binds nothing gets a warning: it is likely not the file meant.
pub fn load_and_check(
    paths: &[PathBuf],
    declared: &Declared,
) -> (Vec<WranglerConfig>, Diagnostics) {
    let (configs, mut diagnostics) = load_all(paths);
    diagnostics.0.extend(check_offline(&configs, declared));
    diagnostics.sort();
    (configs, diagnostics)
}

/// Reads every config `paths` name and checks only the shape of their bindings
/// ([`check_shapes`]): what `plan --wrangler` does before any request, leaving the secrets
/// to [`check_live`].
pub fn load_and_check_shapes(paths: &[PathBuf]) -> (Vec<WranglerConfig>, Diagnostics) {
    let (configs, mut diagnostics) = load_all(paths);
    diagnostics.0.extend(check_shapes(&configs));
    diagnostics.sort();
    (configs, diagnostics)
}

/// Reads every config `paths` name: the configs as read, and what reading them found (a
/// config that reads cleanly but binds nothing gets a warning: it is likely not the file
/// meant).
fn load_all(paths: &[PathBuf]) -> (Vec<WranglerConfig>, Diagnostics) {
    let mut configs = Vec::new();
    let mut diagnostics = Diagnostics::new();
    for path in paths {
        let (config, found) = load(path);
        if config.bindings.is_empty() && !found.has_errors() {
            diagnostics.push(Diagnostic::warning(
                &config.path,
                0,
                0,
                format!(
                    "binds no Secrets Store secret: no `{}` entry at the top level or in any env",
                    read::KEY
                ),
            ));
        }
        diagnostics.0.extend(found);
        configs.push(config);
    }
    (configs, diagnostics)
}

fn empty(path: &Path) -> WranglerConfig {
    WranglerConfig {
        path: path.to_path_buf(),
        ..WranglerConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_means_its_config_json_first_and_the_others_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            locate(dir.path())
                .unwrap_err()
                .message
                .contains("no wrangler config here")
        );
        std::fs::write(dir.path().join("wrangler.toml"), "").unwrap();
        let (file, note) = locate(dir.path()).unwrap();
        assert_eq!(file, dir.path().join("wrangler.toml"));
        assert_eq!(note, None);
        std::fs::write(dir.path().join("wrangler.json"), "{}").unwrap();
        let (file, note) = locate(dir.path()).unwrap();
        assert_eq!(file, dir.path().join("wrangler.json"));
        let note = note.unwrap();
        assert!(
            note.message.contains("also holds wrangler.toml"),
            "{}",
            note.message
        );
        // A file is taken as it is.
        let toml = dir.path().join("wrangler.toml");
        assert_eq!(locate(&toml).unwrap(), (toml.clone(), None));
    }

    #[test]
    fn load_reports_unreadable_and_unknown_files() {
        let dir = tempfile::tempdir().unwrap();
        let (_, d) = load(&dir.path().join("missing.toml"));
        assert_eq!(d.len(), 1);
        assert!(d.0[0].message.contains("file not found"), "{d}");
        let yaml = dir.path().join("wrangler.yaml");
        std::fs::write(&yaml, "a: b").unwrap();
        let (_, d) = load(&yaml);
        assert!(d.0[0].message.contains("cannot tell the format"), "{d}");
    }
}
