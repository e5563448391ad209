"""Lessons in Zoe/Learnings/<kind>.md: a headline, redacted; never the output an attempt's evidence quotes."""

from __future__ import annotations

import base64

from vaultzoe.brain.learnings import Outcome, record
from vaultzoe.vault.blocks import get_block

GH = "ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz12"
DUMP = base64.b64encode(f"HOME=/root\nGITHUB_TOKEN={GH}\n".encode()).decode()


def lesson_block(lesson: str) -> str:
    text = record("# Learnings: general\n", Outcome(task_id="t1", task_path="Tasks/t1.md", attempt=1, agent="a",
                                                   lesson=lesson))
    return get_block(text, "lessons") or ""


def test_a_lesson_keeps_the_headline_not_the_quoted_output():
    block = lesson_block(f"The agent exited with code 1.\n\nLast output:\n{DUMP}\nTraceback: boom")
    assert "The agent exited with code 1." in block and DUMP[:20] not in block and "Traceback" not in block


def test_a_flattened_lesson_loses_the_quoted_output_too():
    block = lesson_block(f"The check `pytest` failed with exit code 1 in the worktree. The end of its output: {DUMP}")
    assert "The check `pytest` failed with exit code 1 in the worktree." in block and DUMP[:20] not in block


def test_a_secret_in_the_headline_is_redacted_whatever_its_encoding():
    assert GH not in lesson_block(f"Pushing failed: https://x:{GH}@github.com/o/r")
    assert DUMP[:20] not in lesson_block(f"The agent reported an error: {DUMP}")
