"""Obsidian's grammar: tags, wiki-links, markdown links, headings, list items (pure).

Everything here works on plain strings and returns plain tuples, so the index can parse thousands of
notes without building objects it may never need. `note.py` turns the tuples into `Note`/`Link`.

What hides tags and links, as Obsidian's metadata cache sees it: fenced code, inline code spans,
HTML comments, HTML blocks and math. `%% comments %%` do NOT hide them (Obsidian indexes them).
Offsets returned by the finders index the masked text, which always has the length of its source.
Properties (frontmatter YAML) live in `properties.py`, the masking in `masking.py`; both are re-exported.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from functools import lru_cache
from typing import Any, Iterable

from .masking import _escaped, mask  # noqa: F401  (re-exported: the grammar's public face)
from .properties import (  # noqa: F401
    MAX_EXPANDED_VALUES, AliasBomb, DuplicateKey, PropertiesLoader, load_properties, opens_frontmatter,
    plain_scalar, properties_problem, split_frontmatter)


# ---------------------------------------------------------------- tags

# Obsidian's own tag character class (app.js): anything but whitespace, ASCII punctuation other than
# - _ /, and the General / Supplemental Punctuation blocks.
TAG_CHARS = r"[^\u2000-\u206F\u2E00-\u2E7F'!\"#$%&()*+,.:;<=>?@^`{|}~\[\]\\\s]"
# A tag starts after whitespace, a line start, an emphasis/highlight/table delimiter, '[' or a backslash
# escape; any other character before '#' ("a#b", "(#b", ".#b") keeps it plain text, as in Obsidian.
_TAG = re.compile("#(" + TAG_CHARS + "+)")
_TAG_AFTER = frozenset("_*~=|[")
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_DIGITS = re.compile(r"[0-9]+")
_FAR = sys.maxsize
_TAG_FULL = re.compile("#?(" + TAG_CHARS + "+)")


def is_tag_name(name: str) -> bool:
    """Whether `name` (with or without '#') is a tag Obsidian would index."""
    m = _TAG_FULL.fullmatch(name)
    return m is not None and not _DIGITS.fullmatch(m.group(1))


def tag_key(tag: str) -> str:
    """A tag's identity: lower-case, without '#' ("#Project/A" -> "project/a")."""
    return tag.lstrip("#").lower()


def _tag_can_start(text: str, pos: int) -> bool:
    if pos == 0:
        return True
    before = text[pos - 1]
    if before.isspace() or before in _TAG_AFTER:
        return True
    return before in _ASCII_PUNCT and pos > 1 and text[pos - 2] == "\\" and not _escaped(text, pos - 1)


def find_tags(masked: str, hidden: list[tuple[int, int]] = ()) -> list[tuple[int, str]]:  # type: ignore[assignment]
    """[(offset, "#tag")] in order; `hidden` are sorted spans (links) where '#' is not a tag."""
    if "#" not in masked:
        return []
    found = []
    chain_end = -1
    can_follow = _TAG_AFTER
    for m in _TAG.finditer(masked):
        start = m.start()
        if start and start != chain_end:
            before = masked[start - 1]
            if not (before.isspace() or before in can_follow or _tag_can_start(masked, start)):
                continue
        chain_end = m.end()       # "#a#b" holds two tags: the second starts where the first ends
        if hidden:
            i = bisect_right(hidden, (start, _FAR)) - 1       # _inside(hidden, start), inlined
            if i >= 0 and hidden[i][1] > start:
                continue
        body = m.group(1)
        if body.isdigit() and body.isascii():
            continue                      # "#123" is no tag (but "_#0_" holds "#0": the match was "0_")
        if start > 0 and masked[start - 1] == "_" and body[-1] == "_":
            body = body.rstrip("_")       # "_#tag_" is the tag inside emphasis
        if body:
            found.append((start, "#" + body))
    return found


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    """Whether pos falls in one of the sorted, non-overlapping spans."""
    i = bisect_right(spans, (pos, _FAR)) - 1
    return i >= 0 and spans[i][1] > pos


_TAG_SEPARATORS = re.compile(r"[,\s]+")
_COMMA = re.compile(",")


def frontmatter_tags(value: Any) -> list[str]:
    """The `tags` property as Obsidian's parseFrontMatterTags gives it: ["#a", "#b/c"].

    A text value is one tag, as Obsidian reads it: `tags: a, b` (or `a b`) gives no tag at all."""
    if isinstance(value, str) and _TAG_SEPARATORS.search(value.strip()):
        return []
    return ["#" + t for t in _property_words(value, split_spaces=True)]


def frontmatter_aliases(value: Any) -> list[str]:
    """The `aliases` property as a list of names (a string is split on commas)."""
    return _property_words(value, split_spaces=False)


def _property_words(value: Any, *, split_spaces: bool) -> list[str]:
    if value is None:
        return []
    raw = value if isinstance(value, list) else [value]
    words: list[str] = []
    for item in raw:
        if item is None or isinstance(item, (dict, list, bool)):
            continue
        text = str(item)
        pieces = (_TAG_SEPARATORS if split_spaces else _COMMA).split(text)
        for piece in pieces:
            piece = piece.strip().lstrip("#") if split_spaces else piece.strip()
            if piece:
                words.append(piece)
    return words


# ---------------------------------------------------------------- links

_WIKILINK = re.compile(r"\[\[([^\[\]\n]+)\]\]")
_MD_DEST = re.compile(                 # "unrolled" so the common plain destination costs one loop
    r"\([ \t]*(?:<([^<>\n]*)>|([^\s()\\]+(?:(?:\\.|\((?:[^\s()\\]|\\.)*\))[^\s()\\]*)*"
    r"|(?:\\.|\((?:[^\s()\\]|\\.)*\))(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*))"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*\)")
# a ']' whose "(destination)" follows: only real links reach Python, so thousands of "](" that lead
# nowhere cost one C-level scan (the lookahead consumes nothing, so overlapping candidates are all seen)
_MD_CLOSE = re.compile(r"\](?=(" + _MD_DEST.pattern + "))")       # group 1: the destination part
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:|//")
_PERCENT_RUN = re.compile(r"%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2})*")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_WHOLE_WIKILINK = re.compile(r"\[\[([^\[\]\n]+)\]\]")

# A found link: (start, end, embed, link text, display text); offsets into the scanned text.
FoundLink = tuple[int, int, bool, str, str]


@lru_cache(maxsize=1 << 16)
def split_wikilink(inner: str) -> tuple[str, str]:
    """"X#h|alias" -> (link, displayText) exactly as Obsidian's metadata cache has them."""
    bar = inner.find("|")
    if bar > 0:
        link = inner[:bar]
        if link.endswith("\\"):
            link = link[:-1]      # "[[X\|alias]]": the pipe escaped inside a table
        return link, inner[bar + 1:]
    return inner, link_display(inner)


def link_display(link: str) -> str:
    """Obsidian's displayText for a link without alias: "X#h#s" -> "X > h > s"."""
    if "#" not in link:
        return link
    return " > ".join(part for part in link.split("#") if part)


def find_wikilinks(masked: str) -> list[FoundLink]:
    """[[X]], [[X|alias]], ![[X]] ... in order."""
    if "[[" not in masked:
        return []
    found = []
    append = found.append
    for m in _WIKILINK.finditer(masked):
        start, end = m.span()
        before = masked[start - 1] if start else ""
        if before == "\\":
            continue              # \[[X]] is literal text
        inner = m.group(1)
        if "|" in inner or "#" in inner:
            link, display = split_wikilink(inner)
        else:
            link = display = inner
        if before == "!":
            append((start - 1, end, True, link, display))
        else:
            append((start, end, False, link, display))
    return found


def find_markdown_links(masked: str, skip: list[tuple[int, int]] = ()) -> list[FoundLink]:  # type: ignore[assignment]
    """[t](dest), [t](<dest>), ![alt](dest) to vault files (URLs left out), in order."""
    if "](" not in masked:
        return []
    found = []
    dests = list(_MD_CLOSE.finditer(masked))
    for dest, open_ in zip(dests, _text_starts(masked, [m.start() for m in dests])):
        if open_ is None or (skip and _inside(skip, open_)):
            continue
        link = markdown_destination(dest.group(2) if dest.group(2) is not None else dest.group(3))
        if link is None:
            continue
        embed = open_ > 0 and masked[open_ - 1] == "!"
        found.append((open_ - embed, dest.end(1), embed, link, masked[open_ + 1:dest.start()]))
    return found


_BRACKET = re.compile(r"[\[\]]")


_NEAR = 256                           # how far back the quick look for a link's '[' goes


def _text_starts(text: str, closes: list[int]) -> list[int | None]:
    """For each sorted "](" offset, the '[' opening its link text, or None.

    Read backwards from the ']' on its line, the text may hold one level of [nested] brackets: an
    unescaped '[' met outside any pair opens it, a second unmatched ']' means there is no link text.
    A plain '[' close by settles most links; the rest take one forward pass over their line."""
    found: list[int | None] = []
    line_end = -1
    opens: dict[int, int | None] = {}
    for close in closes:
        near = max(close - _NEAR, 0)
        open_ = text.rfind("[", near, close)
        if text.rfind("\n", max(open_, near), close) >= 0:
            found.append(None)            # no '[' on the line before the ']'
            continue
        if open_ >= 0 and text.find("]", open_ + 1, close) < 0 and not _escaped(text, open_):
            found.append(open_)
            continue
        if open_ < 0 and near == 0:
            found.append(None)
            continue
        if close > line_end:
            line = text.rfind("\n", line_end + 1, close) + 1 or line_end + 1
            line_end = text.find("\n", close)
            line_end = len(text) if line_end < 0 else line_end
            opens = _line_text_starts(text, line, line_end)
        found.append(opens.get(close))
    return found


def _line_text_starts(text: str, line: int, line_end: int) -> dict[int, int | None]:
    """{offset of each ']' followed by '(': the '[' opening its text or None} for one line."""
    # `depth0` is what a backward scan from here finds with no pending ']', `depth1` with one
    depth0: int | None = None
    depth1: int | None = None
    opens: dict[int, int | None] = {}
    for m in _BRACKET.finditer(text, line, line_end):
        pos = m.start()
        if text[pos] == "[":
            if not _escaped(text, pos):
                depth0, depth1 = pos, depth0
            continue
        if text.startswith("(", pos + 1):
            opens[pos] = depth0
        if not _escaped(text, pos):
            depth0, depth1 = depth1, None
    return opens


@lru_cache(maxsize=1 << 16)          # destinations repeat across a vault (hub notes)
def markdown_destination(dest: str) -> str | None:
    """A markdown link's destination as Obsidian's link text (url-decoded), or None for URLs/empty."""
    dest = dest.strip()
    if not dest or _SCHEME.match(dest):
        return None
    if "\\" in dest:
        dest = _ESCAPED.sub(r"\1", dest)
    if "%" in dest:
        try:
            dest = _PERCENT_RUN.sub(_decode_percent_run, dest)
        except UnicodeDecodeError:
            pass                  # JavaScript's decodeURI throws here; Obsidian keeps the raw text
    return dest


def _decode_percent_run(m: re.Match) -> str:
    return bytes.fromhex(m.group().replace("%", "")).decode("utf-8")


def property_links(properties: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """[(top-level key, key, link, display, original)] for property values that are a quoted "[[link]]"."""
    # keys as Obsidian's frontmatterLinks have them: "key", "key.0" for list items, "key.sub" in maps
    found: list[tuple[str, str, str, str, str]] = []
    for key, value in properties.items():
        _collect_property_links(str(key), str(key), value, found)
    return found


def _collect_property_links(top: str, key: str, value: Any, found: list) -> None:
    if isinstance(value, str):
        if "[[" in value:
            m = _WHOLE_WIKILINK.fullmatch(value.strip())
            if m is not None:
                link, display = split_wikilink(m.group(1))
                found.append((top, key, link, display, m.group()))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _collect_property_links(top, f"{key}.{i}", item, found)
    elif isinstance(value, dict):
        for sub, item in value.items():
            _collect_property_links(top, f"{key}.{sub}", item, found)


# ---------------------------------------------------------------- headings and lists

_ATX = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)([^\n]*)", re.M)
_ATX_LINE = re.compile(r"\n {0,3}#")
_SETEXT = re.compile(r"\n {0,3}(=+|-+)[ \t]*(?=\n|\Z)")
_NOT_PARAGRAPH = re.compile(r" {0,3}(?:[-*+](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|#|>|`{3}|~{3}|\||<)|[ \t]{4}")
_CONTAINER = re.compile(r" {0,3}(?:[-*+](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|>)")
_LIST_ITEM = re.compile(r"[ \t]*(?:>[ \t]?)*[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")

# A found heading: (offset of its line, level, text).
FoundHeading = tuple[int, int, str]


def find_headings(masked: str) -> list[FoundHeading]:
    """ATX (# H) and setext (H + ===/---) headings, in order."""
    found: list[FoundHeading] = []
    if "#" in masked:
        starts = [m.start() + 1 for m in _ATX_LINE.finditer(masked)]
        if masked[:4].lstrip(" ")[:1] == "#":
            starts.insert(0, 0)
        for start in starts:
            m = _ATX.match(masked, start)
            if m is not None:
                found.append((start, len(m.group(1)), _atx_text(m.group(2))))
    setext = list(_setext_headings(masked))
    return sorted(found + setext) if setext else found


def _atx_text(rest: str) -> str:
    """An ATX heading's text from what follows its '#'s: trimmed, without a closing run of '#'s."""
    # string methods, not a regex: "(.*?)([ \t]+#+)?[ \t]*$" backtracks quadratically on long blank runs
    text = rest.strip(" \t")
    bare = text.rstrip("#")
    if bare != text and bare[-1:] in (" ", "\t"):
        return bare.rstrip(" \t")
    return text


def _setext_headings(masked: str) -> Iterable[FoundHeading]:
    for m in _SETEXT.finditer(masked):
        end = m.start()
        first = _paragraph_start(masked, end)
        if first is None:
            continue
        text = "\n".join(line.strip() for line in masked[first:end].split("\n"))
        yield first, 1 if m.group(1)[0] == "=" else 2, text


def _paragraph_start(masked: str, end: int) -> int | None:
    """Start of the paragraph whose last line ends at `end`, or None when that line is no paragraph."""
    start = masked.rfind("\n", 0, end) + 1
    line = masked[start:end]
    if not line.strip() or _NOT_PARAGRAPH.match(line) or _ATX.match(line) or _is_underline(line):
        return None
    while start > 0:
        prev = masked.rfind("\n", 0, start - 1) + 1
        line = masked[prev:start - 1]
        if not line.strip() or _is_underline(line):
            break
        if _CONTAINER.match(line):
            return None           # a lazy continuation of a list item or quote: "---" is a rule there
        if _NOT_PARAGRAPH.match(line):
            break
        start = prev
    return start


def _is_underline(line: str) -> bool:
    body = line.strip()
    return bool(body) and (set(body) <= {"="} or set(body) <= {"-"})


def in_list_item(text: str, pos: int) -> bool:
    """Whether the line holding `pos` belongs to a list item (the item line or its continuation)."""
    return in_list_items(text, [pos])[0]


# the line after each match's "\n" (a literal first character keeps the scan fast)
_ITEM_LINE = re.compile(r"\n(?=[ \t]*(?:>[ \t]?)*[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|\n|\Z))")  # as _LIST_ITEM
_BLANK_LINE_START = re.compile(r"\n(?=[^\S\n]*(?:\n|\Z))")
_UNINDENTED_LINE = re.compile(r"\n(?=[^ \t\n])(?![^\S\n]*(?:\n|\Z))")


def _lines_after(pattern: re.Pattern, text: str, limit: int) -> list[int]:
    """Starts of the lines a "\n"-led lookahead pattern finds before `limit` (a line end), the first included."""
    found = [m.start() + 1 for m in pattern.finditer(text, 0, limit)]
    first = text.find("\n")
    return [0, *found] if pattern.match("\n" + (text if first < 0 else text[:first])) else found


# a line's quote markers ("> ", ">>", "> > "), after its indentation
_QUOTE_MARKERS = re.compile(r"^([ \t]*)((?:>[ \t]?)+)", re.M)


def _unquoted(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    """The text with every line's quote markers removed (a bare '>' line turns blank, quoted text keeps
    its indentation inside the quote), and the offsets moved along."""
    pieces: list[str] = []
    cuts: list[tuple[int, int]] = []           # (offset where a removal ends, characters removed so far)
    last, removed = 0, 0
    for m in _QUOTE_MARKERS.finditer(text):
        pieces.append(text[last:m.start(2)])
        last = m.end(2)
        removed += m.end(2) - m.start(2)
        cuts.append((last, removed))
    pieces.append(text[last:])
    ends = [end for end, _ in cuts]
    moved = []
    for offset in offsets:
        i = bisect_right(ends, offset) - 1
        moved.append(offset - (cuts[i][1] if i >= 0 else 0))
    return "".join(pieces), moved


def in_list_items(text: str, offsets: list[int]) -> list[bool]:
    """`in_list_item` for each of the sorted offsets; inside quotes and callouts as well (a list item there
    ends at a bare '>' line like at a blank line)."""
    if ">" in text and _QUOTE_MARKERS.search(text):
        text, offsets = _unquoted(text, offsets)
    return _in_list_items(text, offsets)


def _in_list_items(text: str, offsets: list[int]) -> list[bool]:
    """`in_list_item` for each of the sorted offsets, from the item, blank and unindented lines found once."""
    # Read backwards from a line, the nearest item line above owns it unless a blank line lies between
    # and the line is not indented, or an unindented line sits above the last blank line between.
    if not offsets:
        return []
    limit = text.find("\n", offsets[-1])                      # no line below the last offset matters
    limit = len(text) if limit < 0 else limit
    items = blanks = unindented = None
    found = []
    line, line_end, is_item = 0, -1, False
    for offset in offsets:
        if offset > line_end:
            line = text.rfind("\n", line_end + 1, offset) + 1 or line_end + 1
            line_end = text.find("\n", offset)
            line_end = len(text) if line_end < 0 else line_end
            is_item = _LIST_ITEM.match(text[line:line_end]) is not None
        if is_item:
            found.append(True)
            continue
        if items is None:
            items = _lines_after(_ITEM_LINE, text, limit)
        i = bisect_right(items, line) - 1
        if i < 0:
            found.append(False)
            continue
        if blanks is None:
            blanks = _lines_after(_BLANK_LINE_START, text, limit)
        j = bisect_right(blanks, line - 1) - 1                 # the last blank line above this one
        if j < 0 or blanks[j] <= items[i]:
            found.append(True)                                 # no blank line since the item
        elif text[line:line + 1] not in (" ", "\t"):
            found.append(False)
        else:
            if unindented is None:
                unindented = _lines_after(_UNINDENTED_LINE, text, limit)
            k = bisect_right(unindented, items[i])
            found.append(k == len(unindented) or unindented[k] >= blanks[j])
    return found
