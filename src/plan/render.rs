//! Plan renderers: text for terminals, Markdown for pull-request comments, JSON for
//! machines. Pure functions from a [`Plan`] to a `String`; the caller prints through
//! [`crate::output::Output`].
//!
//! Symbols: `+` create, `~` update, `>` rename (server-side copy), `-` delete, `!` kept
//! because protected, a problem, or a safety block. Values never appear: only short
//! fingerprints (first 8 hex characters). User comments and live names are shown with control
//! and bidirectional-control characters escaped, so a comment cannot drive or reorder the
//! terminal.

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use crate::output::Palette;
use crate::text::count;
use crate::text::printable as clean;

use super::model::*;
use crate::marker::Marker;

/// Largest Markdown output, below GitHub's 65,536-character comment limit.
pub const MARKDOWN_LIMIT: usize = 65_000;

fn quoted(s: &str) -> String {
    format!("\"{}\"", clean(s))
}

fn fp_short(fp: Option<crate::domain::Fingerprint>) -> String {
    fp.map(|f| f.short())
        .unwrap_or_else(|| "(not compared)".to_string())
}

/// An inline word-level diff of two comments (`similar`), one output line per comment line.
/// Plain: removed text in `[-…-]`, added text in `{+…+}`; coloured: red and green.
fn comment_diff(old: &str, new: &str, p: &Palette, indent: &str) -> Vec<String> {
    let old = clean(old);
    let new = clean(new);
    let diff = TextDiff::from_lines(&old, &new);
    let mut lines = Vec::new();
    for change in diff.iter_all_inline_changes() {
        let (sign, colour, open, close) = match change.tag() {
            ChangeTag::Delete => ('-', p.red, "[-", "-]"),
            ChangeTag::Insert => ('+', p.green, "{+", "+}"),
            ChangeTag::Equal => (' ', "", "", ""),
        };
        let mut line = format!("{indent}{colour}{sign} ");
        for (emphasized, text) in change.iter_strings_lossy() {
            let text = text.trim_end_matches('\n');
            if emphasized && !text.is_empty() {
                if p.bold.is_empty() {
                    let _ = write!(line, "{open}{text}{close}");
                } else {
                    let _ = write!(line, "{}{text}{}{colour}", p.bold, p.reset);
                }
            } else {
                line.push_str(text);
            }
        }
        line.push_str(p.reset);
        lines.push(line);
    }
    lines
}

fn symbol(action: &Action) -> char {
    match action.kind {
        ActionKind::CreateStore | ActionKind::CreateSecrets => '+',
        ActionKind::Update => '~',
        ActionKind::Duplicate => '>',
        ActionKind::Delete => '-',
    }
}

fn colour_for(sym: char, p: &Palette) -> &'static str {
    match sym {
        '+' => p.green,
        '~' | '>' => p.yellow,
        '-' | '!' => p.red,
        _ => "",
    }
}

/// Indent of the detail lines under a change.
const DETAIL: &str = "      ";

/// The lines of one secret change: its head, then a line per thing that changes.
fn change_lines(action: &Action, change: &SecretChange, p: &Palette) -> Vec<String> {
    let mut lines = vec![head_line(action, change, p)];
    lines.extend(change.value.as_ref().map(value_line));
    lines.extend(change.scopes.as_ref().and_then(|s| scopes_line(s, p)));
    if let Some(uc) = &change.user_comment {
        lines.extend(comment_lines(uc, p));
    }
    if let Some(m) = &change.marker {
        lines.extend(marker_lines(action, m));
    }
    lines
}

/// `+ store/NAME  (reason)`, or `store/SOURCE → NAME` for a duplicate.
fn head_line(action: &Action, change: &SecretChange, p: &Palette) -> String {
    let sym = symbol(action);
    let c = colour_for(sym, p);
    let store = clean(&action.store.name);
    let name = clean(change.name.as_str());
    let head = match (action.kind, &change.source) {
        (ActionKind::Duplicate, Some(src)) => {
            format!("{store}/{} → {name}", clean(src.name.as_str()))
        }
        _ => format!("{store}/{name}"),
    };
    let mut reason = clean(&change.reason);
    if action.stage == Stage::EarlyDeletes {
        reason.push_str("; runs before the creates (quota)");
    }
    format!(
        "  {c}{sym}{r} {b}{head}{r}  {d}({reason}){r}",
        r = p.reset,
        b = p.bold,
        d = p.dim
    )
}

fn value_line(v: &ValueChange) -> String {
    let text = match v {
        ValueChange::New { new } => format!("value: new {}", fp_short(*new)),
        ValueChange::Changed { old, new } => {
            format!("value: {} → {}", old.short(), new.short())
        }
        ValueChange::Unverified { new: Some(new) } => {
            format!("value: not verified, written once as {}", new.short())
        }
        // Without an identity there is no fingerprint to name.
        ValueChange::Unverified { new: None } => {
            "value: not verified, written once (not compared)".to_string()
        }
    };
    format!("{DETAIL}{text}")
}

/// The scopes of a new secret, or those added and removed; nothing when none changed.
fn scopes_line(s: &ScopesChange, p: &Palette) -> Option<String> {
    if s.old.is_none() {
        return Some(format!("{DETAIL}scopes: {}", s.new_wire().join(", ")));
    }
    let mut parts = Vec::new();
    for a in s.added() {
        parts.push(format!("{}+{}{}", p.green, clean(&a), p.reset));
    }
    for r in s.removed() {
        parts.push(format!("{}-{}{}", p.red, clean(&r), p.reset));
    }
    (!parts.is_empty()).then(|| format!("{DETAIL}scopes: {}", parts.join(" ")))
}

fn comment_lines(uc: &TextChange, p: &Palette) -> Vec<String> {
    match &uc.old {
        None => vec![format!("{DETAIL}comment: {}", quoted(&uc.new))],
        Some(old) if old.is_empty() => {
            vec![format!("{DETAIL}comment: added {}", quoted(&uc.new))]
        }
        Some(old) if uc.new.is_empty() => {
            vec![format!("{DETAIL}comment: removed (was {})", quoted(old))]
        }
        Some(old) => {
            let mut lines = vec![format!("{DETAIL}comment:")];
            lines.extend(comment_diff(old, &uc.new, p, &format!("{DETAIL}  ")));
            lines
        }
    }
}

/// The marker itself stays out of sight (its fingerprint is on the value line); only
/// ownership and the protect flag are worth a line.
fn marker_lines(action: &Action, m: &TextChange) -> Vec<String> {
    let mut lines = Vec::new();
    let new = Marker::parse(&m.new).unwrap_or_default();
    // `None`: no marker before (a new secret, or an update taking ownership);
    // `Some(None)`: a text that is not a marker.
    let old = m.old.as_deref().map(Marker::parse);
    let takes_over = match old {
        None => action.kind == ActionKind::Update,
        Some(old) => old.is_none(),
    };
    if takes_over {
        lines.push(format!(
            "{DETAIL}ownership: cfsecrets takes over (marker added)"
        ));
    }
    if let Some(Some(old)) = old
        && old.protect != new.protect
    {
        let flag = |b: bool| if b { "on" } else { "off" };
        lines.push(format!(
            "{DETAIL}protect: {} → {}",
            flag(old.protect),
            flag(new.protect)
        ));
    }
    if new.protect && old.is_none() {
        lines.push(format!("{DETAIL}protect: on"));
    }
    lines
}

fn account_lines(account: &AccountPlan, p: &Palette) -> Vec<String> {
    let mut lines = Vec::new();
    for action in &account.actions {
        if action.kind == ActionKind::CreateStore {
            lines.push(format!(
                "  {}+{} {}store {}{}  {}({}){}",
                p.green,
                p.reset,
                p.bold,
                clean(&action.store.name),
                p.reset,
                p.dim,
                clean(&action.reason),
                p.reset
            ));
            continue;
        }
        for change in &action.secrets {
            lines.extend(change_lines(action, change, p));
        }
    }
    for k in &account.protected {
        lines.push(format!(
            "  {}!{} {}{}/{}{} kept  {}({}){}",
            p.red,
            p.reset,
            p.bold,
            clean(&k.store),
            clean(&k.name),
            p.reset,
            p.dim,
            clean(&k.reason),
            p.reset
        ));
    }
    if !account.unmanaged.is_empty() {
        lines.push(format!(
            "  unmanaged (left alone): {}",
            account.unmanaged.len()
        ));
        for k in &account.unmanaged {
            lines.push(format!(
                "    {}/{}  {}({}){}",
                clean(&k.store),
                clean(&k.name),
                p.dim,
                clean(&k.reason),
                p.reset
            ));
        }
    }
    if let Some(q) = &account.quota {
        lines.push(format!(
            "  quota: {} of {} in use; at most {} during apply, {} after",
            q.usage, q.quota, q.peak, q.end
        ));
    }
    for n in &account.notes {
        lines.push(format!("  note: {}", clean(n)));
    }
    for w in &account.warnings {
        lines.push(format!("  {}warning{}: {}", p.yellow, p.reset, clean(w)));
    }
    lines
}

fn problem_line(pr: &Problem) -> String {
    let mut at = clean(&pr.account);
    if let Some(s) = &pr.store {
        let _ = write!(at, "/{}", clean(s));
    }
    if let Some(s) = &pr.secret {
        let _ = write!(at, "/{}", clean(s));
    }
    format!("{at}: {}", clean(&pr.message))
}

fn block_line(b: &BlockReason) -> String {
    // A broken binding's message starts at the binding's `file:line:col` and names the store.
    if b.is_binding() {
        return clean(&b.message);
    }
    format!(
        "{}/{}: {}",
        clean(&b.account),
        clean(&b.store),
        clean(&b.message)
    )
}

/// How to lift the blocks of a blocked plan: `--allow-deletes N` for the delete thresholds,
/// `--allow-binding-breaks` for broken Workers bindings.
pub fn unblock_hint(plan: &Plan) -> &'static str {
    let bindings = plan.blocked.iter().any(BlockReason::is_binding);
    let deletes = plan.blocked.iter().any(|b| !b.is_binding());
    match (deletes, bindings) {
        (true, true) => "--allow-deletes N and --allow-binding-breaks",
        (false, true) => "--allow-binding-breaks",
        _ => "--allow-deletes N",
    }
}

/// The one-line summary: counts and write requests.
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    if plan.is_empty() {
        return format!(
            "No changes. {} unchanged, {} unmanaged, {} protected kept.",
            s.unchanged, s.unmanaged, s.protected_kept
        );
    }
    let mut parts = Vec::new();
    if s.stores_to_create > 0 {
        parts.push(format!(
            "{} to create",
            count(s.stores_to_create as usize, "store", "stores")
        ));
    }
    parts.push(format!(
        "{} to create, {} to update, {} to rename, {} to delete",
        s.secrets_to_create, s.secrets_to_update, s.secrets_to_rename, s.secrets_to_delete
    ));
    let mut kept = Vec::new();
    if s.protected_kept > 0 {
        kept.push(format!("{} protected kept", s.protected_kept));
    }
    if s.unmanaged > 0 {
        kept.push(format!("{} unmanaged", s.unmanaged));
    }
    if !kept.is_empty() {
        parts.push(kept.join(", "));
    }
    format!(
        "Plan: {}; {}.",
        parts.join("; "),
        count(s.write_requests as usize, "write request", "write requests")
    )
}

fn status_lines(plan: &Plan, p: &Palette) -> Vec<String> {
    let mut lines = Vec::new();
    for n in &plan.notes {
        lines.push(format!("note: {}", clean(n)));
    }
    for pr in &plan.problems {
        lines.push(format!(
            "{}! problem{}: {}",
            p.red,
            p.reset,
            problem_line(pr)
        ));
    }
    for b in &plan.blocked {
        lines.push(format!("{}! blocked{}: {}", p.red, p.reset, block_line(b)));
    }
    lines
}

/// Text for terminals; coloured only when `palette` is [`Palette::ANSI`].
pub fn text(plan: &Plan, palette: &Palette) -> String {
    let p = palette;
    let mut out = String::new();
    for account in &plan.accounts {
        let _ = writeln!(
            out,
            "{}{}{} ({})",
            p.bold,
            clean(&account.label),
            p.reset,
            clean(account.account_id.as_str())
        );
        let lines = account_lines(account, p);
        if lines.is_empty() {
            let _ = writeln!(out, "  no changes");
        }
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
        out.push('\n');
    }
    for l in status_lines(plan, p) {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(out, "{}{}{}", p.bold, summary_line(plan), p.reset);
    if plan.is_blocked() {
        let _ = writeln!(
            out,
            "{}This plan is blocked by a safety rule; apply will refuse it (use {} to allow it).{}",
            p.red,
            unblock_hint(plan),
            p.reset
        );
    }
    if plan.has_problems() {
        let _ = writeln!(
            out,
            "{}This plan has problems and cannot be applied.{}",
            p.red, p.reset
        );
    }
    out
}

fn html_escape(s: &str) -> String {
    clean(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "&#96;")
        .replace('|', "&#124;")
        .replace('*', "&#42;")
        .replace('_', "&#95;")
}

/// A code fence longer than any run of backticks in `lines`.
fn fence_for(lines: &[String]) -> String {
    let mut longest = 0;
    for l in lines {
        let mut run = 0;
        for c in l.chars() {
            if c == '`' {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
    }
    "`".repeat(longest.max(2) + 1)
}

/// Markdown for pull-request comments, under [`MARKDOWN_LIMIT`] characters.
pub fn markdown(plan: &Plan) -> String {
    markdown_with_limit(plan, MARKDOWN_LIMIT)
}

/// Markdown under `limit` characters: the summary always, then per-account details until the
/// limit, then a truncation note.
pub fn markdown_with_limit(plan: &Plan, limit: usize) -> String {
    let plain = Palette::PLAIN;
    let mut head = String::from("### cfsecrets plan\n\n");
    let _ = writeln!(head, "**{}**\n", html_escape(&summary_line(plan)));
    if plan.is_blocked() {
        head.push_str(
            "> [!CAUTION]\n> **Blocked by a safety rule**: apply will refuse this plan.\n",
        );
        for b in &plan.blocked {
            let _ = writeln!(head, "> - {}", html_escape(&block_line(b)));
        }
        head.push('\n');
    }
    if plan.has_problems() {
        head.push_str("> [!CAUTION]\n> **Problems**: this plan cannot be applied.\n");
        for pr in &plan.problems {
            let _ = writeln!(head, "> - {}", html_escape(&problem_line(pr)));
        }
        head.push('\n');
    }
    for n in &plan.notes {
        let _ = writeln!(head, "> [!NOTE]\n> {}\n", html_escape(n));
    }

    const NOTE_RESERVE: usize = 400;
    let budget = limit.saturating_sub(NOTE_RESERVE);
    let mut out = head;
    let mut dropped_lines = 0usize;
    let mut truncated = false;
    for account in &plan.accounts {
        let lines: Vec<String> = account_lines(account, &plain)
            .into_iter()
            .map(|l| l.strip_prefix("  ").map(str::to_string).unwrap_or(l))
            .collect();
        let changes: usize = account.actions.iter().map(|a| a.secrets.len().max(1)).sum();
        let fence = fence_for(&lines);
        let open = format!(
            "<details><summary><b>{}</b> ({}): {}</summary>\n\n{fence}diff\n",
            html_escape(&account.label),
            html_escape(account.account_id.as_str()),
            count(changes, "change", "changes")
        );
        let close = format!("{fence}\n\n</details>\n\n");
        if truncated {
            dropped_lines += lines.len();
            continue;
        }
        if out.len() + open.len() + close.len() > budget {
            truncated = true;
            dropped_lines += lines.len();
            continue;
        }
        out.push_str(&open);
        for (i, l) in lines.iter().enumerate() {
            if out.len() + l.len() + 1 + close.len() > budget {
                truncated = true;
                dropped_lines += lines.len() - i;
                break;
            }
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&close);
    }
    if truncated {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **Truncated**: {} did not fit in a comment. \
             Run `cfsecrets plan` (or `--format json`) for the full plan.",
            count(dropped_lines, "more line", "more lines")
        );
    }
    out
}

/// The versioned JSON document (`schemas/plan.schema.json`), pretty-printed.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan always serializes");
    s.push('\n');
    s
}
