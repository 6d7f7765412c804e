//! A GitLab CI runner for `examples/ci/gitlab-ci.yml`, faithful where the example depends on
//! it:
//!
//! * `workflow: rules:` decide whether there is a pipeline, each job's `rules:` whether it is
//!   in it (`if:` with `$VAR`, quoted strings, `==`, `!=`, `&&`, `||`, parentheses; `changes:`
//!   matched against the changed files for push and merge-request pipelines, true otherwise);
//! * jobs run stage by stage (by name within a stage); a job runs when the jobs it `needs:` (else every
//!   job of the earlier stages) succeeded, in a fresh checkout of the test's project (without
//!   the identity file), with the artifacts of those jobs copied in;
//! * `before_script` (the job's, else `default:`'s) and `script` run as one bash script under
//!   `set -eo pipefail`, as the runner's bash shell does;
//! * variables: predefined `CI_*`, then the file's `variables:` and the job's (with `$VAR`
//!   expanded), then the project's CI/CD variables, which win; a protected variable only in
//!   pipelines of the (protected) default branch; none of them in a pipeline for a fork's
//!   merge request, which runs in the fork.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::actions::Outcome;
use super::fake::GITLAB_API;
use super::runner::{Ci, Ran, copy_tree, end_groups, glob};

/// The project the pipelines belong to, and the fork a merge request may come from.
pub const PROJECT_ID: u64 = 4242;
pub const FORK_PROJECT_ID: u64 = 5151;
pub const DEFAULT_BRANCH: &str = "main";

/// Top-level keys that are not jobs.
const RESERVED: &[&str] = &[
    "stages",
    "workflow",
    "default",
    "variables",
    "include",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
];

pub struct Config {
    pub doc: Value,
}

impl Config {
    pub fn load() -> Self {
        let path = format!("{}/examples/ci/gitlab-ci.yml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("gitlab-ci.yml is not valid YAML: {e}"));
        Self { doc }
    }

    /// Job names (by name: the YAML reader keeps no key order).
    pub fn jobs(&self) -> Vec<String> {
        self.doc
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !RESERVED.contains(&k.as_str()) && !k.starts_with('.'))
            .cloned()
            .collect()
    }

    fn stages(&self) -> Vec<String> {
        match self.doc["stages"].as_array() {
            Some(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
            None => ["build", "test", "deploy"].map(String::from).to_vec(),
        }
    }

    fn stage_of(&self, job: &str) -> usize {
        let stage = self.doc[job]["stage"].as_str().unwrap_or("test");
        self.stages()
            .iter()
            .position(|s| s == stage)
            .unwrap_or_else(|| panic!("job {job}: stage {stage} is not in stages:"))
    }
}

/// A finished (or skipped) job.
#[derive(Debug, Clone)]
pub struct JobRun {
    pub result: Outcome,
    pub ran: Option<Ran>,
    pub workspace: PathBuf,
}

impl JobRun {
    pub fn log(&self) -> String {
        self.ran
            .as_ref()
            .map(|r| format!("{}{}", r.stdout, r.stderr))
            .unwrap_or_default()
    }
}

/// One pipeline.
pub struct Pipeline<'a> {
    ci: &'a Ci,
    config: &'a Config,
    pub source: &'static str,
    branch: Option<String>,
    mr: Option<u64>,
    fork: bool,
    changed: Vec<String>,
    /// CI/CD variables: name → (value, protected).
    variables: BTreeMap<String, (String, bool)>,
    id: u64,
    dir: PathBuf,
    pub sha: String,
    pub jobs: BTreeMap<String, JobRun>,
}

impl<'a> Pipeline<'a> {
    fn new(ci: &'a Ci, config: &'a Config, source: &'static str) -> Self {
        let (id, dir) = ci.next_run();
        Self {
            ci,
            config,
            source,
            branch: None,
            mr: None,
            fork: false,
            changed: vec!["cfsecrets.yaml".into()],
            variables: BTreeMap::new(),
            id,
            dir,
            sha: format!("{:040x}", 0xbeef_u64 + id),
            jobs: BTreeMap::new(),
        }
    }

    pub fn merge_request(ci: &'a Ci, config: &'a Config, iid: u64) -> Self {
        let mut p = Self::new(ci, config, "merge_request_event");
        p.mr = Some(iid);
        p
    }

    /// A push to the default branch.
    pub fn push_to_default(ci: &'a Ci, config: &'a Config) -> Self {
        let mut p = Self::new(ci, config, "push");
        p.branch = Some(DEFAULT_BRANCH.into());
        p
    }

    /// A scheduled pipeline on the default branch.
    pub fn schedule(ci: &'a Ci, config: &'a Config) -> Self {
        let mut p = Self::new(ci, config, "schedule");
        p.branch = Some(DEFAULT_BRANCH.into());
        p.changed.clear();
        p
    }

    pub fn forked(mut self) -> Self {
        self.fork = true;
        self
    }

    pub fn changing(mut self, files: &[&str]) -> Self {
        self.changed = files.iter().map(|f| f.to_string()).collect();
        self
    }

    /// A project CI/CD variable (not protected).
    pub fn variable(mut self, name: &str, value: &str) -> Self {
        self.variables.insert(name.into(), (value.into(), false));
        self
    }

    /// A protected project CI/CD variable.
    pub fn protected_variable(mut self, name: &str, value: &str) -> Self {
        self.variables.insert(name.into(), (value.into(), true));
        self
    }

    fn protected_ref(&self) -> bool {
        self.mr.is_none() && self.branch.as_deref() == Some(DEFAULT_BRANCH)
    }

    /// Predefined variables, and the project's that this pipeline may see.
    fn predefined(&self, job: &str, workspace: &Path) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        let project = if self.fork {
            FORK_PROJECT_ID
        } else {
            PROJECT_ID
        };
        let mut set = |k: &str, val: String| {
            v.insert(k.to_string(), val);
        };
        set("CI", "true".into());
        set("GITLAB_CI", "true".into());
        set("CI_PIPELINE_SOURCE", self.source.into());
        set("CI_PIPELINE_ID", self.id.to_string());
        set("CI_DEFAULT_BRANCH", DEFAULT_BRANCH.into());
        set("CI_COMMIT_SHA", self.sha.clone());
        set("CI_COMMIT_SHORT_SHA", self.sha[..8].to_string());
        set("CI_PROJECT_ID", project.to_string());
        set("CI_PROJECT_DIR", workspace.display().to_string());
        set("CI_SERVER_URL", "https://gitlab.example.test".into());
        set("CI_API_V4_URL", GITLAB_API.into());
        set("CI_JOB_NAME", job.into());
        set("CI_JOB_ID", format!("{}{}", self.id, job.len()));
        set(
            "CI_JOB_URL",
            format!(
                "https://gitlab.example.test/acme/secrets/-/jobs/{}",
                self.id
            ),
        );
        set("CI_COMMIT_REF_PROTECTED", self.protected_ref().to_string());
        match (&self.branch, self.mr) {
            (Some(b), _) => {
                set("CI_COMMIT_BRANCH", b.clone());
                set("CI_COMMIT_REF_NAME", b.clone());
            }
            (None, Some(iid)) => {
                set("CI_COMMIT_REF_NAME", "change-secrets".into());
                set("CI_MERGE_REQUEST_IID", iid.to_string());
                set("CI_MERGE_REQUEST_PROJECT_ID", PROJECT_ID.to_string());
                set("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", project.to_string());
                set(
                    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
                    "change-secrets".into(),
                );
                set("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", DEFAULT_BRANCH.into());
            }
            (None, None) => {}
        }
        v
    }

    fn project_variables(&self) -> BTreeMap<String, String> {
        if self.fork {
            return BTreeMap::new();
        }
        self.variables
            .iter()
            .filter(|(_, (_, protected))| !protected || self.protected_ref())
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }

    /// Variables the `rules:` see.
    fn rule_variables(&self) -> BTreeMap<String, String> {
        let mut v = self.predefined("", Path::new("/"));
        v.extend(self.project_variables());
        v
    }

    /// Whether `rules` (a job's or the workflow's) include it; no rules means yes.
    fn rules_match(&self, rules: &Value) -> bool {
        let Some(rules) = rules.as_array() else {
            return true;
        };
        let vars = self.rule_variables();
        for rule in rules {
            let if_ok = rule["if"].as_str().is_none_or(|c| rule_condition(c, &vars));
            let changes_ok = match &rule["changes"] {
                Value::Null => true,
                changes if matches!(self.source, "push" | "merge_request_event") => {
                    let list = changes.get("paths").unwrap_or(changes);
                    let patterns: Vec<&str> = list
                        .as_array()
                        .expect("changes: a list")
                        .iter()
                        .map(|p| p.as_str().unwrap())
                        .collect();
                    self.changed
                        .iter()
                        .any(|f| patterns.iter().any(|p| glob(p, f)))
                }
                _ => true,
            };
            if if_ok && changes_ok {
                return rule["when"].as_str() != Some("never");
            }
        }
        false
    }

    /// Whether the workflow rules create this pipeline at all.
    pub fn created(&self) -> bool {
        self.rules_match(&self.config.doc["workflow"]["rules"])
    }

    /// The jobs in this pipeline, in run order.
    pub fn planned_jobs(&self) -> Vec<String> {
        if !self.created() {
            return Vec::new();
        }
        let mut jobs: Vec<String> = self
            .config
            .jobs()
            .into_iter()
            .filter(|j| self.rules_match(&self.config.doc[j]["rules"]))
            .collect();
        jobs.sort_by_key(|j| self.config.stage_of(j));
        jobs
    }

    /// Runs every job of the pipeline; returns their names.
    pub fn run_all(&mut self) -> Vec<String> {
        let jobs = self.planned_jobs();
        for j in &jobs {
            self.run_job(j);
        }
        jobs
    }

    pub fn job(&self, name: &str) -> &JobRun {
        self.jobs
            .get(name)
            .unwrap_or_else(|| panic!("job {name} has not run"))
    }

    /// The jobs `job` takes artifacts from and waits for.
    fn dependencies(&self, job: &str) -> Vec<String> {
        match self.config.doc[job]["needs"].as_array() {
            Some(needs) => needs
                .iter()
                .map(|n| {
                    n.as_str()
                        .or(n["job"].as_str())
                        .expect("needs: job names")
                        .to_string()
                })
                .collect(),
            None => {
                let stage = self.config.stage_of(job);
                self.planned_jobs()
                    .into_iter()
                    .filter(|j| self.config.stage_of(j) < stage)
                    .collect()
            }
        }
    }

    /// Runs one job of the pipeline (those it depends on must have run).
    pub fn run_job(&mut self, name: &str) -> &JobRun {
        assert!(
            self.planned_jobs().iter().any(|j| j == name),
            "job {name} is not in this pipeline"
        );
        let deps = self.dependencies(name);
        for d in &deps {
            assert!(
                self.jobs.contains_key(d),
                "{name} needs {d}, which has not run"
            );
        }
        let workspace = self.dir.join("work").join(name);
        let run = if deps.iter().all(|d| self.jobs[d].result == Outcome::Success) {
            self.execute(name, &deps, &workspace)
        } else {
            JobRun {
                result: Outcome::Skipped,
                ran: None,
                workspace,
            }
        };
        self.jobs.insert(name.into(), run);
        &self.jobs[name]
    }

    fn execute(&self, name: &str, deps: &[String], workspace: &Path) -> JobRun {
        let job = &self.config.doc[name];
        let temp = self.dir.join("temp").join(name);
        let home = self.dir.join("home").join(name);
        for d in [workspace, &temp, &home] {
            std::fs::create_dir_all(d).unwrap();
        }
        self.ci.checkout(workspace);
        for d in deps {
            let from = self.dir.join("artifacts").join(d);
            if from.is_dir() {
                copy_tree(&from, workspace, &|_| false);
            }
        }

        // The file's variables (expanded as they are read), then the project's, which win.
        let project = self.project_variables();
        let mut vars = self.predefined(name, workspace);
        for block in [&self.config.doc["variables"], &job["variables"]] {
            for (k, v) in block.as_object().into_iter().flatten() {
                let mut visible = vars.clone();
                visible.extend(project.clone());
                let value = match v {
                    Value::String(s) => expand(s, &visible),
                    Value::Object(o) => expand(o["value"].as_str().unwrap_or(""), &visible),
                    other => other.to_string(),
                };
                vars.insert(k.clone(), value);
            }
        }
        vars.extend(project);
        let mut env = self.ci.machine_env(&home, &temp);
        env.extend(vars);

        let before = if job.get("before_script").is_some() {
            &job["before_script"]
        } else if self.config.doc["default"].get("before_script").is_some() {
            &self.config.doc["default"]["before_script"]
        } else {
            &self.config.doc["before_script"]
        };
        let mut lines = Vec::new();
        flatten(before, &mut lines);
        flatten(&job["script"], &mut lines);
        assert!(!lines.is_empty(), "job {name} has no script");
        let script = format!("set -eo pipefail\n{}\n", lines.join("\n"));
        let script_file = temp.join("script.sh");
        std::fs::write(&script_file, script).unwrap();

        let mut groups = Vec::new();
        let argv = vec!["bash".to_string(), script_file.display().to_string()];
        let ran = self
            .ci
            .shell(&argv, workspace, &env, &temp.join("out"), &mut groups);
        end_groups(&groups);
        let success = ran.code == Some(0);

        let artifacts = &job["artifacts"];
        let when = artifacts["when"].as_str().unwrap_or("on_success");
        let keep = match when {
            "always" => true,
            "on_failure" => !success,
            _ => success,
        };
        if keep {
            let store = self.dir.join("artifacts").join(name);
            for p in artifacts["paths"].as_array().into_iter().flatten() {
                let rel = p.as_str().unwrap();
                let from = workspace.join(rel);
                let to = store.join(rel);
                if from.is_dir() {
                    copy_tree(&from, &to, &|_| false);
                } else if from.is_file() {
                    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                    std::fs::copy(&from, &to).unwrap();
                }
            }
        }
        let allowed = job["allow_failure"].as_bool().unwrap_or(false);
        JobRun {
            result: if success || allowed {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            ran: Some(ran),
            workspace: workspace.to_path_buf(),
        }
    }
}

/// A script section's lines (nested lists flattened, as GitLab does).
fn flatten(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
        other => panic!("a script line that is not a string: {other}"),
    }
}

/// Expands `$NAME` and `${NAME}` from `vars` (an unknown name expands to nothing).
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let (name, next) = if chars.get(i + 1) == Some(&'{') {
                let end = chars[i..].iter().position(|c| *c == '}').map(|p| p + i);
                let end = end.unwrap_or_else(|| panic!("unclosed ${{ in {text:?}"));
                (chars[i + 2..end].iter().collect::<String>(), end + 1)
            } else {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                (chars[i + 1..j].iter().collect(), j)
            };
            if name.is_empty() {
                out.push('$');
                i += 1;
                continue;
            }
            out.push_str(vars.get(&name).map_or("", String::as_str));
            i = next;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A `rules: if:` condition.
pub fn rule_condition(src: &str, vars: &BTreeMap<String, String>) -> bool {
    #[derive(Debug, Clone, PartialEq)]
    enum T {
        Var(String),
        Str(String),
        Null,
        Op(&'static str),
    }
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '$' {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            toks.push(T::Var(chars[i + 1..j].iter().collect()));
            i = j;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|x| *x == c)
                .unwrap_or_else(|| panic!("unterminated string in {src:?}"))
                + i
                + 1;
            toks.push(T::Str(chars[i + 1..end].iter().collect()));
            i = end + 1;
        } else if src[i..].starts_with("null") {
            toks.push(T::Null);
            i += 4;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["==", "!=", "&&", "||"]
                .into_iter()
                .find(|o| *o == two)
                .or_else(|| ["(", ")"].into_iter().find(|o| o.starts_with(c)))
                .unwrap_or_else(|| {
                    panic!("the harness cannot evaluate {c:?} in rules: if: {src:?}")
                });
            i += op.len();
            toks.push(T::Op(op));
        }
    }

    struct P<'t> {
        toks: &'t [T],
        at: usize,
        vars: &'t BTreeMap<String, String>,
        src: &'t str,
    }
    impl P<'_> {
        fn eat(&mut self, op: &str) -> bool {
            if matches!(self.toks.get(self.at), Some(T::Op(o)) if *o == op) {
                self.at += 1;
                true
            } else {
                false
            }
        }
        fn value(&mut self) -> Option<Option<String>> {
            let t = self.toks.get(self.at).cloned()?;
            let v = match t {
                T::Var(name) => self.vars.get(&name).cloned(),
                T::Str(s) => Some(s),
                T::Null => None,
                T::Op(_) => return None,
            };
            self.at += 1;
            Some(v)
        }
        fn or(&mut self) -> bool {
            let mut v = self.and();
            while self.eat("||") {
                let r = self.and();
                v = v || r;
            }
            v
        }
        fn and(&mut self) -> bool {
            let mut v = self.atom();
            while self.eat("&&") {
                let r = self.atom();
                v = v && r;
            }
            v
        }
        fn atom(&mut self) -> bool {
            if self.eat("(") {
                let v = self.or();
                assert!(self.eat(")"), "unbalanced parentheses in {:?}", self.src);
                return v;
            }
            let left = self
                .value()
                .unwrap_or_else(|| panic!("expected a value in {:?}", self.src));
            if self.eat("==") {
                let right = self.value().expect("a value after ==");
                left == right
            } else if self.eat("!=") {
                let right = self.value().expect("a value after !=");
                left != right
            } else {
                left.is_some_and(|s| !s.is_empty())
            }
        }
    }
    let mut p = P {
        toks: &toks,
        at: 0,
        vars,
        src,
    };
    let v = p.or();
    assert_eq!(p.at, toks.len(), "trailing tokens in rules: if: {src:?}");
    v
}

#[test]
fn rules_and_variables_evaluate_as_gitlab_does() {
    let vars: BTreeMap<String, String> = [
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("EMPTY", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert!(rule_condition(
        "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == \"push\"",
        &vars
    ));
    assert!(!rule_condition("$CI_PIPELINE_SOURCE == 'schedule'", &vars));
    assert!(!rule_condition("$EMPTY", &vars));
    assert!(!rule_condition("$UNSET", &vars));
    assert!(rule_condition("$UNSET == null", &vars));
    assert!(rule_condition(
        "($EMPTY || $CI_COMMIT_BRANCH) && $UNSET != 'x'",
        &vars
    ));
    assert_eq!(
        expand("a-$CI_COMMIT_BRANCH-${CI_PIPELINE_SOURCE}-$UNSET.", &vars),
        "a-main-push-."
    );
}
