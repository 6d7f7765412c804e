//! The reseal index: for each sealed file, the recipient set it was last sealed to by this
//! tool.
//!
//! Age headers do not reveal recipients, so `reseal` could not otherwise tell which files
//! need work. The index lives beside the manifest as `.cfsecrets-sealed.json` and maps each
//! path (relative to the manifest's directory, `/`-separated) to the sha256 of the sorted
//! recipient list and the sha256 of the sealed file. A file whose bytes no longer match (for
//! example re-sealed by hand with the `age` CLI) counts as unknown and is resealed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ValuesError;
use super::seal::SEALED_MODE;
use crate::domain::MAX_INDEX_FILE_BYTES;
use crate::fs::FsError;
use crate::fs::{WriteOptions, write_atomic};

/// File name of the index, beside the manifest.
pub const INDEX_FILE: &str = ".cfsecrets-sealed.json";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealIndex {
    pub version: u32,
    pub files: BTreeMap<String, SealRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRecord {
    /// sha256 of the sorted recipient list ([`super::Recipients::digest`]).
    pub recipients: String,
    /// sha256 of the sealed file's bytes.
    pub sealed: String,
}

impl SealIndex {
    pub fn path_in(base_dir: &Path) -> PathBuf {
        base_dir.join(INDEX_FILE)
    }

    /// Loads the index of `base_dir`; a missing file is an empty index.
    pub fn load(base_dir: &Path) -> Result<Self, ValuesError> {
        let path = Self::path_in(base_dir);
        match crate::fs::read_bounded(&path, MAX_INDEX_FILE_BYTES) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ValuesError::Index {
                path,
                reason: format!(
                    "not a valid seal index ({e}); delete it and run `cfsecrets reseal --force`"
                ),
            }),
            Err(FsError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self {
                    version: 1,
                    files: BTreeMap::new(),
                })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Writes the index atomically.
    pub fn save(&self, base_dir: &Path) -> Result<(), ValuesError> {
        let mut text = serde_json::to_string_pretty(self).expect("index serializes");
        text.push('\n');
        write_atomic(
            &Self::path_in(base_dir),
            text.as_bytes(),
            WriteOptions::replace().with_mode(SEALED_MODE),
        )?;
        Ok(())
    }

    /// Records that `sealed` (the bytes now at `rel`) was sealed to `recipients_digest`.
    pub fn record(&mut self, rel: &str, recipients_digest: &str, sealed: &[u8]) {
        self.version = 1;
        self.files.insert(
            rel.to_string(),
            SealRecord {
                recipients: recipients_digest.to_string(),
                sealed: sha256_hex(sealed),
            },
        );
    }

    /// Whether the file at `rel`, with these bytes, is known to be sealed to exactly
    /// `recipients_digest`.
    pub fn is_current(&self, rel: &str, recipients_digest: &str, sealed: &[u8]) -> bool {
        self.files
            .get(rel)
            .is_some_and(|r| r.recipients == recipients_digest && r.sealed == sha256_hex(sealed))
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `path` relative to `base_dir`, `/`-separated (the index key). Paths outside `base_dir`
/// keep their full form.
pub fn index_key(base_dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base_dir).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_detect_changed_bytes_and_recipients() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = SealIndex::load(dir.path()).unwrap();
        assert!(idx.files.is_empty());
        idx.record("values/a.age", "r1", b"sealed-a");
        idx.save(dir.path()).unwrap();
        let idx = SealIndex::load(dir.path()).unwrap();
        assert!(idx.is_current("values/a.age", "r1", b"sealed-a"));
        assert!(!idx.is_current("values/a.age", "r2", b"sealed-a"));
        assert!(!idx.is_current("values/a.age", "r1", b"hand-sealed"));
        assert!(!idx.is_current("values/b.age", "r1", b"sealed-a"));
        assert_eq!(
            index_key(Path::new("/m"), Path::new("/m/values/a.age")),
            "values/a.age"
        );
    }
}
