//! A throw-away cfsecrets project made with the library (a fresh identity kept in memory,
//! `.age-recipients`, a sealed fingerprint key, sealed values and a manifest), what the
//! scenarios declare ([`Want`]), and the runs of cfsecrets as a child process.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use rand::RngCore;
use zeroize::Zeroizing;

use cfsecrets::fs::{WriteOptions, write_atomic};
use cfsecrets::values::{FingerprintKey, Identities, Recipients, seal};

use crate::TOKEN;
use crate::child::REPORT_ENV;

/// The store every account has (the emulator creates it on an account's first request, as
/// the dashboard does).
pub const STORE: &str = "default_secrets_store";

/// A plaintext, shared without copying.
pub type Value = Arc<Zeroizing<String>>;

/// What a scenario declares: per account, secret name → value.
#[derive(Clone)]
pub struct Want {
    pub accounts: Vec<WantAccount>,
}

#[derive(Clone)]
pub struct WantAccount {
    /// The manifest label, `a0`, `a1`, …
    pub label: String,
    /// 32 hex.
    pub id: String,
    pub secrets: BTreeMap<String, Value>,
}

pub fn account_id(k: usize) -> String {
    format!("{:032x}", 0xbe4c_0000_u128 + k as u128)
}

pub fn secret_name(i: usize) -> String {
    format!("BENCH_{i:03}")
}

impl Want {
    /// `accounts` accounts of `per_account` secrets `BENCH_000…`, each a fresh value.
    pub fn fresh(project: &mut Project, accounts: usize, per_account: usize) -> Want {
        Want {
            accounts: (0..accounts)
                .map(|k| WantAccount {
                    label: format!("a{k}"),
                    id: account_id(k),
                    secrets: (0..per_account)
                        .map(|i| (secret_name(i), project.new_value()))
                        .collect(),
                })
                .collect(),
        }
    }

    /// The same with a new value for every secret of every account.
    pub fn rotate_all(&self, project: &mut Project) -> Want {
        let mut next = self.clone();
        for account in &mut next.accounts {
            for value in account.secrets.values_mut() {
                *value = project.new_value();
            }
        }
        next
    }
}

/// How one child run went.
pub struct ChildRun {
    pub code: Option<i32>,
    /// From spawning to exit, measured by the parent.
    pub wall: Duration,
    /// VmHWM of the child, KiB.
    pub peak_kib: Option<u64>,
    /// User + system CPU of the child.
    pub cpu: Option<Duration>,
}

/// Extra settings of a child run.
#[derive(Default)]
pub struct ChildOptions {
    /// Written to the child's stdin.
    pub stdin: Option<Value>,
    /// Pinned to CPU 0 with `taskset -c 0`, so it sees one core.
    pub one_core: bool,
    /// More environment.
    pub env: Vec<(&'static str, String)>,
}

/// The project, and everything the leak check needs.
pub struct Project {
    pub dir: tempfile::TempDir,
    identity: Zeroizing<String>,
    recipients: Recipients,
    /// Every plaintext this run made, for the leak check.
    plaintexts: Vec<Value>,
    /// Every captured output of every child run.
    outputs: Vec<String>,
    /// This binary: run again, it is cfsecrets.
    exe: PathBuf,
    runs: usize,
}

impl Project {
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let ids = Identities::generate();
        let identity = ids.to_file_text("benchmark run");
        let public = ids.to_recipients();
        let recipients = Recipients::from_strings(&public)?;
        std::fs::write(
            dir.path().join(".age-recipients"),
            format!("# benchmark\n{}\n", public.join("\n")),
        )
        .context("cannot write .age-recipients")?;
        let key = FingerprintKey::generate();
        write_atomic(
            &dir.path().join("keys/fingerprint.age"),
            &key.seal(&recipients)?,
            WriteOptions::replace(),
        )?;
        std::fs::create_dir_all(dir.path().join(".bench"))?;
        Ok(Self {
            dir,
            identity,
            recipients,
            plaintexts: Vec::new(),
            outputs: Vec::new(),
            exe: std::env::current_exe().context("cannot find this binary")?,
            runs: 0,
        })
    }

    /// The project's identity (for in-process measurements; never printed).
    pub fn identities(&self) -> anyhow::Result<Identities> {
        Ok(Identities::parse(&self.identity, "the benchmark identity")?)
    }

    pub fn manifest(&self) -> PathBuf {
        self.dir.path().join("cfsecrets.yaml")
    }

    /// A fresh random plaintext, remembered for the leak check.
    pub fn new_value(&mut self) -> Value {
        let mut random = [0u8; 16];
        rand::rng().fill_bytes(&mut random);
        let value = Arc::new(Zeroizing::new(format!(
            "bench-value-{}",
            hex::encode(random)
        )));
        self.plaintexts.push(value.clone());
        value
    }

    fn value_path(label: &str, name: &str) -> String {
        format!("values/{label}/{name}.age")
    }

    /// Seals each value of `want` that `before` does not hold already, and writes the
    /// manifest declaring exactly `want` (`prune: owned`, so what leaves it is deleted).
    /// Returns how long sealing took.
    pub fn declare(&mut self, want: &Want, before: Option<&Want>) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut manifest = String::from(
            "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n\
             defaults:\n  scopes: [workers]\naccounts:\n",
        );
        for (k, account) in want.accounts.iter().enumerate() {
            manifest.push_str(&format!(
                "  {}:\n    account_id: {}\n    stores:\n      {STORE}:\n        prune: owned\n        secrets:\n",
                account.label, account.id
            ));
            let old = before.and_then(|b| b.accounts.get(k));
            for (name, value) in &account.secrets {
                let path = Self::value_path(&account.label, name);
                let same = old
                    .and_then(|o| o.secrets.get(name))
                    .is_some_and(|v| Arc::ptr_eq(v, value));
                if !same {
                    let sealed = seal(value.as_bytes(), &self.recipients)?;
                    // A plain write: a throw-away project needs no atomic, synced one.
                    let file = self.dir.path().join(&path);
                    if let Some(parent) = file.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&file, sealed).context("cannot write a sealed value")?;
                }
                manifest.push_str(&format!(
                    "          {name}: {{ value: {path}, comment: bench }}\n"
                ));
            }
        }
        let sealing = started.elapsed();
        std::fs::write(self.manifest(), manifest).context("cannot write the manifest")?;
        Ok(sealing)
    }

    /// Runs cfsecrets (`-f MANIFEST`, then `args`) as a child process and waits for it.
    pub async fn cli(&mut self, args: &[&str]) -> anyhow::Result<ChildRun> {
        self.child(args, ChildOptions::default()).await
    }

    /// Runs cfsecrets with `-f MANIFEST` and `args`, as `options` say.
    pub async fn child(
        &mut self,
        args: &[&str],
        options: ChildOptions,
    ) -> anyhow::Result<ChildRun> {
        let mut all = vec!["-f".to_string(), self.manifest().display().to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        self.spawn(&all, options).await
    }

    /// Runs this binary as cfsecrets with exactly `args`.
    pub async fn spawn(
        &mut self,
        args: &[String],
        options: ChildOptions,
    ) -> anyhow::Result<ChildRun> {
        self.runs += 1;
        let report = self.dir.path().join(format!(".bench/report-{}", self.runs));
        let mut cmd = if options.one_core {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg("0").arg(&self.exe);
            cmd
        } else {
            Command::new(&self.exe)
        };
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("CFSECRETS_AGE_KEY", self.identity.as_str())
            .env(REPORT_ENV, &report)
            .current_dir(self.dir.path())
            .stdin(if options.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &options.env {
            cmd.env(key, value);
        }
        let stdin = options.stdin.clone();
        let (output, wall) = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut child = cmd.spawn()?;
            if let (Some(value), Some(mut pipe)) = (stdin, child.stdin.take()) {
                pipe.write_all(value.as_bytes())?;
            }
            let output = child.wait_with_output()?;
            Ok::<_, std::io::Error>((output, started.elapsed()))
        })
        .await?
        .context("cannot run the cfsecrets child process")?;
        self.outputs.push(format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let _ = std::fs::remove_file(&report);
        let report: BTreeMap<&str, u64> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
            .collect();
        Ok(ChildRun {
            code: output.status.code(),
            wall,
            peak_kib: report.get("peak_kib").copied(),
            cpu: report.get("cpu_ms").copied().map(Duration::from_millis),
        })
    }

    /// Fails unless `run` exited with `code`, showing the last lines of its output (which
    /// never hold a value: the leak check looks at all of them).
    pub fn expect(&self, run: &ChildRun, code: i32, what: &str) -> anyhow::Result<()> {
        let last = self.outputs.last().map(String::as_str).unwrap_or("");
        let lines: Vec<&str> = last.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n");
        ensure!(
            run.code == Some(code),
            "{what} exited {:?}, expected {code}:\n{tail}",
            run.code
        );
        Ok(())
    }

    /// Fails if any captured output contains a plaintext or the identity; returns how many
    /// values and outputs were checked.
    pub fn check_no_leak(&self) -> anyhow::Result<(usize, usize)> {
        let secret_key = self
            .identity
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .context("the generated identity has no key line")?;
        for output in &self.outputs {
            ensure!(
                !output.contains(secret_key),
                "the identity appeared in command output"
            );
            for value in &self.plaintexts {
                ensure!(
                    !output.contains(value.as_str()),
                    "a secret value appeared in command output"
                );
            }
        }
        Ok((self.plaintexts.len(), self.outputs.len()))
    }
}
