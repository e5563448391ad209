"""Obsidian's grammar: frontmatter, tags, wiki-links, markdown links, headings, and what hides them (pure).

Everything here works on plain strings and returns plain tuples, so the index can parse thousands of
notes without building objects it may never need. `note.py` turns the tuples into `Note`/`Link`.

What hides tags and links, as Obsidian's metadata cache sees it: fenced code, inline code spans,
HTML comments, HTML blocks and math. `%% comments %%` do NOT hide them (Obsidian indexes them).
Offsets returned by the finders index the masked text, which always has the length of its source.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from functools import lru_cache
from typing import Any, Iterable, Iterator

import yaml

# ---------------------------------------------------------------- frontmatter

_FM_OPEN = re.compile(r"---[ \t]*\r?\n")
_FM_CLOSE = re.compile(r"^---[ \t]*(?:\r?\n|\r?\Z)", re.M)


def split_frontmatter(text: str) -> tuple[str | None, int]:
    """(YAML text or None, offset where the body starts); a BOM must already be stripped."""
    if not text.startswith("---"):
        return None, 0
    opened = _FM_OPEN.match(text)
    if opened is None:
        return None, 0
    closed = _FM_CLOSE.search(text, opened.end())
    if closed is None:
        return None, 0        # Obsidian reads an unclosed block as body text
    return text[opened.end():closed.start()], closed.end()


def opens_frontmatter(text: str) -> bool:
    """Whether text starts with a '---' line (a properties block, closed or not)."""
    return text.startswith("---") and _FM_OPEN.match(text) is not None


# Obsidian reads properties with a YAML 1.2 core schema: `yes`/`on` and dates stay strings.
_YAML_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_YAML_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_YAML_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_YAML_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")

_LoaderBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKey(yaml.YAMLError):
    """A mapping repeats a key (js-yaml, and so Obsidian, rejects the whole block)."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line                  # 0-based, in the frontmatter


class AliasBomb(yaml.YAMLError):
    """Anchors and aliases (&a / *a) that would expand the properties beyond MAX_EXPANDED_VALUES."""


MAX_EXPANDED_VALUES = 100_000             # far above any real frontmatter; a 400-byte alias bomb reaches 10^9


class PropertiesLoader(_LoaderBase):  # type: ignore[misc, valid-type]
    """PyYAML loader that types scalars like Obsidian's YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict = {}


def _int_text(value: str) -> int:
    if value[:2] == "0o":
        return int(value[2:], 8)
    if value[:2] == "0x":
        return int(value[2:], 16)
    return int(value, 10)


def _float_text(value: str) -> float:
    low = value.lower()
    sign = -1.0 if low[:1] == "-" else 1.0
    bare = low.lstrip("+-")
    if bare == ".inf":
        return sign * float("inf")
    if bare == ".nan":
        return float("nan")
    return float(low)


def _construct_int(loader: Any, node: Any) -> int:
    return _int_text(loader.construct_scalar(node))


def _construct_float(loader: Any, node: Any) -> float:
    return _float_text(loader.construct_scalar(node))


def _construct_str(loader: Any, node: Any) -> str:
    return loader.construct_scalar(node)


def _construct_mapping(loader: Any, node: Any) -> Any:
    mapping: dict = {}
    yield mapping
    for key_node, value_node in node.value:
        key = _key_text(loader.construct_object(key_node, deep=True))    # JavaScript keys are strings
        if key in mapping:
            raise DuplicateKey(f"duplicated mapping key {key!r} (note line {key_node.start_mark.line + 2})",
                               key_node.start_mark.line)
        mapping[key] = loader.construct_object(value_node, deep=True)


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", _YAML_BOOL, "tTfF"),
    ("tag:yaml.org,2002:null", _YAML_NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", _YAML_INT, "-+0123456789"),
    ("tag:yaml.org,2002:float", _YAML_FLOAT, "-+.0123456789"),
):
    PropertiesLoader.add_implicit_resolver(_tag, _pattern, list(_first))
PropertiesLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
PropertiesLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
PropertiesLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)
PropertiesLoader.add_constructor("tag:yaml.org,2002:binary", _construct_str)
PropertiesLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def plain_scalar(plain: str) -> Any:
    """Type one plain (unquoted) scalar the way the YAML 1.2 core schema does."""
    first = plain[:1]
    if first and first in "-+.0123456789":
        if _YAML_INT.match(plain):
            return _int_text(plain)
        if _YAML_FLOAT.match(plain):
            return _float_text(plain)
        return plain
    if first in ("t", "T", "f", "F") and _YAML_BOOL.match(plain):
        return plain.lower() == "true"
    if first in ("~", "n", "N", "") and _YAML_NULL.match(plain):
        return None
    return plain


# The fast path reads the common shapes of frontmatter (flat keys; plain, simply quoted and flow-list
# scalars; block lists of those) ~10x faster than libyaml; anything else falls back to PyYAML.
_FAST_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_ .\-/]*?)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_FAST_ITEM = re.compile(r"([ \t]*)-(?:[ \t]+(.*?))?[ \t]*$")
_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_SIMPLE_DQ = re.compile(r'"([^"\\]*)"')
_SIMPLE_SQ = re.compile(r"'([^']*)'")


class _NotSimple(Exception):
    """The frontmatter needs the full YAML parser."""


def _fast_value(raw: str | None) -> Any:
    if not raw:
        return None
    first = raw[0]
    if first == '"':
        m = _SIMPLE_DQ.fullmatch(raw)
        if m is None:
            raise _NotSimple
        return m.group(1)
    if first == "'":
        m = _SIMPLE_SQ.fullmatch(raw)
        if m is None:
            raise _NotSimple
        return m.group(1)
    if first == "[":
        return _fast_flow_list(raw)
    return _fast_plain(raw)


def _fast_plain(raw: str) -> Any:
    if raw[0] in _PLAIN_BAD_START or ": " in raw or " #" in raw or "\t" in raw or raw[-1] == ":":
        raise _NotSimple
    return plain_scalar(raw)


def _fast_flow_list(raw: str) -> list:
    if raw[-1] != "]" or raw.count("[") != 1 or raw.count("]") != 1 or "{" in raw or "}" in raw:
        raise _NotSimple
    inner = raw[1:-1].strip()
    if not inner:
        return []
    items = []
    for part in inner.split(","):
        part = part.strip()
        if not part:
            raise _NotSimple     # "[a,,b]" and trailing commas: let YAML decide
        items.append(_fast_value(part) if part[0] in "\"'" else _fast_plain(part))
    return items


def _fast_yaml(source: str) -> dict:
    """Parse simple frontmatter; raises _NotSimple for anything beyond the common shapes."""
    result: dict = {}
    key: str | None = None           # the last key that had no inline value (may own list items)
    indent: str | None = None        # the indentation of that key's list items
    for line in source.split("\n"):
        if not line or line.isspace() or line.lstrip()[0] == "#":
            continue
        if line[0] in " \t-":
            item = _FAST_ITEM.match(line)
            if item is None or key is None or (indent is not None and item.group(1) != indent):
                raise _NotSimple
            value = item.group(2)
            if value and (value[0] in "[{" or ": " in value or value[-1] == ":"):
                raise _NotSimple
            if indent is None:
                indent = item.group(1)
                result[key] = []
            result[key].append(_fast_value(value))
            continue
        m = _FAST_KEY.match(line)
        if m is None:
            raise _NotSimple
        name, value = m.group(1), m.group(2)
        if name in result or name[-1] in " ./-" or not isinstance(plain_scalar(name), str):
            raise _NotSimple
        result[name] = _fast_value(value)
        key, indent = (name, None) if not value else (None, None)
    return result


def load_properties(source: str) -> tuple[dict[str, Any], str | None]:
    """Frontmatter YAML -> (properties, warning or None); never raises."""
    properties, problem = _parse_properties(source)
    return properties, problem[0] if problem else None


def properties_problem(source: str) -> tuple[str, int | None] | None:
    """Why frontmatter YAML cannot be read, and on which 0-based line of it (None when it can)."""
    return _parse_properties(source)[1]


def _parse_properties(source: str) -> tuple[dict[str, Any], tuple[str, int | None] | None]:
    if "\r" in source:
        source = source.replace("\r\n", "\n")
    try:
        return _fast_yaml(source), None
    except _NotSimple:
        pass
    try:
        data = _load_yaml(source)
    except AliasBomb as exc:
        return {}, (str(exc), None)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        return {}, (f"invalid YAML frontmatter: {_yaml_message(exc)}", _error_line(exc))
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, (f"frontmatter is a {type(data).__name__}, not a set of properties: write `name: value`"
                    " lines between the '---' lines", 0)
    return data, None


def _load_yaml(source: str) -> Any:
    """yaml.load, refusing documents whose aliases expand beyond MAX_EXPANDED_VALUES."""
    loader = PropertiesLoader(source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in source:
            _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: Any) -> None:
    """Count the values the node graph stands for once aliases are expanded; raise AliasBomb past the budget."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > MAX_EXPANDED_VALUES:
                raise AliasBomb(
                    f"frontmatter refused: its aliases (*name) expand to more than {MAX_EXPANDED_VALUES:,} values"
                    " (a YAML alias bomb?): write the values out instead of repeating &anchors")
            continue
        if key in sizes:
            continue
        if key in active:
            raise AliasBomb("frontmatter refused: an alias (*name) refers to the value that holds it, so it never"
                            " ends: remove the recursive &anchor")
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: Any) -> list:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _error_line(exc: BaseException) -> int | None:
    """The 0-based line a YAML error points at, when it says."""
    if isinstance(exc, DuplicateKey):
        return exc.line
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line if mark is not None else None


_YAML_MARK = re.compile(r'in "<unicode string>", line (\d+), column (\d+)')


def _yaml_message(exc: Exception) -> str:
    """A YAML error on one line, its marks counted in note lines (the frontmatter starts on line 2)."""
    text = " ".join(str(exc).split())
    return _YAML_MARK.sub(lambda m: f"(note line {int(m.group(1)) + 1}, column {m.group(2)})", text)[:300]


def _key_text(key: Any) -> str:
    """Property names are strings in Obsidian (JavaScript object keys)."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


# ---------------------------------------------------------------- masking code, comments, math, HTML

_FENCE_LINE = re.compile(r"((?:[ \t]*>)*[ \t]*)(`{3,}|~{3,})([^\n]*)")
_FENCE_MARKS = (re.compile("```"), re.compile("~~~"))
_BLANK_LINE = re.compile(r"\n[ \t]*(?:\n|\Z)")
_HTML_BLOCK_TAGS = (
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|dir|"
    "div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|"
    "legend|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|summary|"
    "table|tbody|td|tfoot|th|thead|title|tr|track|ul")
_HTML_BLOCK = re.compile(
    r" {0,3}<(?:(?P<raw>script|pre|style|textarea)(?=[\s>]|$)"
    r"|/?(?:" + _HTML_BLOCK_TAGS + r")(?=[\s/>]|$)"
    r"|(?P<lone>/?[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s\"'=<>`]+|'[^'\n]*'|\"[^\"\n]*\"))?)*"
    r"\s*/?>[ \t]*$))",
    re.M | re.I)
_HTML_LINE = re.compile(r"\n {0,3}<")
_HTML_RAW_END = re.compile(r"</(?:script|pre|style|textarea)>", re.I)
_DOLLAR = re.compile(r"\$")
_COMMENT_OPEN = re.compile("<!--")
_TICKS = re.compile("``*")       # a literal first character keeps the scan fast
_INLINE_MATH = re.compile(r"\$(?=[^\s$])(?:[^$\\\n]|\\.)*?[^\s\\$]\$(?![0-9])")

# Scanning note: CPython's regex engine is fast only when a pattern starts with a literal (or a small
# character class); the finders below search for such a literal and check the context around it.


def mask(text: str) -> str:
    """`text` with code, HTML comments, HTML blocks and math blanked to spaces (newlines kept)."""
    ticks = "`" in text
    if (ticks and "```" in text) or ("~~~" in text):
        text = _blank(text, _fence_spans(text))
    comments = "<" in text
    if comments:
        text = _blank(text, _html_block_spans(text))
    if ticks or "$" in text or (comments and "<!--" in text):
        text = _blank(text, _inline_spans(text))
    return text


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts = []
    pos = 0
    for start, end in spans:
        if start < pos:
            start = pos
        if end <= start:
            continue
        parts.append(text[pos:start])
        chunk = text[start:end]
        parts.append("\n".join(" " * len(line) for line in chunk.split("\n")) if "\n" in chunk else " " * len(chunk))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _fence_lines(text: str) -> list[re.Match]:
    """Lines that open or close a code fence ("```" or "~~~" after indentation or '>' markers)."""
    starts = sorted({start for marks in _FENCE_MARKS for start in _marked_line_starts(text, marks)})
    found = []
    for start in starts:
        m = _FENCE_LINE.match(text, start)
        if m is not None and (m.end() == len(text) or text[m.end()] == "\n"):
            found.append(m)
    return found


def _marked_line_starts(text: str, marks: re.Pattern) -> Iterator[int]:
    """The start of each line holding a match, each line once (a line of 10^6 backticks is one line)."""
    line_end = -1
    for m in marks.finditer(text):
        pos = m.start()
        if pos <= line_end:
            continue              # the rest of a line already seen: no scan back over it
        yield text.rfind("\n", line_end + 1, pos) + 1 or line_end + 1
        line_end = text.find("\n", pos)
        if line_end < 0:
            return


def _fence_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    opener: re.Match | None = None
    for m in _fence_lines(text):
        fence, info = m.group(2), m.group(3)
        if opener is None:
            if fence[0] == "`" and "`" in info:
                continue          # "```a`b" is inline code, not a fence
            opener = m
            continue
        open_fence = opener.group(2)
        if fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not info.strip():
            spans.append((opener.start(), m.end()))
            opener = None
    if opener is not None:
        spans.append((opener.start(), len(text)))
    return spans


def _html_block_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    starts = [m.start() + 1 for m in _HTML_LINE.finditer(text)]
    if text[:4].lstrip(" ")[:1] == "<":
        starts.insert(0, 0)
    for start in starts:
        if spans and start < spans[-1][1]:
            continue
        m = _HTML_BLOCK.match(text, start)
        if m is None or (m.group("lone") is not None and not _after_blank_line(text, start)):
            continue              # a lone tag cannot interrupt a paragraph
        if m.group("raw"):
            close = _HTML_RAW_END.search(text, start)
            end = text.find("\n", close.end()) if close else -1
            end = len(text) if end < 0 else end
        else:
            blank = _BLANK_LINE.search(text, start)
            end = blank.start() if blank else len(text)
        spans.append((start, end))
    return spans


def _after_blank_line(text: str, line_start: int) -> bool:
    if line_start == 0:
        return True
    prev_start = text.rfind("\n", 0, line_start - 1) + 1
    return not text[prev_start:line_start - 1].strip()


def _escaped(text: str, pos: int) -> bool:
    """Whether the character at pos follows an odd number of backslashes."""
    run = 0
    while pos - run > 0 and text[pos - run - 1] == "\\":
        run += 1
    return run % 2 == 1


class _Scan:
    """What the inline scan has learnt about the text, so no later mark scans the same stretch again."""

    def __init__(self, text: str, marks: list[tuple[int, int]]):
        self.text = text
        self.marks = marks
        self._by_width: dict[int, list[int]] | None = None
        self._blank_lines: list[int] | None = None
        self._found: dict[str, tuple[int, int]] = {}  # needle -> (searched from, first hit or -1)

    def next_run(self, i: int) -> int | None:
        """The index of the next backtick run as wide as run i, if any."""
        marks = self.marks
        start, end = marks[i]
        width = end - start
        for j in range(i + 1, min(i + 9, len(marks))):          # most code spans close at once
            if marks[j][1] - marks[j][0] == width and marks[j][1] >= 0:
                return j
        if self._by_width is None:
            self._by_width = {}
            for k, (run_start, run_end) in enumerate(marks):
                if run_end >= 0:
                    self._by_width.setdefault(run_end - run_start, []).append(k)
        same = self._by_width[width]
        k = bisect_right(same, i)
        return same[k] if k < len(same) else None

    def blank_line_between(self, start: int, end: int) -> bool:
        """Whether a blank line lies wholly inside text[start:end]."""
        if end - start < _NEAR_TEXT:
            return self.text.find("\n", start, end - 1) >= 0 and _BLANK_LINE.search(self.text, start, end) is not None
        if self._blank_lines is None:
            self._blank_lines = [m.start() for m in _BLANK_AHEAD.finditer(self.text)]
        i = bisect_right(self._blank_lines, start - 1)
        if i == len(self._blank_lines):
            return False
        after = self.text.find("\n", self._blank_lines[i] + 1)    # where that blank line ends
        return 0 <= after < end

    def find(self, needle: str, start: int) -> int:
        """text.find(needle, start), remembering the answer for later starts (they only grow)."""
        known = self._found.get(needle)
        if known is not None and known[0] <= start and (known[1] < 0 or known[1] >= start):
            return known[1]
        hit = self.text.find(needle, start)
        self._found[needle] = (start, hit)
        return hit


_BLANK_AHEAD = re.compile(r"\n(?=[ \t]*(?:\n|\Z))")
_NEAR_TEXT = 2048                     # shorter stretches are searched directly


def _inline_spans(text: str) -> list[tuple[int, int]]:
    """Code spans, HTML comments and math, whichever opens first winning (as in CommonMark)."""
    marks = [(m.start(), m.end()) for m in _TICKS.finditer(text)] if "`" in text else []
    if "$" in text:
        marks += [(m.start(), -1) for m in _DOLLAR.finditer(text)]
    if "<!--" in text:
        marks += [(m.start(), -2) for m in _COMMENT_OPEN.finditer(text)]
    if len(marks) > 1:
        marks.sort()
    scan = _Scan(text, marks)
    spans = []
    pos = 0
    for i, (start, end) in enumerate(marks):
        if start < pos:
            continue
        if end >= 0:
            close = _code_span_close(scan, marks, i)
        elif end == -1:
            close = _math_end(scan, start)
        else:
            close = _comment_end(scan, start)
        if close is not None:
            spans.append((start, close))
            pos = close
    return spans


def _code_span_close(scan: _Scan, marks: list[tuple[int, int]], i: int) -> int | None:
    """End of the code span opened by backtick run i: the next run of the same width in the paragraph."""
    start, end = marks[i]
    if _escaped(scan.text, start):
        return None
    j = scan.next_run(i)
    if j is None:
        return None
    close_start, close_end = marks[j]
    if scan.blank_line_between(end, close_start + 1):
        return None
    return close_end


def _math_end(scan: _Scan, start: int) -> int | None:
    text = scan.text
    if _escaped(text, start) or (start > 0 and text[start - 1] == "$"):
        return None
    if text.startswith("$$", start):
        close = scan.find("$$", start + 2)
        return close + 2 if close >= 0 else None
    m = _INLINE_MATH.match(text, start)
    return m.end() if m else None


def _comment_end(scan: _Scan, start: int) -> int | None:
    close = scan.find("-->", start + 4)
    if close >= 0:
        return close + 3
    return len(scan.text) if start == 0 or scan.text[start - 1] == "\n" else None   # an HTML block runs to the end


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
    """The `tags` property as Obsidian's parseFrontMatterTags gives it: ["#a", "#b/c"]."""
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
_MD_OPEN = re.compile(r"\]\(")
_MD_DEST = re.compile(                 # "unrolled" so the common plain destination costs one loop
    r"\([ \t]*(?:<([^<>\n]*)>|([^\s()\\]+(?:(?:\\.|\((?:[^\s()\\]|\\.)*\))[^\s()\\]*)*"
    r"|(?:\\.|\((?:[^\s()\\]|\\.)*\))(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*))"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*\)")
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
    closes = [m.start() for m in _MD_OPEN.finditer(masked)]
    for close, open_ in zip(closes, _text_starts(masked, closes)):
        if open_ is None or (skip and _inside(skip, open_)):
            continue
        dest = _MD_DEST.match(masked, close + 1)
        if dest is None:
            continue
        link = markdown_destination(dest.group(1) if dest.group(1) is not None else dest.group(2))
        if link is None:
            continue
        embed = open_ > 0 and masked[open_ - 1] == "!"
        found.append((open_ - embed, dest.end(), embed, link, masked[open_ + 1:close]))
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


def in_list_items(text: str, offsets: list[int]) -> list[bool]:
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
