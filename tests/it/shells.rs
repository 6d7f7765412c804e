//! Shells and humans: completion scripts for every shell, the man page, and the examples
//! that end every subcommand's `--help` — all generated from the one clap command tree, and
//! walked generically, so that a subcommand added later is covered without touching this
//! file.

use std::process::Command;

use cfsecrets::cli::Cli;
use clap::CommandFactory;

use crate::docs::{check_command, commands_in_line, readme_block, run_shell};
use crate::support::{Run, bin};

/// Every subcommand path of the CLI, nested ones included (`["secret", "set"]`), without
/// clap's generated `help`.
fn subcommand_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut paths = Vec::new();
    walk(&Cli::command(), &[], &mut paths);
    paths
}

fn cfsecrets(args: &[&str]) -> Run {
    bin().args(args).output().expect("run cfsecrets").into()
}

#[test]
fn the_walk_finds_nested_subcommands() {
    let paths = subcommand_paths();
    assert!(
        paths.contains(&vec!["secret".to_string(), "set".to_string()]),
        "{paths:?}"
    );
    assert!(
        paths.contains(&vec!["completions".to_string()]),
        "{paths:?}"
    );
    assert!(paths.len() >= 13, "{paths:?}");
}

#[test]
fn every_subcommand_help_ends_with_examples_that_the_binary_accepts() {
    let mut failures = Vec::new();
    for path in subcommand_paths() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = cfsecrets(&args);
        run.expect(0);
        let name = path.join(" ");
        let Some((_, examples)) = run.stdout.rsplit_once("\nExamples:\n") else {
            failures.push(format!(
                "`cfsecrets {name} --help` has no Examples: section"
            ));
            continue;
        };
        // The section is the last one, and every line of it is an example.
        let lines: Vec<&str> = examples.lines().filter(|l| !l.trim().is_empty()).collect();
        if !(1..=2).contains(&lines.len()) {
            failures.push(format!(
                "`{name}`: {} examples, want one or two",
                lines.len()
            ));
        }
        let mut shows_itself = false;
        for line in &lines {
            if !line.starts_with("  ") {
                failures.push(format!("`{name}`: `{line}` is not an indented example"));
            }
            let commands = commands_in_line(line);
            if commands.is_empty() {
                failures.push(format!("`{name}`: `{line}` runs no cfsecrets command"));
            }
            for words in commands {
                if let Err(err) = check_command(&words) {
                    failures.push(format!("`{name}` example: {err}"));
                }
                shows_itself |= words.windows(path.len()).any(|w| w == path.as_slice());
            }
        }
        if !shows_itself {
            failures.push(format!("`{name}`: no example runs `cfsecrets {name}`"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn completion_scripts_name_every_subcommand_and_flag_in_every_shell() {
    let top: Vec<String> = subcommand_paths()
        .into_iter()
        .map(|p| p.last().unwrap().clone())
        .collect();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = cfsecrets(&["completions", shell]);
        run.expect(0);
        let script = &run.stdout;
        assert!(script.len() > 1000, "{shell}: {} bytes", script.len());
        assert!(run.stderr.is_empty(), "{shell}: {}", run.stderr);
        for word in top
            .iter()
            .map(String::as_str)
            .chain(["wrangler", "detailed-exitcode"])
        {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let run = cfsecrets(&["completions", "tcsh"]);
    run.expect(64);
    assert!(run.stderr.contains("bash"), "{}", run.stderr);
}

/// What bash offers for `words` with the cursor on the last one, with the generated script
/// sourced as the README says to install it.
fn bash_candidates(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "source {script}\n\
         complete -p cfsecrets >/dev/null || exit 9\n\
         COMP_WORDS=({line}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n\
         _cfsecrets cfsecrets '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script = script.display(),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags_once_sourced() {
    let Some(()) =
        crate::support::require_tool("bash", "bash_completes_subcommands_and_flags_once_sourced")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("cfsecrets.bash");
    let run = cfsecrets(&["completions", "bash"]);
    run.expect(0);
    std::fs::write(&script, &run.stdout).unwrap();
    assert_eq!(bash_candidates(&script, &["cfsecrets", "pl"]), ["plan"]);
    assert_eq!(
        bash_candidates(&script, &["cfsecrets", "plan", "--det"]),
        ["--detailed-exitcode"]
    );
    let nested = bash_candidates(&script, &["cfsecrets", "secret", "s"]);
    assert_eq!(nested, ["set"]);
    let formats = bash_candidates(&script, &["cfsecrets", "plan", "--format", "m"]);
    assert_eq!(formats, ["markdown"]);
}

#[test]
fn the_man_page_renders_with_every_subcommand() {
    let run = cfsecrets(&["man"]);
    run.expect(0);
    let page = &run.stdout;
    assert!(page.contains(".TH cfsecrets 1"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for path in subcommand_paths().iter().filter(|p| p.len() == 1) {
        // roff escapes `-` as `\-`.
        let name = format!("cfsecrets\\-{}(1)", path[0].replace('-', "\\-"));
        assert!(page.contains(&name), "the page lacks {name}");
    }

    // --dir: one page per command and subcommand, nested ones included.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let run = cfsecrets(&["man", "--dir", out.to_str().unwrap()]);
    run.expect(0);
    let paths = subcommand_paths();
    assert!(
        run.stdout
            .contains(&format!("wrote {} pages", paths.len() + 1)),
        "{}",
        run.stdout
    );
    for path in std::iter::once(Vec::new()).chain(paths) {
        let name = std::iter::once("cfsecrets".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        let file = out.join(format!("{name}.1"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|_| panic!("{name}.1 missing"));
        assert!(text.contains(&format!(".TH {name} 1")), "{name}.1:\n{text}");
        if !path.is_empty() {
            assert!(text.contains("Examples:"), "{name}.1 lacks the examples");
        }
    }
    render_with_groff(&out.join("cfsecrets-secret-set.1"));
}

/// groff (as `man` runs it: UTF-8 input, no overstriking) reads the page without a
/// warning, and the text shows the synopsis and the options.
fn render_with_groff(page: &std::path::Path) {
    let Some(()) = crate::support::require_tool(
        "groff",
        "the_man_page_renders_with_every_subcommand (groff part)",
    ) else {
        return;
    };
    let out = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-P-cbou"])
        .arg(page)
        .output()
        .expect("run groff");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("SYNOPSIS") && text.contains("--account"),
        "{text}"
    );
}

#[test]
fn the_readme_install_lines_for_completions_and_man_work_as_written() {
    let Some(()) = crate::support::require_tool(
        "bash",
        "the_readme_install_lines_for_completions_and_man_work_as_written",
    ) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let block = readme_block("Shell completions and the man page");
    assert!(block.contains("cfsecrets completions bash"), "{block}");
    run_shell(&block, h, h).expect(0);
    let installed = h.join(".local/share/bash-completion/completions/cfsecrets");
    assert_eq!(bash_candidates(&installed, &["cfsecrets", "pl"]), ["plan"]);
    for file in [
        ".zfunc/_cfsecrets",
        ".config/fish/completions/cfsecrets.fish",
    ] {
        let text = std::fs::read_to_string(h.join(file)).unwrap();
        assert!(text.contains("detailed-exitcode"), "{file}");
    }
    let page = std::fs::read_to_string(h.join(".local/share/man/man1/cfsecrets-secret-set.1"));
    assert!(page.unwrap().contains(".TH cfsecrets-secret-set 1"));
}
