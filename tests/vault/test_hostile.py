"""Hostile note text: parsing stays (near) linear, and YAML alias bombs are refused.

Each case parses its input at two sizes, 4x apart, and asserts the time ratio stays well below the
16x a quadratic parse shows (the old code took 18-78 s on these inputs at a few tens of KB).
"""

from __future__ import annotations

import time
from typing import Callable

import pytest

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
    """Parsing make(4n) takes well under 16x (quadratic) the time of make(n), and under a second."""
    small, large = _seconds(make(n)), _seconds(make(4 * n))
    assert large < 1.0, f"{large:.2f} s for {len(make(4 * n))} characters"
    assert large / max(small, 1e-3) < 9, f"{small:.4f} s -> {large:.4f} s for 4x the input: not linear"


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
    start = time.perf_counter()
    note = parse_note("Bomb.md", _alias_bomb(8))           # ~500 bytes standing for 387 million values
    assert time.perf_counter() - start < 0.5
    assert note.frontmatter == {} and note.links == ()
    assert len(note.warnings) == 1 and "alias bomb" in note.warnings[0]
    assert f"{syntax.MAX_EXPANDED_VALUES:,} values" in note.warnings[0]


def test_a_recursive_alias_is_refused():
    props, warning = syntax.load_properties("a: &a [1, *a]\n")
    assert props == {} and "refers to the value that holds it" in warning


def test_aliases_within_the_budget_still_expand():
    props, warning = syntax.load_properties("base: &b [x, y]\ncopy: *b\n")
    assert warning is None and props == {"base": ["x", "y"], "copy": ["x", "y"]}
