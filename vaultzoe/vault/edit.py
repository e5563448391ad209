"""Pure text edits of a note's frontmatter that keep every byte of the human's (owned blocks: vault/blocks.py).

`set_frontmatter` sets or removes keys (creating the block if none) and leaves order, comments, quoting, CRLF,
BOM and body alone; values are str, int, float, bool, dates and lists of those, quoted only when YAML needs it.
`body_start` says where the body begins.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

BOM = "\ufeff"
_OPENING = re.compile(r"---[ \t]*(\r?\n)")
_CLOSING = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)

# A top-level mapping key at column 0: "double quoted", 'single quoted' or plain, then ':' + blank or EOL.
_KEY = re.compile(
    r"""(?:"(?P<dq>(?:[^"\\\r\n]|\\.)*)"|'(?P<sq>(?:[^'\r\n]|'')*)'"""
    r"""|(?P<plain>[^\s#'"?:,\[\]{}&*!|>%@`-][^\r\n]*?|[-?:][^\s][^\r\n]*?))"""
    r"""[ \t]*:(?=[ \t]|\r?$)""",
    re.MULTILINE,
)
_SEQUENCE_ENTRY = re.compile(r"-(?:[ \t]|\r?$)")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]*")

# YAML 1.1 (PyYAML) and 1.2 (Obsidian) read these plain words as bool/null, never as strings.
_RESERVED_WORDS = frozenset("null ~ true false yes no on off y n".split())
_INDICATORS_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = frozenset(",[]{}")
# Numbers as any YAML reader may see them (js-yaml takes '_' separators, 0b/0o/0x, and '3e5' without a dot).
_NUMBER_LIKE = re.compile(r"[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|0[bBoOxX][0-9a-fA-F_]+")


# --------------------------------------------------------------------------------------------- frontmatter


@dataclass(frozen=True)
class _Region:
    """Where the frontmatter's inner lines lie: text[start:end]."""

    start: int
    end: int
    newline: str


@dataclass(frozen=True)
class _Entry:
    """One top-level key: its key line plus continuation lines, as offsets into the text."""

    key: str
    start: int
    end: int


def set_frontmatter(text: str, updates: Mapping[str, Any]) -> str:
    """Set (or with None remove) top-level frontmatter keys, keeping every other byte."""
    for key, value in updates.items():
        text = _set_key(text, key, value)
    return text


def _set_key(text: str, key: str, value: Any) -> str:
    """Apply one key's update."""
    region = _find_region(text)
    if region is None:
        return text if value is None else _with_new_region(text, key, value)
    entries = [e for e in _entries(text, region) if e.key == key]
    if not entries:
        if value is None:
            return text
        line = _new_key_line(key, value, region.newline)
        return text[: region.end] + line + text[region.end :]
    # Duplicate keys are invalid YAML but happen; setting all of them keeps whichever one a reader picks right.
    for entry in reversed(entries):
        replacement = "" if value is None else _replace_entry(text[entry.start : entry.end], value)
        text = text[: entry.start] + replacement + text[entry.end :]
    return text


def _find_region(text: str) -> _Region | None:
    """Locate the frontmatter block (after an optional BOM), or None."""
    offset = 1 if text.startswith(BOM) else 0
    opening = _OPENING.match(text, offset)
    if opening is None:
        return None
    closing = _CLOSING.search(text, opening.end())
    if closing is None:
        return None
    return _Region(opening.end(), closing.start(), opening.group(1))


def _with_new_region(text: str, key: str, value: Any) -> str:
    """Put a new frontmatter block at the top (after a BOM) holding one key."""
    offset = 1 if text.startswith(BOM) else 0
    newline = newline_of(text)
    block = f"---{newline}{_new_key_line(key, value, newline)}---{newline}"
    return text[:offset] + block + text[offset:]


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) offsets of each line in text[start:end], newline included."""
    spans = []
    while start < end:
        newline = text.find("\n", start, end)
        stop = end if newline == -1 else newline + 1
        spans.append((start, stop))
        start = stop
    return spans


def _entries(text: str, region: _Region) -> list[_Entry]:
    """Every top-level key of the frontmatter with the span of its value."""
    lines = _lines(text, region.start, region.end)
    entries = []
    for index, (start, _) in enumerate(lines):
        match = _KEY.match(text, start)
        if match is None or match.end() > lines[index][1]:
            continue
        opens_block = not _split_after_key(text[match.end() : lines[index][1]])[1]
        last = _last_continuation(text, lines, index, opens_block)
        entries.append(_Entry(_key_name(match), start, lines[last][1]))
    return entries


def _last_continuation(text: str, lines: list[tuple[int, int]], index: int, opens_block: bool) -> int:
    """Index of the last line belonging to the key on line `index`."""
    last, dash_entries = index, opens_block
    for position in range(index + 1, len(lines)):
        line = text[lines[position][0] : lines[position][1]]
        kind = _line_kind(line, dash_entries)
        if kind == "continuation":
            # Once the value is indented, a '- ' at column 0 can no longer be one of its entries.
            dash_entries = dash_entries and line[0] != " "
            last = position
        elif kind != "filler":
            break
    # Blank and comment lines after the value belong to the human, not to the key.
    return last


def _line_kind(line: str, opens_block: bool) -> str:
    """'filler' (blank or comment), 'continuation' (space-indented, or '- ' under `key:`) or 'other'."""
    stripped = line.strip(" \t\r\n")
    if not stripped or stripped.startswith("#"):
        return "filler"
    # YAML indents with spaces only: a line starting with a tab never continues a top-level value.
    if line[0] == " " or (opens_block and _SEQUENCE_ENTRY.match(line)):
        return "continuation"
    return "other"


def _key_name(match: re.Match[str]) -> str:
    """The key as YAML reads it."""
    if match.group("sq") is not None:
        return match.group("sq").replace("''", "'")
    if match.group("dq") is not None:
        loaded = _loads(f'"{match.group("dq")}"')
        return loaded if isinstance(loaded, str) else match.group("dq")
    return match.group("plain")


def _replace_entry(old: str, value: Any) -> str:
    """Rewrite one key's lines with a new value, keeping the key, its spacing and its comment."""
    first_end = old.find("\n") + 1 or len(old)
    key_line = old[:first_end]
    newline = key_line[len(key_line.rstrip("\r\n")) :] or newline_of(old)
    match = _KEY.match(key_line)
    assert match is not None  # _entries only yields lines the key pattern matched
    head = key_line[: match.end()]
    lead, _, comment = _split_after_key(key_line[match.end() :])
    indent = _block_list_indent(old[first_end:])
    if indent is not None and _is_list(value) and value:
        return head + comment + newline + _block_items(value, indent, newline)
    return head + (lead or " ") + _inline(value) + comment + newline


def _split_after_key(after: str) -> tuple[str, str, str]:
    """Split what follows a key's colon into (leading blanks, value, '  # comment' or '')."""
    after = after.rstrip("\r\n")
    value = after.lstrip(" \t")
    lead = after[: len(after) - len(value)]
    if value.startswith("#"):
        return "", "", after
    end = _value_end(value)
    comment = value[end:] if end is not None and re.match(r"[ \t]+#", value[end:]) else ""
    return lead, value[: len(value) - len(comment)].rstrip(" \t"), comment


def _value_end(value: str) -> int | None:
    """Where a one-line YAML value ends (before any comment), or None when it runs past this line."""
    if value.startswith('"'):
        match = re.match(r'"(?:[^"\\]|\\.)*"', value)
        return match.end() if match else None
    if value.startswith("'"):
        match = re.match(r"'(?:[^']|'')*'", value)
        return match.end() if match else None
    if value[:1] in ("[", "{"):
        return _flow_end(value)
    comment = re.search(r"[ \t]+#", value)
    return comment.start() if comment else len(value)


def _flow_end(value: str) -> int | None:
    """End of a flow collection that closes on this line, skipping quoted strings."""
    depth, position = 0, 0
    while position < len(value):
        char = value[position]
        if char in "\"'":
            match = re.match(r'"(?:[^"\\]|\\.)*"' if char == '"' else r"'(?:[^']|'')*'", value[position:])
            if match is None:
                return None
            position += match.end()
            continue
        depth += (char in "[{") - (char in "]}")
        position += 1
        if depth == 0:
            return position
    return None


def _block_list_indent(rest: str) -> str | None:
    """The indent of a block-style list under a key ("" or "  "), or None when it is not one."""
    for line in rest.split("\n"):
        stripped = line.strip(" \t\r")
        if not stripped or stripped.startswith("#"):
            continue
        if _SEQUENCE_ENTRY.match(stripped):
            return line[: len(line) - len(line.lstrip(" \t"))]
        return None
    return None


def _new_key_line(key: str, value: Any, newline: str) -> str:
    """A fresh `key: value` line for a key the frontmatter lacks."""
    return f"{_key_text(key)}: {_inline(value)}{newline}"


def _key_text(key: str) -> str:
    """A new key, plain when YAML reads it back as the same string."""
    plain = _PLAIN_KEY.fullmatch(key) and key == key.strip() and key.lower() not in _RESERVED_WORDS
    if plain and _loads(f"{key}: 0") == {key: 0}:
        return key
    return _double_quoted(key)


def _block_items(items: Sequence[Any], indent: str, newline: str) -> str:
    """Block-style list lines: '  - a'."""
    return "".join(f"{indent}- {_scalar(item, flow=False)}{newline}" for item in items)


# --------------------------------------------------------------------------------------------- values


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _inline(value: Any) -> str:
    """A value on the key's line: a scalar or a flow list."""
    if _is_list(value):
        return "[" + ", ".join(_scalar(item, flow=True) for item in value) + "]"
    return _scalar(value, flow=False)


def _scalar(value: Any, *, flow: bool) -> str:
    """One scalar, as plain YAML when that reads back the same, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        text = str.__str__(value)  # a str enum member writes its value, not "Status.QUEUED"
        return text if _plain_is_safe(text, flow=flow) else _double_quoted(text)
    raise TypeError(
        f"cannot write a {type(value).__name__} into frontmatter: use str, int, float, bool, a date "
        "or a list of those"
    )


def _float(value: float) -> str:
    """A float YAML 1.1 and 1.2 both read back (PyYAML wants a '.' in the mantissa)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, marker, exponent = text.partition("e")
    if marker and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"
    return text


def _plain_is_safe(text: str, *, flow: bool) -> bool:
    """True when `text` written unquoted reads back as the same string in YAML 1.1 and 1.2."""
    if not text or text != text.strip() or not text.isprintable():
        return False
    first = text[0]
    if first in _INDICATORS_FIRST or not (first.isalpha() or first.isdigit() or first in "_/($"):
        return False
    if first.isdigit() and _NUMBER_LIKE.fullmatch(text):
        return False
    if ": " in text or text.endswith(":") or " #" in text or text.lower() in _RESERVED_WORDS:
        return False
    if flow and _FLOW_INDICATORS.intersection(text):
        return False
    return _reads_back(text, flow=flow)


@functools.lru_cache(maxsize=4096)     # pure, and a task's note is rewritten with mostly the same values
def _reads_back(text: str, *, flow: bool) -> bool:
    """Last word goes to the YAML parser itself."""
    document = f"k: [{text}]" if flow else f"k: {text}"
    return _loads(document) == {"k": [text] if flow else text}


def _loads(document: str) -> Any:
    """yaml.safe_load, with None for text YAML rejects."""
    try:
        return yaml.safe_load(document)
    except yaml.YAMLError:
        return None


def _double_quoted(text: str) -> str:
    """A YAML double-quoted scalar; escapes whatever YAML would not keep verbatim."""
    return '"' + "".join(_escape_char(char) for char in text) + '"'


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _escape_char(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if 0x20 <= code <= 0x7E or (code >= 0xA0 and _yaml_printable(code)):
        return char
    if code <= 0xFF:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _yaml_printable(code: int) -> bool:
    """Characters YAML keeps as they are inside quotes (line separators and BOM are not)."""
    if code in (0x2028, 0x2029, 0xFEFF):
        return False
    return code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def body_start(text: str) -> int | None:
    """Where the body's first line starts (after the frontmatter and a BOM); None when the frontmatter is
    opened but never closed (anything put above it would turn it into body text)."""
    region = _find_region(text)
    if region is not None:
        closing = _CLOSING.search(text, region.end)
        assert closing is not None
        return closing.end() + 1 if closing.end() < len(text) else closing.end()
    offset = 1 if text.startswith(BOM) else 0
    return None if _OPENING.match(text, offset) else offset


def newline_of(text: str) -> str:
    """The file's line ending, judged by its first line; LF when it has none."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"
