"""The local trust record: which command-bearing notes the human approved, kept outside the vault (like direnv).

Repo notes (`path`, `setup`, `check`) and agent notes (`command`, `args`, `env`) decide what runs on this
machine, and a synced or pasted note can change them. A task whose repo or agent note is new or changed
since the human last ran `vaultzoe trust VAULT` is blocked with the difference. The record lives in
$VAULTZOE_TRUST_DIR or $XDG_CONFIG_HOME/vaultzoe/trust/<sha256 of the vault's real path>.json (dir 0700,
file 0600): a file inside the vault could be synced in along with the commands it approves.

Pure core (`command_values`, `check`, `approve`, `task_allowed`) over values; I/O at the edge (`load`, `save`,
`TrustStore`, `trust_vault`, `trust_written`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import SettingsError, TaskBlocked, VaultzoeError
from .layout import AGENTS_DIR, REPOS_DIR
from .settings import BUILTIN_AGENTS, AgentConfig, RepoConfig, Settings, agent_from_frontmatter, repo_from_frontmatter
from .vault.note import parse_note

TRUST_DIR_ENV = "VAULTZOE_TRUST_DIR"
VERSION = 1
SHOWN_CHARS = 60          # per value in a diff: the callout shows ~300 characters in all
DIFF_CHARS = 220

CommandNote = RepoConfig | AgentConfig


@dataclass(frozen=True)
class Entry:
    """One approved note: the digest of its command-bearing values and the values (env values hashed)."""

    digest: str
    values: Mapping[str, Any]
    trusted: str = ""


@dataclass(frozen=True)
class TrustRecord:
    vault: str                                  # the vault's real path, as `vaultzoe trust` wants it
    entries: Mapping[str, Entry] = field(default_factory=dict)
    problem: str = ""                           # the record cannot be relied on: nothing counts as trusted


# ---------------------------------------------------------------- pure core


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def command_values(config: CommandNote) -> dict[str, Any] | None:
    """What decides what runs, from one repo or agent note; None when it carries no command of its own."""
    if isinstance(config, RepoConfig):
        return {"path": str(config.path), "setup": list(config.setup), "check": list(config.check)}
    builtin = BUILTIN_AGENTS.get(config.name.lower())
    plain = builtin is not None and config.command == builtin.command and not config.args and not config.env
    if not config.note_path or plain:
        return None       # the built-in CLI with the user's own login: nothing a note chose
    # env values can run code (PATH, NODE_OPTIONS) but may be secrets: the record keeps only their hashes
    env = {name: _sha(value) for name, value in sorted(config.env.items())}
    return {"command": list(config.command), "args": list(config.args), "env": env}


def digest(values: Mapping[str, Any]) -> str:
    return _sha(json.dumps(values, sort_keys=True, ensure_ascii=False))


def _shown(value: Any) -> str:
    """A command as the shell would read it, cut short; a path whole (the line as a whole is cut later)."""
    if not isinstance(value, list):
        return str(value)
    text = f"`{shlex.join(value)}`"
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 2] + "…`"


def _env_change(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    marks = [f"+{n}" for n in new if n not in old] + [f"-{n}" for n in old if n not in new]
    marks += [f"~{n}" for n in new if n in old and old[n] != new[n]]
    return "env " + " ".join(sorted(marks, key=lambda m: m[1:]))


def summary(values: Mapping[str, Any]) -> str:
    """The values of a note as one short line (env by name only)."""
    parts = [f"env {' '.join(v)}" if k == "env" else f"{k} {_shown(v)}" for k, v in values.items() if v]
    return _cut(", ".join(parts) or "no command")


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What changed between two value sets, as one short line: `setup `make` -> `curl … | sh``."""
    parts = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "env":
            parts.append(_env_change(before or {}, after or {}))
        else:
            parts.append(f"{key} {_shown(before) if before else '(none)'} -> {_shown(after) if after else '(none)'}")
    return _cut("; ".join(parts))


def _cut(text: str) -> str:
    return text if len(text) <= DIFF_CHARS else text[:DIFF_CHARS - 1] + "…"


def approve_hint(record: TrustRecord) -> str:
    return f"approve with `vaultzoe trust {record.vault}`"


def _untrusted(record: TrustRecord, config: CommandNote) -> str | None:
    values = command_values(config)
    if values is None:
        return None
    if record.problem:
        return f"{record.problem} ({config.note_path} cannot be checked)"
    entry = record.entries.get(config.note_path)
    if entry is not None and entry.digest == digest(values):
        return None
    # the fix comes before the details: the status callout shows only the first ~300 characters
    fix = f"check it, then {approve_hint(record)} and set `status: queued` again"
    if entry is None:
        return f"Command note {config.note_path} is not trusted on this machine: {fix}. It runs: {summary(values)}"
    return f"Command note {config.note_path} changed since you trusted it: {fix}. Changed: {diff(entry.values, values)}"


def check(record: TrustRecord, repo: RepoConfig | None = None, agent: AgentConfig | None = None) -> str | None:
    """None when the repo and agent notes are trusted as they are; else the reason, naming the note and the fix."""
    for config in (repo, agent):
        if config is not None:
            reason = _untrusted(record, config)
            if reason:
                return reason
    return None


def require(record: TrustRecord, repo: RepoConfig | None = None, agent: AgentConfig | None = None) -> None:
    """`check`, raising TaskBlocked with the reason (for the places right before a command runs)."""
    reason = check(record, repo, agent)
    if reason:
        raise TaskBlocked(reason)


def pending(record: TrustRecord, notes: Iterable[CommandNote]) -> list[tuple[str, str]]:
    """(note path, reason) for every command note that is not trusted as it is."""
    found = ((c.note_path, _untrusted(record, c)) for c in notes)
    return [(path, reason) for path, reason in found if reason]


def approve(record: TrustRecord, notes: Iterable[CommandNote], when: str,
            forget_others: bool = True) -> tuple[TrustRecord, list[str]]:
    """The record with these notes trusted as they are now, and one line per note saying what changed."""
    entries = {} if record.problem else dict(record.entries)
    lines, seen = [], set()
    for config in sorted(notes, key=lambda c: c.note_path):
        values = command_values(config)
        if values is None:
            continue
        seen.add(config.note_path)
        old = entries.get(config.note_path)
        if old is not None and old.digest == digest(values):
            lines.append(f"trusted {config.note_path} (unchanged)")
            continue
        how = f"changed: {diff(old.values, values)}" if old else f"new: {summary(values)}"
        entries[config.note_path] = Entry(digest(values), values, when)
        lines.append(f"trusted {config.note_path} ({how})")
    if forget_others:
        for gone in sorted(set(entries) - seen):
            del entries[gone]
            lines.append(f"forgot {gone} (no longer a command note)")
    return TrustRecord(record.vault, entries), lines


def task_allowed(path: str, settings: Settings) -> bool:
    """Whether a task note at this vault path may start agents (`task_folders` empty: anywhere)."""
    folders = [f.strip().strip("/").casefold() for f in settings.task_folders]
    if not folders or "" in folders:
        return True
    folded = path.casefold()
    return any(folded.startswith(folder + "/") for folder in folders)


def task_folder_problem(path: str, settings: Settings) -> str | None:
    """None when a task note may start agents from here; else why not, and the fix."""
    if task_allowed(path, settings):
        return None
    folders = ", ".join(settings.task_folders)
    return (f"{path} is outside task_folders ({folders}): move the note into one of them, or add its folder "
            f"to `task_folders` in Zoe/Zoe.md")


# ---------------------------------------------------------------- the record on disk


def trust_dir(environ: Mapping[str, str]) -> Path:
    """$VAULTZOE_TRUST_DIR, else $XDG_CONFIG_HOME/vaultzoe/trust, else ~/.config/vaultzoe/trust."""
    if environ.get(TRUST_DIR_ENV):
        return Path(environ[TRUST_DIR_ENV]).expanduser()
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config_home) / "vaultzoe" / "trust"


def vault_key(vault_root: Path) -> str:
    return os.path.realpath(vault_root)


def record_path(vault_root: Path, environ: Mapping[str, str]) -> Path:
    return trust_dir(environ) / f"{_sha(vault_key(vault_root))[:32]}.json"


def insecure(path: Path, info: os.stat_result) -> str | None:
    """Why a trust file or folder could be forged by someone else (None when only we can write it)."""
    if info.st_uid != os.geteuid():
        return f"{path} belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by group or others"
    return None


def _decode(vault: str, raw: bytes, path: Path) -> TrustRecord:
    try:
        data = json.loads(raw)
        entries = {str(k): Entry(str(v["digest"]), dict(v["values"]), str(v.get("trusted", "")))
                   for k, v in data["notes"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return TrustRecord(vault, {}, f"Trust record {path} is unreadable ({type(exc).__name__}): "
                                      f"run `vaultzoe trust {vault}` to write it again")
    return TrustRecord(vault, entries)


def load(vault_root: Path, environ: Mapping[str, str]) -> TrustRecord:
    """The record for this vault (empty when there is none); an unsafe or broken file sets `problem`."""
    vault, path = vault_key(vault_root), record_path(vault_root, environ)
    try:
        with open(path, "rb") as handle:
            why = insecure(path.parent, os.stat(path.parent)) or insecure(path, os.fstat(handle.fileno()))
            raw = handle.read()
    except FileNotFoundError:
        return TrustRecord(vault)
    except OSError as exc:
        return TrustRecord(vault, {}, f"Trust record {path} cannot be read ({exc.strerror}): fix its permissions")
    if why:
        return TrustRecord(vault, {}, f"Trust record unsafe: {why}: run `chmod 700 {path.parent}; chmod 600 {path}` "
                                      f"or remove it, then {approve_hint(TrustRecord(vault))}")
    return _decode(vault, raw, path)


def _private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.stat(directory)
    if info.st_uid != os.geteuid():
        raise VaultzoeError(f"Trust folder {directory} belongs to another user: remove it, or set "
                            f"{TRUST_DIR_ENV} to a folder of yours")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(directory, 0o700)


def save(record: TrustRecord, vault_root: Path, environ: Mapping[str, str]) -> Path:
    """Write the record atomically as a 0600 file in a 0700 folder; returns its path."""
    path = record_path(vault_root, environ)
    _private_dir(path.parent)
    data = {"version": VERSION, "vault": record.vault,
            "notes": {k: {"digest": e.digest, "values": e.values, "trusted": e.trusted}
                      for k, e in sorted(record.entries.items())}}
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


class TrustStore:
    """The record for one vault, re-read only when its file changes (one or two stat calls per `record()`)."""

    def __init__(self, vault_root: Path, environ: Mapping[str, str]):
        self.vault_root = Path(vault_root)
        self.environ = dict(environ)
        self.path = record_path(self.vault_root, self.environ)
        self._seen: tuple | None = None
        self._record = TrustRecord(vault_key(self.vault_root))

    def record(self) -> TrustRecord:
        try:
            info, folder = os.stat(self.path), os.stat(self.path.parent)
            seen: tuple | None = (info.st_mtime_ns, info.st_size, info.st_ino, info.st_mode, info.st_uid,
                                  folder.st_mode, folder.st_uid)
        except OSError:
            seen = None
        if seen is None or seen != self._seen:
            self._record = load(self.vault_root, self.environ)
            self._seen = seen
        return self._record


# ---------------------------------------------------------------- trusting


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_command_note(vault_root: Path, rel: str) -> CommandNote:
    """The repo or agent note at rel, parsed as the orchestrator parses it; SettingsError when it is broken."""
    folder, _, name = rel.rpartition("/")
    note = parse_note(rel, (Path(vault_root) / rel).read_text(encoding="utf-8"))
    if folder == REPOS_DIR:
        return repo_from_frontmatter(name[:-3], rel, note.frontmatter, Path(vault_root).resolve())
    return agent_from_frontmatter(name[:-3], rel, note.frontmatter)


def vault_command_notes(vault_root: Path) -> tuple[list[CommandNote], list[tuple[str, str]]]:
    """Every repo and agent note as it is on disk now, and (path, error) for those that do not parse.

    Read straight from the files, never from the index cache in .vaultzoe/ (inside the vault, maybe synced):
    when the two disagree the digests differ and the task stays blocked.
    """
    notes, broken = [], []
    for folder in (REPOS_DIR, AGENTS_DIR):
        directory = Path(vault_root) / folder
        for path in sorted(directory.glob("*.md")) if directory.is_dir() else ():
            if path.stem.lower() == "readme" or not path.is_file():
                continue
            try:
                notes.append(read_command_note(vault_root, f"{folder}/{path.name}"))
            except SettingsError as exc:
                broken.append((f"{folder}/{path.name}", str(exc)))
    return notes, broken


def trust_vault(vault_root: Path, environ: Mapping[str, str]) -> list[str]:
    """`vaultzoe trust VAULT`: trust every command note as it is now; one line per note, then where."""
    notes, broken = vault_command_notes(vault_root)
    new, lines = approve(load(vault_root, environ), notes, _now())
    path = save(new, vault_root, environ)
    if not lines:
        lines = [f"No command notes in {REPOS_DIR}/ or {AGENTS_DIR}/: nothing to trust"]
    return lines + [f"not trusted {rel}: {why}" for rel, why in broken] + [f"Trust record: {path}"]


def written_note(vault_root: Path, rel: str) -> CommandNote | None:
    """The repo or agent note vaultzoe itself just wrote at rel (None for any other note)."""
    folder, _, name = rel.rpartition("/")
    if not name.lower().endswith(".md") or name[:-3].lower() == "readme" or folder not in (REPOS_DIR, AGENTS_DIR):
        return None
    try:
        return read_command_note(vault_root, rel)
    except SettingsError:
        return None       # a note that does not parse blocks on its own; there is nothing to approve


def trust_written(vault_root: Path, paths: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """Trust the command notes among paths (notes `init` or `demo` wrote themselves); other notes stay as they were."""
    notes = [c for c in (written_note(vault_root, p) for p in paths) if c is not None]
    if not notes:
        return []
    record = load(vault_root, environ)
    kept = {path: e for path, e in record.entries.items() if (Path(vault_root) / path).is_file()}
    new, lines = approve(TrustRecord(record.vault, kept, record.problem), notes, _now(), forget_others=False)
    save(new, vault_root, environ)
    return lines
