"""One definition of a one-line text: journal, registry, decide and learnings all shape lines through it."""

from __future__ import annotations

from vaultzoe.brain import learnings
from vaultzoe.tasks import decide, journal, registry
from vaultzoe.text import first_line, one_line


def test_one_line_flattens_whitespace_and_cuts_with_an_ellipsis():
    assert one_line("a\n  b\tc\r\n") == "a b c"
    assert one_line("x" * 10, 5) == "xxxx…" and len(one_line("y" * 500)) == 160
    assert one_line("z " * 200, None) == ("z " * 200).strip()
    assert one_line(42) == "42"


def test_first_line_is_the_first_line_that_is_not_blank():
    assert first_line("\n   \n  FAILED test_x  \nmore") == "FAILED test_x"
    assert first_line("") == "" and first_line("a" * 300, 10) == "a" * 9 + "…"


def test_the_modules_that_shape_lines_share_the_one_definition():
    assert journal.one_line is one_line and decide.first_line is first_line and learnings.one_line is one_line
    assert registry.cell("a |\n b") == "a \\| b"
