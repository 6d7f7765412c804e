//! A GitHub Actions runner for the workflows in `examples/ci/`, faithful where the examples
//! depend on it:
//!
//! * triggers: the event must be in `on:`, with its `branches:` and `paths:` filters;
//! * each job runs after the jobs it `needs:`; one whose needs did not succeed, or whose `if:` is false,
//!   is skipped; each job starts in an empty workspace that `actions/checkout` fills from the
//!   test's project (without the identity file, which is not in git);
//! * `run:` steps run with `bash -e` (`bash --noprofile --norc -eo pipefail` for
//!   `shell: bash`), with `GITHUB_OUTPUT`, `GITHUB_ENV` and `GITHUB_STEP_SUMMARY` files read
//!   back after each step; `if:`, `continue-on-error:`, outcomes and conclusions as Actions
//!   has them; `${{ }}` in `env:` and `with:` (a `run:` script must not interpolate one: it
//!   takes values through `env:`, as GitHub's hardening guide says);
//! * `actions/upload-artifact` / `download-artifact` copy files between jobs; other `uses:`
//!   steps do nothing;
//! * secrets: repository secrets, plus the secrets of the job's `environment:`; none for a
//!   pull request from a fork; `github.token` has the job's `permissions:` (read-only when
//!   absent, and always for a fork), which the fake GitHub enforces.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::expr::{self, Scope, V};
use super::fake::{ACTIONS_BOT, GhToken};
use super::runner::{Ci, Ran, copy_tree, end_groups, glob, key_values};

/// The repository the runs belong to.
pub const REPO: &str = "acme/secrets";

/// What triggered a run.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: &'static str,
    pub git_ref: String,
    pub pr: Option<u64>,
    pub fork: bool,
    /// Files the push or pull request changed (for `paths:` filters).
    pub changed: Vec<String>,
}

impl Event {
    pub fn pull_request(number: u64) -> Self {
        Self {
            name: "pull_request",
            git_ref: format!("refs/pull/{number}/merge"),
            pr: Some(number),
            fork: false,
            changed: vec!["cfsecrets.yaml".into()],
        }
    }

    pub fn push_to_main() -> Self {
        Self {
            name: "push",
            git_ref: "refs/heads/main".into(),
            pr: None,
            fork: false,
            changed: vec!["cfsecrets.yaml".into()],
        }
    }

    pub fn schedule() -> Self {
        Self {
            name: "schedule",
            git_ref: "refs/heads/main".into(),
            pr: None,
            fork: false,
            changed: Vec::new(),
        }
    }

    pub fn dispatch_on_main() -> Self {
        Self {
            name: "workflow_dispatch",
            ..Self::schedule()
        }
    }

    pub fn forked(mut self) -> Self {
        self.fork = true;
        self
    }

    pub fn changing(mut self, files: &[&str]) -> Self {
        self.changed = files.iter().map(|f| f.to_string()).collect();
        self
    }
}

/// A workflow file from `examples/ci/`.
pub struct Workflow {
    pub file: String,
    pub doc: Value,
}

impl Workflow {
    pub fn load(file: &str) -> Self {
        let path = format!("{}/examples/ci/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        Self {
            file: file.into(),
            doc,
        }
    }

    /// The `on:` map (YAML 1.1 readers turn the key `on` into `true`).
    pub fn on(&self) -> &Value {
        self.doc
            .get("on")
            .or_else(|| self.doc.get("true"))
            .expect("an on: key")
    }

    /// Whether `event` starts this workflow.
    pub fn triggered_by(&self, event: &Event) -> bool {
        let Some(filter) = self.on().get(event.name) else {
            return false;
        };
        let list = |key: &str| -> Option<Vec<String>> {
            filter
                .get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        };
        if let Some(branches) = list("branches") {
            let branch = event.git_ref.trim_start_matches("refs/heads/");
            if !branches.iter().any(|b| glob(b, branch)) {
                return false;
            }
        }
        match list("paths") {
            Some(paths) => event
                .changed
                .iter()
                .any(|f| paths.iter().any(|p| glob(p, f))),
            None => true,
        }
    }

    /// Job names, each after the jobs it `needs:` (Actions runs the others side by side;
    /// the YAML reader keeps no key order, so they come by name).
    pub fn job_order(&self) -> Vec<String> {
        let jobs = self.jobs();
        let needs = |job: &Value| -> Vec<String> {
            match &job["needs"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                _ => Vec::new(),
            }
        };
        let mut order: Vec<String> = Vec::new();
        while order.len() < jobs.len() {
            let before = order.len();
            for (name, job) in &jobs {
                if !order.contains(name) && needs(job).iter().all(|n| order.contains(n)) {
                    order.push(name.clone());
                }
            }
            assert!(order.len() > before, "{}: a cycle in needs:", self.file);
        }
        order
    }

    pub fn jobs(&self) -> Vec<(String, Value)> {
        self.doc["jobs"]
            .as_object()
            .expect("jobs:")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Skipped,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One step of a finished job.
#[derive(Debug, Clone)]
pub struct StepRun {
    pub name: String,
    pub id: Option<String>,
    pub outcome: Outcome,
    pub conclusion: Outcome,
    pub ran: Option<Ran>,
    pub outputs: BTreeMap<String, String>,
}

/// A finished (or skipped) job.
#[derive(Debug, Clone)]
pub struct JobRun {
    pub result: Outcome,
    pub steps: Vec<StepRun>,
    /// The job summary: every step's `$GITHUB_STEP_SUMMARY`, in order.
    pub summary: String,
    pub workspace: PathBuf,
}

impl JobRun {
    /// The step named `name` (a step's `name:`, else `Run <first line>` / the action).
    #[track_caller]
    pub fn step(&self, name: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| {
                let names: Vec<&str> = self.steps.iter().map(|s| s.name.as_str()).collect();
                panic!("no step {name:?}; steps: {names:?}")
            })
    }

    /// Everything the job's steps printed.
    pub fn log(&self) -> String {
        self.steps
            .iter()
            .filter_map(|s| s.ran.as_ref())
            .map(|r| format!("{}{}", r.stdout, r.stderr))
            .collect()
    }
}

/// One run of a workflow.
pub struct Run<'a> {
    ci: &'a Ci,
    workflow: &'a Workflow,
    pub event: Event,
    secrets: BTreeMap<String, String>,
    environment_secrets: BTreeMap<String, BTreeMap<String, String>>,
    id: u64,
    dir: PathBuf,
    pub jobs: BTreeMap<String, JobRun>,
    pub sha: String,
}

impl<'a> Run<'a> {
    /// A run of `workflow` for `event`; panics if the event does not trigger it (use
    /// [`Workflow::triggered_by`] to test that).
    pub fn new(ci: &'a Ci, workflow: &'a Workflow, event: Event) -> Self {
        assert!(
            workflow.triggered_by(&event),
            "{} does not run on {event:?}",
            workflow.file
        );
        let (id, dir) = ci.next_run();
        {
            let mut state = ci.fake.state();
            state.github.repo = REPO.into();
            if let Some(pr) = event.pr {
                state.github.pulls.insert(pr);
            }
        }
        Self {
            ci,
            workflow,
            event,
            secrets: BTreeMap::new(),
            environment_secrets: BTreeMap::new(),
            id,
            dir,
            jobs: BTreeMap::new(),
            sha: format!("{:040x}", 0xc0ffee_u64 + id),
        }
    }

    /// A repository secret.
    pub fn secret(mut self, name: &str, value: &str) -> Self {
        self.secrets.insert(name.into(), value.into());
        self
    }

    /// A secret of the deployment environment `environment`.
    pub fn environment_secret(mut self, environment: &str, name: &str, value: &str) -> Self {
        self.environment_secrets
            .entry(environment.into())
            .or_default()
            .insert(name.into(), value.into());
        self
    }

    /// Runs every job, each after the jobs it needs; returns the names of those that did not
    /// skip.
    pub fn run_all(&mut self) -> Vec<String> {
        let mut ran = Vec::new();
        for name in self.workflow.job_order() {
            if self.run_job(&name).result != Outcome::Skipped {
                ran.push(name);
            }
        }
        ran
    }

    pub fn job(&self, name: &str) -> &JobRun {
        self.jobs
            .get(name)
            .unwrap_or_else(|| panic!("job {name} has not run"))
    }

    /// Runs (or skips) one job; the jobs it needs must have been run first.
    pub fn run_job(&mut self, name: &str) -> &JobRun {
        let job = self.workflow.doc["jobs"][name].clone();
        assert!(job.is_object(), "{} has no job {name}", self.workflow.file);
        let needs: Vec<String> = match &job["needs"] {
            Value::Null => Vec::new(),
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            other => panic!("needs: {other}"),
        };
        for n in &needs {
            assert!(
                self.jobs.contains_key(n),
                "{name} needs {n}, which has not run"
            );
        }
        let workspace = self.dir.join("work").join(name);
        let needs_ok = needs
            .iter()
            .all(|n| self.jobs[n].result == Outcome::Success);
        let scope = JobScope {
            run: self,
            needs: &needs,
            needs_ok,
        };
        let run_it = expr::condition(job["if"].as_str(), &scope);
        let result = if run_it {
            self.execute(name, &job, &workspace)
        } else {
            JobRun {
                result: Outcome::Skipped,
                steps: Vec::new(),
                summary: String::new(),
                workspace,
            }
        };
        self.jobs.insert(name.into(), result);
        &self.jobs[name]
    }

    fn permissions(&self, job: &Value) -> BTreeSet<String> {
        if self.event.fork {
            return BTreeSet::new();
        }
        let block = if job.get("permissions").is_some() {
            &job["permissions"]
        } else {
            &self.workflow.doc["permissions"]
        };
        block
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| v.as_str() == Some("write"))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn execute(&self, name: &str, job: &Value, workspace: &Path) -> JobRun {
        let temp = self.dir.join("temp").join(name);
        let home = self.dir.join("home").join(name);
        for d in [workspace, &temp, &home] {
            std::fs::create_dir_all(d).unwrap();
        }
        let token = format!("ghs_run{}_{name}", self.id);
        self.ci.fake.state().github.tokens.insert(
            token.clone(),
            GhToken {
                login: ACTIONS_BOT.into(),
                write: self.permissions(job),
            },
        );
        let mut secrets = if self.event.fork {
            BTreeMap::new()
        } else {
            self.secrets.clone()
        };
        if let (Some(environment), false) = (job["environment"].as_str(), self.event.fork) {
            secrets.extend(
                self.environment_secrets
                    .get(environment)
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        let event_path = temp.join("event.json");
        let event_json = match self.event.pr {
            Some(n) => serde_json::json!({ "pull_request": { "number": n } }),
            None => serde_json::json!({}),
        };
        std::fs::write(&event_path, event_json.to_string()).unwrap();

        let mut state = JobState {
            token,
            secrets,
            steps: Vec::new(),
            env: BTreeMap::new(),
            github_env: BTreeMap::new(),
            failed: false,
        };
        let base = {
            let mut env = self.ci.machine_env(&home, &temp);
            let ref_name = self.event.git_ref.rsplit('/').next().unwrap().to_string();
            for (k, v) in [
                ("CI", "true".to_string()),
                ("GITHUB_ACTIONS", "true".into()),
                (
                    "GITHUB_WORKFLOW",
                    self.workflow.doc["name"].as_str().unwrap_or("").into(),
                ),
                ("GITHUB_JOB", name.into()),
                ("GITHUB_RUN_ID", self.id.to_string()),
                ("GITHUB_RUN_NUMBER", self.id.to_string()),
                ("GITHUB_EVENT_NAME", self.event.name.into()),
                ("GITHUB_EVENT_PATH", event_path.display().to_string()),
                ("GITHUB_REF", self.event.git_ref.clone()),
                ("GITHUB_REF_NAME", ref_name),
                ("GITHUB_SHA", self.sha.clone()),
                ("GITHUB_REPOSITORY", REPO.into()),
                ("GITHUB_SERVER_URL", "https://github.com".into()),
                ("GITHUB_API_URL", "https://api.github.com".into()),
                ("GITHUB_WORKSPACE", workspace.display().to_string()),
                ("RUNNER_OS", "Linux".into()),
                ("RUNNER_TEMP", temp.display().to_string()),
            ] {
                env.insert(k.into(), v);
            }
            env
        };
        let mut summary = String::new();
        let mut groups = Vec::new();
        let steps = job["steps"].as_array().cloned().unwrap_or_default();
        for (i, step) in steps.iter().enumerate() {
            let run_text = step["run"].as_str();
            let uses = step["uses"].as_str();
            let display = step["name"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| match (run_text, uses) {
                    (Some(r), _) => format!("Run {}", r.lines().next().unwrap_or("")),
                    (None, Some(u)) => format!("Run {u}"),
                    _ => panic!("step {i} of {name} has neither run nor uses"),
                });
            // Workflow and job env, then what earlier steps put in GITHUB_ENV.
            state.env.clear();
            for block in [&self.workflow.doc["env"], &job["env"]] {
                for (k, v) in block.as_object().into_iter().flatten() {
                    let scope = StepScope {
                        run: self,
                        state: &state,
                    };
                    let value = expr::interpolate(&scalar(v), &scope);
                    state.env.insert(k.clone(), value);
                }
            }
            let scope = StepScope {
                run: self,
                state: &state,
            };
            if !expr::condition(step["if"].as_str(), &scope) {
                state.steps.push(StepRun {
                    name: display,
                    id: step["id"].as_str().map(str::to_string),
                    outcome: Outcome::Skipped,
                    conclusion: Outcome::Skipped,
                    ran: None,
                    outputs: BTreeMap::new(),
                });
                continue;
            }
            let mut step_env = BTreeMap::new();
            for (k, v) in step["env"].as_object().into_iter().flatten() {
                step_env.insert(k.clone(), expr::interpolate(&scalar(v), &scope));
            }
            let continue_on_error = match &step["continue-on-error"] {
                Value::Bool(b) => *b,
                Value::Null => false,
                Value::String(s) => expr::condition(Some(&format!("always() && ({s})")), &scope),
                other => panic!("continue-on-error: {other}"),
            };
            let with: BTreeMap<String, String> = step["with"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), expr::interpolate(&scalar(v), &scope)))
                .collect();
            let files = temp.join(format!("step-{i}"));
            std::fs::create_dir_all(&files).unwrap();
            let (outcome, ran, outputs) = match (run_text, uses) {
                (Some(script), None) => {
                    assert!(
                        !script.contains("${{"),
                        "{}: step {display:?} interpolates an expression into its script; pass it through env:",
                        self.workflow.file
                    );
                    let output_file = files.join("output");
                    let env_file = files.join("env");
                    let summary_file = files.join("summary");
                    for f in [&output_file, &env_file, &summary_file] {
                        std::fs::write(f, "").unwrap();
                    }
                    let script_file = files.join("script.sh");
                    std::fs::write(&script_file, script).unwrap();
                    let mut env = base.clone();
                    env.extend(state.github_env.clone());
                    env.extend(state.env.clone());
                    env.extend(step_env);
                    env.insert("GITHUB_OUTPUT".into(), output_file.display().to_string());
                    env.insert("GITHUB_ENV".into(), env_file.display().to_string());
                    env.insert(
                        "GITHUB_STEP_SUMMARY".into(),
                        summary_file.display().to_string(),
                    );
                    let shell = step["shell"]
                        .as_str()
                        .or(job["defaults"]["run"]["shell"].as_str())
                        .or(self.workflow.doc["defaults"]["run"]["shell"].as_str());
                    let mut argv: Vec<String> = match shell {
                        None => vec!["bash".into(), "-e".into()],
                        Some("bash") => ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
                            .map(String::from)
                            .to_vec(),
                        Some(other) => panic!("the harness runs bash steps only, not {other}"),
                    };
                    argv.push(script_file.display().to_string());
                    let cwd = match step["working-directory"].as_str() {
                        Some(d) => workspace.join(d),
                        None => workspace.to_path_buf(),
                    };
                    let ran = self.ci.shell(&argv, &cwd, &env, &files, &mut groups);
                    let outputs: BTreeMap<String, String> =
                        key_values(&std::fs::read_to_string(&output_file).unwrap())
                            .into_iter()
                            .collect();
                    state
                        .github_env
                        .extend(key_values(&std::fs::read_to_string(&env_file).unwrap()));
                    let written = std::fs::read_to_string(&summary_file).unwrap();
                    self.ci.logs.lock().unwrap().push(written.clone());
                    summary.push_str(&written);
                    let outcome = if ran.code == Some(0) {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    };
                    (outcome, Some(ran), outputs)
                }
                (None, Some(action)) => {
                    let outcome = self.action(action, &with, workspace);
                    (outcome, None, BTreeMap::new())
                }
                _ => panic!("step {display:?} has both run and uses"),
            };
            let conclusion = if outcome == Outcome::Failure && continue_on_error {
                Outcome::Success
            } else {
                outcome
            };
            if conclusion == Outcome::Failure {
                state.failed = true;
            }
            state.steps.push(StepRun {
                name: display,
                id: step["id"].as_str().map(str::to_string),
                outcome,
                conclusion,
                ran,
                outputs,
            });
        }
        end_groups(&groups);
        JobRun {
            result: if state.failed {
                Outcome::Failure
            } else {
                Outcome::Success
            },
            steps: state.steps,
            summary,
            workspace: workspace.to_path_buf(),
        }
    }

    /// The actions the harness stands in for.
    fn action(&self, action: &str, with: &BTreeMap<String, String>, workspace: &Path) -> Outcome {
        let artifacts = self.dir.join("artifacts");
        let (name, _version) = action.split_once('@').unwrap_or((action, ""));
        match name {
            "actions/checkout" => {
                self.ci.checkout(workspace);
                Outcome::Success
            }
            "actions/upload-artifact" => {
                let artifact = with.get("name").map_or("artifact", String::as_str);
                let dest = artifacts.join(artifact);
                let mut found = false;
                for rel in with.get("path").map(String::as_str).unwrap_or("").lines() {
                    let rel = rel.trim();
                    let from = workspace.join(rel);
                    if from.is_dir() {
                        copy_tree(&from, &dest, &|_| false);
                        found = true;
                    } else if from.is_file() {
                        std::fs::create_dir_all(&dest).unwrap();
                        std::fs::copy(&from, dest.join(from.file_name().unwrap())).unwrap();
                        found = true;
                    }
                }
                let if_none = with.get("if-no-files-found").map_or("warn", String::as_str);
                if !found && if_none == "error" {
                    Outcome::Failure
                } else {
                    Outcome::Success
                }
            }
            "actions/download-artifact" => {
                let Some(artifact) = with.get("name") else {
                    panic!("the harness downloads artifacts by name only");
                };
                let from = artifacts.join(artifact);
                if !from.is_dir() {
                    return Outcome::Failure;
                }
                let dest = with
                    .get("path")
                    .map_or(workspace.to_path_buf(), |p| workspace.join(p));
                copy_tree(&from, &dest, &|_| false);
                Outcome::Success
            }
            // actions/cache, setup actions…: nothing to do on this machine.
            _ => Outcome::Success,
        }
    }
}

/// A YAML scalar as the string Actions sees.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

struct JobState {
    token: String,
    secrets: BTreeMap<String, String>,
    steps: Vec<StepRun>,
    /// Workflow and job `env:`, evaluated for the current step.
    env: BTreeMap<String, String>,
    /// What steps wrote to `$GITHUB_ENV`.
    github_env: BTreeMap<String, String>,
    failed: bool,
}

/// Contexts common to jobs and steps.
fn github(run: &Run<'_>, path: &[String], token: Option<&str>) -> V {
    let s = |x: &str| V::Str(x.to_string());
    match path
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["github", "event_name"] => s(run.event.name),
        ["github", "ref"] => s(&run.event.git_ref),
        ["github", "sha"] => s(&run.sha),
        ["github", "repository"] => s(REPO),
        ["github", "run_id"] => s(&run.id.to_string()),
        ["github", "server_url"] => s("https://github.com"),
        ["github", "token"] => s(token.expect("github.token in a step")),
        ["github", "event", "pull_request", "number"] => {
            run.event.pr.map_or(V::Null, |n| V::Num(n as f64))
        }
        ["vars", _] => V::Null,
        other => panic!("the harness does not model the context {}", other.join(".")),
    }
}

struct JobScope<'r, 'a> {
    run: &'r Run<'a>,
    needs: &'r [String],
    needs_ok: bool,
}

impl Scope for JobScope<'_, '_> {
    fn lookup(&self, path: &[String]) -> V {
        match path
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["needs", job, "result"] if self.needs.iter().any(|n| n == job) => {
                V::Str(self.run.jobs[*job].result.word().into())
            }
            _ => github(self.run, path, None),
        }
    }

    fn status(&self, function: &str) -> bool {
        match function {
            "success" => self.needs_ok,
            "failure" => !self.needs_ok,
            "always" => true,
            "cancelled" => false,
            other => panic!("{other}()"),
        }
    }
}

struct StepScope<'r, 'a> {
    run: &'r Run<'a>,
    state: &'r JobState,
}

impl Scope for StepScope<'_, '_> {
    fn lookup(&self, path: &[String]) -> V {
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        match parts.as_slice() {
            ["secrets", "GITHUB_TOKEN"] => V::Str(self.state.token.clone()),
            ["secrets", name] => V::Str(self.state.secrets.get(*name).cloned().unwrap_or_default()),
            ["env", name] => self
                .state
                .env
                .get(*name)
                .or_else(|| self.state.github_env.get(*name))
                .map_or(V::Null, |v| V::Str(v.clone())),
            ["steps", id, field @ ..] => {
                let Some(step) = self
                    .state
                    .steps
                    .iter()
                    .find(|s| s.id.as_deref() == Some(*id))
                else {
                    return V::Null;
                };
                match field {
                    ["outputs", name] => step
                        .outputs
                        .get(*name)
                        .map_or(V::Null, |v| V::Str(v.clone())),
                    ["outcome"] => V::Str(step.outcome.word().into()),
                    ["conclusion"] => V::Str(step.conclusion.word().into()),
                    other => panic!("steps.{id}.{}", other.join(".")),
                }
            }
            _ => github(self.run, path, Some(&self.state.token)),
        }
    }

    fn status(&self, function: &str) -> bool {
        match function {
            "success" => !self.state.failed,
            "failure" => self.state.failed,
            "always" => true,
            "cancelled" => false,
            other => panic!("{other}()"),
        }
    }
}
