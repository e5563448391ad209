"""Throughput: nothing in a pass waits on one agent at a time (measured in benchmarks/throughput_bench.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from vaultzoe.daemon import run_until_idle
from vaultzoe.orchestrator import Orchestrator, Parts
from vaultzoe.tasks.state import StateStore

PY = sys.executable


@pytest.fixture
def held_python(tmp_path, monkeypatch):
    """Supervisors held at the door until the test creates the release file (the same pid after exec)."""
    release = tmp_path / "release"
    wrapper = tmp_path / "held-python"
    wrapper.write_text(f'#!/bin/sh\nwhile [ ! -e "{release}" ]; do sleep 0.01; done\nexec "{PY}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(wrapper))     # the one boundary: which interpreter runs supervise.py
    yield release
    release.touch()           # a test that failed early must not leave supervisors waiting at the door


def test_a_pass_starts_its_agents_without_waiting_for_each_to_come_up(world, held_python, monkeypatch):
    monkeypatch.setenv("VAULTZOE_MAX_AGENTS", "2")
    world.task("First", mode="good")
    world.task("Second", mode="good")
    orch = Orchestrator(world.vault, Parts.real(world.vault))     # ProcessRunner() waits up to 10 s in start()

    began = time.monotonic()
    orch.reconcile()
    took = time.monotonic() - began

    states = StateStore(world.vault).load_all().values()
    assert sorted(s.status.value for s in states) == ["running", "running"]
    for state in states:        # recorded before the agent: the attempt and its supervisor, no agent yet
        run_dir = Path(state.current.run_dir)
        assert (run_dir / "supervisor.json").exists() and not (run_dir / "agent.json").exists()
    assert took < 10, f"the pass waited for the agents to come up ({took:.1f} s)"

    held_python.touch()
    result = run_until_idle(orch, timeout=60)
    assert result.idle and result.last.counts.get("review") == 2, result


def test_a_pass_that_moved_tasks_on_is_followed_at_once_and_a_quiet_one_backs_off(world, monkeypatch):
    import vaultzoe.daemon as daemon
    monkeypatch.setenv("VAULTZOE_MAX_AGENTS", "1")
    for name in ("One", "Two", "Three"):
        world.task(name, mode="good")
    orch = Orchestrator(world.vault, Parts.real(world.vault))
    passes: list[dict] = []
    naps: list[tuple[int, float]] = []      # (passes so far, seconds asked for)

    class Clock:                            # the one boundary: the loop's clock, recording each pause
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds: float) -> None:
            naps.append((len(passes), seconds))
            time.sleep(seconds)
    monkeypatch.setattr(daemon, "time", Clock)

    result = run_until_idle(orch, timeout=120, pause=0.5, on_pass=lambda r: passes.append(dict(r.counts)))

    assert result.idle and result.last.counts.get("review") == 3
    counts = [{}] + passes
    previous = 0.5
    for done, seconds in naps:
        moved = counts[done] != counts[done - 1]
        expected = daemon.QUICK_PAUSE if moved else min(previous * 2, 0.5)
        assert seconds == pytest.approx(expected), (done, counts[done - 1], counts[done], naps)
        previous = seconds
    assert naps and naps[0][1] == daemon.QUICK_PAUSE      # the first pass started a task: the next follows at once


def test_a_waiting_task_whose_note_says_it_all_is_not_read_again_but_a_human_edit_is_seen(world, monkeypatch):
    monkeypatch.setenv("VAULTZOE_MAX_AGENTS", "1")
    world.task("Busy", mode="sleep")
    waiting = [world.task(name, mode="good") for name in ("Second", "Third")]
    orch = Orchestrator(world.vault, Parts.real(world.vault))
    reads: list[str] = []
    read = orch.store.read
    monkeypatch.setattr(orch.store, "read", lambda path: reads.append(path) or read(path))   # counts, then reads
    try:
        orch.reconcile()              # Busy starts, the others wait
        orch.reconcile()              # Busy is adopted as running; the waiting notes are checked once more
        reads.clear()
        orch.reconcile()

        assert not [p for p in reads if p.startswith("Tasks/")], reads
        text = waiting[0].read_text(encoding="utf-8")
        assert "Waiting: waiting for a free agent slot" in text

        waiting[0].write_text(text.replace("vaultzoe: queued", "vaultzoe: whatever I like"), encoding="utf-8")
        orch.reconcile()
        assert waiting[0].read_text(encoding="utf-8") == text      # vaultzoe's block is put back, as before
    finally:
        for state in StateStore(world.vault).load_all().values():
            if state.current is not None:
                orch.parts.runner.stop(Path(state.current.run_dir), "test over")
