//! `cfsecrets local`: fills `wrangler dev`'s local Secrets Store with the values of the
//! secrets a wrangler config binds (top level, or `--env NAME`), taken from one manifest
//! account, by running `wrangler secrets-store secret create` without `--remote` in the
//! config's directory, each value on wrangler's stdin ([`crate::wrangler::local`]).
//!
//! Makes no API request. Every check (the config, each binding's secret in the account, the
//! program, the values) runs before wrangler first runs. The local store keeps the values in
//! plain text under `.wrangler/state`: the command says so every time.
//!
//! Exit codes: 0 filled; 1 an error (a binding whose secret has no value in the account, a
//! value that cannot be unsealed, wrangler missing or failing); 64 usage (unknown account,
//! store or env).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::LocalArgs;
use crate::commands::context::{Context, find_account, find_store};
use crate::commands::{Status, UsageError};
use crate::domain::{Scope, SecretName, ValueKey};
use crate::manifest::{Desired, DesiredAccount, DesiredSecret, Diagnostics, ValueSource};
use crate::output::Output;
use crate::text::{clipped, count, printable};
use crate::values::UnsealedValues;
use crate::wrangler::local::{self, Program};
use crate::wrangler::read::name_shown;
use crate::wrangler::{self, Binding, Environment, WranglerConfig};

/// How long one `wrangler secrets-store secret create` may take.
const CREATE_LIMIT: Duration = Duration::from_secs(120);

/// One secret to put into the local store.
struct Fill {
    store_id: String,
    /// The value's key in the manifest.
    key: ValueKey,
}

pub(super) async fn run(cx: &mut Context<'_>, args: &LocalArgs) -> anyhow::Result<Status> {
    let desired = cx.load_manifest()?;
    let manifest = cx.global.manifest.display().to_string();
    let account = find_account(&desired.accounts, &args.account, &manifest)?;
    if let Some(store) = &args.store {
        find_store(account, Some(store))?;
    }
    let (config, env) = read_config(cx, &args.wrangler, args.env.as_deref())?;
    let fills = resolve(cx, &config, account, args.store.as_deref())?;
    let path = cx.env.get("PATH");
    let program =
        local::find_program(args.wrangler_bin.as_deref(), path.as_deref()).ok_or_else(|| {
            anyhow::anyhow!(
                "wrangler not found: no `wrangler` and no `npx` on PATH; install wrangler in the \
                 project (npm install --save-dev wrangler), or pass --wrangler-bin PATH"
            )
        })?;
    let ids = cx.require_identities("`local` needs an identity to unseal the values")?;
    let (values, problems) = crate::values::unseal_all(&only(&desired, &fills), &ids);
    cx.report_value_problems(&problems)?;
    fill_all(cx.out, &program, &config, &env, &fills, &values)?;
    let dir = crate::fs::dir_of(&config.path);
    cx.out.print(&format!(
        "Filled {} of {} into the local Secrets Store of `wrangler dev` for {} ({env}).",
        count(fills.len(), "secret", "secrets"),
        printable(&account.label),
        config.path.display(),
    ))?;
    let state = if dir.as_path() == Path::new(".") {
        PathBuf::from(".wrangler/state")
    } else {
        dir.join(".wrangler/state")
    };
    cx.out.warn(&format!(
        "the local store keeps these values in plain text under {}: keep .wrangler out of git, \
         and fill it with development values only",
        state.display()
    ))?;
    Ok(Status::Success)
}

/// Reads the config and keeps the bindings of `env` (the top level without one), checking
/// their shape: errors exit 1, an env the config does not declare exits 64.
fn read_config(
    cx: &mut Context<'_>,
    path: &Path,
    env: Option<&str>,
) -> anyhow::Result<(WranglerConfig, Environment)> {
    let (mut config, mut diagnostics) = wrangler::load(path);
    if diagnostics.has_errors() {
        return Err(cx.report(&diagnostics)?);
    }
    let chosen = match env {
        None => Environment::TopLevel,
        Some(name) if config.envs.iter().any(|e| e == name) => Environment::Named(name.into()),
        Some(name) => {
            let envs: Vec<String> = config.envs.iter().map(|e| clipped(e, 60)).collect();
            return Err(UsageError(format!(
                "{} has no env {:?} (envs: {})",
                config.path.display(),
                printable(name),
                if envs.is_empty() {
                    "none".to_string()
                } else {
                    envs.join(", ")
                }
            ))
            .into());
        }
    };
    config.bindings.retain(|b| b.env == chosen);
    if config.bindings.is_empty() {
        anyhow::bail!(
            "{} binds no Secrets Store secret in {chosen}: nothing to fill",
            config.path.display()
        );
    }
    diagnostics
        .0
        .extend(wrangler::check_shapes(std::slice::from_ref(&config)));
    diagnostics.sort();
    if diagnostics.has_errors() {
        return Err(cx.report(&diagnostics)?);
    }
    cx.print_diagnostics(&diagnostics)?;
    Ok((config, chosen))
}

/// The value each binding reads from `account` (in `store`, or the one store declaring its
/// secret), one fill per store id and secret. Every binding that has none is an error at its
/// `file:line:col`.
fn resolve(
    cx: &mut Context<'_>,
    config: &WranglerConfig,
    account: &DesiredAccount,
    store: Option<&str>,
) -> anyhow::Result<Vec<Fill>> {
    let mut fills: BTreeMap<(String, SecretName), Fill> = BTreeMap::new();
    let mut diagnostics = Diagnostics::new();
    for b in &config.bindings {
        let Some(store_id) = name_shown(&b.store_id.value) else {
            let why = "store_id is not shaped like an id (letters, digits, `-` and `_`): it is \
                       not passed to wrangler, nor repeated here";
            diagnostics.push(b.error_at(b.store_id.pos, why));
            continue;
        };
        match value_of(b, account, store) {
            Ok((key, warning)) => {
                diagnostics.0.extend(warning);
                let fill = Fill {
                    store_id: store_id.to_string(),
                    key,
                };
                fills.insert((fill.store_id.clone(), fill.key.secret.clone()), fill);
            }
            Err(d) => diagnostics.push(d),
        }
    }
    diagnostics.sort();
    if diagnostics.has_errors() {
        return Err(cx.report(&diagnostics)?);
    }
    cx.print_diagnostics(&diagnostics)?;
    Ok(fills.into_values().collect())
}

/// Where the value of the secret `b` binds comes from in `account`, and a warning when the
/// account does not give it the `workers` scope.
fn value_of(
    b: &Binding,
    account: &DesiredAccount,
    store: Option<&str>,
) -> Result<(ValueKey, Option<crate::manifest::Diagnostic>), crate::manifest::Diagnostic> {
    let at = b.secret_name.pos;
    let err = |message: String| b.error_at(at, message);
    let name = SecretName::parse(&b.secret_name.value).map_err(|_| {
        err("`secret_name` is not a secret name the manifest can declare".to_string())
    })?;
    let label = printable(&account.label);
    let mut stores = account
        .stores
        .iter()
        .filter(|s| store.is_none_or(|want| s.name == want) && s.secrets.contains_key(&name));
    let (found, more) = (stores.next(), stores.next());
    let Some(found) = found else {
        let place = store.map_or(format!("account {label}"), |s| {
            format!("{label}/{}", printable(s))
        });
        return Err(err(format!("secret `{name}` is not declared in {place}")));
    };
    if more.is_some() {
        return Err(err(format!(
            "secret `{name}` is declared in more than one store of account {label}: pass --store NAME"
        )));
    }
    let place = format!("{label}/{}", printable(&found.name));
    let present = match &found.secrets[&name] {
        DesiredSecret::Absent => {
            return Err(err(format!(
                "secret `{name}` is declared `ensure: absent` in {place}: there is no value to fill"
            )));
        }
        DesiredSecret::Present(p) if p.value == ValueSource::Keep => {
            return Err(err(format!(
                "secret `{name}` is `value: keep` in {place}: the manifest holds no value for it"
            )));
        }
        DesiredSecret::Present(p) => p,
    };
    let warning = (!present.scopes.contains(&Scope::Workers)).then(|| {
        b.warning_at(
            at,
            format!(
                "secret `{name}` lacks the `workers` scope in {place}: filled locally, but a \
                 Worker deployed against that account could not read it"
            ),
        )
    });
    Ok((ValueKey::new(&account.label, &found.name, name), warning))
}

/// The manifest cut down to the secrets to fill, so that only their values are unsealed.
fn only(desired: &Desired, fills: &[Fill]) -> Desired {
    let mut only = desired.clone();
    only.accounts
        .retain(|a| fills.iter().any(|f| f.key.account == a.label));
    for account in &mut only.accounts {
        for store in &mut account.stores {
            store.secrets.retain(|name, _| {
                fills.iter().any(|f| {
                    f.key.account == account.label
                        && f.key.store == store.name
                        && &f.key.secret == name
                })
            });
        }
    }
    only
}

/// Runs one create per fill, each value on stdin, stopping at the first failure; what it
/// shows of wrangler's stderr holds none of the values.
fn fill_all(
    out: &mut Output,
    program: &Program,
    config: &WranglerConfig,
    env: &Environment,
    fills: &[Fill],
    values: &UnsealedValues,
) -> anyhow::Result<()> {
    let dir = crate::fs::dir_of(&config.path);
    let file = config
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let env_name = match env {
        Environment::TopLevel => None,
        Environment::Named(name) => Some(name.as_str()),
    };
    out.status(&format!("running {} in {}", program.shown(), dir.display()))?;
    for (done, fill) in fills.iter().enumerate() {
        let secret = &fill.key.secret;
        let value = values
            .get(&fill.key)
            .with_context(|| format!("no unsealed value for {secret}"))?;
        let args = local::create_args(&fill.store_id, secret.as_str(), &file, env_name);
        let finished = local::run_with_stdin(
            program,
            &args,
            &dir,
            value.expose_secret().as_bytes(),
            CREATE_LIMIT,
        )
        .with_context(|| format!("cannot run {}", program.shown()))?;
        let how = match finished.status {
            Some(status) if status.success() => {
                out.print(&format!("filled {secret} (store {})", fill.store_id))?;
                continue;
            }
            Some(status) => match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was stopped by a signal".to_string(),
            },
            None => format!(
                "took longer than {}s and was stopped",
                CREATE_LIMIT.as_secs()
            ),
        };
        let secrets: Vec<&str> = values.values().map(|v| v.expose_secret()).collect();
        let stderr = local::shown_stderr(&finished.stderr, &secrets, 20);
        if !stderr.is_empty() {
            out.eprint(&format!("{stderr}\n"))?;
        }
        anyhow::bail!(
            "wrangler {how} creating {secret} in the local store (after {} filled)",
            count(done, "secret", "secrets")
        );
    }
    Ok(())
}
