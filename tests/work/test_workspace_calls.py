"""How many git commands the workspace runs: each task's start and each look at a task in review pay for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultzoe.work.workspace import Workspace, parse_refs

BRANCH = "zoe/fix-login-t1"


@pytest.fixture
def traced(tmp_path, monkeypatch):
    """commands() -> the git commands run since the last call (from GIT_TRACE, git's own log)."""
    log = tmp_path / "git-trace.log"
    monkeypatch.setenv("GIT_TRACE", str(log))

    def commands() -> list[str]:
        text = log.read_text() if log.exists() else ""
        log.write_text("")
        return [line.split("built-in: ", 1)[1] for line in text.splitlines() if "built-in: git " in line]
    return commands


def test_record_refs_is_one_git_command_and_says_what_rev_parse_says(git_repo, worktrees_root, traced):
    ws = Workspace(worktrees_root)
    tree = ws.ensure(git_repo.repo, BRANCH, "t1")
    git_repo.commit_file(tree.path, "a.txt", "a", "work")
    git_repo.git(git_repo.path, "tag", "-a", "-m", "annotated", "v1", "main")
    tag = git_repo.git(git_repo.path, "rev-parse", "refs/tags/v1")
    (git_repo.path / ".git" / "refs" / "heads" / "tagged").write_text(tag + "\n")   # a branch naming a tag object
    traced()

    record = ws.record_refs(git_repo.repo, BRANCH, "main")

    assert len(traced()) == 1
    assert parse_refs(record) == {
        "refs/heads/main": git_repo.git(git_repo.path, "rev-parse", "main"),
        "refs/remotes/origin/main": git_repo.git(git_repo.path, "rev-parse", "origin/main"),
        f"refs/heads/{BRANCH}": git_repo.git(git_repo.path, "rev-parse", BRANCH),
    }
    assert list(parse_refs(record)) == ["refs/heads/main", "refs/remotes/origin/main", f"refs/heads/{BRANCH}"]
    tagged = parse_refs(ws.record_refs(git_repo.repo, "tagged", "main"))
    assert tagged["refs/heads/tagged"] == git_repo.git(git_repo.path, "rev-parse", "main")   # peeled to the commit


def test_a_missing_ref_is_left_out_as_before(git_repo, worktrees_root):
    ws = Workspace(worktrees_root)
    record = parse_refs(ws.record_refs(git_repo.repo, "zoe/never-made", "main"))
    assert set(record) == {"refs/heads/main", "refs/remotes/origin/main"}


def test_ensure_prunes_only_when_a_worktree_is_gone(git_repo, worktrees_root, traced):
    import shutil
    ws = Workspace(worktrees_root)
    first = ws.ensure(git_repo.repo, "zoe/a-t1", "t1")
    traced()

    ws.ensure(git_repo.repo, "zoe/b-t2", "t2")
    assert not [c for c in traced() if c.startswith("git worktree prune")]

    shutil.rmtree(first.path)                       # deleted by hand: prunable now
    again = ws.ensure(git_repo.repo, "zoe/a-t1", "t1")
    assert [c for c in traced() if c.startswith("git worktree prune")]
    assert again.created and Path(again.path).is_dir()


def test_a_fresh_branch_gets_its_worktree_without_listing_the_others(git_repo, worktrees_root, traced):
    ws = Workspace(worktrees_root)
    ws.ensure(git_repo.repo, "zoe/a-t1", "t1")
    traced()

    tree = ws.ensure(git_repo.repo, "zoe/b-t2", "t2")

    assert tree.created and (tree.path / "README.md").exists()
    assert not [c for c in traced() if c.startswith("git worktree list")]


def test_a_stale_entry_where_the_worktree_goes_is_pruned_as_before(git_repo, worktrees_root, traced):
    import shutil
    ws = Workspace(worktrees_root)
    old = ws.ensure(git_repo.repo, "zoe/old-t1", "t1")
    shutil.rmtree(old.path)                         # its folder is gone, git still lists it at that path
                                                    # and a new branch wants the same folder
    traced()

    tree = ws.ensure(git_repo.repo, "zoe/new-t1", "t1")

    assert tree.created and tree.path == old.path and (tree.path / "README.md").exists()
    assert git_repo.git(tree.path, "branch", "--show-current") == "zoe/new-t1"
    assert [c for c in traced() if c.startswith("git worktree prune")]


def test_a_worktree_folder_holding_another_branch_is_still_refused(git_repo, worktrees_root):
    from vaultzoe.errors import WorkspaceError
    ws = Workspace(worktrees_root)
    ws.ensure(git_repo.repo, "zoe/a-t1", "t1")
    linked = worktrees_root.parent / "linked-root"
    linked.symlink_to(worktrees_root)               # the same folder by another path

    with pytest.raises(WorkspaceError, match="holds branch zoe/a-t1, not zoe/b-t1"):
        Workspace(linked).ensure(git_repo.repo, "zoe/b-t1", "t1")
