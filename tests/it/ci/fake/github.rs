//! The fake GitHub behind `gh`: pull-request and issue comments, issues and labels, with the
//! permissions of the token a job was given.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{Answer, Parsed, Request, Spec, parse};

/// The login GitHub gives `GITHUB_TOKEN`'s comments.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

// ── The GitHub model ──────────────────────────────────────────────────────────────────────

/// A `GITHUB_TOKEN` (or any token) the fake GitHub knows.
#[derive(Debug, Clone)]
pub struct GhToken {
    pub login: String,
    /// Scopes it may write: `pull-requests`, `issues`.
    pub write: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: u64,
    /// The issue or pull request number.
    pub on: u64,
    pub login: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub open: bool,
    /// Comments given when closing.
    pub closing_comments: Vec<String>,
}

#[derive(Debug, Default)]
pub struct GitHub {
    /// `owner/name`.
    pub repo: String,
    pub tokens: BTreeMap<String, GhToken>,
    /// Open pull requests by number.
    pub pulls: BTreeSet<u64>,
    pub comments: Vec<Comment>,
    pub issues: Vec<Issue>,
    pub labels: BTreeSet<String>,
    next_id: u64,
}

impl GitHub {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        1000 + self.next_id
    }

    /// Adds a comment as `login` (for the comments that were there before a run).
    pub fn add_comment(&mut self, on: u64, login: &str, body: &str) -> u64 {
        let id = self.next_id();
        self.comments.push(Comment {
            id,
            on,
            login: login.into(),
            body: body.into(),
        });
        id
    }

    /// Comments on `on`, oldest first.
    pub fn comments_on(&self, on: u64) -> Vec<&Comment> {
        self.comments.iter().filter(|c| c.on == on).collect()
    }

    pub fn comment_json(&self, c: &Comment) -> Value {
        json!({
            "id": c.id,
            "node_id": format!("IC_{}", c.id),
            "html_url": format!("https://github.com/{}/pull/{}#issuecomment-{}", self.repo, c.on, c.id),
            "user": {
                "login": c.login,
                "type": if c.login.ends_with("[bot]") { "Bot" } else { "User" },
            },
            "body": c.body,
            "created_at": "2026-12-01T10:00:00Z",
            "updated_at": "2026-12-01T10:00:00Z",
        })
    }

    pub fn issue_json(&self, i: &Issue, fields: &[&str]) -> Value {
        let mut out = serde_json::Map::new();
        for f in fields {
            let v = match *f {
                "number" => json!(i.number),
                "title" => json!(i.title),
                "body" => json!(i.body),
                "state" => json!(if i.open { "OPEN" } else { "CLOSED" }),
                "labels" => json!(
                    i.labels
                        .iter()
                        .map(|l| json!({ "name": l }))
                        .collect::<Vec<_>>()
                ),
                "url" => json!(format!(
                    "https://github.com/{}/issues/{}",
                    self.repo, i.number
                )),
                other => return json!({ "unknown field": other }),
            };
            out.insert((*f).to_string(), v);
        }
        Value::Object(out)
    }
}

// ── gh ────────────────────────────────────────────────────────────────────────────────────

/// The `--jq` filters the fake evaluates, each with its meaning in Rust. A test runs the real
/// `jq` on the same input to prove the two agree.
/// A `--jq` filter and what it prints, one line per item.
pub type JqFilter = (&'static str, fn(&Value) -> Vec<String>);

pub const JQ_FILTERS: &[JqFilter] = &[
    (
        r#".[] | select(.user.login == "github-actions[bot]" and (.body | startswith("<!-- cfsecrets-plan -->"))) | .id"#,
        |v| {
            v.as_array()
                .into_iter()
                .flatten()
                .filter(|c| {
                    c["user"]["login"] == ACTIONS_BOT
                        && c["body"]
                            .as_str()
                            .is_some_and(|b| b.starts_with("<!-- cfsecrets-plan -->"))
                })
                .map(|c| c["id"].to_string())
                .collect()
        },
    ),
    (".[0].number // empty", |v| match &v[0]["number"] {
        Value::Null | Value::Bool(false) => Vec::new(),
        n => vec![n.to_string()],
    }),
];

/// What `gh --jq FILTER` prints for `input`.
fn jq(filter: &str, input: &Value) -> Result<String, String> {
    let (_, f) = JQ_FILTERS
        .iter()
        .find(|(f, _)| *f == filter)
        .ok_or_else(|| {
            format!("the gh stub does not know the --jq filter {filter:?}; add it to JQ_FILTERS")
        })?;
    Ok(f(input).into_iter().map(|l| l + "\n").collect())
}

pub(super) fn gh(req: &Request, gh: &mut GitHub) -> Answer {
    let token = req
        .env
        .get("GH_TOKEN")
        .or_else(|| req.env.get("GITHUB_TOKEN"))
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Answer::fail(
            4,
            "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.",
        );
    };
    let Some(auth) = gh.tokens.get(token).cloned() else {
        return Answer::fail(
            1,
            "HTTP 401: Bad credentials (https://api.github.com/graphql)",
        );
    };
    let result = match req.args.first().map(String::as_str) {
        Some("api") => gh_api(req, gh, &auth),
        Some("issue") => gh_issue(req, gh, &auth),
        Some("label") => gh_label(req, gh, &auth),
        _ => Err(Answer::fail(
            1,
            format!("the gh stub does not know `gh {}`", req.args.join(" ")),
        )),
    };
    result.unwrap_or_else(|a| a)
}

fn http_error(status: u16, message: &str) -> Answer {
    Answer::fail(1, format!("gh: {message} (HTTP {status})"))
}

fn gh_api(req: &Request, gh: &mut GitHub, auth: &GhToken) -> Result<Answer, Answer> {
    const SPEC: &[Spec] = &[
        ("method", Some('X'), true),
        ("jq", Some('q'), true),
        ("field", Some('F'), true),
        ("raw-field", Some('f'), true),
        ("header", Some('H'), true),
        ("paginate", None, false),
        ("silent", None, false),
    ];
    let p = parse(&req.args[1..], SPEC).map_err(|e| Answer::fail(1, e))?;
    let [endpoint] = p.positional.as_slice() else {
        return Err(Answer::fail(1, "gh api: expected one endpoint"));
    };
    let mut fields = serde_json::Map::new();
    for f in p.all("field") {
        let (k, v) = f
            .split_once('=')
            .ok_or(Answer::fail(1, format!("bad field {f:?}")))?;
        let value = match v {
            v if v.starts_with('@') => {
                json!(req.read_file(&v[1..]).map_err(|e| Answer::fail(1, e))?)
            }
            "true" => json!(true),
            "false" => json!(false),
            "null" => Value::Null,
            v if v.parse::<i64>().is_ok() => json!(v.parse::<i64>().unwrap()),
            v => json!(v),
        };
        fields.insert(k.to_string(), value);
    }
    for f in p.all("raw-field") {
        let (k, v) = f
            .split_once('=')
            .ok_or(Answer::fail(1, format!("bad field {f:?}")))?;
        fields.insert(k.to_string(), json!(v));
    }
    let method = p
        .one("method")
        .map(str::to_uppercase)
        .unwrap_or(if fields.is_empty() { "GET" } else { "POST" }.into());
    let path = endpoint.trim_start_matches('/');
    let Some(rest) = path.strip_prefix(&format!("repos/{}/", gh.repo)) else {
        return Err(http_error(404, "Not Found"));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let response = match (method.as_str(), parts.as_slice()) {
        ("GET", ["issues", n, "comments"]) => {
            let n: u64 = n.parse().map_err(|_| http_error(404, "Not Found"))?;
            let list: Vec<Value> = gh
                .comments_on(n)
                .into_iter()
                .map(|c| gh.comment_json(c))
                .collect();
            Value::Array(list)
        }
        ("POST", ["issues", n, "comments"]) => {
            let n: u64 = n.parse().map_err(|_| http_error(404, "Not Found"))?;
            let is_pull = gh.pulls.contains(&n);
            if !is_pull && !gh.issues.iter().any(|i| i.number == n) {
                return Err(http_error(404, "Not Found"));
            }
            let may =
                auth.write.contains("issues") || (is_pull && auth.write.contains("pull-requests"));
            if !may {
                return Err(http_error(403, "Resource not accessible by integration"));
            }
            let body = fields
                .get("body")
                .and_then(Value::as_str)
                .ok_or(http_error(422, "Validation Failed"))?;
            let id = gh.add_comment(n, &auth.login, body);
            let c = gh.comments.iter().find(|c| c.id == id).unwrap().clone();
            gh.comment_json(&c)
        }
        ("PATCH", ["issues", "comments", id]) => {
            let id: u64 = id.parse().map_err(|_| http_error(404, "Not Found"))?;
            let Some(i) = gh.comments.iter().position(|c| c.id == id) else {
                return Err(http_error(404, "Not Found"));
            };
            let on = gh.comments[i].on;
            let may = auth.write.contains("issues")
                || (gh.pulls.contains(&on) && auth.write.contains("pull-requests"));
            if !may {
                return Err(http_error(403, "Resource not accessible by integration"));
            }
            let body = fields
                .get("body")
                .and_then(Value::as_str)
                .ok_or(http_error(422, "Validation Failed"))?;
            gh.comments[i].body = body.to_string();
            let c = gh.comments[i].clone();
            gh.comment_json(&c)
        }
        _ => return Err(http_error(404, "Not Found")),
    };
    if p.has("silent") {
        return Ok(Answer::ok(""));
    }
    match p.one("jq") {
        Some(filter) => jq(filter, &response)
            .map(Answer::ok)
            .map_err(|e| Answer::fail(1, e)),
        None => Ok(Answer::ok(response.to_string() + "\n")),
    }
}

/// The repository `gh issue`/`gh label` act on: `--repo`, else `GH_REPO` (there is no git
/// remote in the test's checkout, as there is none in a job without actions/checkout).
fn gh_repo(req: &Request, p: &Parsed, gh: &GitHub) -> Result<(), Answer> {
    let repo = p
        .one("repo")
        .map(str::to_string)
        .or_else(|| req.env.get("GH_REPO").cloned())
        .ok_or(Answer::fail(
            1,
            "failed to run git: fatal: not a git repository (or any of the parent directories): .git",
        ))?;
    if repo != gh.repo {
        return Err(Answer::fail(
            1,
            format!("GraphQL: Could not resolve to a Repository with the name '{repo}'."),
        ));
    }
    Ok(())
}

fn need_issues_write(auth: &GhToken) -> Result<(), Answer> {
    if auth.write.contains("issues") {
        Ok(())
    } else {
        Err(Answer::fail(
            1,
            "GraphQL: Resource not accessible by integration (createIssue)",
        ))
    }
}

fn body_of(req: &Request, p: &Parsed) -> Result<Option<String>, Answer> {
    if let Some(file) = p.one("body-file") {
        return req
            .read_file(file)
            .map(Some)
            .map_err(|e| Answer::fail(1, e));
    }
    Ok(p.one("body").map(str::to_string))
}

fn issue_number(p: &Parsed, gh: &GitHub) -> Result<usize, Answer> {
    let n: u64 = p
        .positional
        .first()
        .and_then(|n| n.trim_start_matches('#').parse().ok())
        .ok_or(Answer::fail(1, "expected an issue number"))?;
    gh.issues
        .iter()
        .position(|i| i.number == n)
        .ok_or(Answer::fail(
            1,
            format!(
                "GraphQL: Could not resolve to an issue or pull request with the number of {n}."
            ),
        ))
}

fn gh_issue(req: &Request, gh: &mut GitHub, auth: &GhToken) -> Result<Answer, Answer> {
    let sub = req.args.get(1).map(String::as_str).unwrap_or("");
    let args = &req.args[2.min(req.args.len())..];
    match sub {
        "list" => {
            const SPEC: &[Spec] = &[
                ("label", Some('l'), true),
                ("state", Some('s'), true),
                ("json", None, true),
                ("jq", Some('q'), true),
                ("limit", Some('L'), true),
                ("repo", Some('R'), true),
            ];
            let p = parse(args, SPEC).map_err(|e| Answer::fail(1, e))?;
            gh_repo(req, &p, gh)?;
            let Some(fields) = p.one("json") else {
                return Err(Answer::fail(
                    1,
                    "the gh stub answers `gh issue list` with --json only",
                ));
            };
            let fields: Vec<&str> = fields.split(',').collect();
            let labels = p.all("label");
            let state = p.one("state").unwrap_or("open");
            let limit: usize = p
                .one("limit")
                .map_or(Ok(30), str::parse)
                .map_err(|_| Answer::fail(1, "bad --limit"))?;
            let mut found: Vec<&Issue> = gh
                .issues
                .iter()
                .filter(|i| labels.iter().all(|l| i.labels.contains(l)))
                .filter(|i| match state {
                    "open" => i.open,
                    "closed" => !i.open,
                    _ => true,
                })
                .collect();
            found.sort_by_key(|i| std::cmp::Reverse(i.number));
            found.truncate(limit);
            let list = Value::Array(found.iter().map(|i| gh.issue_json(i, &fields)).collect());
            match p.one("jq") {
                Some(filter) => jq(filter, &list)
                    .map(Answer::ok)
                    .map_err(|e| Answer::fail(1, e)),
                None => Ok(Answer::ok(list.to_string() + "\n")),
            }
        }
        "create" => {
            const SPEC: &[Spec] = &[
                ("title", Some('t'), true),
                ("body", Some('b'), true),
                ("body-file", Some('F'), true),
                ("label", Some('l'), true),
                ("repo", Some('R'), true),
            ];
            let p = parse(args, SPEC).map_err(|e| Answer::fail(1, e))?;
            gh_repo(req, &p, gh)?;
            need_issues_write(auth)?;
            let (Some(title), Some(body)) = (p.one("title"), body_of(req, &p)?) else {
                return Err(Answer::fail(
                    1,
                    "must provide `--title` and `--body` (or `--fill` or `--web`) when not running interactively",
                ));
            };
            let labels: Vec<String> = p
                .all("label")
                .iter()
                .flat_map(|l| l.split(','))
                .map(str::to_string)
                .collect();
            if let Some(missing) = labels.iter().find(|l| !gh.labels.contains(*l)) {
                return Err(Answer::fail(
                    1,
                    format!("could not add label: '{missing}' not found"),
                ));
            }
            let number = gh.issues.iter().map(|i| i.number).max().unwrap_or(40) + 1;
            gh.issues.push(Issue {
                number,
                title: title.to_string(),
                body,
                labels,
                open: true,
                closing_comments: Vec::new(),
            });
            Ok(Answer::ok(format!(
                "https://github.com/{}/issues/{number}\n",
                gh.repo
            )))
        }
        "edit" => {
            const SPEC: &[Spec] = &[
                ("title", Some('t'), true),
                ("body", Some('b'), true),
                ("body-file", Some('F'), true),
                ("repo", Some('R'), true),
            ];
            let p = parse(args, SPEC).map_err(|e| Answer::fail(1, e))?;
            gh_repo(req, &p, gh)?;
            need_issues_write(auth)?;
            let i = issue_number(&p, gh)?;
            if let Some(body) = body_of(req, &p)? {
                gh.issues[i].body = body;
            }
            if let Some(title) = p.one("title") {
                gh.issues[i].title = title.to_string();
            }
            Ok(Answer::ok(format!(
                "https://github.com/{}/issues/{}\n",
                gh.repo, gh.issues[i].number
            )))
        }
        "close" => {
            const SPEC: &[Spec] = &[
                ("comment", Some('c'), true),
                ("reason", Some('r'), true),
                ("repo", Some('R'), true),
            ];
            let p = parse(args, SPEC).map_err(|e| Answer::fail(1, e))?;
            gh_repo(req, &p, gh)?;
            need_issues_write(auth)?;
            let i = issue_number(&p, gh)?;
            if let Some(c) = p.one("comment") {
                gh.issues[i].closing_comments.push(c.to_string());
            }
            gh.issues[i].open = false;
            Ok(Answer {
                code: 0,
                stdout: String::new(),
                stderr: format!("✓ Closed issue {}/#{}", gh.repo, gh.issues[i].number),
            })
        }
        _ => Err(Answer::fail(
            1,
            format!("the gh stub does not know `gh issue {sub}`"),
        )),
    }
}

fn gh_label(req: &Request, gh: &mut GitHub, auth: &GhToken) -> Result<Answer, Answer> {
    if req.args.get(1).map(String::as_str) != Some("create") {
        return Err(Answer::fail(
            1,
            format!("the gh stub does not know `gh {}`", req.args.join(" ")),
        ));
    }
    const SPEC: &[Spec] = &[
        ("color", Some('c'), true),
        ("description", Some('d'), true),
        ("force", Some('f'), false),
        ("repo", Some('R'), true),
    ];
    let p = parse(&req.args[2..], SPEC).map_err(|e| Answer::fail(1, e))?;
    gh_repo(req, &p, gh)?;
    need_issues_write(auth)?;
    let [name] = p.positional.as_slice() else {
        return Err(Answer::fail(
            1,
            "cannot create label: name argument required",
        ));
    };
    if gh.labels.contains(name) && !p.has("force") {
        return Err(Answer::fail(
            1,
            format!(
                "label with name \"{name}\" already exists; use `--force` to update its color and description"
            ),
        ));
    }
    gh.labels.insert(name.clone());
    Ok(Answer::ok(""))
}
