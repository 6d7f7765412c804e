//! `cfsecrets init`: write a working skeleton — manifest, recipients file, sealed
//! fingerprint key and, if asked, a new identity (0600), which is added to the project's
//! `.gitignore` when it lies inside the project. Refuses to overwrite anything and checks
//! every input before writing the first file.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::InitArgs;
use crate::commands::context::{Context, recipients_count};
use crate::commands::{Status, UsageError};
use crate::fs::{WriteOptions, write_atomic};
use crate::gitignore::{self, Added};
use crate::manifest::write::{self, FINGERPRINT_KEY, RECIPIENTS_FILE, SCHEMA_PATH};
use crate::values::fingerprint::FingerprintKey;
use crate::values::seal::{IDENTITY_MODE, SEALED_MODE};
use crate::values::{Identities, Recipients};

/// `init` never overwrites: every file is new, readable by all but the identity.
const NEW_FILE: WriteOptions = WriteOptions::create_new().with_mode(SEALED_MODE);
const NEW_IDENTITY: WriteOptions = WriteOptions::create_new().with_mode(IDENTITY_MODE);

pub(super) async fn run(cx: &mut Context<'_>, args: &InitArgs) -> anyhow::Result<Status> {
    let paths = Paths::new(&cx.global.manifest, args);
    // Every check before the first write.
    paths.refuse_existing()?;
    let account_id = args.account_id.as_ref();
    let generated = paths.identity.as_ref().map(|_| Identities::generate());
    let recipients = recipients_of(generated.as_ref(), &args.recipients)?;

    let mut created = Vec::new();
    if let (Some(path), Some(identity)) = (&paths.identity, &generated) {
        created.push(write_identity(path, identity)?);
    }
    created.push(write_recipients(&paths.recipients, &recipients)?);
    created.push(write_fingerprint_key(&paths, &recipients)?);
    let text = write::skeleton(account_id, paths.base.join(SCHEMA_PATH).is_file());
    write_atomic(&paths.manifest, text.as_bytes(), NEW_FILE)?;
    created.push(format!("{}", paths.manifest.display()));

    for line in &created {
        cx.out.print(&format!("created {line}"))?;
    }
    if let Some(identity) = &paths.identity {
        keep_out_of_git(cx, &paths.base, identity)?;
    }
    // Hints, not results: on stderr, and silenced by --quiet.
    cx.out
        .status(next_steps(paths.identity.as_deref(), account_id.is_none()).trim_end())?;
    Ok(Status::Success)
}

/// The files `init` creates.
struct Paths {
    manifest: PathBuf,
    /// The manifest's directory; `Path::new("").join(x)` is `x`, so paths print without a
    /// leading `./`.
    base: PathBuf,
    recipients: PathBuf,
    key: PathBuf,
    identity: Option<PathBuf>,
}

impl Paths {
    fn new(manifest: &Path, args: &InitArgs) -> Self {
        let manifest = if args.dir == Path::new(".") {
            manifest.to_path_buf()
        } else {
            args.dir.join(manifest)
        };
        let base = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        Paths {
            recipients: base.join(RECIPIENTS_FILE),
            key: base.join(FINGERPRINT_KEY),
            identity: args.generate_identity.clone(),
            manifest,
            base,
        }
    }

    /// `init` never overwrites: refuses when any of its files exists.
    fn refuse_existing(&self) -> anyhow::Result<()> {
        let mut targets = vec![&self.manifest, &self.recipients, &self.key];
        targets.extend(&self.identity);
        for path in targets {
            if path.exists() {
                anyhow::bail!("{} already exists; init never overwrites", path.display());
            }
        }
        Ok(())
    }
}

/// The recipients: the generated identity's public key first, then each `-r`.
fn recipients_of(generated: Option<&Identities>, given: &[String]) -> anyhow::Result<Recipients> {
    let mut list: Vec<String> = generated.iter().flat_map(|g| g.to_recipients()).collect();
    list.extend(given.iter().map(|r| r.trim().to_string()));
    if list.is_empty() {
        return Err(UsageError(
            "init needs a recipient: pass -r age1… (repeatable) or --generate-identity FILE"
                .to_string(),
        )
        .into());
    }
    Ok(Recipients::from_strings(&list).map_err(|e| UsageError(e.to_string()))?)
}

/// Writes the new identity (mode 0600); returns the line that reports it.
fn write_identity(path: &Path, identity: &Identities) -> anyhow::Result<String> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let text = identity.to_file_text(&now);
    write_atomic(path, text.as_bytes(), NEW_IDENTITY).context("cannot write the new identity")?;
    Ok(format!(
        "{} (new identity, mode 0600: keep it out of git)",
        path.display()
    ))
}

/// Writes the recipients file; returns the line that reports it.
fn write_recipients(path: &Path, recipients: &Recipients) -> anyhow::Result<String> {
    let mut text = String::from(
        "# age recipients (public keys) that cfsecrets seals values to, one per line.\n\
         # After changing this list, run `cfsecrets reseal`.\n",
    );
    for key in recipients.sorted() {
        text.push_str(&key);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes(), NEW_FILE)?;
    Ok(format!(
        "{} ({})",
        path.display(),
        recipients_count(recipients)
    ))
}

/// Generates the fingerprint key, seals it and records it in the reseal index; returns the
/// line that reports it.
fn write_fingerprint_key(paths: &Paths, recipients: &Recipients) -> anyhow::Result<String> {
    let key = FingerprintKey::generate();
    let sealed = key.seal(recipients)?;
    write_atomic(&paths.key, &sealed, NEW_FILE)?;
    record_in_index(&paths.base, &paths.key, recipients, &sealed)?;
    Ok(format!("{} (sealed fingerprint key)", paths.key.display()))
}

/// Adds a generated identity that lies inside the project directory to the project's
/// `.gitignore` (created when missing, never a line twice) and says so. A failure to write
/// it is a warning: the identity exists by then, and the line can be added by hand.
fn keep_out_of_git(cx: &mut Context<'_>, base: &Path, identity: &Path) -> anyhow::Result<()> {
    let project = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let Some(pattern) = gitignore::pattern_for(project, identity) else {
        return Ok(());
    };
    let file = project.join(gitignore::GITIGNORE);
    let shown = file
        .strip_prefix(".")
        .unwrap_or(&file)
        .display()
        .to_string();
    let line = match gitignore::add(project, &pattern) {
        Ok(Added::Created) => format!("created {shown} (ignores the identity {pattern})"),
        Ok(Added::Appended) => format!("added {pattern} to {shown} (the new identity)"),
        Ok(Added::AlreadyListed) => format!("{shown} already ignores {pattern}"),
        Err(err) => {
            return Ok(cx.out.warn(&format!(
                "cannot add {pattern} to {shown} ({}); keep the identity out of git by hand",
                err.reason()
            ))?);
        }
    };
    Ok(cx.out.print(&line)?)
}

/// What to do next, naming the generated identity file when there is one.
fn next_steps(identity: Option<&Path>, no_account_id: bool) -> String {
    let id_hint = identity
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "YOUR_IDENTITY".to_string());
    let mut next = String::from("\nnext steps:\n");
    if no_account_id {
        next.push_str("  - set account_id in the manifest (or export CLOUDFLARE_ACCOUNT_ID)\n");
    }
    next.push_str(&format!(
        "  - add a secret:  printf %s \"$VALUE\" | cfsecrets secret set NAME --account default\n\
         \x20 - validate:      cfsecrets check --decrypt -i {id_hint}\n\
         \x20 - in CI, put the identity file's contents in CFSECRETS_AGE_KEY\n"
    ));
    next
}

fn record_in_index(
    base: &Path,
    path: &Path,
    recipients: &Recipients,
    sealed: &[u8],
) -> anyhow::Result<()> {
    let mut index = crate::values::index::SealIndex::load(base)?;
    index.record(
        &crate::values::index::index_key(base, path),
        &recipients.digest(),
        sealed,
    );
    index.save(base)?;
    Ok(())
}
