//! The canary gauntlet (issue 8 §5, "Secrecy"): distinctive canaries — secret values, the
//! API token (and a wrong and a read-only one), the age identity (and a wrong one), and the
//! fingerprint key's plaintext — go through every command, flag and output format, every
//! path argument and path variable, and every error path we can provoke. After each command
//! line everything it produced is searched for every canary in every encoding
//! ([`canary::find`]: raw, JSON-escaped, base64 and URL-safe base64 at each offset, hex,
//! URL-encoded): stdout, stderr (a panic included), every file in the project and in the run's
//! `TMPDIR`, and the names of those files. At the end: the emulators' request logs, counters
//! and state dumps.
//!
//! The gauntlet is a table of command lines ([`ROWS`], and [`PASTED`] for a secret pasted
//! where a path, URL or name belongs), so a new command or flag is one more line. A line reads
//! like a shell command: leading `NAME=value` words set variables (`NAME=` unsets one),
//! `{NAME}` is replaced by a fixture (a canary, a URL, a path), and a last word `<{NAME}`
//! feeds that fixture on stdin. `CFSECRETS_SHOW_GAUNTLET=1 cargo test --test it secrecy --
//! --nocapture` prints what each line produced.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use cfsecrets::cloudflare::{Auth, Client, ClientConfig, Credential, NewSecret};
use cfsecrets::emulator::{EmulatorConfig, FaultConfig};
use cfsecrets::values::{FingerprintKey, Identities};

use crate::leaks::{admin_views, emulator_views};
use crate::support::canary::{self, Canaries, Encoding};
use crate::support::{ACCOUNT, Emu, Project};

/// A second account, for manifests that must not disturb the first.
const ACCOUNT2: &str = "fedcba9876543210fedcba9876543210";
/// The largest value the main emulator accepts: [`LONG`] is over it.
const VALUE_LIMIT: usize = 128;

// The canaries. Tokens are shaped like Cloudflare's (40 characters of mixed case and
// digits); values carry characters that JSON and URLs escape.
const TOKEN: &str = "CnRy7tKn4Q9xZp2LmW8vBs6KdJ3hF5gE1aYcXuT0";
const WRONG_TOKEN: &str = "Wr0ngTkn8pL3xQ7vZ2mB9cN4dF6gH1jK5sA0eRtY";
const READ_ONLY_TOKEN: &str = "R3adOnlyTk9xQ2pL7vZ4mB8cN1dF6gH3jK5sAeWq";
const VALUE: &str = "CANARY-VALUE-3f9a1c7e5b2d";
const ODD: &str = "cAnArY v@lue+/=?&#%\"q\" 8d2e41\\end";
const BUNDLED: &str = "CANARY-BUNDLED-9e71c04d6a";
const LIVE: &str = "CANARY-LIVE-5c2b8e17f3a0";
const ROTATED: &str = "CANARY-ROTATED-0d4f9a3e61";
const NEW: &str = "CANARY-NEW-7a3e1f09bc52";
/// A token someone pasted into a live secret's comment in the dashboard.
const LIVE_TOKEN: &str = "L1veC0mmentTk9xQ2pL7vZ4mB8cN1dF6gH3jK5sA";
const WAITED: &str = "CANARY-WAITED-6e02b9d41f";
/// Values a dotenv file brings (`secret import-env`), and one on stdin.
const ADOPTED: &str = "CANARY-ADOPTED-4e7b1d9c20";
const PIPED: &str = "CANARY-PIPED-81c3f0a9d7";
/// Text on the lines of a dotenv file that `secret import-env` refuses.
const REFUSED: &str = "CANARY-REFUSED-2b9e5c7a13";

/// How a command line must end.
#[derive(Clone, Copy, Debug)]
enum Exit {
    Code(i32),
    /// Through a faulty server: the outcome depends on the dice; only secrecy is checked.
    Any,
    /// A server (`emulator`): started, used by a client with the right and a wrong token,
    /// its admin routes read, then stopped.
    Serves,
}
use Exit::{Any, Code, Serves};

/// The gauntlet, in order (later lines see what earlier ones did).
const ROWS: &[(&str, Exit)] = &[
    // Offline, before anything is live.
    ("check", Code(0)),
    ("check --decrypt", Code(0)),
    ("-q check --decrypt", Code(0)),
    (
        "CFSECRETS_AGE_KEY_FILE= CFSECRETS_AGE_KEY={IDENTITY} check --decrypt",
        Code(0),
    ),
    ("CFSECRETS_AGE_KEY_FILE= check --decrypt", Code(64)),
    (
        "CFSECRETS_AGE_KEY_FILE= -i other.key check --decrypt",
        Code(1),
    ),
    (
        "CFSECRETS_AGE_KEY_FILE= CFSECRETS_AGE_KEY={OTHER_IDENTITY} check --decrypt",
        Code(1),
    ),
    ("check --wrangler wrangler.toml", Code(0)),
    ("check --wrangler broken.jsonc", Code(1)),
    ("check --wrangler bound", Code(0)),
    ("check --wrangler bound --wrangler wrangler.toml", Code(0)),
    ("check --wrangler broken.toml", Code(1)),
    ("check --wrangler pasted.toml", Code(1)),
    ("check --wrangler types.jsonc", Code(1)),
    ("check --wrangler values", Code(1)),
    ("check --wrangler huge.toml", Code(1)),
    ("-f named.yaml check --wrangler bound", Code(1)),
    ("-f syntax.yaml check", Code(1)),
    ("-f pasted.yaml check --decrypt", Code(1)),
    ("-f missing.yaml check --decrypt", Code(1)),
    ("-f huge.yaml check --decrypt", Code(1)),
    ("-f absent.yaml check", Code(1)),
    ("schema manifest", Code(0)),
    ("schema plan", Code(0)),
    (
        "bindings --account production --store-id {STORE_ID}",
        Code(0),
    ),
    (
        "bindings --account production --format jsonc --store-id {STORE_ID}",
        Code(0),
    ),
    (
        "bindings --account production --format ts --secret PLAIN --store-id {STORE_ID}",
        Code(0),
    ),
    ("bindings --account nope --store-id {STORE_ID}", Code(64)),
    ("bindings --account production", Code(0)),
    ("bindings --account production --format jsonc", Code(0)),
    (
        "bindings --account production --format ts --secret ODD",
        Code(0),
    ),
    ("bindings --account production --store nope", Code(64)),
    ("bindings --account production --secret NOPE", Code(1)),
    (
        "CLOUDFLARE_API_TOKEN={WRONG_TOKEN} bindings --account production",
        Code(1),
    ),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} bindings --account production --format ts",
        Any,
    ),
    // Shells and humans.
    ("completions bash", Code(0)),
    ("completions zsh", Code(0)),
    ("completions fish", Code(0)),
    ("completions powershell", Code(0)),
    ("completions elvish", Code(0)),
    ("completions tcsh", Code(64)),
    ("man", Code(0)),
    ("man --dir man1", Code(0)),
    ("man --dir man1", Code(0)),
    ("man --dir cfsecrets.yaml", Code(1)),
    // Plans against the empty account, in every format, saved and not.
    ("plan", Code(0)),
    ("plan --format markdown", Code(0)),
    ("plan --format json", Code(0)),
    ("plan --detailed-exitcode", Code(2)),
    ("plan --format json --out plan.json", Code(0)),
    ("plan --format markdown --out stale.json", Code(0)),
    ("CFSECRETS_AGE_KEY_FILE= plan", Code(0)),
    ("CLOUDFLARE_API_TOKEN={WRONG_TOKEN} plan", Code(1)),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} -f faulty.yaml plan --format json",
        Any,
    ),
    (
        "CLOUDFLARE_API_BASE_URL={ECHO} plan --format markdown",
        Code(0),
    ),
    ("-f syntax.yaml plan", Code(1)),
    ("-f missing.yaml plan", Code(1)),
    ("-f huge.yaml plan", Code(1)),
    ("CFSECRETS_AGE_KEY_FILE= -i other.key plan", Code(1)),
    // Applies that fail: usage, a server that echoes the request, credentials, refused
    // and oversize values, a wrong identity, faults.
    ("apply", Code(64)),
    (
        "CLOUDFLARE_API_BASE_URL={ECHO} apply --auto-approve",
        Code(1),
    ),
    (
        "CLOUDFLARE_API_TOKEN={READ_ONLY_TOKEN} apply --auto-approve",
        Code(1),
    ),
    (
        "CLOUDFLARE_API_TOKEN={WRONG_TOKEN} apply --auto-approve",
        Code(1),
    ),
    ("-f toolong.yaml apply --auto-approve", Code(1)),
    ("-f huge.yaml apply --auto-approve", Code(1)),
    ("CFSECRETS_AGE_KEY_FILE= apply --auto-approve", Code(64)),
    (
        "CFSECRETS_AGE_KEY_FILE= -i other.key apply --auto-approve",
        Code(1),
    ),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} -f faulty.yaml apply --auto-approve",
        Any,
    ),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} -f faulty.yaml apply --auto-approve --parallelism 8",
        Any,
    ),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} -f faulty.yaml apply --auto-approve",
        Any,
    ),
    ("-f named.yaml check", Code(1)),
    ("-f named.yaml plan", Code(1)),
    ("-f named.yaml apply --auto-approve", Code(1)),
    // Applies that succeed: the saved plan; then the stale one is refused.
    ("apply plan.json", Code(0)),
    ("apply stale.json", Code(1)),
    ("apply --auto-approve", Code(0)),
    ("plan --detailed-exitcode", Code(0)),
    // Workers bindings checked against plans: sound, then blocked in every format, saved,
    // applied, and let through.
    ("plan --wrangler bound --detailed-exitcode", Code(0)),
    ("plan --wrangler bound --wrangler wrangler.toml", Code(1)),
    ("-f breaks.yaml plan --wrangler bound", Code(3)),
    (
        "-f breaks.yaml plan --wrangler bound --format markdown",
        Code(3),
    ),
    (
        "-f breaks.yaml plan --wrangler bound --format json",
        Code(3),
    ),
    (
        "-f breaks.yaml plan --wrangler bound --format markdown --out blocked.json",
        Code(3),
    ),
    ("-f breaks.yaml apply blocked.json", Code(3)),
    (
        "-f breaks.yaml apply blocked.json --allow-binding-breaks",
        Code(3),
    ),
    (
        "-f breaks.yaml apply --auto-approve --wrangler bound",
        Code(3),
    ),
    (
        "-f breaks.yaml plan --wrangler bound --allow-binding-breaks --out allowed.json",
        Code(0),
    ),
    (
        "-f breaks.yaml apply allowed.json --wrangler elsewhere",
        Code(64),
    ),
    (
        "CLOUDFLARE_API_BASE_URL={ECHO} -f breaks.yaml apply allowed.json",
        Code(1),
    ),
    ("-f breaks.yaml plan --wrangler broken.jsonc", Code(1)),
    ("apply --auto-approve --wrangler bound", Code(0)),
    // `local`: a recording wrangler, found on PATH, given, or named by the variable; a
    // wrangler that fails echoing its stdin, arguments and environment; none at all.
    (
        "PATH={STUBS}:/usr/bin:/bin local --account production --wrangler wrangler.toml",
        Code(0),
    ),
    (
        "PATH={STUBS}:/usr/bin:/bin local --account production --wrangler bound --env staging",
        Code(0),
    ),
    (
        "PATH={EMPTY} local --account production --wrangler bound --wrangler-bin {STUBS}/wrangler",
        Code(0),
    ),
    (
        "PATH={EMPTY} CFSECRETS_WRANGLER={STUBS}/wrangler -q local --account production --wrangler bound/wrangler.toml",
        Code(0),
    ),
    (
        "PATH={LOUD}:/usr/bin:/bin local --account production --wrangler bound",
        Code(1),
    ),
    (
        "PATH={EMPTY} local --account production --wrangler odd --wrangler-bin {LOUD}/wrangler",
        Code(1),
    ),
    (
        "PATH={LOUD}:/usr/bin:/bin CFSECRETS_AGE_KEY_FILE= CFSECRETS_AGE_KEY={IDENTITY} local --account production --wrangler odd",
        Code(1),
    ),
    (
        "PATH={EMPTY} local --account production --wrangler bound",
        Code(1),
    ),
    (
        "PATH={STUBS}:/usr/bin:/bin local --account production --wrangler broken.jsonc",
        Code(1),
    ),
    (
        "PATH={STUBS}:/usr/bin:/bin local --account production --wrangler pasted.toml",
        Code(1),
    ),
    (
        "PATH={STUBS}:/usr/bin:/bin local --account nope --wrangler bound",
        Code(64),
    ),
    (
        "PATH={STUBS}:/usr/bin:/bin local --account production --wrangler bound --env nope",
        Code(64),
    ),
    (
        "PATH={STUBS}:/usr/bin:/bin CFSECRETS_AGE_KEY_FILE= local --account production --wrangler bound",
        Code(64),
    ),
    (
        "PATH={STUBS}:/usr/bin:/bin CFSECRETS_AGE_KEY_FILE= -i other.key local --account production --wrangler bound",
        Code(1),
    ),
    // A rotation, through a server that echoes it, then for real.
    ("secret set PLAIN --account production <{ROTATED}", Code(0)),
    ("plan --format json", Code(0)),
    (
        "CLOUDFLARE_API_BASE_URL={ECHO} apply --auto-approve",
        Code(1),
    ),
    ("apply --auto-approve --parallelism 1", Code(0)),
    // `apply --wait-active`: a rotation waited for, secrets that never turn active, and
    // refused values of the flag.
    ("secret set PLAIN --account production <{WAITED}", Code(0)),
    ("apply --auto-approve --wait-active", Code(0)),
    (
        "CLOUDFLARE_API_BASE_URL={PENDING} -f pending.yaml apply --auto-approve --wait-active=1",
        Code(1),
    ),
    (
        "CLOUDFLARE_API_BASE_URL={PENDING} -f pending.yaml apply --auto-approve --wait-active=1",
        Code(0),
    ),
    ("apply --auto-approve --wait-active=0", Code(64)),
    ("apply --wait-active plan.json", Code(64)),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} -f faulty.yaml apply --auto-approve --wait-active=2",
        Any,
    ),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} -f faulty.yaml apply --auto-approve",
        Any,
    ),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} -f faulty.yaml apply --auto-approve",
        Any,
    ),
    // `secret set`: a new entry, then refusals.
    (
        "secret set NEW --account production --comment new <{NEW}",
        Code(0),
    ),
    ("apply --auto-approve --wait-active=10", Code(0)),
    (
        "secret set NEW2 --account production --scopes nope <{VALUE}",
        Code(64),
    ),
    ("secret set NEW2 --account nope <{VALUE}", Code(64)),
    ("secret set NEW2 --account production {VALUE}", Code(64)),
    ("secret set NEW2 --account production <{HUGE}", Code(1)),
    ("apply --auto-approve", Code(0)),
    // `secret import-env` (into a manifest of its own): files, a bundle, stdin, refusals.
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt",
        Code(0),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt",
        Code(1),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt --overwrite",
        Code(0),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt --bundle values/adopt.env.age --overwrite --scopes workers,ai_gateway",
        Code(0),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt --bundle values/adopt.env.age --overwrite",
        Code(0),
    ),
    (
        "-f adopt.yaml secret import-env - --account adopt --store main <{PIPED_ENV}",
        Code(0),
    ),
    (
        "-f adopt.yaml secret import-env - --account adopt <{REFUSED_ENV}",
        Code(1),
    ),
    (
        "-f adopt.yaml secret import-env refused.env --account adopt",
        Code(1),
    ),
    (
        "-f adopt.yaml secret import-env pasted.env --account adopt",
        Code(1),
    ),
    (
        "-f adopt.yaml secret import-env huge.env --account adopt",
        Code(1),
    ),
    (
        "-f adopt.yaml secret import-env binary.env --account adopt",
        Code(1),
    ),
    (
        "-f adopt.yaml secret import-env missing.env --account adopt",
        Code(1),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt --bundle {OUTSIDE}/x.env.age",
        Code(64),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt --bundle values/x.yaml.age",
        Code(64),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt --scopes nope",
        Code(64),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account nope",
        Code(64),
    ),
    ("-f adopt.yaml check --decrypt", Code(0)),
    ("-f adopt.yaml apply --auto-approve", Code(0)),
    // `secret rm`: an entry taken out, one made absent, refusals; then applied.
    ("-f adopt.yaml secret rm ADOPT_A --account adopt", Code(0)),
    (
        "-f adopt.yaml secret rm PIPED_KEY --account adopt --absent",
        Code(0),
    ),
    (
        "-f adopt.yaml secret rm PIPED_KEY --account adopt --absent",
        Code(0),
    ),
    ("-f adopt.yaml secret rm NOPE --account adopt", Code(64)),
    ("-f adopt.yaml secret rm ADOPT_B --account nope", Code(64)),
    (
        "-f adopt.yaml secret rm ADOPT_B --account adopt --store nope",
        Code(64),
    ),
    (
        "-f adopt.yaml secret rm ADOPT_B --account adopt {VALUE}",
        Code(64),
    ),
    (
        "-f adopt.yaml plan --format markdown --allow-deletes 5",
        Code(0),
    ),
    (
        "-f adopt.yaml apply --auto-approve --allow-deletes 5",
        Code(0),
    ),
    ("-f adopt.yaml check --decrypt", Code(0)),
    // `import`.
    ("import --account {ACCOUNT}", Code(0)),
    (
        "import --account {ACCOUNT} --store main --label prod --out imported.yaml",
        Code(0),
    ),
    ("import --account {ACCOUNT} --out imported.yaml", Code(1)),
    (
        "CLOUDFLARE_API_TOKEN={WRONG_TOKEN} import --account {ACCOUNT}",
        Code(1),
    ),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} import --account {ACCOUNT}",
        Any,
    ),
    (
        "CLOUDFLARE_API_BASE_URL={FAULTY} -f faulty.yaml plan --format markdown",
        Any,
    ),
    // `reseal`.
    ("reseal", Code(0)),
    ("reseal --force", Code(0)),
    (
        "CFSECRETS_AGE_KEY_FILE= -i other.key reseal --force",
        Code(1),
    ),
    ("check --decrypt", Code(0)),
    // Deletes: NEW leaves the manifest.
    (
        "-f fewer.yaml plan --format markdown --allow-deletes 1",
        Code(0),
    ),
    (
        "-q -f fewer.yaml apply --auto-approve --rate-limit 600",
        Code(0),
    ),
    // `init`.
    (
        "init --dir fresh --generate-identity fresh.key --account-id {ACCOUNT}",
        Code(0),
    ),
    ("init --dir fresh2 -r {RECIPIENT}", Code(0)),
    ("init --dir fresh2 -r {RECIPIENT}", Code(1)),
    // The emulator.
    (
        "emulator --listen 127.0.0.1:0 --state {OUTSIDE}/emu-state.json --token {TOKEN}",
        Serves,
    ),
    (
        "CFSECRETS_EMULATOR_TOKEN={TOKEN} emulator --listen 127.0.0.1:0 --read-only-token {READ_ONLY_TOKEN}",
        Serves,
    ),
    (
        "emulator --listen 127.0.0.1:0 --state {OUTSIDE}/broken-state.json",
        Code(1),
    ),
    ("emulator --listen not-an-address --token {TOKEN}", Code(64)),
];

/// A secret pasted where a path, a URL or a name belongs: each line runs once with the
/// identity, once in lower case, and once with the API token in place of `@`.
const PASTED: &[(&str, Exit)] = &[
    ("-f @ check", Code(64)),
    ("-i @ check --decrypt", Code(64)),
    ("check --wrangler @", Code(64)),
    ("plan --out @", Code(64)),
    ("plan --out plans/@.json", Code(64)),
    ("plan --api-url @", Code(64)),
    ("plan --api-url https://proxy.example/@/client/v4", Code(64)),
    ("apply @", Code(64)),
    ("import --account {ACCOUNT} --out @", Code(64)),
    ("import --account {ACCOUNT} --label @", Code(64)),
    ("import --account {ACCOUNT} --store @", Code(64)),
    ("init --dir @ -r {RECIPIENT}", Code(64)),
    ("init --generate-identity @", Code(64)),
    ("init -r @", Code(64)),
    ("secret set @ --account production <{VALUE}", Code(64)),
    (
        "secret set X --account production --comment @ <{VALUE}",
        Code(64),
    ),
    ("secret set X --account @ <{VALUE}", Code(64)),
    ("bindings --account @", Code(64)),
    ("bindings --account production --secret @", Code(64)),
    ("emulator --state @", Code(64)),
    ("CFSECRETS_AGE_KEY_FILE=@ check --decrypt", Code(64)),
    ("CLOUDFLARE_API_BASE_URL=@ plan", Code(64)),
    (
        "CLOUDFLARE_API_BASE_URL=https://proxy.example/@/client/v4 check",
        Code(64),
    ),
    ("CLOUDFLARE_ACCOUNT_ID=@ -f noid.yaml check", Code(1)),
    ("CLOUDFLARE_ACCOUNT_ID=@ import", Code(64)),
    ("check --wrangler bound --wrangler @", Code(64)),
    ("plan --wrangler @", Code(64)),
    ("apply --auto-approve --wrangler @", Code(64)),
    ("apply plan.json --wrangler @", Code(64)),
    ("apply --auto-approve --wait-active=@", Code(64)),
    ("secret import-env @ --account production", Code(64)),
    ("secret import-env adopt.env --account @", Code(64)),
    (
        "secret import-env adopt.env --account adopt --store @",
        Code(64),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt --bundle @",
        Code(64),
    ),
    (
        "-f adopt.yaml secret import-env adopt.env --account adopt --bundle values/@.env.age",
        Code(64),
    ),
    ("secret import-env - --account @ <{PIPED_ENV}", Code(64)),
    ("secret rm @ --account production", Code(64)),
    ("secret rm PLAIN --account @", Code(64)),
    ("secret rm PLAIN --account production --store @", Code(64)),
    ("secret rm PLAIN --account production @", Code(64)),
    ("local --account @ --wrangler bound", Code(64)),
    ("local --account production --wrangler @", Code(64)),
    (
        "local --account production --wrangler bound --store @",
        Code(64),
    ),
    (
        "local --account production --wrangler bound --env @",
        Code(64),
    ),
    (
        "local --account production --wrangler bound --wrangler-bin @",
        Code(64),
    ),
    (
        "CFSECRETS_WRANGLER=@ local --account production --wrangler bound",
        Code(64),
    ),
    (
        "CFSECRETS_WRANGLER={STUBS}/@ local --account production --wrangler bound",
        Code(64),
    ),
    ("bindings --account production --store @", Code(64)),
    ("bindings --account production --store-id @", Code(64)),
    ("bindings --account production --format @", Code(64)),
    ("completions @", Code(64)),
    ("man --dir @", Code(64)),
    ("man --dir man/@", Code(64)),
    ("emulator --default-store @", Code(64)),
];

// ---------------------------------------------------------------------------------------------
// The search itself.

#[test]
fn base64_matches_the_rfc_4648_vectors() {
    let vectors = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, encoded) in vectors {
        assert_eq!(canary::base64_standard(plain.as_bytes()), encoded);
    }
    assert_eq!(canary::base64_standard(&[0xfb, 0xff, 0xbf]), "+/+/");
    assert_eq!(canary::base64_url(&[0xfb, 0xff, 0xbf]), "-_-_");
    assert_eq!(canary::percent(b"a b+/", false, false), "a%20b%2B%2F");
    assert_eq!(canary::percent(b"a b+/", true, true), "a+b%2b%2f");
}

/// Each encoding, planted inside a larger document the way a leak would put it there
/// (encoded together with bytes before and after it, wrapped at 64 columns), is found; and
/// text that holds no canary is clean.
#[test]
fn a_planted_leak_is_found_in_every_encoding() {
    let identity = Identities::generate()
        .to_file_text("now")
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_string();
    let key_bytes: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(97) ^ 0xa5).collect();
    let canaries: Vec<Vec<u8>> = vec![
        VALUE.into(),
        ODD.into(),
        TOKEN.into(),
        identity.into_bytes(),
        key_bytes,
    ];
    let before = b"{\"id\":\"x\",\"k\":";
    let after = b"\",\"more\":[1,2,3]}";
    for c in &canaries {
        let shown = String::from_utf8_lossy(c).into_owned();
        let mut documents: Vec<(String, Vec<u8>)> = Vec::new();
        let mut doc = b"error: something ".to_vec();
        doc.extend_from_slice(c);
        doc.extend_from_slice(b" happened");
        documents.push(("raw".into(), doc));
        if let Ok(text) = std::str::from_utf8(c) {
            let json = serde_json::json!({ "message": text }).to_string();
            documents.push(("JSON".into(), json.into_bytes()));
        }
        for offset in 0..3 {
            let mut buf = before[..offset].to_vec();
            buf.extend_from_slice(c);
            buf.extend_from_slice(after);
            let standard = canary::base64_standard(&buf);
            let url = canary::base64_url(&buf);
            let wrapped: Vec<String> = standard
                .as_bytes()
                .chunks(64)
                .map(|l| String::from_utf8(l.to_vec()).unwrap())
                .collect();
            documents.push((
                format!("base64 at {offset}"),
                format!("data: {standard}\n").into_bytes(),
            ));
            documents.push((
                format!("URL-safe base64 at {offset}"),
                format!("https://x.example/cb?state={url}").into_bytes(),
            ));
            documents.push((
                format!("base64 at {offset}, wrapped"),
                format!(
                    "-----BEGIN X-----\r\n{}\r\n-----END X-----\r\n",
                    wrapped.join("\r\n")
                )
                .into_bytes(),
            ));
            let mut hexed = buf[..offset].to_vec();
            hexed.extend_from_slice(c);
            documents.push((
                format!("hex at {offset}"),
                format!("digest {}", hex::encode(&hexed)).into_bytes(),
            ));
            documents.push((
                format!("HEX at {offset}"),
                format!("DIGEST {}", hex::encode_upper(&hexed)).into_bytes(),
            ));
        }
        for (name, lower, plus) in [
            ("%XX", false, false),
            ("%xx", true, false),
            ("form", false, true),
        ] {
            documents.push((
                format!("URL-encoded {name}"),
                format!("GET /cb?a=1&v={}&z=2", canary::percent(c, lower, plus)).into_bytes(),
            ));
        }
        for (how, document) in &documents {
            assert!(
                canary::find(document, c).is_some(),
                "{shown:?} planted as {how} was not found in {}",
                String::from_utf8_lossy(document)
            );
        }
        // Only the forms that differ from the raw canary prove their own search.
        let encoded = documents
            .iter()
            .filter(|(_, d)| !d.windows(c.len()).any(|w| w == c.as_slice()))
            .count();
        assert!(
            encoded >= 15,
            "{shown:?}: only {encoded} planted documents hide the raw text"
        );
    }
    // Every encoding gets a needle of its own for some canary (base64's two alphabets differ
    // only where the canary's bits make `+` or `/`).
    let mut kinds: Vec<Encoding> = Vec::new();
    for c in canaries.iter().chain([&[0xfb, 0xff, 0xbf].repeat(4)]) {
        for (kind, _) in canary::forms(c) {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    assert_eq!(kinds.len(), 13, "{kinds:?}");
    // Clean text: random base64 and hex (as in sealed files and digests), and near misses.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: Vec<u8> = (0..60_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let clean = format!(
        "{}\n{}\nCANARY-VALUE-3f9a1c7e\nCnRy7tKn4Q9xZp2L",
        canary::base64_standard(&noise),
        hex::encode(&noise)
    );
    for c in &canaries {
        assert_eq!(canary::find(clean.as_bytes(), c), None);
    }
}

// ---------------------------------------------------------------------------------------------
// The fixtures.

/// A server in front of the emulator that passes reads through and answers every write with
/// a 400 whose messages quote the request: its body and its credentials.
struct Echo {
    base: String,
    _rt: tokio::runtime::Runtime,
}

impl Echo {
    fn start(upstream: String) -> Self {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};

        async fn handle(
            State(upstream): State<String>,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> (StatusCode, String) {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            if method == Method::GET {
                let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let answer = reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .unwrap()
                    .get(format!("{upstream}{path}"))
                    .header("authorization", header("authorization"))
                    .send()
                    .await
                    .unwrap();
                let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
                return (status, answer.text().await.unwrap());
            }
            let body = String::from_utf8_lossy(&body);
            let errors = serde_json::json!([
                { "code": 1001, "message": format!(
                    "secret_value_too_long: {}{} sent {body}",
                    header("authorization"),
                    header("x-auth-key")
                ) },
                { "code": 1001, "message": format!("request {body}") },
            ]);
            let answer = serde_json::json!({
                "success": false, "errors": errors, "messages": [], "result": null
            });
            (StatusCode::BAD_REQUEST, answer.to_string())
        }

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // The emulator's origin: paths pass through whole.
        let origin = upstream.trim_end_matches("/client/v4").to_string();
        let addr = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = axum::Router::new().fallback(handle).with_state(origin);
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            addr
        });
        Echo {
            base: format!("http://{addr}/client/v4"),
            _rt: rt,
        }
    }
}

/// A wrangler that fails loudly: it echoes its arguments, its environment and what it read
/// on stdin (whole, JSON-escaped, upper-cased and cut short) to stderr and stdout, then exits
/// 9. It names its tools by full path: a row may run it with a `PATH` that holds nothing.
const LOUD_STUB: &str = r#"#!/bin/sh
PATH=/usr/bin:/bin
v=$(cat)
printf 'argv: %s\n' "$*" >&2
printf 'stdin: %s\n' "$v" >&2
printf 'error: {"value":"%s"}\n' "$(printf '%s' "$v" | sed 's/\\/\\\\/g; s/"/\\"/g')" >&2
printf 'VALUE: %s\n' "$(printf '%s' "$v" | tr '[:lower:]' '[:upper:]')" >&2
printf 'cut: %s...\n' "$(printf '%s' "$v" | cut -c 3-20)" >&2
env >&2
printf 'stdout: %s\n' "$v"
exit 9
"#;

struct Gauntlet {
    p: Project,
    emu: Emu,
    faulty: Emu,
    /// An emulator whose new secrets stay `pending` (for `apply --wait-active`).
    pending: Emu,
    /// What the recording wrangler stub received (values on stdin, by design).
    stub_log: tempfile::TempDir,
    _echo: Echo,
    /// Outside the project: the emulator's state files (they hold values by design).
    outside: tempfile::TempDir,
    /// The runs' `TMPDIR`.
    tmp: tempfile::TempDir,
    canaries: Canaries,
    /// Every canary but the values (for files that hold values by design).
    not_values: Canaries,
    fixtures: BTreeMap<&'static str, String>,
    /// Files planted with canaries on purpose, as planted: skipped while unchanged.
    planted: BTreeMap<PathBuf, Vec<u8>>,
    /// Files already searched, as they were then: searched again only once changed.
    searched: std::cell::RefCell<BTreeMap<PathBuf, Vec<u8>>>,
    rt: tokio::runtime::Runtime,
}

fn header(accounts: &str) -> String {
    format!(
        "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n\
         defaults:\n  scopes: [workers]\naccounts:\n{accounts}"
    )
}

fn one_store(label: &str, account_id: Option<&str>, secrets: &str) -> String {
    let id = account_id.map_or(String::new(), |id| format!("    account_id: {id}\n"));
    header(&format!(
        "  {label}:\n{id}    stores:\n      main:\n        secrets:\n{secrets}"
    ))
}

impl Gauntlet {
    fn new() -> Self {
        let emu = Emu::start_with_token(
            EmulatorConfig {
                value_limit: VALUE_LIMIT,
                read_only_token: Some(READ_ONLY_TOKEN.to_string()),
                max_stores: 2,
                ..EmulatorConfig::default()
            },
            TOKEN,
        );
        let faulty = Emu::start_with_token(
            EmulatorConfig {
                faults: FaultConfig {
                    error_rate: 0.2,
                    drop_rate: 0.1,
                    drop_response_rate: 0.2,
                    corrupt_rate: 0.2,
                    ..FaultConfig::default()
                },
                seed: Some(11),
                ..EmulatorConfig::default()
            },
            TOKEN,
        );
        let pending = Emu::start_with_token(
            EmulatorConfig {
                activate_after_reads: None,
                ..EmulatorConfig::default()
            },
            TOKEN,
        );
        let echo = Echo::start(emu.base_url());
        let p = Project::new(&emu);
        let outside = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let stub_log = tempfile::tempdir().unwrap();
        // Wrangler stubs, outside the project: one that records each call, one that fails
        // echoing everything it got, and an empty directory for a PATH without either.
        let stubs = outside.path().join("stubs");
        crate::local::write_stub(&stubs, "wrangler");
        let loud = outside.path().join("loud");
        crate::support::write_script(&loud, "wrangler", LOUD_STUB);
        let empty = outside.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        for (k, v) in [
            ("CLOUDFLARE_API_TOKEN", TOKEN),
            ("RUST_BACKTRACE", "1"),
            ("TMPDIR", tmp.path().to_str().unwrap()),
            ("STUB_LOG", stub_log.path().to_str().unwrap()),
        ] {
            p.env.lock().unwrap().push((k.to_string(), v.to_string()));
        }

        // The identities and the fingerprint key.
        let key_text = std::fs::read_to_string(&p.identity).unwrap();
        let identity = key_text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
            .to_string();
        let other = Identities::generate().to_file_text("now").to_string();
        p.write("other.key", &other);
        let other_identity = other
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
            .to_string();
        let ids = Identities::from_file(&p.identity).unwrap();
        let sealed_key = std::fs::read(p.path("keys/fingerprint.age")).unwrap();
        let fingerprint_text = String::from_utf8(
            cfsecrets::values::unseal(&sealed_key, &ids, Path::new("keys/fingerprint.age"))
                .unwrap()
                .to_vec(),
        )
        .unwrap()
        .trim()
        .to_string();
        FingerprintKey::from_text(fingerprint_text.as_bytes(), Path::new("k")).unwrap();
        let fingerprint_bytes = hex::decode(&fingerprint_text).unwrap();

        // Values: plain, odd, in a bundle, too long for the server, too large for anyone.
        let long = format!("CANARY-LONG-{}", "0123456789abcdef".repeat(12));
        assert!(long.len() > VALUE_LIMIT);
        let mut huge = String::from("CANARY-HUGE-71e0c2d9a5");
        while huge.len() < 70_000 {
            huge.push_str("-huge");
        }
        p.seal("values/PLAIN.age", VALUE);
        p.seal("values/ODD.age", ODD);
        p.seal("values/app.env.age", &format!("BUNDLED={BUNDLED}\n"));
        p.seal("values/LONG.age", &long);
        p.seal("values/HUGE.age", &huge);
        emu.create_by_hand("main", "KEPT", LIVE, &format!("made by hand {LIVE_TOKEN}"));
        emu.create_by_hand("main", "LEFT", LIVE, &format!("token: {LIVE_TOKEN}"));
        let live_store = emu
            .block_on(emu.client().list_stores(ACCOUNT))
            .unwrap()
            .into_iter()
            .find(|s| s.name == "main")
            .unwrap()
            .id;

        // The manifests: the main one, and one per failure path.
        p.manifest(
            "      main:\n        secrets:\n\
             \x20         PLAIN: { value: values/PLAIN.age }\n\
             \x20         ODD: { value: values/ODD.age, comment: an odd one }\n\
             \x20         BUNDLED: { value: { bundle: values/app.env.age, key: BUNDLED } }\n\
             \x20         KEPT: { value: keep }\n",
        );
        // Files that hold canaries on purpose (a secret pasted into the wrong place).
        let mut planted: Vec<(&str, String)> = vec![
            (
                "syntax.yaml",
                one_store(
                    "production",
                    Some(ACCOUNT),
                    &format!("          PLAIN: {{ value: values/PLAIN.age, comment: [{TOKEN}\n"),
                ),
            ),
            (
                "pasted.yaml",
                format!(
                    "version: 1\nrecipients_file: {identity}\nfingerprint_key: keys/fingerprint.age\n\
                     accounts:\n  production:\n    account_id: {TOKEN}\n    stores:\n      {TOKEN}:\n\
                     \x20       secrets:\n          {identity}: {{ value: values/PLAIN.age, scopes: [{TOKEN}] }}\n\
                     \x20         PLAIN: {{ value: {TOKEN}.age }}\n          B: {{ value: {{ bundle: {identity}.env.age, key: {TOKEN} }} }}\n"
                ),
            ),
            (
                "named.yaml",
                header(&format!(
                    "  other:\n    account_id: {ACCOUNT2}\n    stores:\n      {TOKEN}:\n        secrets:\n\
                     \x20         {identity}: {{ value: values/PLAIN.age, comment: {WRONG_TOKEN} }}\n"
                )),
            ),
            (
                "wrangler.toml",
                format!(
                    "name = \"app\"\n[vars]\nLEAKED = \"{VALUE}\"\n[[secrets_store_secrets]]\n\
                     binding = \"PLAIN\"\nstore_id = \"{ACCOUNT}\"\nsecret_name = \"PLAIN\"\n"
                ),
            ),
            (
                "broken.jsonc",
                format!(
                    "{{ \"vars\": {{ \"K\": \"{VALUE}\" }}, \"secrets_store_secrets\": [ {TOKEN} ] }}"
                ),
            ),
        ];
        planted.extend([
            (
                "bound/wrangler.toml",
                format!(
                    "name = \"api\"\n[vars]\nLEAKED = \"{VALUE}\"\n\n\
                     [[secrets_store_secrets]]\nbinding = \"PLAIN\"\nstore_id = \"{live_store}\"\nsecret_name = \"PLAIN\"\n\n\
                     [env.staging]\nvars = {{ ALSO = \"{ODD_TOML}\" }}\nsecrets_store_secrets = [\n\
                     \x20 {{ binding = \"ODD\", store_id = \"{live_store}\", secret_name = \"ODD\" }},\n\
                     \x20 {{ binding = \"BUNDLED\", store_id = \"{live_store}\", secret_name = \"BUNDLED\" }},\n]\n",
                    ODD_TOML = ODD.replace('\\', "\\\\").replace('"', "\\\"")
                ),
            ),
            (
                "broken.toml",
                format!("name = \"app\"\n[vars]\nK = \"{VALUE}\nT = {TOKEN}\n"),
            ),
            (
                "pasted.toml",
                format!(
                    "[[secrets_store_secrets]]\nbinding = \"{TOKEN}\"\nstore_id = \"{identity}\"\n\
                     secret_name = \"{TOKEN}\"\n\n[[secrets_store_secrets]]\nbinding = \"B\"\n\
                     store_id = \"{WRONG_TOKEN}\"\nsecret_name = \"{identity}\"\n"
                ),
            ),
            (
                "types.jsonc",
                format!(
                    "// {TOKEN}\n{{ \"vars\": {{ \"K\": \"{VALUE}\" }},\n  \"secrets_store_secrets\": [\n\
                     \x20   {{ \"binding\": 7, \"store_id\": [\"{TOKEN}\"], \"secret_name\": {{ \"x\": \"{identity}\" }} }},\n\
                     \x20   {{ \"binding\": \"B\" }},\n  ],\n}}\n"
                ),
            ),
            (
                "adopt.env",
                format!(
                    "# adopted from the app\nADOPT_A={ADOPTED}-a\nexport ADOPT_B='{ODD}'\n\
                     ADOPT_C=\"{ADOPTED}-c # not a comment\" # a comment\n"
                ),
            ),
            (
                "refused.env",
                format!(
                    "bad key={REFUSED}-1\nEMPTY=\nhas.dot={REFUSED}-2\n{REFUSED}-3\n\
                     DUP={REFUSED}-4\nDUP={REFUSED}-5\nOPEN=\"{REFUSED}-6\nLAST='{REFUSED}-7' {REFUSED}-8\n"
                ),
            ),
            (
                "pasted.env",
                format!("{identity}={REFUSED}-k\n{TOKEN}={REFUSED}-t\nFINE={REFUSED}-f\n"),
            ),
            ("huge.env", format!("SMALL={REFUSED}-s\nBIG={huge}\n")),
        ]);
        for (rel, text) in &planted {
            p.write(rel, text);
        }
        // ODD alone (its JSON-escaped form differs from it), for the wrangler that echoes.
        p.write(
            "odd/wrangler.jsonc",
            &format!(
                "{{ \"secrets_store_secrets\": [\n  {{ \"binding\": \"ODD\", \"store_id\": \"{live_store}\", \"secret_name\": \"ODD\" }},\n] }}\n"
            ),
        );
        let mut binary = b"\xff\xfeBIN=".to_vec();
        binary.extend_from_slice(format!("{REFUSED}-bin\n").as_bytes());
        std::fs::write(p.path("binary.env"), binary).unwrap();
        // A wrangler config over the reader's bound (sparse: nothing is written to disk).
        std::fs::File::create(p.path("huge.toml"))
            .unwrap()
            .set_len((4 << 20) + 1)
            .unwrap();
        // A manifest that breaks the bindings of `bound`: deletes PLAIN, takes `workers`
        // from ODD.
        p.write(
            "breaks.yaml",
            &one_store(
                "production",
                Some(ACCOUNT),
                "          PLAIN: { ensure: absent }\n\
                 \x20         ODD: { value: values/ODD.age, comment: an odd one, scopes: [dex] }\n\
                 \x20         BUNDLED: { value: { bundle: values/app.env.age, key: BUNDLED } }\n\
                 \x20         KEPT: { value: keep }\n",
            ),
        );
        // The manifest `secret import-env` adds to (another account, same emulator).
        p.write(
            "adopt.yaml",
            &header(&format!(
                "  adopt:\n    account_id: {ACCOUNT2}\n    stores:\n      main:\n        secrets:\n\
                 \x20         SEED: {{ value: values/PLAIN.age }}\n"
            )),
        );
        p.write(
            "pending.yaml",
            &one_store(
                "production",
                Some(ACCOUNT),
                "          PLAIN: { value: values/PLAIN.age }\n\
                 \x20         ODD: { value: values/ODD.age }\n",
            ),
        );
        p.write(
            "fewer.yaml",
            &std::fs::read_to_string(p.path("cfsecrets.yaml")).unwrap(),
        );
        p.write(
            "faulty.yaml",
            &one_store(
                "production",
                Some(ACCOUNT),
                "          PLAIN: { value: values/PLAIN.age }\n\
                 \x20         ODD: { value: values/ODD.age, comment: an odd one }\n\
                 \x20         BUNDLED: { value: { bundle: values/app.env.age, key: BUNDLED } }\n",
            ),
        );
        p.write(
            "missing.yaml",
            &one_store(
                "other",
                Some(ACCOUNT2),
                "          GONE: { value: values/GONE.age }\n",
            ),
        );
        p.write(
            "toolong.yaml",
            &one_store(
                "other",
                Some(ACCOUNT2),
                "          LONG: { value: values/LONG.age }\n",
            ),
        );
        p.write(
            "huge.yaml",
            &one_store(
                "other",
                Some(ACCOUNT2),
                "          HUGE: { value: values/HUGE.age }\n",
            ),
        );
        p.write(
            "noid.yaml",
            &one_store(
                "other",
                None,
                "          PLAIN: { value: values/PLAIN.age }\n",
            ),
        );
        std::fs::write(
            outside.path().join("broken-state.json"),
            format!("{{\"version\": 1, \"accounts\": {{\"{ACCOUNT}\": {{\"stores\": [{{\"id\": \"{VALUE}\", \"name\": 7}}]}}}}}}"),
        )
        .unwrap();
        let planted = planted
            .iter()
            .map(|(rel, _)| *rel)
            .chain(["me.key", "other.key", "binary.env", "huge.toml"])
            .map(|rel| {
                let path = p.path(rel);
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect();

        let lower = identity.to_lowercase();
        let values = [
            ("a secret value", VALUE.to_string()),
            ("an odd secret value", ODD.to_string()),
            ("a bundled value", BUNDLED.to_string()),
            ("a live kept value", LIVE.to_string()),
            ("a rotated value", ROTATED.to_string()),
            ("a new value", NEW.to_string()),
            ("a value waited for", WAITED.to_string()),
            ("a value from a dotenv file", ADOPTED.to_string()),
            ("a value from a dotenv file on stdin", PIPED.to_string()),
            ("text on a refused dotenv line", REFUSED.to_string()),
            ("a value too long for the server", long[..40].to_string()),
            ("a value too large for anyone", huge[..32].to_string()),
        ];
        let secrets = [
            ("the API token", TOKEN.as_bytes().to_vec()),
            ("a wrong API token", WRONG_TOKEN.as_bytes().to_vec()),
            ("a read-only API token", READ_ONLY_TOKEN.as_bytes().to_vec()),
            ("a token in a live comment", LIVE_TOKEN.as_bytes().to_vec()),
            ("the age identity", identity.clone().into_bytes()),
            ("the age identity in lower case", lower.into_bytes()),
            ("a wrong age identity", other_identity.clone().into_bytes()),
            ("the fingerprint key's text", fingerprint_text.into_bytes()),
            ("the fingerprint key's bytes", fingerprint_bytes),
        ];
        let mut canaries = Canaries::new();
        let mut not_values = Canaries::new();
        for (name, canary) in &values {
            canaries.add(name, canary);
        }
        for (name, canary) in &secrets {
            canaries.add(name, canary);
            not_values.add(name, canary);
        }

        let store_id = "0123456789abcdef0123456789abcdef".to_string();
        let recipient = ids.to_recipients()[0].clone();
        let fixtures = BTreeMap::from([
            ("ACCOUNT", ACCOUNT.to_string()),
            ("STORE_ID", store_id),
            ("RECIPIENT", recipient),
            ("IDENTITY", identity),
            ("OTHER_IDENTITY", other_identity),
            ("TOKEN", TOKEN.to_string()),
            ("WRONG_TOKEN", WRONG_TOKEN.to_string()),
            ("READ_ONLY_TOKEN", READ_ONLY_TOKEN.to_string()),
            ("VALUE", VALUE.to_string()),
            ("ROTATED", ROTATED.to_string()),
            ("NEW", NEW.to_string()),
            ("HUGE", huge),
            ("FAULTY", faulty.base_url()),
            ("ECHO", echo.base.clone()),
            ("OUTSIDE", outside.path().display().to_string()),
            ("WAITED", WAITED.to_string()),
            ("PENDING", pending.base_url()),
            ("PIPED_ENV", format!("PIPED_KEY={PIPED}\n")),
            (
                "REFUSED_ENV",
                format!("OK={REFUSED}-ok\nbad key={REFUSED}-9\nX='{REFUSED}-10\n"),
            ),
            ("STUBS", stubs.display().to_string()),
            ("LOUD", loud.display().to_string()),
            ("EMPTY", empty.display().to_string()),
        ]);
        Gauntlet {
            p,
            emu,
            faulty,
            pending,
            stub_log,
            _echo: echo,
            outside,
            tmp,
            canaries,
            not_values,
            fixtures,
            planted,
            searched: Default::default(),
            rt: tokio::runtime::Runtime::new().unwrap(),
        }
    }

    /// `word` with each `{NAME}` replaced by its fixture.
    fn expand(&self, word: &str) -> String {
        let mut out = word.to_string();
        for (name, value) in &self.fixtures {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        assert!(!out.contains('{'), "unknown fixture in {word}");
        out
    }

    /// Runs one line of the table and checks everything it produced.
    fn run(&self, line: &str, exit: Exit) {
        let mut env = Vec::new();
        let mut args = Vec::new();
        let mut stdin = None;
        for word in line.split_whitespace() {
            let is_var = args.is_empty()
                && word.split_once('=').is_some_and(|(k, _)| {
                    !k.is_empty() && k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                });
            if is_var {
                let (k, v) = word.split_once('=').unwrap();
                env.push((k.to_string(), self.expand(v)));
            } else if let Some(fixture) = word.strip_prefix('<') {
                stdin = Some(self.expand(fixture));
            } else {
                args.push(self.expand(word));
            }
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = self.p.command(&argv, true);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let produced = match exit {
            Serves => self.serve(cmd, line),
            Code(_) | Any => {
                cmd.stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                });
                let mut child = cmd.spawn().unwrap();
                if let Some(text) = &stdin {
                    match child.stdin.take().unwrap().write_all(text.as_bytes()) {
                        // The command may stop reading early (a value over its bound).
                        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
                        other => other.unwrap(),
                    }
                }
                let out = child.wait_with_output().unwrap();
                let all = format!(
                    "{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                if let Code(code) = exit {
                    assert_eq!(out.status.code(), Some(code), "`{line}`:\n{all}");
                }
                all
            }
        };
        assert!(
            !produced.contains("panicked"),
            "`{line}` panicked:\n{produced}"
        );
        self.canaries
            .assert_absent(&format!("the output of `{line}`"), &produced);
        if std::env::var_os("CFSECRETS_SHOW_GAUNTLET").is_some() {
            eprintln!("=== {line}\n{produced}");
        }
        self.check_files(line);
    }

    /// Every file in the project and `TMPDIR` (but those planted with canaries, while
    /// unchanged), and every file's name.
    fn check_files(&self, line: &str) {
        let mut names = String::new();
        for root in [self.p.root(), self.tmp.path()] {
            for path in canary::files_under(root) {
                names.push_str(&path.display().to_string());
                names.push('\n');
                let bytes = std::fs::read(&path).unwrap();
                let mut searched = self.searched.borrow_mut();
                if self.planted.get(&path) == Some(&bytes) || searched.get(&path) == Some(&bytes) {
                    continue;
                }
                self.canaries
                    .assert_absent(&format!("{} after `{line}`", path.display()), &bytes);
                searched.insert(path, bytes);
            }
        }
        self.canaries
            .assert_absent(&format!("the file names after `{line}`"), &names);
    }

    /// Starts the emulator command, uses it, stops it; returns all it and its admin routes
    /// showed.
    fn serve(&self, mut cmd: std::process::Command, line: &str) -> String {
        let mut child = cmd.stdin(Stdio::null()).spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut shown = String::new();
        let mut base = String::new();
        while !shown.contains("admin:") {
            let mut l = String::new();
            if stdout.read_line(&mut l).unwrap() == 0 {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("`{line}` stopped before serving:\n{shown}{err}");
            }
            if let Some(url) = l.strip_prefix("base URL: ") {
                base = url.trim().to_string();
            }
            shown.push_str(&l);
        }
        let admin = base.replace("/client/v4", "/__emulator");
        self.rt.block_on(async {
            let client = |token: &str| {
                let mut config =
                    ClientConfig::new(&base, Auth::Token(Credential::new(token))).unwrap();
                config.max_retries = 0;
                Client::new(config).unwrap()
            };
            let good = client(TOKEN);
            let store = good.create_store(ACCOUNT, "main").await.unwrap();
            let scopes = vec!["workers".to_string()];
            let secret = NewSecret {
                name: "S",
                value: VALUE,
                scopes: &scopes,
                comment: None,
            };
            good.create_secrets(ACCOUNT, &store.id, &[secret])
                .await
                .unwrap();
            for token in [WRONG_TOKEN, READ_ONLY_TOKEN] {
                let secret = NewSecret {
                    name: "T",
                    value: ODD,
                    scopes: &scopes,
                    comment: None,
                };
                let err = client(token)
                    .create_secrets(ACCOUNT, &store.id, &[secret])
                    .await
                    .unwrap_err();
                shown.push_str(&format!("{err} {err:?}\n"));
            }
            shown.push_str(&admin_views(&admin).await);
        });
        child.kill().unwrap();
        child.wait().unwrap();
        stdout.read_to_string(&mut shown).unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut shown)
            .unwrap();
        shown
    }
}

// ---------------------------------------------------------------------------------------------
// The gauntlet.

#[test]
fn canaries_never_leak_through_any_command_flag_format_or_error() {
    let g = Gauntlet::new();
    assert!(cfsecrets::text::looks_like_api_token(TOKEN));
    g.check_files("the setup");
    for (line, exit) in ROWS {
        g.run(line, *exit);
    }
    for (template, exit) in PASTED {
        for pasted in ["{IDENTITY}", "{TOKEN}"] {
            g.run(&template.replace('@', pasted), *exit);
        }
        let lower = g.fixtures["IDENTITY"].to_lowercase();
        let line = template.replace('@', &lower);
        g.run(&line, *exit);
    }
    // The paths exercised: values reached the live store, and the emulator command wrote
    // its state file (which holds values by design, and nothing else secret).
    let live = g.emu.names("main");
    assert_eq!(live, ["BUNDLED", "KEPT", "LEFT", "ODD", "PLAIN"]);
    let adopted: Vec<String> = g
        .emu
        .secrets_in(ACCOUNT2, "main")
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(adopted, ["ADOPT_B", "ADOPT_C", "SEED"]);
    assert_eq!(g.pending.names("main"), ["ODD", "PLAIN"]);
    // `local` handed the values to wrangler on stdin (and only there): the recording stub
    // got PLAIN's value from the top level, and ODD's and BUNDLED's from env staging.
    let got: Vec<String> = crate::local::calls(g.stub_log.path())
        .into_iter()
        .map(|c| c.stdin)
        .collect();
    for value in [VALUE, ODD, BUNDLED] {
        assert!(got.iter().any(|v| v == value), "{got:?}");
    }
    g.not_values
        .assert_absent("what wrangler was given", got.join("\n"));
    let state = std::fs::read(g.outside.path().join("emu-state.json")).unwrap();
    assert!(canary::find(&state, VALUE.as_bytes()).is_some());
    g.not_values
        .assert_absent("the emulator command's state file", &state);
    // (The comment the test wrote on Cloudflare's side is live data there.)
    let sent = g.canaries.without(&["a token in a live comment"]);
    for (name, emu) in [
        ("the emulator", &g.emu),
        ("the faulty emulator", &g.faulty),
        ("the pending emulator", &g.pending),
    ] {
        sent.assert_absent(
            &format!("{name}'s log, counters and state"),
            emulator_views(emu),
        );
    }
}

/// Where the gauntlet proves absence, this pins what is said instead: a secret pasted into
/// the manifest is reported where it stands, a live comment holding one is masked in the
/// plan and left out of an import, and a server's echo of the credentials is cut out.
#[test]
fn pasted_secrets_are_named_where_they_stand_and_masked_when_live() {
    let emu = Emu::start_with_token(EmulatorConfig::default(), TOKEN);
    let p = Project::new(&emu);
    p.env
        .lock()
        .unwrap()
        .push(("CLOUDFLARE_API_TOKEN".to_string(), TOKEN.to_string()));
    p.seal("values/PLAIN.age", VALUE);
    let identity = Identities::generate()
        .to_file_text("now")
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_string();
    p.write(
        "named.yaml",
        &header(&format!(
            "  {WRONG_TOKEN}:\n    account_id: {ACCOUNT}\n    stores:\n      main:\n        secrets:\n\
             \x20         {identity}: {{ value: values/PLAIN.age }}\n\
             \x20         PLAIN: {{ value: values/PLAIN.age, comment: \"see {TOKEN}\", renamed_from: {READ_ONLY_TOKEN} }}\n\
             \x20         B: {{ value: {{ bundle: values/x.env.age, key: {TOKEN} }} }}\n"
        )),
    );
    let run = p.run(&["-f", "named.yaml", "check"]);
    run.expect(1);
    for expected in [
        "named.yaml:7:3: error: an account label looks like an API token",
        "named.yaml:12:11: error: a secret name looks like a private key",
        "named.yaml:13:54: error: the comment of secret `PLAIN` looks like an API token",
        "named.yaml:13:116: error: `renamed_from` looks like an API token",
        "named.yaml:14:23: error: the bundle key of secret `B` looks like an API token",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    // A live comment with a token in it: masked in the plan, left out by import.
    emu.create_by_hand("main", "PLAIN", "v", &format!("token {LIVE_TOKEN}"));
    p.manifest("      main:\n        secrets:\n          PLAIN: { value: values/PLAIN.age }\n");
    let plan = p.run(&["plan"]);
    plan.expect(0);
    assert!(
        plan.stdout
            .contains("comment: removed (was \"<not shown: it looks like an API token>\")"),
        "{}",
        plan.stdout
    );
    let import = p.run(&["import", "--account", ACCOUNT]);
    import.expect(0);
    assert!(
        import
            .stdout
            .contains("            # comment left out: it looks like an API token\n"),
        "{}",
        import.stdout
    );
    assert!(
        import
            .stderr
            .contains("warning: 1 live comment looked like a secret")
    );
    let canaries = Canaries::new()
        .with("the token", TOKEN)
        .with("another token", WRONG_TOKEN)
        .with("a read-only token", READ_ONLY_TOKEN)
        .with("a live comment's token", LIVE_TOKEN)
        .with("an identity", &identity)
        .with("the value", VALUE);
    for (i, out) in p.outputs.lock().unwrap().iter().enumerate() {
        canaries.assert_absent(&format!("output {i}"), out);
    }
    // A server that echoes the credentials: they are cut out of its message.
    let echo = Echo::start(emu.base_url());
    p.env
        .lock()
        .unwrap()
        .push(("CLOUDFLARE_API_BASE_URL".to_string(), echo.base.clone()));
    let apply = p.run(&["apply", "--auto-approve"]);
    apply.expect(1);
    assert!(
        apply
            .stderr
            .contains("secret_value_too_long: Bearer <redacted> sent {\"value\":\"<redacted>\""),
        "{}",
        apply.stderr
    );
    canaries.assert_absent("an apply through the echo", apply.all());
}
