"""A pass saves every task: the journal must make a save with nothing new cheap (no render, no index update)."""

from __future__ import annotations

from dataclasses import replace

from vaultzoe.tasks import journal as journal_module
from vaultzoe.tasks.journal import Journal
from vaultzoe.tasks.model import Status, TaskState
from vaultzoe.vault.store import VaultStore

NOTE = "---\ntags: [task]\nstatus: queued\nrepo: \"[[app]]\"\n---\n## Goal\nAdd numbers.\n"


def make(tmp_path) -> tuple[Journal, TaskState]:
    (tmp_path / "Tasks").mkdir()
    (tmp_path / "Tasks" / "Add.md").write_text(NOTE, encoding="utf-8")
    state = TaskState(id="abcdef", status=Status.QUEUED, path="Tasks/Add.md", title="Add",
                      waiting="waiting for a free agent slot (4 of max_agents 4 running)", updated="2026-11-29 09:00:00")
    return Journal(VaultStore(tmp_path)), state


def test_a_save_with_nothing_new_touches_no_path(tmp_path):
    journal, state = make(tmp_path)
    journal.task_note(state)
    assert journal.take_touched() == {"Tasks/Add.md"}        # written: the index must learn of it

    journal.task_note(state)
    journal.registry([])
    journal.take_touched()
    journal.task_note(state)
    journal.registry([])

    assert journal.take_touched() == set()                   # nothing written: no index update


def test_an_unchanged_note_and_state_are_rendered_once(tmp_path, monkeypatch):
    journal, state = make(tmp_path)
    calls = []
    real = journal_module.update_task_note
    monkeypatch.setattr(journal_module, "update_task_note", lambda text, s: calls.append(s) or real(text, s))
    journal.task_note(state)        # renders, writes
    journal.task_note(state)        # renders what it wrote once (the text differs from the first read)
    rendered = len(calls)
    for _ in range(5):
        journal.task_note(state)

    assert len(calls) == rendered   # the same text and state: the remembered note, no YAML round trip


def test_a_human_edit_or_a_new_state_is_rendered_again(tmp_path):
    journal, state = make(tmp_path)
    note = tmp_path / "Tasks" / "Add.md"
    journal.task_note(state)
    journal.task_note(state)
    mine = note.read_text(encoding="utf-8")

    note.write_text(mine.replace("vaultzoe: queued", "vaultzoe: whatever").replace("status: queued", "status: ok"),
                    encoding="utf-8")
    journal.task_note(state)
    assert note.read_text(encoding="utf-8") == mine          # vaultzoe's keys and block are put back, as before

    journal.task_note(replace(state, status=Status.RUNNING, waiting=""))
    text = note.read_text(encoding="utf-8")
    assert "status: running" in text and "vaultzoe: running" in text
    assert journal.take_touched() == {"Tasks/Add.md"}


def test_state_the_note_does_not_show_is_no_reason_to_render_again(tmp_path, monkeypatch):
    journal, state = make(tmp_path)
    journal.task_note(state)
    journal.task_note(state)
    calls = []
    real = journal_module.update_task_note
    monkeypatch.setattr(journal_module, "update_task_note", lambda text, s: calls.append(s) or real(text, s))

    journal.task_note(replace(state, note_status="queued", notified="queued:0", cost_usd=0.5))

    assert calls == []
