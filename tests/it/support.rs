//! Shared test support for chapters that run the real binary against the emulator.
//!
//! * [`Emu`] — an in-process emulator on 127.0.0.1:0 with its own runtime, plus a client and
//!   helpers to change live state behind cfsecrets' back.
//! * [`Project`] — a temp directory set up by `cfsecrets init --generate-identity`, with
//!   helpers to write the manifest and seal values; [`Project::run`] runs the binary with a
//!   clean environment (only the emulator's URL and token, the identity, `NO_COLOR`, tiny retry
//!   delays) and records every output so a test can prove no value ever appeared.

#![allow(dead_code)]

/// Finding canaries in every encoding (the leak search every secrecy test uses).
pub mod canary;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use cfsecrets::cloudflare::{Auth, Client, ClientConfig, Credential, ListSecrets, NewSecret};
use cfsecrets::emulator::{
    Emulator, EmulatorConfig, EmulatorHandle, FaultConfig, FaultKind, ScheduledFault,
};
use cfsecrets::fs::{WriteOptions, write_atomic};
use cfsecrets::values::{Recipients, seal};

/// The token the emulator demands and the binary presents.
pub const TOKEN: &str = "e2e-test-token-0f3b";
/// The account every e2e manifest uses.
pub const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// A running emulator with its own runtime.
pub struct Emu {
    handle: Option<EmulatorHandle>,
    rt: tokio::runtime::Runtime,
    /// The token it demands ([`TOKEN`] unless started with another).
    token: String,
}

impl Emu {
    pub fn start() -> Self {
        Self::start_with(EmulatorConfig::default())
    }

    /// Starts with `config` (the token is always [`TOKEN`]; ids and dice seeded).
    pub fn start_with(config: EmulatorConfig) -> Self {
        Self::start_with_token(config, TOKEN)
    }

    /// [`Emu::start_with`], demanding `token` instead of [`TOKEN`] (its own client presents
    /// it; a [`Project`] needs `CLOUDFLARE_API_TOKEN` set to it in its `env`).
    pub fn start_with_token(mut config: EmulatorConfig, token: &str) -> Self {
        config.token = Some(token.to_string());
        if config.seed.is_none() {
            config.seed = Some(7);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = rt
            .block_on(Emulator::start(config, "127.0.0.1:0".parse().unwrap()))
            .expect("start the emulator");
        Self {
            handle: Some(handle),
            rt,
            token: token.to_string(),
        }
    }

    pub fn handle(&self) -> &EmulatorHandle {
        self.handle.as_ref().expect("running")
    }

    pub fn base_url(&self) -> String {
        self.handle().base_url()
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.handle().set_faults(faults);
    }

    /// Requests seen for `METHOD template` (template relative to the account root, e.g.
    /// `/stores/{store_id}/secrets/{secret_id}/duplicate`).
    pub fn count(&self, method: &str, template: &str) -> u64 {
        self.handle().count(
            method,
            &format!("/accounts/{{account_id}}/secrets_store{template}"),
        )
    }

    pub fn client(&self) -> Client {
        let mut config =
            ClientConfig::new(&self.base_url(), Auth::Token(Credential::new(&self.token))).unwrap();
        config.base_delay = std::time::Duration::from_millis(1);
        Client::new(config).unwrap()
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Live secrets of the store in [`ACCOUNT`]: (name, comment, scopes), sorted by name.
    pub fn secrets(&self, store: &str) -> Vec<(String, String, Vec<String>)> {
        self.secrets_in(ACCOUNT, store)
    }

    /// Live secrets of a store in any account: (name, comment, scopes), sorted by name.
    pub fn secrets_in(&self, account: &str, store: &str) -> Vec<(String, String, Vec<String>)> {
        let client = self.client();
        self.block_on(async {
            let stores = client.list_stores(account).await.unwrap();
            let Some(s) = stores.into_iter().find(|s| s.name == store) else {
                return Vec::new();
            };
            let mut v: Vec<_> = client
                .list_secrets(account, &s.id, &ListSecrets::default())
                .await
                .unwrap()
                .into_iter()
                .map(|x| {
                    let mut scopes = x.scopes;
                    scopes.sort();
                    (x.name, x.comment.unwrap_or_default(), scopes)
                })
                .collect();
            v.sort();
            v
        })
    }

    /// Live secret ids by name in [`ACCOUNT`]'s store.
    pub fn ids(&self, store: &str) -> std::collections::BTreeMap<String, String> {
        let client = self.client();
        self.block_on(async {
            let stores = client.list_stores(ACCOUNT).await.unwrap();
            let Some(s) = stores.into_iter().find(|s| s.name == store) else {
                return Default::default();
            };
            client
                .list_secrets(ACCOUNT, &s.id, &ListSecrets::default())
                .await
                .unwrap()
                .into_iter()
                .map(|x| (x.name, x.id))
                .collect()
        })
    }

    pub fn names(&self, store: &str) -> Vec<String> {
        self.secrets(store).into_iter().map(|s| s.0).collect()
    }

    /// Creates a secret by hand (no marker), creating the store if needed.
    pub fn create_by_hand(&self, store: &str, name: &str, value: &str, comment: &str) {
        let client = self.client();
        self.block_on(async {
            let stores = client.list_stores(ACCOUNT).await.unwrap();
            let id = match stores.into_iter().find(|s| s.name == store) {
                Some(s) => s.id,
                None => client.create_store(ACCOUNT, store).await.unwrap().id,
            };
            let scopes = vec!["workers".to_string()];
            client
                .create_secrets(
                    ACCOUNT,
                    &id,
                    &[NewSecret {
                        name,
                        value,
                        scopes: &scopes,
                        comment: Some(comment),
                    }],
                )
                .await
                .unwrap();
        })
    }

    /// Changes a live secret's comment behind cfsecrets' back.
    pub fn patch_comment(&self, store: &str, name: &str, comment: &str) {
        let client = self.client();
        self.block_on(async {
            let s = client
                .list_stores(ACCOUNT)
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.name == store)
                .unwrap();
            let secret = client
                .list_secrets(ACCOUNT, &s.id, &ListSecrets::default())
                .await
                .unwrap()
                .into_iter()
                .find(|x| x.name == name)
                .unwrap();
            let patch = cfsecrets::cloudflare::SecretPatch {
                comment: Some(comment),
                ..Default::default()
            };
            client
                .patch_secret(ACCOUNT, &s.id, &secret.id, &patch)
                .await
                .unwrap();
        })
    }
}

/// Fails the next `count` requests for `METHOD template` (template relative to the account
/// root, e.g. `/stores/{store_id}/secrets`) with `kind`, at the emulator.
pub fn schedule(emu: &Emu, method: &str, template: &str, kind: FaultKind, count: u32) {
    emu.handle().schedule(ScheduledFault {
        method: method.into(),
        path: format!("/accounts/{{account_id}}/secrets_store{template}"),
        kind,
        count,
    });
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.rt.block_on(handle.shutdown());
        }
    }
}

/// One run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// A project directory made by `cfsecrets init --generate-identity me.key`.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
    base_url: String,
    /// Every output of every run, for the no-leak check.
    pub outputs: Mutex<Vec<String>>,
    /// Every plaintext sealed by [`Project::seal`].
    pub values: Mutex<Vec<String>>,
    /// Extra environment for runs.
    pub env: Mutex<Vec<(String, String)>>,
}

pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cfsecrets"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

impl Project {
    pub fn new(emu: &Emu) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = bin()
            .args([
                "init",
                "--generate-identity",
                "me.key",
                "--account-id",
                ACCOUNT,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let identity = dir.path().join("me.key");
        Self {
            dir,
            identity,
            base_url: emu.base_url(),
            outputs: Mutex::new(Vec::new()),
            values: Mutex::new(Vec::new()),
            env: Mutex::new(Vec::new()),
        }
    }

    /// A new project holding a copy of this one's files (identity and sealed values
    /// included), in its own directory: cheaper than [`Project::new`] for a test that needs
    /// many alike.
    pub fn copy(&self) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut todo = vec![PathBuf::new()];
        while let Some(rel) = todo.pop() {
            for entry in std::fs::read_dir(self.root().join(&rel)).unwrap() {
                let entry = entry.unwrap();
                let rel = rel.join(entry.file_name());
                if entry.file_type().unwrap().is_dir() {
                    std::fs::create_dir(dir.path().join(&rel)).unwrap();
                    todo.push(rel);
                } else {
                    std::fs::copy(entry.path(), dir.path().join(&rel)).unwrap();
                }
            }
        }
        let identity = dir
            .path()
            .join(self.identity.strip_prefix(self.root()).unwrap());
        Self {
            dir,
            identity,
            base_url: self.base_url.clone(),
            outputs: Mutex::new(Vec::new()),
            values: Mutex::new(self.values.lock().unwrap().clone()),
            env: Mutex::new(self.env.lock().unwrap().clone()),
        }
    }

    /// The identity's key line (`AGE-SECRET-KEY-1…`), for tests that prove it never shows.
    pub fn identity_line(&self) -> String {
        std::fs::read_to_string(&self.identity)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
            .to_string()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    /// Writes `cfsecrets.yaml`: the common header, then `stores` (YAML indented for the
    /// `stores:` map of account `production`).
    pub fn manifest(&self, stores: &str) {
        let text = format!(
            "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n\
             defaults:\n  scopes: [workers]\naccounts:\n  production:\n    account_id: {ACCOUNT}\n    \
             stores:\n{stores}"
        );
        self.write("cfsecrets.yaml", &text);
    }

    /// Seals `plaintext` to the project's recipients at `rel` and remembers it as a secret.
    pub fn seal(&self, rel: &str, plaintext: &str) {
        let recipients = Recipients::from_file(&self.path(".age-recipients")).unwrap();
        let sealed = seal(plaintext.as_bytes(), &recipients).unwrap();
        write_atomic(&self.path(rel), &sealed, WriteOptions::replace()).unwrap();
        for line in plaintext.lines() {
            // Bundles: remember each value, not the `KEY=` part.
            let value = line.split_once('=').map(|(_, v)| v).unwrap_or(line);
            if !value.is_empty() {
                self.values.lock().unwrap().push(value.to_string());
            }
        }
    }

    /// Runs the binary in the project with the identity.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, true)
    }

    /// Runs without any identity (a fork pull request).
    pub fn run_without_identity(&self, args: &[&str]) -> Run {
        self.run_env(args, false)
    }

    /// The binary set up to run in the project (credentials, emulator URL, fast retries,
    /// the identity when `identity`, the extra environment), for a caller that needs its own
    /// stdin or stdout; [`Project::run`] is this plus capturing the output.
    pub fn command(&self, args: &[&str], identity: bool) -> Command {
        let mut cmd = bin();
        cmd.args(args)
            .current_dir(self.root())
            .env("HOME", self.root())
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("CLOUDFLARE_API_BASE_URL", &self.base_url)
            .env("CFSECRETS_RETRY_BASE_MS", "1");
        if identity {
            cmd.env("CFSECRETS_AGE_KEY_FILE", &self.identity);
        }
        for (k, v) in self.env.lock().unwrap().iter() {
            cmd.env(k, v);
        }
        cmd
    }

    fn run_env(&self, args: &[&str], identity: bool) -> Run {
        let out = self
            .command(args, identity)
            .output()
            .expect("run cfsecrets");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.outputs.lock().unwrap().push(run.all());
        run
    }

    /// Asserts that no sealed value appears in any output so far, nor in `extra` files, in
    /// any encoding ([`canary::find`]).
    #[track_caller]
    pub fn assert_no_value_leaked(&self, extra_files: &[&str]) {
        let mut texts = self.outputs.lock().unwrap().clone();
        for f in extra_files {
            texts.push(std::fs::read_to_string(self.path(f)).unwrap());
        }
        let values = self.values.lock().unwrap();
        assert!(!values.is_empty());
        let mut canaries = canary::Canaries::new();
        for value in values.iter() {
            canaries.add("a sealed value", value);
        }
        for (i, text) in texts.iter().enumerate() {
            canaries.assert_absent(&format!("output {i}"), text);
        }
    }
}

// ── JSON shapes (fixtures compared with live answers) ─────────────────────────────────

/// 32 lowercase hex characters, as Cloudflare's ids.
pub fn is_id32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A parseable RFC 3339 time.
pub fn is_rfc3339(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

/// Compares `actual` with a fixture: same keys everywhere, equal leaves, and the
/// placeholders `<id32>` (32 lowercase hex) and `<rfc3339>` (a parseable RFC 3339 time).
#[track_caller]
pub fn assert_shape(expected: &serde_json::Value, actual: &serde_json::Value, at: &str) {
    match (expected, actual) {
        (serde_json::Value::String(p), serde_json::Value::String(s)) if p == "<id32>" => {
            assert!(is_id32(s), "{at}: {s:?} is not a 32-hex id")
        }
        (serde_json::Value::String(p), serde_json::Value::String(s)) if p == "<rfc3339>" => {
            assert!(is_rfc3339(s), "{at}: {s:?} is not RFC 3339")
        }
        (serde_json::Value::Object(e), serde_json::Value::Object(a)) => {
            let ek: std::collections::BTreeSet<_> = e.keys().collect();
            let ak: std::collections::BTreeSet<_> = a.keys().collect();
            assert_eq!(ek, ak, "{at}: keys differ");
            for (k, v) in e {
                assert_shape(v, &a[k], &format!("{at}.{k}"));
            }
        }
        (serde_json::Value::Array(e), serde_json::Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{at}: lengths differ");
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                assert_shape(e, a, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(expected, actual, "{at}"),
    }
}

/// Runs `cfsecrets secret set` in `p` with `value` (any bytes) on stdin. `args` may start
/// with global flags (`-f FILE`); they go before the subcommand.
pub fn secret_set(p: &Project, args: &[&str], value: impl AsRef<[u8]>) -> std::process::Output {
    use std::io::Write as _;
    let (global, rest) = match args {
        ["-f", file, rest @ ..] => (vec!["-f", *file], rest),
        rest => (Vec::new(), rest),
    };
    let mut child = p
        .command(&global, false)
        .args(["secret", "set"])
        .args(rest)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run cfsecrets");
    let mut stdin = child.stdin.take().expect("stdin");
    match stdin.write_all(value.as_ref()) {
        // The command may stop reading early (a value over its bound), or exit before reading
        // at all (refused arguments).
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.expect("write stdin"),
    }
    drop(stdin);
    child.wait_with_output().expect("wait")
}

/// Writes `script` as the executable `dir/name` (creating `dir`); returns its path. For
/// stand-ins of outside programs (wrangler) that a test puts on `PATH`.
pub fn write_script(dir: &Path, name: &str, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The outside programs some tests use, each with the Debian package that provides it.
/// `.ci/run` installs every package and lists every program in `CFSECRETS_REQUIRE_TOOLS`
/// (held by `ci_run_installs_and_requires_every_outside_tool`).
pub const OUTSIDE_TOOLS: &[(&str, &str)] = &[
    ("age", "age"),
    ("jq", "jq"),
    ("bash", "bash"),
    ("groff", "groff-base"),
];

/// Whether the outside program `tool` (one of [`OUTSIDE_TOOLS`]) is on `PATH` for the test
/// named `test`. A fresh machine has only Rust, so a missing tool skips the test with a note
/// written straight to the terminal (past the test harness's capture, so it shows in a
/// passing run). `.ci/run`, which installs the tools, lists them in `CFSECRETS_REQUIRE_TOOLS`
/// (comma-separated): there a missing tool fails the test instead.
pub fn require_tool(tool: &str, test: &str) -> Option<()> {
    let package = OUTSIDE_TOOLS
        .iter()
        .find(|(t, _)| *t == tool)
        .map(|(_, package)| *package)
        .unwrap_or_else(|| panic!("`{tool}` is not in OUTSIDE_TOOLS: add it, and to .ci/run"));
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return Some(());
    }
    let install = format!("apt-get update && apt-get install -y {package}");
    let required = std::env::var("CFSECRETS_REQUIRE_TOOLS").unwrap_or_default();
    assert!(
        !required.split(',').any(|t| t.trim() == tool),
        "`{tool}` is required (CFSECRETS_REQUIRE_TOOLS={required}) but not on PATH; install it with `{install}`"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "note: skipping {test}: `{tool}` is not on PATH (install it with `{install}`; .ci/run installs it and makes it mandatory)"
    );
    None
}
