"""Pure edits: frontmatter keys and owned blocks keep every byte they do not own."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import re
from dataclasses import dataclass

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vaultzoe.vault.blocks import get_block, replace_block, strip_owned
from vaultzoe.vault.edit import set_frontmatter

TASK = """---
tags: [task]
status: queued          # the human sets draft -> queued; cancelled; queued again to retry
repo: "[[example-app]]" # a repo note
agent: auto             # auto | claude | codex | <agent note name>
priority: normal
# vaultzoe adds: id, attempt, branch, pr, updated
---
# Fix the login

Body text.
"""

_FRONTMATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^---[ \t]*\r?$", re.DOTALL | re.MULTILINE)


def frontmatter_of(text: str) -> dict:
    """The frontmatter as PyYAML reads it ({} when empty)."""
    match = _FRONTMATTER.match(text)
    assert match is not None, text
    return yaml.safe_load(match.group(1)) or {}


def body_of(text: str) -> str:
    """Everything after the frontmatter's closing line."""
    match = _FRONTMATTER.match(text)
    assert match is not None
    rest = text[match.end() :]
    return rest[1:] if rest.startswith("\n") else rest


# ------------------------------------------------------------------------------------- frontmatter: examples


def test_setting_a_key_keeps_its_comment_and_every_other_line():
    result = set_frontmatter(TASK, {"status": "running"})
    assert result == TASK.replace("status: queued", "status: running", 1)


def test_new_keys_go_at_the_end_of_the_frontmatter_in_order():
    result = set_frontmatter(TASK, {"id": "t-7", "attempt": 1, "branch": "zoe/fix-login-t-7"})
    assert result == TASK.replace(
        "# vaultzoe adds: id, attempt, branch, pr, updated\n---",
        "# vaultzoe adds: id, attempt, branch, pr, updated\nid: t-7\nattempt: 1\nbranch: zoe/fix-login-t-7\n---",
    )


def test_link_values_are_quoted_like_obsidian_writes_them():
    result = set_frontmatter(TASK, {"repo": "[[other-app]]"})
    assert 'repo: "[[other-app]]" # a repo note\n' in result
    assert frontmatter_of(result)["repo"] == "[[other-app]]"


def test_removing_a_key_removes_its_line_only():
    result = set_frontmatter(TASK, {"agent": None})
    assert result == TASK.replace("agent: auto             # auto | claude | codex | <agent note name>\n", "")


def test_removing_a_missing_key_changes_nothing():
    assert set_frontmatter(TASK, {"nope": None}) == TASK
    assert set_frontmatter("just a body\n", {"nope": None}) == "just a body\n"


@pytest.mark.parametrize(
    "value",
    ["[[Link]]", "a: b", "#tag", "yes", "No", "null", "~", "true", "2024-01-01", "123", "1.5", "", " lead",
     "trail ", "- item", "? q", "@at", "`tick`", "'single'", '"double"', "{{date}}", "%", "a #b", "end:",
     "line\nbreak", "tab\there", "\u2028", "caf\u00e9\u00a0x", "0x1F", "0o17", "0b101", "1_000", "3e5817", "12:30", "1.", "2024-05-01T10:00:00", ".inf", "<<", "=", "*alias", "&anchor",
     "!tag", "|", ">"],
)
def test_strings_yaml_would_misread_are_double_quoted(value):
    result = set_frontmatter("", {"k": value})
    line = result.split("\n")[1]
    assert line.startswith('k: "'), line
    assert frontmatter_of(result) == {"k": value}


@pytest.mark.parametrize(
    "value",
    ["queued", "Hello world", "https://example.com/a#b", "zoe/fix-login-3", "don't", "émoji 🎉 ok", "_x", "3d6525",
     "2nd try", "42abc"],
)
def test_safe_strings_stay_plain(value):
    assert set_frontmatter("", {"k": value}) == f"---\nk: {value}\n---\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [(True, "true"), (False, "false"), (0, "0"), (-12, "-12"), (1.5, "1.5"), (1e20, "1.0e+20"), (2.5e-07, "2.5e-07"),
     (float("inf"), ".inf"), (float("-inf"), "-.inf"), (dt.date(2024, 5, 1), "2024-05-01"),
     (dt.datetime(2024, 5, 1, 10, 30), "2024-05-01T10:30:00"), ([], "[]"), (["a", "b c", "d,e"], '[a, b c, "d,e"]'),
     ([1, True], "[1, true]")],
)
def test_scalars_and_lists_are_written_minimally(value, written):
    result = set_frontmatter("", {"k": value})
    assert result == f"---\nk: {written}\n---\n"
    assert frontmatter_of(result) == {"k": value}


def test_nan_is_written_as_yaml_nan():
    result = set_frontmatter("", {"k": float("nan")})
    assert result == "---\nk: .nan\n---\n"
    assert math.isnan(frontmatter_of(result)["k"])


def test_enum_members_write_their_value():
    class Status(str, enum.Enum):
        RUNNING = "running"

    class Level(enum.IntEnum):
        HIGH = 3

    assert set_frontmatter("", {"s": Status.RUNNING, "level": Level.HIGH}) == "---\ns: running\nlevel: 3\n---\n"


def test_unsupported_values_raise_a_type_error():
    with pytest.raises(TypeError, match="dict"):
        set_frontmatter("", {"k": {"nested": 1}})
    with pytest.raises(TypeError, match="NoneType"):
        set_frontmatter("", {"k": ["a", None]})


def test_block_lists_stay_block_style_with_their_indent():
    text = "---\naliases:\n  - One\n  - Two\nb: 1\n---\nbody\n"
    assert set_frontmatter(text, {"aliases": ["x", "y: z"]}) == (
        '---\naliases:\n  - x\n  - "y: z"\nb: 1\n---\nbody\n'
    )
    flush = "---\ntags:\n- a\n- b\n---\n"
    assert set_frontmatter(flush, {"tags": ["c"]}) == "---\ntags:\n- c\n---\n"


def test_a_block_list_can_become_a_scalar_and_back_to_flow():
    text = "---\ntags:  # mine\n  - a\n  - b\nz: 0\n---\n"
    scalar = set_frontmatter(text, {"tags": "one"})
    assert scalar == "---\ntags: one  # mine\nz: 0\n---\n"
    assert set_frontmatter(scalar, {"tags": ["p", "q"]}) == "---\ntags: [p, q]  # mine\nz: 0\n---\n"
    assert set_frontmatter(text, {"tags": []}) == "---\ntags: []  # mine\nz: 0\n---\n"


def test_flow_lists_stay_flow_style():
    text = "---\ntags: [task, ui]   # kinds\n---\n"
    assert set_frontmatter(text, {"tags": ["task"]}) == "---\ntags: [task]   # kinds\n---\n"


def test_a_multiline_value_is_replaced_whole():
    text = "---\ndescription: |\n  line one\n\n  line three\nnext: 1\n---\nbody\n"
    assert set_frontmatter(text, {"description": "short"}) == "---\ndescription: short\nnext: 1\n---\nbody\n"
    assert set_frontmatter(text, {"description": None}) == "---\nnext: 1\n---\nbody\n"


def test_blank_lines_and_comments_after_a_value_are_kept():
    text = "---\na:\n  - x\n\n# about b\nb: 2\n---\n"
    assert set_frontmatter(text, {"a": None}) == "---\n\n# about b\nb: 2\n---\n"


def test_crlf_files_stay_crlf():
    text = TASK.replace("\n", "\r\n")
    result = set_frontmatter(text, {"status": "running", "id": "t-1", "aliases": None})
    assert "\n" not in result.replace("\r\n", "")
    assert result == text.replace("status: queued", "status: running").replace(
        "---\r\n# Fix", "id: t-1\r\n---\r\n# Fix"
    )


def test_block_list_items_use_the_files_line_ending():
    text = "---\r\ntags:\r\n  - a\r\n---\r\n"
    assert set_frontmatter(text, {"tags": ["b", "c"]}) == "---\r\ntags:\r\n  - b\r\n  - c\r\n---\r\n"


def test_a_bom_stays_first():
    text = "\ufeff---\nstatus: draft\n---\nbody"
    assert set_frontmatter(text, {"status": "queued"}) == "\ufeff---\nstatus: queued\n---\nbody"


def test_frontmatter_is_created_after_the_bom_when_missing():
    assert set_frontmatter("\ufeffHello\r\nWorld", {"a": "b"}) == "\ufeff---\r\na: b\r\n---\r\nHello\r\nWorld"
    assert set_frontmatter("", {"a": 1}) == "---\na: 1\n---\n"
    assert set_frontmatter("# Title\n", {"a": 1}) == "---\na: 1\n---\n# Title\n"


def test_an_unclosed_dash_line_is_body_not_frontmatter():
    text = "---\nnot: closed\n"
    assert set_frontmatter(text, {"a": 1}) == "---\na: 1\n---\n" + text


def test_empty_frontmatter_and_closing_at_end_of_file():
    assert set_frontmatter("---\n---\nbody", {"a": 1}) == "---\na: 1\n---\nbody"
    assert set_frontmatter("---\nx: 1\n---", {"x": 2}) == "---\nx: 2\n---"


def test_invalid_yaml_is_edited_line_by_line_without_losing_anything():
    text = "---\na: [unclosed\n: junk line\nb: x\n\tweird: tab\nc: 'open\n---\nbody\n"
    result = set_frontmatter(text, {"b": "new", "d": 4})
    assert result == "---\na: [unclosed\n: junk line\nb: new\n\tweird: tab\nc: 'open\nd: 4\n---\nbody\n"


def test_junk_at_column_zero_after_a_scalar_is_not_part_of_the_value():
    text = "---\na: 1\n- stray\nb: 2\n---\n"
    assert set_frontmatter(text, {"a": None}) == "---\n- stray\nb: 2\n---\n"


def test_duplicate_keys_are_all_set():
    text = "---\ns: a\nt: 1\ns: b\n---\n"
    assert set_frontmatter(text, {"s": "c"}) == "---\ns: c\nt: 1\ns: c\n---\n"


def test_quoted_keys_match_their_name_and_odd_new_keys_are_quoted():
    text = "---\n\"my key\": 1\n'it''s': 2\n---\n"
    assert set_frontmatter(text, {"my key": 3, "it's": 4}) == "---\n\"my key\": 3\n'it''s': 4\n---\n"
    result = set_frontmatter("", {"yes": 1, "a: b": 2, "with space": 3})
    assert result == '---\n"yes": 1\n"a: b": 2\nwith space: 3\n---\n'
    assert frontmatter_of(result) == {"yes": 1, "a: b": 2, "with space": 3}


def test_nested_keys_are_never_mistaken_for_top_level_ones():
    text = "---\nparent:\n  status: inner\nstatus: outer\n---\n"
    assert set_frontmatter(text, {"status": "x"}) == "---\nparent:\n  status: inner\nstatus: x\n---\n"


def test_the_body_is_never_touched_even_when_it_looks_like_yaml():
    text = "---\na: 1\n---\nstatus: body\n---\nb: 2\n"
    assert set_frontmatter(text, {"status": "x", "b": None}) == "---\na: 1\nstatus: x\n---\nstatus: body\n---\nb: 2\n"


# ------------------------------------------------------------------------------------- frontmatter: properties

KEYS = st.from_regex(r"[a-z][a-z0-9_]{1,8}", fullmatch=True).filter(lambda k: k not in {"no", "on", "yes", "off"})
WORDS = st.from_regex(r"[A-Za-z][A-Za-z0-9 _./-]{0,12}[A-Za-z0-9]", fullmatch=True).filter(
    lambda w: w.lower() not in {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}
)
SAFE_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0xFFFD, exclude_categories=("Cs", "Zl", "Zp")))


@dataclass(frozen=True)
class Entry:
    """One generated frontmatter entry: the key (None for filler lines) and its exact lines (no newlines)."""

    key: str | None
    lines: tuple[str, ...]


def value_lines(key: str, draw) -> tuple[str, ...]:
    """A key with a value in one of the styles people write."""
    style = draw(st.sampled_from(["plain", "dq", "sq", "flow", "block", "block0", "null", "literal", "int"]))
    word = draw(WORDS)
    comment = draw(st.sampled_from(["", "  # note", " # x: y"]))
    if style == "plain":
        return (f"{key}: {word}{comment}",)
    if style == "dq":
        return (f"{key}: {json.dumps(draw(SAFE_TEXT))}{comment}",)
    if style == "sq":
        return (f"{key}: '{word}''s'{comment}",)
    if style == "flow":
        return (f"{key}: [{word}, {draw(WORDS)}]{comment}",)
    if style in ("block", "block0"):
        indent = "  " if style == "block" else ""
        items = draw(st.lists(WORDS, min_size=1, max_size=3))
        return (f"{key}:{comment}", *(f"{indent}- {item}" for item in items))
    if style == "null":
        return (f"{key}:{comment}",)
    if style == "literal":
        lines = draw(st.lists(WORDS, min_size=1, max_size=3))
        return (f"{key}: |", *(f"  {line}" for line in lines))
    return (f"{key}: {draw(st.integers())}{comment}",)


@st.composite
def documents(draw, valid: bool = True):
    """(entries, newline, bom, body) for a note with frontmatter."""
    keys = draw(st.lists(KEYS, unique=True, max_size=6))
    entries = []
    for key in keys:
        entries.extend(draw(st.lists(st.sampled_from(["", "# comment", "  # indented comment"]), max_size=1)))
        entries.append(Entry(key, value_lines(key, draw)))
    entries = [e if isinstance(e, Entry) else Entry(None, (e,)) for e in entries]
    if not valid:
        junk = draw(st.lists(st.sampled_from([": junk", "a: [open", "\tx: tab", "]]", "'open"]), min_size=1))
        for line in junk:
            entries.insert(draw(st.integers(0, len(entries))), Entry(None, (line,)))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    body = draw(st.text())
    return entries, newline, bom, body


def render(entries, newline: str, bom: str, body: str) -> str:
    inner = "".join(line + newline for entry in entries for line in entry.lines)
    return f"{bom}---{newline}{inner}---{newline}{body}"


VALUES = st.one_of(
    st.none(),
    st.text(),
    WORDS,
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.lists(st.one_of(st.text(), WORDS, st.integers(), st.booleans()), max_size=4),
)


@st.composite
def updates_for(draw, entries):
    existing = [e.key for e in entries if e.key]
    keys = draw(st.lists(st.one_of(st.sampled_from(existing), KEYS) if existing else KEYS, unique=True, max_size=4))
    return {key: draw(VALUES) for key in keys}


@settings(max_examples=300, deadline=None)
@given(st.data(), st.booleans())
def test_edits_touch_only_the_edited_keys(data, valid):
    entries, newline, bom, body = data.draw(documents(valid=valid))
    updates = data.draw(updates_for(entries))
    text = render(entries, newline, bom, body)
    removal = {key: None for key in updates}

    result = set_frontmatter(text, updates)

    kept = [e for e in entries if e.key not in updates]
    assert set_frontmatter(text, removal) == render(kept, newline, bom, body)
    assert set_frontmatter(result, removal) == render(kept, newline, bom, body)
    assert result.startswith(bom + "---" + newline) and body_of(result) == body
    assert set_frontmatter(result, updates) == result
    if valid:
        expected = frontmatter_of(text)
        for key, value in updates.items():
            expected.pop(key, None) if value is None else expected.update({key: value})
        assert frontmatter_of(result) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(), st.dictionaries(KEYS, VALUES.filter(lambda v: v is not None), min_size=1, max_size=3))
def test_a_note_without_frontmatter_gets_one_on_top(text, updates):
    assume(not text.lstrip("\ufeff").startswith("---"))
    result = set_frontmatter(text, updates)
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    assert result.startswith(bom + "---")
    assert result.endswith(text[len(bom) :])
    assert frontmatter_of(result) == updates
    assert set_frontmatter(result, updates) == result


# ------------------------------------------------------------------------------------- owned blocks: examples


def test_get_block_is_none_when_absent():
    assert get_block("text\n", "status") is None


@pytest.mark.parametrize(
    ("text", "joined"),
    [("", ""), ("body", "body\n\n"), ("body\n", "body\n\n"), ("body\n\n", "body\n\n"), ("a\r\nb", "a\r\nb\r\n\r\n")],
)
def test_a_missing_block_is_appended_after_one_blank_line(text, joined):
    newline = "\r\n" if "\r\n" in text else "\n"
    block = f"<!-- vaultzoe:status -->{newline}hello{newline}<!-- /vaultzoe:status -->{newline}"
    assert replace_block(text, "status", "hello") == joined + block


@pytest.mark.parametrize(
    ("text", "expected"),
    [("---\nk: v\n---\n## Goal\nx\n", "---\nk: v\n---\nBLOCK\n## Goal\nx\n"),
     ("---\nk: v\n---\n\nbody\n", "---\nk: v\n---\nBLOCK\nbody\n"),
     ("---\nk: v\n---", "---\nk: v\n---\nBLOCK"), ("", "BLOCK"), ("# H\n", "BLOCK\n# H\n"),
     ("\ufeff---\nk: v\n---\nb", "\ufeff---\nk: v\n---\nBLOCK\nb"), ("\ufeffb\n", "\ufeffBLOCK\nb\n"),
     ("---\nnever closed\n", "---\nnever closed\n\nBLOCK")],         # above it, '---' would turn into a rule
)
def test_a_missing_block_put_first_goes_right_after_the_frontmatter(text, expected):
    block = "<!-- vaultzoe:status -->\nhello\n<!-- /vaultzoe:status -->\n"
    result = replace_block(text, "status", "hello", first=True)
    assert result == expected.replace("BLOCK", block)
    assert replace_block(result, "status", "bye", first=True) == result.replace("hello", "bye")


def test_a_block_put_first_in_crlf_keeps_crlf_and_an_existing_block_stays_where_it_is():
    text = "---\r\nk: v\r\n---\r\n# H\r\n"
    assert replace_block(text, "s", "x", first=True) == (
        "---\r\nk: v\r\n---\r\n<!-- vaultzoe:s -->\r\nx\r\n<!-- /vaultzoe:s -->\r\n\r\n# H\r\n")
    at_end = "---\nk: v\n---\n# H\n\n<!-- vaultzoe:s -->\nold\n<!-- /vaultzoe:s -->\n"
    assert replace_block(at_end, "s", "new", first=True) == at_end.replace("old", "new")


def test_an_existing_block_is_replaced_between_its_markers():
    text = "intro\n<!-- vaultzoe:status -->\nold\nlines\n<!-- /vaultzoe:status -->\noutro\n"
    result = replace_block(text, "status", "> [!info] running\n> attempt 2\n")
    assert result == "intro\n<!-- vaultzoe:status -->\n> [!info] running\n> attempt 2\n<!-- /vaultzoe:status -->\noutro\n"
    assert get_block(result, "status") == "> [!info] running\n> attempt 2\n"
    assert replace_block(result, "status", "> [!info] running\n> attempt 2\n") == result


def test_crlf_blocks_read_as_lf_and_write_as_crlf():
    text = "a\r\n<!-- vaultzoe:s -->\r\nold\r\n<!-- /vaultzoe:s -->\r\n"
    assert get_block(text, "s") == "old\n"
    assert replace_block(text, "s", "new\nlines") == "a\r\n<!-- vaultzoe:s -->\r\nnew\r\nlines\r\n<!-- /vaultzoe:s -->\r\n"


def test_other_blocks_and_orphan_markers_are_left_alone():
    text = (
        "<!-- /vaultzoe:status -->\nstray end marker first\n"
        "<!-- vaultzoe:status -->\nthe human deleted the end marker that followed here\n"
        "<!-- vaultzoe:status -->\nmine\n<!-- /vaultzoe:status -->\n"
        "<!-- vaultzoe:other -->\nkeep\n<!-- /vaultzoe:other -->\n"
    )
    # The first end marker with a start before it pairs with the nearest start: the orphan never swallows text.
    assert get_block(text, "status") == "mine\n"
    assert get_block(text, "other") == "keep\n"
    assert replace_block(text, "status", "new") == text.replace("mine\n", "new\n")
    assert replace_block(text, "other", "changed") == text.replace("keep\n", "changed\n")


def test_empty_content_leaves_the_markers_adjacent():
    result = replace_block("x\n", "s", "")
    assert result == "x\n\n<!-- vaultzoe:s -->\n<!-- /vaultzoe:s -->\n"
    assert get_block(result, "s") == ""


def test_bad_names_and_content_holding_the_markers_are_refused():
    with pytest.raises(ValueError, match="block name"):
        replace_block("", "has space", "x")
    with pytest.raises(ValueError, match="markers"):
        replace_block("", "s", "a\n<!-- /vaultzoe:s -->\nb")


def test_markers_must_stand_on_their_own_line():
    text = "see `<!-- vaultzoe:s -->` and <!-- /vaultzoe:s --> inline\n"
    assert get_block(text, "s") is None


# ------------------------------------------------------------------------------------- owned blocks: properties

LINE_PIECES = st.one_of(
    st.text(st.characters(exclude_characters="\r\n"), max_size=20),
    st.sampled_from(["---", "<!-- vaultzoe:other -->", "<!-- /vaultzoe:other -->", "```", "", "   "]),
)


@st.composite
def surroundings(draw):
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = draw(st.lists(LINE_PIECES, max_size=6))
    return newline, "".join(line + newline for line in lines)


@settings(max_examples=300, deadline=None)
@given(surroundings(), st.lists(LINE_PIECES, max_size=6), st.text(), st.text(max_size=30))
def test_replacing_a_block_changes_only_its_inside(before, after_lines, old, new):
    newline, prefix = before
    suffix = "".join(line + newline for line in after_lines)
    old_inner = "".join(line + newline for line in old.replace("\r", "").split("\n") if "vaultzoe:s " not in line)
    assume("vaultzoe:s" not in new)
    text = f"{prefix}<!-- vaultzoe:s -->{newline}{old_inner}<!-- /vaultzoe:s -->{newline}{suffix}"

    result = replace_block(text, "s", new)

    inner = new.replace("\r\n", "\n").replace("\r", "\n")
    inner = inner + "\n" if inner and not inner.endswith("\n") else inner
    assert result == f"{prefix}<!-- vaultzoe:s -->{newline}{inner.replace(chr(10), newline)}<!-- /vaultzoe:s -->{newline}{suffix}"
    assert get_block(result, "s") == inner
    assert replace_block(result, "s", new) == result


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(max_size=30))
def test_appending_a_block_keeps_the_note_as_its_prefix(text, content):
    assume("vaultzoe:s" not in text + content)
    result = replace_block(text, "s", content)
    assert result.startswith(text)
    assert replace_block(result, "s", content) == result
    assert get_block(result, "s") == get_block(replace_block("", "s", content), "s")


def test_strip_owned_leaves_what_the_human_wrote():
    human = "# Goal\nShip it.\n\n## Feedback\nLooks good.\n"
    owned = replace_block(replace_block(human, "status", "> [!info] running\n"), "attempt", "- 1\n")
    assert strip_owned(owned).rstrip("\n") == human.rstrip("\n")
    assert strip_owned(human) == human
