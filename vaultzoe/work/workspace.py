"""Branches and worktrees (GitPython over real git).

API CONTRACT (fixed):

    Workspace(worktrees_root: Path)
        Worktrees live under worktrees_root/<repo name>/<task_id>/ (outside the repo's own tree).
    ws.ensure(repo: RepoConfig, branch: str, task_id: str) -> Worktree
        Creates branch `branch` from the repo's base (repo.base or the clone's current branch) if missing,
        and a worktree for it if missing (re-uses both when present, e.g. a retry or a restart).
        Works when git has no user configured. Raises WorkspaceError with a fix-naming message
        (path missing, not a git repo, base branch missing).
    Worktree(path: Path, branch: str, base: str, base_commit: str, created: bool)
    ws.run_setup(repo, worktree, log_path: Path, timeout_s: float = 900) -> tuple[bool, str]
        Runs repo.setup (argv, no shell) in the worktree; output kept in log_path; returns (ok, output tail).
    ws.new_commits(worktree_path: Path, base_commit: str) -> list[str]   one-line summaries, newest first
    ws.diff(worktree_path: Path, base_commit: str, limit: int = 200_000) -> str
    ws.head(worktree_path: Path) -> str
    ws.is_merged(repo: RepoConfig, branch: str, base: str) -> bool  branch tip reachable from base (and branch had commits)
    ws.push(repo: RepoConfig, branch: str, worktree_path: Path) -> bool
        Pushes to `origin` when the repo has one (returns False when it has none); a rejected push raises PushRejected.
    ws.remove(repo: RepoConfig, worktree_path: Path) -> None   removes the worktree, keeps the branch
"""

from __future__ import annotations
