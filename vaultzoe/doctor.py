"""`vaultzoe doctor`: what this machine and vault lack before vaultzoe can work, one finding per line.

A finding is "ok", "warn" (works, but less well) or "block" (tasks cannot run until the human fixes it).
Keys are reported as set or not set, never with their values. Repo and agent notes whose commands are not
trusted on this machine as they are now block (trust.py); so do state or trust folders others can write to.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import yaml

from .errors import SettingsError
from .layout import AGENTS_DIR, REPOS_DIR, SETTINGS_NOTE, STATE_DIR
from .settings import (BUILTIN_AGENTS, AgentConfig, Settings, agent_from_frontmatter, repo_from_frontmatter,
                       resolve_settings)
from . import trust

Level = Literal["ok", "warn", "block"]
VERSION_TIMEOUT_S = 20.0
GIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str


def diagnose(vault_root: Path, environ: Mapping[str, str]) -> list[Finding]:
    """Everything doctor checks, in the order a person would fix it."""
    if not vault_root.is_dir():
        return [Finding("block", f"No vault at {vault_root}: pass the folder Obsidian opens")]
    settings, findings = settings_findings(vault_root, environ)
    findings += agent_findings(vault_root, environ, settings.default_agent)
    findings += key_findings(environ, settings)
    findings += repo_findings(vault_root)
    findings += trust_findings(vault_root, environ)
    findings += permission_findings(vault_root, environ)
    findings += note_problem_findings(vault_root)
    return findings


def note_problem_findings(vault_root: Path) -> list[Finding]:
    """Notes that look like tasks but cannot be read: the parser's message and line, as in the registry."""
    from .vault.index import VaultIndex
    index = VaultIndex.open(vault_root)
    found = [p for p in index.problems() if not p.path.lower().startswith("zoe/")]
    if not found:
        return [Finding("ok", "Every note that looks like a task can be read")]
    return [Finding("warn", f"{p.path}" + (f" line {p.line}" if p.line else "") + f": {p.message}") for p in found]


# ---------------------------------------------------------------- notes and their frontmatter


def read_frontmatter(path: Path, vault_root: Path) -> dict[str, Any]:
    """The YAML between a note's leading `---` lines ({} when there is none); SettingsError names the note."""
    rel = path.relative_to(vault_root).as_posix()
    lines = path.read_text(encoding="utf-8", errors="replace").lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), None)
    if end is None:
        raise SettingsError(f"{rel}: the frontmatter has no closing `---` line: add one after the properties")
    try:
        values = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        raise SettingsError(f"{rel}: the properties are not valid YAML{line}: fix them in Obsidian's "
                            f"Properties view or the note's source") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise SettingsError(f"{rel}: the frontmatter must be `key: value` lines, not a {type(values).__name__}")
    return values


def folder_notes(vault_root: Path, folder: str) -> list[Path]:
    directory = vault_root / folder
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.md") if p.stem.lower() != "readme")


# ---------------------------------------------------------------- settings


def settings_findings(vault_root: Path, environ: Mapping[str, str]) -> tuple[Settings, list[Finding]]:
    note = vault_root / SETTINGS_NOTE
    if not note.is_file():
        return resolve_settings({}, {}), [Finding("block", f"No {SETTINGS_NOTE} in {vault_root}: this vault is not "
                                                          f"set up yet; run `vaultzoe init {vault_root}`")]
    try:
        settings = resolve_settings(read_frontmatter(note, vault_root), environ)
    except SettingsError as exc:
        return resolve_settings({}, {}), [Finding("block", str(exc))]
    summary = (f"max_agents={settings.max_agents}, default_agent={settings.default_agent}, "
               f"planner={settings.planner}, forge={settings.forge}")
    return settings, [Finding("ok", f"Settings in {SETTINGS_NOTE} parse ({summary})")]


# ---------------------------------------------------------------- agents


def agent_configs(vault_root: Path) -> tuple[dict[str, AgentConfig], list[Finding]]:
    """The built-in agents overridden or extended by Zoe/Agents/*.md; broken notes become findings."""
    configs: dict[str, AgentConfig] = dict(BUILTIN_AGENTS)
    broken = []
    for path in folder_notes(vault_root, AGENTS_DIR):
        try:
            configs[path.stem.lower()] = agent_from_frontmatter(
                path.stem, path.relative_to(vault_root).as_posix(), read_frontmatter(path, vault_root))
        except SettingsError as exc:
            broken.append(Finding("block", str(exc)))
    return configs, broken


def _availability(config: AgentConfig, environ: Mapping[str, str]) -> str | None:
    """None when the agent's program can run, else its reason (with the install command for the CLIs)."""
    if config.kind == "claude":
        from .work.claude import ClaudeAgent
        return ClaudeAgent(config, environ).available()
    if config.kind == "codex":
        from .work.codex import CodexAgent
        return CodexAgent(config, environ).available()
    from .work.agents import make_agent
    return make_agent(config).available()


def run_briefly(argv: list[str], env: Mapping[str, str] | None, timeout_s: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a short command; on timeout its whole process group is killed."""
    proc = subprocess.Popen(argv, env=None if env is None else dict(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)    # grandchildren holding the pipes would keep communicate() waiting
        proc.communicate()
        raise
    return proc.returncode, out, err


def program_version(argv: list[str], env: Mapping[str, str], timeout_s: float = VERSION_TIMEOUT_S) -> str:
    """The first line `<program> --version` prints; RuntimeError says why there is none."""
    try:
        code, out, err = run_briefly([*argv, "--version"], env, timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"did not answer within {timeout_s:.0f} s") from None
    except OSError as exc:
        raise RuntimeError(str(exc)) from None
    text = (out.strip() or err.strip()).splitlines()
    if code != 0 or not text:
        raise RuntimeError(f"exited with {code}: {text[-1][:200] if text else 'no output'}")
    return text[0][:200]


def _agent_finding(config: AgentConfig, environ: Mapping[str, str], default_agent: str) -> tuple[bool, Finding]:
    """(runnable, finding) for one agent."""
    reason = _availability(config, environ)
    if reason is not None:
        return False, Finding("block" if config.name.lower() == default_agent.lower() else "warn", reason)
    env = {**environ, **config.env}
    where = shutil.which(config.command[0], path=env.get("PATH", os.defpath)) or config.command[0]
    if config.kind == "command":
        return True, Finding("ok", f"Agent {config.name}: {where} is installed")
    try:
        version = program_version(list(config.command), env)
    except RuntimeError as exc:
        return True, Finding("warn", f"Agent {config.name}: {where} is installed but `{config.command[0]} "
                                     f"--version` {exc}: reinstall it, or check `command:` in "
                                     f"{AGENTS_DIR}/{config.name}.md")
    return True, Finding("ok", f"Agent {config.name}: {version} at {where}")


def agent_findings(vault_root: Path, environ: Mapping[str, str], default_agent: str) -> list[Finding]:
    configs, findings = agent_configs(vault_root)
    results = [_agent_finding(c, environ, default_agent) for c in configs.values()]
    findings += [finding for _, finding in results]
    if default_agent.lower() not in configs:
        findings.append(Finding("block", f"default_agent is {default_agent!r} but there is no such agent: use "
                                         f"claude or codex, or add {AGENTS_DIR}/{default_agent}.md"))
    if not any(runnable for runnable, _ in results):
        findings.append(Finding("block", "No agent can run: install Claude Code (npm install -g "
                                         "@anthropic-ai/claude-code) or Codex (npm install -g @openai/codex)"))
    return findings


# ---------------------------------------------------------------- keys (never their values)


def _key_set(environ: Mapping[str, str], *names: str) -> str | None:
    return next((n for n in names if environ.get(n, "").strip()), None)


def _key_finding(environ: Mapping[str, str], names: tuple[str, ...], if_set: str, if_missing: str,
                 missing_level: Level) -> Finding:
    name = _key_set(environ, *names)
    if name:
        return Finding("ok", f"{name} is set: {if_set}")
    return Finding(missing_level, f"{' / '.join(names)} not set: {if_missing}")


KeyCheck = Callable[[Mapping[str, str], Settings], Finding]


def _anthropic(environ: Mapping[str, str], settings: Settings) -> Finding:
    if settings.planner == "claude":
        missing = "`planner: claude` needs it: set it, or set `planner: auto` in Zoe/Zoe.md"
        return _key_finding(environ, ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"), "the Claude planner can run",
                            missing, "block")
    return _key_finding(environ, ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"),
                        "the Claude planner can run and Claude Code can use it",
                        "the planner falls back to templates and Claude Code uses its own login "
                        "(run `claude` once, then /login)", "warn")


def _openai(environ: Mapping[str, str], settings: Settings) -> Finding:
    return _key_finding(environ, ("OPENAI_API_KEY", "CODEX_API_KEY"), "Codex can use it",
                        "Codex uses its own login (run `codex login`)", "warn")


def _github(environ: Mapping[str, str], settings: Settings) -> Finding:
    level: Level = "block" if settings.forge == "github" else "warn"
    return _key_finding(environ, ("GITHUB_TOKEN", "GH_TOKEN"), "vaultzoe can push and open pull requests",
                        "no pull requests: branches stay local (set one, e.g. GH_TOKEN=$(gh auth token), "
                        "or `forge: local` in Zoe/Zoe.md)", level)


KEY_CHECKS: tuple[KeyCheck, ...] = (_anthropic, _openai, _github)


def key_findings(environ: Mapping[str, str], settings: Settings) -> list[Finding]:
    return [check(environ, settings) for check in KEY_CHECKS]


# ---------------------------------------------------------------- repo notes


def git_toplevel(path: Path) -> str:
    """The work tree root containing path; RuntimeError with git's reason when it is not a git repo."""
    try:
        code, out, err = run_briefly(["git", "-C", str(path), "rev-parse", "--show-toplevel"], None, GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"git could not run ({exc}): install git") from None
    if code != 0:
        raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else "not a git repository")
    return out.strip()


def _repo_finding(path: Path, vault_root: Path) -> Finding:
    rel = path.relative_to(vault_root).as_posix()
    try:
        repo = repo_from_frontmatter(path.stem, rel, read_frontmatter(path, vault_root), vault_root)
    except SettingsError as exc:
        return Finding("block", str(exc))
    if not repo.path.is_dir():
        return Finding("block", f"Repo note {rel}: {repo.path} does not exist: set `path:` to a local git clone")
    try:
        top = git_toplevel(repo.path)
    except RuntimeError as exc:
        return Finding("block", f"Repo note {rel}: {repo.path} is not a git repo ({exc}): set `path:` to a "
                                f"local git clone, or run `git init` there")
    return Finding("ok", f"Repo {repo.name}: {top} is a git repo")


def repo_findings(vault_root: Path) -> list[Finding]:
    notes = folder_notes(vault_root, REPOS_DIR)
    if not notes:
        return [Finding("warn", f"No repo notes in {REPOS_DIR}/: add one per repository, e.g. "
                                f"{REPOS_DIR}/app.md with `path: ~/code/app`")]
    return [_repo_finding(path, vault_root) for path in notes]


# ---------------------------------------------------------------- trust and permissions


def trust_findings(vault_root: Path, environ: Mapping[str, str]) -> list[Finding]:
    """Repo and agent notes whose commands this machine has not approved as they are now."""
    record = trust.load(vault_root, environ)
    notes, _ = trust.vault_command_notes(vault_root)      # broken notes are reported above
    commands = [n for n in notes if trust.command_values(n) is not None]
    if not commands:
        return []
    if record.problem:
        return [Finding("block", record.problem)]
    untrusted = trust.pending(record, commands)
    if untrusted:
        return [Finding("block", reason) for _, reason in untrusted]
    return [Finding("ok", f"Command notes trusted on this machine: {len(commands)} "
                          f"({trust.record_path(vault_root, environ)})")]


def _exposure(info: os.stat_result) -> Level | None:
    """block when group or others can write, warn when they can only read; None when private."""
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "block"
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        return "warn"
    return None


def _entries(top: Path):
    yield str(top)
    for folder, dirs, files in os.walk(top):      # symlinked folders are not followed
        for name in (*dirs, *files):
            yield os.path.join(folder, name)


def _exposed_under(top: Path) -> tuple[Level | None, int, str]:
    """(worst exposure, how many entries, the first one) of top and everything below it (symlinks skipped)."""
    worst: Level | None = None
    count, first = 0, ""
    if not os.stat(top).st_mode & 0o077:
        return None, 0, ""          # nobody else can enter the folder: what is inside cannot be reached
    for path in _entries(top):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue                # a log rotated away while we looked
        level = None if stat.S_ISLNK(info.st_mode) else _exposure(info)
        if level is not None:
            count, first = count + 1, first or path
            worst = "block" if "block" in (worst, level) else level
    return worst, count, first


def permission_findings(vault_root: Path, environ: Mapping[str, str]) -> list[Finding]:
    """vaultzoe's state folder and the trust folder must be private to this user."""
    findings = []
    state = vault_root / STATE_DIR
    if state.is_dir():
        worst, count, first = _exposed_under(state)
        if worst is None:
            findings.append(Finding("ok", f"{state} is private to you"))
        else:
            can = "change" if worst == "block" else "read"
            findings.append(Finding(worst, f"{count} entries in {state} let other users {can} them (e.g. {first}): "
                                           f"agent logs, prompts and task memory live there; run "
                                           f"`chmod 700 {state}`"))
    folder = trust.trust_dir(environ)
    if folder.exists():
        worst, count, first = _exposed_under(folder)
        if os.stat(folder).st_uid != os.geteuid():
            findings.append(Finding("block", f"Trust folder {folder} belongs to another user: remove it, or set "
                                             f"{trust.TRUST_DIR_ENV} to a folder of yours"))
        elif worst is not None:
            findings.append(Finding(worst, f"Trust folder {folder} is not private ({count} entries open to "
                                             f"others, e.g. {first}): run `chmod 700 {folder}`"))
    return findings
