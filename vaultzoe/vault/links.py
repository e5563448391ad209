"""Obsidian's link resolution over the vault's file names, and the link graph it yields.

`Resolver` answers where a link's file part points from a source (the rules are in index.py's
docstring), memoizing what does not depend on the source's folder. `LinkGraph` holds each source's
resolved targets, the backlinks they add up to, and which sources have unresolved links on a name,
so a file that comes or goes re-resolves only the links whose answer may change.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any, Callable, Iterable

from .note import Record

_MISS = object()


# ---------------------------------------------------------------- pure helpers

def fold(text: str) -> str:
    """Case- and normalization-insensitive lookup key (macOS writes NFD names, links are NFC)."""
    return (text if text.isascii() else unicodedata.normalize("NFC", text)).lower()


def name_key(path_or_link: str) -> str:
    """What links and files are matched on: the last path segment, folded, without ".md"."""
    last = fold(path_or_link.rstrip("/").rsplit("/", 1)[-1])
    return last[:-3] if last.endswith(".md") else last


def normalize(path: str) -> str | None:
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


def file_part(link: str) -> str:
    """"X#heading" -> "X"."""
    return link.split("#", 1)[0] if "#" in link else link


def folder_of(path: str) -> str:
    return path.rpartition("/")[0]


def target_counts(targets: tuple) -> tuple[tuple[str, int], ...]:
    """(target, number of links to it) for each resolved target, in first-seen order."""
    return tuple((target, n) for target, n in Counter(targets).items() if target is not None)


def unresolved_keys(record: Record, targets: tuple) -> tuple[str, ...]:
    """The name keys of a source's unresolved links."""
    if None not in targets:
        return ()
    return tuple({name_key(file_part(link[0])) for link, t in zip(record[2], targets) if t is None})


def escaping_links(record: Record, source: str) -> tuple[str, ...]:
    """Warnings for links whose path climbs out of the vault (they stay unresolved, never followed)."""
    folder = folder_of(source)
    found = []
    for link in record[2]:
        target = file_part(link[0]).strip()
        if ".." in target and normalize(folder + "/" + target if folder and target[0] != "/" else target) is None:
            found.append(f"link {link[2]} points outside the vault: left unresolved")
    return tuple(found)


def discard(mapping: dict[str, set[str]], key: str, path: str) -> None:
    """Remove `path` from a key's set, and the key once its set is empty."""
    holders = mapping.get(key)
    if holders is not None:
        holders.discard(path)
        if not holders:
            del mapping[key]


def _depth_order(path: str) -> tuple:
    return path.count("/"), fold(path), path


def _namesakes(candidates: list[str]) -> tuple:
    """The resolution rule for files sharing a name: the source's own folder first, else the shallowest."""
    ranked = sorted(candidates, key=_depth_order)
    by_folder: dict[str, str] = {}
    for path in reversed(ranked):
        by_folder[folder_of(path)] = path
    return ("?", by_folder, ranked[0])


# ---------------------------------------------------------------- resolution

class Resolver:
    """Where a link's file part points from a source, as Obsidian resolves it."""

    def __init__(self, stat: dict[str, Any], lower: dict[str, str], by_name: dict[str, list[str]]):
        # the index's own tables (every file, folded path -> path, folded name -> files), read live
        self._stat, self._lower, self._by_name = stat, lower, by_name
        self._memo: dict[Any, Any] = {}              # target -> rule (see _rule); (folder, target) -> path

    def forget(self) -> None:
        """Drop memoized answers (files came or went)."""
        self._memo.clear()

    def targets(self, links: tuple, source: str) -> tuple:
        """The resolved target of each link of `source` (the memoized cases of `resolve` inlined)."""
        memo = self._memo
        folder = folder_of(source)
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
            append(self.resolve(target, source))
        return tuple(out)

    def resolve(self, target: str, source: str) -> str | None:
        """The file a link's file part (no "#...") points to from `source`, or None."""
        if not target:
            return source if source in self._stat else None
        rule = self._memo.get(target)
        if rule is None:
            rule = self._memo[target] = self._rule(target.strip())
        kind = rule[0]
        if kind == "=":
            return rule[1]
        folder = folder_of(source)
        if kind == "?":
            return rule[1].get(folder, rule[2])
        relative = self._from_folder(folder, target.strip()) if folder or kind == "." else None
        return relative if relative is not None or kind == "." else rule[1]

    def _from_folder(self, folder: str, target: str) -> str | None:
        """`target` taken relative to a folder (memoized: the same relative links recur in a folder)."""
        key = (folder, target)
        found = self._memo.get(key, _MISS)
        if found is _MISS:
            normal = normalize(folder + "/" + target if folder else target)
            found = self._memo[key] = self._exact(normal) if normal else None
        return found

    def _rule(self, target: str) -> tuple:
        """How a link target resolves, as far as that does not depend on the linking note's folder."""
        # ("=", path): the same answer from anywhere; ("?", {folder: path}, path): namesakes, where a
        # file in the source's own folder wins; ("/", path): a path tried relative to the source
        # first; (".",): "./" and "../" paths, relative only
        if not target or "\x00" in target:
            return ("=", None)
        if target[0] == "/":
            normal = normalize(target)
            return ("=", self._exact(normal) if normal else None)
        if target[0] == "." and (target in (".", "..") or target.startswith(("./", "../"))):
            return (".",)
        if "/" not in target:
            candidates = self._named(fold(target))
            if len(candidates) <= 1:
                return ("=", candidates[0] if candidates else None)
            return _namesakes(candidates)
        return ("/", self._resolve_path(target))

    def _resolve_path(self, target: str) -> str | None:
        """A link with folders in it, from the vault root, else the namesake whose path ends with it."""
        normal = normalize(target)
        if not normal:
            return None
        found = self._exact(normal)
        if found is not None:
            return found
        folded = fold(normal)
        wanted = (folded, folded + ".md")
        suffixes = ("/" + folded, "/" + folded + ".md")
        matches = [c for c in self._named(fold(normal.rsplit("/", 1)[-1]))
                   if fold(c) in wanted or fold(c).endswith(suffixes)]
        return min(matches, key=_depth_order) if matches else None

    def _named(self, name: str) -> list[str]:
        """Files a link naming `name` (folded, no folders) can mean: notes first, then exact file names."""
        if name.endswith(".md"):
            return self._by_name.get(name, [])
        return self._by_name.get(name + ".md") or self._by_name.get(name, [])

    def _exact(self, path: str) -> str | None:
        folded = fold(path)
        if folded.endswith(".md"):
            return self._lower.get(folded)
        return self._lower.get(folded + ".md") or self._lower.get(folded)


# ---------------------------------------------------------------- the graph

class LinkGraph:
    """Each source's resolved targets, the backlinks they add up to, and unresolved names."""

    def __init__(self) -> None:
        self.resolved: dict[str, tuple] = {}             # source -> target per link (None: unresolved)
        self.unresolved_by_key: dict[str, set[str]] = {}  # name key -> sources with an unresolved link on it
        self.backlinks: dict[str, dict[str, int]] = {}   # target -> {source: count}

    def link(self, path: str, targets: tuple, keys: tuple[str, ...], counts: tuple | None = None) -> None:
        """Record a source's targets; `counts` ((target, n), ...) when already known, () when merged later."""
        self.resolved[path] = targets
        for key in keys:
            self.unresolved_by_key.setdefault(key, set()).add(path)
        backlinks = self.backlinks
        for target, n in target_counts(targets) if counts is None else counts:
            known = backlinks.get(target)
            if known is None:
                backlinks[target] = {path: n}
            else:
                known[path] = known.get(path, 0) + n

    def unlink(self, path: str, record: Record) -> None:
        """Take back what `link` recorded for a source."""
        targets = self.resolved.get(path, ())
        for key in unresolved_keys(record, targets):
            discard(self.unresolved_by_key, key, path)
        for target in targets:
            if target is None:
                continue
            counts = self.backlinks.get(target)
            if counts is not None and path in counts:
                counts[path] -= 1
                if counts[path] <= 0:
                    del counts[path]
                    if not counts:
                        del self.backlinks[target]

    def merge(self, shares: Iterable[dict[str, dict[str, int]]]) -> None:
        """Add backlinks counted elsewhere ({target: {source: n}}, each share holding other sources)."""
        backlinks = self.backlinks
        for share in shares:
            for target, counts in share.items():
                known = backlinks.get(target)
                if known is None:
                    backlinks[target] = counts
                else:
                    known.update(counts)

    def affected(self, key: str, linked_from: Iterable[str], namesakes: Iterable[str]) -> set[str]:
        """Sources whose links may resolve elsewhere now that a file named `key` came or went."""
        # only two kinds can: unresolved links on that name, and links resolved to a file of that name
        # (a closer or more exact namesake may now win, or the target went away: `linked_from`)
        sources = set(self.unresolved_by_key.get(key, ()))
        sources.update(linked_from)
        for path in namesakes:
            sources.update(self.backlinks.get(path, ()))
        return sources

    def link_counts(self) -> dict[str, dict[str, int]]:
        """source -> {target: occurrences}, like Obsidian's metadataCache.resolvedLinks."""
        counts: dict[str, dict[str, int]] = {}
        for target, sources in self.backlinks.items():
            for source, n in sources.items():
                counts.setdefault(source, {})[target] = n
        return counts

    def unresolved(self, record: Callable[[str], Record]) -> dict[str, dict[str, int]]:
        """source -> {link target as written: occurrences} for links that resolve nowhere."""
        found: dict[str, dict[str, int]] = {}
        for source, targets in self.resolved.items():
            if None not in targets:
                continue
            counts = found.setdefault(source, {})
            for link, target in zip(record(source)[2], targets):
                if target is None:
                    name = link[0].split("#", 1)[0]
                    counts[name] = counts.get(name, 0) + 1
        return found
