"""Everything the index knows, as plain containers, and the edits that keep them consistent.

Files (stat, folded paths, names), each source's `Record` (kept marshalled, without its text), its
warnings and problems, tags, aliases, task notes, and the link graph. A file that comes or goes
re-resolves only the links whose answer it can change. A file changed within the last 2 s is "racy"
(a second write in the same mtime tick would not change its stat): a digest of its bytes decides.
"""

from __future__ import annotations

import marshal
import os
import re
import time
from pathlib import Path
from typing import Any

from . import syntax
from .cache import CACHE_DIR
from .files import EMPTY_RECORD, Stat, is_canvas, is_note, parse_file, read_file, scan
from .links import LinkGraph, Resolver, discard, escaping_links, fold, folder_of, name_key, unresolved_keys
from .note import Problem, Record
from .scan import Parsed, Summary, digest, is_racy, no_gc, parse_all, summary

TABLES = ("stat", "lower", "by_name", "records", "file_warnings", "resolved", "unresolved_by_key", "backlinks",
          "tags", "aliases", "tasks", "racy", "problems")   # what the cache holds
_GRAPH = ("resolved", "unresolved_by_key", "backlinks")

_CONFLICT_NAME = re.compile(r"\(.*conflicted copy.*\)|\.sync-conflict-\d{8}-\d{6}", re.I)
_NUMBERED_COPY = re.compile(r"^(.+) [2-9]$")
_UNTITLED = "untitled"                  # Obsidian itself names new notes "Untitled", "Untitled 1", ...


def conflict_copy(path: str, siblings: set[str]) -> bool:
    """Whether a note is a sync-conflict copy (Obsidian Sync, Dropbox, Syncthing, iCloud "Name 2.md")."""
    # `siblings` are the vault's folded paths. "Name 2.md" (2..9) counts only beside "Name.md", so a
    # lone "Chapter 2.md" is a note, and so are Obsidian's own "Untitled 2.md" names.
    name = path.rsplit("/", 1)[-1]
    if _CONFLICT_NAME.search(name):
        return True
    stem = name[:-3] if is_note(name) else name
    m = _NUMBERED_COPY.match(stem)
    if m is None or not is_note(name) or m.group(1).lower() == _UNTITLED:
        return False
    folder = folder_of(path)
    original = (folder + "/" if folder else "") + m.group(1) + ".md"
    return fold(original) in siblings


class Catalog:
    """The index's tables: files and their names, sources and what they say, and the link graph."""

    def __init__(self, root: Path):
        self.root = root
        self.stat: dict[str, Stat] = {}                  # every indexed file
        self.lower: dict[str, str] = {}                  # folded path -> path
        self.by_name: dict[str, list[str]] = {}          # folded file name -> files
        self.records: dict[str, bytes] = {}              # notes and canvases -> marshalled Record
        self.file_warnings: dict[str, tuple[str, ...]] = {}
        self.tags: dict[str, set[str]] = {}              # tag key -> notes
        self.aliases: dict[str, set[str]] = {}           # folded alias -> notes
        self.tasks: set[str] = set()
        self.problems: dict[str, tuple[Problem, ...]] = {}  # notes that look like tasks but cannot be read
        self.racy: dict[str, int] = {}                   # changed within RACY_NS -> crc32; re-read on refresh
        self.scan_warnings: list[str] = []
        self.links = LinkGraph()
        self.resolver = Resolver(self.stat, self.lower, self.by_name)
        self.dirty = True
        self._conflicts: set[str] | None = None          # computed lazily; reset when files come or go

    # ------------------------------------------------------------ the cache's view

    def tables(self) -> dict[str, Any]:
        return {name: getattr(self.links if name in _GRAPH else self, name) for name in TABLES}

    def restore(self, tables: dict[str, Any]) -> bool:
        """Take the tables a cache held; False (nothing taken) when one is missing."""
        if any(name not in tables for name in TABLES):
            return False
        for name in TABLES:
            setattr(self.links if name in _GRAPH else self, name, tables[name])
        self.resolver = Resolver(self.stat, self.lower, self.by_name)
        self.dirty = False
        return True

    # ------------------------------------------------------------ a full build

    def build(self) -> None:
        """Index every file under the root (the cyclic GC off: ~10^6 long-lived containers)."""
        with no_gc():
            self._build()

    def _build(self) -> None:
        files, self.scan_warnings = scan(self.root)
        if self.stat:
            for path, stat in files.items():
                self.add_file(path, stat)
        else:                         # an empty index: add_file without re-resolving anything
            self.stat.update(files)
            lower, by_name = self.lower, self.by_name
            for path in files:
                lower[fold(path)] = path
                by_name.setdefault(fold(path.rsplit("/", 1)[-1]), []).append(path)
            self._conflicts = None
            self.dirty = True
        sources = [p for p in files if is_note(p) or is_canvas(p)]
        parsed, shares = parse_all(str(self.root), sources, files, self.resolver.targets, self.root / CACHE_DIR)
        self._take(parsed, shares)

    def _take(self, parsed: list[Parsed], shares: list[dict]) -> None:
        gone = []
        for path, stat, blob, warnings, targets, ready, racy_digest, problems in parsed:
            if stat is None:
                gone.append(path)
                continue
            self.stat[path] = stat
            if racy_digest is not None:
                self.racy[path] = racy_digest
            self.add_source(path, blob, warnings, targets, ready, problems, count_links=False)
        self.links.merge(shares)      # the workers counted the links
        for path in gone:             # vanished since the scan: re-resolves what linked to it
            self.remove_file(path)
        self.resolver.forget()

    # ------------------------------------------------------------ files and their names

    def add_file(self, path: str, stat: Stat) -> None:
        known = path in self.stat
        self.stat[path] = stat
        if known:
            return
        self.lower[fold(path)] = path
        self.by_name.setdefault(fold(path.rsplit("/", 1)[-1]), []).append(path)
        self._files_changed(name_key(path))

    def remove_file(self, path: str) -> None:
        if path not in self.stat:
            return
        linked_from = set(self.links.backlinks.get(path, ()))
        self.remove_source(path)
        del self.stat[path]
        self.racy.pop(path, None)
        self.file_warnings.pop(path, None)
        self.lower.pop(fold(path), None)
        name = fold(path.rsplit("/", 1)[-1])
        holders = self.by_name.get(name, [])
        if path in holders:
            holders.remove(path)
        if not holders:
            self.by_name.pop(name, None)
        linked_from.discard(path)
        self._files_changed(name_key(path), linked_from)

    def _files_changed(self, key: str, linked_from: set[str] | tuple = ()) -> None:
        """A file named `key` came or went: re-resolve the links whose answer may change."""
        self._conflicts = None
        self.resolver.forget()
        self.dirty = True
        namesakes = [path for name in (key + ".md", key) for path in self.by_name.get(name, ())]
        for source in self.links.affected(key, linked_from, namesakes):
            if source in self.records:
                self._relink(source)

    def conflicts(self) -> set[str]:
        """Sync-conflict copies (see conflict_copy)."""
        if self._conflicts is None:
            folded = set(self.lower)
            self._conflicts = {p for p in self.stat if is_note(p) and conflict_copy(p, folded)}
        return self._conflicts

    # ------------------------------------------------------------ sources (notes, canvases)

    def add_source(self, path: str, blob: bytes, warnings: tuple[str, ...], targets: tuple,
                   ready: Summary, problems: tuple[Problem, ...] = (), count_links: bool = True) -> None:
        """Index one parsed source: its record (marshalled), resolved links, tags, aliases, task flag, problems."""
        self.records[path] = blob
        if warnings:
            self.file_warnings[path] = warnings
        else:
            self.file_warnings.pop(path, None)
        if problems:
            self.problems[path] = problems
        tag_keys, alias_keys, is_task, keys, counts = ready
        self.links.link(path, targets, keys, counts if count_links else ())
        if is_note(path):
            for key in tag_keys:
                self.tags.setdefault(key, set()).add(path)
            for key in alias_keys:
                self.aliases.setdefault(key, set()).add(path)
            if is_task:
                self.tasks.add(path)
        self.dirty = True

    def put(self, path: str, record: Record, warnings: tuple[str, ...], problems: tuple[Problem, ...]) -> None:
        """(Re-)index one source from a fresh parse."""
        self.remove_source(path)
        targets = self.resolver.targets(record[2], path)
        self.add_source(path, marshal.dumps(record), warnings, targets, summary(record, targets), problems)

    def remove_source(self, path: str) -> None:
        if path not in self.records:
            return
        record = self.record(path)
        self.links.unlink(path, record)
        del self.records[path]
        self.links.resolved.pop(path, None)
        for tag in record[1]:
            discard(self.tags, syntax.tag_key(tag), path)
        for alias in record[4]:
            discard(self.aliases, fold(alias), path)
        self.tasks.discard(path)
        self.problems.pop(path, None)
        self.dirty = True

    def record(self, path: str) -> Record:
        """A source's parsed record (kept marshalled: a third of the memory of the tuples)."""
        return marshal.loads(self.records[path])

    def same(self, path: str, record: Record, warnings: tuple[str, ...], problems: tuple[Problem, ...]) -> bool:
        """Whether a fresh parse says what the index already holds for `path`."""
        return (path in self.records and self.record(path) == record
                and self.file_warnings.get(path, ()) == warnings and self.problems.get(path, ()) == problems)

    def _relink(self, path: str) -> None:
        """Re-resolve every link of one source (the files around it changed)."""
        record = self.record(path)
        self.links.unlink(path, record)
        targets = self.resolver.targets(record[2], path)
        self.links.link(path, targets, unresolved_keys(record, targets))

    # ------------------------------------------------------------ re-reading one file

    def reread(self, rel: str, now: int) -> bool:
        """Re-read one file; True when what the index knows about it changed."""
        try:
            st = os.stat(os.path.join(self.root, rel))
        except OSError:
            existed = rel in self.stat
            self.remove_file(rel)
            return existed
        stat = (st.st_mtime_ns, st.st_size)
        is_new = rel not in self.stat
        if is_new:
            self.add_file(rel, stat)
        if not (is_note(rel) or is_canvas(rel)):
            changed = is_new or self.stat[rel] != stat
            self.stat[rel] = stat
            self.dirty = self.dirty or changed
            return changed
        loaded = self._load(rel, now)
        if loaded is None:
            self.remove_file(rel)
            return not is_new
        record, warnings, problems, changed = loaded
        if is_new or not self.same(rel, record, warnings, problems):
            self.put(rel, record, warnings, problems)
            return True
        return changed

    def reread_folder(self, rel: str) -> None:
        """Re-read a folder: drop files gone from it, re-read those whose stat changed (or are racy)."""
        files, warnings = scan(self.root / rel, self.root)
        self.scan_warnings.extend(warnings)
        present = {rel + "/" + p for p in files}
        for known in [p for p in self.stat if p.startswith(rel + "/") and p not in present]:
            self.remove_file(known)
        now = time.time_ns()
        for path in sorted(present):
            if self.stat.get(path) != files[path[len(rel) + 1:]] or path in self.racy:
                self.reread(path, now)

    def _load(self, path: str, now: int) -> tuple[Record, tuple[str, ...], tuple[Problem, ...], bool] | None:
        """Read and parse one file: (record, warnings, problems, whether its bytes changed); None when it vanished."""
        try:
            data, stat = read_file(os.path.join(self.root, path), str(self.root))
        except FileNotFoundError:
            return None
        except OSError as exc:
            return EMPTY_RECORD, (f"not readable ({exc.strerror})",), (), True
        changed = self.track(path, stat, now, data)
        record, warnings, problems = parse_file(path, data)
        return record, warnings + escaping_links(record, path), problems, changed

    def track(self, path: str, stat: Stat, now: int, data: bytes) -> bool:
        """Remember the stat (and for a racy file a digest) a file was read at; True when its bytes changed."""
        # a file written twice within one mtime tick keeps its stat, so while a file is that fresh
        # ("racy", as git calls it) a digest of its bytes decides instead
        old_stat = self.stat.get(path)
        old_digest = self.racy.pop(path, None)
        self.stat[path] = stat
        fresh = is_racy(stat, now)
        crc = digest(data) if fresh or old_digest is not None else None
        if fresh:
            self.racy[path] = crc                    # type: ignore[assignment]
        changed = old_stat != stat or (old_digest is not None and crc != old_digest)
        if changed or fresh or old_digest is not None:
            self.dirty = True
        return changed
