"""Attempt notes stay small whatever the prompt: they link the run's full prompt instead of copying it."""

from vaultzoe.protocols import Plan
from vaultzoe.tasks.journal import PROMPT_SHOWN_CHARS, AttemptRecord, render_attempt
from vaultzoe.tasks.model import Attempt, Status, TaskState


def record(prompt: str) -> AttemptRecord:
    state = TaskState(id="abcdef", status=Status.RUNNING, path="Tasks/Big.md", title="Big")
    attempt = Attempt(number=1, agent="claude", model=None, run_dir="/v/.vaultzoe/runs/abcdef/1",
                      note="Zoe/Attempts/abcdef attempt 1.md", started="2026-11-29 09:00:00")
    plan = Plan(prompt=prompt, agent="claude", model=None, planner="template", reason="")
    return AttemptRecord(state=state, attempt=attempt, plan=plan)


def test_a_huge_prompt_is_cut_in_the_attempt_note_with_a_pointer_to_the_run():
    text = render_attempt("", record("x" * 10_000_000))
    assert len(text) < PROMPT_SHOWN_CHARS + 5_000
    assert "/v/.vaultzoe/runs/abcdef/1/prompt.md" in text and "10,000,000" in text


def test_a_normal_prompt_is_shown_whole():
    text = render_attempt("", record("Make add add.\n" * 100))
    assert text.count("Make add add.") == 100 and "prompt.md" not in text
