//! `cfsecrets bindings`: prints, ready to paste, the Workers bindings for one store's secrets
//! that have the `workers` scope — `secrets_store_secrets` entries for wrangler.toml or
//! wrangler.json(c), or a TypeScript `Env` interface. Every check of the input runs before
//! the one request (`GET /stores`, to learn the store id), which `--store-id` replaces.
//!
//! Exit codes: 0 printed; 1 an error (a secret asked for cannot be bound, nothing to print,
//! the store does not exist yet); 64 usage (unknown account or store, a bad `--store-id`).

use anyhow::Context as _;

use crate::cli::{BindingsArgs, BindingsFormat};
use crate::commands::context::{Context, find_account, find_store};
use crate::commands::{AlreadyReported, Status};
use crate::manifest::{DesiredAccount, DesiredStore};
use crate::output::Output;
use crate::text::{count, printable};
use crate::wrangler::Declared;
use crate::wrangler::render::{self, Entry, Selection, Style};

pub(super) async fn run(cx: &mut Context<'_>, args: &BindingsArgs) -> anyhow::Result<Status> {
    let desired = cx.load_manifest()?;
    let manifest = cx.global.manifest.display().to_string();
    let account = find_account(&desired.accounts, &args.at.account, &manifest)?;
    let store = find_store(account, args.at.store.as_deref())?;

    let declared = Declared::from_desired(&desired);
    let selection = render::select(&declared, &account.label, &store.name, &args.secrets);
    let place = format!("{}/{}", printable(&account.label), printable(&store.name));
    check_selection(cx.out, &selection, &place)?;

    let store_id = match &args.store_id {
        Some(id) => id.clone(),
        None => live_store_id(cx, args, account, store).await?,
    };
    let entries: Vec<Entry> = selection
        .chosen
        .into_iter()
        .map(|(binding, secret_name)| Entry {
            binding,
            store_id: store_id.clone(),
            secret_name,
        })
        .collect();
    let style = match args.format {
        BindingsFormat::Toml => Style::Toml,
        BindingsFormat::Jsonc => Style::Jsonc,
        BindingsFormat::Ts => Style::Ts,
    };
    cx.out
        .print(&render::render(
            style,
            &account.label,
            &store.name,
            &entries,
        ))
        .context("cannot write to stdout")?;
    cx.out.status(&format!(
        "{} for {place}",
        count(entries.len(), "binding", "bindings")
    ))?;
    Ok(Status::Success)
}

/// Prints what was left out (warnings) and what was refused (errors); an error when
/// anything was refused or nothing is left to bind.
fn check_selection(out: &mut Output, selection: &Selection, place: &str) -> anyhow::Result<()> {
    for skipped in &selection.skipped {
        out.warn(skipped)?;
    }
    if !selection.refused.is_empty() {
        let mut text = String::new();
        for refused in &selection.refused {
            text.push_str(&format!("error: {refused}\n"));
        }
        out.eprint(&text)?;
        return Err(AlreadyReported(format!(
            "bindings: {}",
            count(selection.refused.len(), "secret refused", "secrets refused")
        ))
        .into());
    }
    if selection.chosen.is_empty() {
        anyhow::bail!(
            "no secret of {place} can be bound: none has the `workers` scope{}",
            if selection.skipped.is_empty() {
                ""
            } else {
                " and a JavaScript name"
            }
        );
    }
    Ok(())
}

/// The live id of the store, from one `GET /stores`.
async fn live_store_id(
    cx: &mut Context<'_>,
    args: &BindingsArgs,
    account: &DesiredAccount,
    store: &DesiredStore,
) -> anyhow::Result<String> {
    let client = cx.client(&args.api)?;
    let account_id = account.account_id.as_str();
    let stores = cx
        .paced(&client, client.list_stores(account_id))
        .await
        .with_context(|| format!("cannot list the stores of account {}", account.label))?;
    let found = stores.into_iter().find(|s| s.name == store.name);
    match found {
        // The id is printed into a config file: only an id of the shape `--store-id` takes
        // and `check --wrangler` expects gets through.
        Some(live) if crate::wrangler::check::looks_like_store_id(&live.id) => Ok(live.id),
        Some(_) => anyhow::bail!(
            "the API gave store {} of account {} an id with unexpected characters",
            printable(&store.name),
            account.label
        ),
        None => anyhow::bail!(
            "store {} does not exist yet in account {} ({account_id}): run `cfsecrets apply` \
             to create it, or pass --store-id",
            printable(&store.name),
            account.label
        ),
    }
}
