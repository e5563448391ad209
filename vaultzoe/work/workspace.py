"""Branches and worktrees (GitPython over real git).

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

Also: Worktree.base_commit is the fork point (merge-base of branch and base), so
it stays the same on re-use; is_merged takes an optional base_commit (else the branch's creation point
from its reflog) to tell "merged" from "never had a commit"; uncommitted(worktree_path) lists what the
agent left uncommitted; behind(repo, branch, base) counts base commits missing from the branch.
Worktree.refs records where the base branch (locally and origin's) and the task branch stood when the attempt
started (record_refs); base_moves(..., before, after) compares two records, so the forge can tell a base
that moved during the run (tampering: the agent shares refs with the user's clone) from a human's merge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import git

from ..errors import PushRejected, WorkspaceError
from ..settings import RepoConfig
from .commands import run_logged
from . import refs as gitrefs
from .refs import parse_refs

# Never wait for a password nobody will type, and never run the repo's hooks: an agent can write
# .git/hooks from its worktree, and vaultzoe's own git commands (worktree add, push) carry the user's
# environment and credentials. (GIT_CONFIG_COUNT needs git 2.31.)
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.hooksPath",
           "GIT_CONFIG_VALUE_0": "/dev/null"}
PUSH_TIMEOUT_S = 300


@dataclass(frozen=True)
class Worktree:
    """A task's checkout: its own directory on its own branch."""

    path: Path
    branch: str
    base: str
    base_commit: str
    created: bool
    refs: str = ""           # record_refs() when the worktree was handed out (the attempt's start)


@dataclass(frozen=True)
class BaseMove:
    """One base ref that moved between two records of record_refs()."""

    ref: str
    old: str                 # "" when the ref did not exist (then the branch's fork point stands in)
    new: str
    took: int                # commits of the task branch the move brought into the ref (this attempt's only,
                             # when the earlier record names the task branch's tip)
    holds_tip: bool          # the ref now holds the branch's tip, and the branch has commits of its own


@dataclass(frozen=True)
class _Registered:
    """One entry of `git worktree list --porcelain`."""

    path: Path
    branch: str | None       # short name, None when detached
    prunable: bool


class Workspace:
    """Branches and worktrees of the repositories named by repo notes."""

    def __init__(self, worktrees_root: Path) -> None:
        self.worktrees_root = Path(worktrees_root)
        self._pass_refs: dict[str, dict[str, str] | None] | None = None   # {repo path: {ref: commit}}

    def new_pass(self) -> None:
        """A reconcile pass begins: refs seen in an earlier pass are stale (see seen_refs)."""
        self._pass_refs = {}

    # -------------------------------------------------------- creating

    def ensure(self, repo: RepoConfig, branch: str, task_id: str) -> Worktree:
        """The task's branch and worktree, created on first use and re-used afterwards."""
        _check_task_id(task_id)
        with _open(repo) as clone:
            base = _base_name(repo, clone)
            # where base (local, origin's) and the branch stand, in one git call; a new branch starts at the commit
            # seen, so its fork point and the refs recorded for the attempt need no second look
            names = (*gitrefs.base_refs(base), f"refs/heads/{branch}")
            known = gitrefs.commits_of(clone, names)
            start = _base_ref(repo, clone, base, known)
            fresh = not known.get(names[2])
            if fresh:
                _git(repo, clone.git.branch, "--no-track", branch, known[start])
                known[names[2]] = known[start]
            path, created = self._worktree_for(repo, clone, branch, task_id, fresh)
            fork = known[start] if fresh else _git(repo, clone.git.merge_base, branch, start)
            refs = " ".join(f"{ref}={known[ref]}" for ref in names if known.get(ref)) if fresh else gitrefs.record(
                clone, branch, base)
        return Worktree(path=path, branch=branch, base=base, base_commit=fork, created=created, refs=refs)

    def _worktree_for(self, repo: RepoConfig, clone: git.Repo, branch: str, task_id: str,
                      fresh: bool = False) -> tuple[Path, bool]:
        target = (self.worktrees_root / repo.name / task_id).resolve()
        if fresh and not os.path.lexists(target):
            # a branch made a moment ago is checked out nowhere: add its worktree at once (listing the worktrees
            # reads every one of them); git refusing (a stale entry at target, say) sends us the careful way
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                clone.git.worktree("add", str(target), branch, env=GIT_ENV)
                return target, True
            except git.GitCommandError:
                pass
        registered = list(_worktrees(clone))
        if any(entry.prunable for entry in registered):    # prune reads every worktree: only when it has work
            _git(repo, clone.git.worktree, "prune")
        for entry in registered:
            if entry.branch == branch and not entry.prunable:
                return _reusable(repo, clone, entry), False
            if _same(entry.path, target) and not entry.prunable:
                raise WorkspaceError(f"{_where(repo)}: worktree {target} holds branch {entry.branch or '(detached)'}, "
                                     f"not {branch}: remove it with `git worktree remove {target}`")
        if target.exists() and any(target.iterdir()):
            raise WorkspaceError(f"{_where(repo)}: {target} exists and is not a worktree of {repo.path}: "
                                 f"move it away so vaultzoe can create the worktree there")
        target.parent.mkdir(parents=True, exist_ok=True)
        _git(repo, clone.git.worktree, "add", str(target), branch)
        return target, True

    def run_setup(self, repo: RepoConfig, worktree: Worktree, log_path: Path,
                  timeout_s: float = 900) -> tuple[bool, str]:
        """Run the repo's setup command in the worktree; (ok, output tail) with the output kept in log_path."""
        if not repo.setup:
            return True, ""
        done = run_logged(repo.setup, worktree.path, log_path, timeout_s)
        if done.ok:
            return True, done.output_tail
        return False, _setup_failure(repo, done.exit_code, done.timed_out, done.error, timeout_s) + done.output_tail

    # -------------------------------------------------------- reading

    def new_commits(self, worktree_path: Path, base_commit: str) -> list[str]:
        """One-line summaries ("<short sha> <subject>") of commits since base_commit, newest first."""
        out = _run_in(worktree_path, "log", "--format=%h %s", f"{base_commit}..HEAD")
        return [line for line in out.splitlines() if line.strip()]

    def diff(self, worktree_path: Path, base_commit: str, limit: int = 200_000) -> str:
        """The committed changes since base_commit, cut at limit characters."""
        text = _run_in(worktree_path, "diff", base_commit, "HEAD")
        if len(text) <= limit:
            return text
        return text[:limit] + f"\n[diff cut at {limit} of {len(text)} characters]\n"

    def head(self, worktree_path: Path) -> str:
        """The full sha the worktree is at."""
        return _run_in(worktree_path, "rev-parse", "HEAD")

    def uncommitted(self, worktree_path: Path) -> list[str]:
        """`git status --porcelain` lines: what was changed in the worktree but never committed."""
        return [line for line in _run_in(worktree_path, "status", "--porcelain").splitlines() if line.strip()]

    def behind(self, repo: RepoConfig, branch: str, base: str, refs: str = "") -> int:
        """How many commits of base the branch does not have yet (`refs`: a record_refs() just made)."""
        with _open(repo) as clone:
            start = _base_ref(repo, clone, base, parse_refs(refs) if refs else None)
            return int(_git(repo, clone.git.rev_list, "--count", f"{branch}..{start}"))

    def is_merged(self, repo: RepoConfig, branch: str, base: str, base_commit: str | None = None) -> bool:
        """True when the branch got commits and its tip is reachable from base (locally or on origin)."""
        with _open(repo) as clone:
            if not gitrefs.has_ref(clone, f"refs/heads/{branch}"):
                return False
            tip = _git(repo, clone.git.rev_parse, f"refs/heads/{branch}")
            start = base_commit or _creation_point(clone, branch)
            if start is not None and _git(repo, clone.git.rev_parse, start) == tip:
                return False
            bases = [ref for ref in (f"refs/heads/{base}", f"refs/remotes/origin/{base}") if gitrefs.has_ref(clone, ref)]
            return any(gitrefs.is_ancestor(clone, tip, ref) for ref in bases)

    def record_refs(self, repo: RepoConfig, branch: str, base: str) -> str:
        """Where base (local and origin's) and the branch stand now: "refs/heads/main=<sha> ..." to compare later."""
        with _open(repo) as clone:
            record = gitrefs.record(clone, branch, base)
        seen = (self._pass_refs or {}).get(str(repo.path))
        if seen is not None:    # this pass's view is never older than a judgement made in it
            for ref in (*gitrefs.base_refs(base), f"refs/heads/{branch}"):
                seen.pop(ref, None)
            seen.update(parse_refs(record))
        return record

    def seen_refs(self, repo: RepoConfig, branch: str, base: str) -> str:
        """record_refs() as this pass first saw the repo: one `git for-each-ref` per repo per pass, shared by
        every task looked at in review (outside passes, when git fails or a ref names no commit: record_refs())."""
        if self._pass_refs is not None and str(repo.path) not in self._pass_refs:
            with _open(repo) as clone:
                self._pass_refs[str(repo.path)] = gitrefs.branch_commits(clone)
        shas, refs = (self._pass_refs or {}).get(str(repo.path)), (*gitrefs.base_refs(base), f"refs/heads/{branch}")
        if shas is None or any(shas.get(ref) == "" for ref in refs):
            return self.record_refs(repo, branch, base)
        return " ".join(f"{ref}={shas[ref]}" for ref in refs if shas.get(ref))

    def base_moves(self, repo: RepoConfig, branch: str, base: str, base_commit: str,
                   before: str, after: str) -> list[BaseMove]:
        """The base refs whose commit differs between two records, with what each took from the branch."""
        old, new = parse_refs(before), parse_refs(after)
        tip = new.get(f"refs/heads/{branch}", "")
        moved = [ref for ref in gitrefs.base_refs(base) if new.get(ref) and new[ref] != old.get(ref)]
        if not moved or not tip:
            return []
        with _open(repo) as clone:
            has_commits = bool(gitrefs.revs(clone, tip, f"^{base_commit}"))
            # the commits this attempt added: on the tip, not at the fork point, not on the branch before
            exclude = [f"^{sha}" for sha in (base_commit, old.get(f"refs/heads/{branch}", "")) if sha]
            ours = set(gitrefs.revs(clone, tip, *exclude))
            moves = []
            for ref in moved:
                gained = gitrefs.revs(clone, new[ref], f"^{old.get(ref) or base_commit}")
                moves.append(BaseMove(ref, old.get(ref, ""), new[ref], took=len(ours.intersection(gained)),
                                      holds_tip=has_commits and gitrefs.is_ancestor(clone, tip, new[ref])))
            return moves

    # -------------------------------------------------------- publishing and cleaning up

    def push(self, repo: RepoConfig, branch: str, worktree_path: Path) -> bool:
        """Push the branch to origin; False when there is no origin, PushRejected when it refuses."""
        with _open(repo) as clone:
            if "origin" not in [remote.name for remote in clone.remotes]:
                return False
            try:
                clone.git.push("origin", f"refs/heads/{branch}:refs/heads/{branch}",
                               env=GIT_ENV, kill_after_timeout=PUSH_TIMEOUT_S)
            except git.GitCommandError as exc:
                raise PushRejected(f"origin refused branch {branch}: {_stderr(exc)}: rebase the branch on "
                                   f"origin's version or check the remote's permissions") from None
        return True

    def remove(self, repo: RepoConfig, worktree_path: Path) -> None:
        """Remove the worktree (uncommitted files go with it); the branch and its commits stay."""
        with _open(repo) as clone:
            if Path(worktree_path).exists():
                _git(repo, clone.git.worktree, "remove", "--force", str(worktree_path))
            _git(repo, clone.git.worktree, "prune")


# ---------------------------------------------------------------- helpers


def _where(repo: RepoConfig) -> str:
    return f"Repo note {repo.note_path}" if repo.note_path else f"Repo {repo.name}"


def _check_task_id(task_id: str) -> None:
    if not task_id or "/" in task_id or task_id in (".", ".."):
        raise WorkspaceError(f"Task id {task_id!r} cannot name a worktree folder: use letters, digits and dashes")


class _open:
    """Context manager: the repo note's clone as a git.Repo, closed afterwards."""

    def __init__(self, repo: RepoConfig) -> None:
        self.repo = repo
        self.clone: git.Repo | None = None

    def __enter__(self) -> git.Repo:
        path = self.repo.path
        if not path.exists():
            raise WorkspaceError(f"{_where(self.repo)}: path {path} does not exist: clone the repository there "
                                 f"or fix `path:`")
        try:
            self.clone = git.Repo(path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise WorkspaceError(f"{_where(self.repo)}: path {path} is not a git repository: clone it there "
                                 f"or fix `path:`") from None
        return self.clone

    def __exit__(self, *exc: object) -> None:
        if self.clone is not None:
            self.clone.close()


def _git(repo: RepoConfig, command, *args: str) -> str:
    """Run one git command; its failure becomes a WorkspaceError carrying git's own words."""
    try:
        return command(*args, env=GIT_ENV)
    except git.GitCommandError as exc:
        verb = " ".join(str(part) for part in exc.command[1:3]) if isinstance(exc.command, list) else "git"
        raise WorkspaceError(f"{_where(repo)}: `{verb}` failed in {repo.path}: {_stderr(exc)}: "
                             f"fix the clone (or the repo note) and queue the task again") from None


def _run_in(worktree_path: Path, *args: str) -> str:
    """Run git in a worktree, which must still exist."""
    try:
        with git.Repo(worktree_path) as tree:
            return tree.git.execute(["git", *args], env=GIT_ENV)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise WorkspaceError(f"Worktree {worktree_path} is gone: queue the task again to recreate it") from None
    except git.GitCommandError as exc:
        raise WorkspaceError(f"`git {args[0]}` failed in {worktree_path}: {_stderr(exc)}") from None


def _stderr(exc: git.GitCommandError) -> str:
    """git's own complaint on one line, without its long hints."""
    text = str(exc.stderr or "").strip()
    text = text.removeprefix("stderr:").strip().strip("'")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("hint:")]
    return "; ".join(lines) or f"exit status {exc.status}"


def _base_name(repo: RepoConfig, clone: git.Repo) -> str:
    """repo.base, or the branch the clone has checked out."""
    if repo.base:
        return repo.base
    if clone.head.is_detached:
        raise WorkspaceError(f"{_where(repo)}: {repo.path} has no branch checked out (detached HEAD): "
                             f"set `base:` in the repo note to the branch tasks start from")
    return clone.active_branch.name


def _base_ref(repo: RepoConfig, clone: git.Repo, base: str, known: dict[str, str] | None = None) -> str:
    """The ref to branch from: the local base branch, else origin's (`known`: gitrefs.commits_of() already asked)."""
    for ref in gitrefs.base_refs(base):
        if (known.get(ref) if known is not None else gitrefs.has_ref(clone, ref)):
            return ref
    raise WorkspaceError(f"{_where(repo)}: base branch {base!r} not found in {repo.path}: set `base:` in the "
                         f"repo note to an existing branch, or create it")


def _creation_point(clone: git.Repo, branch: str) -> str | None:
    """The commit the branch was created at, from the oldest entry of its reflog (None when unknown)."""
    try:
        lines = clone.git.reflog("show", "--format=%H", f"refs/heads/{branch}", "--").splitlines()
    except git.GitCommandError:
        return None
    return lines[-1].strip() if lines else None


def _worktrees(clone: git.Repo) -> Iterator[_Registered]:
    """Parse `git worktree list --porcelain`."""
    block: dict[str, str] = {}
    for line in clone.git.worktree("list", "--porcelain").splitlines() + [""]:
        if line.strip():
            key, _, value = line.partition(" ")
            block[key] = value
            continue
        if "worktree" in block:
            branch = block.get("branch", "")
            yield _Registered(path=Path(block["worktree"]), prunable="prunable" in block,
                              branch=branch.removeprefix("refs/heads/") or None)
        block = {}


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)       # two stats: resolving every registered worktree's path costs more
    except OSError:
        if os.path.exists(a) or os.path.exists(b):
            return False                    # one is there and the other is not
        return a.resolve() == b.resolve()   # both missing: compare where the paths lead


def _reusable(repo: RepoConfig, clone: git.Repo, entry: _Registered) -> Path:
    """An existing worktree of the branch may be re-used unless it is the user's own clone."""
    if _same(entry.path, Path(clone.working_tree_dir or repo.path)):
        raise WorkspaceError(f"{_where(repo)}: branch {entry.branch} is checked out in {repo.path} itself: "
                             f"check out another branch there so the agent gets its own worktree")
    return entry.path.resolve()


def _setup_failure(repo: RepoConfig, code: int | None, timed_out: bool, error: str, timeout_s: float) -> str:
    command = " ".join(repo.setup)
    fix = f"fix `setup:` in {repo.note_path or 'the repo note'}"
    if error:
        return f"setup `{command}` could not start ({error}): install it or {fix}\n"
    if timed_out:
        return f"setup `{command}` timed out after {timeout_s:.0f}s: make it faster or {fix}\n"
    return f"setup `{command}` failed with exit code {code}: {fix}\n"
