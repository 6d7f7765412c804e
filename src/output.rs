//! Every write to stdout and stderr, and every read of stdin, goes through [`Output`]:
//! colour, terminal detection, diagnostics, the progress bar and the prompts live here, so
//! that no other room prints or reads the terminal.
//!
//! Colour is used only when the stream is a terminal and `NO_COLOR` is unset (or empty), as
//! the run's [`Env`] says.

use std::io::{self, BufRead as _, IsTerminal, Read as _, Write};
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::env::Env;

/// Where and how to print, and where input comes from.
pub struct Output {
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
    stderr_tty: bool,
    /// Colour on stdout (rendered plans).
    color: bool,
    /// Colour on stderr (`warning:` and `error:`).
    stderr_color: bool,
    quiet: bool,
    /// Whether stdin is the process's own; a captured output reads an empty stdin.
    stdin: bool,
}

/// ANSI styles used by renderers; empty strings when colour is off.
#[derive(Clone, Copy, Debug)]
pub struct Palette {
    pub red: &'static str,
    pub green: &'static str,
    pub yellow: &'static str,
    pub cyan: &'static str,
    pub bold: &'static str,
    pub dim: &'static str,
    pub reset: &'static str,
}

impl Palette {
    pub const PLAIN: Palette = Palette {
        red: "",
        green: "",
        yellow: "",
        cyan: "",
        bold: "",
        dim: "",
        reset: "",
    };
    pub const ANSI: Palette = Palette {
        red: "\x1b[31m",
        green: "\x1b[32m",
        yellow: "\x1b[33m",
        cyan: "\x1b[36m",
        bold: "\x1b[1m",
        dim: "\x1b[2m",
        reset: "\x1b[0m",
    };

    fn when(color: bool) -> Palette {
        if color { Palette::ANSI } else { Palette::PLAIN }
    }
}

impl Output {
    /// The process's real stdout, stderr and stdin; `env` says whether `NO_COLOR` is set.
    pub fn stdio(quiet: bool, env: &Env) -> Self {
        let stdout_tty = io::stdout().is_terminal();
        let stderr_tty = io::stderr().is_terminal();
        let no_color = env.get("NO_COLOR").is_some();
        Self {
            stdout: Box::new(io::stdout()),
            stderr: Box::new(io::stderr()),
            stderr_tty,
            color: stdout_tty && !no_color,
            stderr_color: stderr_tty && !no_color,
            quiet,
            stdin: true,
        }
    }

    /// Captures into two buffers (for tests and embeddings); never coloured, never a
    /// terminal, and stdin reads as empty.
    pub fn capture(stdout: Box<dyn Write + Send>, stderr: Box<dyn Write + Send>) -> Self {
        Self {
            stdout,
            stderr,
            stderr_tty: false,
            color: false,
            stderr_color: false,
            quiet: false,
            stdin: false,
        }
    }

    pub fn palette(&self) -> Palette {
        Palette::when(self.color)
    }

    /// Whether stdout is coloured (a terminal, and `NO_COLOR` unset).
    pub fn stdout_color(&self) -> bool {
        self.color
    }

    /// Whether stderr is coloured (a terminal, and `NO_COLOR` unset).
    pub fn stderr_color(&self) -> bool {
        self.stderr_color
    }

    /// Whether stdin is a terminal (a person typing, not a pipe).
    pub fn stdin_is_terminal(&self) -> bool {
        self.stdin && io::stdin().is_terminal()
    }

    /// Whether an interactive prompt may be shown (stdin and stderr are terminals).
    pub fn can_prompt(&self) -> bool {
        self.stderr_tty && self.stdin_is_terminal()
    }

    /// Primary output (a rendered plan, a schema, a summary line) on stdout.
    pub fn print(&mut self, text: &str) -> io::Result<()> {
        self.stdout.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            self.stdout.write_all(b"\n")?;
        }
        self.stdout.flush()
    }

    /// A status line on stderr (`note: …`-style progress); suppressed by `--quiet`.
    pub fn status(&mut self, text: &str) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        writeln!(self.stderr, "{text}")
    }

    /// `warning: …` on stderr.
    pub fn warn(&mut self, text: &str) -> io::Result<()> {
        let p = Palette::when(self.stderr_color);
        writeln!(self.stderr, "{}warning{}: {text}", p.yellow, p.reset)
    }

    /// `error: …` followed by `Caused by:` lines, cargo style.
    pub fn error(&mut self, err: &anyhow::Error) -> io::Result<()> {
        let p = Palette::when(self.stderr_color);
        writeln!(self.stderr, "{}error{}: {err}", p.red, p.reset)?;
        let mut causes = err.chain().skip(1).peekable();
        if causes.peek().is_some() {
            writeln!(self.stderr, "\nCaused by:")?;
            for cause in causes {
                writeln!(self.stderr, "  {cause}")?;
            }
        }
        Ok(())
    }

    /// Raw stderr text (diagnostics already formatted by the caller).
    pub fn eprint(&mut self, text: &str) -> io::Result<()> {
        self.stderr.write_all(text.as_bytes())?;
        self.stderr.flush()
    }

    /// Asks `question` on stderr and reads one line of the answer from stdin (without its
    /// line ending). Call only when [`Output::can_prompt`].
    pub fn prompt(&mut self, question: &str) -> io::Result<String> {
        self.eprint(question)?;
        let mut answer = String::new();
        if self.stdin {
            io::stdin().lock().read_line(&mut answer)?;
        }
        Ok(answer.trim_end_matches(['\n', '\r']).to_string())
    }

    /// Asks `question` on the terminal and reads the answer without echoing it. Call only
    /// when [`Output::can_prompt`].
    pub fn prompt_hidden(&mut self, question: &str) -> io::Result<Zeroizing<String>> {
        if !self.stdin {
            return Ok(Zeroizing::new(String::new()));
        }
        rpassword::prompt_password(question).map(Zeroizing::new)
    }

    /// Reads stdin to its end when it holds at most `limit` bytes; `None` when it holds more
    /// (told by reading one byte past the limit, never all of it).
    pub fn read_stdin(&mut self, limit: u64) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
        let mut bytes = Zeroizing::new(Vec::new());
        if self.stdin {
            io::stdin()
                .lock()
                .take(limit.saturating_add(1))
                .read_to_end(&mut bytes)?;
        }
        Ok((bytes.len() as u64 <= limit).then_some(bytes))
    }

    /// Progress over `len` items: a bar on a terminal stderr (unless `--quiet`), else one
    /// status line per item. Lines printed through it while it runs stay above the bar.
    pub fn progress(&mut self, len: u64, message: &str) -> Progress<'_> {
        let bar = (!self.quiet && self.stderr_tty).then(|| {
            let bar = indicatif::ProgressBar::new(len);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(message.to_string());
            bar
        });
        Progress {
            out: Mutex::new(self),
            bar,
        }
    }
}

/// Progress shown while work runs concurrently: every method takes `&self`, so tasks running
/// at once can report through one shared reference. Clears its bar when dropped.
pub struct Progress<'o> {
    out: Mutex<&'o mut Output>,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress<'_> {
    /// One item finished. A bar counts it; without a bar, `line` says which.
    pub fn advance(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => self.note(line),
        }
    }

    /// One item finished with a line always worth reading (a failure): printed above the bar.
    pub fn advance_noting(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.note(line);
    }

    /// A status line, above the bar when there is one (suppressed by `--quiet`). A failed
    /// write to stderr is dropped: progress is not worth stopping the work for.
    pub fn note(&self, line: &str) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = match &self.bar {
            Some(bar) => bar.suspend(|| out.status(line)),
            None => out.status(line),
        };
    }
}

impl Drop for Progress<'_> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
