"""LocalForge against real git and real check commands; choosing a forge."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from vaultzoe.errors import TaskBlocked
from vaultzoe.protocols import ForgeJob
from vaultzoe.settings import Settings
from vaultzoe.work.forge import FORGES, LocalForge, forge_name, make_forge
from vaultzoe.work.workspace import Workspace

BRANCH = "zoe/add-greeting-t1"
PASSING = (sys.executable, "-c", "import pathlib; assert pathlib.Path('greeting.txt').exists(); print('1 passed')")
FAILING = (sys.executable, "-c", "import sys; print('FAILED test_greeting - AssertionError: wrong words'); sys.exit(1)")


@pytest.fixture
def ws(worktrees_root) -> Workspace:
    return Workspace(worktrees_root)


def job_for(git_repo, ws, tmp_path, repo=None, **kw) -> ForgeJob:
    repo = repo or git_repo.repo
    tree = ws.ensure(repo, BRANCH, "t1")
    fields = dict(task_id="t1", title="Add a greeting", summary="", acceptance="", repo=repo, branch=BRANCH,
                  base="main", worktree=tree.path, base_commit=tree.base_commit, log_dir=tmp_path / "run")
    return ForgeJob(**{**fields, **kw})


def states(report) -> dict[str, str]:
    return {item.name: item.state for item in report.checks}


def test_commits_and_passing_check_push_to_origin(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(check=PASSING))
    sha = git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")

    report = LocalForge(ws).submit(job)

    assert states(report) == {"commits": "pass", "synced": "pass", "checks": "pass", "pr": "pass", "review": "skipped"}
    assert report.passed and not report.failed and report.evidence == ""
    assert report.review_for == git_repo.git(job.worktree, "rev-parse", "HEAD")   # the AI reviewer is asked next
    assert "1 passed" in (job.log_dir / "check.log").read_text()
    assert git_repo.git(git_repo.origin, "rev-parse", BRANCH) == sha


def test_failing_check_fails_with_its_output_and_is_not_pushed(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(check=FAILING))
    git_repo.commit_file(job.worktree, "greeting.txt", "hullo\n", "add greeting")

    report = LocalForge(ws).submit(job)

    assert report.failed and states(report)["checks"] == "fail" and states(report)["pr"] == "skipped"
    assert "failed with exit code 1" in report.evidence
    assert "FAILED test_greeting - AssertionError: wrong words" in report.evidence
    assert BRANCH not in git_repo.git(git_repo.origin, "branch", "--list")


def test_no_commits_fails_and_names_uncommitted_work(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(check=PASSING))
    (job.worktree / "greeting.txt").write_text("never committed\n")

    report = LocalForge(ws).submit(job)

    assert states(report) == {"commits": "fail", "synced": "pass", "checks": "skipped", "pr": "skipped",
                              "review": "skipped"}
    assert report.review_for == ""                          # no tokens spent reviewing a failed attempt
    assert "the agent made no commits" in report.evidence.lower()
    assert "uncommitted changes left in the worktree" in report.evidence.lower()
    assert "greeting.txt" in report.evidence
    assert git_repo.git(job.worktree, "status", "--porcelain") == "?? greeting.txt"   # not committed for it
    assert not (job.log_dir / "check.log").exists()


def test_uncommitted_leftovers_are_mentioned_even_when_commits_pass(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path)
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    (job.worktree / "notes.txt").write_text("scratch")

    report = LocalForge(ws).submit(job)

    assert report.passed and "uncommitted changes left in the worktree" in report.evidence.lower()


def test_no_check_command_skips_checks_and_no_origin_keeps_a_local_branch(git_repo, ws, tmp_path):
    git_repo.git(git_repo.path, "remote", "remove", "origin")
    job = job_for(git_repo, ws, tmp_path)
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")

    report = LocalForge(ws).submit(job)

    assert states(report)["checks"] == "skipped" and report.passed
    assert "no origin" in dict((c.name, c.detail) for c in report.checks)["pr"]


def test_rejected_push_is_a_failed_item_not_an_exception(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path)
    other = tmp_path / "other"
    git_repo.git(tmp_path, "clone", "-q", str(git_repo.origin), str(other))
    git_repo.git(other, "checkout", "-q", "-b", BRANCH)
    git_repo.commit_file(other, "greeting.txt", "theirs\n", "someone else's work")
    git_repo.git(other, "push", "-q", "origin", BRANCH)
    git_repo.commit_file(job.worktree, "greeting.txt", "ours\n", "add greeting")

    report = LocalForge(ws).submit(job)

    assert report.failed and states(report)["pr"] == "fail"
    assert "rejected" in report.evidence and BRANCH in report.evidence


def test_branch_behind_base_needs_sync_when_the_repo_asks_for_it(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path)
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    git_repo.commit_file(git_repo.path, "other.txt", "x", "main moves on")

    report = LocalForge(ws).submit(job)
    assert report.needs_sync and states(report)["synced"] == "fail" and states(report)["pr"] == "skipped"
    assert "1 commits behind main" in report.evidence

    no_sync = job_for(git_repo, ws, tmp_path / "b", repo=git_repo.config(done=("checks",)))
    assert "synced" not in states(LocalForge(ws).submit(no_sync))


def test_check_timeout_and_missing_program(git_repo, ws, tmp_path):
    slow = git_repo.config(check=(sys.executable, "-c", "import time; time.sleep(60)"))
    job = job_for(git_repo, ws, tmp_path, repo=slow)
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    report = LocalForge(ws, check_timeout_s=0.5).submit(job)
    assert report.failed and "timed out" in report.evidence

    missing = job_for(git_repo, ws, tmp_path, repo=git_repo.config(check=("no-such-test-runner",)))
    report = LocalForge(ws).submit(missing)
    assert report.failed and "could not start" in report.evidence and "`check:`" in report.evidence


def test_observe_returns_the_kept_judgement_then_merged(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(check=PASSING))
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    forge = LocalForge(ws)
    submitted = forge.submit(job)

    assert LocalForge(ws).observe(job) == submitted          # a new instance (restart) reads it back
    assert not submitted.merged

    git_repo.git(git_repo.path, "merge", "-q", "--no-edit", BRANCH)
    merged = forge.observe(job)
    assert merged.merged and merged.checks == submitted.checks


def test_observe_judges_afresh_when_nothing_is_kept(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path)
    report = LocalForge(ws).observe(job)
    assert report.failed and "no commits" in report.evidence


def test_forge_is_chosen_from_settings_repo_and_token(git_repo):
    with_github = git_repo.config(github="acme/app")
    assert forge_name("auto", with_github, {"GITHUB_TOKEN": "t"}) == "github"
    assert forge_name("auto", with_github, {"GH_TOKEN": "t"}) == "github"
    assert forge_name("auto", with_github, {}) == "local"
    assert forge_name("auto", git_repo.repo, {"GITHUB_TOKEN": "t"}) == "local"
    assert forge_name("local", with_github, {"GITHUB_TOKEN": "t"}) == "local"
    assert forge_name("github", git_repo.repo, {}) == "github"
    assert set(FORGES) == {"local", "github"}


def test_make_forge_builds_a_local_forge_and_blocks_github_without_what_it_needs(git_repo, ws):
    forge = make_forge(Settings(), git_repo.repo, {}, ws)
    assert isinstance(forge, LocalForge) and forge.name == "local" and forge.workspace is ws
    with pytest.raises(TaskBlocked, match="set GITHUB_TOKEN"):
        make_forge(Settings(forge="github"), git_repo.config(github="acme/app"), {}, ws)
    with pytest.raises(TaskBlocked, match="no `github:` property"):
        make_forge(Settings(forge="github"), git_repo.repo, {"GITHUB_TOKEN": "t"}, ws)


def test_fake_forge_hands_out_scripted_reports(git_repo, ws, tmp_path):
    from vaultzoe.fakes.forge import FakeForge, failing, merged, passing
    fake = FakeForge(submits=[failing("1 test failed\nassert 1 == 2")])
    job = job_for(git_repo, ws, tmp_path)

    assert fake.make(Settings(), git_repo.repo) is fake
    first = fake.submit(job)
    assert first.failed and first.evidence.startswith("1 test failed")
    assert fake.submit(job) == passing() and fake.observe(job) == passing()
    fake.enqueue_observe(merged())
    assert fake.observe(job).merged and fake.observe(job).merged
    assert len(fake.submitted) == 2 and len(fake.observed) == 3


# ---------------------------------------------------------------- an attempt never approves itself (security #4)


def started_job(git_repo, ws, tmp_path, **kw) -> ForgeJob:
    """A job as the orchestrator builds it: the refs recorded when the attempt started."""
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    return job_for(git_repo, ws, tmp_path, refs_at_start=tree.refs, **kw)


@pytest.mark.parametrize("ref", ["refs/heads/main", "refs/remotes/origin/main"])
@pytest.mark.parametrize("recorded", [True, False], ids=["refs-recorded", "orchestrator-not-wired"])
def test_an_agent_moving_base_to_its_own_commit_fails_as_tampering_and_is_never_merged(git_repo, ws, tmp_path,
                                                                                        ref, recorded):
    job = started_job(git_repo, ws, tmp_path) if recorded else job_for(git_repo, ws, tmp_path)
    sha = git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    git_repo.git(job.worktree, "update-ref", ref, "HEAD")            # the agent "merges" its own work

    report = LocalForge(ws).submit(job)

    assert report.failed and states(report)["base"] == "fail" and states(report)["pr"] == "skipped"
    assert "moved during the attempt" in report.evidence and ref in report.evidence
    assert "vaultzoe did not touch main" in report.evidence
    assert git_repo.git(git_repo.path, "rev-parse", ref) == sha         # vaultzoe leaves the base as it is
    assert BRANCH not in git_repo.git(git_repo.origin, "branch", "--list")
    assert not LocalForge(ws).observe(job).merged


def test_an_agent_daemon_fast_forwarding_base_later_cannot_undo_a_tamper_verdict(git_repo, ws, tmp_path):
    job = started_job(git_repo, ws, tmp_path)
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    git_repo.git(job.worktree, "update-ref", "refs/heads/main", "HEAD")
    LocalForge(ws).submit(job)
    assert not LocalForge(ws).observe(job).merged                    # the base has not moved since the judgement


def test_base_moving_during_the_run_with_other_work_is_no_tampering(git_repo, ws, tmp_path):
    job = started_job(git_repo, ws, tmp_path, repo=git_repo.config(done=("checks",)))
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    git_repo.commit_file(git_repo.path, "other.txt", "x", "a human commits to main meanwhile")

    report = LocalForge(ws).submit(job)

    assert report.passed and "base" not in states(report)
    assert not LocalForge(ws).observe(job).merged


def test_a_human_merging_an_earlier_attempt_during_a_retry_is_no_tampering(git_repo, ws, tmp_path):
    first = ws.ensure(git_repo.repo, BRANCH, "t1")
    git_repo.commit_file(first.path, "greeting.txt", "hello\n", "attempt 1")
    job = started_job(git_repo, ws, tmp_path)                        # attempt 2 starts on the same branch
    git_repo.commit_file(job.worktree, "greeting.txt", "hello there\n", "attempt 2")
    git_repo.git(git_repo.path, "merge", "-q", "--no-edit", f"{BRANCH}~1")   # the human merges attempt 1 only

    report = LocalForge(ws).submit(job)

    assert "base" not in states(report) and report.passed


def test_merged_only_when_base_moves_after_the_judgement_and_holds_the_tip(git_repo, ws, tmp_path):
    job = started_job(git_repo, ws, tmp_path)
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    submitted = LocalForge(ws).submit(job)
    assert submitted.passed and not LocalForge(ws).observe(job).merged

    git_repo.commit_file(git_repo.path, "other.txt", "x", "main moves, without the task")
    assert not LocalForge(ws).observe(job).merged
    git_repo.git(git_repo.path, "merge", "-q", "--no-edit", BRANCH)   # the human merges in review
    merged = LocalForge(ws).observe(job)
    assert merged.merged and merged.checks == submitted.checks


def test_a_judgement_kept_without_refs_counts_only_later_merges(git_repo, ws, tmp_path):
    import json
    job = started_job(git_repo, ws, tmp_path)
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    LocalForge(ws).submit(job)
    kept = job.log_dir / "forge.json"
    kept.write_text(json.dumps({k: v for k, v in json.loads(kept.read_text()).items() if k != "judged_refs"}))
    git_repo.git(job.worktree, "update-ref", "refs/heads/main", "HEAD")    # moved before the upgrade's first look
    assert not LocalForge(ws).observe(job).merged
    git_repo.commit_file(git_repo.path, "later.txt", "x", "the human merges later")
    assert LocalForge(ws).observe(job).merged


# ---------------------------------------------------------------- one definition of done: the repo note's done: list


def test_the_local_forge_judges_the_items_of_the_repo_notes_done_list_in_its_order(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(check=PASSING, done=("pr", "checks")))
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")

    report = LocalForge(ws).submit(job)

    assert [c.name for c in report.checks] == ["commits", "pr", "checks"] and report.passed


def test_a_check_command_the_done_list_does_not_ask_for_is_not_run(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(check=FAILING, done=("pr",)))
    sha = git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")

    report = LocalForge(ws).submit(job)

    assert states(report) == {"commits": "pass", "pr": "pass"} and report.passed
    assert not (job.log_dir / "check.log").exists()
    assert git_repo.git(git_repo.origin, "rev-parse", BRANCH) == sha


def test_items_that_need_github_are_skipped_locally_never_failed(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, ui=True, repo=git_repo.config(done=("pr", "review", "screenshots")))
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")

    report = LocalForge(ws).submit(job)

    assert [c.name for c in report.checks] == ["commits", "pr", "review", "screenshots"]
    details = {c.name: c.detail for c in report.checks}
    assert states(report)["screenshots"] == "skipped" and "needs GitHub" in details["screenshots"]
    assert states(report)["review"] == "skipped" and "human reviews need GitHub" in details["review"]
    assert report.passed


def test_a_refused_push_shows_as_a_failed_pr_item_even_when_pr_is_not_listed(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(done=("checks",)))
    other = tmp_path / "other"
    git_repo.git(tmp_path, "clone", "-q", str(git_repo.origin), str(other))
    git_repo.git(other, "checkout", "-q", "-b", BRANCH)
    git_repo.commit_file(other, "greeting.txt", "theirs\n", "someone else's work")
    git_repo.git(other, "push", "-q", "origin", BRANCH)
    git_repo.commit_file(job.worktree, "greeting.txt", "ours\n", "add greeting")

    report = LocalForge(ws).submit(job)

    assert report.failed and states(report)["pr"] == "fail" and "rejected" in report.evidence


# ---------------------------------------------------------------- the AI review verdict, handed in from outside


def reviewed_job(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(done=("checks", "review")))
    sha = git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    return job, sha


def test_a_blocking_verdict_for_the_asked_commit_fails_the_review_and_is_kept(git_repo, ws, tmp_path):
    from vaultzoe.protocols import Review
    job, sha = reviewed_job(git_repo, ws, tmp_path)
    asked = LocalForge(ws).submit(job)
    assert asked.review_for == sha and states(asked)["review"] == "skipped"

    block = Review("block", "Greets in the wrong language.", ("greeting.txt: says hullo",))
    judged = LocalForge(ws).observe(replace(job, review=block, review_sha=asked.review_for))

    assert judged.failed and states(judged)["review"] == "fail" and judged.review_for == ""
    assert "Greets in the wrong language." in judged.evidence and "says hullo" in judged.evidence
    assert LocalForge(ws).observe(job) == judged                 # kept: a restart reads the verdict back


def test_a_passing_verdict_passes_and_a_verdict_for_another_commit_is_ignored(git_repo, ws, tmp_path):
    from vaultzoe.protocols import Review
    job, sha = reviewed_job(git_repo, ws, tmp_path)
    LocalForge(ws).submit(job)

    stale = LocalForge(ws).observe(replace(job, review=Review("block", "old"), review_sha="0" * 40))
    assert states(stale)["review"] == "skipped" and stale.review_for == sha

    passed = LocalForge(ws).observe(replace(job, review=Review("pass", "fine"), review_sha=sha))
    assert passed.passed and states(passed)["review"] == "pass" and passed.review_for == ""


def test_no_verdict_is_asked_for_while_another_item_fails(git_repo, ws, tmp_path):
    job = job_for(git_repo, ws, tmp_path, repo=git_repo.config(check=FAILING, done=("checks", "review")))
    git_repo.commit_file(job.worktree, "greeting.txt", "hello\n", "add greeting")
    report = LocalForge(ws).submit(job)
    assert report.failed and report.review_for == ""
