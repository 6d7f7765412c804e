//! The steps of the commands that edit the manifest (`secret set`, `secret import-env`,
//! `secret rm`): read it as written, resolve the entry, judge the edited text with the real
//! validator, write it back with its mode. Each is a [`Context`] step like those in
//! `context.rs`; they live here because only these commands take them.

use std::path::{Path, PathBuf};

use crate::commands::UsageError;
use crate::commands::context::Context;
use crate::fs::{WriteOptions, write_atomic};
use crate::manifest::edit::{AlsoExisting, EntryRequest, EntryTarget, TargetError, check_edit};
use crate::manifest::raw::RawManifest;
use crate::manifest::{RealFs, base_dir_of, read_as_written, read_text};
use crate::text::count;

impl Context<'_> {
    /// The manifest's text (bounded), and the manifest as the real reader reads it; only
    /// text that is not YAML at all is refused here (other problems are weighed after the
    /// edit).
    pub(crate) fn read_for_edit(&mut self) -> anyhow::Result<(String, RawManifest)> {
        let path = &self.global.manifest;
        let text = match read_text(path) {
            Ok(text) => text,
            Err(diagnostic) => {
                self.out.eprint(&format!("{diagnostic}\n"))?;
                anyhow::bail!("cannot edit {}; nothing was written", path.display());
            }
        };
        match read_as_written(path, &text) {
            Ok(raw) => Ok((text, raw)),
            Err(diagnostic) => {
                self.out.eprint(&format!("{diagnostic}\n"))?;
                anyhow::bail!(
                    "cannot edit {}: it does not parse as a YAML map; fix it first; nothing was written",
                    path.display()
                );
            }
        }
    }

    /// The edited manifest must pass the real validator, the files in `written` (relative to
    /// the manifest's directory) counted as present; what the manifest got wrong before the
    /// edit is only a warning, printed with their number. Refuses the edit (nothing written)
    /// when it would introduce a problem.
    pub(crate) fn judge_edit(
        &mut self,
        original: &str,
        edited: &str,
        written: &[&str],
    ) -> anyhow::Result<()> {
        let manifest_path = &self.global.manifest;
        let base_dir = base_dir_of(manifest_path);
        let env_account_id = self.env.get("CLOUDFLARE_ACCOUNT_ID");
        let fs = AlsoExisting {
            fs: &RealFs,
            files: written.iter().map(|f| base_dir.join(f)).collect(),
        };
        let checked = check_edit(
            manifest_path,
            &base_dir,
            original,
            edited,
            env_account_id.as_deref(),
            &fs,
        );
        self.print_diagnostics(&checked.warnings)?;
        if !checked.introduced.is_empty() {
            let problems = count(checked.introduced.len(), "problem", "problems");
            self.out.eprint(&format!("{}\n", checked.introduced))?;
            anyhow::bail!(
                "refused: the edit would add {problems} to {}; nothing was written",
                manifest_path.display()
            );
        }
        if !checked.pre_existing.is_empty() {
            self.out.warn(&format!(
                "the manifest already had {}; run `cfsecrets check`",
                count(checked.pre_existing.len(), "problem", "problems")
            ))?;
        }
        Ok(())
    }

    /// Replaces the manifest with `text`, atomically, keeping its mode.
    pub(crate) fn write_manifest(&mut self, text: &str) -> anyhow::Result<()> {
        let path = &self.global.manifest;
        let options = WriteOptions {
            mode: manifest_mode(path),
            no_clobber: false,
        };
        write_atomic(path, text.as_bytes(), options)?;
        Ok(())
    }

    /// The directory paths in the manifest are relative to, as messages show it
    /// (`values/…` for a manifest in the current directory; validation resolves against
    /// `base_dir_of`).
    pub(crate) fn manifest_dir(&self) -> PathBuf {
        self.global
            .manifest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// Which entry a command edits, resolved on the manifest as written; a wrong `--account` or
/// `--store` is a usage error.
pub(crate) fn resolve(
    raw: &RawManifest,
    path: &Path,
    request: EntryRequest<'_>,
) -> anyhow::Result<EntryTarget> {
    EntryTarget::resolve(raw, path, request).map_err(target_error)
}

/// A target that cannot be resolved: a usage error (exit 64) when the command was called
/// wrongly, else an error.
pub(crate) fn target_error(err: TargetError) -> anyhow::Error {
    if err.is_usage() {
        anyhow::Error::new(UsageError(err.to_string()))
    } else {
        anyhow::Error::new(err)
    }
}

#[cfg(unix)]
fn manifest_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn manifest_mode(_: &Path) -> Option<u32> {
    None
}
