"""Name/alias/path lookup, link resolution, backlinks, tag index; incremental; on-disk cache.

API CONTRACT (fixed; other modules build on it):

    VaultIndex.open(root: Path, cache: bool = True) -> VaultIndex
        Builds the index (from <root>/.vaultzoe/index cache when present, re-reading only files whose
        stat changed). Raises VaultError when root is not a directory.
    index.refresh() -> set[str]             rescan stats; re-parse changed/added, drop removed; returns changed paths
    index.update(path: str) -> None         incremental update of one vault-relative path (changed, added or removed)
    index.rename(old: str, new: str) -> None
    index.save() -> None                    write the cache (save(min_interval=s): not more often than that)
    index.root: Path
    index.notes() -> Iterable[Note]         markdown notes only
    index.note(path: str) -> Note | None
    index.files() -> Iterable[str]          every file known as a link target (notes + attachments, .base, .canvas)
    index.resolve(link_target: str, source: str) -> str | None   Obsidian's resolution of a link's file part
    index.resolved_links(path) -> list[tuple[Link, str | None]]
    index.backlinks(path: str) -> set[str]  sources whose links resolve to path
    index.by_name(name: str) -> list[str]   case-insensitive basename lookup
    index.by_alias(alias: str) -> list[str]
    index.tagged(tag: str) -> set[str]      tag with or without '#', case-insensitive; "#a" also matches "#a/b"
    index.tasks() -> list[Note]             task notes (excluding sync-conflict copies)
    index.conflicts() -> list[str]          sync-conflict copies found
    index.unresolved() -> dict[str, dict[str, int]]   like Obsidian's unresolvedLinks
    index.stats() -> dict                   {"notes", "links", "unresolved", "tags", "tasks"}
    index.problems() -> list[NoteProblem]   notes that look like tasks but cannot be read (note.task_problems),
                                            sync-conflict copies left out; index.problems_of(path) for one note

Also: index.notes(folder) (only notes under a folder), index.read_text(path) -> str,
index.warnings(path=None) -> tuple[str, ...], index.link_counts() -> dict[str, dict[str, int]]
(like Obsidian's resolvedLinks).

Semantics. Paths are vault-relative POSIX paths; lookups ignore case. `.obsidian/`, `.trash/` and every
other dot-folder or dot-file are not part of the vault, nor is a symlink whose real path leaves the
vault or enters a dot-folder (files.py: the scan, the bounded and symlink-checked read). Markdown notes and `.canvas` files are link
sources (a canvas's text cards and file cards); every file is a link target. Resolution follows
Obsidian: the part before '#' is the file part ("" = the source itself); "/x" is vault-absolute;
"./x" and "../x" are relative to the source's folder and never leave the vault; a bare name matches
files of that name (".md" optional for notes, other files need their extension), the one in the
source's folder first, else the shallowest, else by path; "a/b" is tried relative to the source's
folder, then from the vault root, then as a path suffix of namesakes. Aliases never resolve.
`unresolved()` lists only sources that have unresolved links, keyed by the link's file part as
written. `stats()`: `links`/`unresolved` count link occurrences (body, embeds, properties) in notes
and canvases, as the sums of Obsidian's resolvedLinks/unresolvedLinks do; `tags` counts distinct
tags ignoring case; `tasks` counts task notes that are not sync-conflict copies.

How it works. Everything the index knows is plain containers (dicts, sets, tuples, str, int, bytes),
so the cache (<vault>/.vaultzoe/index.marshal) is one `marshal` dump and a warm start is one
`marshal.loads` plus a stat of every file. Each note's parse (a `note.Record`) is kept marshalled and
without its text; `note(path)` reads the file and wraps the record in a `Note` (re-parsing first if
the file changed since it was indexed). Links are resolved once and re-resolved only when a file of
the same name comes or goes. A file changed within the last 2 s is "racy" (a second write in the same
mtime tick would not change its stat) and is re-checked by content digest. A full build of a large
vault on Linux forks one helper that parses half the notes (only while this process has one thread).
"""

from __future__ import annotations

import gc
import marshal
import os
import re
import signal
import sys
import tempfile
import threading
import time
import unicodedata
import zlib
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import PathOutsideVault, VaultError
from . import syntax
from .files import (  # noqa: F401  (MAX_NOTE_BYTES, canvas_record, decode_note: re-exported)
    EMPTY_RECORD, MAX_NOTE_BYTES, Stat, canvas_record, decode_note, inside_vault, is_canvas, is_note, note_problems,
    parse_file, read_file, scan)
from .note import Link, Note, NoteProblem, Record, note_from_record, parse_record

CACHE_DIR = ".vaultzoe"
CACHE_FILE = "index.marshal"
CACHE_VERSION = 8
PARALLEL_BYTES = 4 * 1024 * 1024        # below this a helper process costs more than it saves
RACY_NS = 2_000_000_000                 # a file changed this recently may change again within one mtime tick

_CONFLICT_NAME = re.compile(r"\(.*conflicted copy.*\)|\.sync-conflict-\d{8}-\d{6}", re.I)
_NUMBERED_COPY = re.compile(r"^(.+) [2-9]$")
_UNTITLED = "untitled"                  # Obsidian itself names new notes "Untitled", "Untitled 1", ...
_MISS = object()


# ---------------------------------------------------------------- pure helpers

def _fold(text: str) -> str:
    """Case- and normalization-insensitive lookup key (macOS writes NFD names, links are NFC)."""
    return (text if text.isascii() else unicodedata.normalize("NFC", text)).lower()


def _name_key(path_or_link: str) -> str:
    """What links and files are matched on: the last path segment, folded, without ".md"."""
    last = _fold(path_or_link.rstrip("/").rsplit("/", 1)[-1])
    return last[:-3] if last.endswith(".md") else last


def _normalize(path: str) -> str | None:
    """Collapse "." and ".." in a vault-relative path; None when it climbs out of the vault."""
    if path and path[0] not in "./" and path[-1] != "/" and "/." not in path and "//" not in path:
        return path               # no empty, "." or ".." segment: already normal
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def _file_part(link: str) -> str:
    """"X#heading" -> "X"."""
    return link.split("#", 1)[0] if "#" in link else link


Summary = tuple                         # (tag keys, folded aliases, is_task, name keys of unresolved links, link counts)


def _summary(record: Record, targets: tuple) -> Summary:
    """What the index's lookups need from a record, so a helper process can hand it over ready."""
    tag_keys = tuple({syntax.tag_key(tag) for tag in record[1]})
    alias_keys = tuple({_fold(alias) for alias in record[4]})
    return tag_keys, alias_keys, record[7], _unresolved_keys(record, targets), _target_counts(targets)


def _target_counts(targets: tuple) -> tuple[tuple[str, int], ...]:
    """(target, number of links to it) for each resolved target, in first-seen order."""
    return tuple((target, n) for target, n in Counter(targets).items() if target is not None)


def _unresolved_keys(record: Record, targets: tuple) -> tuple[str, ...]:
    if None not in targets:
        return ()
    return tuple({_name_key(_file_part(link[0])) for link, t in zip(record[2], targets) if t is None})


def _escaping_links(record: Record, source: str) -> tuple[str, ...]:
    """Warnings for links whose path climbs out of the vault (they stay unresolved, never followed)."""
    folder = _folder(source)
    found = []
    for link in record[2]:
        target = _file_part(link[0]).strip()
        if ".." in target and _normalize(folder + "/" + target if folder and target[0] != "/" else target) is None:
            found.append(f"link {link[2]} points outside the vault: left unresolved")
    return tuple(found)


def _depth_order(path: str) -> tuple:
    return path.count("/"), _fold(path), path


def _namesakes(candidates: list[str]) -> tuple:
    """The resolution rule for files sharing a name: the source's own folder first, else the shallowest."""
    ranked = sorted(candidates, key=_depth_order)
    by_folder: dict[str, str] = {}
    for path in reversed(ranked):
        by_folder[_folder(path)] = path
    return ("?", by_folder, ranked[0])


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


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
    folder = _folder(path)
    original = (folder + "/" if folder else "") + m.group(1) + ".md"
    return _fold(original) in siblings


# ---------------------------------------------------------------- building

@contextmanager
def _no_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _racy(stat: Stat, now: int) -> bool:
    return now - stat[0] < RACY_NS


def _digest(data: bytes) -> int:
    return zlib.crc32(data)


_CHUNK = 256                            # at most this many sources in one share of a parallel build
_CHUNKS = 600                           # about this many shares (a pipe of 4-byte numbers holds 16k)


def _write_frame(out: Any, blob: bytes) -> None:
    out.write(len(blob).to_bytes(8, "little"))
    out.write(blob)


def _read_frames(spool: Any) -> tuple[list, dict] | None:
    """Everything the helper spooled (its results and, last, its link counts), or None when incomplete."""
    results: list = []
    while True:
        head = spool.read(8)
        if not head:
            return None           # the link counts frame never came
        size = int.from_bytes(head, "little")
        blob = spool.read(size)
        if len(head) != 8 or len(blob) != size:
            return None
        try:
            frame = marshal.loads(blob)
        except (ValueError, EOFError, TypeError):
            return None
        if isinstance(frame, dict):
            return results, frame
        results.extend(frame)


def _scratch_dir(root: Path) -> str | None:
    """Spool next to the cache when the vault is writable, else in the system temp folder."""
    folder = root / CACHE_DIR
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    return str(folder)


def _can_fork() -> bool:
    """Forking is safe only on Linux and while this process runs a single thread."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def _chunks_by_size(paths: list[str], files: dict[str, Stat]) -> list[list[str]]:
    """Shares of about equal bytes, largest files first, so two processes taking them in turn finish together."""
    ranked = sorted(paths, key=lambda p: -files[p][1])
    total = sum(files[p][1] for p in ranked)
    target = max(total // _CHUNKS, 1)
    chunks: list[list[str]] = []
    chunk: list[str] = []
    size = 0
    for path in ranked:
        chunk.append(path)
        size += files[path][1]
        if size >= target or len(chunk) >= _CHUNK:
            chunks.append(chunk)
            chunk, size = [], 0
    if chunk:
        chunks.append(chunk)
    return chunks


# ---------------------------------------------------------------- the index

class VaultIndex:
    """An Obsidian vault as Obsidian's metadata cache sees it, kept current incrementally."""

    def __init__(self, root: Path):
        self.root = root
        self._stat: dict[str, Stat] = {}                 # every indexed file
        self._lower: dict[str, str] = {}                 # folded path -> path
        self._by_name: dict[str, list[str]] = {}         # folded file name -> files
        self._records: dict[str, bytes] = {}             # notes and canvases -> marshalled Record
        self._file_warnings: dict[str, tuple[str, ...]] = {}
        self._resolved: dict[str, tuple] = {}            # source -> target per link (None: unresolved)
        self._unresolved_by_key: dict[str, set[str]] = {}  # name key -> sources with an unresolved link on it
        self._backlinks: dict[str, dict[str, int]] = {}  # target -> {source: count}
        self._tags: dict[str, set[str]] = {}             # tag key -> notes
        self._aliases: dict[str, set[str]] = {}          # folded alias -> notes
        self._tasks: set[str] = set()
        self._problems: dict[str, tuple[Problem, ...]] = {}  # notes that look like tasks but cannot be read
        self._racy: dict[str, int] = {}                  # changed within RACY_NS -> crc32; re-read on refresh
        self._scan_warnings: list[str] = []
        self._conflicts: set[str] | None = None          # computed lazily; reset when files come or go
        self._memo: dict[Any, Any] = {}                  # target -> rule (see _rule); (folder, target) -> path
        self._dirty = True
        self._saved_at = float("-inf")

    # ------------------------------------------------------------ building

    @classmethod
    def open(cls, root: Path, cache: bool = True) -> VaultIndex:
        """Index the vault at root, starting from the cache when there is one."""
        root = Path(root)
        if not root.is_dir():
            raise VaultError(f"No vault at {root}: pass the folder that holds your notes (and .obsidian/)")
        index = cls(root.resolve())
        if not (cache and index._load_cache()):
            index._build()
        return index

    def _build(self) -> None:
        with _no_gc():                # ~10^6 long-lived tuples, strings and sets: the cyclic GC would
            self._build_all()         # rescan them again and again as they pile up (superlinear)

    def _build_all(self) -> None:
        files, self._scan_warnings = scan(self.root)
        if self._stat:
            for path, stat in files.items():
                self._add_file(path, stat)
        else:                         # an empty index: _add_file without re-resolving anything
            self._stat.update(files)
            lower, by_name = self._lower, self._by_name
            for path in files:
                lower[_fold(path)] = path
                by_name.setdefault(_fold(path.rsplit("/", 1)[-1]), []).append(path)
            self._conflicts = None
            self._dirty = True
        sources = [p for p in files if is_note(p) or is_canvas(p)]
        parsed, link_counts = self._parse_all(sources, files)
        gone = []
        for path, stat, blob, warnings, targets, summary, digest, problems in parsed:
            if stat is None:
                gone.append(path)
                continue
            self._stat[path] = stat
            if digest is not None:
                self._racy[path] = digest
            self._add_source(path, blob, warnings, targets, summary, problems, count_links=False)
        backlinks = self._backlinks            # the workers counted the links: merge their shares
        for share in link_counts:
            for target, counts in share.items():
                known = backlinks.get(target)
                if known is None:
                    backlinks[target] = counts
                else:
                    known.update(counts)  # the shares hold different sources
        for path in gone:                 # vanished since the scan: re-resolves what linked to it
            self._remove_file(path)
        self._memo.clear()

    def _parse_all(self, sources: list[str], files: dict[str, Stat]) -> tuple[list[tuple], list[dict]]:
        """Read, parse and resolve every source; on Linux a forked helper shares the work of a big vault.

        Returns the results and shares of the link counts ({target: {source: n}}) covering them."""
        total = sum(files[p][1] for p in sources)
        if total < PARALLEL_BYTES or not _can_fork():
            counts: dict = {}
            return self._parse_slice(sources, counts), [counts]
        return self._parse_forked(_chunks_by_size(sources, files))

    def _parse_slice(self, paths: list[str], counts: dict | None = None) -> list[tuple]:
        """[(path, stat | None when gone, record blob, warnings, targets, summary, racy digest, problems)].

        With `counts` ({target: {source: n}}, a share of the backlinks), the links are counted there
        and left out of the summaries (the parent merges the shares instead of a loop per link)."""
        out = []
        root = str(self.root)
        now = time.time_ns()
        for path in paths:
            try:
                data, stat = read_file(os.path.join(root, path), root)
            except FileNotFoundError:
                out.append((path, None, None, None, None, None, None, None))
                continue
            except OSError as exc:
                data, stat = b"", self._stat[path]
                record, warnings, problems = EMPTY_RECORD, (f"not readable ({exc.strerror})",), ()
            else:
                record, warnings, problems = parse_file(path, data)
                if b".." in data:
                    warnings += _escaping_links(record, path)
            targets = self._targets(record[2], path)
            summary = _summary(record, targets)
            if counts is not None:
                for target, n in summary[4]:
                    sources = counts.get(target)
                    if sources is None:
                        counts[target] = {path: n}
                    else:
                        sources[path] = n
                summary = summary[:4] + ((),)
            out.append((path, stat, marshal.dumps(record), warnings, targets, summary,
                        _digest(data) if _racy(stat, now) else None, problems))
        return out

    def _parse_forked(self, chunks: list[list[str]]) -> tuple[list[tuple], list[dict]]:
        """Parse the chunks here and in a forked child, each taking the next chunk number from a pipe."""
        # the numbers are all in the pipe before the fork and a read of 4 bytes takes one whole, so
        # whoever is free takes the next share and both finish within one share of each other; the
        # child spools marshalled results to a temp file (not a pipe) so it never waits for us
        read_fd, write_fd = os.pipe()
        try:
            os.write(write_fd, b"".join(i.to_bytes(4, "little") for i in range(len(chunks))))
        finally:
            os.close(write_fd)
        try:
            with tempfile.TemporaryFile(dir=_scratch_dir(self.root)) as spool:
                pid = os.fork()
                if pid == 0:                              # the child: parse, spool, leave at once
                    status = 1
                    try:
                        counts: dict = {}
                        while (taken := os.read(read_fd, 4)):
                            done = self._parse_slice(chunks[int.from_bytes(taken, "little")], counts)
                            _write_frame(spool, marshal.dumps(done))
                        _write_frame(spool, marshal.dumps(counts))
                        spool.flush()
                        status = 0
                    finally:
                        os._exit(status)
                results: list = []
                ours: dict = {}
                try:
                    while (taken := os.read(read_fd, 4)):
                        results += self._parse_slice(chunks[int.from_bytes(taken, "little")], ours)
                except BaseException:
                    os.kill(pid, signal.SIGKILL)          # interrupted: do not wait for the helper's share
                    os.waitpid(pid, 0)
                    raise
                _, status = os.waitpid(pid, 0)
                spool.seek(0)
                spooled = _read_frames(spool) if status == 0 else None
        finally:
            os.close(read_fd)
        if spooled is None or len(results) + len(spooled[0]) != sum(map(len, chunks)):
            done = {found[0] for found in results}        # the helper failed: do what it left here
            theirs = self._parse_slice([p for chunk in chunks for p in chunk if p not in done], ours)
            return results + theirs, [ours]
        return results + spooled[0], [ours, spooled[1]]

    def _load(self, path: str, now: int) -> tuple[Record, tuple[str, ...], tuple[Problem, ...], bool] | None:
        """Read and parse one file: (record, warnings, problems, whether its bytes changed); None when it vanished."""
        try:
            data, stat = read_file(os.path.join(self.root, path), str(self.root))
        except FileNotFoundError:
            return None
        except OSError as exc:
            return EMPTY_RECORD, (f"not readable ({exc.strerror})",), (), True
        changed = self._track(path, stat, now, data)
        record, warnings, problems = parse_file(path, data)
        return record, warnings + _escaping_links(record, path), problems, changed

    def _track(self, path: str, stat: Stat, now: int, data: bytes) -> bool:
        """Remember the stat (and for a racy file a digest) a file was read at; True when its bytes changed."""
        # a file written twice within one mtime tick keeps its stat, so while a file is that fresh
        # ("racy", as git calls it) a digest of its bytes decides instead
        old_stat = self._stat.get(path)
        old_digest = self._racy.pop(path, None)
        self._stat[path] = stat
        fresh = _racy(stat, now)
        digest = _digest(data) if fresh or old_digest is not None else None
        if fresh:
            self._racy[path] = digest              # type: ignore[assignment]
        changed = old_stat != stat or (old_digest is not None and digest != old_digest)
        if changed or fresh or old_digest is not None:
            self._dirty = True
        return changed

    # ------------------------------------------------------------ files and their names

    def _add_file(self, path: str, stat: Stat) -> None:
        known = path in self._stat
        self._stat[path] = stat
        if known:
            return
        self._lower[_fold(path)] = path
        self._by_name.setdefault(_fold(path.rsplit("/", 1)[-1]), []).append(path)
        self._file_set_changed(_name_key(path))

    def _remove_file(self, path: str) -> None:
        if path not in self._stat:
            return
        linked_from = set(self._backlinks.get(path, ()))
        self._remove_source(path)
        del self._stat[path]
        self._racy.pop(path, None)
        self._file_warnings.pop(path, None)
        self._lower.pop(_fold(path), None)
        name = _fold(path.rsplit("/", 1)[-1])
        holders = self._by_name.get(name, [])
        if path in holders:
            holders.remove(path)
        if not holders:
            self._by_name.pop(name, None)
        linked_from.discard(path)
        self._file_set_changed(_name_key(path), linked_from)

    def _file_set_changed(self, key: str, linked_from: Iterable[str] = ()) -> None:
        """A file named `key` came or went: re-resolve the links whose answer may change."""
        # only two kinds can: unresolved links on that name, and links resolved to a file of that name
        # (a closer or more exact namesake may now win, or the target went away)
        self._conflicts = None
        self._memo.clear()
        self._dirty = True
        sources = set(self._unresolved_by_key.get(key, ()))
        sources.update(linked_from)
        for name in (key + ".md", key):
            for path in self._by_name.get(name, ()):
                sources.update(self._backlinks.get(path, ()))
        for source in sources:
            if source in self._records:
                self._link_source(source)

    # ------------------------------------------------------------ sources (notes, canvases)

    def _add_source(self, path: str, blob: bytes, warnings: tuple[str, ...], targets: tuple,
                    summary: Summary, problems: tuple[Problem, ...] = (), count_links: bool = True) -> None:
        """Index one parsed source: its record (marshalled), resolved links, tags, aliases, task flag, problems."""
        self._records[path] = blob
        if warnings:
            self._file_warnings[path] = warnings
        else:
            self._file_warnings.pop(path, None)
        if problems:
            self._problems[path] = problems
        tag_keys, alias_keys, is_task, unresolved_keys, counts = summary
        self._link_targets(path, targets, unresolved_keys, counts if count_links else ())
        if is_note(path):
            for key in tag_keys:
                self._tags.setdefault(key, set()).add(path)
            for key in alias_keys:
                self._aliases.setdefault(key, set()).add(path)
            if is_task:
                self._tasks.add(path)
        self._dirty = True

    def _put(self, path: str, record: Record, warnings: tuple[str, ...], problems: tuple[Problem, ...]) -> None:
        """(Re-)index one source from a fresh parse."""
        self._remove_source(path)
        targets = self._targets(record[2], path)
        self._add_source(path, marshal.dumps(record), warnings, targets, _summary(record, targets), problems)

    def _remove_source(self, path: str) -> None:
        if path not in self._records:
            return
        record = self._record(path)
        self._unlink_source(path, record)
        del self._records[path]
        self._resolved.pop(path, None)
        for tag in record[1]:
            self._discard(self._tags, syntax.tag_key(tag), path)
        for alias in record[4]:
            self._discard(self._aliases, _fold(alias), path)
        self._tasks.discard(path)
        self._problems.pop(path, None)
        self._dirty = True

    def _record(self, path: str) -> Record:
        """A source's parsed record (kept marshalled: a third of the memory of the tuples)."""
        return marshal.loads(self._records[path])

    def _same(self, path: str, record: Record, warnings: tuple[str, ...], problems: tuple[Problem, ...]) -> bool:
        """Whether a fresh parse says what the index already holds for `path`."""
        return (path in self._records and self._record(path) == record
                and self._file_warnings.get(path, ()) == warnings and self._problems.get(path, ()) == problems)

    @staticmethod
    def _discard(mapping: dict[str, set[str]], key: str, path: str) -> None:
        holders = mapping.get(key)
        if holders is not None:
            holders.discard(path)
            if not holders:
                del mapping[key]

    def _link_source(self, path: str) -> None:
        """Re-resolve every link of one source (the files around it changed)."""
        record = self._record(path)
        self._unlink_source(path, record)
        targets = self._targets(record[2], path)
        self._link_targets(path, targets, _unresolved_keys(record, targets))

    def _link_targets(self, path: str, targets: tuple, unresolved_keys: tuple[str, ...],
                      target_counts: tuple | None = None) -> None:
        self._resolved[path] = targets
        for key in unresolved_keys:
            self._unresolved_by_key.setdefault(key, set()).add(path)
        backlinks = self._backlinks
        for target, n in _target_counts(targets) if target_counts is None else target_counts:
            counts = backlinks.get(target)
            if counts is None:
                backlinks[target] = {path: n}
            else:
                counts[path] = counts.get(path, 0) + n

    def _unlink_source(self, path: str, record: Record) -> None:
        targets = self._resolved.get(path, ())
        for key in _unresolved_keys(record, targets):
            self._discard(self._unresolved_by_key, key, path)
        for target in targets:
            if target is None:
                continue
            counts = self._backlinks.get(target)
            if counts is not None and path in counts:
                counts[path] -= 1
                if counts[path] <= 0:
                    del counts[path]
                    if not counts:
                        del self._backlinks[target]

    # ------------------------------------------------------------ resolution

    def resolve(self, link_target: str, source: str) -> str | None:
        """The vault path a link's file part points to from `source`, as Obsidian resolves it."""
        return self._resolve(_file_part(link_target), source)

    def _targets(self, links: tuple, source: str) -> tuple:
        """The resolved target of each link of `source` (the memoized cases of `_resolve` inlined)."""
        memo = self._memo
        folder = _folder(source)
        out = []
        append = out.append
        for link in links:
            target = link[0]
            if "#" in target:
                target = target.split("#", 1)[0]
            rule = memo.get(target) if target else None
            if rule is not None:
                kind = rule[0]
                if kind == "=":
                    append(rule[1])
                    continue
                if kind == "?":
                    append(rule[1].get(folder, rule[2]))
                    continue
                if not folder and kind == "/":
                    append(rule[1])
                    continue
                if folder or kind == ".":
                    found = memo.get((folder, target), _MISS)     # keys hold stripped targets: a hit is exact
                    if found is not _MISS:
                        append(found if found is not None or kind == "." else rule[1])
                        continue
            append(self._resolve(target, source))
        return tuple(out)

    def _resolve(self, target: str, source: str) -> str | None:
        if not target:
            return source if source in self._stat else None
        rule = self._memo.get(target)
        if rule is None:
            rule = self._memo[target] = self._rule(target.strip())
        kind = rule[0]
        if kind == "=":
            return rule[1]
        folder = _folder(source)
        if kind == "?":
            return rule[1].get(folder, rule[2])
        relative = self._from_folder(folder, target.strip()) if folder or kind == "." else None
        return relative if relative is not None or kind == "." else rule[1]

    def _from_folder(self, folder: str, target: str) -> str | None:
        """`target` taken relative to a folder (memoized: the same relative links recur in a folder)."""
        key = (folder, target)
        found = self._memo.get(key, _MISS)          # type: ignore[call-overload]
        if found is _MISS:
            normal = _normalize(folder + "/" + target if folder else target)
            found = self._memo[key] = self._exact(normal) if normal else None  # type: ignore[index]
        return found                                  # type: ignore[return-value]

    def _rule(self, target: str) -> tuple:
        """How a link target resolves, as far as that does not depend on the linking note's folder."""
        # ("=", path): the same answer from anywhere; ("?", {folder: path}, path): namesakes, where a
        # file in the source's own folder wins; ("/", path): a path tried relative to the source
        # first; (".",): "./" and "../" paths, relative only
        if not target or "\x00" in target:
            return ("=", None)
        if target[0] == "/":
            normal = _normalize(target)
            return ("=", self._exact(normal) if normal else None)
        if target[0] == "." and (target in (".", "..") or target.startswith(("./", "../"))):
            return (".",)
        if "/" not in target:
            candidates = self._named(_fold(target))
            if len(candidates) <= 1:
                return ("=", candidates[0] if candidates else None)
            return _namesakes(candidates)
        return ("/", self._resolve_path(target))

    def _resolve_path(self, target: str) -> str | None:
        """A link with folders in it, from the vault root, else the namesake whose path ends with it."""
        normal = _normalize(target)
        if not normal:
            return None
        found = self._exact(normal)
        if found is not None:
            return found
        folded = _fold(normal)
        wanted = (folded, folded + ".md")
        suffixes = ("/" + folded, "/" + folded + ".md")
        matches = [c for c in self._named(_fold(normal.rsplit("/", 1)[-1]))
                   if _fold(c) in wanted or _fold(c).endswith(suffixes)]
        return min(matches, key=_depth_order) if matches else None

    def _named(self, name: str) -> list[str]:
        """Files a link naming `name` (folded, no folders) can mean: notes first, then exact file names."""
        if name.endswith(".md"):
            return self._by_name.get(name, [])
        return self._by_name.get(name + ".md") or self._by_name.get(name, [])

    def _exact(self, path: str) -> str | None:
        folded = _fold(path)
        if folded.endswith(".md"):
            return self._lower.get(folded)
        return self._lower.get(folded + ".md") or self._lower.get(folded)

    # ------------------------------------------------------------ incremental updates

    def update(self, path: str) -> None:
        """Re-read one vault-relative path (a changed, added or removed file, or a whole folder)."""
        rel = self._relative(path)
        if rel is None:
            return
        full = os.path.join(self.root, rel)
        real = os.path.realpath(full)
        if real != full and not inside_vault(real, str(self.root)):      # the path or a folder on it links out
            self._scan_warnings.append(f"{rel}: symlink leading out of the vault: skipped (vaultzoe reads only the vault)")
            full = ""             # forget it, as if removed
        elif real != full and (full + os.sep).startswith(real + os.sep):
            full = ""             # a link to a folder holding it (a loop): the scan already warns
        if os.path.isdir(full):
            self._update_folder(rel)
            return
        if not os.path.isfile(full):
            for known in [p for p in self._stat if p.startswith(rel + "/")] + [rel]:
                self._remove_file(known)
            return
        self._update_file(rel, time.time_ns())

    def _update_file(self, rel: str, now: int) -> bool:
        """Re-read one file; True when what the index knows about it changed."""
        try:
            st = os.stat(os.path.join(self.root, rel))
        except OSError:
            existed = rel in self._stat
            self._remove_file(rel)
            return existed
        stat = (st.st_mtime_ns, st.st_size)
        is_new = rel not in self._stat
        if is_new:
            self._add_file(rel, stat)
        if not (is_note(rel) or is_canvas(rel)):
            changed = is_new or self._stat[rel] != stat
            self._stat[rel] = stat
            self._dirty = self._dirty or changed
            return changed
        loaded = self._load(rel, now)
        if loaded is None:
            self._remove_file(rel)
            return not is_new
        record, warnings, problems, changed = loaded
        if is_new or not self._same(rel, record, warnings, problems):
            self._put(rel, record, warnings, problems)
            return True
        return changed

    def _update_folder(self, rel: str) -> None:
        files, warnings = scan(self.root / rel, self.root)
        self._scan_warnings.extend(warnings)
        present = {rel + "/" + p for p in files}
        for known in [p for p in self._stat if p.startswith(rel + "/") and p not in present]:
            self._remove_file(known)
        now = time.time_ns()
        for path in sorted(present):
            if self._stat.get(path) != files[path[len(rel) + 1:]] or path in self._racy:
                self._update_file(path, now)

    def rename(self, old: str, new: str) -> None:
        """A file or folder moved from `old` to `new`."""
        self.update(old)
        self.update(new)

    def refresh(self) -> set[str]:
        """Compare every file's stat with what was indexed; re-read what changed. Returns changed paths."""
        files, self._scan_warnings = scan(self.root)
        changed = {p for p in self._stat if p not in files}
        for path in changed:
            self._remove_file(path)
        now = time.time_ns()
        for path, stat in files.items():
            if self._stat.get(path) != stat or path in self._racy:
                if self._update_file(path, now):
                    changed.add(path)
        self._memo.clear()
        return changed

    def _relative(self, path: str | Path) -> str | None:
        """A vault-relative POSIX path; raises PathOutsideVault; None for paths the index ignores."""
        raw = Path(path)
        if raw.is_absolute():
            raw = self._inside_root(raw)
        rel = _normalize(raw.as_posix())
        if rel is None:
            raise PathOutsideVault(f"{path} climbs out of the vault {self.root}: give a path inside it")
        if not rel or any(part.startswith(".") for part in rel.split("/")):
            return None
        return rel

    def _inside_root(self, absolute: Path) -> Path:
        for candidate in (absolute, absolute.resolve()):
            try:
                return candidate.relative_to(self.root)
            except ValueError:
                continue
        raise PathOutsideVault(f"{absolute} is outside the vault {self.root}: give a path inside it")

    # ------------------------------------------------------------ cache

    def _cache_path(self) -> Path:
        return self.root / CACHE_DIR / CACHE_FILE

    def _state(self) -> dict[str, Any]:
        return {
            "stat": self._stat, "lower": self._lower, "by_name": self._by_name, "records": self._records,
            "file_warnings": self._file_warnings, "resolved": self._resolved,
            "unresolved_by_key": self._unresolved_by_key, "backlinks": self._backlinks, "tags": self._tags,
            "aliases": self._aliases, "tasks": self._tasks, "racy": self._racy, "problems": self._problems,
        }

    def save(self, min_interval: float = 0.0) -> None:
        """Write the cache to <vault>/.vaultzoe/ atomically, when something changed (and `min_interval` s passed)."""
        # the cache only saves work (every entry is checked against the file's stat), so a daemon may
        # save at most every few seconds instead of after every edit
        target = self._cache_path()
        if not self._dirty and target.exists():
            return
        if min_interval and time.monotonic() - self._saved_at < min_interval:
            return
        payload = {"version": CACHE_VERSION, "python": list(sys.version_info[:2]), "state": self._state()}
        temp = target.with_name(f".{CACHE_FILE}.{os.getpid()}.tmp")
        try:
            target.parent.mkdir(exist_ok=True)
            temp.write_bytes(marshal.dumps(payload))
            os.replace(temp, target)
        except (OSError, ValueError) as exc:
            temp.unlink(missing_ok=True)
            self._scan_warnings.append(f"index cache not written to {target.parent}: {exc}")
            return
        self._dirty = False
        self._saved_at = time.monotonic()

    def _load_cache(self) -> bool:
        """Start from the cache, then re-read whatever changed since; False when there is no usable cache."""
        try:
            blob = self._cache_path().read_bytes()
            with _no_gc():                # millions of new containers: the cyclic GC would only slow this
                payload = marshal.loads(blob)
            usable = (isinstance(payload, dict) and payload.get("version") == CACHE_VERSION
                      and payload.get("python") == list(sys.version_info[:2]))
            state = payload["state"] if usable else None
        except (OSError, ValueError, EOFError, TypeError, KeyError):
            return False
        if not isinstance(state, dict):
            return False
        for name, value in state.items():
            setattr(self, "_" + name, value)
        self._dirty = False
        self.refresh()
        return True

    # ------------------------------------------------------------ notes

    def note(self, path: str) -> Note | None:
        """The parsed note at a vault-relative path (case-insensitive), or None."""
        rel = self._known(path)
        if rel is None or not is_note(rel):
            return None
        return self._materialize(rel)

    def _known(self, path: str) -> str | None:
        try:
            rel = self._relative(path)
        except PathOutsideVault:
            return None
        if rel is None:
            return None
        return rel if rel in self._records else self._lower.get(_fold(rel))

    def _materialize(self, rel: str) -> Note | None:
        """Read the file and wrap its record; re-parse first when the file changed since indexing."""
        try:
            data, stat = read_file(os.path.join(self.root, rel), str(self.root))
        except OSError:
            self.update(rel)
            return None
        text, warnings = decode_note(data)
        if stat != self._stat.get(rel) or rel in self._racy or rel not in self._records:
            changed = self._track(rel, stat, time.time_ns(), data)
            record = parse_record(text, headings=False) if changed or rel not in self._records else None
            if record is not None:
                problems = note_problems(data, text, record, warnings)
                warnings += _escaping_links(record, rel)
            if record is not None and not self._same(rel, record, warnings, problems):
                self._put(rel, record, warnings, problems)
                return note_from_record(rel, record, text, self._file_warnings.get(rel, ()))
        return note_from_record(rel, self._record(rel), text, self._file_warnings.get(rel, ()))

    def read_text(self, path: str) -> str:
        """The decoded text of a note (BOM dropped), as its Note holds it."""
        note = self.note(path)
        if note is None:
            raise VaultError(f"No note {path!r} in the vault {self.root}: check the path (vault-relative, with .md)")
        return note.text

    def notes(self, folder: str | None = None) -> Iterator[Note]:
        """Every markdown note (or those under `folder`, ignoring case), in path order, each read when reached."""
        prefix = _fold(folder.strip("/")) + "/" if folder else ""
        paths = (p for p in self._records if is_note(p) and (not prefix or _fold(p).startswith(prefix)))
        for path in sorted(paths):
            note = self._materialize(path)
            if note is not None:
                yield note

    def files(self) -> list[str]:
        """Every file a link can point to (notes, attachments, .canvas, .base), in path order."""
        return sorted(self._stat)

    # ------------------------------------------------------------ links

    def resolved_links(self, path: str) -> list[tuple[Link, str | None]]:
        """Each link of a note (or canvas) with the vault path it resolves to, or None."""
        rel = self._known(path)
        if rel is None or rel not in self._records:
            return []
        return [(Link(*link), target) for link, target in zip(self._record(rel)[2], self._resolved[rel])]

    def backlinks(self, path: str) -> set[str]:
        """Sources with at least one link resolving to `path`."""
        rel = self._known(path) or path
        return set(self._backlinks.get(rel, ()))

    def link_counts(self) -> dict[str, dict[str, int]]:
        """source -> {target: occurrences}, like Obsidian's metadataCache.resolvedLinks."""
        counts: dict[str, dict[str, int]] = {}
        for target, sources in self._backlinks.items():
            for source, n in sources.items():
                counts.setdefault(source, {})[target] = n
        return counts

    def unresolved(self) -> dict[str, dict[str, int]]:
        """source -> {link target as written: occurrences} for links that resolve nowhere (sources with none left out)."""
        found: dict[str, dict[str, int]] = {}
        for source, targets in self._resolved.items():
            if None not in targets:
                continue
            counts = found.setdefault(source, {})
            for link, target in zip(self._record(source)[2], targets):
                if target is None:
                    name = link[0].split("#", 1)[0]
                    counts[name] = counts.get(name, 0) + 1
        return found

    # ------------------------------------------------------------ names, aliases, tags, tasks

    def by_name(self, name: str) -> list[str]:
        """Files whose name (without .md for notes) is `name`, ignoring case."""
        folded = _fold(name.rsplit("/", 1)[-1])
        return sorted(self._by_name.get(folded + ".md", []) + self._by_name.get(folded, []))

    def by_alias(self, alias: str) -> list[str]:
        """Notes listing `alias` in their `aliases` property, ignoring case."""
        return sorted(self._aliases.get(_fold(alias.strip()), ()))

    def tagged(self, tag: str) -> set[str]:
        """Notes with the tag or a tag nested under it ("#a" matches "#a/b"), ignoring case."""
        key = syntax.tag_key(tag.strip())
        found = set(self._tags.get(key, ()))
        prefix = key + "/"
        for other, paths in self._tags.items():
            if other.startswith(prefix):
                found |= paths
        return found

    def conflicts(self) -> list[str]:
        """Sync-conflict copies (Obsidian Sync, Dropbox, Syncthing, iCloud), in path order."""
        if self._conflicts is None:
            folded = set(self._lower)
            self._conflicts = {p for p in self._stat if is_note(p) and conflict_copy(p, folded)}
        return sorted(self._conflicts)

    def tasks(self) -> list[Note]:
        """Task notes (DESIGN.md rule), leaving out sync-conflict copies, in path order."""
        skip = set(self.conflicts())
        found = (self._materialize(p) for p in sorted(self._tasks) if p not in skip)
        return [note for note in found if note is not None and note.is_task]

    # ------------------------------------------------------------ reporting

    def warnings(self, path: str | None = None) -> tuple[str, ...]:
        """Warnings for one note, or for the whole vault ("path: message") when no path is given."""
        if path is not None:
            rel = self._known(path)
            parsed = self._record(rel)[5] if rel in self._records else ()
            return self._file_warnings.get(rel, ()) + parsed if rel else ()
        found = list(self._scan_warnings)
        for rel in sorted(self._records):
            found.extend(f"{rel}: {w}" for w in self._file_warnings.get(rel, ()) + self._record(rel)[5])
        return tuple(found)

    def problems(self) -> list[NoteProblem]:
        """Notes that look like tasks but cannot be read (bad YAML or UTF-8, an unknown status ...), in path order."""
        skip = set(self.conflicts())
        return [NoteProblem(path, message, line) for path in sorted(self._problems) if path not in skip
                for message, line in self._problems[path]]

    def problems_of(self, path: str) -> list[NoteProblem]:
        """The problems of one note (see `problems`); [] when it has none or is unknown."""
        rel = self._known(path)
        return [NoteProblem(rel, message, line) for message, line in self._problems.get(rel, ())] if rel else []

    def stats(self) -> dict[str, int]:
        """{"notes", "links", "unresolved", "tags", "tasks"} (see the module docstring)."""
        skip = set(self.conflicts())
        return {
            "notes": sum(1 for p in self._records if is_note(p)),
            "links": sum(len(r) for r in self._resolved.values()),
            "unresolved": sum(targets.count(None) for targets in self._resolved.values()),
            "tags": len(self._tags),
            "tasks": len(self._tasks - skip),
        }
