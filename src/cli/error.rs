//! What a command-line error may show. clap quotes the text it refused ("invalid value '…'
//! for '--x'", "unexpected argument '…' found"), and a user may have pasted a secret value
//! or an age identity into any argument. So:
//!
//! * a value refused by one of our parsers ([`super::value`]) is shown as the parser worded
//!   it, which repeats the text only where it is plainly a name or a path;
//! * a stray value (an argument that is not a flag, where none belongs) is never repeated;
//! * any other text clap would quote (a mistyped flag or subcommand, a bad `--format`, a
//!   number) is repeated only when [`may_quote`] allows, so a typo still gets its "did you
//!   mean" while a pasted token does not come back;
//! * and from whatever is printed, any word that looks like private key material is cut out.

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::value::{Refused, may_quote};
use crate::text::without_secrets;

/// What stands where clap would have quoted a text that may be a secret.
const NOT_REPEATED: &str = "(not repeated here)";

/// The message of a value one of our parsers refused, e.g. `--account: account id must be
/// 32 lowercase hex characters, got 4 characters`; `None` for any other clap error.
pub(crate) fn refusal(err: &clap::Error) -> Option<String> {
    if err.kind() != ErrorKind::ValueValidation {
        return None;
    }
    let refused = std::error::Error::source(err)?.downcast_ref::<Refused>()?;
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.as_str(),
        _ => "",
    };
    Some(refused.message(arg))
}

/// Any other clap error as it may be printed: the text it quotes replaced unless it may be
/// repeated, and every word that looks like private key material cut out. With `color`,
/// clap's styles are kept unless something had to be cut.
pub(crate) fn shown(mut err: clap::Error, color: bool) -> String {
    let quoted = match err.kind() {
        ErrorKind::UnknownArgument => Some(ContextKind::InvalidArg),
        ErrorKind::InvalidSubcommand => Some(ContextKind::InvalidSubcommand),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::TooManyValues => {
            Some(ContextKind::InvalidValue)
        }
        _ => None,
    };
    if let Some(kind) = quoted
        && let Some(ContextValue::String(text)) = err.get(kind)
    {
        let stray = kind == ContextKind::InvalidArg && !text.starts_with('-');
        if stray || !may_quote(text) {
            err.insert(kind, ContextValue::String(NOT_REPEATED.to_string()));
            // clap's tips may quote the text again ("to pass '-x' as a value, use '-- -x'").
            err.remove(ContextKind::Suggested);
        }
    }
    let styled = err.render();
    let plain = styled.to_string();
    let clean = without_secrets(&plain);
    if color && clean == plain {
        styled.ansi().to_string()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::Cli;

    fn error_of(args: &[&str]) -> clap::Error {
        let mut argv = vec!["cfsecrets"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect_err("refused")
    }

    #[test]
    fn our_refusals_are_worded_by_the_parser() {
        let err = error_of(&["import", "--account", "abc"]);
        assert_eq!(
            refusal(&err).as_deref(),
            Some("--account: account id must be 32 lowercase hex characters, got 3 characters")
        );
        assert_eq!(refusal(&error_of(&["plan", "--format", "xml"])), None);
    }

    #[test]
    fn stray_values_and_identities_are_not_repeated() {
        let shown_for = |args: &[&str]| shown(error_of(args), false);
        let stray = shown_for(&["plan", "stray-canary-7b2e"]);
        assert!(stray.contains("unexpected argument"), "{stray}");
        assert!(!stray.contains("stray-canary"), "{stray}");
        let flag = shown_for(&["plan", "--detailed-exitcod"]);
        assert!(
            flag.contains("--detailed-exitcod"),
            "a mistyped flag is named: {flag}"
        );
        let typo = shown_for(&["plna"]);
        assert!(typo.contains("'plna'") && typo.contains("'plan'"), "{typo}");
        for args in [
            &["plan", "--format", "tok+en/canary=="][..],
            &["tok+en/canary=="],
            &["plan", "--tok+en/canary=="],
            &["emulator", "--latency-ms", "tok+en/canary=="],
        ] {
            let text = shown_for(args);
            assert!(text.contains(NOT_REPEATED), "{args:?}: {text}");
            assert!(!text.contains("canary"), "{args:?}: {text}");
        }
        let identity =
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
        for args in [
            &["plan", "--format", identity][..],
            &["-f", "x", identity],
            &["plan", &format!("--{identity}")],
        ] {
            let text = shown_for(args);
            assert!(
                !text.to_ascii_uppercase().contains("AGE-SECRET-KEY"),
                "{args:?}: {text}"
            );
        }
    }
}
