//! What both CI runners share: the machine a job runs on (a `PATH` with the stubs and the
//! binary under test, a fresh workspace checked out from the test's project, a temp dir), the
//! fake behind the stubs, and a shell that runs a job's script with a time limit.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::fake::Fake;
use crate::support::{Emu, Project};

/// The longest a step may run before the harness kills it (a step here takes milliseconds).
const STEP_LIMIT: Duration = Duration::from_secs(60);

/// The CI "machine" for one test.
pub struct Ci {
    dir: tempfile::TempDir,
    pub fake: Fake,
    /// The repository a job checks out: the test's project directory.
    repo: PathBuf,
    /// The emulator's base URL, given to every job as CLOUDFLARE_API_BASE_URL (as a runner's
    /// own environment would aim cfsecrets at an API); `None` for a workflow that starts its
    /// own emulator.
    api_url: Option<String>,
    /// The identity file, never checked out (it is not in git).
    identity: PathBuf,
    /// Everything every step printed (and wrote to a job summary), for the no-leak check.
    pub logs: Mutex<Vec<String>>,
    runs: Mutex<u64>,
}

/// One finished shell.
#[derive(Debug, Clone)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ci {
    /// A machine whose jobs check out `project` and talk to `emu` (if any).
    pub fn new(project: &Project, emu: Option<&Emu>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let stub = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ci_stubs/stub");
        for tool in ["gh", "curl", "cargo"] {
            let to = bin.join(tool);
            std::fs::copy(&stub, &to).unwrap();
            make_executable(&to);
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cfsecrets"), bin.join("cfsecrets")).unwrap();
        Self {
            dir,
            fake: Fake::start(),
            repo: project.root().to_path_buf(),
            api_url: emu.map(Emu::base_url),
            identity: project.identity.clone(),
            logs: Mutex::new(Vec::new()),
            runs: Mutex::new(0),
        }
    }

    /// A new run number and its directory.
    pub fn next_run(&self) -> (u64, PathBuf) {
        let mut runs = self.runs.lock().unwrap();
        *runs += 1;
        let dir = self.dir.path().join(format!("run-{}", *runs));
        std::fs::create_dir_all(&dir).unwrap();
        (*runs, dir)
    }

    /// The identity's text, as a CI secret holds it.
    pub fn identity_text(&self) -> String {
        std::fs::read_to_string(&self.identity).unwrap()
    }

    /// Copies the repository into `dest` (a fresh checkout: no identity, nothing a job left).
    pub fn checkout(&self, dest: &Path) {
        copy_tree(&self.repo, dest, &|p| p == self.identity);
    }

    /// The environment every job starts from: the stubs and cfsecrets first on PATH, its own
    /// HOME and TMPDIR, the fake's port, and the API the tests aim at.
    pub fn machine_env(&self, home: &Path, tmp: &Path) -> BTreeMap<String, String> {
        let system_path = std::env::var("PATH").unwrap_or_default();
        let mut env = BTreeMap::new();
        let bin = self.dir.path().join("bin");
        env.insert("PATH".into(), format!("{}:{system_path}", bin.display()));
        env.insert("HOME".into(), home.display().to_string());
        env.insert("TMPDIR".into(), tmp.display().to_string());
        env.insert("LANG".into(), "C.UTF-8".into());
        env.insert("NO_COLOR".into(), "1".into());
        env.insert(
            "CFSECRETS_CI_FAKE_PORT".into(),
            self.fake.port().to_string(),
        );
        env.insert("CFSECRETS_RETRY_BASE_MS".into(), "1".into());
        if let Some(url) = &self.api_url {
            env.insert("CLOUDFLARE_API_BASE_URL".into(), url.clone());
        }
        env
    }

    /// Runs `argv` (a shell and its script) in `cwd` with exactly `env`, in its own process
    /// group (whose id is pushed on `groups`, so the job can end what the step left in the
    /// background), standard input empty, output into files under `out`.
    pub fn shell(
        &self,
        argv: &[String],
        cwd: &Path,
        env: &BTreeMap<String, String>,
        out: &Path,
        groups: &mut Vec<u32>,
    ) -> Ran {
        std::fs::create_dir_all(out).unwrap();
        let stdout_path = out.join("stdout");
        let stderr_path = out.join("stderr");
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(cwd)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .process_group(0)
            .spawn()
            .expect("start bash");
        groups.push(child.id());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > STEP_LIMIT {
                end_groups(&[child.id()]);
                let _ = child.wait();
                panic!("a step ran for over {STEP_LIMIT:?}: {argv:?}");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let ran = Ran {
            code: status.code(),
            stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
        };
        self.logs
            .lock()
            .unwrap()
            .push(format!("{}\n{}", ran.stdout, ran.stderr));
        ran
    }
}

/// Kills what is left of the process groups a job's steps started (a background process such
/// as the dry run's emulator, when its stop step did not run). Each id is a group this
/// harness created.
pub fn end_groups(groups: &[u32]) {
    for pgid in groups {
        let _ = Command::new("bash")
            .args([
                "-c",
                "kill -KILL -- \"-$1\" 2>/dev/null",
                "end",
                &pgid.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Copies the tree at `from` into `to` (created), skipping paths for which `skip` holds.
pub fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if skip(&path) {
            continue;
        }
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&path, &dest, skip);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// Whether `path` (relative, `/`-separated) matches `pattern`: `*` and `?` within one path
/// segment, `**` for any number of segments (the part of GitHub's `paths:` and GitLab's
/// `changes:` globs the examples use).
pub fn glob(pattern: &str, path: &str) -> bool {
    fn segs(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|k| segs(rest, &s[k..])),
            Some((first, rest)) => {
                !s.is_empty() && seg(first.as_bytes(), s[0].as_bytes()) && segs(rest, &s[1..])
            }
        }
    }
    fn seg(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|k| seg(rest, &s[k..])),
            Some((b'?', rest)) => !s.is_empty() && seg(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && seg(rest, &s[1..]),
        }
    }
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    segs(&p, &s)
}

/// Parses a file of `NAME=value` lines and `NAME<<DELIMITER` … `DELIMITER` blocks, as
/// `$GITHUB_OUTPUT` and `$GITHUB_ENV` are written.
pub fn key_values(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_string(), value.to_string()));
        } else if !line.trim().is_empty() {
            panic!("a line that is neither NAME=value nor NAME<<EOF: {line:?}");
        }
    }
    out
}

#[test]
fn globs_match_as_ci_paths_do() {
    assert!(glob("values/**", "values/a/b.age"));
    assert!(glob("values/**/*", "values/x.age"));
    assert!(glob("values/**/*", "values/p/s/x.age"));
    assert!(glob(".age-recipients", ".age-recipients"));
    assert!(glob("cfsecrets.yaml", "cfsecrets.yaml"));
    assert!(!glob("cfsecrets.yaml", "docs/cfsecrets.yaml"));
    assert!(!glob("values/**/*", "README.md"));
    assert!(glob("keys/*.age", "keys/fingerprint.age"));
    assert_eq!(
        key_values("a=1\nb<<EOF\nx\ny\nEOF\nc=\n"),
        [
            ("a".into(), "1".into()),
            ("b".into(), "x\ny".into()),
            ("c".into(), String::new())
        ]
    );
}
