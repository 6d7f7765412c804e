//! The ownership marker: a short tag at the end of a secret's live comment that says "cfsecrets
//! owns this secret", carries the fingerprint of the value it last wrote, and the `protect`
//! flag (DESIGN.md §4). A domain fact shared by the live snapshot (which parses each comment
//! once into a [`LiveComment`]), the planner (which writes markers) and `import`.
//!
//! # Format (version 1)
//!
//! ```text
//! [cfsecrets:v1 fp=0123456789abcdef protect]
//! [cfsecrets:v1 fp=0123456789abcdef]
//! [cfsecrets:v1 protect]          (value: keep, never written by this tool)
//! [cfsecrets:v1]
//! ```
//!
//! ASCII only; the fields come in this fixed order, each at most once; `fp` is exactly 16
//! lowercase hex characters. Anything else inside `[cfsecrets:…]` is not a marker.
//!
//! The live comment is `marker` alone when the user's comment is empty, else
//! `user_comment + " " + marker`. [`split`] removes exactly one trailing marker (and the one
//! space before it), so a declared comment round-trips unchanged, including a user comment
//! that itself ends in marker-like text: [`join`] always appends our own marker after it, and
//! [`split`] only ever takes the last one. A live comment that ends in a marker glued to
//! other text (`foo[cfsecrets:v1]`), or preceded by a lone space, carries no marker: `join`
//! never writes those, and refusing them keeps `split` and `join` exact inverses.

use std::fmt;

use crate::domain::Fingerprint;

/// The opening of every marker; the version follows.
pub const PREFIX: &str = "[cfsecrets:v";
/// The marker version this build writes and reads.
pub const VERSION: u32 = 1;

/// What the marker records about a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Marker {
    /// Fingerprint of the value this tool last wrote; `None` for `value: keep` secrets whose
    /// value this tool never wrote.
    pub fingerprint: Option<Fingerprint>,
    /// A protected secret is never deleted by a plan.
    pub protect: bool,
}

impl Marker {
    /// The marker text, e.g. `[cfsecrets:v1 fp=0123456789abcdef protect]`.
    pub fn render(&self) -> String {
        let mut s = format!("{PREFIX}{VERSION}");
        if let Some(fp) = self.fingerprint {
            s.push_str(" fp=");
            s.push_str(&fp.to_hex());
        }
        if self.protect {
            s.push_str(" protect");
        }
        s.push(']');
        s
    }

    /// Parses exactly one marker (the whole string), or `None`.
    pub fn parse(s: &str) -> Option<Marker> {
        let inner = s.strip_prefix(PREFIX)?.strip_suffix(']')?;
        let mut words = inner.split(' ');
        if words.next()? != "1" {
            return None;
        }
        let mut marker = Marker::default();
        let mut seen_fp = false;
        for word in words {
            if let Some(hex) = word.strip_prefix("fp=") {
                // Order: fp before protect, once.
                if seen_fp || marker.protect {
                    return None;
                }
                // Strict (16 lowercase hex), so a parsed marker renders back unchanged.
                marker.fingerprint = Some(Fingerprint::parse_hex(hex).ok()?);
                seen_fp = true;
            } else if word == "protect" {
                if marker.protect {
                    return None;
                }
                marker.protect = true;
            } else {
                return None;
            }
        }
        Some(marker)
    }
}

/// Splits a live comment into the user's comment and this tool's marker (if it ends in one).
pub fn split(live_comment: &str) -> (String, Option<Marker>) {
    if let Some(start) = live_comment.rfind(PREFIX) {
        let (before, tail) = live_comment.split_at(start);
        if let Some(marker) = Marker::parse(tail) {
            if before.is_empty() {
                return (String::new(), Some(marker));
            }
            // `join` never writes " [marker]" (an empty user comment gets no space), so such
            // a comment is not ours; this keeps split and join exact inverses.
            if let Some(user) = before.strip_suffix(' ')
                && !user.is_empty()
            {
                return (user.to_string(), Some(marker));
            }
        }
    }
    (live_comment.to_string(), None)
}

/// The live comment to write: the user's comment followed by the marker.
pub fn join(user_comment: &str, marker: &Marker) -> String {
    if user_comment.is_empty() {
        marker.render()
    } else {
        format!("{user_comment} {}", marker.render())
    }
}

/// A live comment, split once (by [`split`]) into the user's comment and this tool's marker.
/// The raw text is kept too: the live digest hashes it as the API holds it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct LiveComment {
    raw: String,
    user: String,
    marker: Option<Marker>,
}

impl LiveComment {
    pub fn new(raw: String) -> Self {
        let (user, marker) = split(&raw);
        Self { raw, user, marker }
    }

    /// The comment as the API holds it, marker included.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The user's comment: the raw comment without a trailing marker.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// This tool's marker, when the comment ends in one (the secret is owned).
    pub fn marker(&self) -> Option<Marker> {
        self.marker
    }

    /// Whether the marker says `protect`: such a secret is never deleted by a plan.
    pub fn is_protected(&self) -> bool {
        self.marker.is_some_and(|m| m.protect)
    }
}

impl From<String> for LiveComment {
    fn from(raw: String) -> Self {
        Self::new(raw)
    }
}

impl From<&str> for LiveComment {
    fn from(raw: &str) -> Self {
        Self::new(raw.to_string())
    }
}

impl fmt::Debug for LiveComment {
    /// The raw text only: the other fields are derived from it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.raw, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(b: u8) -> Fingerprint {
        Fingerprint::from_bytes([b, 1, 2, 3, 4, 5, 6, 7])
    }

    #[test]
    fn renders_the_documented_forms() {
        let m = Marker {
            fingerprint: Some(fp(0xab)),
            protect: true,
        };
        assert_eq!(m.render(), "[cfsecrets:v1 fp=ab01020304050607 protect]");
        assert_eq!(Marker::default().render(), "[cfsecrets:v1]");
        assert_eq!(
            Marker {
                fingerprint: None,
                protect: true
            }
            .render(),
            "[cfsecrets:v1 protect]"
        );
    }

    #[test]
    fn split_examples() {
        let m = Marker {
            fingerprint: Some(fp(1)),
            protect: false,
        };
        assert_eq!(
            split(&join("Stripe key", &m)),
            ("Stripe key".into(), Some(m))
        );
        assert_eq!(split(&join("", &m)), (String::new(), Some(m)));
        assert_eq!(split("no marker"), ("no marker".into(), None));
        assert_eq!(split(""), (String::new(), None));
        // Glued to text: not a marker.
        assert_eq!(split("x[cfsecrets:v1]"), ("x[cfsecrets:v1]".into(), None));
        // A lone space before the marker is never written by `join`: not a marker.
        assert_eq!(split(" [cfsecrets:v1]"), (" [cfsecrets:v1]".into(), None));
        // Not at the end: not a marker.
        assert_eq!(
            split("[cfsecrets:v1] trailing"),
            ("[cfsecrets:v1] trailing".into(), None)
        );
        // Malformed fields, unknown versions, uppercase hex: not markers.
        for bad in [
            "[cfsecrets:v1 fp=AB01020304050607]",
            "[cfsecrets:v1 fp=ab0102]",
            "[cfsecrets:v1 protect fp=ab01020304050607]",
            "[cfsecrets:v1 protect protect]",
            "[cfsecrets:v1  protect]",
            "[cfsecrets:v2]",
            "[cfsecrets:v1 owner=me]",
        ] {
            assert_eq!(split(bad), (bad.to_string(), None), "{bad}");
        }
    }

    #[test]
    fn a_live_comment_is_split_once_and_keeps_its_raw_text() {
        let m = Marker {
            fingerprint: Some(fp(3)),
            protect: true,
        };
        let raw = join("Stripe key", &m);
        let live = LiveComment::from(raw.as_str());
        assert_eq!(
            (live.raw(), live.user(), live.marker()),
            (raw.as_str(), "Stripe key", Some(m))
        );
        assert!(live.is_protected());
        let foreign = LiveComment::from("x[cfsecrets:v1 protect]");
        assert_eq!(
            (foreign.user(), foreign.marker()),
            ("x[cfsecrets:v1 protect]", None)
        );
        assert!(!foreign.is_protected());
        assert_eq!(LiveComment::default(), LiveComment::from(""));
    }

    #[test]
    fn a_user_comment_that_looks_like_a_marker_round_trips() {
        let ours = Marker {
            fingerprint: Some(fp(9)),
            protect: true,
        };
        for user in [
            "[cfsecrets:v1]",
            "note [cfsecrets:v1 fp=0000000000000000 protect]",
            "[cfsecrets:v1 protect] ",
            " ",
        ] {
            let live = join(user, &ours);
            assert_eq!(split(&live), (user.to_string(), Some(ours)), "{user:?}");
        }
    }

    fn marker_strategy() -> impl Strategy<Value = Marker> {
        (proptest::option::of(any::<[u8; 8]>()), any::<bool>()).prop_map(|(fp, protect)| Marker {
            fingerprint: fp.map(Fingerprint::from_bytes),
            protect,
        })
    }

    fn comment_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            ".*",
            "[ a-z\\[\\]:=0-9]{0,40}",
            (marker_strategy(), "[ a-z]{0,5}").prop_map(|(m, s)| format!("{s}{}", m.render())),
            (marker_strategy(), "[ a-z]{0,5}").prop_map(|(m, s)| format!("{}{s}", m.render())),
        ]
    }

    proptest! {
        #[test]
        fn split_inverts_join(user in comment_strategy(), m in marker_strategy()) {
            prop_assert_eq!(split(&join(&user, &m)), (user, Some(m)));
        }

        #[test]
        fn render_parses_back(m in marker_strategy()) {
            prop_assert_eq!(Marker::parse(&m.render()), Some(m));
            prop_assert!(m.render().is_ascii());
        }

        #[test]
        fn split_then_join_restores_a_marked_comment(live in comment_strategy()) {
            let (user, marker) = split(&live);
            match marker {
                Some(m) => prop_assert_eq!(join(&user, &m), live),
                None => prop_assert_eq!(user, live),
            }
        }
    }
}
