//! `cfsecrets local`: filling `wrangler dev`'s local Secrets Store by running wrangler itself.
//!
//! `wrangler secrets-store secret create STORE_ID --name NAME --scopes workers` without
//! `--remote` writes the secret into the local store under `.wrangler/state` beside the
//! config (in plain text), replacing one of the same name; it reads the value from stdin when
//! stdin is not a terminal. The value goes there and nowhere else: never on the command line
//! (other users can read it in `ps`) nor in the environment.
//!
//! * [`find_program`] — which wrangler to run: the one given, else `wrangler` on `PATH`, else
//!   `npx --no-install wrangler` (a project-local install, never a download).
//! * [`create_args`] — the arguments of one create.
//! * [`run_with_stdin`] — runs it with the value on stdin and its output captured, within a
//!   time limit (the one function here that starts a process).
//! * [`shown_stderr`] — what of wrangler's stderr may be shown when it fails: never a value
//!   or a credential, even if wrangler echoes one (whole, JSON-escaped, in another case or
//!   cut short).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How wrangler is started: a program and the arguments that come before wrangler's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub program: PathBuf,
    pub prefix: Vec<OsString>,
}

impl Program {
    /// How the program is named in messages: `wrangler`, `/opt/bin/wrangler`, `npx
    /// --no-install wrangler`.
    pub fn shown(&self) -> String {
        let mut words = vec![self.program.display().to_string()];
        words.extend(self.prefix.iter().map(|w| w.to_string_lossy().into_owned()));
        words.join(" ")
    }
}

/// Which wrangler to run: `given` (`--wrangler-bin` or `CFSECRETS_WRANGLER`), else the first
/// executable `wrangler` in `path` (the run's `PATH`), else `npx --no-install wrangler` when
/// `npx` is there. `None` when there is none of them.
pub fn find_program(given: Option<&Path>, path: Option<&str>) -> Option<Program> {
    if let Some(given) = given {
        return Some(Program {
            program: given.to_path_buf(),
            prefix: Vec::new(),
        });
    }
    let on_path = |name: &str| {
        std::env::split_paths(path?)
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
    };
    if let Some(wrangler) = on_path("wrangler") {
        return Some(Program {
            program: wrangler,
            prefix: Vec::new(),
        });
    }
    on_path("npx").map(|npx| Program {
        program: npx,
        prefix: vec!["--no-install".into(), "wrangler".into()],
    })
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// `secrets-store secret create STORE_ID --name NAME --scopes workers --config FILE [--env
/// ENV]`: never `--remote`, never the value.
pub fn create_args(
    store_id: &str,
    name: &str,
    config_file: &str,
    env: Option<&str>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "secrets-store",
        "secret",
        "create",
        store_id,
        "--name",
        name,
        "--scopes",
        "workers",
        "--config",
        config_file,
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    if let Some(env) = env {
        args.extend(["--env".into(), env.into()]);
    }
    args
}

/// Variables wrangler does not get: an age identity (the key itself, or its file) has no
/// business in another program's environment, and a local create needs no Cloudflare
/// credential (what wrangler never sees, it cannot echo).
pub const HIDDEN_ENV: [&str; 5] = [
    "CFSECRETS_AGE_KEY",
    "CFSECRETS_AGE_KEY_FILE",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
];

/// How a run of wrangler ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was stopped at the time limit.
    pub status: Option<ExitStatus>,
    pub stderr: Vec<u8>,
}

/// Runs `program` with `args` in `dir`, without [`HIDDEN_ENV`], writes `input` to its stdin
/// and closes it; captures stdout (discarded: wrangler's table is of no use here) and stderr.
/// Stops the process at `limit`.
pub fn run_with_stdin(
    program: &Program,
    args: &[OsString],
    dir: &Path,
    input: &[u8],
    limit: Duration,
) -> std::io::Result<Finished> {
    let mut command = Command::new(&program.program);
    for name in HIDDEN_ENV {
        command.env_remove(name);
    }
    let mut child = command
        .args(&program.prefix)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Each pipe is read on a thread of its own, so that neither can fill up and stall the
    // process; the reader hands over what it read when the pipe closes.
    let drain = |mut from: Box<dyn Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = from.read_to_end(&mut bytes);
            let _ = tx.send(bytes);
        });
        rx
    };
    let _stdout = child.stdout.take().map(|s| drain(Box::new(s)));
    let stderr = child.stderr.take().map(|s| drain(Box::new(s)));
    let started = Instant::now();
    if let Some(mut stdin) = child.stdin.take() {
        // Written on a thread of its own: a value larger than the pipe's buffer would block a
        // process that never reads it past the time limit. A process that exits without
        // reading is not an error here: its status says so. The copy is wiped when written.
        let input = zeroize::Zeroizing::new(input.to_vec());
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A process it started may still hold the pipe open: what arrives soon is taken, and the
    // reader is left behind otherwise.
    let stderr = stderr
        .and_then(|rx| rx.recv_timeout(Duration::from_secs(2)).ok())
        .unwrap_or_default();
    Ok(Finished { status, stderr })
}

/// The last lines of wrangler's stderr, fit to show: every stretch that matches one of
/// `secrets` (the values; for a value of several lines, also each of its lines of at least
/// 4 characters) removed by the rule that cleans a
/// server's messages ([`crate::text::redact_as`]: whole, cut short, JSON-escaped or re-cased;
/// short ones wherever they stand), colour codes and other control characters escaped, at
/// most `max_lines` lines.
pub fn shown_stderr(stderr: &[u8], secrets: &[&str], max_lines: usize) -> String {
    let mut needles: Vec<&str> = Vec::new();
    for secret in secrets {
        needles.push(secret);
        needles.extend(secret.lines().map(str::trim).filter(|l| l.len() >= 4));
    }
    let text = crate::text::redact_as(
        &String::from_utf8_lossy(stderr),
        &needles,
        "<redacted>",
        crate::text::Short::Anywhere,
    );
    let lines: Vec<String> = text
        .lines()
        .map(|l| crate::text::printable(l.trim_end()))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(max_lines);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_never_reads_its_input_is_stopped_at_the_limit() {
        // More than a pipe holds (64 KiB on Linux, 16 KiB on macOS): the write must not keep
        // the time limit from applying.
        let sleeper = Program {
            program: PathBuf::from("/bin/sleep"),
            prefix: Vec::new(),
        };
        let started = Instant::now();
        let finished = run_with_stdin(
            &sleeper,
            &["30".into()],
            Path::new("/"),
            &vec![b'x'; 1 << 20],
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(finished.status.is_none(), "{:?}", finished.status);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_create_arguments_never_carry_a_value_or_remote() {
        let args = create_args("abc123", "API_KEY", "wrangler.toml", Some("staging"));
        let words: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            words,
            [
                "secrets-store",
                "secret",
                "create",
                "abc123",
                "--name",
                "API_KEY",
                "--scopes",
                "workers",
                "--config",
                "wrangler.toml",
                "--env",
                "staging"
            ]
        );
        assert!(!words.contains(&"--remote"));
        assert_eq!(create_args("s", "N", "w.json", None).len(), 10);
    }

    #[test]
    fn wrangler_is_found_as_given_then_on_path_then_through_npx() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let path = bin.display().to_string();
        assert_eq!(find_program(None, Some(&path)), None);
        assert_eq!(find_program(None, None), None);
        let make = |name: &str, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            let p = bin.join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let npx = make("npx", 0o755);
        let found = find_program(None, Some(&path)).unwrap();
        assert_eq!(found.program, npx);
        assert_eq!(
            found.shown(),
            format!("{} --no-install wrangler", npx.display())
        );
        // A file that is not executable is not a program.
        make("wrangler", 0o644);
        assert_eq!(find_program(None, Some(&path)).unwrap().program, npx);
        let wrangler = make("wrangler", 0o755);
        assert_eq!(
            find_program(None, Some(&path)),
            Some(Program {
                program: wrangler,
                prefix: vec![]
            })
        );
        let given = Path::new("/opt/wrangler");
        assert_eq!(
            find_program(Some(given), Some(&path)).unwrap().shown(),
            "/opt/wrangler"
        );
    }

    #[test]
    fn stderr_is_shown_without_values_or_control_characters() {
        let stderr = b"starting\nerror: bad value sk_live_abc123 for API_KEY\n\x1b[31mline two of it\x1b[0m\n\
            {\"value\":\"say \\\"hi\\\" twice\"} SK_LIVE_ABC123 (sk_live_ab\xe2\x80\xa6)\n\n";
        let values = [
            "sk_live_abc123",
            "line one\nline two of it",
            "say \"hi\" twice",
        ];
        let shown = shown_stderr(stderr, &values, 10);
        assert_eq!(
            shown,
            "starting\nerror: bad value <redacted> for API_KEY\n\\u{1b}[31m<redacted>\\u{1b}[0m\n\
             {\"value\":\"<redacted>\"} <redacted> (<redacted>…)"
        );
        assert_eq!(shown_stderr(b"a\nb\nc\n", &[], 2), "b\nc");
        // Cut short and in another case, as a program may echo it: still removed.
        let echoed = b"error: value 'SK_LIVE_ABC1' is too long";
        assert_eq!(
            shown_stderr(echoed, &["sk_live_abc123"], 10),
            "error: value '<redacted>' is too long"
        );
    }

    #[test]
    fn the_value_arrives_on_stdin_and_a_hang_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let sh = Program {
            program: PathBuf::from("sh"),
            prefix: vec!["-c".into()],
        };
        let copy = ["cat > got; echo oops >&2; exit 3".into()];
        let done =
            run_with_stdin(&sh, &copy, dir.path(), b"v4lue", Duration::from_secs(20)).unwrap();
        assert_eq!(done.status.unwrap().code(), Some(3));
        assert_eq!(done.stderr, b"oops\n");
        assert_eq!(std::fs::read(dir.path().join("got")).unwrap(), b"v4lue");
        let hang = ["sleep 30".into()];
        let started = Instant::now();
        let done = run_with_stdin(&sh, &hang, dir.path(), b"", Duration::from_millis(200)).unwrap();
        assert!(done.status.is_none());
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
