//! The CI examples in `examples/ci/` run here, step by step, as a CI system would run them:
//! each job's `run:` (GitHub Actions) or `before_script` + `script` (GitLab CI) lines execute
//! with bash in a fresh checkout of a test project, against the in-process emulator, with the
//! CI's variables set and `gh`, `curl` and `cargo` replaced by stubs whose fakes keep the pull
//! request comments, merge request notes and issues (see [`actions`], [`gitlab`], [`fake`]).
//! `cfsecrets` on PATH is the binary under test.
//!
//! Asserted: which jobs run for which event; exit codes and job results; that the comment, the
//! note and the job summary ARE the Markdown plan (`plan --format markdown` of the same
//! state); that a second run updates the same comment or note; that a blocked plan fails the
//! job; that the apply job applies the plan the plan job saved (artifact copied across) and
//! refuses it once stale; that the drift check fails and files one issue on drift, and passes
//! (closing it) once in sync; that no value, identity or token reaches any output. A workflow
//! that names a flag or command the binary lacks, or whose script fails, fails here.

mod actions;
mod expr;
mod fake;
mod gitlab;
mod runner;

use actions::{Event, Outcome, Run, Workflow};
use fake::{ACTIONS_BOT, GlUser, JQ_FILTERS};
use gitlab::{Config, PROJECT_ID, Pipeline};
use runner::Ci;

use crate::docs::{check_command, commands_in_line};
use crate::support::{Emu, Project, TOKEN};

const STORE: &str = "main";
const MARKER: &str = "<!-- cfsecrets-plan -->";
/// The GitLab project access token the note posting uses.
const NOTE_TOKEN: &str = "glpat-ci-notes-4d2e";

/// A project declaring `names` (each sealed to `values/NAME.age`) in store `main`.
fn project_with(emu: &Emu, names: &[&str]) -> Project {
    let p = Project::new(emu);
    declare(&p, names);
    p
}

/// Seals any value `names` lacks and declares exactly `names` in the manifest.
fn declare(p: &Project, names: &[&str]) {
    let mut secrets = String::new();
    for name in names {
        let rel = format!("values/{name}.age");
        if !p.path(&rel).exists() {
            p.seal(
                &rel,
                &format!("ci-{name}-value-{:x}", name.len() * 0x9e37 + 0x51f0),
            );
        }
        secrets.push_str(&format!("          {name}: {{ value: {rel} }}\n"));
    }
    p.manifest(&format!("      {STORE}:\n        secrets:\n{secrets}"));
}

/// The Markdown plan of the project's current state, as a reviewer would render it; the
/// plan must exit `code` (3 for a blocked plan).
fn markdown_plan(p: &Project, identity: bool, code: i32) -> String {
    let args = ["plan", "--format", "markdown"];
    let run = if identity {
        p.run(&args)
    } else {
        p.run_without_identity(&args)
    };
    run.expect(code);
    assert!(
        run.stdout.starts_with("### cfsecrets plan"),
        "{}",
        run.stdout
    );
    run.stdout
}

/// A project with ten secrets applied, whose manifest now drops four: over the default 30 %
/// delete threshold, so its plan is blocked. Returns it and that plan.
fn blocked_project(emu: &Emu) -> (Project, String) {
    let all = ["S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"];
    let p = project_with(emu, &all);
    p.run(&["apply", "--auto-approve"]).expect(0);
    declare(&p, &all[..6]);
    let blocked = markdown_plan(&p, true, 3);
    assert!(blocked.contains("Blocked by a safety rule"), "{blocked}");
    (p, blocked)
}

/// A GitHub run with the repository's secrets and the `production` environment's.
fn github_run<'a>(ci: &'a Ci, workflow: &'a Workflow, event: Event) -> Run<'a> {
    Run::new(ci, workflow, event)
        .secret("CLOUDFLARE_API_TOKEN_READ", TOKEN)
        .secret("CFSECRETS_AGE_KEY", &ci.identity_text())
        .environment_secret("production", "CLOUDFLARE_API_TOKEN_WRITE", TOKEN)
}

/// A GitLab pipeline's project variables: the write token protected, the rest not; the
/// identity as its key line alone (GitLab masks only one-line values).
fn with_variables<'a>(ci: &Ci, p: Pipeline<'a>) -> Pipeline<'a> {
    p.variable("CLOUDFLARE_API_TOKEN_READ", TOKEN)
        .protected_variable("CLOUDFLARE_API_TOKEN_WRITE", TOKEN)
        .variable("CFSECRETS_AGE_KEY", &identity_line(ci))
        .variable("GITLAB_NOTE_TOKEN", NOTE_TOKEN)
}

/// The `AGE-SECRET-KEY-1…` line of the identity.
fn identity_line(ci: &Ci) -> String {
    ci.identity_text()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an identity line")
        .to_string()
}

fn note_bot() -> GlUser {
    GlUser {
        id: 77,
        username: "project_4242_bot_1f2e".into(),
    }
}

/// No sealed value, identity or token in anything the runs printed or posted, nor in what the
/// test's own `cfsecrets` runs printed.
#[track_caller]
fn assert_no_leak(ci: &Ci, p: &Project) {
    let mut texts = ci.logs.lock().unwrap().clone();
    {
        let state = ci.fake.state();
        texts.extend(state.github.comments.iter().map(|c| c.body.clone()));
        texts.extend(state.github.issues.iter().map(|i| i.body.clone()));
        texts.extend(state.gitlab.notes.iter().map(|n| n.body.clone()));
    }
    let mut forbidden = p.values.lock().unwrap().clone();
    assert!(!forbidden.is_empty());
    forbidden.push(identity_line(ci));
    forbidden.push(TOKEN.to_string());
    forbidden.push(NOTE_TOKEN.to_string());
    for text in &texts {
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "a secret reached CI output");
        }
    }
    p.assert_no_value_leaked(&[]);
}

// ── GitHub Actions: pull requests ─────────────────────────────────────────────────────────

#[test]
fn a_pull_request_gets_its_plan_in_the_summary_and_one_comment_updated_on_each_push() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A", "B"]);
    let ci = Ci::new(&p, Some(&emu));
    let wf = Workflow::load("github-actions.yml");
    let (human, other_bot) = {
        let mut s = ci.fake.state();
        (
            s.github.add_comment(7, "octocat", "Looks right to me."),
            s.github
                .add_comment(7, ACTIONS_BOT, "<!-- coverage -->\nCoverage: 91%"),
        )
    };

    // First push: the plan creates A and B.
    let first = markdown_plan(&p, true, 0);
    let mut run = github_run(&ci, &wf, Event::pull_request(7));
    assert_eq!(run.run_all(), ["plan"]);
    let job = run.job("plan");
    assert_eq!(job.result, Outcome::Success, "{}", job.log());
    assert_eq!(job.step("Plan").outputs["exit"], "2");
    assert_eq!(job.summary, first, "the job summary is the plan");
    assert_eq!(
        job.step("Post the plan as one sticky comment").outcome,
        Outcome::Success
    );
    assert_eq!(job.step("Fail when blocked").outcome, Outcome::Skipped);
    assert!(
        emu.names(STORE).is_empty(),
        "a pull request plan writes nothing"
    );
    let plan_comment = {
        let s = ci.fake.state();
        let comments = s.github.comments_on(7);
        assert_eq!(comments.len(), 3, "{comments:?}");
        let ours: Vec<_> = comments
            .iter()
            .filter(|c| c.body.starts_with(MARKER))
            .collect();
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].login, ACTIONS_BOT);
        assert_eq!(ours[0].body, format!("{MARKER}\n{first}"));
        assert_eq!(
            s.calls_of("cargo"),
            [["install", "--locked", "cfsecrets"]],
            "installed once, as the workflow says"
        );
        ours[0].id
    };

    // Second push adds C: the same comment now shows the new plan.
    declare(&p, &["A", "B", "C"]);
    let second = markdown_plan(&p, true, 0);
    assert_ne!(first, second);
    let mut run = github_run(&ci, &wf, Event::pull_request(7));
    run.run_all();
    let job = run.job("plan");
    assert_eq!(job.result, Outcome::Success, "{}", job.log());
    assert_eq!(job.summary, second);
    {
        let s = ci.fake.state();
        let comments = s.github.comments_on(7);
        assert_eq!(comments.len(), 3, "updated, not added: {comments:?}");
        let ours = comments.iter().find(|c| c.id == plan_comment).unwrap();
        assert_eq!(ours.body, format!("{MARKER}\n{second}"));
        // The others' comments are untouched, the other bot comment included.
        assert_eq!(
            comments.iter().find(|c| c.id == human).unwrap().body,
            "Looks right to me."
        );
        assert!(
            comments
                .iter()
                .find(|c| c.id == other_bot)
                .unwrap()
                .body
                .contains("Coverage")
        );
        let patch = format!("repos/acme/secrets/issues/comments/{plan_comment}");
        assert!(
            s.calls_of("gh")
                .iter()
                .any(|a| a.contains(&patch) && a.contains(&"PATCH".to_string())),
            "{:?}",
            s.calls_of("gh")
        );
    }

    // A third push breaks the manifest: the comment says there is no plan, never the old one.
    std::fs::write(
        p.path("cfsecrets.yaml"),
        std::fs::read_to_string(p.path("cfsecrets.yaml")).unwrap() + "unknown_key: 1\n",
    )
    .unwrap();
    let mut run = github_run(&ci, &wf, Event::pull_request(7));
    run.run_all();
    let job = run.job("plan");
    assert_eq!(job.result, Outcome::Failure);
    assert_eq!(
        job.step("Check the manifest offline").outcome,
        Outcome::Failure
    );
    assert_eq!(job.step("Plan").outcome, Outcome::Skipped);
    let body = ci
        .fake
        .state()
        .github
        .comments
        .iter()
        .find(|c| c.id == plan_comment)
        .unwrap()
        .body
        .clone();
    assert!(
        body.starts_with(&format!("{MARKER}\n### cfsecrets plan\n")),
        "{body}"
    );
    assert!(
        body.contains(&format!("**No plan for {}**", run.sha)),
        "{body}"
    );
    assert!(!body.contains("store main"), "{body}");
    assert_no_leak(&ci, &p);
}

#[test]
fn a_blocked_plan_is_posted_and_fails_the_pull_request() {
    let emu = Emu::start();
    let (p, blocked) = blocked_project(&emu);

    let ci = Ci::new(&p, Some(&emu));
    let wf = Workflow::load("github-actions.yml");
    let mut run = github_run(&ci, &wf, Event::pull_request(12));
    run.run_all();
    let job = run.job("plan");
    assert_eq!(job.step("Plan").outputs["exit"], "3");
    assert_eq!(job.step("Plan").outcome, Outcome::Success);
    assert_eq!(job.step("Fail when blocked").outcome, Outcome::Failure);
    assert_eq!(
        job.result,
        Outcome::Failure,
        "a blocked plan fails the check"
    );
    assert!(
        job.log().contains("blocked by a safety rule"),
        "{}",
        job.log()
    );
    assert_eq!(job.summary, blocked);
    let comments: Vec<String> = ci
        .fake
        .state()
        .github
        .comments_on(12)
        .iter()
        .map(|c| c.body.clone())
        .collect();
    assert_eq!(comments, [format!("{MARKER}\n{blocked}")]);
    assert_eq!(emu.names(STORE).len(), 10, "nothing deleted");
    assert_no_leak(&ci, &p);
}

#[test]
fn without_an_identity_the_plan_says_values_were_not_compared_and_forks_fail_clearly() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A"]);
    let ci = Ci::new(&p, Some(&emu));
    let wf = Workflow::load("github-actions.yml");

    // A read token but no identity (Dependabot secrets, say): a plan that compares no value.
    let expected = markdown_plan(&p, false, 0);
    assert!(expected.contains("values were not compared"), "{expected}");
    let mut run =
        Run::new(&ci, &wf, Event::pull_request(3)).secret("CLOUDFLARE_API_TOKEN_READ", TOKEN);
    run.run_all();
    let job = run.job("plan");
    assert_eq!(job.result, Outcome::Success, "{}", job.log());
    assert_eq!(job.summary, expected);
    assert_eq!(
        ci.fake.state().github.comments_on(3)[0].body,
        format!("{MARKER}\n{expected}")
    );

    // A fork: no secrets at all and a read-only token. The plan fails naming the missing
    // credentials; the comment cannot be posted, which does not hide that failure.
    let mut run = github_run(&ci, &wf, Event::pull_request(4).forked());
    run.run_all();
    let job = run.job("plan");
    assert_eq!(job.result, Outcome::Failure);
    assert_eq!(job.step("Plan").outcome, Outcome::Failure);
    assert_eq!(job.step("Plan").outputs["exit"], "1");
    assert!(
        job.log().contains("no cloudflare credentials"),
        "{}",
        job.log()
    );
    let post = job.step("Post the plan as one sticky comment");
    assert_eq!(
        (post.outcome, post.conclusion),
        (Outcome::Failure, Outcome::Success)
    );
    assert!(post.ran.as_ref().unwrap().stderr.contains("HTTP 403"));
    assert!(ci.fake.state().github.comments_on(4).is_empty());
    assert_no_leak(&ci, &p);
}

#[test]
fn changes_outside_the_secrets_start_no_plan() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A"]);
    let ci = Ci::new(&p, Some(&emu));
    let wf = Workflow::load("github-actions.yml");
    let readme = Event::pull_request(9).changing(&["README.md"]);
    assert!(!wf.triggered_by(&readme));
    assert!(wf.triggered_by(&Event::pull_request(9).changing(&["values/production/x/A.age"])));
    assert!(wf.triggered_by(&Event::push_to_main().changing(&[".age-recipients"])));
    assert!(!wf.triggered_by(&Event::schedule()));

    let config = Config::load();
    let mr = Pipeline::merge_request(&ci, &config, 9).changing(&["README.md"]);
    assert!(mr.created());
    assert!(mr.planned_jobs().is_empty());
    let mr = Pipeline::merge_request(&ci, &config, 9).changing(&["values/production/x/A.age"]);
    assert_eq!(mr.planned_jobs(), ["plan"]);
}

// ── GitHub Actions: main ──────────────────────────────────────────────────────────────────

#[test]
fn main_applies_the_plan_it_saved_and_refuses_it_once_stale() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A", "B"]);
    let ci = Ci::new(&p, Some(&emu));
    let wf = Workflow::load("github-actions.yml");

    let expected = markdown_plan(&p, true, 0);
    let mut run = github_run(&ci, &wf, Event::push_to_main());
    assert_eq!(run.run_all(), ["saved-plan", "apply"]);
    let saved = run.job("saved-plan");
    assert_eq!(saved.result, Outcome::Success, "{}", saved.log());
    assert_eq!(saved.summary, expected);
    let apply = run.job("apply");
    assert_eq!(apply.result, Outcome::Success, "{}", apply.log());
    assert!(apply.log().contains("Apply complete"), "{}", apply.log());
    // --wait-active: the job ends once the new secrets read `active`, ready for a deploy.
    assert!(
        apply.log().contains("Active: 2 secrets read active after"),
        "{}",
        apply.log()
    );
    // The apply job's checkout had no plan: it applied the artifact, byte for byte.
    assert_eq!(
        std::fs::read(apply.workspace.join("plan.json")).unwrap(),
        std::fs::read(saved.workspace.join("plan.json")).unwrap()
    );
    assert_eq!(emu.names(STORE), ["A", "B"]);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);

    // The apply job's write token lives in the `production` environment only.
    let apply_job = &wf.doc["jobs"]["apply"];
    assert_eq!(apply_job["environment"], "production");
    assert_eq!(apply_job["needs"], "saved-plan");
    let text = serde_json::to_string(&wf.doc["jobs"]["plan"]).unwrap()
        + &serde_json::to_string(&wf.doc["jobs"]["saved-plan"]).unwrap();
    assert!(
        !text.contains("CLOUDFLARE_API_TOKEN_WRITE"),
        "only apply may write"
    );
    assert_eq!(wf.doc["concurrency"]["cancel-in-progress"], false);

    // Live state moves between the plan and the apply: the saved plan is refused.
    declare(&p, &["A", "B", "C"]);
    let mut run = github_run(&ci, &wf, Event::push_to_main());
    assert_eq!(run.run_job("saved-plan").result, Outcome::Success);
    emu.patch_comment(STORE, "A", "edited in the dashboard");
    let apply = run.run_job("apply");
    assert_eq!(apply.result, Outcome::Failure);
    assert!(apply.log().contains("stale"), "{}", apply.log());
    assert_eq!(emu.names(STORE), ["A", "B"], "nothing applied");

    // A blocked plan on main fails the plan job, and apply never runs.
    let mut run = github_run(&ci, &wf, Event::push_to_main());
    std::fs::write(p.path("cfsecrets.yaml"), "not: [a manifest").unwrap();
    run.run_all();
    assert_eq!(run.job("saved-plan").result, Outcome::Failure);
    assert_eq!(run.job("apply").result, Outcome::Skipped);
    assert_no_leak(&ci, &p);
}

// ── GitHub Actions: drift ─────────────────────────────────────────────────────────────────

#[test]
fn the_drift_check_files_one_issue_and_closes_it_once_in_sync() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A", "B"]);
    p.run(&["apply", "--auto-approve"]).expect(0);
    let ci = Ci::new(&p, Some(&emu));
    let drift = Workflow::load("drift.yml");
    let main = Workflow::load("github-actions.yml");
    let open_issues = |ci: &Ci| -> Vec<fake::Issue> {
        ci.fake
            .state()
            .github
            .issues
            .iter()
            .filter(|i| i.open)
            .cloned()
            .collect()
    };

    // In sync: the run passes and files nothing.
    let mut run = github_run(&ci, &drift, Event::schedule());
    assert_eq!(run.run_all(), ["drift"]);
    let job = run.job("drift");
    assert_eq!(job.result, Outcome::Success, "{}", job.log());
    assert_eq!(
        job.step("Open or update the drift issue").outcome,
        Outcome::Skipped
    );
    assert!(ci.fake.state().github.issues.is_empty());

    // A comment edited in the dashboard: the run fails and opens one labelled issue whose
    // body ends with the plan.
    emu.patch_comment(STORE, "A", "edited in the dashboard");
    let expected = markdown_plan(&p, true, 0);
    let mut run = github_run(&ci, &drift, Event::schedule());
    run.run_all();
    let job = run.job("drift");
    assert_eq!(job.result, Outcome::Failure);
    assert_eq!(
        job.step("Compare the live state with git").outputs["exit"],
        "2"
    );
    assert_eq!(job.step("Fail on drift").outcome, Outcome::Failure);
    assert_eq!(job.summary, expected);
    let issues = open_issues(&ci);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].labels, ["cfsecrets-drift"]);
    assert!(
        issues[0].body.ends_with(&format!("\n\n{expected}")),
        "{}",
        issues[0].body
    );
    assert!(issues[0].body.contains(&run.sha));
    let number = issues[0].number;

    // More drift the next day: the same issue, now with the new plan.
    emu.patch_comment(STORE, "B", "also edited");
    let expected = markdown_plan(&p, true, 0);
    let mut run = github_run(&ci, &drift, Event::schedule());
    run.run_all();
    assert_eq!(run.job("drift").result, Outcome::Failure);
    let issues = open_issues(&ci);
    assert_eq!(issues.len(), 1, "updated, not opened again");
    assert_eq!(issues[0].number, number);
    assert!(issues[0].body.ends_with(&format!("\n\n{expected}")));
    assert_eq!(ci.fake.state().github.issues.len(), 1);

    // Re-applying main by hand (workflow_dispatch) repairs it; the next check closes the issue.
    let mut reapply = github_run(&ci, &main, Event::dispatch_on_main());
    assert_eq!(reapply.run_all(), ["saved-plan", "apply"]);
    assert_eq!(
        reapply.job("apply").result,
        Outcome::Success,
        "{}",
        reapply.job("apply").log()
    );
    let mut run = github_run(&ci, &drift, Event::schedule());
    run.run_all();
    let job = run.job("drift");
    assert_eq!(job.result, Outcome::Success, "{}", job.log());
    assert_eq!(job.step("Close the drift issue").outcome, Outcome::Success);
    let state = ci.fake.state();
    let issue = &state.github.issues[0];
    assert!(!issue.open);
    assert_eq!(
        issue.closing_comments,
        [format!("In sync again at {}.", run.sha)]
    );
    drop(state);
    assert_no_leak(&ci, &p);
}

// ── GitHub Actions: the dry run against the emulator ──────────────────────────────────────

#[test]
fn the_dry_run_plans_and_applies_against_its_own_emulator() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A", "B"]);
    // No emulator given: the workflow starts its own (`cfsecrets emulator`, the binary under
    // test) and finds it through GITHUB_ENV.
    let ci = Ci::new(&p, None);
    let wf = Workflow::load("emulator-dry-run.yml");
    let text = serde_json::to_string(&wf.doc).unwrap();
    assert!(!text.contains("secrets.CLOUDFLARE"), "a real token is used");
    let mut run = github_run(&ci, &wf, Event::pull_request(5));
    assert_eq!(run.run_all(), ["dry-run"]);
    let job = run.job("dry-run");
    assert_eq!(job.result, Outcome::Success, "{}", job.log());
    for step in [
        "Plan against the emulator",
        "Apply the saved plan to the emulator",
        "A second plan must be empty",
        "Stop the emulator",
    ] {
        assert_eq!(job.step(step).outcome, Outcome::Success, "{step}");
    }
    let log = job.log();
    assert!(log.contains("Apply complete"), "{log}");
    assert!(
        emu.names(STORE).is_empty(),
        "the test's emulator was never used"
    );

    // From a fork (no identity): only the plan runs, and says values were not compared.
    let mut run = github_run(&ci, &wf, Event::pull_request(6).forked());
    run.run_all();
    let job = run.job("dry-run");
    assert_eq!(job.result, Outcome::Success, "{}", job.log());
    assert!(
        job.log().contains("values were not compared"),
        "{}",
        job.log()
    );
    assert_eq!(
        job.step("Apply the saved plan to the emulator").outcome,
        Outcome::Skipped
    );
    assert_no_leak(&ci, &p);
}

// ── GitLab CI ─────────────────────────────────────────────────────────────────────────────

/// The one note carrying the plan marker on merge request `iid`.
fn plan_notes(ci: &Ci, iid: u64) -> Vec<fake::Note> {
    ci.fake
        .state()
        .gitlab
        .notes_on(PROJECT_ID, iid)
        .into_iter()
        .filter(|n| n.body.starts_with(MARKER))
        .cloned()
        .collect()
}

#[test]
fn a_merge_request_gets_one_plan_note_updated_on_each_pipeline() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A", "B"]);
    let config = Config::load();
    // GitLab may write `<` in JSON as `\u003c`: the note is found either way.
    for html_escaped in [false, true] {
        declare(&p, &["A", "B"]);
        let ci = Ci::new(&p, Some(&emu));
        let human = GlUser {
            id: 5,
            username: "reviewer".into(),
        };
        {
            let mut s = ci.fake.state();
            s.gitlab.html_escaped_json = html_escaped;
            s.gitlab.tokens.insert(NOTE_TOKEN.into(), note_bot());
            s.gitlab
                .add_note(PROJECT_ID, 21, &human, "added 1 commit", true);
            // Over a default page of notes, one quoting the marker mid-text.
            for i in 0..25 {
                s.gitlab
                    .add_note(PROJECT_ID, 21, &human, &format!("comment {i}"), false);
            }
            s.gitlab.add_note(
                PROJECT_ID,
                21,
                &human,
                &format!("why does the bot write {MARKER} first?"),
                false,
            );
        }
        let notes_before = ci.fake.state().gitlab.notes.len();

        let first = markdown_plan(&p, true, 0);
        let mut mr = with_variables(&ci, Pipeline::merge_request(&ci, &config, 21));
        assert_eq!(mr.run_all(), ["plan"]);
        let job = mr.job("plan");
        assert_eq!(job.result, Outcome::Success, "{}", job.log());
        assert!(
            job.log().contains(&first),
            "the plan is also in the job log"
        );
        let notes = plan_notes(&ci, 21);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].body, format!("{MARKER}\n{first}"));
        assert_eq!(notes[0].author, note_bot().username);
        assert_eq!(ci.fake.state().gitlab.notes.len(), notes_before + 1);
        let id = notes[0].id;

        declare(&p, &["A", "B", "C"]);
        let second = markdown_plan(&p, true, 0);
        let mut mr = with_variables(&ci, Pipeline::merge_request(&ci, &config, 21));
        mr.run_all();
        assert_eq!(
            mr.job("plan").result,
            Outcome::Success,
            "{}",
            mr.job("plan").log()
        );
        let notes = plan_notes(&ci, 21);
        assert_eq!(
            notes.len(),
            1,
            "updated, not added (escaped: {html_escaped})"
        );
        assert_eq!(notes[0].id, id);
        assert_eq!(notes[0].body, format!("{MARKER}\n{second}"));
        assert_eq!(ci.fake.state().gitlab.notes.len(), notes_before + 1);
        let put = ci
            .fake
            .state()
            .calls_of("curl")
            .into_iter()
            .filter(|a| a.contains(&"PUT".to_string()))
            .count();
        assert_eq!(put, 1);
        assert!(
            emu.names(STORE).is_empty(),
            "a merge request plan writes nothing"
        );
        assert_no_leak(&ci, &p);
    }
}

#[test]
fn the_plan_note_is_the_token_users_own_and_says_no_plan_when_the_check_fails() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A"]);
    let ci = Ci::new(&p, Some(&emu));
    let config = Config::load();
    // A reviewer pasted the bot's note, marker and all: not ours to edit (a PUT would be
    // refused with 403 and fail the job).
    let human = GlUser {
        id: 5,
        username: "reviewer".into(),
    };
    let pasted = format!("{MARKER}\n### cfsecrets plan\n\nas the bot said");
    {
        let mut s = ci.fake.state();
        s.gitlab.tokens.insert(NOTE_TOKEN.into(), note_bot());
        s.gitlab.add_note(PROJECT_ID, 22, &human, &pasted, false);
    }
    let mut mr = with_variables(&ci, Pipeline::merge_request(&ci, &config, 22));
    mr.run_all();
    assert_eq!(
        mr.job("plan").result,
        Outcome::Success,
        "{}",
        mr.job("plan").log()
    );
    let ours = |ci: &Ci| -> Vec<fake::Note> {
        plan_notes(ci, 22)
            .into_iter()
            .filter(|n| n.author == note_bot().username)
            .collect()
    };
    let notes = plan_notes(&ci, 22);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0].body, pasted, "the reviewer's note was changed");
    assert_eq!(ours(&ci).len(), 1);
    assert_eq!(
        ours(&ci)[0].body,
        format!("{MARKER}\n{}", markdown_plan(&p, true, 0))
    );

    // The manifest breaks: `cfsecrets check` fails, yet the note is updated to say there is
    // no plan (never the old one), and the job fails.
    std::fs::write(
        p.path("cfsecrets.yaml"),
        std::fs::read_to_string(p.path("cfsecrets.yaml")).unwrap() + "unknown_key: 1\n",
    )
    .unwrap();
    let mut mr = with_variables(&ci, Pipeline::merge_request(&ci, &config, 22));
    mr.run_all();
    let job = mr.job("plan");
    assert_eq!(job.result, Outcome::Failure);
    assert_eq!(job.ran.as_ref().unwrap().code, Some(1), "{}", job.log());
    let body = ours(&ci)[0].body.clone();
    assert_eq!(ours(&ci).len(), 1, "updated, not added");
    assert!(
        body.starts_with(&format!("{MARKER}\n### cfsecrets plan\n")),
        "{body}"
    );
    assert!(
        body.contains(&format!("**No plan for {}**", &mr.sha[..8])),
        "{body}"
    );
    assert!(!body.contains("store main"), "{body}");
    assert_eq!(plan_notes(&ci, 22)[0].body, pasted);
    assert_no_leak(&ci, &p);
}

#[test]
fn a_blocked_plan_fails_the_merge_request_pipeline() {
    let emu = Emu::start();
    let (p, blocked) = blocked_project(&emu);
    let ci = Ci::new(&p, Some(&emu));
    ci.fake
        .state()
        .gitlab
        .tokens
        .insert(NOTE_TOKEN.into(), note_bot());
    let config = Config::load();
    let mut mr = with_variables(&ci, Pipeline::merge_request(&ci, &config, 30));
    mr.run_all();
    let job = mr.job("plan");
    assert_eq!(job.result, Outcome::Failure);
    assert_eq!(job.ran.as_ref().unwrap().code, Some(3));
    assert!(
        job.log().contains("blocked by a safety rule"),
        "{}",
        job.log()
    );
    let notes = plan_notes(&ci, 30);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].body, format!("{MARKER}\n{blocked}"));
    assert_eq!(emu.names(STORE).len(), 10);
    assert_no_leak(&ci, &p);
}

#[test]
fn merge_requests_without_protected_variables_or_from_forks() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A"]);
    let ci = Ci::new(&p, Some(&emu));
    ci.fake
        .state()
        .gitlab
        .tokens
        .insert(NOTE_TOKEN.into(), note_bot());
    let config = Config::load();

    // The identity kept to protected branches: the merge request plan compares no value, and
    // says so in the note.
    let expected = markdown_plan(&p, false, 0);
    let mut mr = Pipeline::merge_request(&ci, &config, 40)
        .variable("CLOUDFLARE_API_TOKEN_READ", TOKEN)
        .protected_variable("CFSECRETS_AGE_KEY", &identity_line(&ci))
        .variable("GITLAB_NOTE_TOKEN", NOTE_TOKEN);
    mr.run_all();
    let job = mr.job("plan");
    assert_eq!(job.result, Outcome::Success, "{}", job.log());
    assert_eq!(plan_notes(&ci, 40)[0].body, format!("{MARKER}\n{expected}"));
    assert!(expected.contains("values were not compared"));

    // A fork's pipeline runs in the fork, with none of the project's variables.
    let mut mr = with_variables(&ci, Pipeline::merge_request(&ci, &config, 41).forked());
    mr.run_all();
    let job = mr.job("plan");
    assert_eq!(job.result, Outcome::Failure);
    let log = job.log();
    assert!(log.contains("no cloudflare credentials"), "{log}");
    assert!(log.contains("GITLAB_NOTE_TOKEN is not set"), "{log}");
    assert!(plan_notes(&ci, 41).is_empty());
    assert!(
        ci.fake
            .state()
            .calls_of("curl")
            .iter()
            .all(|a| !a.concat().contains("/41/"))
    );
    assert_no_leak(&ci, &p);
}

#[test]
fn the_default_branch_applies_the_saved_plan_in_one_resource_group() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A", "B"]);
    let ci = Ci::new(&p, Some(&emu));
    let config = Config::load();
    let apply_job = &config.doc["apply"];
    assert_eq!(apply_job["resource_group"], "cfsecrets-production");
    assert_eq!(apply_job["environment"], "production");
    assert_eq!(apply_job["needs"], serde_json::json!(["saved-plan"]));

    let expected = markdown_plan(&p, true, 0);
    let mut push = with_variables(&ci, Pipeline::push_to_default(&ci, &config));
    assert_eq!(push.run_all(), ["saved-plan", "apply"]);
    let saved = push.job("saved-plan");
    assert_eq!(saved.result, Outcome::Success, "{}", saved.log());
    assert!(saved.log().contains(&expected));
    let apply = push.job("apply");
    assert_eq!(apply.result, Outcome::Success, "{}", apply.log());
    assert!(
        apply.log().contains("Active: 2 secrets read active after"),
        "{}",
        apply.log()
    );
    assert_eq!(
        std::fs::read(apply.workspace.join("plan.json")).unwrap(),
        std::fs::read(saved.workspace.join("plan.json")).unwrap()
    );
    assert_eq!(emu.names(STORE), ["A", "B"]);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);

    // The write token is protected: a merge request pipeline never sees it, and has no apply.
    let mr = with_variables(&ci, Pipeline::merge_request(&ci, &config, 50));
    assert_eq!(mr.planned_jobs(), ["plan"]);

    // Stale: live state moved after the plan was saved.
    declare(&p, &["A", "B", "C"]);
    let mut push = with_variables(&ci, Pipeline::push_to_default(&ci, &config));
    assert_eq!(push.run_job("saved-plan").result, Outcome::Success);
    emu.patch_comment(STORE, "B", "edited in the dashboard");
    let apply = push.run_job("apply");
    assert_eq!(apply.result, Outcome::Failure);
    assert!(apply.log().contains("stale"), "{}", apply.log());
    assert_eq!(emu.names(STORE), ["A", "B"]);

    // Without the write token (not on a protected branch, say) apply fails and writes nothing.
    let mut push = Pipeline::push_to_default(&ci, &config)
        .variable("CLOUDFLARE_API_TOKEN_READ", TOKEN)
        .variable("CFSECRETS_AGE_KEY", &identity_line(&ci));
    push.run_all();
    assert_eq!(push.job("saved-plan").result, Outcome::Success);
    assert_eq!(push.job("apply").result, Outcome::Failure);
    assert_eq!(emu.names(STORE), ["A", "B"]);
    assert_no_leak(&ci, &p);
}

#[test]
fn a_scheduled_gitlab_pipeline_fails_on_drift() {
    let emu = Emu::start();
    let p = project_with(&emu, &["A"]);
    p.run(&["apply", "--auto-approve"]).expect(0);
    let ci = Ci::new(&p, Some(&emu));
    let config = Config::load();

    let mut schedule = with_variables(&ci, Pipeline::schedule(&ci, &config));
    assert_eq!(schedule.run_all(), ["drift"]);
    assert_eq!(
        schedule.job("drift").result,
        Outcome::Success,
        "{}",
        schedule.job("drift").log()
    );

    emu.patch_comment(STORE, "A", "edited in the dashboard");
    let mut schedule = with_variables(&ci, Pipeline::schedule(&ci, &config));
    schedule.run_all();
    let job = schedule.job("drift");
    assert_eq!(job.result, Outcome::Failure);
    assert_eq!(job.ran.as_ref().unwrap().code, Some(2));
    assert!(job.log().contains("main/A"), "{}", job.log());
    assert_no_leak(&ci, &p);
}

// ── What the examples are made of ─────────────────────────────────────────────────────────

/// Every script line of every example: GitHub `run:` steps, GitLab scripts.
fn script_lines() -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for file in ["github-actions.yml", "drift.yml", "emulator-dry-run.yml"] {
        for (_, job) in Workflow::load(file).jobs() {
            for step in job["steps"].as_array().unwrap() {
                if let Some(run) = step["run"].as_str() {
                    lines.extend(run.lines().map(|l| (file.to_string(), l.to_string())));
                }
            }
        }
    }
    let config = Config::load();
    for job in config.jobs() {
        for key in ["before_script", "script"] {
            let mut values = Vec::new();
            fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
                match v {
                    serde_json::Value::String(s) => out.push(s.clone()),
                    serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
                    _ => {}
                }
            }
            collect(&config.doc[&job][key], &mut values);
            collect(&config.doc["default"][key], &mut values);
            for v in values {
                lines.extend(
                    v.lines()
                        .map(|l| ("gitlab-ci.yml".to_string(), l.to_string())),
                );
            }
        }
    }
    lines
}

#[test]
fn every_cfsecrets_command_in_the_examples_exists() {
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (file, line) in script_lines() {
        for command in commands_in_line(&line) {
            seen.insert(command[1].clone());
            if let Err(e) = check_command(&command) {
                failures.push(format!("{file}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for sub in ["check", "plan", "apply", "emulator"] {
        assert!(
            seen.contains(sub),
            "no example runs cfsecrets {sub}: {seen:?}"
        );
    }
}

#[test]
fn the_gh_jq_filters_the_fake_runs_agree_with_jq() {
    if crate::support::require_tool("jq", "the_gh_jq_filters_the_fake_runs_agree_with_jq").is_none()
    {
        return;
    }
    let mut gh = fake::GitHub::default();
    gh.repo = "acme/secrets".into();
    gh.add_comment(7, "octocat", &format!("{MARKER}\nquoted by a human"));
    gh.add_comment(7, ACTIONS_BOT, "<!-- coverage -->\n91%");
    gh.add_comment(7, ACTIONS_BOT, &format!("{MARKER}\n### cfsecrets plan"));
    gh.add_comment(7, ACTIONS_BOT, &format!("see {MARKER}"));
    let comments = serde_json::Value::Array(
        gh.comments_on(7)
            .into_iter()
            .map(|c| gh.comment_json(c))
            .collect(),
    );
    let issue = |n: u64| fake::Issue {
        number: n,
        title: "t".into(),
        body: "b".into(),
        labels: vec!["cfsecrets-drift".into()],
        open: true,
        closing_comments: Vec::new(),
    };
    let issues = |list: &[u64]| {
        serde_json::Value::Array(
            list.iter()
                .map(|n| gh.issue_json(&issue(*n), &["number"]))
                .collect(),
        )
    };
    let inputs = [
        comments,
        issues(&[]),
        issues(&[44, 43]),
        serde_json::json!([]),
    ];
    let mut compared = 0;
    for (filter, emulate) in JQ_FILTERS {
        for input in &inputs {
            let mut child = std::process::Command::new("jq")
                .args(["-r", filter])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.to_string().as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            if !out.status.success() {
                // jq refuses this input for this filter (e.g. indexing a comment list by
                // .number); so would gh, and the workflows never do it.
                continue;
            }
            let fake_lines: String = emulate(input).into_iter().map(|l| l + "\n").collect();
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                fake_lines,
                "{filter} on {input}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 6, "only {compared} comparisons");
}

#[test]
fn the_readme_quotes_the_examples_as_they_run() {
    // Every block of the section: the YAML ones quote the examples, which this chapter runs;
    // the others show output and run nothing.
    let blocks = crate::docs::readme_section("plan and apply in CI");
    let examples: Vec<String> = [
        "github-actions.yml",
        "drift.yml",
        "emulator-dry-run.yml",
        "gitlab-ci.yml",
    ]
    .iter()
    .flat_map(|f| {
        std::fs::read_to_string(crate::docs::repo().join("examples/ci").join(f))
            .unwrap()
            .lines()
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>()
    })
    .collect();
    let mut quoted = 0;
    for block in &blocks {
        match block.info.as_str() {
            "yaml" => {
                for trimmed in block.body.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    assert!(
                        examples.iter().any(|l| l == trimmed),
                        "README quotes a line no example has: {trimmed}"
                    );
                    quoted += 1;
                }
            }
            "text" if !block.is_session() => {}
            other => panic!(
                "README.md:{}: a `{other}` block in the CI section that this test does not check",
                block.line
            ),
        }
    }
    assert!(quoted >= 4, "only {quoted} quoted lines");
}
