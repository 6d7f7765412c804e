//! Every write to stdout and stderr goes through [`Output`]: colour, TTY and CI detection,
//! diagnostics and progress live here, so that no other room prints.
//!
//! Colour is used only when the stream is a terminal and `NO_COLOR` is unset (or empty).

use std::io::{self, IsTerminal, Write};

/// Where and how to print.
pub struct Output {
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
    stdout_tty: bool,
    stderr_tty: bool,
    color: bool,
    quiet: bool,
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
}

// The count words moved to the pure `text` leaf; this re-export serves callers that still
// name them here (the applier and two commands being restructured in other branches).
pub use crate::text::count;

/// Whether the process runs under CI (the `CI` variable set to anything but `false`/`0`).
pub fn running_in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false)
}

fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Output {
    /// The process's real stdout and stderr.
    pub fn stdio(quiet: bool) -> Self {
        let stdout_tty = io::stdout().is_terminal();
        let stderr_tty = io::stderr().is_terminal();
        Self {
            stdout: Box::new(io::stdout()),
            stderr: Box::new(io::stderr()),
            stdout_tty,
            stderr_tty,
            color: stdout_tty && !no_color_requested(),
            quiet,
        }
    }

    /// Captures into two buffers (for tests); never coloured, never a TTY.
    pub fn capture(stdout: Box<dyn Write + Send>, stderr: Box<dyn Write + Send>) -> Self {
        Self {
            stdout,
            stderr,
            stdout_tty: false,
            stderr_tty: false,
            color: false,
            quiet: false,
        }
    }

    pub fn palette(&self) -> Palette {
        if self.color {
            Palette::ANSI
        } else {
            Palette::PLAIN
        }
    }

    pub fn stdout_is_tty(&self) -> bool {
        self.stdout_tty
    }

    pub fn stderr_is_tty(&self) -> bool {
        self.stderr_tty
    }

    /// Whether an interactive prompt may be shown (stdin and stderr are terminals).
    pub fn can_prompt(&self) -> bool {
        self.stderr_tty && io::stdin().is_terminal()
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
        let p = if self.stderr_tty && !no_color_requested() {
            Palette::ANSI
        } else {
            Palette::PLAIN
        };
        writeln!(self.stderr, "{}warning{}: {text}", p.yellow, p.reset)
    }

    /// `error: …` followed by `Caused by:` lines, cargo style.
    pub fn error(&mut self, err: &anyhow::Error) -> io::Result<()> {
        let p = if self.stderr_tty && !no_color_requested() {
            Palette::ANSI
        } else {
            Palette::PLAIN
        };
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

    /// A progress bar on a TTY stderr, or `None` (callers then print one line per item).
    pub fn progress(&self, len: u64, message: &str) -> Option<indicatif::ProgressBar> {
        if self.quiet || !self.stderr_tty {
            return None;
        }
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        Some(bar)
    }
}
