//! Small file-system helpers every room shares: atomic writes. A leaf: it knows nothing of
//! manifests, values or plans, only paths and bytes, and its errors name the path.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A file operation that failed, naming the path (never the bytes).
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} already exists; refusing to overwrite it", path.display())]
    Exists { path: PathBuf },
}

/// How [`write_atomic`] treats the target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// The file's mode (unix), set just before the rename; `None` keeps the temporary
    /// file's 0600.
    pub mode: Option<u32>,
    /// Refuse to replace an existing file ([`FsError::Exists`]).
    pub no_clobber: bool,
}

impl WriteOptions {
    /// Replace whatever is at the path.
    pub const fn replace() -> Self {
        Self {
            mode: None,
            no_clobber: false,
        }
    }

    /// Create a new file; an existing one is an error.
    pub const fn create_new() -> Self {
        Self {
            mode: None,
            no_clobber: true,
        }
    }

    /// The same, with the file's mode set to `mode`.
    pub const fn with_mode(self, mode: u32) -> Self {
        Self {
            mode: Some(mode),
            ..self
        }
    }
}

/// The directory a path's file lives in (`.` for a bare file name).
pub fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (mode 0600),
/// flushed to disk, then renamed over the target, so a reader sees the old file or the new
/// one, never half of one. The parent directory is created if needed.
pub fn write_atomic(path: &Path, bytes: &[u8], options: WriteOptions) -> Result<(), FsError> {
    let write_err = |source: std::io::Error| FsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = dir_of(path);
    std::fs::create_dir_all(&dir).map_err(write_err)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".cfsecrets-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    #[cfg(unix)]
    if let Some(mode) = options.mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(write_err)?;
    }
    if options.no_clobber {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                FsError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                write_err(e.error)
            }
        })?;
    } else {
        tmp.persist(path).map_err(|e| write_err(e.error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_no_clobber_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/f");
        write_atomic(&p, b"one", WriteOptions::create_new().with_mode(0o644)).unwrap();
        let err = write_atomic(&p, b"two", WriteOptions::create_new()).unwrap_err();
        assert!(matches!(err, FsError::Exists { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("{} already exists; refusing to overwrite it", p.display())
        );
        write_atomic(&p, b"three", WriteOptions::replace()).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"three");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_mode_is_set_or_left_at_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let a = dir.path().join("a");
        write_atomic(&a, b"x", WriteOptions::replace().with_mode(0o644)).unwrap();
        assert_eq!(mode(&a), 0o644);
        let b = dir.path().join("b");
        write_atomic(&b, b"x", WriteOptions::replace()).unwrap();
        assert_eq!(mode(&b), 0o600);
    }

    #[test]
    fn the_directory_of_a_bare_name_is_dot() {
        assert_eq!(dir_of(Path::new("m.yaml")), Path::new("."));
        assert_eq!(dir_of(Path::new("d/m.yaml")), Path::new("d"));
        assert_eq!(dir_of(Path::new("/m.yaml")), Path::new("/"));
    }
}
