//! The one reader checked against serde: on generated manifests (sound and broken, block and
//! flow, quoted and plain scalars, anchors and aliases) the walk finds no problem exactly when
//! serde reads the document into the raw types, and then both hold the same values at the
//! same places. Documents whose root is not a map are worded as the parser words them.

use std::path::Path;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::raw::RawManifest;
use super::structure::{Kind, SECRET_KEYS, parse_tree, walk};
use super::syntax::{not_a_map, parser_diagnostic};

/// Picks one of `options`.
fn pick<'a>(rng: &mut StdRng, options: &[&'a str]) -> &'a str {
    options.choose(rng).copied().unwrap_or_default()
}

/// A map written in block style (`indent` spaces deep) or in flow style, from its entries.
fn map(rng: &mut StdRng, indent: usize, entries: &[(String, String)]) -> String {
    if entries.is_empty() {
        return " {}".to_string();
    }
    let flow = rng.random_bool(0.3) && entries.iter().all(|(_, v)| !v.contains('\n'));
    if flow {
        let inner: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.trim_start()))
            .collect();
        format!(" {{ {} }}", inner.join(", "))
    } else {
        let pad = " ".repeat(indent);
        entries
            .iter()
            .map(|(k, v)| format!("\n{pad}{k}:{v}"))
            .collect()
    }
}

fn scalar(rng: &mut StdRng) -> String {
    format!(
        " {}",
        pick(
            rng,
            &[
                "r", "\"r\"", "'a b'", "123", "007", "true", "~", "[a]", "x.age", "\"\"", ".nan",
                "{ a: b }", "-1", "\"1\"",
            ],
        )
    )
}

fn scopes(rng: &mut StdRng) -> String {
    format!(
        " {}",
        pick(
            rng,
            &[
                "[workers]",
                "[workers, ai_gateway]",
                "[]",
                "~",
                "workers",
                "[\"dex\", 'access']",
                "[kv]",
                "[[a]]",
                "*sc",
                "[1, true]",
            ],
        )
    )
}

fn secret(rng: &mut StdRng, indent: usize) -> String {
    let mut entries = Vec::new();
    // Every key, and a misspelled one.
    for key in SECRET_KEYS.into_iter().chain(["valu"]) {
        if !rng.random_bool(0.45) {
            continue;
        }
        let v = match key {
            "value" => format!(
                " {}",
                pick(
                    rng,
                    &[
                        "values/a.age",
                        "keep",
                        "{ bundle: b.env.age, key: K }",
                        "{ bundle: b.env.age }",
                        "{ bundle: b.env.age, key: K, x: 1 }",
                        "12",
                        "~",
                        "[a]",
                        "\"values/q.age\"",
                    ],
                )
            ),
            "scopes" => scopes(rng),
            "comment" => {
                if rng.random_bool(0.2) {
                    format!(
                        " |\n{}multi\n{}line",
                        " ".repeat(indent + 2),
                        " ".repeat(indent + 2)
                    )
                } else {
                    scalar(rng)
                }
            }
            "protect" => format!(
                " {}",
                pick(rng, &["true", "false", "\"true\"", "yes", "1", "~", "[x]"])
            ),
            "ensure" => format!(" {}", pick(rng, &["present", "absent", "gone", "~", "1"])),
            _ => scalar(rng),
        };
        entries.push((key.to_string(), v));
    }
    if rng.random_bool(0.05) {
        return " just a string".to_string();
    }
    map(rng, indent, &entries)
}

fn named(
    rng: &mut StdRng,
    indent: usize,
    names: &[&str],
    max: usize,
    mut body: impl FnMut(&mut StdRng, usize) -> String,
) -> String {
    let n = rng.random_range(0..=max);
    let mut chosen: Vec<&str> = Vec::new();
    for _ in 0..n {
        let name = pick(rng, names);
        if !chosen.contains(&name) {
            chosen.push(name);
        }
    }
    let entries: Vec<(String, String)> = chosen
        .iter()
        .map(|name| (name.to_string(), body(rng, indent + 2)))
        .collect();
    map(rng, indent, &entries)
}

/// One generated manifest.
fn document(seed: u64) -> String {
    let rng = &mut StdRng::seed_from_u64(seed);
    let mut text = String::new();
    if rng.random_bool(0.9) {
        text.push_str(&format!(
            "version:{}\n",
            pick(rng, &[" 1", " \"1\"", " 2", " 1.0", " x"])
        ));
    }
    for key in ["recipients_file", "fingerprint_key"] {
        if rng.random_bool(0.9) {
            text.push_str(&format!("{key}:{}\n", scalar(rng)));
        }
    }
    if rng.random_bool(0.5) {
        text.push_str("defaults:\n  scopes: &sc [workers]\n");
    } else if rng.random_bool(0.3) {
        text.push_str(&format!("defaults:{}\n", scopes(rng)));
    }
    if rng.random_bool(0.3) {
        let mut entries = Vec::new();
        for key in ["max_deletes", "max_delete_percent", "min_existing"] {
            if rng.random_bool(0.5) {
                let v = pick(
                    rng,
                    &[" 5", " \"7\"", " -1", " 101", " ~", " x", " 99999999999"],
                );
                entries.push((key.to_string(), v.to_string()));
            }
        }
        text.push_str(&format!("safety:{}\n", map(rng, 2, &entries)));
    }
    if rng.random_bool(0.03) {
        text.push_str("colour: blue\n");
    }
    if rng.random_bool(0.95) {
        let accounts = named(
            rng,
            2,
            &["prod", "'007'", "\"a b\"", "staging"],
            2,
            |rng, ind| {
                let mut entries = Vec::new();
                if rng.random_bool(0.6) {
                    let id = pick(
                        rng,
                        &[
                            " 0123456789abcdef0123456789abcdef",
                            " 01234567890123456789012345678901",
                            " ~",
                            " [x]",
                        ],
                    );
                    entries.push(("account_id".to_string(), id.to_string()));
                }
                if rng.random_bool(0.9) {
                    let stores = named(rng, ind + 2, &["main", "'1'", "other"], 2, |rng, ind| {
                        let mut entries = Vec::new();
                        if rng.random_bool(0.3) {
                            let prune = pick(rng, &[" owned", " all", " none", " some", " ~"]);
                            entries.push(("prune".to_string(), prune.to_string()));
                        }
                        if rng.random_bool(0.9) {
                            let secrets = named(
                                rng,
                                ind + 2,
                                &["A", "B_2", "'3'", "bad name", "C"],
                                3,
                                secret,
                            );
                            entries.push(("secrets".to_string(), secrets));
                        }
                        map(rng, ind, &entries)
                    });
                    entries.push(("stores".to_string(), stores));
                }
                map(rng, ind, &entries)
            },
        );
        text.push_str(&format!("accounts:{accounts}\n"));
    }
    text
}

/// The walk and serde agree on `text`.
fn agree(text: &str) -> Result<(), TestCaseError> {
    let path = Path::new("m.yaml");
    let typed = serde_saphyr::from_str::<RawManifest>(text);
    let tree = match parse_tree(text) {
        Ok(tree) => tree,
        Err(_) => {
            prop_assert!(typed.is_err(), "serde read what the tree refused:\n{text}");
            return Ok(());
        }
    };
    if !matches!(tree.value, Kind::Map(_)) {
        let err = typed.as_ref().err();
        prop_assert!(
            err.is_some(),
            "serde read a document that is not a map:\n{text}"
        );
        let expected = parser_diagnostic(path, err.expect("checked"));
        prop_assert_eq!(not_a_map(path, text, &tree), expected, "{}", text);
        return Ok(());
    }
    let (walked, diags) = walk(path, text, &tree);
    match typed {
        Ok(typed) => {
            prop_assert!(
                diags.is_empty(),
                "the walk refused what serde read:\n{text}\n{diags}"
            );
            prop_assert_eq!(walked, typed, "{}", text);
        }
        Err(err) => prop_assert!(
            !diags.is_empty(),
            "the walk found nothing wrong but serde said {err}:\n{text}"
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_walk_reads_what_serde_reads(seed in any::<u64>()) {
        agree(&document(seed))?;
    }
}

#[test]
fn the_generator_makes_sound_documents_too() {
    let sound = (0..400)
        .map(document)
        .filter(|text| {
            parse_tree(text).is_ok_and(|tree| {
                matches!(tree.value, Kind::Map(_))
                    && walk(Path::new("m.yaml"), text, &tree).1.is_empty()
            })
        })
        .count();
    assert!(
        sound >= 20,
        "only {sound} of 400 generated documents are sound"
    );
}

#[test]
fn documents_that_are_not_maps_are_worded_as_the_parser_words_them() {
    for text in [
        "",
        "# only a comment\n",
        "...\n",
        "\u{feff}# bom\n",
        "~",
        "null",
        "---\n",
        "--- # c\n",
        "--- |\n  text\n",
        "true",
        "12",
        "1.5",
        "hello",
        "- a\n- b\n",
        "[1,2]",
        "&a [1]",
        "\n\n- x\n",
        "%YAML 1.2\n---\n",
    ] {
        agree(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
}
