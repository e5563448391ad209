"""The typed settings and how their layers merge: defaults < Zoe/Zoe.md < VAULTZOE_<KEY> < CLI flags.

Pure values, no I/O: `Settings` and `resolve_settings` (the layers), `RepoConfig` and `AgentConfig` built from a
repo or agent note's frontmatter, and `env_number` for the knobs that only the environment sets
(VAULTZOE_PLANNER_*, VAULTZOE_GITHUB_*, ...; the table is in docs/ARCHITECTURE.md, "Settings").
config.py reads these values out of the vault's notes; where notes live is layout.py.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import SettingsError
from .layout import SETTINGS_NOTE

DEFAULT_DONE = ("pr", "synced", "checks", "review")


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v) for v in value]


class Settings(BaseModel):
    """Flat keys of Zoe/Zoe.md, editable in Obsidian's Properties view."""

    model_config = ConfigDict(extra="ignore")

    max_agents: int = Field(2, ge=1, le=64)
    max_attempts: int = Field(3, ge=1, le=20)
    agent_timeout_minutes: float = Field(60, gt=0)
    poll_seconds: float = Field(10, gt=0)
    planner: Literal["auto", "claude", "template"] = "auto"
    planner_model: str = "claude-sonnet-4-5"
    forge: Literal["auto", "github", "local"] = "auto"
    context_tokens: int = Field(8000, ge=200)
    notify: list[str] = Field(default_factory=list)
    default_agent: str = "claude"
    routes: list[str] = Field(default_factory=list)        # "ui: claude", "backend: codex"
    min_free_memory_gb: float = Field(4, ge=0)
    private_folders: list[str] = Field(default_factory=list)
    task_folders: list[str] = Field(default_factory=list)   # where task notes may come from (empty: anywhere)

    @field_validator("notify", "routes", "private_folders", "task_folders", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> list[str]:
        return _as_list(value)

    @field_validator("planner", "forge", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer = {}
    for key in Settings.model_fields:
        env_key = f"VAULTZOE_{key.upper()}"
        if env_key in environ:
            layer[key] = environ[env_key]
    return layer


def resolve_settings(note_values: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                     flags: Mapping[str, Any] | None = None) -> Settings:
    """Merge the layers; a bad value raises SettingsError naming the key and where to fix it."""
    merged: dict[str, Any] = {k: v for k, v in note_values.items() if k in Settings.model_fields and v is not None}
    merged.update(_env_layer(os.environ if environ is None else environ))
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"Invalid settings ({problems}): fix these properties in {SETTINGS_NOTE} "
                            f"or the VAULTZOE_* environment variables") from None


Number = TypeVar("Number", int, float)


def env_number(environ: Mapping[str, str], name: str, default: Number, minimum: float = 0) -> Number:
    """An environment-only knob: `default` when unset or blank, else a number of the default's type.

    A value that is not one, or is below `minimum`, raises SettingsError naming the variable."""
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < minimum or value != value:    # NaN is no number of seconds
        what = "a whole number" if kind is int else "a number of seconds"
        raise SettingsError(f"{name}={raw!r}: must be {what}, {minimum:g} or more (default {default}); "
                            "fix it in vaultzoe's environment")
    return value


# ---------------------------------------------------------------- repo notes


@dataclass(frozen=True)
class RepoConfig:
    name: str
    path: Path
    base: str | None = None            # None: the clone's current branch
    setup: tuple[str, ...] = ()        # argv run in a new worktree
    check: tuple[str, ...] = ()        # argv whose exit code decides checks (local forge)
    github: str | None = None          # "owner/name"
    done: tuple[str, ...] = DEFAULT_DONE
    note_path: str = ""


def split_command(value: Any, where: str) -> tuple[str, ...]:
    """An argument list, or a string split like a shell would (never run through a shell)."""
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise SettingsError(f"{where}: cannot split command {value!r} ({exc}); write it as a YAML list") from None
    raise SettingsError(f"{where}: a command must be a string or a list, not {type(value).__name__}")


def repo_from_frontmatter(name: str, note_path: str, fm: Mapping[str, Any], vault_root: Path) -> RepoConfig:
    raw_path = fm.get("path")
    if not raw_path:
        raise SettingsError(f"Repo note {note_path} has no `path:` property: set it to a local git clone")
    path = Path(os.path.expanduser(str(raw_path)))
    if not path.is_absolute():
        path = (vault_root / path).resolve()
    done = tuple(_as_list(fm.get("done"))) or DEFAULT_DONE
    return RepoConfig(
        name=name, path=path, base=(str(fm["base"]) if fm.get("base") else None),
        setup=split_command(fm.get("setup"), f"{note_path} setup"),
        check=split_command(fm.get("check"), f"{note_path} check"),
        github=(str(fm["github"]).strip() if fm.get("github") else None),
        done=done, note_path=note_path,
    )


# ---------------------------------------------------------------- agent notes


@dataclass(frozen=True)
class AgentConfig:
    """An agent: built-in claude/codex (possibly overridden by a note) or a command agent."""

    name: str
    kind: Literal["claude", "codex", "command"]
    command: tuple[str, ...] = ()      # for claude/codex: the executable (+ fixed args); for command: argv with placeholders
    model: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_minutes: float | None = None
    note_path: str = ""


BUILTIN_AGENTS = {
    "claude": AgentConfig(name="claude", kind="claude", command=("claude",)),
    "codex": AgentConfig(name="codex", kind="codex", command=("codex",)),
}


def agent_from_frontmatter(name: str, note_path: str, fm: Mapping[str, Any]) -> AgentConfig:
    builtin = BUILTIN_AGENTS.get(name.lower())
    kind = builtin.kind if builtin else "command"
    command = split_command(fm.get("command"), f"{note_path} command") or (builtin.command if builtin else ())
    if not command:
        raise SettingsError(f"Agent note {note_path} has no `command:` property: set the program to run, "
                            f"e.g. command: [\"my-agent\", \"{{prompt_file}}\"]")
    env = fm.get("env") or {}
    if not isinstance(env, Mapping):
        raise SettingsError(f"Agent note {note_path}: `env` must be a map of NAME: value")
    timeout = fm.get("timeout_minutes")
    try:
        timeout_f = float(timeout) if timeout not in (None, "") else None
    except (TypeError, ValueError):
        raise SettingsError(f"Agent note {note_path}: timeout_minutes must be a number") from None
    return AgentConfig(
        name=name, kind=kind, command=command,
        model=(str(fm["model"]) if fm.get("model") else None),
        args=split_command(fm.get("args"), f"{note_path} args"),
        env={str(k): str(v) for k, v in env.items()},
        timeout_minutes=timeout_f, note_path=note_path,
    )
