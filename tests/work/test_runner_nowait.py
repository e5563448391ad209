"""start_nowait: the supervisor is launched and recorded, and nobody waits for the agent to come up."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from vaultzoe.protocols import RunSpec
from vaultzoe.work.runners import ProcessRunner

PY = sys.executable


@pytest.fixture
def held_python(tmp_path, monkeypatch):
    """The supervisor's interpreter held at the door until the test creates the release file (same pid after exec)."""
    release = tmp_path / "release"
    wrapper = tmp_path / "held-python"
    wrapper.write_text(f'#!/bin/sh\nwhile [ ! -e "{release}" ]; do sleep 0.01; done\nexec "{PY}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(wrapper))     # the one boundary: which interpreter runs supervise.py
    yield release
    release.touch()           # a test that failed early must not leave supervisors waiting at the door


def test_start_nowait_returns_before_the_agent_exists_and_the_run_still_ends_recorded(tmp_path, held_python,
                                                                                       wait_until):
    workdir = tmp_path / "work"
    workdir.mkdir()
    spec = RunSpec(task_id="t1", attempt=1, argv=(PY, "-c", "print('done')"), workdir=workdir,
                   run_dir=tmp_path / "runs" / "t1" / "1")
    runner = ProcessRunner(grace_s=1.0, start_wait_s=60.0)

    began = time.monotonic()
    state = runner.start_nowait(spec)

    assert time.monotonic() - began < 30             # start() would wait up to start_wait_s (60 s) for agent.json
    assert not (spec.run_dir / "agent.json").exists()
    assert state.running and state.started and (spec.run_dir / "supervisor.json").exists()
    assert runner.poll(spec.run_dir).running         # the supervisor alone says the run is on

    held_python.touch()
    done = wait_until(lambda: (lambda s: s if not s.running else None)(runner.poll(spec.run_dir)), what="run to end")
    assert done.exit_code == 0 and (spec.run_dir / "exit.json").exists()
    assert "done" in runner.tail(spec.run_dir)


def test_a_run_stopped_before_its_agent_started_ends_with_an_exit_record(tmp_path, held_python):
    workdir = tmp_path / "work"
    workdir.mkdir()
    spec = RunSpec(task_id="t1", attempt=1, argv=(PY, "-c", "import time; time.sleep(300)"), workdir=workdir,
                   run_dir=tmp_path / "runs" / "t1" / "1")
    runner = ProcessRunner(grace_s=0.5, slack_s=0.5)
    runner.start_nowait(spec)

    stopped = runner.stop(spec.run_dir, "cancelled")    # the supervisor never got going: killed, recorded by us

    assert not stopped.running and stopped.stopped
    assert (spec.run_dir / "exit.json").exists() and not (spec.run_dir / "agent.json").exists()
