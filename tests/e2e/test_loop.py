"""The task loop end to end through the CLI: real git, real processes, real files."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil
import yaml

from vaultzoe.tasks.state import StateStore

from .conftest import git


def only_state(world):
    states = list(StateStore(world.vault).load_all().values())
    assert len(states) == 1, states
    return states[0]


def frontmatter_value(text: str, key: str) -> str:
    data = yaml.safe_load(text.split("---", 2)[1]) or {}
    value = data.get(key)
    return "" if value is None else str(value)


def wait_for(predicate, timeout=30.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def test_queued_task_runs_and_lands_in_review(world):
    note = world.task("Add numbers", mode="good")
    result = world.until_idle()
    assert result.exit_code == 0, result.output
    state = only_state(world)
    assert state.status.value == "review"
    text = note.read_text()
    assert frontmatter_value(text, "status") == "review"
    assert frontmatter_value(text, "id") == state.id
    assert frontmatter_value(text, "branch") == f"zoe/add-numbers-{state.id}"
    assert "<!-- vaultzoe:status -->" in text and "vaultzoe: review" in text
    registry = world.read("Zoe/Registry.md")
    header = next(ln for ln in registry.splitlines() if ln.startswith("| Task"))
    assert [c.strip() for c in header.strip("|").split("|")][:9] == [
        "Task", "Status", "Repo", "Agent", "Attempt", "Branch", "PR", "Checks", "Updated"]
    row = next(ln for ln in registry.splitlines() if "Add numbers" in ln)
    assert "| review |" in row and "| calc |" in row and "| good |" in row
    attempt = world.read(f"Zoe/Attempts/{state.id} attempt 1.md")
    assert "outcome: succeeded" in attempt and "## Prompt" in attempt and "Make `add` add numbers." in attempt
    assert 'task: "[[Tasks/Add numbers]]"' in attempt
    inbox = world.read("Zoe/Inbox.md")
    assert "**review**" in inbox and "[[Tasks/Add numbers" in inbox
    # the branch reached origin, the human's checkout was never touched
    assert state.branch in git(world.origin, "branch", "--list")
    assert git(world.repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert "raise NotImplementedError" in (world.repo / "calc.py").read_text()


def test_failing_first_attempt_is_retried_with_the_evidence(world):
    world.task("Fix add", mode="bad-then-good")
    result = world.until_idle()
    assert result.exit_code == 0, result.output
    state = only_state(world)
    assert state.status.value == "review"
    assert [a.outcome for a in state.attempts] == ["failed", "succeeded"]
    first = (Path(state.attempts[0].run_dir) / "prompt.md").read_text()
    second = (Path(state.attempts[1].run_dir) / "prompt.md").read_text()
    assert "test_add_adds" not in first
    assert "test_add_adds" in second            # the failing check's output reached the retry prompt
    note1 = world.read(f"Zoe/Attempts/{state.id} attempt 1.md")
    assert "outcome: failed" in note1 and "test_add_adds" in note1


def test_max_attempts_exhausted_fails_the_task(world):
    note = world.task("Never works", mode="bad", extra="")
    result = world.until_idle()
    assert result.exit_code == 0, result.output
    state = only_state(world)
    assert state.status.value == "failed"
    assert len(state.attempts) == 3
    assert frontmatter_value(note.read_text(), "status") == "failed"
    assert "**failed**" in world.read("Zoe/Inbox.md")
    assert len(world.starts()) == 3


def test_missing_repo_note_blocks_with_the_fix(world):
    note = world.task("Wrong repo", mode="good")
    note.write_text(note.read_text().replace('"[[calc]]"', '"[[nowhere]]"'))
    world.run_once()
    state = only_state(world)
    assert state.status.value == "blocked"
    assert "Zoe/Repos/nowhere.md" in state.reason
    assert "Zoe/Repos/nowhere.md" in note.read_text()


def test_missing_agent_command_blocks(world):
    (world.vault / "Zoe/Agents/ghost.md").write_text('---\ncommand: ["no-such-agent-binary-xyz", "{prompt_file}"]\n---\n')
    note = world.task("Ghost", mode="ghost")
    world.run_once()
    state = only_state(world)
    assert state.status.value == "blocked"
    assert "no-such-agent-binary-xyz" in note.read_text()


def _pids_alive(pids):
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_cancel_while_running_kills_the_whole_process_group(world):
    note = world.task("Long", mode="sleep")
    world.run_once()
    assert wait_for(lambda: "child" in (world.agent_log.read_text() if world.agent_log.exists() else ""))
    lines = world.agent_log.read_text().split()
    agent_pid, child_pid = int(lines[lines.index("start") + 3]), int(lines[lines.index("child") + 1])
    assert _pids_alive([agent_pid, child_pid]) == [agent_pid, child_pid]
    note.write_text(note.read_text().replace("status: running", "status: cancelled"))
    world.run_once()
    assert wait_for(lambda: not _pids_alive([agent_pid, child_pid]), timeout=20)
    state = only_state(world)
    assert state.status.value == "cancelled"
    assert state.attempts[0].outcome == "cancelled"


def test_restart_mid_run_neither_loses_nor_duplicates_the_agent(world, monkeypatch):
    monkeypatch.setenv("AGENT_SLEEP", "1.5")
    world.task("Slow", mode="sleep")
    world.run_once()                              # vaultzoe starts the agent, then "exits"
    assert only_state(world).status.value == "running"
    result = world.until_idle()                   # a new vaultzoe process picks it up
    assert result.exit_code == 0, result.output
    state = only_state(world)
    assert state.status.value == "review"
    assert len(world.starts()) == 1
    assert len(state.attempts) == 1


def test_agent_that_ended_while_vaultzoe_was_down_is_judged_from_its_record(world, monkeypatch):
    monkeypatch.setenv("AGENT_SLEEP", "0.2")
    world.task("Quick", mode="sleep")
    world.run_once()
    state = only_state(world)
    assert wait_for(lambda: (Path(state.attempts[0].run_dir) / "exit.json").exists(), timeout=30)
    result = world.until_idle()
    assert result.exit_code == 0
    assert only_state(world).status.value == "review"
    assert len(world.starts()) == 1


def test_note_renamed_mid_run_keeps_its_history(world, monkeypatch):
    monkeypatch.setenv("AGENT_SLEEP", "1")
    note = world.task("Before", mode="sleep")
    world.run_once()
    task_id = only_state(world).id
    moved = world.vault / "Elsewhere" / "After.md"
    moved.parent.mkdir()
    note.rename(moved)
    result = world.until_idle()
    assert result.exit_code == 0, result.output
    state = only_state(world)
    assert state.id == task_id and state.path == "Elsewhere/After.md" and state.status.value == "review"
    assert len(state.attempts) == 1
    assert frontmatter_value(moved.read_text(), "status") == "review"
    assert "[[Elsewhere/After" in world.read("Zoe/Registry.md")


def test_human_editing_the_task_note_while_vaultzoe_writes_loses_no_byte(world, monkeypatch):
    monkeypatch.setenv("AGENT_SLEEP", "1")
    note = world.task("Edited", mode="sleep")
    stop = threading.Event()
    typed: list[str] = []

    def human():
        i = 0
        while not stop.is_set():
            line = f"human line {i}\n"
            text = note.read_text()
            head, sep, tail = text.partition("<!-- vaultzoe:status -->")
            note.write_text(head.rstrip("\n") + "\n" + line + ("\n" + sep + tail if sep else ""))
            typed.append(line)
            i += 1
            time.sleep(0.05)

    thread = threading.Thread(target=human)
    thread.start()
    try:
        result = world.until_idle()
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    text = note.read_text()
    missing = [line for line in typed if line not in text]
    # every write of the human's is over (joined) before this read: not one of their lines may be missing
    assert missing == [], missing[:5]
    assert frontmatter_value(text, "status") == "review"


def test_hundred_tasks_respect_max_agents(world, monkeypatch):
    monkeypatch.setenv("AGENT_SLEEP", "30")
    monkeypatch.setenv("VAULTZOE_MAX_AGENTS", "3")
    for i in range(100):
        world.task(f"Task {i:03d}", mode="sleep")
    world.run_once()
    states = list(StateStore(world.vault).load_all().values())
    assert len(states) == 100
    running = [s for s in states if s.status.value == "running"]
    assert len(running) == 3
    queued = [s for s in states if s.status.value == "queued"]
    assert len(queued) == 97 and all("agent slot" in s.waiting for s in queued)
    world.run_once()
    assert sum(1 for s in StateStore(world.vault).load_all().values() if s.status.value == "running") == 3
    for s in running:   # tidy: cancel the three
        (world.vault / s.path).write_text((world.vault / s.path).read_text().replace("status: running", "status: cancelled"))
    world.run_once()


def test_a_task_note_never_queued_is_listed_but_never_started(world):
    note = world.task("Typed by hand", mode="good", status="running")
    before = note.read_bytes()
    result = world.until_idle()
    assert result.exit_code == 0, result.output
    assert world.starts() == []
    assert note.read_bytes() == before                      # not one byte of the human's note changed
    assert "[[Tasks/Typed by hand]] | running |" in world.read("Zoe/Registry.md")
