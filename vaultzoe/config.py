"""Reads the vault's configuration out of its notes (through the index) into one `VaultConfig`.

settings.py holds the typed values and how their layers merge; this module finds the notes (`Zoe/Zoe.md`,
`Zoe/Repos/`, `Zoe/Agents/`: layout.py), hands their frontmatter over, and answers which repo and agent a
task uses, raising TaskBlocked with the fix when a note is missing or wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import SettingsError, TaskBlocked
from .layout import AGENTS_DIR, REPOS_DIR, SETTINGS_NOTE
from .settings import (BUILTIN_AGENTS, AgentConfig, RepoConfig, Settings, agent_from_frontmatter,
                       repo_from_frontmatter, resolve_settings)
from .vault.index import VaultIndex
from .vault.note import Note


@dataclass(frozen=True)
class VaultConfig:
    settings: Settings
    settings_error: str | None = None
    repos: Mapping[str, RepoConfig] = field(default_factory=dict)
    repo_errors: Mapping[str, str] = field(default_factory=dict)
    agents: Mapping[str, AgentConfig] = field(default_factory=dict)
    agent_errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.agents))


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1][:-3]


def _folder_notes(index: VaultIndex, folder: str) -> list[Note]:
    return [n for n in index.notes(folder)   # reads only that folder's notes
            if n.path.count("/") == folder.count("/") + 1 and _stem(n.path).lower() != "readme"]


def load_settings(index: VaultIndex, environ: Mapping[str, str], flags: Mapping[str, Any] | None = None) -> tuple[Settings, str | None]:
    note = index.note(SETTINGS_NOTE)
    values = dict(note.frontmatter) if note else {}
    try:
        return resolve_settings(values, environ, flags), None
    except SettingsError as exc:
        defaults = resolve_settings({}, {}, {})
        return defaults, str(exc)


def load_config(index: VaultIndex, environ: Mapping[str, str], flags: Mapping[str, Any] | None = None) -> VaultConfig:
    settings, settings_error = load_settings(index, environ, flags)
    repos, repo_errors = {}, {}
    for note in _folder_notes(index, REPOS_DIR):
        name = _stem(note.path)
        try:
            repos[name.lower()] = repo_from_frontmatter(name, note.path, note.frontmatter, index.root)
        except SettingsError as exc:
            repo_errors[name.lower()] = str(exc)
    agents: dict[str, AgentConfig] = dict(BUILTIN_AGENTS)
    agent_errors = {}
    for note in _folder_notes(index, AGENTS_DIR):
        name = _stem(note.path)
        try:
            agents[name.lower()] = agent_from_frontmatter(name, note.path, note.frontmatter)
        except SettingsError as exc:
            agent_errors[name.lower()] = str(exc)
    return VaultConfig(settings, settings_error, repos, repo_errors, agents, agent_errors)


def command_notes(config: VaultConfig) -> list[RepoConfig | AgentConfig]:
    """The notes that choose what runs: every repo note and every agent note (trust.py approves them)."""
    return [*config.repos.values(), *(agent for agent in config.agents.values() if agent.note_path)]


def repo_for(config: VaultConfig, index: VaultIndex, note: Note) -> RepoConfig:
    """The repo a task names (`repo: "[[name]]"` or `repo: name`); the only repo note when it names none."""
    name = _repo_name(index, note)
    if name is None:
        if len(config.repos) == 1 and not config.repo_errors:
            return next(iter(config.repos.values()))
        raise TaskBlocked("The task names no repository: add `repo: \"[[name]]\"` to its properties "
                          f"(a note in {REPOS_DIR}/ with a `path:` property)")
    key = name.lower()
    if key in config.repo_errors:
        raise TaskBlocked(config.repo_errors[key])
    repo = config.repos.get(key)
    if repo is None:
        raise TaskBlocked(f"No repo note '{name}': create {REPOS_DIR}/{name}.md with a `path:` property "
                          "pointing at a local git clone")
    if not Path(repo.path).is_dir():
        raise TaskBlocked(f"Repo note {repo.note_path}: path {repo.path} does not exist: clone the repository "
                          "there or fix `path:`")
    return repo


def _repo_name(index: VaultIndex, note: Note) -> str | None:
    for link in note.links:
        if link.key and link.key.split(".", 1)[0] == "repo":
            resolved = index.resolve(link.target, note.path)
            return _stem(resolved) if resolved else link.target.rsplit("/", 1)[-1].removesuffix(".md")
    raw = note.frontmatter.get("repo")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if isinstance(raw, str) and raw.strip():
        return raw.strip().strip("[]").split("|", 1)[0].rsplit("/", 1)[-1].removesuffix(".md")
    return None


def agent_config(config: VaultConfig, name: str) -> AgentConfig:
    key = name.strip().lower()
    if key in config.agent_errors:
        raise TaskBlocked(config.agent_errors[key])
    agent = config.agents.get(key)
    if agent is None:
        raise TaskBlocked(f"No agent '{name}': use claude, codex, auto, or create {AGENTS_DIR}/{name}.md with a "
                          "`command:` property")
    return agent
