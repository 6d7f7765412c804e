//! Finding a canary in anything a run produced, in every form it could have been written
//! in there: raw, JSON-escaped, base64 (standard and URL-safe alphabets, at each of the three
//! offsets a canary can start at inside a larger encoded buffer), hexadecimal (lower and upper
//! case) and URL-encoded (`%2B` and `%2b`, `+` or `%20` for a space).
//!
//! Base64 at an offset: when a canary starts at byte 1 of a buffer, its first byte shares an
//! encoded character with the byte before it, and its last one with the byte after. So for
//! each offset the needle is the run of characters that encode the canary's bits alone; it
//! is found wherever the canary was encoded, whatever surrounded it. Every form is also
//! searched with line breaks taken out, for encodings wrapped at a width (PEM, MIME).
//!
//! An encoded needle shorter than [`MIN_NEEDLE`] characters is not searched (it would match
//! unrelated encoded text by chance); the raw canary always is. Canaries for this search
//! should be at least 8 bytes long.

#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};

/// The shortest encoded needle searched for.
pub const MIN_NEEDLE: usize = 8;

/// One way a canary can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Raw,
    /// As a JSON string's content (`\"`, `\n`, `\u0000`).
    Json,
    /// Standard base64 (`+/`), the canary starting at this byte offset modulo 3.
    Base64 {
        offset: usize,
    },
    /// URL-safe base64 (`-_`), the canary starting at this byte offset modulo 3.
    Base64Url {
        offset: usize,
    },
    HexLower,
    HexUpper,
    /// Percent-encoding with upper-case hex (`%2B`), a space as `%20`.
    Url,
    /// Percent-encoding with lower-case hex (`%2b`).
    UrlLower,
    /// Form encoding: a space as `+`, upper-case hex.
    Form,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Encoding::Base64 { offset } => write!(f, "base64 at offset {offset}"),
            Encoding::Base64Url { offset } => write!(f, "URL-safe base64 at offset {offset}"),
            other => write!(f, "{other:?}"),
        }
    }
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `bytes` in base64 with `alphabet`, padded with `=` when `pad`.
pub fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padded.
pub fn base64_standard(bytes: &[u8]) -> String {
    base64(bytes, STANDARD, true)
}

/// URL-safe base64, unpadded (as in JWTs and URLs).
pub fn base64_url(bytes: &[u8]) -> String {
    base64(bytes, URL_SAFE, false)
}

/// Percent-encoding of every byte outside `A-Z a-z 0-9 - . _ ~`; `lower` writes the hex in
/// lower case, `plus` writes a space as `+`.
pub fn percent(bytes: &[u8], lower: bool, plus: bool) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if plus => out.push('+'),
            _ if lower => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The characters of `canary`'s base64 that depend on its bits alone, when it starts at
/// `offset` (0, 1 or 2) of a larger buffer.
fn base64_inner(canary: &[u8], offset: usize, alphabet: &[u8; 64]) -> String {
    let mut buf = vec![0u8; offset];
    buf.extend_from_slice(canary);
    let encoded = base64(&buf, alphabet, false);
    let start = (8 * offset).div_ceil(6);
    let end = 8 * (offset + canary.len()) / 6;
    encoded.get(start..end).unwrap_or_default().to_string()
}

/// Every form of `canary` searched for, each once (a form equal to the raw canary, such as
/// the URL-encoding of plain letters, is left out), encoded ones only from
/// [`MIN_NEEDLE`] characters on.
pub fn forms(canary: &[u8]) -> Vec<(Encoding, Vec<u8>)> {
    assert!(!canary.is_empty(), "an empty canary");
    let mut encoded = Vec::new();
    if let Ok(text) = std::str::from_utf8(canary) {
        let json = serde_json::to_string(text).unwrap();
        encoded.push((Encoding::Json, json[1..json.len() - 1].to_string()));
    }
    for offset in 0..3 {
        encoded.push((
            Encoding::Base64 { offset },
            base64_inner(canary, offset, STANDARD),
        ));
        encoded.push((
            Encoding::Base64Url { offset },
            base64_inner(canary, offset, URL_SAFE),
        ));
    }
    encoded.push((Encoding::HexLower, hex::encode(canary)));
    encoded.push((Encoding::HexUpper, hex::encode_upper(canary)));
    encoded.push((Encoding::Url, percent(canary, false, false)));
    encoded.push((Encoding::UrlLower, percent(canary, true, false)));
    encoded.push((Encoding::Form, percent(canary, false, true)));
    let mut out = vec![(Encoding::Raw, canary.to_vec())];
    for (encoding, needle) in encoded {
        let needle = needle.into_bytes();
        if needle.len() >= MIN_NEEDLE && !out.iter().any(|(_, n)| *n == needle) {
            out.push((encoding, needle));
        }
    }
    out
}

/// A text to search: as it is, and with its line breaks taken out.
struct Haystack<'a> {
    whole: &'a [u8],
    unwrapped: Vec<u8>,
}

impl<'a> Haystack<'a> {
    fn new(whole: &'a [u8]) -> Self {
        let unwrapped = whole
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\r' | b'\n'))
            .collect();
        Self { whole, unwrapped }
    }

    fn contains(&self, needle: &[u8]) -> bool {
        contains(self.whole, needle) || contains(&self.unwrapped, needle)
    }

    /// The first form of `canary` found, or `None`.
    fn find(&self, canary: &[u8]) -> Option<Encoding> {
        forms(canary)
            .into_iter()
            .find_map(|(encoding, needle)| self.contains(&needle).then_some(encoding))
    }
}

/// Whether `needle` occurs in `haystack` (through `str`'s fast search when both are text).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    match (std::str::from_utf8(haystack), std::str::from_utf8(needle)) {
        (Ok(h), Ok(n)) => h.contains(n),
        _ => haystack.windows(needle.len()).any(|w| w == needle),
    }
}

/// The first form of `canary` found in `haystack` (as it is, or with its line breaks taken
/// out), or `None`.
pub fn find(haystack: &[u8], canary: &[u8]) -> Option<Encoding> {
    Haystack::new(haystack).find(canary)
}

/// Named canaries: what must never be found.
#[derive(Clone, Debug, Default)]
pub struct Canaries(Vec<(String, Vec<u8>)>);

impl Canaries {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `canary` under `name` (the name says which one leaked, e.g. `the API token`).
    pub fn with(mut self, name: &str, canary: impl AsRef<[u8]>) -> Self {
        self.add(name, canary);
        self
    }

    pub fn add(&mut self, name: &str, canary: impl AsRef<[u8]>) {
        let canary = canary.as_ref();
        assert!(!canary.is_empty(), "the canary {name} is empty");
        self.0.push((name.to_string(), canary.to_vec()));
    }

    /// Each canary's name and bytes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, c)| (n.as_str(), c.as_slice()))
    }

    /// The first canary found in `haystack`: its name and how it was written.
    pub fn find(&self, haystack: &[u8]) -> Option<(&str, Encoding)> {
        let haystack = Haystack::new(haystack);
        self.iter()
            .find_map(|(name, canary)| haystack.find(canary).map(|e| (name, e)))
    }

    /// Every canary but those named.
    pub fn without(&self, names: &[&str]) -> Self {
        Self(
            self.0
                .iter()
                .filter(|(n, _)| !names.contains(&n.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Panics, naming `what`, the canary and its form, if any canary is in `haystack`; the
    /// message shows the text around it.
    #[track_caller]
    pub fn assert_absent(&self, what: &str, haystack: impl AsRef<[u8]>) {
        let haystack = haystack.as_ref();
        let Some((name, encoding)) = self.find(haystack) else {
            return;
        };
        let canary = &self.0.iter().find(|(n, _)| n == name).unwrap().1;
        let needle = forms(canary)
            .into_iter()
            .find(|(e, _)| *e == encoding)
            .unwrap()
            .1;
        let at = haystack
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .unwrap_or(0);
        let start = at.saturating_sub(300);
        let end = (at + needle.len() + 300).min(haystack.len());
        panic!(
            "{what} contains {name} ({encoding}):\n…{}…",
            String::from_utf8_lossy(&haystack[start..end])
        );
    }
}

/// Panics, naming `what`, if any of `canaries` is in `haystack` in any form.
#[track_caller]
pub fn assert_no_leak(what: &str, haystack: impl AsRef<[u8]>, canaries: &[&str]) {
    let mut set = Canaries::new();
    for canary in canaries {
        set.add(canary, canary);
    }
    set.assert_absent(what, haystack);
}

/// Every file under `dir`, for searching them all (and their names).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
