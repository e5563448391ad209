"""FakeWorkspace: a task's worktree is a plain folder; no git. For loop tests where a FakeForge judges the work.

It keeps the parts of `work/workspace.Workspace` the loop calls (ensure, run_setup, remove) and remembers each
call. Like the real one it hands a task the same worktree again (created=False), and `remove` deletes it.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..errors import WorkspaceError
from ..settings import RepoConfig
from ..work.workspace import Worktree


class FakeWorkspace:
    """Folders under `root`, one per repo and task; scripted setup results (ok, output) in order."""

    def __init__(self, root: Path, setups: Sequence[tuple[bool, str]] = ()) -> None:
        self.worktrees_root = Path(root)
        self._setups = list(setups)
        self.ensured: list[tuple[str, str, str]] = []     # (repo, branch, task id)
        self.setups_run: list[Path] = []
        self.removed: list[Path] = []

    def enqueue_setup(self, ok: bool, output: str = "") -> None:
        self._setups.append((ok, output))

    def new_pass(self) -> None:
        """Nothing is kept between passes here."""

    def ensure(self, repo: RepoConfig, branch: str, task_id: str) -> Worktree:
        self.ensured.append((repo.name, branch, task_id))
        path = self.worktrees_root / repo.name / task_id
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        base = repo.base or "main"
        fork = hashlib.sha1(f"{repo.name}:{base}".encode()).hexdigest()   # the same fork point every time
        return Worktree(path=path, branch=branch, base=base, base_commit=fork, created=created,
                        refs=f"refs/heads/{base} {fork}")

    def run_setup(self, repo: RepoConfig, worktree: Worktree, log_path: Path,
                  timeout_s: float = 900) -> tuple[bool, str]:
        if not repo.setup:
            return True, ""
        self.setups_run.append(worktree.path)
        ok, output = self._setups.pop(0) if self._setups else (True, "")
        log_path.write_text(output, encoding="utf-8")
        return ok, output

    def remove(self, repo: RepoConfig, worktree_path: Path) -> None:
        path = Path(worktree_path)
        if self.worktrees_root not in path.parents:
            raise WorkspaceError(f"{path} is not a worktree of this fake workspace ({self.worktrees_root})")
        self.removed.append(path)
        shutil.rmtree(path, ignore_errors=True)
