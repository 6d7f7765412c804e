//! Property targets for every reader of outside input: the manifest, the dotenv and YAML
//! bundles, the wrangler configs (TOML, JSON, JSONC), saved plan files, the emulator's request
//! handling (HTTP and raw bytes on a socket) and the client's reading of whatever a server
//! answers. Each is fed arbitrary bytes, arbitrary text and, mostly, valid inputs broken by
//! [`Edit`]s: tokens of the format and of trouble (deep nesting, huge numbers, control and
//! bidirectional characters, CRLF and lone CR, a BOM, very long lines) inserted, text and
//! lines deleted, duplicated, swapped and re-indented.
//!
//! What must hold for every input: no panic and no hang; an answer or a diagnostic; a
//! diagnostic's position inside the input; no control or bidirectional character in a
//! message; and no text of a secret region (a bundle value, a value sent to a server, an age
//! identity pasted into a manifest or a wrangler config) in any message.
//!
//! The normal run keeps to a few hundred cases per property (seconds in a debug build). For a
//! soak, `CFSECRETS_FUZZ_CASES=N` runs N cases of each in-process property and N/10 of the
//! ones that go through a socket. Proptest saves a failing case's seed under
//! `tests/proptest-regressions/` and replays it first on the next run; once understood, such
//! a case becomes a named test where the room it concerns is tested (each says it was found
//! here) and the file is deleted (never committed), as in the planner's chapter.

mod bundle;
mod client;
mod emulator;
mod manifest;
mod plan;
mod wrangler;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;

/// The configuration of a property: `default` cases in a normal run; with
/// `CFSECRETS_FUZZ_CASES=N`, N cases (N/10 for the properties that go through a socket,
/// `slow`).
pub fn config(default: u32, slow: bool) -> ProptestConfig {
    let soak = std::env::var("CFSECRETS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok());
    let cases = match soak {
        Some(n) if slow => (n / 10).max(default),
        Some(n) => n.max(default),
        None => default,
    };
    ProptestConfig {
        cases,
        // Shrinking a long input through a parser is slow and seldom needed to read a case.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

/// Runs `test` on `cases` of `strategy` with the chapter's configuration, failing the test
/// with proptest's report (regressions persist for the caller's file, as in `proptest!`).
#[track_caller]
pub fn run<S: Strategy>(
    cases: ProptestConfig,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(ProptestConfig {
        source_file: Some(std::panic::Location::caller().file()),
        ..cases
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Canaries: secret text whose appearance anywhere in a message is a leak.

/// An age identity (well-formed, never used to seal anything), pasted where it does not
/// belong.
pub const IDENTITY: &str =
    "AGE-SECRET-KEY-1QFWZ3VGK8YX7M2NCJ9HDLTR5UPE6SA4Q0W3RZXF8GVKJ7Y2MNC9DLHTP5U";

/// Whether `message` shows any stretch of `secret` of `window` or more characters, compared
/// without ASCII case.
pub fn shows(message: &str, secret: &str, window: usize) -> bool {
    let message = message.to_ascii_lowercase();
    let secret = secret.to_ascii_lowercase();
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < window {
        return message.contains(&secret);
    }
    chars
        .windows(window)
        .any(|w| message.contains(&w.iter().collect::<String>()))
}

/// Fails when `message` shows the identity: its prefix always, and any 12 characters of it
/// when `input` holds it whole (when an edit cut it in two, the piece without the prefix no
/// longer looks like a key and may be shown).
pub fn no_identity(message: &str, input: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !message.to_ascii_uppercase().contains("AGE-SECRET-KEY-"),
        "a message shows an age identity: {message}"
    );
    if input.contains(IDENTITY) {
        prop_assert!(
            !shows(message, IDENTITY, 12),
            "a message shows part of an age identity: {message}"
        );
    }
    Ok(())
}

/// Fails when a one-line message holds a character that must not reach a terminal.
pub fn printable(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !message.chars().any(cfsecrets::text::is_unsafe),
        "a message holds a control or bidirectional character: {message:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Positions.

/// The lines of `text` as a YAML, TOML or JSON reader counts them (`\r\n`, `\r` and `\n` all
/// end a line), each as its number of characters.
pub fn line_lengths(text: &str) -> Vec<u64> {
    let mut lengths = vec![0u64];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lengths.push(0);
            }
            '\n' => lengths.push(0),
            _ => *lengths.last_mut().expect("never empty") += 1,
        }
    }
    lengths
}

/// Fails unless `line:column` (1-based) lies inside `text` or just past the end of a line.
pub fn inside(text: &str, line: u64, column: u64, what: &str) -> Result<(), TestCaseError> {
    let lengths = line_lengths(text);
    prop_assert!(
        line >= 1 && line <= lengths.len() as u64,
        "{what}: line {line} outside the input's {} lines",
        lengths.len()
    );
    let length = lengths[line as usize - 1];
    prop_assert!(
        column >= 1 && column <= length + 1,
        "{what}: column {column} outside line {line} of {length} characters"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Edits: how a valid input is broken.

/// A place among however many there are when the edit is made.
#[derive(Clone, Copy, Debug)]
pub struct Pick(usize);

impl Pick {
    fn index(self, len: usize) -> usize {
        if len == 0 { 0 } else { self.0 % len }
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    any::<usize>().prop_map(Pick)
}

/// One change to a text. Picks choose places in whatever the text is by then.
#[derive(Clone, Debug)]
pub enum Edit {
    Insert(Pick, String),
    /// Removes up to this many characters.
    Delete(Pick, usize),
    /// Copies up to this many characters to another place.
    Copy(Pick, usize, Pick),
    DuplicateLine(Pick, usize),
    DeleteLine(Pick),
    SwapLines(Pick, Pick),
    /// Adds (or, negative, removes) leading spaces.
    Indent(Pick, i8),
    Truncate(Pick),
    /// Every `\n` becomes `\r\n`.
    Crlf,
    /// Every `\n` becomes a lone `\r`.
    LoneCr,
    Bom,
}

/// Tokens that trouble any reader.
const TROUBLE: &[&str] = &[
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "    ",
    "\u{feff}",
    "\u{0}",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\u{202e}",
    "\u{2066}",
    "\u{200b}",
    "\u{200d}",
    "\u{301}",
    "\u{fffd}",
    "\u{10ffff}",
    "😀",
    "é",
    "\"",
    "'",
    "`",
    "\\",
    "\\u0000",
    "\\ud800",
    "\\x",
    "#",
    ":",
    ",",
    "=",
    "[",
    "]",
    "{",
    "}",
    "-",
    "0",
    "-0",
    "1e999",
    "-1e999",
    "99999999999999999999999999999999999999",
    "-9223372036854775809",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "0x7fffffffffffffffffff",
    "0.0000000000000000000000000000000000000000001",
    "NaN",
    "Infinity",
    "null",
    "true",
    IDENTITY,
];

/// JSON's syntax and the values that trouble its readers.
pub const JSON: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "null",
    "true",
    "false",
    "-1",
    "1e999",
    "4294967296",
    "\\u0000",
    "\\ud800",
];

/// A token: one of `format` (the format's own syntax and words), one of [`TROUBLE`], deep
/// nesting, a long run, or arbitrary text.
fn token(format: Vec<&'static str>) -> impl Strategy<Value = String> {
    let nest = (
        select(
            &[
                "[", "{", "[{\"a\":", "{a: ", "- ", "a:\n ", "[[", "{\"a\":[",
            ][..],
        ),
        prop_oneof![4 => 1..200usize, 1 => 200..20_000usize],
    )
        .prop_map(|(open, depth)| open.repeat(depth));
    let long = (
        select(&["x", "9", " ", "é", "\u{202e}", "\\\"", "AGE"][..]),
        1..70_000usize,
    )
        .prop_map(|(s, n)| s.repeat(n));
    prop_oneof![
        6 => select(format).prop_map(str::to_string),
        4 => select(TROUBLE).prop_map(str::to_string),
        1 => nest,
        1 => long,
        2 => any::<String>(),
    ]
}

/// One to eight edits, with tokens from the lists of `format`.
pub fn edits(format: &[&'static [&'static str]]) -> impl Strategy<Value = Vec<Edit>> {
    let format = format.concat();
    let edit = prop_oneof![
        8 => (pick(), token(format.clone())).prop_map(|(at, t)| Edit::Insert(at, t)),
        3 => (pick(), 1..40usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        2 => (pick(), 1..80usize, pick()).prop_map(|(a, n, b)| Edit::Copy(a, n, b)),
        2 => (pick(), prop_oneof![4 => 1..3usize, 1 => 3..300usize])
            .prop_map(|(at, n)| Edit::DuplicateLine(at, n)),
        2 => pick().prop_map(Edit::DeleteLine),
        1 => (pick(), pick()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        2 => (pick(), -6i8..6).prop_map(|(at, by)| Edit::Indent(at, by)),
        1 => pick().prop_map(Edit::Truncate),
        1 => Just(Edit::Crlf),
        1 => Just(Edit::LoneCr),
        1 => Just(Edit::Bom),
    ];
    proptest::collection::vec(edit, 1..8)
}

/// The byte offset of the character `at` picks (or the end).
fn offset(text: &str, at: &Pick) -> usize {
    let count = text.chars().count();
    let n = at.index(count + 1);
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

/// The byte offset `n` characters after `from`, or the end.
fn advance(text: &str, from: usize, n: usize) -> usize {
    text[from..]
        .char_indices()
        .nth(n)
        .map_or(text.len(), |(i, _)| from + i)
}

/// `seed` with every edit applied in turn.
pub fn apply(seed: &str, edits: &[Edit]) -> String {
    let mut text = seed.to_string();
    for edit in edits {
        match edit {
            Edit::Insert(at, token) => {
                let at = offset(&text, at);
                text.insert_str(at, token);
            }
            Edit::Delete(at, n) => {
                let start = offset(&text, at);
                let end = advance(&text, start, *n);
                text.replace_range(start..end, "");
            }
            Edit::Copy(from, n, to) => {
                let start = offset(&text, from);
                let end = advance(&text, start, *n);
                let piece = text[start..end].to_string();
                let to = offset(&text, to);
                text.insert_str(to, &piece);
            }
            Edit::DuplicateLine(at, times) => {
                let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
                let i = at.index(lines.len());
                let line = lines[i].clone();
                for _ in 0..*times {
                    lines.insert(i, line.clone());
                }
                text = lines.join("\n");
            }
            Edit::DeleteLine(at) => {
                let mut lines: Vec<&str> = text.split('\n').collect();
                lines.remove(at.index(lines.len()));
                text = lines.join("\n");
            }
            Edit::SwapLines(a, b) => {
                let mut lines: Vec<&str> = text.split('\n').collect();
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
                text = lines.join("\n");
            }
            Edit::Indent(at, by) => {
                let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
                let i = at.index(lines.len());
                let line = &mut lines[i];
                if *by >= 0 {
                    line.insert_str(0, &" ".repeat(*by as usize));
                } else {
                    let spaces = line.len() - line.trim_start_matches(' ').len();
                    line.replace_range(..spaces.min(by.unsigned_abs() as usize), "");
                }
                text = lines.join("\n");
            }
            Edit::Truncate(at) => {
                let at = offset(&text, at);
                text.truncate(at);
            }
            Edit::Crlf => text = text.replace('\n', "\r\n"),
            Edit::LoneCr => text = text.replace('\n', "\r"),
            Edit::Bom => text.insert(0, '\u{feff}'),
        }
    }
    text
}

/// Arbitrary bytes, mostly short.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..256),
        1 => proptest::collection::vec(any::<u8>(), 256..8192),
    ]
}

#[test]
fn edits_do_what_they_say() {
    let first = Pick(0);
    let seed = "a: 1\nb: 2\n";
    assert_eq!(apply(seed, &[Edit::Crlf]), "a: 1\r\nb: 2\r\n");
    assert_eq!(apply(seed, &[Edit::Bom]), "\u{feff}a: 1\nb: 2\n");
    assert_eq!(
        apply(seed, &[Edit::DuplicateLine(first, 2)]),
        "a: 1\na: 1\na: 1\nb: 2\n"
    );
    assert_eq!(apply(seed, &[Edit::DeleteLine(first)]), "b: 2\n");
    assert_eq!(apply(seed, &[Edit::Indent(first, 2)]), "  a: 1\nb: 2\n");
    assert_eq!(
        apply(seed, &[Edit::Insert(first, "é".into())]),
        "éa: 1\nb: 2\n"
    );
    assert_eq!(apply("é1", &[Edit::Delete(first, 1)]), "1");
    assert_eq!(apply("ab", &[Edit::Copy(first, 1, first)]), "aab");
    assert_eq!(line_lengths("ab\r\ncé\rd\n"), [2, 2, 1, 0]);
    assert!(shows("x: aGe-SeCrEt-KeY-1q", "AGE-SECRET-KEY-1Q", 8));
    assert!(!shows("no secret here", IDENTITY, 12));
}
