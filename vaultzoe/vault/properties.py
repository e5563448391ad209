"""Note properties: the frontmatter block and its YAML, read as Obsidian reads them (pure).

Obsidian reads properties with js-yaml's YAML 1.2 core schema, so `yes`/`on` and dates stay strings and a
repeated key rejects the whole block. A fast path reads the common flat shapes; anything else goes to
PyYAML (libyaml when present), whose alias expansion is budgeted (MAX_EXPANDED_VALUES).
"""

from __future__ import annotations

import re
from typing import Any

import yaml



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
