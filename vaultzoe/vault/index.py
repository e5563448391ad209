"""`VaultIndex`, the facade: name/alias/path lookup, links, backlinks, tags, tasks; incremental; cached.

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

How it works. `VaultIndex` answers queries and routes updates; what it knows lives in plain
containers (catalog.py), so the cache (cache.py, <vault>/.vaultzoe/index.marshal) is one `marshal`
dump and a warm start is one `marshal.loads` plus a stat of every file. `note(path)` reads the file
and wraps its kept record in a `Note` (re-parsing first if the file changed since it was indexed).
Links are resolved once (links.py) and re-resolved only when a file of the same name comes or goes.
A full build of a large vault on Linux forks one helper that parses half the notes (scan.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

from ..errors import PathOutsideVault, VaultError
from . import syntax
from .cache import CACHE_DIR, CACHE_FILE, cache_path, read_cache, write_cache  # noqa: F401  (CACHE_*: re-exported)
from .catalog import Catalog, conflict_copy  # noqa: F401  (conflict_copy: re-exported)
from .files import (  # noqa: F401  (MAX_NOTE_BYTES: re-exported)
    MAX_NOTE_BYTES, decode_note, inside_vault, is_note, note_problems, read_file, scan as scan_vault)
from .links import escaping_links, file_part, fold, normalize
from .note import Link, Note, NoteProblem, note_from_record, parse_record
from .scan import PARALLEL_BYTES  # noqa: F401  (re-exported)


def _relative(root: Path, path: str | Path) -> str | None:
    """A vault-relative POSIX path; raises PathOutsideVault; None for paths the index ignores."""
    raw = Path(path)
    if raw.is_absolute():
        raw = _inside_root(root, raw)
    rel = normalize(raw.as_posix())
    if rel is None:
        raise PathOutsideVault(f"{path} climbs out of the vault {root}: give a path inside it")
    if not rel or any(part.startswith(".") for part in rel.split("/")):
        return None
    return rel


def _inside_root(root: Path, absolute: Path) -> Path:
    for candidate in (absolute, absolute.resolve()):
        try:
            return candidate.relative_to(root)
        except ValueError:
            continue
    raise PathOutsideVault(f"{absolute} is outside the vault {root}: give a path inside it")


class VaultIndex:
    """An Obsidian vault as Obsidian's metadata cache sees it, kept current incrementally."""

    def __init__(self, root: Path):
        self.root = root
        self._cat = Catalog(root)
        self._saved_at = float("-inf")

    @classmethod
    def open(cls, root: Path, cache: bool = True) -> VaultIndex:
        """Index the vault at root, starting from the cache when there is one."""
        root = Path(root)
        if not root.is_dir():
            raise VaultError(f"No vault at {root}: pass the folder that holds your notes (and .obsidian/)")
        index = cls(root.resolve())
        tables = read_cache(index.root) if cache else None
        if tables is not None and index._cat.restore(tables):
            index.refresh()           # re-read whatever changed since the cache was written
        else:
            index._cat.build()
        return index

    # ------------------------------------------------------------ incremental updates

    def update(self, path: str) -> None:
        """Re-read one vault-relative path (a changed, added or removed file, or a whole folder)."""
        rel = _relative(self.root, path)
        if rel is None:
            return
        full = os.path.join(self.root, rel)
        real = os.path.realpath(full)
        if real != full and not inside_vault(real, str(self.root)):      # the path or a folder on it links out
            self._cat.scan_warnings.append(
                f"{rel}: symlink leading out of the vault: skipped (vaultzoe reads only the vault)")
            full = ""             # forget it, as if removed
        elif real != full and (full + os.sep).startswith(real + os.sep):
            full = ""             # a link to a folder holding it (a loop): the scan already warns
        if os.path.isdir(full):
            self._cat.reread_folder(rel)
            return
        if not os.path.isfile(full):
            for known in [p for p in self._cat.stat if p.startswith(rel + "/")] + [rel]:
                self._cat.remove_file(known)
            return
        self._cat.reread(rel, time.time_ns())

    def rename(self, old: str, new: str) -> None:
        """A file or folder moved from `old` to `new`."""
        self.update(old)
        self.update(new)

    def refresh(self) -> set[str]:
        """Compare every file's stat with what was indexed; re-read what changed. Returns changed paths."""
        cat = self._cat
        files, cat.scan_warnings = scan_vault(self.root)
        changed = {p for p in cat.stat if p not in files}
        for path in changed:
            cat.remove_file(path)
        now = time.time_ns()
        for path, stat in files.items():
            if cat.stat.get(path) != stat or path in cat.racy:
                if cat.reread(path, now):
                    changed.add(path)
        cat.resolver.forget()
        return changed

    def save(self, min_interval: float = 0.0) -> None:
        """Write the cache to <vault>/.vaultzoe/ atomically, when something changed (and `min_interval` s passed)."""
        # the cache only saves work (every entry is checked against the file's stat), so a daemon may
        # save at most every few seconds instead of after every edit
        if not self._cat.dirty and cache_path(self.root).exists():
            return
        if min_interval and time.monotonic() - self._saved_at < min_interval:
            return
        warning = write_cache(self.root, self._cat.tables())
        if warning is not None:
            self._cat.scan_warnings.append(warning)
            return
        self._cat.dirty = False
        self._saved_at = time.monotonic()

    # ------------------------------------------------------------ notes

    def note(self, path: str) -> Note | None:
        """The parsed note at a vault-relative path (case-insensitive), or None."""
        rel = self._known(path)
        if rel is None or not is_note(rel):
            return None
        return self._materialize(rel)

    def _known(self, path: str) -> str | None:
        try:
            rel = _relative(self.root, path)
        except PathOutsideVault:
            return None
        if rel is None:
            return None
        return rel if rel in self._cat.records else self._cat.lower.get(fold(rel))

    def _materialize(self, rel: str) -> Note | None:
        """Read the file and wrap its record; re-parse first when the file changed since indexing."""
        cat = self._cat
        try:
            data, stat = read_file(os.path.join(self.root, rel), str(self.root))
        except OSError:
            self.update(rel)
            return None
        text, warnings = decode_note(data)
        if stat != cat.stat.get(rel) or rel in cat.racy or rel not in cat.records:
            changed = cat.track(rel, stat, time.time_ns(), data)
            record = parse_record(text, headings=False) if changed or rel not in cat.records else None
            if record is not None:
                problems = note_problems(data, text, record, warnings)
                warnings += escaping_links(record, rel)
            if record is not None and not cat.same(rel, record, warnings, problems):
                cat.put(rel, record, warnings, problems)
                return note_from_record(rel, record, text, cat.file_warnings.get(rel, ()))
        return note_from_record(rel, cat.record(rel), text, cat.file_warnings.get(rel, ()))

    def read_text(self, path: str) -> str:
        """The decoded text of a note (BOM dropped), as its Note holds it."""
        note = self.note(path)
        if note is None:
            raise VaultError(f"No note {path!r} in the vault {self.root}: check the path (vault-relative, with .md)")
        return note.text

    def notes(self, folder: str | None = None) -> Iterator[Note]:
        """Every markdown note (or those under `folder`, ignoring case), in path order, each read when reached."""
        prefix = fold(folder.strip("/")) + "/" if folder else ""
        paths = (p for p in self._cat.records if is_note(p) and (not prefix or fold(p).startswith(prefix)))
        for path in sorted(paths):
            note = self._materialize(path)
            if note is not None:
                yield note

    def files(self) -> list[str]:
        """Every file a link can point to (notes, attachments, .canvas, .base), in path order."""
        return sorted(self._cat.stat)

    # ------------------------------------------------------------ links

    def resolve(self, link_target: str, source: str) -> str | None:
        """The vault path a link's file part points to from `source`, as Obsidian resolves it."""
        return self._cat.resolver.resolve(file_part(link_target), source)

    def resolved_links(self, path: str) -> list[tuple[Link, str | None]]:
        """Each link of a note (or canvas) with the vault path it resolves to, or None."""
        rel = self._known(path)
        if rel is None or rel not in self._cat.records:
            return []
        links = self._cat.record(rel)[2]
        return [(Link(*link), target) for link, target in zip(links, self._cat.links.resolved[rel])]

    def backlinks(self, path: str) -> set[str]:
        """Sources with at least one link resolving to `path`."""
        rel = self._known(path) or path
        return set(self._cat.links.backlinks.get(rel, ()))

    def link_counts(self) -> dict[str, dict[str, int]]:
        """source -> {target: occurrences}, like Obsidian's metadataCache.resolvedLinks."""
        return self._cat.links.link_counts()

    def unresolved(self) -> dict[str, dict[str, int]]:
        """source -> {link target as written: occurrences} for links that resolve nowhere (sources with none left out)."""
        return self._cat.links.unresolved(self._cat.record)

    # ------------------------------------------------------------ names, aliases, tags, tasks

    def by_name(self, name: str) -> list[str]:
        """Files whose name (without .md for notes) is `name`, ignoring case."""
        folded = fold(name.rsplit("/", 1)[-1])
        return sorted(self._cat.by_name.get(folded + ".md", []) + self._cat.by_name.get(folded, []))

    def by_alias(self, alias: str) -> list[str]:
        """Notes listing `alias` in their `aliases` property, ignoring case."""
        return sorted(self._cat.aliases.get(fold(alias.strip()), ()))

    def tagged(self, tag: str) -> set[str]:
        """Notes with the tag or a tag nested under it ("#a" matches "#a/b"), ignoring case."""
        key = syntax.tag_key(tag.strip())
        found = set(self._cat.tags.get(key, ()))
        prefix = key + "/"
        for other, paths in self._cat.tags.items():
            if other.startswith(prefix):
                found |= paths
        return found

    def conflicts(self) -> list[str]:
        """Sync-conflict copies (Obsidian Sync, Dropbox, Syncthing, iCloud), in path order."""
        return sorted(self._cat.conflicts())

    def tasks(self) -> list[Note]:
        """Task notes (DESIGN.md rule), leaving out sync-conflict copies, in path order."""
        skip = self._cat.conflicts()
        found = (self._materialize(p) for p in sorted(self._cat.tasks) if p not in skip)
        return [note for note in found if note is not None and note.is_task]

    # ------------------------------------------------------------ reporting

    def warnings(self, path: str | None = None) -> tuple[str, ...]:
        """Warnings for one note, or for the whole vault ("path: message") when no path is given."""
        cat = self._cat
        if path is not None:
            rel = self._known(path)
            parsed = cat.record(rel)[5] if rel in cat.records else ()
            return cat.file_warnings.get(rel, ()) + parsed if rel else ()
        found = list(cat.scan_warnings)
        for rel in sorted(cat.records):
            found.extend(f"{rel}: {w}" for w in cat.file_warnings.get(rel, ()) + cat.record(rel)[5])
        return tuple(found)

    def problems(self) -> list[NoteProblem]:
        """Notes that look like tasks but cannot be read (bad YAML or UTF-8, an unknown status ...), in path order."""
        skip = self._cat.conflicts()
        return [NoteProblem(path, message, line) for path in sorted(self._cat.problems) if path not in skip
                for message, line in self._cat.problems[path]]

    def problems_of(self, path: str) -> list[NoteProblem]:
        """The problems of one note (see `problems`); [] when it has none or is unknown."""
        rel = self._known(path)
        return [NoteProblem(rel, message, line) for message, line in self._cat.problems.get(rel, ())] if rel else []

    def stats(self) -> dict[str, int]:
        """{"notes", "links", "unresolved", "tags", "tasks"} (see the module docstring)."""
        cat = self._cat
        resolved = cat.links.resolved.values()
        return {
            "notes": sum(1 for p in cat.records if is_note(p)),
            "links": sum(len(r) for r in resolved),
            "unresolved": sum(targets.count(None) for targets in resolved),
            "tags": len(cat.tags),
            "tasks": len(cat.tasks - cat.conflicts()),
        }
