"""VaultIndex.problems(): every note that looks like a task but cannot be read is reported, with a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaultzoe.tasks.model import Status
from vaultzoe.vault.index import VaultIndex
from vaultzoe.vault.note import TASK_STATUSES, NoteProblem, looks_like_task

from .conftest import write

BOMB = ("---\nstatus: queued\na0: &a0 [\"[[x]]\", \"[[x]]\", \"[[x]]\", \"[[x]]\", \"[[x]]\", \"[[x]]\"]\n"
        + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)) + "---\n")


def _only(index: VaultIndex, path: str) -> NoteProblem:
    found = [p for p in index.problems() if p.path == path]
    assert len(found) == 1, index.problems()
    return found[0]


def test_the_statuses_are_vaultzoes():
    assert TASK_STATUSES == tuple(status.value for status in Status)


def test_invalid_yaml_in_a_queued_note_is_reported_with_its_line(vault: Path):
    write(vault, "Fix login.md", "---\nstatus: queued\ntags: [task\nrepo: app\n---\nGoal\n")
    problem = _only(VaultIndex.open(vault, cache=False), "Fix login.md")
    assert problem.message.startswith("invalid YAML frontmatter") and "fix the YAML" in problem.message
    assert problem.line == 4                          # where the parser gave up
    assert "note line 3" in problem.message         # the flow list opened on the note's line 3


def test_a_duplicated_key_names_its_line(vault: Path):
    write(vault, "Dup.md", "---\ntags: [task]\nstatus: queued\nstatus: done\n---\n")
    problem = _only(VaultIndex.open(vault, cache=False), "Dup.md")
    assert "duplicated mapping key 'status'" in problem.message and problem.line == 4


def test_bytes_that_are_not_utf8_are_reported_with_their_line(vault: Path):
    write(vault, "Latin.md", "---\nstatus: queued\n---\nline three\ncaf\u00e9 #task\n".encode("latin-1"))
    problem = _only(VaultIndex.open(vault, cache=False), "Latin.md")
    assert "not valid UTF-8 (byte 37)" in problem.message and "save the note as UTF-8" in problem.message
    assert problem.line == 5


def test_binary_content_in_a_task_note_is_reported(vault: Path):
    write(vault, "Bin.md", b"---\nstatus: queued\n\x00---\n")
    problem = _only(VaultIndex.open(vault, cache=False), "Bin.md")
    assert "NUL bytes" in problem.message and problem.line == 3


@pytest.mark.parametrize("text, words, line", [
    ("---\n- status: queued\n- tags: task\n---\n", "not a set of properties", 2),
    (BOMB, "alias bomb", 1),
    ("---\nstatus: queued\ntags: task\nGoal: no closing line\n", "never closed", 1),
    ("---\ntags: task\nid: 7\nstatus: queud\n---\n", "status 'queud' is not one vaultzoe knows", 4),
    ("---\nstatus: Done \n---\n#task\n", None, None),            # Status.parse tolerates case and spaces
    ("---\ntitle: [broken\n---\nno task here\n", None, None),    # broken, but nothing says task
    ("---\nstatus: published\n---\nA blog post\n", None, None),  # a status, but no task
])
def test_each_kind_of_unreadable_task(vault: Path, text, words, line):
    write(vault, "Note.md", text)
    found = VaultIndex.open(vault, cache=False).problems()
    if words is None:
        assert found == []
    else:
        assert len(found) == 1 and words in found[0].message and found[0].line == line


def test_problems_follow_edits_and_survive_the_cache(vault: Path):
    write(vault, "T.md", "---\nstatus: queued\ntags: [task\n---\n", old=True)
    write(vault, "Other.md", "#task fine", old=True)
    index = VaultIndex.open(vault)
    assert [p.path for p in index.problems()] == ["T.md"]
    index.save()
    cached = VaultIndex.open(vault)
    assert cached.problems() == index.problems() and cached.problems_of("t.md") == index.problems()
    write(vault, "T.md", "---\nstatus: queued\ntags: [task]\n---\n")
    index.update("T.md")
    assert index.problems() == [] and index.problems_of("T.md") == []
    write(vault, "T.md", "---\nstatus: queud\ntags: [task]\n---\n")
    assert index.refresh() == {"T.md"} and "queud" in _only(index, "T.md").message
    (vault / "T.md").unlink()
    index.update("T.md")
    assert index.problems() == []


def test_a_problem_appears_when_only_the_raw_text_says_task(vault: Path):
    write(vault, "N.md", "---\ntitle: [x\nowner: me\n---\n", old=True)
    index = VaultIndex.open(vault, cache=False)
    assert index.problems() == []
    write(vault, "N.md", "---\ntitle: [x\nstatus: queued\n---\n", old=True)    # same parse, same warning
    index.update("N.md")
    assert [p.path for p in index.problems()] == ["N.md"]


def test_a_problem_is_found_when_a_note_is_read_before_a_refresh(vault: Path):
    write(vault, "T.md", "#task all good", old=True)
    index = VaultIndex.open(vault, cache=False)
    write(vault, "T.md", "---\nstatus: queued\ntags: [task\n---\n")
    assert index.note("T.md") is not None and [p.path for p in index.problems()] == ["T.md"]


def test_sync_conflict_copies_are_left_out(vault: Path):
    write(vault, "T.md", "#task")
    write(vault, "T (conflicted copy 2024-01-01).md", "---\nstatus: queued\ntags: [task\n---\n")
    assert VaultIndex.open(vault, cache=False).problems() == []


def test_looks_like_task():
    assert looks_like_task("---\nStatus: queued\n---\n")
    assert looks_like_task("---\ntags:\n  - project\n  - task\n---\n")
    assert looks_like_task("body with #task/bug")
    assert not looks_like_task("---\ntags: [taskforce]\n---\n#tasks are many")


def test_the_note_command_shows_problems(vault: Path):
    from typer.testing import CliRunner

    from vaultzoe.cli import app

    write(vault, "T.md", "---\nstatus: queued\nstatus: done\ntags: [task]\n---\n")
    result = CliRunner().invoke(app, ["note", str(vault), "T.md", "--json"])
    assert result.exit_code == 0, result.output
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 1 and problems[0]["line"] == 3 and "duplicated mapping key" in problems[0]["message"]
    text = CliRunner().invoke(app, ["note", str(vault), "T.md"]).stdout
    assert "problem (line 3): invalid YAML frontmatter" in text


def test_checkbox_tasks_do_not_make_a_broken_note_a_task(vault: Path):
    write(vault, "Journal.md", "---\ntitle: [broken\n---\n- [ ] #task buy milk\n")
    write(vault, "Plan.md", "---\ntitle: [broken\n---\nDo it #task\n")
    assert [p.path for p in VaultIndex.open(vault, cache=False).problems()] == ["Plan.md"]


def test_a_forked_build_finds_the_same_problems(vault: Path):
    import threading

    from vaultzoe.vault.index import PARALLEL_BYTES

    filler = "word " * 3000
    for i in range(PARALLEL_BYTES // len(filler) + 20):
        broken = i % 25 == 0
        write(vault, f"N{i}.md", f"---\nstatus: {'queued' if broken else 'draft'}\ntags: [task{'' if broken else ']'}\n"
              f"---\n{filler}", old=True)
    forked = VaultIndex.open(vault, cache=False).problems()
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)          # a second thread: the index must not fork now
    helper.start()
    try:
        serial = VaultIndex.open(vault, cache=False).problems()
    finally:
        stop.set()
        helper.join()
    assert len(forked) == PARALLEL_BYTES // len(filler) // 25 + 1 and forked == serial
