"""Name/alias/path lookup, link resolution, backlinks, tag index; incremental; on-disk cache.

API CONTRACT (fixed; other modules build on it):

    VaultIndex.open(root: Path, cache: bool = True) -> VaultIndex
        Builds the index (from <root>/.vaultzoe/index cache when present, re-reading only files whose
        stat changed). Raises VaultError when root is not a directory.
    index.refresh() -> set[str]             rescan stats; re-parse changed/added, drop removed; returns changed paths
    index.update(path: str) -> None         incremental update of one vault-relative path (changed, added or removed)
    index.rename(old: str, new: str) -> None
    index.save() -> None                    write the cache
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
"""

from __future__ import annotations
