"""`Note` parsed from text: frontmatter, tags, links, headings, sections (pure; no disk).

    parse_note(path: str, text: str) -> Note
        path is vault-relative, POSIX separators, with extension ("Folder/My note.md").
        Never raises on bad input: invalid YAML -> frontmatter {} + a warning.

    Note fields below. `Link.link` is the link text exactly as Obsidian's metadataCache holds it
    (e.g. "wikilink#heading", "markdownLink.md", "#heading"); `Link.target` is the part before the
    first '#' (the file part, possibly "" for a local heading link), url-decoded for markdown links.

Parsing is split in two so the index can skip building objects: `parse_record(text)` returns plain
tuples (a `Record`, cheap to cache with marshal) and `note_from_record` wraps them in the dataclasses.
A leading BOM is dropped (`Note.text` starts after it); CRLF and lone CR count as line breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import syntax


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
        wanted = heading.strip().lower()
        for i, found in enumerate(self.headings):
            if found.text.strip().lower() != wanted:
                continue
            end_line = next((h.line for h in self.headings[i + 1:] if h.level <= found.level), None)
            return _lines_between(self.text, found.line + _heading_height(self.text, found), end_line)
        return None


# ---------------------------------------------------------------- plain-tuple form

# (link, display, original, embed, key, line)
LinkRecord = tuple[str, str, str, bool, "str | None", int]
# (text, level, line)
HeadingRecord = tuple[str, int, int]
# (frontmatter, tags, links, headings or None when left for later, aliases, warnings, body_start, is_task)
Record = tuple[dict, tuple, tuple, "tuple | None", tuple, tuple, int, bool]

_BOM = "\ufeff"
_TASK_TAG = "task"


def strip_bom(text: str) -> str:
    """Drop a leading byte-order mark (Obsidian never shows it)."""
    return text[1:] if text.startswith(_BOM) else text


def parse_note(path: str, text: str) -> Note:
    """Parse one note's text; never raises."""
    text = strip_bom(text)
    return note_from_record(path, parse_record(text), text)


def note_from_record(path: str, record: Record, text: str, extra_warnings: tuple[str, ...] = ()) -> Note:
    """Wrap a `Record` (from `parse_record(text)`) in a `Note`."""
    frontmatter, tags, links, headings, aliases, warnings, body_start, is_task = record
    if headings is None:
        headings = _headings(text, body_start)
    return Note(
        path=path, frontmatter=frontmatter, tags=tags,
        links=tuple(Link(*link) for link in links),
        headings=tuple(Heading(*h) for h in headings),
        aliases=aliases, warnings=extra_warnings + warnings, body_start=body_start, is_task=is_task, text=text)


def parse_record(text: str, headings: bool = True) -> Record:
    """Parse BOM-free note text into a `Record` of plain tuples (headings=False leaves them None)."""
    # the index's lookups never need headings, so it finds them only when it makes a Note
    fm_text, body_start = syntax.split_frontmatter(text)
    properties: dict[str, Any] = {}
    warnings: tuple[str, ...] = ()
    if fm_text is not None and fm_text.strip():
        properties, problem = syntax.load_properties(fm_text)
        warnings = (problem,) if problem else ()
    fm_tags = syntax.frontmatter_tags(_property(properties, "tags"))
    aliases = tuple(syntax.frontmatter_aliases(_property(properties, "aliases")))
    fm_links = _frontmatter_links(properties, fm_text) if fm_text and "[[" in fm_text else []
    body = text[body_start:]
    first_line = text.count("\n", 0, body_start)
    body_tags, body_links, found_headings, task_inline = _parse_body(body, first_line, headings)
    tags = tuple(fm_tags) + tuple(tag for _, tag in body_tags)
    is_task = task_inline or any(_is_task_tag(t) for t in fm_tags if t[1:2] in _T)
    return (properties, tags, tuple(fm_links) + tuple(body_links),
            tuple(found_headings) if headings else None, aliases, warnings, body_start, is_task)


def _property(properties: dict[str, Any], name: str) -> Any:
    """A property by name, ignoring case (Obsidian treats property names case-insensitively)."""
    if name in properties:
        return properties[name]
    for key, value in properties.items():
        if key.lower() == name:
            return value
    return None


_T = ("t", "T")                      # the only characters whose lower case is "t": a cheap pre-check


def _is_task_tag(tag: str) -> bool:
    key = syntax.tag_key(tag)
    return key == _TASK_TAG or key.startswith(_TASK_TAG + "/")


def _frontmatter_links(properties: dict[str, Any], fm_text: str) -> list[LinkRecord]:
    found = syntax.property_links(properties)
    lines = key_lines(fm_text, {top for top, *_ in found})
    return [(link, display, original, False, key, lines.get(top, 1)) for top, key, link, display, original in found]


_QUOTES = ("'", '"')


def key_lines(fm_text: str, keys: set[str]) -> dict[str, int]:
    """{key: file line (the opening '---' is line 0) of the first line reading `key:`, `'key':` ...}."""
    # one pass over the lines, trying only the text before each ':' (a search per key is quadratic)
    found: dict[str, int] = {}
    longest = max(map(len, keys), default=0) + 2
    for number, line in enumerate(fm_text.split("\n"), start=1):
        colon = line.find(":")
        while colon >= 0:
            head = line[:colon].rstrip(" \t")
            if len(head) > longest:
                break
            for name in _key_candidates(head):
                if name in keys and name not in found:
                    found[name] = number
            colon = line.find(":", colon + 1)
        if len(found) == len(keys):
            break
    return found


def _key_candidates(head: str) -> set[str]:
    """What `['"]?KEY['"]?` can read `head` as: each quote at either end optional."""
    starts = (0, 1) if head[:1] in _QUOTES else (0,)
    ends = (len(head), len(head) - 1) if head[-1:] in _QUOTES else (len(head),)
    return {head[s:e] for s in starts for e in ends if e >= s}


def _parse_body(body: str, first_line: int, headings: bool = True) -> tuple[list, list, list, bool]:
    """(tags with offsets, links, headings, has an inline #task outside list items) of a note body."""
    body = _unix_lines(body)
    masked = syntax.mask(body)
    wikilinks = syntax.find_wikilinks(masked)
    wiki_spans = [(found[0], found[1]) for found in wikilinks]
    mdlinks = syntax.find_markdown_links(masked, wiki_spans)
    if mdlinks:
        hidden = sorted(wiki_spans + [_destination_span(found) for found in mdlinks])
        found_links = sorted(wikilinks + mdlinks) if wikilinks else mdlinks
    else:
        hidden, found_links = wiki_spans, wikilinks
    tags = syntax.find_tags(masked, hidden)
    lines = _lines_at(body, [found[0] for found in found_links], first_line)
    links = [(link, display, body[start:end], embed, None, line)
             for (start, end, embed, link, display), line in zip(found_links, lines)]
    heading_records = _heading_records(body, masked, first_line) if headings else []
    return tags, links, heading_records, _inline_task(body, tags)


def _unix_lines(text: str) -> str:
    """CRLF and lone CR as LF (the same number of line breaks, so line numbers hold)."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _heading_records(body: str, masked: str, first_line: int) -> list[HeadingRecord]:
    found = syntax.find_headings(masked)
    lines = _lines_at(body, [offset for offset, _, _ in found], first_line)
    return [(text, level, line) for (_, level, text), line in zip(found, lines)]


def _headings(text: str, body_start: int) -> list[HeadingRecord]:
    """The headings of a note whose record left them out."""
    body = _unix_lines(text[body_start:])
    return _heading_records(body, syntax.mask(body), text.count("\n", 0, body_start))


def _destination_span(found: syntax.FoundLink) -> tuple[int, int]:
    """The "(dest)" part of a markdown link, where a '#' is never a tag."""
    start, end, embed, _link, display = found
    return start + embed + len(display) + 2, end


def _lines_at(body: str, offsets: list[int], first_line: int) -> list[int]:
    """0-based file lines of sorted offsets, counting newlines once in a single sweep."""
    lines = []
    line, last = first_line, 0
    count = body.count
    for offset in offsets:
        line += count("\n", last, offset)
        last = offset
        lines.append(line)
    return lines


def _inline_task(body: str, tags: list[tuple[int, str]]) -> bool:
    """Whether an inline #task (or #task/...) sits outside every list item."""
    if not tags or "#task" not in "".join([tag for _, tag in tags]).lower():
        return False
    offsets = [offset for offset, tag in tags if tag[1:2] in _T and _is_task_tag(tag)]
    return bool(offsets) and not all(syntax.in_list_items(body, offsets))


# ---------------------------------------------------------------- notes that look like tasks but cannot be read

# vaultzoe's task statuses (tasks/model.py Status; the vault package does not import tasks)
TASK_STATUSES = ("draft", "proposed", "queued", "running", "checking", "review", "done", "failed", "blocked",
                 "cancelled")

# A problem as the index keeps it: (message naming the fix, 1-based line in the file or None)
Problem = tuple[str, "int | None"]


@dataclass(frozen=True)
class NoteProblem:
    """A note that looks like a task but cannot be read as one (shown in the registry, inbox and doctor)."""

    path: str
    message: str
    line: int | None          # 1-based line in the file, None when no one line is at fault


_STATUS_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?['\"]?status['\"]?[ \t]*:", re.M | re.I)
_TAGS_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?['\"]?tags['\"]?[ \t]*:", re.M | re.I)
_TASK_WORD = re.compile(r"(?<![\w/-])#?task(?![\w-])", re.I)
_INLINE_TASK = re.compile(r"#task(?![\w-])", re.I)


def looks_like_task(text: str, record: Record | None = None) -> bool:
    """Whether note text reads like a task even when its properties do not parse: a `status:` line or a
    task tag in the frontmatter text, or an inline #task outside list items (`record`: its parse)."""
    fm_text, _ = syntax.split_frontmatter(text)
    if fm_text is None and syntax.opens_frontmatter(text):
        fm_text = text                                  # never closed: all of it may be meant as properties
    if fm_text and (_STATUS_LINE.search(fm_text) or (_TAGS_LINE.search(fm_text) and _TASK_WORD.search(fm_text))):
        return True
    if record is None:
        if _INLINE_TASK.search(text) is None:
            return False
        record = parse_record(text, headings=False)
    return record[7]                    # "- [ ] #task" checkboxes (Tasks plugin) do not make a task note


def task_problems(text: str, record: Record, bad_byte: tuple[int, int] | None = None) -> tuple[Problem, ...]:
    """Why a note that looks like a task cannot be read as one; () when it can (or is no task).

    `bad_byte` is (byte offset, 1-based line) of the first byte that is not UTF-8."""
    found: list[Problem] = []
    if bad_byte is not None:
        found.append((f"not valid UTF-8 (byte {bad_byte[0]}): vaultzoe cannot read this task; save the note as"
                      " UTF-8 (your editor's encoding setting)", bad_byte[1]))
    fm_text, _ = syntax.split_frontmatter(text)
    if fm_text is None and syntax.opens_frontmatter(text) and (_STATUS_LINE.search(text) or _TAGS_LINE.search(text)):
        found.append(("the properties block opened by '---' is never closed: add a line '---' after the last"
                      " property", 1))
    elif fm_text is not None and record[5]:
        problem = syntax.properties_problem(fm_text)
        if problem is not None:
            message, line = problem
            if message.startswith("invalid YAML"):
                message += ": fix the YAML between the '---' lines"
            found.append((message, line + 2 if line is not None else 1))
    if found:
        return tuple(found) if looks_like_task(text, record) else ()
    status = record[0].get("status")
    if record[7] and status not in (None, "") and str(status).strip().lower() not in TASK_STATUSES:
        line = key_lines(fm_text or "", {"status"}).get("status", 0) + 1
        found.append((f"status {status!r} is not one vaultzoe knows: use one of {', '.join(TASK_STATUSES)}", line))
    return tuple(found)


# ---------------------------------------------------------------- sections

def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts


def _heading_height(text: str, heading: Heading) -> int:
    """Lines a heading takes: 1 for "# H", the paragraph plus its underline for setext headings."""
    starts = _line_starts(text)
    if heading.line >= len(starts):
        return 1
    first = text[starts[heading.line]:starts[heading.line] + 4].lstrip(" ")
    return 1 if first.startswith("#") else heading.text.count("\n") + 2


def _lines_between(text: str, first: int, end: int | None) -> str:
    starts = _line_starts(text)
    start = starts[first] if first < len(starts) else len(text)
    stop = starts[end] if end is not None and end < len(starts) else len(text)
    return text[start:stop] if stop > start else ""
