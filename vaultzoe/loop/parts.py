"""The loop's collaborators, handed in: real ones from `Parts.real`, fakes in tests; and the clock."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Mapping

from ..protocols import Agent, Forge, Notifier, Planner, Runner, Workspace
from ..settings import AgentConfig, RepoConfig, Settings


def local_now() -> datetime:
    return datetime.now().astimezone()


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def new_task_id() -> str:
    """Short, readable in a branch name, and never all digits (YAML would read a number)."""
    letters, alphabet = "abcdefghjkmnpqrstuvwxyz", "abcdefghjkmnpqrstuvwxyz23456789"
    return secrets.choice(letters) + "".join(secrets.choice(alphabet) for _ in range(5))


@dataclass
class Parts:
    """The orchestrator's collaborators, handed in (real ones from `Parts.real`, fakes in tests)."""

    runner: Runner
    workspace: Workspace
    make_planner: Callable[[Settings], Planner]
    make_forge: Callable[[Settings, RepoConfig], Forge]
    make_notifier: Callable[[Settings], Notifier]
    make_agent: Callable[[AgentConfig], Agent]
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    now: Callable[[], datetime] = local_now
    clock: Callable[[], float] = time.monotonic      # seconds for grace periods and pacing (a fake clock in tests)
    free_memory_gb: Callable[[], float] = lambda: available_memory_gb()
    make_id: Callable[[], str] = new_task_id

    @classmethod
    def real(cls, vault_root: Path, environ: Mapping[str, str] | None = None) -> "Parts":
        from ..brain.planner import make_planner
        from ..work.agents import make_agent
        from ..work.forge import make_forge
        from ..work.notify import make_notifier
        from ..work.runners import ProcessRunner
        env = dict(os.environ if environ is None else environ)
        from ..work.workspace import Workspace as GitWorkspace
        workspace = GitWorkspace(worktrees_root(vault_root, env))
        return cls(
            runner=ProcessRunner(), workspace=workspace,
            make_planner=lambda s: make_planner(s, env),
            # no planner for the forge: the loop reviews with the task's context (loop/execute.py Review)
            make_forge=kept(lambda s, repo: make_forge(s, repo, env, workspace)),
            make_notifier=make_notifier, make_agent=make_agent, environ=env,
        )


def kept(build: Callable[[Settings, RepoConfig], Forge]) -> Callable[[Settings, RepoConfig], Forge]:
    """One forge per repo while its settings stay the same: a GitHub client remembers the rate limit across passes."""
    made: dict[str, tuple[tuple[RepoConfig, str], Forge]] = {}

    def forge_for(settings: Settings, repo: RepoConfig) -> Forge:
        key = (repo, settings.model_dump_json())
        if repo.name not in made or made[repo.name][0] != key:
            made[repo.name] = (key, build(settings, repo))
        return made[repo.name][1]
    return forge_for


def available_memory_gb() -> float:
    import psutil
    return psutil.virtual_memory().available / 2**30


def worktrees_root(vault_root: Path, environ: Mapping[str, str]) -> Path:
    """Worktrees live outside the vault (a synced folder) and outside the repos: the user's cache dir."""
    explicit = environ.get("VAULTZOE_WORKTREES")
    if explicit:
        return Path(explicit).expanduser()
    cache = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "vaultzoe" / "worktrees"


def obsidian_uri(root: Path, note_path: str) -> str:
    from urllib.parse import quote
    file = note_path[:-3] if note_path.endswith(".md") else note_path
    return f"obsidian://open?vault={quote(Path(root).name)}&file={quote(file)}"
