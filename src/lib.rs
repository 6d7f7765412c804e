//! # cfsecrets
//!
//! A declarative reconciler for Cloudflare Secrets Store. A YAML manifest in git declares
//! accounts, stores and secrets; each value is an age-sealed file beside it.
//!
//! ```text
//! manifest + sealed values ──▶ desired state ─┐
//!                                              ├──▶ planner ──▶ ordered plan ──▶ applier ──▶ Cloudflare
//! list + metadata calls   ──▶ live state   ───┘      (pure)      (text/md/json)
//! ```
//!
//! ## Code map
//!
//! * [`cli`] — clap types; their doc comments are the `--help` text. Flags are parsed into
//!   typed values there (`value.rs`), and `error.rs` decides what a refused argument may
//!   show: nothing that may be a pasted secret or identity; `examples.rs` holds the examples
//!   that end every `--help` (completions and man pages come from the same tree). No I/O.
//! * [`commands`] — one file per subcommand, each a short script of calls; `context.rs` holds
//!   the steps several commands take (load the manifest, identities, client, pacer lines,
//!   unseal, live read, plan, digest), `editing.rs` those of the commands that edit the
//!   manifest, and `exit.rs` the exit codes. `commands/mod.rs` says
//!   how to add a command.
//! * [`env`](mod@env) — the environment a run sees (the process's, or a fixed set when embedded),
//!   passed beside the parsed command line.
//! * [`domain`] — small validated types shared downstream: account ids, store and secret ids,
//!   secret names, scopes, fingerprints.
//! * [`manifest`] — YAML → one reader's raw types (serde derives for the JSON Schema and as
//!   a test oracle) → validated [`manifest::Desired`] with its warnings, every diagnostic at
//!   once, each with `file:line:column`; the comment-preserving text edit of `secret set`
//!   (which entry, the edit, and its check by the same validator); and the writer of the
//!   manifests `init` and `import` create.
//! * [`values`] — age identities and recipients, sealing and unsealing, bundles,
//!   fingerprints. Plaintext never leaves its secret type here except into a request body.
//! * [`cloudflare`] — the REST client: envelope, pagination, retries, pacing, typed errors,
//!   wire DTOs.
//! * [`marker`] — the ownership marker at the end of a live comment: parsed once by `live`,
//!   written by the planner, read by `import`.
//! * [`live`] — the live snapshot, converted from wire DTOs into domain terms.
//! * [`plan`] — `diff(desired, live, value facts, options) -> Plan`, pure and deterministic,
//!   in named steps (`store`, `change`, `safety`, `quota`, `order`); the renderers (text,
//!   Markdown, JSON), the facts about a plan (appliable, stale, same actions) and what it
//!   does to the secrets Workers bind (`bindings`, for `plan --wrangler`).
//! * [`apply`] — executes a plan in order against the client and reports what was done:
//!   `mod.rs` the stage loop, `write.rs` one function per write, `confirm.rs` the re-list
//!   after a write that is not idempotent, `verify.rs` the check around deletes,
//!   `report.rs` what is reported (and its summary and advice), `failure.rs` why a write
//!   failed and what to change, `wait.rs` the wait until what was written reads `active`.
//! * [`emulator`] — a local, stateful Secrets Store API server with fault injection.
//! * [`output`] — every write to stdout and stderr and every read of stdin: colour, the
//!   progress bar, prompts.
//! * [`fs`] — leaf: atomic writes, bounded non-blocking reads, what a path is and whether it
//!   stays inside a directory.
//! * [`gitignore`] — the `.gitignore` line that keeps a file out of git, added once (`init`
//!   for an identity it generates inside the project).
//! * [`text`] — pure leaf: count words (`words.rs`), the one terminal-safe filter for
//!   outside text (`filter.rs`), the one rule for what looks like a secret pasted in the
//!   wrong place (an age identity or an API token), which every argument, path variable and
//!   manifest name goes through (`secret.rs`), and the removal of values a server or a
//!   program echoes back (`redact.rs`).
//! * [`wrangler`] — Workers bindings: reads `secrets_store_secrets` from wrangler configs
//!   (TOML, JSON, JSONC) with positions, checks them against the manifest and a plan, and
//!   renders entries to paste; runs wrangler for `cfsecrets local`. Pure except reading the
//!   config files and running wrangler.
//!
//! ## Architecture invariants
//!
//! 1. The planner and the validator do no I/O, no async, no clock, no randomness: the same
//!    inputs give a byte-identical plan.
//! 2. Plaintext exists only inside a secret type from unsealing to the one place that builds a
//!    request body. It is never in a `Plan`, `Debug` output, errors, logs, snapshots, plan
//!    files or the emulator's logs.
//! 3. `cloudflare` knows nothing of manifests; `manifest` nothing of HTTP. The emulator shares
//!    no logic with the client.
//! 4. `apply` runs the plan it is given. After a successful apply, a fresh plan is empty.
//! 5. Nothing a user did not declare is deleted: deletion needs ownership or an explicit order.
//! 6. Every check of user input runs before the first write request.
//! 7. Tests reach nothing beyond 127.0.0.1.

pub mod apply;
pub mod cli;
pub mod cloudflare;
pub mod commands;
pub mod domain;
pub mod emulator;
pub mod env;
pub mod fs;
pub mod gitignore;
pub mod live;
pub mod manifest;
pub mod marker;
pub mod output;
pub mod plan;
pub mod text;
pub mod values;
pub mod wrangler;
