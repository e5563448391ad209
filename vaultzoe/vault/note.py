"""`Note` parsed from text: frontmatter, tags, links, headings, sections (pure; no disk).

API CONTRACT (fixed; other modules build on it):

    parse_note(path: str, text: str) -> Note
        path is vault-relative, POSIX separators, with extension ("Folder/My note.md").
        Never raises on bad input: invalid YAML -> frontmatter {} + a warning.

    Note fields below. `Link.link` is the link text exactly as Obsidian's metadataCache holds it
    (e.g. "wikilink#heading", "markdownLink.md", "#heading"); `Link.target` is the part before the
    first '#' (the file part, possibly "" for a local heading link), url-decoded for markdown links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Link:
    link: str                 # as Obsidian's metadata has it
    display: str | None       # Obsidian's displayText
    original: str             # the raw source text, e.g. "[[X|alias]]"
    embed: bool = False       # ![[...]] or ![](...)
    key: str | None = None    # frontmatter key for property links, else None
    line: int = 0             # 0-based line in the file (frontmatter links: line of the key)

    @property
    def target(self) -> str:
        """The file part of the link (before the first '#'); "" for a link to a local heading."""
        return self.link.split("#", 1)[0]

    @property
    def subpath(self) -> str:
        """"#Heading", "#^block" or ""."""
        head, sep, rest = self.link.partition("#")
        return sep + rest


@dataclass(frozen=True)
class Heading:
    text: str
    level: int
    line: int


@dataclass(frozen=True)
class Note:
    path: str
    frontmatter: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()          # like Obsidian's getAllTags(): "#tag", frontmatter first, in order, duplicates kept as Obsidian does
    links: tuple[Link, ...] = ()        # body links, embeds and frontmatter links
    headings: tuple[Heading, ...] = ()
    aliases: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    body_start: int = 0                 # character offset where the body starts (after frontmatter)
    is_task: bool = False               # DESIGN.md rule: frontmatter tag task or task/..., or inline #task outside list items
    text: str = ""                      # the full text as parsed

    @property
    def name(self) -> str:
        """The note's basename without extension (what [[links]] use)."""
        base = self.path.rsplit("/", 1)[-1]
        return base[:-3] if base.lower().endswith(".md") else base

    @property
    def body(self) -> str:
        return self.text[self.body_start:]

    def section(self, heading: str) -> str | None:
        """Text under the first heading named `heading` (case-insensitive) up to the next heading of the same or higher level."""
        raise NotImplementedError


def parse_note(path: str, text: str) -> Note:
    raise NotImplementedError
