//! The bundle parsers on decrypted text (`values::bundle::parse`, dotenv and flat YAML): every
//! input gives a bundle or an error, every line an error names lies inside the input, and no
//! error shows any stretch of a value.

use cfsecrets::values::bundle::{self, BundleError, BundleFormat};
use proptest::prelude::*;
use proptest::sample::select;

use super::{apply, config, edits, line_lengths, printable, shows};

/// The values the seeds hold. Every run of 8 characters holds a character no key may have
/// (a space, `+` or `/`), so a value that an edit turns into a key cannot be confused with
/// one: any 8 characters of these in an error are a value shown.
const VALUES: &[&str] = &[
    "Zq7+Wv3/Kp9 Xy2+Lm4/Rt6",
    "pA5 sS/wO+rD 9vA/lU3+e",
    "hunter2/Dont+Show Me/9",
];

fn dotenv_seed() -> String {
    let [a, b, c] = [VALUES[0], VALUES[1], VALUES[2]];
    format!(
        "# a comment\n\nPLAIN={a}\nexport EXPORTED = {b}  # note\nDOUBLE=\"{c} \\\"q\\\" \\n\"\nSINGLE='{a} # kept'\nEMPTY=\nDOTTED.key-1={b}\n"
    )
}

fn yaml_seed() -> String {
    let [a, b, c] = [VALUES[0], VALUES[1], VALUES[2]];
    format!(
        "# a comment\nPLAIN: {a}\nDOUBLE: \"{b}\"\nSINGLE: '{c}'\nBLOCK: |\n  {a}\n  {b}\nFOLDED: >-\n  {c}\n'quoted key': {a}\nNUMBER: 8080\n"
    )
}

const DOTENV_TOKENS: &[&str] = &[
    "=", "export ", "KEY=", "#", " #", "\"", "'", "\\\"", "\\", "\\n", "A=1\n", "A=2\n", "9X=1",
];

const YAML_TOKENS: &[&str] = &[
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "|",
    ">",
    "&a ",
    "*a",
    "<<: *a",
    "!!map ",
    "---\n",
    "...\n",
    "? ",
    "~",
    "A: 1\n",
    "  nested: ",
    "\"",
    "'",
];

/// What must hold of what the parser made of `text`.
fn check(text: &str, format: BundleFormat) -> Result<(), TestCaseError> {
    let Err(err) = bundle::parse(text, format) else {
        return Ok(());
    };
    let message = err.to_string();
    prop_assert!(!message.is_empty());
    printable(&message)?;
    for value in VALUES {
        prop_assert!(!shows(&message, value, 8), "a value is shown: {message}");
    }
    if let BundleError::Lines { lines } = &err {
        prop_assert!(!lines.is_empty());
        let count = line_lengths(text).len();
        for (line, _) in lines {
            prop_assert!(
                *line >= 1 && *line <= count,
                "line {line} is outside the input's {count} lines: {message}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(400, false))]

    #[test]
    fn broken_dotenv_bundles_never_show_a_value(edits in edits(&[DOTENV_TOKENS])) {
        let text = apply(&dotenv_seed(), &edits);
        check(&text, BundleFormat::Dotenv)?;
    }

    #[test]
    fn broken_yaml_bundles_never_show_a_value(edits in edits(&[YAML_TOKENS])) {
        let text = apply(&yaml_seed(), &edits);
        check(&text, BundleFormat::Yaml)?;
    }

    #[test]
    fn any_text_is_a_bundle_or_an_error(
        text in any::<String>(),
        format in select(&[BundleFormat::Dotenv, BundleFormat::Yaml][..]),
    ) {
        check(&text, format)?;
    }
}

#[test]
fn the_seeds_are_sound() {
    let dotenv = bundle::parse(&dotenv_seed(), BundleFormat::Dotenv).unwrap();
    assert_eq!(dotenv.len(), 6);
    let yaml = bundle::parse(&yaml_seed(), BundleFormat::Yaml).unwrap();
    assert_eq!(yaml.len(), 7);
}
