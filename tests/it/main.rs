//! The one integration-test binary. Each module is a chapter; the list reads like a table of
//! contents, from the inside out. Tests that need a server start the emulator in-process on
//! 127.0.0.1:0 and reach nothing else.

// The chapters' helpers are `pub` for each other, not an API; and a test may print a note on
// purpose (a tool it skipped without, a figure it measured).
#![allow(unreachable_pub, clippy::print_stdout, clippy::print_stderr)]

/// The emulator, the binary's environment and the project fixtures every chapter shares.
mod support;

// ── The rooms, one by one ──────────────────────────────────────────────────────────────
/// The client against purpose-built fakes.
mod client;
/// The client against the emulator: where the two halves of the API meet.
mod contract;
/// The emulator in raw HTTP, against hand-written expectations and fixtures.
mod emulator;
/// The manifest: every validation rule, the full diagnostics of a broken manifest.
mod manifest;
/// The planner on hand-built states, its three renderings, and its properties.
mod plan;
/// Sealed values: identities, `init`, `secret set`, `reseal`, interop with the `age` CLI.
mod values;

// ── The binary, end to end ─────────────────────────────────────────────────────────────
/// Adopting it: `init`'s .gitignore, `secret import-env` from a dotenv file, `secret rm`.
mod adopt;
/// Workers bindings: `check`, `plan` and `apply --wrangler`, `apply --wait-active`, `bindings`.
mod bindings;
/// Plan, apply, plan again, against the emulator: renames, pruning, safety, saved plans.
mod e2e;
/// Journeys found by exploratory testing, each pinned after its fix.
mod journeys;
/// `cfsecrets local` with a stub wrangler: what reaches wrangler, and how.
mod local;
/// The quickstart's three steps through the real binary.
mod quickstart;
/// Request counts: an apply sends exactly the lower bound, and still checks its deletes.
mod requests;
/// Shells and humans: completions, the man page, the examples in every `--help`.
mod shells;

// ── Gauntlets: what must hold whatever users and networks do ───────────────────────────
/// Bad input, class by class: documented exit, position, no write, no file changed.
mod bad_input;
/// Every reader of outside input, fed arbitrary and broken input: no panic, hang or leak.
mod fuzz;
/// Faults from a proxy of our own: convergence, nothing desired lost, SIGKILL mid-apply.
mod gauntlet;
/// Secret values, credentials and identities never appear anywhere.
mod leaks;
/// Canaries through every command, flag, format and error, searched in every encoding.
mod secrecy;

// ── What users read and copy ───────────────────────────────────────────────────────────
/// The CI examples, executed job by job with stubbed `gh`, `curl` and `cargo`.
mod ci;
/// README commands and links, `--help`, orphaned snapshots, and which test runs each command.
mod docs;
/// The README's guide, run as written against the emulator.
mod readme;
