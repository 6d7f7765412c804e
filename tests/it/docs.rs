//! What users read cannot drift silently from what the binary does.
//!
//! * Every `cfsecrets …` command line in README.md — in fenced and indented code blocks, and in
//!   inline code that starts with `cfsecrets ` — names subcommands and flags that the real
//!   binary's `--help` lists. The same checker serves the CI workflow chapter (`ci`).
//! * Every README block that shows something to run (a `cfsecrets` command, a shell block, a
//!   terminal session) is claimed by a test that runs it: the tests name the heading they take
//!   blocks from in a literal, and `every_readme_command_is_run_by_a_test` reads those.
//! * Every intra-document link (`#anchor`) resolves to a heading, every relative link to a file.
//! * Every file in `tests/it/snapshots/` belongs to a snapshot some test asserts, every asserted
//!   snapshot has its file, and no pending `.snap.new` file is left behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// The command-line surface, read from `--help`.

/// What one `--help` page lists: subcommands, and flags with whether they take a value.
#[derive(Debug, Default)]
struct HelpPage {
    commands: BTreeSet<String>,
    flags: BTreeMap<String, bool>,
}

fn help_text(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cfsecrets"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "cfsecrets {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Reads the `Commands:` and `Options:` sections of clap's help output.
fn parse_help(text: &str) -> HelpPage {
    let mut page = HelpPage::default();
    let mut section = "";
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line;
            continue;
        }
        let trimmed = line.trim_start();
        match section {
            "Commands:" if line.starts_with("  ") && !line.starts_with("   ") => {
                if let Some(word) = trimmed.split_whitespace().next() {
                    page.commands.insert(word.to_string());
                }
            }
            "Options:" if trimmed.starts_with('-') => {
                let words: Vec<&str> = trimmed.split_whitespace().collect();
                let mut names = Vec::new();
                let mut takes_value = false;
                for word in words {
                    let word = word.trim_end_matches(',');
                    if is_flag(word) {
                        names.push(word.to_string());
                    } else {
                        takes_value = word.starts_with('<');
                        break;
                    }
                }
                for name in names {
                    page.flags.insert(name, takes_value);
                }
            }
            _ => {}
        }
    }
    page
}

/// `-x` or `--long-name`: what a flag looks like (not `-`, not `--`, not `-1`).
fn is_flag(word: &str) -> bool {
    let name = word.strip_prefix("--").or_else(|| word.strip_prefix('-'));
    name.and_then(|n| n.chars().next())
        .is_some_and(|c| c.is_ascii_alphabetic())
}

/// The binary's whole surface: the top page and one page per (sub)subcommand path.
struct Surface {
    top: HelpPage,
    pages: BTreeMap<Vec<String>, HelpPage>,
}

fn surface() -> &'static Surface {
    static SURFACE: OnceLock<Surface> = OnceLock::new();
    SURFACE.get_or_init(|| {
        let top = parse_help(&help_text(&[]));
        let mut pages = BTreeMap::new();
        for sub in top.commands.iter().filter(|c| *c != "help") {
            let page = parse_help(&help_text(&[sub]));
            for nested in page.commands.iter().filter(|c| *c != "help") {
                let path = vec![sub.clone(), nested.clone()];
                pages.insert(path, parse_help(&help_text(&[sub, nested])));
            }
            pages.insert(vec![sub.clone()], page);
        }
        Surface { top, pages }
    })
}

/// Words that end the command: pipes, redirections, background, lists, comments.
fn ends_command(word: &str) -> bool {
    matches!(word, "|" | "||" | "&" | "&&" | ";" | "#")
        || word.starts_with('>')
        || word.starts_with("2>")
        || word.starts_with('#')
}

/// Checks one command line (`cfsecrets …`, already split into words) against `--help`.
/// Optional parts written `[--flag VALUE]` count as present.
pub(crate) fn check_command(words: &[String]) -> Result<(), String> {
    let surface = surface();
    let words: Vec<String> = words
        .iter()
        .take_while(|w| !ends_command(w))
        .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let line = words.join(" ");
    if words.first().map(String::as_str) != Some("cfsecrets") {
        return Err(format!("`{line}` does not start with cfsecrets"));
    }
    // Global flags may come before the subcommand.
    let mut i = 1;
    while let Some(word) = words.get(i).filter(|w| w.starts_with('-')) {
        let name = word.split('=').next().unwrap_or(word);
        match surface.top.flags.get(name) {
            None => return Err(format!("`{line}`: cfsecrets has no global flag {name}")),
            Some(takes_value) => {
                i += if *takes_value && !word.contains('=') {
                    2
                } else {
                    1
                }
            }
        }
    }
    let Some(sub) = words.get(i) else {
        return Err(format!("`{line}` names no subcommand"));
    };
    if !surface.top.commands.contains(sub) || sub == "help" {
        return Err(format!("`{line}`: cfsecrets has no subcommand {sub}"));
    }
    let mut path = vec![sub.clone()];
    let page = &surface.pages[&path];
    if !page.commands.is_empty() {
        let nested = words.get(i + 1).cloned().unwrap_or_default();
        if !page.commands.contains(&nested) || nested == "help" {
            return Err(format!(
                "`{line}`: `cfsecrets {sub}` has no subcommand `{nested}`"
            ));
        }
        path.push(nested);
        i += 1;
    }
    let page = &surface.pages[&path];
    for word in &words[i + 1..] {
        if is_flag(word) {
            let name = word.split('=').next().unwrap_or(word);
            if !page.flags.contains_key(name) {
                return Err(format!(
                    "`{line}`: `cfsecrets {}` has no flag {name}",
                    path.join(" ")
                ));
            }
        }
    }
    Ok(())
}

/// Splits a shell-like line into words, keeping quoted text together (quotes removed).
pub(crate) fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Every `cfsecrets …` command in one line of shell or YAML: at the start of the line, after a
/// prompt (`$`), a pipe or list operator, or a YAML `run:` key.
pub(crate) fn commands_in_line(line: &str) -> Vec<Vec<String>> {
    let words = shell_words(line);
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let at_command_position = i == 0
            || matches!(
                words[i - 1].as_str(),
                "$" | "|" | "||" | "&&" | ";" | "run:" | "-"
            );
        if word == "cfsecrets" && at_command_position {
            found.push(words[i..].to_vec());
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// README.md: its sections, and running what they show
//
// A test that runs README text takes it through one of three calls, always with the heading
// written out as a string literal: `readme_block` (the one block directly under the heading),
// `readme_section` (every block of its section, subsections included) or
// `run_readme_section` (runs them all). The literal is what
// `every_readme_command_is_run_by_a_test` reads to know which blocks some test claims, so a
// test that takes a section must run or check every block in it, and fail on a block it does
// not know how to handle.

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// One fenced code block of the README.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// The info string after the opening fence: `sh`, `text`, `toml workers/api/wrangler.toml`.
    pub info: String,
    /// The lines between the fences, without the fence's own indentation.
    pub body: String,
    /// The line of the opening fence, counted from 1.
    pub line: usize,
}

impl Block {
    /// Whether this is a terminal session: a `text` block whose lines start with `$ ` commands.
    pub fn is_session(&self) -> bool {
        self.info == "text" && self.body.lines().any(|l| l.starts_with("$ "))
    }
}

/// A README heading or a fenced block, in document order.
enum Item {
    Heading { level: usize, text: String },
    Block(Block),
}

/// The README as headings and fenced blocks, in order.
fn outline(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut open: Option<(usize, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                Some((_, block)) => items.push(Item::Block(block)),
                None => {
                    let block = Block {
                        info: info.trim().to_string(),
                        body: String::new(),
                        line: i + 1,
                    };
                    open = Some((line.len() - trimmed.len(), block));
                }
            }
            continue;
        }
        if let Some((indent, block)) = open.as_mut() {
            let cut = line.len() - line.trim_start().len();
            block.body.push_str(&line[cut.min(*indent)..]);
            block.body.push('\n');
        } else if line.starts_with('#') {
            let level = line.chars().take_while(|c| *c == '#').count();
            if let Some(heading) = line[level..].strip_prefix(' ') {
                items.push(Item::Heading {
                    level,
                    text: heading.trim().to_string(),
                });
            }
        }
    }
    assert!(open.is_none(), "README.md has an unclosed code fence");
    items
}

/// The blocks under `heading`: up to the next heading of the same or a higher level
/// (`whole`), or up to the next heading of any level.
fn blocks_under(items: &[Item], heading: &str, whole: bool) -> Vec<Block> {
    let start = items
        .iter()
        .position(|i| matches!(i, Item::Heading { text, .. } if text == heading))
        .unwrap_or_else(|| panic!("README.md has no heading {heading:?}"));
    let Item::Heading { level: top, .. } = items[start] else {
        unreachable!()
    };
    items[start + 1..]
        .iter()
        .take_while(|i| match i {
            Item::Heading { level, .. } => whole && *level > top,
            Item::Block(_) => true,
        })
        .filter_map(|i| match i {
            Item::Block(b) => Some(b.clone()),
            Item::Heading { .. } => None,
        })
        .collect()
}

/// The one fenced block directly under the README heading `heading` (any level), before any
/// subsection: a test that runs it claims it.
pub(crate) fn readme_block(heading: &str) -> String {
    let blocks = blocks_under(&outline(&readme()), heading, false);
    assert_eq!(
        blocks.len(),
        1,
        "README.md has {} blocks directly under {heading:?}, not one",
        blocks.len()
    );
    blocks[0].body.clone()
}

/// Every fenced block of the README section `heading`, subsections included: a test that
/// takes them claims them all.
pub(crate) fn readme_section(heading: &str) -> Vec<Block> {
    blocks_under(&outline(&readme()), heading, true)
}

/// `text` with each README placeholder replaced by what a test runs instead; every
/// placeholder must occur, so that one the README drops does not linger here.
#[track_caller]
pub(crate) fn substitute(text: &str, substitutions: &[(&str, &str)]) -> String {
    let mut text = text.to_string();
    for (from, to) in substitutions {
        assert!(text.contains(from), "no {from:?} in:\n{text}");
        text = text.replace(from, to);
    }
    text
}

/// Where and how a test runs README lines: in `dir`, with `bin_dir` (the binary under test,
/// and any stub) first on `PATH`, `HOME` and `NO_COLOR` set, then `env`, and nothing else from
/// the test's own environment.
pub(crate) struct ReadmeShell<'a> {
    pub dir: &'a Path,
    pub home: &'a Path,
    pub bin_dir: &'a Path,
    pub env: Vec<(String, String)>,
}

impl ReadmeShell<'_> {
    fn bash(&self) -> Command {
        let path = format!(
            "{}:{}",
            self.bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.args(["--norc", "--noprofile"])
            .current_dir(self.dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home)
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs `script` (README shell lines) with `bash -euo pipefail`, so that every line must
    /// succeed as written.
    pub fn run(&self, script: &str) -> crate::support::Run {
        self.bash()
            .args(["-euo", "pipefail", "-c", script])
            .output()
            .expect("run bash")
            .into()
    }

    /// Runs one command line with stderr merged into stdout in the order written, as a
    /// terminal shows it; returns the exit code and the text.
    pub fn session_line(&self, command: &str) -> (Option<i32>, String) {
        let out = self
            .bash()
            .arg("-c")
            .arg(format!("{{ {command}\n}} 2>&1"))
            .output()
            .expect("run bash");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// What running README blocks did: files written, shell lines run, session commands compared,
/// and every output (for a test's leak search).
#[derive(Debug, Default)]
pub(crate) struct Ran {
    pub files: usize,
    pub lines: usize,
    pub sessions: usize,
    pub outputs: Vec<String>,
}

/// Runs one README block: a block whose info string names a file (```` ```toml path ````)
/// writes it, an `sh` block must succeed as a whole, and each `$ command` of a `text` session
/// must print exactly what follows it. Anything else fails the test.
pub(crate) fn run_block(block: &Block, shell: &ReadmeShell, ran: &mut Ran) {
    let words: Vec<&str> = block.info.split_whitespace().collect();
    match words.as_slice() {
        [_, path] => {
            let file = shell.dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, &block.body).unwrap();
            ran.files += 1;
        }
        ["sh"] => {
            let run = shell.run(&block.body);
            ran.outputs.push(run.all());
            assert_eq!(
                run.code,
                Some(0),
                "README.md:{}: the block failed:\n{}\n{}",
                block.line,
                block.body,
                run.all()
            );
            ran.lines += block
                .body
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .count();
        }
        ["text"] if block.is_session() => {
            let mut session: Vec<(String, String)> = Vec::new();
            for line in block.body.lines() {
                match (line.strip_prefix("$ "), session.last_mut()) {
                    (Some(command), _) => session.push((command.to_string(), String::new())),
                    (None, Some((_, expected))) => {
                        expected.push_str(line);
                        expected.push('\n');
                    }
                    (None, None) => panic!("README.md:{}: output before a `$`", block.line),
                }
            }
            for (command, expected) in session {
                let (_, out) = shell.session_line(&command);
                ran.outputs.push(out.clone());
                assert_eq!(
                    out.trim_end(),
                    expected.trim_end(),
                    "README.md:{}: `$ {command}` prints something else",
                    block.line
                );
                ran.sessions += 1;
            }
        }
        _ => panic!(
            "README.md:{}: a `{}` block the runner does not know how to run",
            block.line, block.info
        ),
    }
}

/// Runs every block of the README section `heading` in order ([`run_block`]).
pub(crate) fn run_readme_section(heading: &str, shell: &ReadmeShell) -> Ran {
    let mut ran = Ran::default();
    for block in readme_section(heading) {
        run_block(&block, shell, &mut ran);
    }
    ran
}

/// Runs `script` (README shell lines) with `bash -euo pipefail` in `dir`, the built binary
/// first on `PATH`, `HOME` set to `home` and nothing else from the environment, so that
/// every line must succeed as written.
pub(crate) fn run_shell(script: &str, dir: &Path, home: &Path) -> crate::support::Run {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_cfsecrets")).parent().unwrap();
    ReadmeShell {
        dir,
        home,
        bin_dir,
        env: Vec::new(),
    }
    .run(script)
}

/// The README split into code lines (fenced or indented blocks, `\` continuations joined) and
/// prose.
fn split_readme(text: &str) -> (Vec<String>, String) {
    let mut code = Vec::new();
    let mut prose = String::new();
    let mut fenced = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            prose.push('\n');
            continue;
        }
        let is_code = fenced || line.starts_with("    ");
        if !is_code {
            prose.push_str(line);
            prose.push('\n');
            continue;
        }
        prose.push('\n');
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => code.push(std::mem::take(&mut pending) + line),
        }
    }
    assert!(!fenced, "README.md has an unclosed code fence");
    (code, prose)
}

/// Inline code spans (`` `x` `` or ``` ``x`` ```) in prose; a span may wrap across lines.
fn inline_code(prose: &str) -> Vec<String> {
    let chars: Vec<char> = prose.chars().collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            i += 1;
            continue;
        }
        let ticks = chars[i..].iter().take_while(|c| **c == '`').count();
        let start = i + ticks;
        let mut j = start;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let run = chars[j..].iter().take_while(|c| **c == '`').count();
                if run == ticks {
                    close = Some(j);
                    break;
                }
                j += run;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                let span: String = chars[start..end].iter().collect();
                spans.push(span.replace('\n', " ").trim().to_string());
                i = end + ticks;
            }
            None => i = start,
        }
    }
    spans
}

/// Every `cfsecrets …` command the README shows.
fn readme_commands() -> Vec<Vec<String>> {
    let (code, prose) = split_readme(&readme());
    let mut commands: Vec<Vec<String>> = code.iter().flat_map(|l| commands_in_line(l)).collect();
    for span in inline_code(&prose) {
        if span.starts_with("cfsecrets ") {
            commands.push(shell_words(&span));
        }
    }
    commands
}

#[test]
fn the_command_checker_rejects_what_the_binary_lacks() {
    let words = |s: &str| shell_words(s);
    let err = check_command(&words(
        "printf %s \"$V\" | cfsecrets secret set A --account b",
    ));
    assert!(
        err.unwrap_err().contains("does not start with cfsecrets"),
        "callers pass the words from `cfsecrets` on"
    );
    for good in [
        "cfsecrets plan --format markdown --detailed-exitcode > plan.md",
        "cfsecrets -f other.yaml -i key.txt apply plan.json --parallelism 4",
        "cfsecrets secret set STRIPE_KEY --account production [--store S] [--comment \"a b\"]",
        "cfsecrets emulator --listen=127.0.0.1:0 & # background",
    ] {
        assert_eq!(check_command(&words(good)), Ok(()), "{good}");
    }
    for (bad, why) in [
        (
            "cfsecrets plan --no-such-flag",
            "has no flag --no-such-flag",
        ),
        ("cfsecrets deploy", "has no subcommand deploy"),
        ("cfsecrets secret get X", "has no subcommand `get`"),
        ("cfsecrets apply --auto-aprove", "has no flag --auto-aprove"),
        ("cfsecrets check --listen 1", "has no flag --listen"),
        ("cfsecrets --nope check", "no global flag --nope"),
    ] {
        let err = check_command(&words(bad)).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
    assert_eq!(
        commands_in_line("  - run: cfsecrets check && cfsecrets plan | tee x"),
        vec![
            words("cfsecrets check && cfsecrets plan | tee x"),
            words("cfsecrets plan | tee x")
        ]
    );
    assert!(
        commands_in_line("[cfsecrets:v1 fp=0123456789abcdef] or the cfsecrets crate").is_empty()
    );
}

#[test]
fn every_readme_command_uses_real_subcommands_and_flags() {
    let commands = readme_commands();
    let failures: Vec<String> = commands
        .iter()
        .filter_map(|c| check_command(c).err())
        .collect();
    assert!(
        failures.is_empty(),
        "README.md drifted from --help:\n{}",
        failures.join("\n")
    );

    // The extraction found the README's commands, and the README shows every subcommand.
    let top = &surface().top.commands;
    let shown: BTreeSet<&str> = commands
        .iter()
        .filter_map(|c| c.iter().skip(1).find(|w| top.contains(*w)))
        .map(String::as_str)
        .collect();
    let missing: Vec<&String> = surface()
        .top
        .commands
        .iter()
        .filter(|c| *c != "help" && !shown.contains(c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md never shows `cfsecrets` {missing:?}"
    );
    assert!(
        commands.len() >= 20,
        "only {} commands found",
        commands.len()
    );
}

/// Whether a README block shows something to run: a `cfsecrets` command, a shell block or a
/// terminal session. Blocks whose every line runs `cargo` (the quick start, the tests, the
/// install, the benchmark) are the developer's own commands, which no test can run from inside
/// `cargo test`.
fn needs_a_test(block: &Block) -> bool {
    let lines: Vec<&str> = block
        .body
        .lines()
        .map(|l| l.trim_start_matches("$ "))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let shows_a_command = lines.iter().any(|l| !commands_in_line(l).is_empty())
        || block.info == "sh"
        || block.is_session();
    let runs_cargo = |line: &&str| {
        shell_words(line)
            .iter()
            .find(|w| !w.contains('='))
            .is_some_and(|w| w == "cargo")
    };
    shows_a_command && !lines.iter().all(runs_cargo)
}

/// The README headings a test source takes blocks from: each call of `readme_block`,
/// `readme_section` or `run_readme_section` whose first argument is a string literal, with
/// whether it claims the whole section.
fn claims_in(source: &str) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    for (name, whole) in [
        ("readme_block", false),
        ("readme_section", true),
        ("run_readme_section", true),
    ] {
        let needle = format!("{name}(");
        let mut from = 0;
        while let Some(at) = source[from..].find(&needle) {
            let at = from + at;
            from = at + needle.len();
            let joined = source[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            let literal = source[from..].trim_start().strip_prefix('"');
            if let (false, Some(literal)) = (joined, literal) {
                let end = literal.find('"').expect("a closed string literal");
                found.push((literal[..end].to_string(), whole));
            }
        }
    }
    found
}

#[test]
fn claims_are_read_from_calls_with_a_literal_heading() {
    // Spelled apart so that this file's own source claims nothing.
    let (b, s, r) = (
        concat!("readme_", "block("),
        concat!("readme_", "section("),
        concat!("run_readme_", "section("),
    );
    let source = format!(
        "let x = {b}\"One\");\nlet y = {s}\n    \"Two `x`\",\n);\n{r}\"Three\", &shell);\n\
         fn {b}heading: &str) {{}}\nmy_{b}\"Not\");"
    );
    assert_eq!(
        claims_in(&source),
        [
            ("One".to_string(), false),
            ("Two `x`".to_string(), true),
            ("Three".to_string(), true)
        ]
    );
}

#[test]
fn every_readme_command_is_run_by_a_test() {
    let text = readme();
    let items = outline(&text);
    let mut sources = Vec::new();
    collect_files(&repo().join("tests/it"), &mut |path| {
        if path.extension().is_some_and(|e| e == "rs") {
            sources.push(path.to_path_buf());
        }
    });
    let mut claimed = BTreeSet::new();
    let mut claims = 0;
    for path in &sources {
        for (heading, whole) in claims_in(&std::fs::read_to_string(path).unwrap()) {
            claimed.extend(blocks_under(&items, &heading, whole).iter().map(|b| b.line));
            claims += 1;
        }
    }
    assert!(claims >= 15, "only {claims} claims found in tests/it");

    let mut unclaimed = Vec::new();
    let mut heading = String::new();
    for item in &items {
        match item {
            Item::Heading { text, .. } => heading.clone_from(text),
            Item::Block(block) if needs_a_test(block) && !claimed.contains(&block.line) => {
                unclaimed.push(format!(
                    "README.md:{} under {heading:?}: {}",
                    block.line,
                    block.body.lines().next().unwrap_or_default()
                ))
            }
            Item::Block(_) => {}
        }
    }
    assert!(
        unclaimed.is_empty(),
        "README blocks that no test runs (take each through readme_block, readme_section or \
         run_readme_section in a test that runs it):\n{}",
        unclaimed.join("\n")
    );

    // An indented code block would escape the claims: every code block is fenced.
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        assert!(
            fenced || !line.starts_with("    "),
            "README.md:{}: an indented code block; fence it",
            i + 1
        );
    }
}

/// `apply --help` and the README give the `--parallelism` default the binary uses.
#[test]
fn the_parallelism_default_is_the_one_help_and_readme_give() {
    let n = cfsecrets::apply::DEFAULT_PARALLELISM;
    let help: String = help_text(&["apply"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains(&format!("[default: {n}]")), "{help}");
    let readme = readme().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        readme.contains(&format!("`--parallelism N` at a time (default {n},")),
        "README names another default"
    );
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_readme_link_resolves() {
    let text = readme();
    let (_, prose) = split_readme(&text);
    let mut anchors = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in prose.lines() {
        let Some(heading) = line.trim_start_matches('#').strip_prefix(' ') else {
            continue;
        };
        if !line.starts_with('#') {
            continue;
        }
        let base = slug(heading);
        let n = seen.entry(base.clone()).or_insert(0);
        anchors.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    assert!(
        anchors.contains("adopting-existing-secrets-import"),
        "{anchors:?}"
    );

    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let end = rest.find(')').expect("a closed link");
        targets.push(rest[..end].to_string());
    }
    assert!(targets.len() >= 5, "links found: {targets:?}");
    for target in &targets {
        if target.starts_with("https://") {
            continue;
        }
        if let Some(anchor) = target.strip_prefix('#') {
            assert!(
                anchors.contains(anchor),
                "README.md links to missing #{anchor}"
            );
        } else {
            let path = target.split('#').next().unwrap();
            assert!(
                repo().join(path).exists(),
                "README.md links to missing file {path}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// insta snapshots

/// The snapshot file names the test sources assert, module by module: a named assertion gives
/// `it__<module>__<name>.snap`; an unnamed one `it__<module>__<test fn>.snap`, and insta
/// numbers further unnamed ones in the same function `<test fn>-2`, `-3`, ….
fn asserted_snapshots(module: &str, source: &str) -> Vec<String> {
    let needle = concat!("_snapshot", "!(");
    let mut names = Vec::new();
    let mut unnamed_per_fn: BTreeMap<String, usize> = BTreeMap::new();
    let mut from = 0;
    while let Some(found) = source[from..].find(needle) {
        let at = from + found;
        from = at + needle.len();
        let macro_start = source[..at]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        if !source[macro_start..at + "_snapshot".len()].starts_with("assert_") {
            continue;
        }
        let args = source[from..].trim_start();
        let name = if let Some(literal) = args.strip_prefix('"') {
            literal[..literal.find('"').expect("closed name")].to_string()
        } else {
            let fn_at = source[..at].rfind("fn ").expect("snapshot outside a fn");
            let test_fn: String = source[fn_at + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let n = unnamed_per_fn.entry(test_fn.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                test_fn
            } else {
                format!("{test_fn}-{n}")
            }
        };
        names.push(format!("it__{module}__{name}.snap"));
    }
    names
}

#[test]
fn snapshot_names_are_derived_as_insta_names_them() {
    // Spelled apart so that this file's own source asserts nothing.
    let m = concat!("assert_snapshot", "!(");
    let j = concat!("assert_json_snapshot", "!(");
    let source = format!(
        "fn a() {{ insta::{m}x); insta::{m}y); }}\n\
         fn b() {{ insta::with_settings!({{}}, {{ insta::{m}\"named\", x); }}); }}\n\
         fn c() {{ my_snapshot!(x); insta::{j}v); }}"
    );
    assert_eq!(
        asserted_snapshots("chap", &source),
        [
            "it__chap__a.snap",
            "it__chap__a-2.snap",
            "it__chap__named.snap",
            "it__chap__c.snap"
        ]
    );
}

#[test]
fn no_orphan_or_pending_snapshots() {
    let dir = repo().join("tests/it");
    let mut expected = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let module = path.file_stem().unwrap().to_str().unwrap().to_string();
            let source = std::fs::read_to_string(&path).unwrap();
            // Settings that change snapshot names (spelled apart so this file is not caught).
            let renaming = [
                concat!("snapshot", "_suffix"),
                concat!("prepend_module", "_to_snapshot"),
                concat!("snapshot", "_path"),
            ];
            for setting in renaming {
                assert!(
                    !source.contains(setting),
                    "{module}.rs sets insta's {setting}; teach asserted_snapshots() about it"
                );
            }
            expected.extend(asserted_snapshots(&module, &source));
        }
    }
    assert!(!expected.is_empty());

    let mut present = BTreeSet::new();
    let mut pending = Vec::new();
    collect_files(&dir.join("snapshots"), &mut |path| {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
            pending.push(name);
        } else {
            present.insert(name);
        }
    });
    assert!(
        pending.is_empty(),
        "pending snapshots (review with `cargo insta review`): {pending:?}"
    );
    let orphans: Vec<&String> = present.difference(&expected).collect();
    assert!(
        orphans.is_empty(),
        "snapshot files no test asserts: {orphans:?}"
    );
    let missing: Vec<&String> = expected.difference(&present).collect();
    assert!(
        missing.is_empty(),
        "asserted snapshots without a file: {missing:?}"
    );
}

fn collect_files(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, visit);
        } else {
            visit(&path);
        }
    }
}

#[test]
fn ci_run_installs_and_requires_every_outside_tool() {
    // A test that skips without its tool must not skip in CI: `.ci/run` installs each
    // package and makes each program mandatory.
    let script = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let installs: BTreeSet<&str> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("apt-get install -y -qq "))
        .flat_map(|l| l.split_whitespace().take_while(|w| !w.starts_with('>')))
        .collect();
    let required: BTreeSet<&str> = script
        .lines()
        .find_map(|l| l.trim().strip_prefix("export CFSECRETS_REQUIRE_TOOLS="))
        .expect(".ci/run exports CFSECRETS_REQUIRE_TOOLS")
        .split(',')
        .collect();
    for (tool, package) in crate::support::OUTSIDE_TOOLS {
        assert!(
            installs.contains(package),
            ".ci/run does not install {package}: {installs:?}"
        );
        assert!(
            required.contains(tool),
            ".ci/run does not require {tool}: {required:?}"
        );
    }
}
