"""Workspace against real git: branches, worktrees, setup, commits, merge detection, push."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vaultzoe.errors import PushRejected, WorkspaceError
from vaultzoe.settings import RepoConfig
from vaultzoe.work.workspace import Workspace

BRANCH = "zoe/fix-login-t1"


@pytest.fixture
def ws(worktrees_root) -> Workspace:
    return Workspace(worktrees_root)


def test_ensure_creates_branch_and_worktree_without_git_identity(git_repo, ws, worktrees_root):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")

    assert tree.created
    assert tree.path == (worktrees_root / "app" / "t1").resolve()
    assert (tree.path / "README.md").read_text() == "# app\n"
    assert tree.branch == BRANCH and tree.base == "main"
    assert tree.base_commit == git_repo.git(git_repo.path, "rev-parse", "main")
    assert git_repo.git(tree.path, "branch", "--show-current") == BRANCH
    assert ws.head(tree.path) == tree.base_commit


def test_ensure_reuses_branch_worktree_and_work_on_retry(git_repo, ws):
    first = ws.ensure(git_repo.repo, BRANCH, "t1")
    git_repo.commit_file(first.path, "login.py", "x = 1\n", "attempt 1 work")

    again = Workspace(ws.worktrees_root).ensure(git_repo.repo, BRANCH, "t1")

    assert not again.created
    assert again.path == first.path
    assert again.base_commit == first.base_commit
    assert (again.path / "login.py").exists()
    assert ws.new_commits(again.path, again.base_commit)[0].endswith("attempt 1 work")


def test_ensure_recreates_a_worktree_deleted_by_hand(git_repo, ws):
    import shutil
    first = ws.ensure(git_repo.repo, BRANCH, "t1")
    git_repo.commit_file(first.path, "a.txt", "a", "kept on the branch")
    shutil.rmtree(first.path)

    again = ws.ensure(git_repo.repo, BRANCH, "t1")

    assert again.created
    assert (again.path / "a.txt").read_text() == "a"


def test_ensure_defaults_to_the_clones_current_branch(git_repo, ws):
    git_repo.git(git_repo.path, "checkout", "-q", "-b", "develop")
    tree = ws.ensure(git_repo.config(base=None), BRANCH, "t1")
    assert tree.base == "develop"


def test_ensure_branches_from_origin_when_base_is_only_remote(git_repo, ws, tmp_path):
    git_repo.git(git_repo.path, "push", "-q", "origin", "main:release")
    git_repo.git(git_repo.path, "fetch", "-q", "origin")
    tree = ws.ensure(git_repo.config(base="release"), BRANCH, "t1")
    assert tree.base == "release"
    assert tree.base_commit == git_repo.git(git_repo.path, "rev-parse", "origin/release")


@pytest.mark.parametrize("setup, message", [
    (lambda tmp: tmp / "nowhere", "does not exist: clone the repository there or fix `path:`"),
    (lambda tmp: tmp, "is not a git repository: clone it there or fix `path:`"),
])
def test_ensure_names_the_fix_for_a_bad_path(tmp_path, ws, setup, message):
    repo = RepoConfig(name="app", path=setup(tmp_path), note_path="Zoe/Repos/app.md")
    with pytest.raises(WorkspaceError, match="Repo note Zoe/Repos/app.md: path .* " + message.replace("`", ".")):
        ws.ensure(repo, BRANCH, "t1")


def test_ensure_names_the_fix_for_a_missing_base(git_repo, ws):
    with pytest.raises(WorkspaceError, match="base branch 'trunk' not found .* set `base:`"):
        ws.ensure(git_repo.config(base="trunk"), BRANCH, "t1")


def test_ensure_refuses_the_users_own_checkout(git_repo, ws):
    git_repo.git(git_repo.path, "checkout", "-q", "-b", BRANCH)
    with pytest.raises(WorkspaceError, match="checked out in .* itself"):
        ws.ensure(git_repo.repo, BRANCH, "t1")


def test_run_setup_runs_in_the_worktree_and_keeps_output(git_repo, ws, tmp_path):
    code = "import os; open('ready', 'w'); print('set up in', os.getcwd())"
    repo = git_repo.config(setup=(sys.executable, "-c", code))
    tree = ws.ensure(repo, BRANCH, "t1")
    log = tmp_path / "logs" / "setup.log"

    ok, tail = ws.run_setup(repo, tree, log)

    assert ok, tail
    assert (tree.path / "ready").exists()
    assert str(tree.path) in tail and str(tree.path) in log.read_text()


def test_run_setup_failure_is_reported_with_output(git_repo, ws, tmp_path):
    repo = git_repo.config(setup=(sys.executable, "-c", "import sys; print('npm ERR! missing'); sys.exit(3)"))
    tree = ws.ensure(repo, BRANCH, "t1")

    ok, tail = ws.run_setup(repo, tree, tmp_path / "setup.log")

    assert not ok
    assert "failed with exit code 3" in tail and "Zoe/Repos/app.md" in tail
    assert "npm ERR! missing" in tail


def test_run_setup_missing_program_and_timeout(git_repo, ws, tmp_path):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    ok, tail = ws.run_setup(git_repo.config(setup=("no-such-setup-tool",)), tree, tmp_path / "a.log")
    assert not ok and "could not start" in tail and "no-such-setup-tool" in tail

    slow = git_repo.config(setup=(sys.executable, "-c", "import time; time.sleep(60)"))
    ok, tail = ws.run_setup(slow, tree, tmp_path / "b.log", timeout_s=0.5)
    assert not ok and "timed out" in tail


def test_no_setup_is_fine(git_repo, ws, tmp_path):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    assert ws.run_setup(git_repo.repo, tree, tmp_path / "setup.log") == (True, "")


def test_new_commits_and_diff(git_repo, ws):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    assert ws.new_commits(tree.path, tree.base_commit) == []
    git_repo.commit_file(tree.path, "one.txt", "1\n", "first")
    git_repo.commit_file(tree.path, "two.txt", "2\n" * 1000, "second")

    commits = ws.new_commits(tree.path, tree.base_commit)
    assert [c.split(" ", 1)[1] for c in commits] == ["second", "first"]
    assert "+1" in ws.diff(tree.path, tree.base_commit)
    cut = ws.diff(tree.path, tree.base_commit, limit=100)
    assert cut.startswith("diff --git") and "[diff cut at 100 of" in cut


def test_uncommitted_lists_what_the_agent_left(git_repo, ws):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    (tree.path / "scratch.py").write_text("wip")
    (tree.path / "README.md").write_text("edited, not committed")
    assert ws.uncommitted(tree.path) == [" M README.md", "?? scratch.py"]


def test_is_merged_only_after_commits_reach_base(git_repo, ws):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    assert not ws.is_merged(git_repo.repo, BRANCH, "main")          # no commits yet: not "merged"
    git_repo.commit_file(git_repo.path, "other.txt", "x", "base moves on")
    assert not ws.is_merged(git_repo.repo, BRANCH, "main")          # still nothing of ours in main
    git_repo.commit_file(tree.path, "feature.txt", "f", "feature")
    assert not ws.is_merged(git_repo.repo, BRANCH, "main", base_commit=tree.base_commit)
    assert ws.behind(git_repo.repo, BRANCH, "main") == 1

    git_repo.git(git_repo.path, "merge", "-q", "--no-edit", BRANCH)

    assert ws.is_merged(git_repo.repo, BRANCH, "main")
    assert ws.is_merged(git_repo.repo, BRANCH, "main", base_commit=tree.base_commit)


def test_is_merged_sees_a_merge_on_origin(git_repo, ws):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    git_repo.commit_file(tree.path, "feature.txt", "f", "feature")
    git_repo.git(tree.path, "push", "-q", "origin", f"{BRANCH}:main")
    git_repo.git(git_repo.path, "fetch", "-q", "origin")
    assert ws.is_merged(git_repo.repo, BRANCH, "main", base_commit=tree.base_commit)


def test_push_to_bare_origin(git_repo, ws):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    sha = git_repo.commit_file(tree.path, "feature.txt", "f", "feature")

    assert ws.push(git_repo.repo, BRANCH, tree.path) is True
    assert git_repo.git(git_repo.origin, "rev-parse", BRANCH) == sha


def test_push_without_origin_returns_false(git_repo, ws):
    git_repo.git(git_repo.path, "remote", "remove", "origin")
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    assert ws.push(git_repo.repo, BRANCH, tree.path) is False


def test_rejected_push_raises_with_gits_reason(git_repo, ws, tmp_path):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    git_repo.commit_file(tree.path, "feature.txt", "ours", "ours")
    ws.push(git_repo.repo, BRANCH, tree.path)
    other = tmp_path / "other"
    git_repo.git(tmp_path, "clone", "-q", "-b", BRANCH, str(git_repo.origin), str(other))
    git_repo.commit_file(other, "feature.txt", "theirs", "theirs")
    git_repo.git(other, "push", "-q", "origin", BRANCH)
    git_repo.git(tree.path, "commit", "-q", "--amend", "-m", "ours, amended")

    with pytest.raises(PushRejected, match="rejected|fetch first|non-fast-forward") as caught:
        ws.push(git_repo.repo, BRANCH, tree.path)
    assert BRANCH in str(caught.value)


def test_remove_keeps_the_branch(git_repo, ws):
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    sha = git_repo.commit_file(tree.path, "feature.txt", "f", "feature")
    (tree.path / "junk").write_text("uncommitted")

    ws.remove(git_repo.repo, tree.path)

    assert not tree.path.exists()
    assert git_repo.git(git_repo.path, "rev-parse", BRANCH) == sha
    assert str(tree.path) not in git_repo.git(git_repo.path, "worktree", "list")
    ws.remove(git_repo.repo, tree.path)   # twice is fine


def test_bad_task_id_is_refused(git_repo, ws):
    with pytest.raises(WorkspaceError, match="cannot name a worktree folder"):
        ws.ensure(git_repo.repo, BRANCH, "../escape")


def test_worktree_gone_is_reported(ws, tmp_path):
    with pytest.raises(WorkspaceError, match="is gone"):
        ws.head(Path(tmp_path / "missing"))


def test_refs_are_recorded_at_start_and_base_moves_say_what_they_took(git_repo, ws):
    from vaultzoe.work.workspace import parse_refs
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    start = parse_refs(tree.refs)
    main = git_repo.git(git_repo.path, "rev-parse", "main")
    assert start == {"refs/heads/main": main, "refs/remotes/origin/main": main, f"refs/heads/{BRANCH}": main}

    git_repo.commit_file(git_repo.path, "other.txt", "x", "a human commits to main")
    tip = git_repo.commit_file(tree.path, "feature.txt", "f", "feature")
    human = ws.record_refs(git_repo.repo, BRANCH, "main")
    [move] = ws.base_moves(git_repo.repo, BRANCH, "main", tree.base_commit, tree.refs, human)
    assert (move.ref, move.old, move.took, move.holds_tip) == ("refs/heads/main", main, 0, False)

    git_repo.git(tree.path, "update-ref", "refs/remotes/origin/main", "HEAD")
    now = ws.record_refs(git_repo.repo, BRANCH, "main")
    moved = ws.base_moves(git_repo.repo, BRANCH, "main", tree.base_commit, tree.refs, now)
    assert [(m.ref, m.took, m.holds_tip) for m in moved] == [("refs/heads/main", 0, False),
                                                             ("refs/remotes/origin/main", 1, True)]
    [later] = ws.base_moves(git_repo.repo, BRANCH, "main", tree.base_commit, human, now)
    assert (later.new, later.took, later.holds_tip) == (tip, 0, True)    # the branch's tip was there before
    assert ws.base_moves(git_repo.repo, BRANCH, "main", tree.base_commit, human, human) == []


def test_the_repos_git_hooks_never_run_in_vaultzoes_own_git_commands(git_repo, ws, tmp_path, monkeypatch):
    # an agent can write .git/hooks from its worktree; vaultzoe's git commands carry the user's credentials
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "h" * 36)
    spied = tmp_path / "hook-ran"
    hooks = git_repo.path / ".git" / "hooks"
    for name in ("post-checkout", "pre-push"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\nenv >> {spied}\n")
        hook.chmod(0o755)
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    git_repo.commit_file(tree.path, "a.txt", "a", "agent work")
    assert ws.push(git_repo.repo, BRANCH, tree.path)
    assert not spied.exists(), spied.read_text()[:200]
