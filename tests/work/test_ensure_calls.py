"""A task's first worktree costs one look at the refs: its branch starts at the commit that look saw."""

from __future__ import annotations

from vaultzoe.work.workspace import Workspace, parse_refs


def test_a_new_branch_and_worktree_look_at_the_refs_once_and_say_what_git_says(git_repo, worktrees_root, tmp_path,
                                                                                monkeypatch):
    ws = Workspace(worktrees_root)
    log = tmp_path / "git-trace.log"
    monkeypatch.setenv("GIT_TRACE", str(log))
    tree = ws.ensure(git_repo.repo, "zoe/new-t1", "t1")
    commands = [line.split("built-in: git ", 1)[1] for line in log.read_text().splitlines() if "built-in: git " in line]
    ours = [c for c in commands if c.split()[0] in ("rev-parse", "merge-base", "for-each-ref", "branch", "worktree")]
    assert [c.split()[0] for c in ours] == ["for-each-ref", "branch", "worktree"], commands
    main = git_repo.git(git_repo.path, "rev-parse", "main")
    assert tree.created and tree.base == "main"
    assert tree.base_commit == git_repo.git(git_repo.path, "merge-base", "zoe/new-t1", "main") == main
    assert parse_refs(tree.refs) == parse_refs(ws.record_refs(git_repo.repo, "zoe/new-t1", "main"))
    assert git_repo.git(tree.path, "rev-parse", "HEAD") == main


def test_a_branch_from_origin_when_base_is_only_there(git_repo, worktrees_root):
    git_repo.git(git_repo.path, "checkout", "-q", "-b", "side")
    git_repo.git(git_repo.path, "branch", "-D", "main")
    ws = Workspace(worktrees_root)
    tree = ws.ensure(git_repo.config(base="main"), "zoe/new-t2", "t2")
    origin_main = git_repo.git(git_repo.path, "rev-parse", "origin/main")
    assert tree.base_commit == origin_main == git_repo.git(tree.path, "rev-parse", "HEAD")
    assert "refs/heads/main" not in parse_refs(tree.refs)
    assert parse_refs(tree.refs)["refs/remotes/origin/main"] == origin_main
