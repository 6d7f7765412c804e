//! Small file-system helpers every room shares: atomic writes, bounded reads, what a path
//! is, and whether it stays inside a directory. A leaf: it knows nothing of manifests, values
//! or plans, only paths and bytes, and its errors name the path (never the bytes).

use std::io::{Read as _, Write as _};
use std::path::{Component, Path, PathBuf};

use zeroize::Zeroizing;

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
    /// A directory, FIFO, device or socket where a file belongs. Never opened in a way that
    /// blocks.
    #[error("{} is {what}, not a file", path.display())]
    NotAFile { path: PathBuf, what: &'static str },
    /// Larger than the most this tool reads from such a file; refused before reading, or
    /// when it grew past the limit while being read.
    #[error("{} is too large ({}; the limit is {})", path.display(), match .size {
        Some(size) => crate::text::bytes(*size),
        None => "it grew while being read".to_string(),
    }, crate::text::bytes(*.limit))]
    TooLarge {
        path: PathBuf,
        size: Option<u64>,
        limit: u64,
    },
}

impl FsError {
    /// The message without the path, for a caller that already names the file.
    pub fn reason(&self) -> String {
        match self {
            FsError::Read { source, .. } | FsError::Write { source, .. } => io_reason(source),
            FsError::Exists { .. } => "it already exists".to_string(),
            FsError::NotAFile { what, .. } => format!("it is {what}, not a file"),
            FsError::TooLarge { size, limit, .. } => match size {
                Some(size) => format!(
                    "it is too large ({}; the limit is {})",
                    crate::text::bytes(*size),
                    crate::text::bytes(*limit)
                ),
                None => format!(
                    "it is too large (it grew while being read; the limit is {})",
                    crate::text::bytes(*limit)
                ),
            },
        }
    }
}

/// An I/O error in a few lowercase words.
pub fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::InvalidData => "not valid UTF-8".to_string(),
        _ => err.to_string().to_lowercase(),
    }
}

/// What is at a path, as far as reading it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File { size: u64 },
    Directory,
    Fifo,
    Device,
    Socket,
    Other,
}

impl Kind {
    /// Of the metadata of a path (symbolic links followed) or of an open file.
    pub fn of(meta: &std::fs::Metadata) -> Kind {
        let t = meta.file_type();
        if t.is_file() {
            return Kind::File { size: meta.len() };
        }
        if t.is_dir() {
            return Kind::Directory;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                return Kind::Fifo;
            }
            if t.is_char_device() || t.is_block_device() {
                return Kind::Device;
            }
            if t.is_socket() {
                return Kind::Socket;
            }
        }
        Kind::Other
    }

    /// "a directory", for "… is a directory, not a file".
    pub fn describe(self) -> &'static str {
        match self {
            Kind::File { .. } => "a file",
            Kind::Directory => "a directory",
            Kind::Fifo => "a FIFO (named pipe)",
            Kind::Device => "a device",
            Kind::Socket => "a socket",
            Kind::Other => "not a regular file",
        }
    }
}

/// Refuses what is not a regular file, or is a file over `limit` bytes.
fn judge(path: &Path, meta: &std::fs::Metadata, limit: u64) -> Result<(), FsError> {
    match Kind::of(meta) {
        Kind::File { size } if size > limit => Err(FsError::TooLarge {
            path: path.to_path_buf(),
            size: Some(size),
            limit,
        }),
        Kind::File { .. } => Ok(()),
        other => Err(FsError::NotAFile {
            path: path.to_path_buf(),
            what: other.describe(),
        }),
    }
}

/// Reads the regular file at `path`, at most `limit` bytes. What is not a regular file (a
/// directory, a FIFO, a device) or is larger than `limit` is refused from its metadata
/// before anything is read; the file is opened without blocking (a FIFO swapped in after
/// the check cannot hang the read) and judged again once open; and the read stops past
/// `limit`, so a file that grows meanwhile is still bounded. The bytes are zeroized on drop.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let read_err = |source: std::io::Error| FsError::Read {
        path: path.to_path_buf(),
        source,
    };
    judge(path, &std::fs::metadata(path).map_err(read_err)?, limit)?;
    let file = open_without_blocking(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    judge(path, &meta, limit)?;
    read_at_most(file, path, limit, meta.len())
}

/// Reads `file` (opened from `path`) to its end, failing once it passes `limit` bytes;
/// `expected` sizes the buffer.
fn read_at_most(
    file: std::fs::File,
    path: &Path,
    limit: u64,
    expected: u64,
) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let capacity = usize::try_from(expected.min(limit)).unwrap_or(0);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(FsError::TooLarge {
            path: path.to_path_buf(),
            size: None,
            limit,
        });
    }
    Ok(bytes)
}

/// Reads what `path` names, pipes included (`-i <(pass show key)`), at most `limit` bytes.
/// For paths the user typed, not for paths a manifest names.
pub fn read_capped(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, FsError> {
    let read_err = |source: std::io::Error| FsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    match Kind::of(&meta) {
        Kind::File { .. } | Kind::Fifo | Kind::Device => {}
        other => {
            return Err(FsError::NotAFile {
                path: path.to_path_buf(),
                what: other.describe(),
            });
        }
    }
    let file = std::fs::File::open(path).map_err(read_err)?;
    read_at_most(file, path, limit, meta.len())
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// How a path written relative to a directory leaves it, looking only at the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// An absolute path (or, on Windows, one with a drive or root).
    Absolute,
    /// `..` climbs above the directory.
    ClimbsOut,
}

/// Whether `written`, taken relative to a directory, stays inside it by its text alone
/// (`a/../b` stays; `../b` and `/b` do not). Symbolic links are [`stays_inside`]'s business.
pub fn lexical_escape(written: &Path) -> Option<Escape> {
    let mut depth: usize = 0;
    for component in written.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Some(Escape::Absolute),
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return Some(Escape::ClimbsOut),
            },
            Component::Normal(_) => depth += 1,
        }
    }
    None
}

/// Whether `path` resolves (symbolic links followed) to a place inside `dir`. A path that
/// does not exist yet is judged by its deepest existing ancestor, the rest appended as
/// written (it must hold no `..`: check [`lexical_escape`] first). False when `dir` cannot
/// be resolved.
pub fn stays_inside(path: &Path, dir: &Path) -> bool {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return false;
    };
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    let resolved = loop {
        match std::fs::canonicalize(&existing) {
            Ok(resolved) => break resolved,
            Err(_) => {
                let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
                    return false;
                };
                rest.push(name);
                if !existing.pop() {
                    return false;
                }
                if existing.as_os_str().is_empty() {
                    existing = PathBuf::from(".");
                }
            }
        }
    };
    let full = rest.iter().rev().fold(resolved, |p, name| p.join(name));
    full.starts_with(&dir)
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
    fn bounded_reads_refuse_large_files_and_what_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(&read_bounded(&p, 5).unwrap()[..], b"12345");
        let err = read_bounded(&p, 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is too large (5 bytes; the limit is 4 bytes)",
                p.display()
            )
        );
        let err = read_bounded(dir.path(), 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} is a directory, not a file", dir.path().display())
        );
        assert!(matches!(
            read_bounded(&dir.path().join("gone"), 4),
            Err(FsError::Read { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    #[allow(clippy::print_stderr)] // the note that the test was skipped
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("note: mkfifo is not available; skipped");
            return;
        }
        // No writer ever opens it: a blocking open would hang this test.
        let err = read_bounded(&fifo, 1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} is a FIFO (named pipe), not a file", fifo.display())
        );
    }

    #[test]
    fn paths_that_leave_the_directory_by_their_text() {
        assert_eq!(lexical_escape(Path::new("values/a.age")), None);
        assert_eq!(lexical_escape(Path::new("./a/../b.age")), None);
        assert_eq!(
            lexical_escape(Path::new("../b.age")),
            Some(Escape::ClimbsOut)
        );
        assert_eq!(
            lexical_escape(Path::new("a/../../b.age")),
            Some(Escape::ClimbsOut)
        );
        assert_eq!(
            lexical_escape(Path::new("/etc/b.age")),
            Some(Escape::Absolute)
        );
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_out_of_the_directory_are_seen() {
        let outside = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let base = project.path();
        std::fs::write(outside.path().join("x.age"), b"x").unwrap();
        std::fs::write(base.join("in.age"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), base.join("link")).unwrap();
        std::os::unix::fs::symlink(base.join("in.age"), base.join("alias.age")).unwrap();
        assert!(stays_inside(&base.join("in.age"), base));
        assert!(stays_inside(&base.join("alias.age"), base));
        assert!(stays_inside(&base.join("new/dir/file.age"), base));
        assert!(!stays_inside(&base.join("link/x.age"), base));
        assert!(!stays_inside(&base.join("link/not-yet.age"), base));
    }

    #[test]
    fn the_directory_of_a_bare_name_is_dot() {
        assert_eq!(dir_of(Path::new("m.yaml")), Path::new("."));
        assert_eq!(dir_of(Path::new("d/m.yaml")), Path::new("d"));
        assert_eq!(dir_of(Path::new("/m.yaml")), Path::new("/"));
    }
}
