//! The fake GitLab REST API behind `curl`: merge-request notes, written as GitLab writes them.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Answer, Request, Spec, parse};

/// The GitLab API base the fake answers (`CI_API_V4_URL`).
pub const GITLAB_API: &str = "https://gitlab.example.test/api/v4";

// ── The GitLab model ──────────────────────────────────────────────────────────────────────

#[derive(Debug, Clone)]
pub struct GlUser {
    pub id: u64,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub id: u64,
    pub project: u64,
    pub mr: u64,
    pub author_id: u64,
    pub author: String,
    pub body: String,
    pub system: bool,
}

#[derive(Debug, Default)]
pub struct GitLab {
    /// Tokens (`PRIVATE-TOKEN`) and the users they act as.
    pub tokens: BTreeMap<String, GlUser>,
    pub notes: Vec<Note>,
    /// Escape `<`, `>` and `&` in JSON strings as `\u003c`… (Rails' default) instead of
    /// writing them as they are: the workflow must find its note either way.
    pub html_escaped_json: bool,
    next_id: u64,
}

impl GitLab {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        5000 + self.next_id
    }

    /// Adds a note (for the notes that were there before a pipeline).
    pub fn add_note(&mut self, project: u64, mr: u64, user: &GlUser, body: &str, system: bool) {
        let id = self.next_id();
        self.notes.push(Note {
            id,
            project,
            mr,
            author_id: user.id,
            author: user.username.clone(),
            body: body.into(),
            system,
        });
    }

    pub fn notes_on(&self, project: u64, mr: u64) -> Vec<&Note> {
        self.notes
            .iter()
            .filter(|n| n.project == project && n.mr == mr)
            .collect()
    }

    /// A JSON string as GitLab writes it.
    fn string(&self, s: &str) -> String {
        let text = serde_json::to_string(s).unwrap();
        if self.html_escaped_json {
            text.replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026")
        } else {
            text
        }
    }

    /// A note as GitLab's API writes it: compact, keys in the entity's order.
    fn note_json(&self, n: &Note) -> String {
        format!(
            concat!(
                r#"{{"id":{},"type":null,"body":{},"attachment":null,"author":{{"id":{},"username":{},"#,
                r#""name":{},"state":"active","locked":false,"avatar_url":null,"web_url":{}}},"#,
                r#""created_at":"2026-12-01T10:00:00.000Z","updated_at":"2026-12-01T10:00:00.000Z","#,
                r#""system":{},"noteable_id":{},"noteable_type":"MergeRequest","project_id":{},"#,
                r#""resolvable":false,"confidential":false,"internal":false,"imported":false,"#,
                r#""imported_from":"none","noteable_iid":{},"commands_changes":{{}}}}"#
            ),
            n.id,
            self.string(&n.body),
            n.author_id,
            self.string(&n.author),
            self.string(&n.author),
            self.string(&format!("https://gitlab.example.test/{}", n.author)),
            n.system,
            90_000 + n.mr,
            n.project,
            n.mr,
        )
    }
}

// ── curl against GitLab ───────────────────────────────────────────────────────────────────

/// The answer of the fake GitLab: HTTP status and body.
struct Http(u16, String);

fn gl_error(status: u16, message: &str) -> Http {
    Http(status, json!({ "message": message }).to_string())
}

pub(super) fn curl(req: &Request, gl: &mut GitLab) -> Answer {
    const SPEC: &[Spec] = &[
        ("silent", Some('s'), false),
        ("show-error", Some('S'), false),
        ("fail", Some('f'), false),
        ("header", Some('H'), true),
        ("request", Some('X'), true),
        ("data-urlencode", None, true),
        ("output", Some('o'), true),
    ];
    let p = match parse(&req.args, SPEC) {
        Ok(p) => p,
        Err(e) => return Answer::fail(2, format!("curl: {e}")),
    };
    let [url] = p.positional.as_slice() else {
        return Answer::fail(2, "curl: the curl stub takes exactly one URL");
    };
    let Some(rest) = url.strip_prefix(GITLAB_API) else {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', ':']).next())
            .unwrap_or(url);
        return Answer::fail(6, format!("curl: (6) Could not resolve host: {host}"));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let query: BTreeMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();

    // --data-urlencode: `name@file` (the file's bytes), `name=content`, `=content`, `content`;
    // curl URL-encodes each, and GitLab decodes them back into parameters.
    let mut form = BTreeMap::new();
    for d in p.all("data-urlencode") {
        let (name, value) = if let Some((name, file)) =
            d.split_once('@').filter(|(n, _)| !n.contains('='))
        {
            match req.read_file(file) {
                Ok(text) => (name.to_string(), text),
                Err(_) => {
                    return Answer::fail(
                        26,
                        format!(
                            "curl: (26) Failed to open/read local data from file/application: {file}"
                        ),
                    );
                }
            }
        } else if let Some((name, content)) = d.split_once('=') {
            (name.to_string(), content.to_string())
        } else {
            (String::new(), d.clone())
        };
        form.insert(name, value);
    }
    let method = p
        .one("request")
        .map(str::to_string)
        .unwrap_or(if form.is_empty() { "GET" } else { "POST" }.into());
    let token = p.all("header").into_iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("PRIVATE-TOKEN")
            .then(|| v.trim().to_string())
    });

    let Http(status, body) = gitlab_route(gl, &method, path, &query, &form, token.as_deref());
    let ok = status < 400;
    if !ok && p.has("fail") {
        let stderr = if !p.has("silent") || p.has("show-error") {
            format!("curl: (22) The requested URL returned error: {status}")
        } else {
            String::new()
        };
        return Answer::fail(22, stderr);
    }
    match p.one("output") {
        Some(file) => match std::fs::write(req.cwd.join(file), body) {
            Ok(()) => Answer::ok(""),
            Err(_) => Answer::fail(23, "curl: (23) Failure writing output to destination"),
        },
        None => Answer::ok(body),
    }
}

fn gitlab_route(
    gl: &mut GitLab,
    method: &str,
    path: &str,
    query: &BTreeMap<&str, &str>,
    form: &BTreeMap<String, String>,
    token: Option<&str>,
) -> Http {
    let Some(user) = token.and_then(|t| gl.tokens.get(t)).cloned() else {
        return gl_error(401, "401 Unauthorized");
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let num = |s: &str| s.parse::<u64>().ok();
    match (method, parts.as_slice()) {
        // The token's own user (GitLab's answer starts with the id, as here).
        ("GET", ["user"]) => Http(
            200,
            format!(
                r#"{{"id":{},"username":{},"name":{}}}"#,
                user.id,
                gl.string(&user.username),
                gl.string(&user.username)
            ),
        ),
        ("GET", ["projects", pid, "merge_requests", iid, "notes"]) => {
            let (Some(pid), Some(iid)) = (num(pid), num(iid)) else {
                return gl_error(404, "404 Not found");
            };
            let mut notes: Vec<&Note> = gl.notes_on(pid, iid);
            // Default: newest first (sort=desc, order_by=created_at); ids grow with time.
            if query.get("sort").copied() != Some("asc") {
                notes.reverse();
            }
            let per_page = query
                .get("per_page")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(20)
                .clamp(1, 100);
            let page = query
                .get("page")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(1)
                .max(1);
            let items: Vec<String> = notes
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|n| gl.note_json(n))
                .collect();
            Http(200, format!("[{}]", items.join(",")))
        }
        ("POST", ["projects", pid, "merge_requests", iid, "notes"]) => {
            let (Some(pid), Some(iid)) = (num(pid), num(iid)) else {
                return gl_error(404, "404 Not found");
            };
            let Some(body) = form.get("body") else {
                return Http(400, json!({ "error": "body is missing" }).to_string());
            };
            gl.add_note(pid, iid, &user, body, false);
            let note = gl.notes.last().unwrap().clone();
            Http(201, gl.note_json(&note))
        }
        ("PUT", ["projects", pid, "merge_requests", iid, "notes", id]) => {
            let (Some(pid), Some(iid), Some(id)) = (num(pid), num(iid), num(id)) else {
                return gl_error(404, "404 Not found");
            };
            let Some(i) = gl
                .notes
                .iter()
                .position(|n| n.id == id && n.project == pid && n.mr == iid)
            else {
                return gl_error(404, "404 Note Not Found");
            };
            if gl.notes[i].author_id != user.id || gl.notes[i].system {
                return gl_error(403, "403 Forbidden");
            }
            let Some(body) = form.get("body") else {
                return Http(400, json!({ "error": "body is missing" }).to_string());
            };
            gl.notes[i].body = body.clone();
            let note = gl.notes[i].clone();
            Http(200, gl.note_json(&note))
        }
        _ => gl_error(404, "404 Not Found"),
    }
}
