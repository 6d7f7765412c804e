//! Resealing: re-encrypt sealed files to the current recipients, only where needed.
//!
//! A file needs work when `force` is set, when the index has no record of it, when its
//! record names another recipient set, or when its bytes changed since the record (someone
//! sealed it by hand). Every file is read, and every file that needs work decrypted, before
//! the first write; if any fails, each one that failed is named and nothing is written.
//! Each write is atomic, and the index is saved after the writes (also after a failed
//! write, for the files already done), so every file is either old or new.

use std::path::{Path, PathBuf};

use super::ValuesError;
use super::index::{SealIndex, index_key};
use super::keys::{Identities, Recipients};
use super::seal::{SEALED_MODE, seal, unseal};
use crate::domain::MAX_BUNDLE_FILE_BYTES;
use crate::fs::{WriteOptions, write_atomic};

/// What a reseal did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Files re-encrypted, in the order given.
    pub resealed: Vec<PathBuf>,
    /// Files already sealed to the current recipients.
    pub unchanged: Vec<PathBuf>,
}

/// Reseals `files` (absolute or relative to the working directory; index keys are taken
/// relative to `base_dir`). Missing files are an error, and so is a file that resolves
/// outside `base_dir`: then nothing is written.
pub fn reseal_files(
    base_dir: &Path,
    files: &[PathBuf],
    recipients: &Recipients,
    ids: &Identities,
    force: bool,
) -> Result<ResealReport, ValuesError> {
    let digest = recipients.digest();
    let mut index = SealIndex::load(base_dir)?;
    let mut report = ResealReport::default();
    // The manifest's validation already refuses such paths; this keeps the rewrite inside
    // the project whatever the caller passes.
    if let Some(path) = files.iter().find(|p| !crate::fs::stays_inside(p, base_dir)) {
        return Err(ValuesError::Outside { path: path.clone() });
    }
    let mut todo = Vec::new();
    // Every file is read and decrypted before the first write; each one that fails is
    // named, and then nothing is written.
    let mut unreadable = Vec::new();
    for path in files {
        // Value files and bundles alike: the larger limit bounds both (validation has
        // already held each to its own).
        let bytes = match crate::fs::read_bounded(path, MAX_BUNDLE_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(err) => {
                unreadable.push((path.clone(), ValuesError::from(err).reason()));
                continue;
            }
        };
        let key = index_key(base_dir, path);
        if !force && index.is_current(&key, &digest, &bytes) {
            report.unchanged.push(path.clone());
            continue;
        }
        match unseal(&bytes, ids, path) {
            Ok(plain) => todo.push((path.clone(), key, plain)),
            Err(err) => unreadable.push((path.clone(), err.reason())),
        }
    }
    if !unreadable.is_empty() {
        return Err(ValuesError::CannotReseal { files: unreadable });
    }
    let mut failure = None;
    for (path, key, plain) in &todo {
        let result = seal(plain, recipients).and_then(|sealed| {
            write_atomic(
                path,
                &sealed,
                WriteOptions::replace().with_mode(SEALED_MODE),
            )
            .map(|()| sealed)
            .map_err(ValuesError::from)
        });
        match result {
            Ok(sealed) => {
                index.record(key, &digest, &sealed);
                report.resealed.push(path.clone());
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // Forget files the manifest no longer names.
    let keep: std::collections::BTreeSet<String> =
        files.iter().map(|p| index_key(base_dir, p)).collect();
    index.files.retain(|k, _| keep.contains(k));
    index.version = 1;
    index.save(base_dir)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Seals `plaintext` to `recipients`, writes it atomically to `path` and records it in the
/// index of `base_dir` (used by `secret set` and `init`).
pub fn seal_and_record(
    base_dir: &Path,
    path: &Path,
    plaintext: &[u8],
    recipients: &Recipients,
    no_clobber: bool,
) -> Result<(), ValuesError> {
    let sealed = seal(plaintext, recipients)?;
    let options = WriteOptions {
        mode: Some(SEALED_MODE),
        no_clobber,
    };
    write_atomic(path, &sealed, options)?;
    let mut index = SealIndex::load(base_dir)?;
    index.record(&index_key(base_dir, path), &recipients.digest(), &sealed);
    index.save(base_dir)
}

/// Seals each `(path, plaintext)` to `recipients`, writes each file atomically and records
/// them all in the index of `base_dir`, which is read and saved once whatever the number of
/// files (used by `secret import-env`). Every value is sealed before the first write, so a
/// failure to seal writes nothing; after a failed write the index still records the files
/// that were written.
///
/// Each atomic write waits for the disk (`fsync`), so the writes run on a few threads: a
/// thousand files then cost about as many disk round trips as a hundred.
pub fn seal_and_record_all(
    base_dir: &Path,
    files: &[(PathBuf, &[u8])],
    recipients: &Recipients,
) -> Result<(), ValuesError> {
    let sealed = files
        .iter()
        .map(|(path, plaintext)| Ok((path, seal(plaintext, recipients)?)))
        .collect::<Result<Vec<_>, ValuesError>>()?;
    let written = write_all(&sealed);
    let digest = recipients.digest();
    let mut index = SealIndex::load(base_dir)?;
    let mut failure = None;
    for ((path, bytes), result) in sealed.iter().zip(written) {
        match result {
            Ok(()) => index.record(&index_key(base_dir, path), &digest, bytes),
            Err(err) => failure = failure.or(Some(err)),
        }
    }
    index.save(base_dir)?;
    failure.map_or(Ok(()), |err| Err(err.into()))
}

/// How many threads write sealed files at once.
const WRITERS: usize = 8;

/// Writes each sealed file atomically, on up to [`WRITERS`] threads; one result per file,
/// in order.
fn write_all(sealed: &[(&PathBuf, Vec<u8>)]) -> Vec<Result<(), crate::fs::FsError>> {
    let options = WriteOptions::replace().with_mode(SEALED_MODE);
    let chunk = sealed.len().div_ceil(WRITERS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = sealed
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(path, bytes)| write_atomic(path, bytes, options))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a writer thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reseals_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let alice = Identities::generate();
        let bob = Identities::generate();
        let r1 = Recipients::from_strings(&alice.to_recipients()).unwrap();
        let a = base.join("values/a.age");
        let b = base.join("values/b.age");
        seal_and_record(base, &a, b"va", &r1, true).unwrap();
        seal_and_record(base, &b, b"vb", &r1, true).unwrap();
        let files = vec![a.clone(), b.clone()];
        let report = reseal_files(base, &files, &r1, &alice, false).unwrap();
        assert_eq!(report.resealed.len(), 0);

        let mut both = alice.to_recipients();
        both.extend(bob.to_recipients());
        let r2 = Recipients::from_strings(&both).unwrap();
        let report = reseal_files(base, &files, &r2, &alice, false).unwrap();
        assert_eq!(report.resealed, files);
        let plain = unseal(&std::fs::read(&b).unwrap(), &bob, &b).unwrap();
        assert_eq!(&plain[..], b"vb");
        let report = reseal_files(base, &files, &r2, &bob, false).unwrap();
        assert_eq!(report.unchanged, files);

        // Hand-sealed: same recipients, different bytes → unknown → resealed.
        std::fs::write(&a, seal(b"va2", &r2).unwrap()).unwrap();
        let report = reseal_files(base, &files, &r2, &bob, false).unwrap();
        assert_eq!(report.resealed, vec![a.clone()]);
        assert_eq!(
            reseal_files(base, &files, &r2, &bob, true)
                .unwrap()
                .resealed
                .len(),
            2
        );
    }

    #[test]
    fn many_files_are_sealed_written_and_recorded_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let id = Identities::generate();
        let r = Recipients::from_strings(&id.to_recipients()).unwrap();
        let files: Vec<(PathBuf, &[u8])> = vec![
            (base.join("values/a.age"), b"va"),
            (base.join("values/x/b.age"), b"vb"),
        ];
        seal_and_record_all(base, &files, &r).unwrap();
        for (path, plain) in &files {
            let back = unseal(&std::fs::read(path).unwrap(), &id, path).unwrap();
            assert_eq!(&back[..], *plain);
        }
        // Recorded as sealed to these recipients: nothing to reseal.
        let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
        let report = reseal_files(base, &paths, &r, &id, false).unwrap();
        assert_eq!(report.unchanged, paths);
    }

    #[test]
    fn a_file_outside_the_base_directory_is_never_rewritten() {
        let outside = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let base = project.path();
        let id = Identities::generate();
        let r = Recipients::from_strings(&id.to_recipients()).unwrap();
        let inside = base.join("a.age");
        let far = outside.path().join("b.age");
        seal_and_record(base, &inside, b"va", &r, true).unwrap();
        std::fs::write(&far, seal(b"vb", &r).unwrap()).unwrap();
        let before = (
            std::fs::read(&inside).unwrap(),
            std::fs::read(&far).unwrap(),
        );
        let err = reseal_files(base, &[inside.clone(), far.clone()], &r, &id, true).unwrap_err();
        assert!(matches!(err, ValuesError::Outside { .. }), "{err}");
        let after = (
            std::fs::read(&inside).unwrap(),
            std::fs::read(&far).unwrap(),
        );
        assert_eq!(before, after);
    }

    #[test]
    fn undecryptable_file_means_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let alice = Identities::generate();
        let carol = Identities::generate();
        let ra = Recipients::from_strings(&alice.to_recipients()).unwrap();
        let rc = Recipients::from_strings(&carol.to_recipients()).unwrap();
        let a = base.join("a.age");
        let c = base.join("c.age");
        seal_and_record(base, &a, b"va", &ra, true).unwrap();
        seal_and_record(base, &c, b"vc", &rc, true).unwrap();
        let before = std::fs::read(&a).unwrap();
        let d = base.join("d.age");
        seal_and_record(base, &d, b"vd", &rc, true).unwrap();
        let err =
            reseal_files(base, &[a.clone(), c.clone(), d.clone()], &rc, &alice, true).unwrap_err();
        let ValuesError::CannotReseal { files } = &err else {
            panic!("{err}");
        };
        let named: Vec<&PathBuf> = files.iter().map(|(p, _)| p).collect();
        assert_eq!(named, [&c, &d], "every file that fails is named, in order");
        assert!(files[0].1.starts_with("cannot decrypt: "), "{}", files[0].1);
        assert!(err.to_string().ends_with("; nothing was resealed"), "{err}");
        assert_eq!(std::fs::read(&a).unwrap(), before);
    }
}
