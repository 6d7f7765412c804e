//! Command-line types. The doc comments here are the `--help` text; this room does no I/O.
//! Flags are parsed into typed values here (`value.rs`), and what a refused argument may show
//! is decided here too (`error.rs`): nothing a user typed by mistake is repeated if it may be
//! a secret.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::{AccountId, Scope, SecretName};

mod error;
mod examples;
mod value;

pub(crate) use error::{refusal, shown};

/// Manage Cloudflare Secrets Store as code.
///
/// A YAML manifest in git declares accounts, stores and secrets; each value is an
/// age-encrypted file beside it. `plan` shows what would change, `apply` makes it so.
///
/// Identities (age private keys) come from `-i/--identity FILE`, from `CFSECRETS_AGE_KEY`
/// (the key text itself, for CI secrets) or from `CFSECRETS_AGE_KEY_FILE`. Credentials come
/// from `CLOUDFLARE_API_TOKEN`, or `CLOUDFLARE_API_KEY` plus `CLOUDFLARE_EMAIL`.
///
/// Exit codes: 0 success or no changes; 1 error; 2 changes present (`plan
/// --detailed-exitcode`); 3 blocked by a safety rule; 64 usage error.
#[derive(Debug, Parser)]
#[command(name = "cfsecrets", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The manifest (`init` creates it; every other command reads it).
    #[arg(
        short = 'f',
        long = "manifest",
        global = true,
        default_value = "cfsecrets.yaml",
        value_name = "PATH",
        value_parser = value::path
    )]
    pub manifest: PathBuf,

    /// An age identity file (private key) to unseal values with; repeatable.
    #[arg(
        short = 'i',
        long = "identity",
        global = true,
        value_name = "FILE",
        value_parser = value::identity_file
    )]
    pub identities: Vec<PathBuf>,

    /// Print only results and errors, no progress.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
}

/// How to reach the Cloudflare API.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the API. Plain http:// is accepted only for loopback hosts.
    // The variable's value is not shown in --help: a URL can carry a credential (refused,
    // but still printed by clap).
    #[arg(
        long,
        env = "CLOUDFLARE_API_BASE_URL",
        hide_env_values = true,
        default_value = crate::cloudflare::DEFAULT_BASE_URL,
        value_name = "URL",
        value_parser = value::url
    )]
    pub api_url: String,

    /// Client-side request budget per 5 minutes (Cloudflare allows 1,200 per token); at least 1.
    #[arg(
        long,
        default_value_t = crate::cloudflare::DEFAULT_RATE_LIMIT_PER_5MIN,
        value_name = "N",
        value_parser = value::at_least_one::<u32>
    )]
    pub rate_limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the manifest offline; with --decrypt also unseal and check every value.
    #[command(after_help = examples::CHECK)]
    Check(CheckArgs),
    /// Show what apply would change, without writing anything.
    #[command(after_help = examples::PLAN)]
    Plan(PlanArgs),
    /// Make Cloudflare match the manifest (or execute a saved plan).
    #[command(after_help = examples::APPLY)]
    Apply(ApplyArgs),
    /// Write a manifest for what is live, with `value: keep` on every secret.
    #[command(after_help = examples::IMPORT)]
    Import(ImportArgs),
    /// Create a working skeleton: manifest, recipients file, fingerprint key.
    #[command(after_help = examples::INIT)]
    Init(InitArgs),
    /// Manage one secret's sealed value.
    #[command(subcommand, after_help = examples::SECRET)]
    Secret(SecretCommand),
    /// Re-encrypt value files and the fingerprint key to the current recipients.
    #[command(after_help = examples::RESEAL)]
    Reseal(ResealArgs),
    /// Print a JSON Schema.
    #[command(after_help = examples::SCHEMA)]
    Schema(SchemaArgs),
    /// Run a local emulator of the Secrets Store API (for tests and dry runs).
    #[command(after_help = examples::EMULATOR)]
    Emulator(EmulatorArgs),
    /// Print the Workers bindings (`secrets_store_secrets`) for a store's `workers` secrets.
    ///
    /// Prints, ready to paste, one binding per secret of the store that has the `workers`
    /// scope. The binding name is the secret name with `-` turned into `_`; a name that still
    /// is not a JavaScript identifier (it starts with a digit, or is a reserved word), and two
    /// secrets that would share one (`A-B` and `A_B`), are left out with a warning, or refused
    /// when named with `--secret`. The store id comes from one
    /// `GET /stores`, or from `--store-id` without any request.
    #[command(after_help = examples::BINDINGS)]
    Bindings(BindingsArgs),
    /// Fill `wrangler dev`'s local Secrets Store with the values a wrangler config binds.
    ///
    /// For each binding of the config (top level, or `--env NAME`), unseals the value the
    /// manifest account declares for its `secret_name` and runs `wrangler secrets-store secret
    /// create STORE_ID --name NAME --scopes workers` without `--remote`, in the config's
    /// directory, with the value on its stdin: never on a command line or in the environment.
    /// Makes no API request. The local store keeps values in PLAIN TEXT under `.wrangler/state`
    /// next to the config: keep `.wrangler` out of git and use dev values.
    ///
    /// wrangler is found as `--wrangler-bin` (or `CFSECRETS_WRANGLER`) says, else `wrangler`
    /// on PATH, else `npx --no-install wrangler` (the project's own install).
    #[command(after_help = examples::LOCAL)]
    Local(LocalArgs),
    /// Print a shell completion script for bash, zsh, fish, PowerShell or elvish.
    ///
    /// The script completes subcommands, flags and the values of flags that take one of a
    /// fixed set (formats, scopes, shells); file arguments complete as paths.
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command with --dir.
    ///
    /// Without --dir, prints the page of `cfsecrets` itself, which lists every subcommand
    /// with its summary. With --dir, writes cfsecrets.1 and one page per subcommand
    /// (cfsecrets-plan.1, cfsecrets-secret-set.1, …), for `man cfsecrets-plan`.
    #[command(after_help = examples::MAN)]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also unseal every value and check it: decrypts, UTF-8, non-empty, at most 65,536
    /// bytes, bundle key present. Prints no value.
    #[arg(long)]
    pub decrypt: bool,
    /// Also check the Workers bindings (`secrets_store_secrets`) of this wrangler config
    /// against the manifest, in every environment; a directory means the wrangler.json,
    /// wrangler.jsonc or wrangler.toml in it (that order). Repeatable.
    #[arg(long = "wrangler", value_name = "PATH", value_parser = value::path)]
    pub wrangler: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For terminals.
    Text,
    /// For pull-request comments.
    Markdown,
    /// A versioned document for machines (schemas/plan.schema.json).
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Save the plan, with a digest of its inputs, for `apply FILE`.
    #[arg(long, value_name = "FILE", value_parser = value::path)]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes, 0 when it has none (a blocked plan exits 3 with or
    /// without this flag).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Allow up to N deletes per store, overriding the manifest's safety thresholds.
    #[arg(long, value_name = "N")]
    pub allow_deletes: Option<u32>,
    #[command(flatten)]
    pub bindings: WranglerArgs,
}

/// The Workers bindings `plan` and `apply` check against the plan.
#[derive(Debug, Args)]
pub struct WranglerArgs {
    /// Check the Workers bindings of this wrangler config against the plan (repeatable; a
    /// directory means the wrangler config in it): each `store_id` must be a store of a
    /// managed account, holding its secret with the `workers` scope, and a plan that deletes,
    /// renames away or takes `workers` from a bound secret is blocked (exit 3).
    #[arg(long = "wrangler", value_name = "PATH", value_parser = value::path)]
    pub wrangler: Vec<PathBuf>,
    /// Let a plan that breaks Workers bindings through, for this run (each break is then a
    /// warning).
    #[arg(long)]
    pub allow_binding_breaks: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// A plan saved by `plan --out`; refused if any input moved since.
    #[arg(value_name = "PLAN_FILE", value_parser = value::path)]
    pub plan_file: Option<PathBuf>,
    /// Do not ask for confirmation (required without a plan file when not on a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// How many duplicate, PATCH and delete requests run at once (the request pacer bounds
    /// the rate whatever this is).
    #[arg(long, default_value_t = crate::apply::DEFAULT_PARALLELISM, value_name = "N", value_parser = value::at_least_one::<usize>)]
    pub parallelism: usize,
    /// Allow up to N deletes per store, overriding the manifest's safety thresholds.
    #[arg(long, value_name = "N")]
    pub allow_deletes: Option<u32>,
    /// With a plan file: not needed (the plan records its configs), and refused unless it
    /// names the same configs.
    #[command(flatten)]
    pub bindings: WranglerArgs,
    /// After writing, wait until every secret this apply created, copied or PATCHed reads
    /// `active` (a Worker deploy that binds a `pending` secret fails), at most SECONDS
    /// (default 30); exit 1 naming what is still pending. Put it after PLAN_FILE, or write
    /// --wait-active=SECONDS.
    #[arg(
        long,
        value_name = "SECONDS",
        num_args = 0..=1,
        default_missing_value = "30",
        value_parser = value::wait_seconds
    )]
    pub wait_active: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The account id (32 hex characters).
    #[arg(long, value_name = "ID", env = "CLOUDFLARE_ACCOUNT_ID", value_parser = value::account_id)]
    pub account: AccountId,
    /// Only this store (default: every store of the account).
    #[arg(long, value_name = "NAME", value_parser = value::name)]
    pub store: Option<String>,
    /// The label the account gets in the manifest.
    #[arg(long, default_value = "default", value_name = "LABEL", value_parser = value::label)]
    pub label: String,
    /// Write the manifest here instead of stdout (refuses to overwrite).
    #[arg(long, value_name = "FILE", value_parser = value::path)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create the skeleton in.
    #[arg(long, default_value = ".", value_name = "DIR", value_parser = value::path)]
    pub dir: PathBuf,
    /// Generate a new identity and write it here (mode 0600); its public key becomes the
    /// first recipient. Keep this file out of git: when it lies inside the project
    /// directory, init adds it to the project's .gitignore (created when missing).
    #[arg(long, value_name = "FILE", value_parser = value::path)]
    pub generate_identity: Option<PathBuf>,
    /// An age recipient (public key, `age1…`) to seal to; repeatable.
    #[arg(long = "recipient", short = 'r', value_name = "AGE1…", value_parser = value::recipient)]
    pub recipients: Vec<String>,
    /// The account id for the skeleton's first account.
    #[arg(long, value_name = "ID", env = "CLOUDFLARE_ACCOUNT_ID", value_parser = value::account_id)]
    pub account_id: Option<AccountId>,
}

/// The manifest account and store a command works in (`secret set`, `secret import-env`,
/// `secret rm`, `bindings`).
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The account label in the manifest.
    #[arg(long, value_name = "LABEL", value_parser = value::name)]
    pub account: String,
    /// The store (default: the account's only store).
    #[arg(long, value_name = "NAME", value_parser = value::name)]
    pub store: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Seal a value (read from stdin or a hidden prompt, never from arguments) and add or
    /// update the manifest entry, keeping the rest of the manifest as it was.
    #[command(after_help = examples::SECRET_SET)]
    Set(SecretSetArgs),
    /// Seal every key of a dotenv file and add all its entries to the manifest in one edit.
    ///
    /// Reads FILE by the rules of a `*.env.age` bundle (`KEY=value`, an optional `export `
    /// prefix, single or double quotes, `#` comments) and seals each value to its own file,
    /// `values/<account>/<store>/<NAME>.age`, or with --bundle all of them into one sealed
    /// bundle, each entry then `{ bundle, key }`. Every check runs before anything is
    /// written: a line that does not parse, a key the API would refuse as a name, an empty
    /// or too long value, a key the manifest already declares (unless --overwrite) — each
    /// named by its line number in FILE, never with its value — and the edited manifest
    /// must pass the same validation as `secret set`. FILE is left in place: delete it.
    #[command(name = "import-env", after_help = examples::SECRET_IMPORT_ENV)]
    ImportEnv(SecretImportEnvArgs),
    /// Remove a secret's entry (and its value file), or mark it `ensure: absent`.
    ///
    /// Without --absent the entry leaves the manifest, and its value file is deleted when
    /// no other entry uses it (a bundle is never deleted: only the reference goes); the next
    /// apply then deletes the live secret only if the store's `prune` says so. With
    /// --absent the entry becomes `NAME: { ensure: absent }`, so the next apply deletes it by
    /// name. The rest of the manifest stays byte for byte.
    #[command(after_help = examples::SECRET_RM)]
    Rm(SecretRmArgs),
}

#[derive(Debug, Args)]
pub struct SecretImportEnvArgs {
    /// The dotenv file to import (`-` for stdin).
    #[arg(value_name = "FILE", value_parser = value::path)]
    pub file: PathBuf,
    #[command(flatten)]
    pub at: StoreArgs,
    /// Scopes for the new entries (default: the manifest's defaults); with --overwrite, also
    /// the new scopes of the entries that already exist.
    #[arg(long, value_delimiter = ',', value_name = "SCOPE,…", value_parser = value::scope)]
    pub scopes: Vec<Scope>,
    /// Seal every value into this one dotenv bundle (`*.env.age`, relative to the
    /// manifest's directory) instead of one file per key.
    #[arg(long, value_name = "PATH", value_parser = value::path)]
    pub bundle: Option<PathBuf>,
    /// Replace the values of entries the manifest already declares (and an existing
    /// --bundle file), as `secret set` does; without it they are refused.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct SecretRmArgs {
    /// The secret's name.
    #[arg(value_parser = value::secret_name)]
    pub name: SecretName,
    #[command(flatten)]
    pub at: StoreArgs,
    /// Keep the entry as `ensure: absent`, so that the next apply deletes the live secret by
    /// name, instead of removing it.
    #[arg(long)]
    pub absent: bool,
}

#[derive(Args)]
pub struct SecretSetArgs {
    /// The secret's name.
    #[arg(value_parser = value::secret_name)]
    pub name: SecretName,
    #[command(flatten)]
    pub at: StoreArgs,
    /// Scopes for a new entry (default: the manifest's defaults).
    #[arg(long, value_delimiter = ',', value_name = "SCOPE,…", value_parser = value::scope)]
    pub scopes: Vec<Scope>,
    /// Comment for the entry.
    #[arg(long, value_name = "TEXT", value_parser = value::comment)]
    pub comment: Option<String>,
    /// Anything after the name that is not a flag: refused without being echoed, because a
    /// value typed here would be a secret on the command line (clap would quote it back in
    /// its "unexpected argument" error).
    #[arg(hide = true, num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub stray: Vec<String>,
}

/// Redacts `stray`: it may hold a value typed on the command line by mistake.
impl std::fmt::Debug for SecretSetArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSetArgs")
            .field("name", &self.name)
            .field("at", &self.at)
            .field("scopes", &self.scopes)
            .field("comment", &self.comment)
            .field("stray", &format_args!("[{} redacted]", self.stray.len()))
            .finish()
    }
}

#[derive(Debug, Args)]
pub struct ResealArgs {
    /// Re-encrypt every file, even those already sealed to the current recipients.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// The manifest (cfsecrets.yaml).
    Manifest,
    /// The JSON plan document (`plan --format json`).
    Plan,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

#[derive(Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The API token clients must present as `Authorization: Bearer …` (or the key for
    /// `X-Auth-Key`). Without it, any non-empty token is accepted.
    #[arg(
        long,
        env = "CFSECRETS_EMULATOR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// A second token that may only read: writes with it are refused as an authentication
    /// error (as Cloudflare refuses a token without Secrets Store Write).
    #[arg(long, value_name = "TOKEN")]
    pub read_only_token: Option<String>,
    /// Persist state to this JSON file (written atomically after each change).
    #[arg(long, value_name = "FILE", value_parser = value::path)]
    pub state: Option<PathBuf>,
    /// Largest value accepted, in bytes (1024 mimics the limit accounts enforced in 2025).
    #[arg(long, default_value_t = crate::domain::MAX_VALUE_BYTES, value_name = "BYTES")]
    pub value_limit: usize,
    /// Secrets an account may hold.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub quota: u64,
    /// Stores an account may hold.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub max_stores: usize,
    /// A batch create with one bad item creates the good ones (default: all or nothing).
    #[arg(long)]
    pub partial_batches: bool,
    /// Create this store in every account on first use (as the dashboard does).
    #[arg(long, value_name = "NAME", value_parser = value::name)]
    pub default_store: Option<String>,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Rate limit: requests allowed per window (0: off).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub rate_limit: u32,
    /// Rate-limit window in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub rate_window: u64,
    /// Fraction (0..1) of requests answered with a transient error (429/500/502/503).
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub error_rate: f64,
    /// Fraction (0..1) of requests whose connection is dropped before handling.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub drop_rate: f64,
    /// Fraction (0..1) of writes that succeed and then lose their response.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub drop_response_rate: f64,
    /// Fraction (0..1) of success answers whose body is truncated or garbled after the
    /// request was carried out.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub corrupt_rate: f64,
    /// Put `total_pages` into list answers (Cloudflare's lists carry only `total_count`).
    #[arg(long)]
    pub total_pages: bool,
    /// Seed for the fault dice (deterministic faults).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// A new secret reads as `pending` this many times before it turns `active`.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub pending_reads: u32,
}

/// Redacts the tokens: they are credentials, even for the emulator.
impl std::fmt::Debug for EmulatorArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |token: &Option<String>| token.as_ref().map(|_| "<redacted>");
        f.debug_struct("EmulatorArgs")
            .field("listen", &self.listen)
            .field("token", &redacted(&self.token))
            .field("read_only_token", &redacted(&self.read_only_token))
            .field("state", &self.state)
            .field("value_limit", &self.value_limit)
            .field("quota", &self.quota)
            .field("max_stores", &self.max_stores)
            .field("partial_batches", &self.partial_batches)
            .field("default_store", &self.default_store)
            .field("latency_ms", &self.latency_ms)
            .field("rate_limit", &self.rate_limit)
            .field("rate_window", &self.rate_window)
            .field("error_rate", &self.error_rate)
            .field("drop_rate", &self.drop_rate)
            .field("drop_response_rate", &self.drop_response_rate)
            .field("corrupt_rate", &self.corrupt_rate)
            .field("total_pages", &self.total_pages)
            .field("seed", &self.seed)
            .field("pending_reads", &self.pending_reads)
            .finish()
    }
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command and subcommand into this directory (created when
    /// missing; pages already there are replaced) instead of printing one page.
    #[arg(long, value_name = "DIR", value_parser = value::path)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BindingsFormat {
    /// `[[secrets_store_secrets]]` tables for wrangler.toml.
    Toml,
    /// A `"secrets_store_secrets"` array for wrangler.json or wrangler.jsonc.
    Jsonc,
    /// A TypeScript `Env` interface typing each binding as `SecretsStoreSecret`.
    Ts,
}

#[derive(Debug, Args)]
pub struct BindingsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub at: StoreArgs,
    /// Only this secret (repeatable; default: every secret with the `workers` scope).
    #[arg(long = "secret", value_name = "NAME", value_parser = value::name)]
    pub secrets: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BindingsFormat::Toml)]
    pub format: BindingsFormat,
    /// The store's id (32 hexadecimal characters), to stay offline instead of asking the API.
    #[arg(long, value_name = "ID", value_parser = value::store_id)]
    pub store_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct LocalArgs {
    /// The manifest account whose values fill the local store (typically `dev`).
    #[arg(long, value_name = "LABEL", value_parser = value::name)]
    pub account: String,
    /// The store of that account (default: the one store that declares each bound secret).
    #[arg(long, value_name = "NAME", value_parser = value::name)]
    pub store: Option<String>,
    /// The Worker's wrangler config, or a directory holding one.
    #[arg(long = "wrangler", value_name = "PATH", value_parser = value::path)]
    pub wrangler: PathBuf,
    /// The environment (`env.NAME`) whose bindings to fill, passed to wrangler as `--env`
    /// (default: the top level).
    #[arg(long, value_name = "NAME", value_parser = value::name)]
    pub env: Option<String>,
    /// The wrangler program to run.
    #[arg(
        long,
        env = "CFSECRETS_WRANGLER",
        value_name = "PATH",
        value_parser = value::path
    )]
    pub wrangler_bin: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::Cli;

    #[test]
    fn debug_never_shows_a_token_or_a_stray_value() {
        for args in [
            &[
                "cfsecrets",
                "emulator",
                "--token",
                "tok-canary-4f1",
                "--read-only-token",
                "ro-canary-9b2",
            ][..],
            &[
                "cfsecrets",
                "secret",
                "set",
                "A",
                "--account",
                "a",
                "val-canary-77c",
            ][..],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            let shown = format!("{cli:?}");
            assert!(!shown.contains("canary"), "{shown}");
        }
    }
}
