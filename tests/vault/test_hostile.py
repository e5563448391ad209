"""Hostile note text: parsing stays (near) linear, and YAML alias bombs are refused.

Each case parses its input at two sizes, 4x apart, and asserts the time ratio stays well below the
16x a quadratic parse shows (the old code took 18-78 s on these inputs at a few tens of KB).
"""

from __future__ import annotations

import re
import time
import tracemalloc
from typing import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultzoe.vault import syntax
from vaultzoe.vault.note import parse_note, parse_record


def _seconds(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        parse_record(text)
        best = min(best, time.perf_counter() - start)
    return best


def assert_near_linear(make: Callable[[int], str], n: int) -> None:
    """Parsing make(8n) takes well under 64x (quadratic) the time of make(n), and under two seconds.

    8x the input keeps linear (8x) and quadratic (64x) far apart, so a busy machine's noise (a slow
    measurement of the small input) cannot pass for either: the threshold sits at 24x."""
    small, large = _seconds(make(n)), _seconds(make(8 * n))
    assert large < 2.0, f"{large:.2f} s for {len(make(8 * n))} characters"
    assert large / max(small, 2e-3) < 24, f"{small:.4f} s -> {large:.4f} s for 8x the input: not linear"


HOSTILE = {      # name: (input of size n, n); 4n is tens to hundreds of KB
    "escaped link brackets": (lambda n: "[" + "\\](x" * n, 5_000),          # 18 s at 40 KB before
    "#task lines under a list item": (lambda n: "- item\n" + "  #task\n" * n, 5_000),  # 35 s at 10k lines
    "one line of backticks": (lambda n: "`" * n, 600_000),                  # 12 s at 2.4 MB before
    "one line of fence marks and text": (lambda n: "```a" * n, 10_000),
    "blank run in a heading": (lambda n: "# a" + " " * n + "b", 10_000),     # regex backtracking
    "comment openers without a close": (lambda n: "a<!--" * n, 10_000),
    "unclosed brackets before many links": (lambda n: "[" + "](" * n, 10_000),
    "unclosed code spans of many widths":
        (lambda n: "".join("`" * w + " " for w in range(2, 60)) + "` x " * n, 5_000),
    "code spans of many widths split by blank lines":
        (lambda n: "".join("`" * w + " x\n\n" for w in range(1, 40)) * (n // 100), 2_000),
    "link texts far from their bracket": (lambda n: ("[" + "a" * 300 + "](x) ") * (n // 100), 5_000),
    "many property links": (lambda n: "---\n" + "".join(f"k{i}: '[[x]]'\n" for i in range(n)) + "---\n", 2_000),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_parses_in_near_linear_time(name):
    make, n = HOSTILE[name]
    assert_near_linear(make, n)


def _alias_bomb(levels: int) -> str:
    """Each level repeats the one before nine times: 9**levels copies of a "[[x]]" leaf."""
    lines = ["a0: &a0 [" + ", ".join(['"[[x]]"'] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "---\n" + "\n".join(lines) + "\nstatus: queued\n---\nbody\n"


def test_a_yaml_alias_bomb_is_refused_with_a_clear_warning():
    tracemalloc.start()
    start = time.perf_counter()
    try:
        note = parse_note("Bomb.md", _alias_bomb(8))       # ~500 bytes standing for 387 million values
        elapsed, (_, peak) = time.perf_counter() - start, tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5 and peak < 10 * 2**20             # the old parse: 78 s and 3.6 GB
    assert note.frontmatter == {} and note.links == ()
    assert len(note.warnings) == 1 and "alias bomb" in note.warnings[0]
    assert f"{syntax.MAX_EXPANDED_VALUES:,} values" in note.warnings[0]


def test_a_recursive_alias_is_refused():
    props, warning = syntax.load_properties("a: &a [1, *a]\n")
    assert props == {} and "refers to the value that holds it" in warning


def test_aliases_within_the_budget_still_expand():
    props, warning = syntax.load_properties("base: &b [x, y]\ncopy: *b\n")
    assert warning is None and props == {"base": ["x", "y"], "copy": ["x", "y"]}


# ---------------------------------------------------------------- the linear scans read as the plain ones did

def _plain_in_list_item(text: str, pos: int) -> bool:
    """The backward walk the linear pass replaced (quadratic on long lists, so only for small inputs)."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", start)
    line = text[start:] if end < 0 else text[start:end]
    if syntax._LIST_ITEM.match(line):
        return True
    indented, after_blank = line[:1] in (" ", "\t"), False
    while start > 0:
        prev_start = text.rfind("\n", 0, start - 1) + 1
        prev = text[prev_start:start - 1]
        if syntax._LIST_ITEM.match(prev):
            return indented or not after_blank
        if not prev.strip():
            if not indented:
                return False
            after_blank = True
        elif after_blank and prev[:1] not in (" ", "\t"):
            return False
        start = prev_start
    return False


_LINES = st.sampled_from(["- a", "  b", "c", "", "  ", "1. x", "> - q", "\t t", "\u00a0", "-", "  - z", "#task"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, min_size=1, max_size=10), st.data())
def test_list_items_read_as_the_backward_walk_does(lines, data):
    text = "\n".join(lines)
    offsets = sorted(data.draw(st.sets(st.integers(0, len(text)), min_size=1, max_size=6)))
    assert syntax.in_list_items(text, offsets) == [_plain_in_list_item(text, o) for o in offsets]


def _plain_text_start(text: str, close: int) -> int | None:
    """The backward bracket scan the forward pass replaced."""
    line = text.rfind("\n", 0, close) + 1
    depth = 0
    for pos in range(close - 1, line - 1, -1):
        if text[pos] in "[]" and not syntax._escaped(text, pos):
            if text[pos] == "]":
                depth += 1
                if depth > 1:
                    return None
            elif depth == 0:
                return pos
            else:
                depth -= 1
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["[", "]", "](", "\\", "a", "a" * 300, "\n", "[a]", "(x)"]), max_size=25))
def test_link_text_starts_read_as_the_backward_scan_does(parts):
    text = "".join(parts)
    closes = [m.start() for m in re.finditer(r"\]\(", text)]
    assert syntax._text_starts(text, closes) == [_plain_text_start(text, c) for c in closes]
