"""Shared fixtures for tests that need real git: a clone with a bare `origin`, on a machine with no git identity.

    def test_x(git_repo):
        git_repo.repo                       # RepoConfig(name="app", path=<clone>, base="main", ...)
        git_repo.config(check=("pytest",))  # a RepoConfig with overrides
        git_repo.commit_file(path, "a.txt", "text", "message")   # commit in the clone or in any worktree
        git_repo.git(path, "log", "--oneline")                    # run git, returns stdout

    def test_y(worktrees_root, wait_until, pid_gone):   # helpers come as fixtures (tests/work is no package)
        wait_until(lambda: pid_gone(pid), timeout=30, what="agent to die")

Like a fresh CI machine, git sees no global or system config here (GIT_CONFIG_GLOBAL is an empty file):
code under test that commits must name an identity itself. The helpers pass one with `-c`.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from vaultzoe.settings import RepoConfig

IDENTITY = ("-c", "user.name=Test Author", "-c", "user.email=test@localhost")


def run_git(cwd: Path, *args: str) -> str:
    """Run git in cwd (with an identity for commits); returns stdout, raises with stderr on failure."""
    done = subprocess.run(["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}: {done.stderr}")
    return done.stdout.strip()


@dataclass(frozen=True)
class GitRepo:
    """A clone (branch main, one commit, pushed) and its bare origin."""

    path: Path
    origin: Path
    repo: RepoConfig

    def config(self, **overrides) -> RepoConfig:
        return dataclasses.replace(self.repo, **overrides)

    def git(self, cwd: Path, *args: str) -> str:
        return run_git(cwd, *args)

    def commit_file(self, cwd: Path, name: str, text: str, message: str = "change") -> str:
        """Write name under cwd, commit it there, return the new sha."""
        target = Path(cwd) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        run_git(cwd, "add", name)
        run_git(cwd, "commit", "-q", "-m", message)
        return run_git(cwd, "rev-parse", "HEAD")


@pytest.fixture
def no_git_identity(tmp_path_factory, monkeypatch) -> None:
    """Hide the machine's git config and identity, as on a fresh CI machine."""
    empty = tmp_path_factory.mktemp("gitconfig") / "empty"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def git_repo(tmp_path, no_git_identity) -> GitRepo:
    """tmp_path/app: a clone on `main` with an initial commit, pushed to the bare tmp_path/origin.git."""
    origin = tmp_path / "origin.git"
    clone = tmp_path / "app"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    run_git(tmp_path, "init", "-q", "-b", "main", str(clone))
    (clone / "README.md").write_text("# app\n")
    run_git(clone, "add", "README.md")
    run_git(clone, "commit", "-q", "-m", "initial commit")
    run_git(clone, "remote", "add", "origin", str(origin))
    run_git(clone, "push", "-q", "-u", "origin", "main")
    repo = RepoConfig(name="app", path=clone, base="main", note_path="Zoe/Repos/app.md")
    return GitRepo(path=clone, origin=origin, repo=repo)


@pytest.fixture
def worktrees_root(tmp_path) -> Path:
    """Where Workspace puts worktrees in tests (outside the clone)."""
    root = tmp_path / "worktrees"
    root.mkdir()
    return root


def _pid_gone(pid: int) -> bool:
    """True when pid no longer runs (a zombie waiting for a slow init counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat[stat.rfind(")") + 2:].split()[0] == "Z"


def _wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll predicate until it returns something truthy (generous timeout for a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def pid_gone():
    """pid_gone(pid) -> bool: the process no longer runs (zombies count as gone)."""
    return _pid_gone


@pytest.fixture
def wait_until():
    """wait_until(predicate, timeout=30, what=...) -> the first truthy value of predicate()."""
    return _wait_until
