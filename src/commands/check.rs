//! `cfsecrets check`: validates the manifest (and the recipients file it names) offline and
//! prints every diagnostic, or a one-line summary when it is clean. Needs no network and no
//! identity.

use anyhow::Context as _;

use crate::cli::CheckArgs;
use crate::commands::Status;
use crate::commands::context::{Context, shown_path};
use crate::manifest::{Counts, Desired, Severity};
use crate::text::count;
use crate::values::{self, FingerprintKey};

pub(super) async fn run(cx: &mut Context<'_>, args: &CheckArgs) -> anyhow::Result<Status> {
    // The same offline checks `plan`, `apply` and `reseal` make first.
    let (desired, _) = cx.load_checked()?;
    let mut line = summary_line(&cx.global.manifest.display().to_string(), desired.counts());
    if !args.wrangler.is_empty() {
        line.push_str(&check_wrangler(cx, &desired, &args.wrangler)?);
    }
    if args.decrypt {
        line.push_str(&check_values(cx, &desired)?);
    }
    cx.out.print(&line).context("cannot write to stdout")?;
    Ok(Status::Success)
}

/// `check --wrangler`: reads each wrangler config and checks its bindings against the
/// manifest. Prints every diagnostic to stderr; returns the summary suffix when none is an
/// error.
fn check_wrangler(
    cx: &mut Context<'_>,
    desired: &Desired,
    paths: &[std::path::PathBuf],
) -> anyhow::Result<String> {
    let declared = crate::wrangler::Declared::from_desired(desired);
    let (configs, diagnostics) = crate::wrangler::load_and_check(paths, &declared);
    if diagnostics.has_errors() {
        return Err(cx.report(&diagnostics)?);
    }
    cx.print_diagnostics(&diagnostics)?;
    let bindings = configs.iter().map(|c| c.bindings.len()).sum();
    let mut suffix = format!(
        "; {} in {} checked",
        count(bindings, "binding", "bindings"),
        count(configs.len(), "wrangler config", "wrangler configs")
    );
    if !diagnostics.is_empty() {
        suffix.push_str(&format!(
            " ({})",
            count(diagnostics.len(), "warning", "warnings")
        ));
    }
    Ok(suffix)
}

/// `check --decrypt`: unseals the fingerprint key and every value and checks each one.
/// Prints problems (never values) to stderr; returns the summary suffix when none is an
/// error.
fn check_values(cx: &mut Context<'_>, desired: &Desired) -> anyhow::Result<String> {
    let ids = cx.require_identities("`check --decrypt` needs an identity")?;
    let mut lines = Vec::new();
    let mut errors = 0;
    let mut warnings = 0;
    if let Err(err) = FingerprintKey::load(&desired.fingerprint_key, &ids) {
        errors += 1;
        lines.push(format!(
            "error: fingerprint key {}: {}",
            shown_path(desired, &desired.fingerprint_key),
            err.reason()
        ));
    }
    let problems = values::check_values(desired, &ids);
    for problem in &problems {
        match problem.severity() {
            Severity::Error => errors += 1,
            Severity::Warning => warnings += 1,
        }
        lines.push(format!("{}: {}", problem.severity(), problem));
    }
    let counts = desired.counts();
    let checked = counts.secrets - counts.absent - counts.kept;
    if !lines.is_empty() {
        cx.out
            .eprint(&(lines.join("\n") + "\n"))
            .context("cannot write to stderr")?;
    }
    if errors > 0 {
        return Err(cx.failed(String::new(), errors, warnings)?);
    }
    let mut suffix = format!(
        "; {} decrypted and checked",
        count(checked, "value", "values")
    );
    if warnings > 0 {
        suffix.push_str(&format!(" ({})", count(warnings, "warning", "warnings")));
    }
    Ok(suffix)
}

/// `ok: cfsecrets.yaml — 2 accounts, 3 stores, 12 secrets (1 absent, 1 kept)`.
fn summary_line(manifest: &str, c: Counts) -> String {
    let mut line = format!(
        "ok: {manifest} — {}, {}, {}",
        count(c.accounts, "account", "accounts"),
        count(c.stores, "store", "stores"),
        count(c.secrets, "secret", "secrets"),
    );
    let mut notes = Vec::new();
    if c.absent > 0 {
        notes.push(format!("{} absent", c.absent));
    }
    if c.kept > 0 {
        notes.push(format!("{} kept", c.kept));
    }
    if !notes.is_empty() {
        line.push_str(&format!(" ({})", notes.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_mentions_only_nonzero_notes() {
        let c = Counts {
            accounts: 2,
            stores: 3,
            secrets: 12,
            absent: 1,
            kept: 1,
        };
        assert_eq!(
            summary_line("cfsecrets.yaml", c),
            "ok: cfsecrets.yaml — 2 accounts, 3 stores, 12 secrets (1 absent, 1 kept)"
        );
        let one = Counts {
            accounts: 1,
            stores: 1,
            secrets: 1,
            ..Counts::default()
        };
        assert_eq!(
            summary_line("m.yaml", one),
            "ok: m.yaml — 1 account, 1 store, 1 secret"
        );
    }
}
