//! The wrangler config readers (`wrangler::read::parse`, TOML and JSON/JSONC) and the offline
//! binding checks after them: every diagnostic inside the input, printable, and free of any
//! age identity or `vars` value in the file.

use std::path::Path;

use cfsecrets::wrangler::read;
use cfsecrets::wrangler::{Declared, Format, check_offline};
use proptest::prelude::*;
use proptest::sample::select;

use super::{IDENTITY, JSON, apply, config, edits, inside, no_identity, printable, shows};

const ID: &str = "0123456789abcdef0123456789abcdef";
/// A value in the config's `vars`: wrangler's business, never repeated by us.
const VAR: &str = "Vq8+Ls2/Tn5 Ru7+Wz1/Yx4";

fn toml_seed() -> String {
    format!(
        "name = \"worker\"\nmain = \"src/index.ts\"\n\n[vars]\nAPI_SECRET = \"{VAR}\"\n\n\
         [[secrets_store_secrets]]\nbinding = \"STRIPE\"\nstore_id = \"{ID}\"\nsecret_name = \"STRIPE_KEY\"\n\n\
         [env.staging]\nsecrets_store_secrets = [ {{ binding = \"B\", store_id = \"{ID}\", secret_name = \"DB_URL\" }} ]\n\n\
         [[env.prod.secrets_store_secrets]]\nbinding = \"C\" # a comment\nstore_id = \"{ID}\"\nsecret_name = \"OPENAI_KEY\"\n"
    )
}

fn jsonc_seed() -> String {
    format!(
        "// wrangler.jsonc\n{{\n  \"name\": \"worker\", /* inline */\n  \"vars\": {{ \"API_SECRET\": \"{VAR}\" }},\n  \
         \"secrets_store_secrets\": [\n    {{ \"binding\": \"STRIPE\", \"store_id\": \"{ID}\", \"secret_name\": \"STRIPE_KEY\" }},\n  ],\n  \
         \"env\": {{\n    \"staging\": {{\n      \"secrets_store_secrets\": [\n        {{\n          \"binding\": \"B\",\n          \
         \"store_id\": \"{ID}\",\n          \"secret_name\": \"DB_URL\",\n        }},\n      ],\n    }},\n  }},\n}}\n"
    )
}

const TOML_TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'''",
    "\"\"\"",
    ".",
    "{",
    "}",
    ",",
    "#",
    "[env.x]\n",
    "secrets_store_secrets",
    "binding",
    "store_id",
    "secret_name",
    "binding = \"X\"\n",
    "secret_name = 7\n",
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
    "0x7fffffffffffffffffff",
    "1_000",
    "true",
    IDENTITY,
    IDENTITY,
];

const JSON_TOKENS: &[&str] = &[
    "//",
    "/*",
    "*/",
    "\"env\": {}",
    "\"binding\": \"X\",",
    "\"secrets_store_secrets\": [],",
    "\"store_id\": 1,",
    "\"secret_name\": null,",
    "'single'",
    "0x10",
    "+1",
    ".5",
    "NaN",
    "\\uD800",
    IDENTITY,
    IDENTITY,
];

/// What must hold of what the reader made of `text`.
fn check(text: &str, format: Format) -> Result<(), TestCaseError> {
    let name = match format {
        Format::Toml => "wrangler.toml",
        Format::Jsonc => "wrangler.jsonc",
    };
    let (config, diagnostics) = read::parse(Path::new(name), text, format);
    let checked = check_offline(std::slice::from_ref(&config), &Declared::default());
    for d in diagnostics.iter().chain(checked.iter()) {
        let message = d.to_string();
        inside(text, d.line, d.column, &message)?;
        printable(&message)?;
        no_identity(&message, text)?;
        prop_assert!(
            !shows(&message, VAR, 8),
            "a `vars` value is shown: {message}"
        );
    }
    for b in &config.bindings {
        for (what, pos) in [
            ("entry", b.at),
            ("binding", b.binding.pos),
            ("store_id", b.store_id.pos),
            ("secret_name", b.secret_name.pos),
        ] {
            inside(text, pos.line, pos.column, what)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(300, false))]

    #[test]
    fn broken_toml_configs_are_diagnosed(edits in edits(&[TOML_TOKENS])) {
        check(&apply(&toml_seed(), &edits), Format::Toml)?;
    }

    #[test]
    fn broken_json_configs_are_diagnosed(edits in edits(&[JSON, JSON_TOKENS])) {
        check(&apply(&jsonc_seed(), &edits), Format::Jsonc)?;
    }

    #[test]
    fn any_text_is_diagnosed(
        text in any::<String>(),
        format in select(&[Format::Toml, Format::Jsonc][..]),
    ) {
        check(&text, format)?;
    }
}

#[test]
fn the_seeds_are_sound() {
    for (text, format, bindings) in [
        (toml_seed(), Format::Toml, 3),
        (jsonc_seed(), Format::Jsonc, 2),
    ] {
        let (config, diagnostics) = read::parse(Path::new("w"), &text, format);
        assert!(diagnostics.is_empty(), "{diagnostics}");
        assert_eq!(config.bindings.len(), bindings);
    }
}
