"""Which notes are private: a `private:` property, a #private tag, or a private folder (pure).

A private note never enters a context pack, a learnings prompt or a remote planner's request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..vault.note import Note

__all__ = ["is_private", "marked_private", "private_folder"]

_TRUE_STRINGS = frozenset({"true", "yes", "y", "on", "1"})


def is_private(note: Note, private_folders: Sequence[str] = ()) -> bool:
    """`private: true` (any case of the name; yes/on/1; or a list holding one), a #private tag (or #private/...),
    or a path under one of private_folders."""
    return (marked_private(note) or private_folder(note.path, private_folders)) is not None


def marked_private(note: Note) -> str | None:
    """Why the note itself says it is private, or None."""
    if _flag_set(_property(note.frontmatter, "private")):
        return "private: true"
    if any(t.lower() == "#private" or t.lower().startswith("#private/") for t in note.tags):
        return "tagged #private"
    return None


def _property(frontmatter: Any, name: str) -> Any:
    """A property by name, ignoring case as Obsidian does (`Private:` is `private:`)."""
    if not isinstance(frontmatter, dict):
        return None
    if name in frontmatter:
        return frontmatter[name]
    return next((v for k, v in frontmatter.items() if isinstance(k, str) and k.strip().lower() == name), None)


def _flag_set(value: Any) -> bool:
    """true, 1, "yes"/"true"/"on", or a list holding one of them (`private: [true]`)."""
    if isinstance(value, (list, tuple)):
        return any(_flag_set(v) for v in value)
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return value is True or (type(value) is int and value == 1)


def private_folder(path: str, private_folders: Sequence[str]) -> str | None:
    """Which private folder holds the path, or None."""
    low = path.lower()
    for folder in private_folders:
        clean = folder.strip().strip("/")
        if clean and low.startswith(clean.lower() + "/"):
            return f"in private folder {clean}/"
    return None

