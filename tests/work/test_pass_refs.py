"""The local forge's looks at tasks in review share one `git for-each-ref` per repo per pass."""

from __future__ import annotations

from vaultzoe.protocols import ForgeJob
from vaultzoe.work.forge import LocalForge
from vaultzoe.work.workspace import Workspace, parse_refs


def traced_commands(log) -> list[str]:
    text = log.read_text() if log.exists() else ""
    log.write_text("")
    return [line.split("built-in: ", 1)[1] for line in text.splitlines() if "built-in: git " in line]


def judged_jobs(git_repo, ws, tmp_path, count: int) -> list[ForgeJob]:
    jobs = []
    for n in range(1, count + 1):
        tree = ws.ensure(git_repo.repo, f"zoe/task-t{n}", f"t{n}")
        git_repo.commit_file(tree.path, f"t{n}.txt", "done\n", f"task {n}")
        job = ForgeJob(task_id=f"t{n}", title=f"Task {n}", summary="", acceptance="", repo=git_repo.repo,
                       branch=tree.branch, base="main", worktree=tree.path, base_commit=tree.base_commit,
                       log_dir=tmp_path / "runs" / f"t{n}", refs_at_start=tree.refs)
        LocalForge(ws).submit(job)
        jobs.append(job)
    return jobs


def test_a_pass_looks_at_every_task_in_review_with_one_git_command(git_repo, worktrees_root, tmp_path, monkeypatch):
    ws = Workspace(worktrees_root)
    jobs = judged_jobs(git_repo, ws, tmp_path, 3)
    log = tmp_path / "git-trace.log"
    monkeypatch.setenv("GIT_TRACE", str(log))
    ws.new_pass()
    reports = [LocalForge(ws).observe(job) for job in jobs]
    assert len(traced_commands(log)) == 1
    assert not any(r.merged for r in reports)
    for job in jobs:    # the pass's view says what asking git now says
        assert parse_refs(ws.seen_refs(job.repo, job.branch, "main")) == parse_refs(
            ws.record_refs(job.repo, job.branch, "main"))


def test_a_merge_is_seen_by_the_next_pass(git_repo, worktrees_root, tmp_path):
    ws = Workspace(worktrees_root)
    job = judged_jobs(git_repo, ws, tmp_path, 1)[0]
    ws.new_pass()
    assert not LocalForge(ws).observe(job).merged
    git_repo.git(git_repo.path, "merge", "-q", "--no-edit", job.branch)
    assert not LocalForge(ws).observe(job).merged      # this pass already looked: as if it looked a moment earlier
    ws.new_pass()
    assert LocalForge(ws).observe(job).merged


def test_outside_passes_every_look_asks_git(git_repo, worktrees_root, tmp_path):
    ws = Workspace(worktrees_root)
    job = judged_jobs(git_repo, ws, tmp_path, 1)[0]
    assert not LocalForge(ws).observe(job).merged
    git_repo.git(git_repo.path, "merge", "-q", "--no-edit", job.branch)
    assert LocalForge(ws).observe(job).merged


def test_a_judgement_made_during_a_pass_refreshes_that_pass_view_of_its_refs(git_repo, worktrees_root, tmp_path):
    ws = Workspace(worktrees_root)
    first, second = judged_jobs(git_repo, ws, tmp_path, 2)
    ws.new_pass()
    LocalForge(ws).observe(first)                       # the pass's one look
    git_repo.commit_file(second.worktree, "more.txt", "more\n", "more work")
    LocalForge(ws).submit(second)                      # judged now: the pass's view never lags behind it
    assert parse_refs(ws.seen_refs(second.repo, second.branch, "main")) == parse_refs(
        ws.record_refs(second.repo, second.branch, "main"))
    assert not LocalForge(ws).observe(second).merged


def test_a_submission_asks_git_for_the_base_branch_once(git_repo, worktrees_root, tmp_path, monkeypatch):
    ws = Workspace(worktrees_root)
    tree = ws.ensure(git_repo.repo, "zoe/task-t9", "t9")
    git_repo.commit_file(tree.path, "t9.txt", "done\n", "task 9")
    job = ForgeJob(task_id="t9", title="Task 9", summary="", acceptance="", repo=git_repo.config(done=["synced"]),
                   branch=tree.branch, base="main", worktree=tree.path, base_commit=tree.base_commit,
                   log_dir=tmp_path / "runs" / "t9", refs_at_start=tree.refs)
    log = tmp_path / "git-trace.log"
    monkeypatch.setenv("GIT_TRACE", str(log))
    report = LocalForge(ws).submit(job)
    commands = traced_commands(log)
    assert {c.name: c.state for c in report.checks}["synced"] == "pass"
    assert [c for c in commands if c.startswith("git rev-list")] and not [c for c in commands if "rev-parse --verify" in c], commands
