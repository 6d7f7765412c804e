//! `cfsecrets init`: write a working skeleton — manifest, recipients file, sealed
//! fingerprint key and, if asked, a new identity (0600). Refuses to overwrite anything and
//! checks every input before writing the first file.

use std::path::Path;

use anyhow::Context;

use crate::cli::{GlobalArgs, InitArgs};
use crate::commands::{Status, UsageError};
use crate::domain::AccountId;
use crate::fs::{WriteOptions, write_atomic};
use crate::manifest::write::{self, FINGERPRINT_KEY, RECIPIENTS_FILE, SCHEMA_PATH};
use crate::output::Output;
use crate::text::count;
use crate::values::fingerprint::FingerprintKey;
use crate::values::seal::{IDENTITY_MODE, SEALED_MODE};
use crate::values::{Identities, Recipients};

/// `init` never overwrites: every file is new, readable by all but the identity.
const NEW_FILE: WriteOptions = WriteOptions::create_new().with_mode(SEALED_MODE);
const NEW_IDENTITY: WriteOptions = WriteOptions::create_new().with_mode(IDENTITY_MODE);

pub async fn run(out: &mut Output, global: &GlobalArgs, args: &InitArgs) -> anyhow::Result<Status> {
    let manifest = if args.dir == Path::new(".") {
        global.manifest.clone()
    } else {
        args.dir.join(&global.manifest)
    };
    // `Path::new("").join(x)` is `x`: paths print without a leading `./`.
    let base = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let recipients_path = base.join(RECIPIENTS_FILE);
    let key_path = base.join(FINGERPRINT_KEY);

    // Every check before the first write.
    let mut targets = vec![manifest.clone(), recipients_path.clone(), key_path.clone()];
    targets.extend(args.generate_identity.clone());
    for path in &targets {
        if path.exists() {
            anyhow::bail!("{} already exists; init never overwrites", path.display());
        }
    }
    let account_id = match &args.account_id {
        Some(id) => Some(
            AccountId::parse(id.trim()).map_err(|e| UsageError(format!("--account-id: {e}")))?,
        ),
        None => None,
    };
    let generated = args
        .generate_identity
        .as_ref()
        .map(|_| Identities::generate());
    let mut list: Vec<String> = generated.iter().flat_map(|g| g.to_recipients()).collect();
    list.extend(args.recipients.iter().map(|r| r.trim().to_string()));
    if list.is_empty() {
        return Err(UsageError(
            "init needs a recipient: pass -r age1… (repeatable) or --generate-identity FILE"
                .to_string(),
        )
        .into());
    }
    let recipients = Recipients::from_strings(&list).map_err(|e| UsageError(e.to_string()))?;

    let mut created = Vec::new();
    if let (Some(path), Some(identity)) = (&args.generate_identity, &generated) {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let text = identity.to_file_text(&now);
        write_atomic(path, text.as_bytes(), NEW_IDENTITY)
            .context("cannot write the new identity")?;
        created.push(format!(
            "{} (new identity, mode 0600: keep it out of git)",
            path.display()
        ));
    }

    let mut recipients_text = String::from(
        "# age recipients (public keys) that cfsecrets seals values to, one per line.\n\
         # After changing this list, run `cfsecrets reseal`.\n",
    );
    for key in recipients.sorted() {
        recipients_text.push_str(&key);
        recipients_text.push('\n');
    }
    write_atomic(&recipients_path, recipients_text.as_bytes(), NEW_FILE)?;
    created.push(format!(
        "{} ({})",
        recipients_path.display(),
        recipients_count(&recipients)
    ));

    let key = FingerprintKey::generate();
    let sealed = key.seal(&recipients)?;
    write_atomic(&key_path, &sealed, NEW_FILE)?;
    record_in_index(&base, &key_path, &recipients, &sealed)?;
    created.push(format!("{} (sealed fingerprint key)", key_path.display()));

    let text = write::skeleton(account_id.as_ref(), base.join(SCHEMA_PATH).is_file());
    write_atomic(&manifest, text.as_bytes(), NEW_FILE)?;
    created.push(format!("{}", manifest.display()));

    for line in &created {
        out.print(&format!("created {line}"))?;
    }
    let id_hint = args
        .generate_identity
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "YOUR_IDENTITY".to_string());
    let mut next = String::from("\nnext steps:\n");
    if account_id.is_none() {
        next.push_str("  - set account_id in the manifest (or export CLOUDFLARE_ACCOUNT_ID)\n");
    }
    next.push_str(&format!(
        "  - add a secret:  printf %s \"$VALUE\" | cfsecrets secret set NAME --account default\n\
         \x20 - validate:      cfsecrets check --decrypt -i {id_hint}\n\
         \x20 - in CI, put the identity file's contents in CFSECRETS_AGE_KEY\n"
    ));
    // Hints, not results: on stderr, and silenced by --quiet.
    out.status(next.trim_end())?;
    Ok(Status::Success)
}

/// "1 recipient", "2 recipients" (distinct keys).
pub(crate) fn recipients_count(r: &Recipients) -> String {
    count(r.sorted().len(), "recipient", "recipients")
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
