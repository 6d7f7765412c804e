//! The fakes behind the stub on `PATH` (`tests/ci_stubs/stub`, installed as `gh`, `curl` and
//! `cargo`): a loopback server that receives each call (name, working directory, environment,
//! standard input, arguments), answers it from an in-memory GitHub (issues, comments, labels)
//! or GitLab (merge-request notes), and records it.
//!
//! The fakes accept only the commands and flags the example workflows use, each with the
//! behaviour of the real tool; anything else fails the call loudly (exit 2 for `curl`, 1 for
//! `gh`, 101 for `cargo`), so that a workflow edited to use something they do not know fails
//! its test instead of passing against a guess. `gh --jq` runs the filters of [`JQ_FILTERS`]
//! (checked against the real `jq` by a test).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// One call of a stub, as recorded.
#[derive(Debug, Clone)]
pub struct Call {
    pub tool: String,
    pub args: Vec<String>,
}

/// What a stub prints and exits with.
struct Answer {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Answer {
    fn ok(stdout: impl Into<String>) -> Self {
        Self {
            code: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    fn fail(code: i32, stderr: impl Into<String>) -> Self {
        Self {
            code,
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }
}

/// A stub's call as the fake sees it.
struct Request {
    tool: String,
    cwd: PathBuf,
    env: BTreeMap<String, String>,
    stdin: Vec<u8>,
    args: Vec<String>,
}

impl Request {
    /// Reads `path` as the tool would: relative to its working directory, `-` for stdin.
    fn read_file(&self, path: &str) -> Result<String, String> {
        if path == "-" {
            return Ok(String::from_utf8_lossy(&self.stdin).into_owned());
        }
        std::fs::read_to_string(self.cwd.join(path)).map_err(|e| format!("open {path}: {e}"))
    }
}

mod github;
mod gitlab;

pub use github::{ACTIONS_BOT, GhToken, GitHub, Issue, JQ_FILTERS};
pub use gitlab::{GITLAB_API, GitLab, GlUser, Note};

// ── State and server ──────────────────────────────────────────────────────────────────────

#[derive(Default)]
pub struct State {
    pub calls: Vec<Call>,
    pub github: GitHub,
    pub gitlab: GitLab,
}

impl State {
    /// The recorded calls of `tool`.
    pub fn calls_of(&self, tool: &str) -> Vec<Vec<String>> {
        self.calls
            .iter()
            .filter(|c| c.tool == tool)
            .map(|c| c.args.clone())
            .collect()
    }
}

/// The fake server: one thread answering the stubs on 127.0.0.1.
pub struct Fake {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the CI fake");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &state);
                    }
                }
            })
        };
        Self {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one call, answers it. A malformed call gets no answer (the stub then fails).
fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(&stream);
    let mut field = || -> Option<String> {
        let mut buf = Vec::new();
        reader.read_until(0, &mut buf).ok()?;
        (buf.pop() == Some(0)).then(|| String::from_utf8_lossy(&buf).into_owned())
    };
    let (Some(tool), Some(cwd), Some(dir), Some(argc)) = (field(), field(), field(), field())
    else {
        return;
    };
    let Ok(argc) = argc.parse::<usize>() else {
        return;
    };
    let mut args = Vec::with_capacity(argc);
    for _ in 0..argc {
        match field() {
            Some(a) => args.push(a),
            None => return,
        }
    }
    let dir = PathBuf::from(dir);
    let env = std::fs::read(dir.join("env"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let request = Request {
        tool,
        cwd: PathBuf::from(cwd),
        env,
        stdin: std::fs::read(dir.join("stdin")).unwrap_or_default(),
        args,
    };
    let answer = {
        let mut state = state.lock().unwrap();
        state.calls.push(Call {
            tool: request.tool.clone(),
            args: request.args.clone(),
        });
        match request.tool.as_str() {
            "gh" => github::gh(&request, &mut state.github),
            "curl" => gitlab::curl(&request, &mut state.gitlab),
            "cargo" => cargo(&request),
            other => Answer::fail(127, format!("{other}: the CI fake does not know this tool")),
        }
    };
    let stderr = answer.stderr.trim_end().replace('\n', "; ");
    let mut stream = &stream;
    let _ = write!(stream, "{}\n{stderr}\n{}", answer.code, answer.stdout);
    let _ = stream.flush();
}

// ── Flags ─────────────────────────────────────────────────────────────────────────────────

/// Parsed arguments: positionals, and each flag's values (booleans get one empty value).
#[derive(Debug, Default)]
struct Parsed {
    positional: Vec<String>,
    flags: BTreeMap<&'static str, Vec<String>>,
}

impl Parsed {
    fn one(&self, flag: &str) -> Option<&str> {
        self.flags
            .get(flag)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.contains_key(flag)
    }

    fn all(&self, flag: &str) -> Vec<String> {
        self.flags.get(flag).cloned().unwrap_or_default()
    }
}

/// A flag the fake knows: long name, short letter, whether it takes a value.
type Spec = (&'static str, Option<char>, bool);

/// Parses `args` against `spec`; unknown flags are an error naming the flag. Short boolean
/// flags may be bundled (`-sSf`); `--flag=value` is accepted.
fn parse(args: &[String], spec: &[Spec]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(&(flag, _, takes)) = spec.iter().find(|s| s.0 == name) else {
                return Err(format!("unknown flag: --{name}"));
            };
            let value = if takes {
                match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i - 1)
                            .cloned()
                            .ok_or(format!("flag needs an argument: --{name}"))?
                    }
                }
            } else {
                String::new()
            };
            parsed.flags.entry(flag).or_default().push(value);
        } else if arg.len() > 1 && arg.starts_with('-') {
            let letters: Vec<char> = arg[1..].chars().collect();
            for (k, c) in letters.iter().enumerate() {
                let Some(&(flag, _, takes)) = spec.iter().find(|s| s.1 == Some(*c)) else {
                    return Err(format!("unknown shorthand flag: '{c}' in {arg}"));
                };
                if takes {
                    let rest: String = letters[k + 1..].iter().collect();
                    let value = if rest.is_empty() {
                        i += 1;
                        args.get(i - 1)
                            .cloned()
                            .ok_or(format!("flag needs an argument: -{c}"))?
                    } else {
                        rest
                    };
                    parsed.flags.entry(flag).or_default().push(value);
                    break;
                }
                parsed.flags.entry(flag).or_default().push(String::new());
            }
        } else {
            parsed.positional.push(arg.clone());
        }
    }
    Ok(parsed)
}

// ── cargo ─────────────────────────────────────────────────────────────────────────────────

/// `cargo install [--locked] cfsecrets`: the binary under test is already on PATH.
fn cargo(req: &Request) -> Answer {
    let args: Vec<&str> = req.args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["install", rest @ ..]
            if rest
                .iter()
                .filter(|a| !a.starts_with('-'))
                .eq(["cfsecrets"].iter()) =>
        {
            if let Some(flag) = rest
                .iter()
                .find(|a| a.starts_with('-') && **a != "--locked")
            {
                return Answer::fail(101, format!("error: the cargo stub does not know {flag}"));
            }
            Answer {
                code: 0,
                stdout: String::new(),
                stderr: "  Installed package `cfsecrets` (the binary under test, already on PATH)"
                    .into(),
            }
        }
        _ => Answer::fail(
            101,
            format!(
                "error: the cargo stub only installs cfsecrets, not `cargo {}`",
                args.join(" ")
            ),
        ),
    }
}
