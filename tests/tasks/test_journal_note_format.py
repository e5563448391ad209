"""How vaultzoe's writes look in Obsidian: timestamps as Date & time properties, the status callout above the
template's headings (pure renderers, parsed back with vaultzoe's own reader and with PyYAML)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from vaultzoe.tasks.journal import AttemptRecord, attempt_frontmatter, render_attempt, update_task_note
from vaultzoe.tasks.model import Attempt, Status, TaskState
from vaultzoe.vault.blocks import get_block
from vaultzoe.vault.note import parse_note

TEMPLATE = Path(__file__).resolve().parents[2] / "vaultzoe" / "template" / "Tasks" / "Example task.md"


def _state(**kw) -> TaskState:
    return TaskState(id="abcdef", status=Status.QUEUED, path="Tasks/Add.md", title="Add",
                     updated="2026-11-29 08:02:24", **kw)


def _frontmatter(text: str) -> dict:
    return yaml.safe_load(text.split("---", 2)[1])


def test_updated_is_written_as_obsidian_writes_date_and_time():
    text = update_task_note("---\ntags: [task]\nstatus: queued\n---\n## Goal\nAdd.\n", _state())
    assert "\nupdated: 2026-11-29T08:02:24\n" in text                   # unquoted: Obsidian's Date & time
    assert parse_note("Tasks/Add.md", text).frontmatter["updated"] == "2026-11-29T08:02:24"
    assert _frontmatter(text)["updated"] == dt.datetime(2026, 11, 29, 8, 2, 24)
    again = update_task_note(text, _state())
    assert again == text                                                  # reading it back changes nothing


def test_attempt_started_and_ended_are_date_and_time_and_text_that_is_no_time_stays_text():
    attempt = Attempt(number=1, agent="claude", model=None, run_dir="r", note="Zoe/Attempts/abcdef attempt 1.md",
                      started="2026-11-29 08:02:24", ended="2026-11-29 08:10:00.123456")
    record = AttemptRecord(state=_state(attempts=(attempt,)), attempt=attempt)
    text = render_attempt("", record)
    assert "\nstarted: 2026-11-29T08:02:24\n" in text and "\nended: 2026-11-29T08:10:00\n" in text
    odd = attempt_frontmatter(AttemptRecord(state=record.state, attempt=Attempt(
        number=1, agent="a", model=None, run_dir="r", note="n.md", started="yesterday")))
    assert odd["started"] == "yesterday" and odd["ended"] is None


def test_a_new_status_callout_goes_above_the_templates_headings_and_an_existing_one_stays():
    template = TEMPLATE.read_text(encoding="utf-8")
    text = update_task_note(template, _state())
    note = parse_note("Tasks/Example task.md", text)
    body = note.body
    assert body.startswith("<!-- vaultzoe:status -->\n")
    assert "vaultzoe" not in (note.section("Feedback") or "")            # no longer shown as part of Feedback
    assert body.index("<!-- /vaultzoe:status -->") < body.index("## Goal")

    moved = template + "\n" + "<!-- vaultzoe:status -->\nold\n<!-- /vaultzoe:status -->\n"
    kept = update_task_note(moved, _state())
    assert kept.index("<!-- vaultzoe:status -->") > kept.index("## Feedback")   # where the human has it
    assert "vaultzoe: queued" in (get_block(kept, "status") or "")
