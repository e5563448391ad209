"""ProcessRunner with real processes: detached runs, restarts, timeouts, stops, capped logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vaultzoe.errors import RunnerError
from vaultzoe.protocols import RunSpec, RunState
from vaultzoe.work.commands import run_logged
from vaultzoe.work.runners import ProcessRunner, tail

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]
GRANDCHILD = "sleep 300 & echo $! > grandchild.pid; echo started; sleep 300"


def spec_for(tmp_path: Path, argv, attempt: int = 1, **kw) -> RunSpec:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return RunSpec(task_id="t1", attempt=attempt, argv=tuple(argv), workdir=workdir,
                   run_dir=tmp_path / "runs" / "t1" / str(attempt), **kw)


def ended(runner: ProcessRunner, run_dir: Path, wait_until) -> RunState:
    return wait_until(lambda: (lambda s: s if not s.running else None)(runner.poll(run_dir)), what="run to end")


def grandchild_pid(spec: RunSpec, wait_until) -> int:
    text = wait_until(lambda: (spec.workdir / "grandchild.pid").exists()
                      and (spec.workdir / "grandchild.pid").read_text().strip(), what="grandchild pid")
    return int(text)


@pytest.fixture
def runner() -> ProcessRunner:
    return ProcessRunner(grace_s=2.0)


@pytest.fixture(autouse=True)
def _no_leftover_runs(tmp_path):
    """A failing test must not leave its agents running."""
    yield
    for run_dir in (tmp_path / "runs").glob("*/*"):
        ProcessRunner(grace_s=0.5).stop(run_dir, "test cleanup")


def test_run_to_completion_with_output_and_exit_code(runner, tmp_path, wait_until):
    spec = spec_for(tmp_path, [PY, "-c", "import os; print('hello from', os.getcwd()); raise SystemExit(3)"])
    state = runner.start(spec)
    assert state.pid and state.started

    done = ended(runner, spec.run_dir, wait_until)

    assert done.exit_code == 3 and not done.timed_out and not done.stopped
    assert done.ended >= done.started
    assert f"hello from {spec.workdir}" in runner.tail(spec.run_dir)
    assert tail(spec.run_dir) == runner.tail(spec.run_dir)


def test_agent_gets_env_but_argv_json_keeps_only_names_and_stdin_is_closed(runner, tmp_path, wait_until):
    code = ("import os, sys; open('seen', 'w').write(os.environ['API_TOKEN']); "
            "print('secret=' + os.environ['API_TOKEN']); print('stdin=' + repr(sys.stdin.read()))")
    spec = spec_for(tmp_path, [PY, "-c", code], env={"API_TOKEN": "s3cr3t-value"})
    runner.start(spec)
    assert ended(runner, spec.run_dir, wait_until).exit_code == 0

    assert (spec.workdir / "seen").read_text() == "s3cr3t-value"
    assert "secret=[REDACTED]" in runner.tail(spec.run_dir)      # what the runner reads back is redacted
    assert "stdin=''" in runner.tail(spec.run_dir)
    for name in ("argv.json", "supervisor.json", "agent.json", "exit.json"):
        assert "s3cr3t" not in (spec.run_dir / name).read_text()
    assert json.loads((spec.run_dir / "argv.json").read_text())["env_keys"] == ["API_TOKEN"]


def test_run_survives_vaultzoe_exiting_and_a_new_runner_reports_the_exit(tmp_path, wait_until):
    gate = tmp_path / "go"
    code = (f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
            "print('done')\nraise SystemExit(7)")
    spec = spec_for(tmp_path, [PY, "-c", code])
    starter = ("import sys; from pathlib import Path; from vaultzoe.protocols import RunSpec; "
               "from vaultzoe.work.runners import ProcessRunner; "
               f"ProcessRunner().start(RunSpec('t1', 1, {spec.argv!r}, Path({str(spec.workdir)!r}), "
               f"Path({str(spec.run_dir)!r})))")
    subprocess.run([PY, "-c", starter], cwd=ROOT, check=True, timeout=60)   # this "vaultzoe" is gone now

    after_restart = ProcessRunner()
    state = after_restart.poll(spec.run_dir)
    assert state.running and state.pid

    gate.write_text("")
    done = ended(after_restart, spec.run_dir, wait_until)
    assert done.exit_code == 7 and "done" in after_restart.tail(spec.run_dir)


def test_timeout_kills_the_whole_group_including_a_grandchild(runner, tmp_path, wait_until, pid_gone):
    spec = spec_for(tmp_path, ["sh", "-c", GRANDCHILD], timeout_s=1.0)
    runner.start(spec)
    grandchild = grandchild_pid(spec, wait_until)

    done = wait_until(lambda: (lambda s: s if not s.running else None)(ProcessRunner().poll(spec.run_dir)),
                      what="timeout")

    assert done.timed_out and not done.stopped and done.exit_code is not None
    wait_until(lambda: pid_gone(grandchild), what="grandchild to die")
    assert json.loads((spec.run_dir / "exit.json").read_text())["reason"] == "timeout"


def test_stop_kills_the_whole_group(runner, tmp_path, wait_until, pid_gone):
    spec = spec_for(tmp_path, ["sh", "-c", GRANDCHILD])
    state = runner.start(spec)
    grandchild = grandchild_pid(spec, wait_until)

    stopped = ProcessRunner(grace_s=2.0).stop(spec.run_dir, "cancelled")

    assert not stopped.running and stopped.stopped and not stopped.timed_out
    assert pid_gone(state.pid)
    wait_until(lambda: pid_gone(grandchild), what="grandchild to die")
    assert json.loads((spec.run_dir / "exit.json").read_text())["reason"] == "cancelled"
    assert runner.stop(spec.run_dir).stopped   # stopping again changes nothing


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path, wait_until, pid_gone):
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('stubborn', flush=True); "
            "time.sleep(300)")
    spec = spec_for(tmp_path, [PY, "-c", code])
    fast = ProcessRunner(grace_s=0.5)
    state = fast.start(spec)
    wait_until(lambda: "stubborn" in fast.tail(spec.run_dir), what="agent to ignore SIGTERM")

    stopped = fast.stop(spec.run_dir, "steer")

    assert stopped.stopped and stopped.exit_code == 128 + signal.SIGKILL
    assert pid_gone(state.pid)


def test_enforce_timeout_when_the_supervisor_is_gone(tmp_path, wait_until, pid_gone):
    spec = spec_for(tmp_path, ["sh", "-c", GRANDCHILD], timeout_s=3.0)
    runner = ProcessRunner(grace_s=0.5)
    state = runner.start(spec)
    grandchild = grandchild_pid(spec, wait_until)
    supervisor = json.loads((spec.run_dir / "supervisor.json").read_text())["pid"]
    os.kill(supervisor, signal.SIGKILL)          # e.g. the OOM killer took it; the agent lives on
    wait_until(lambda: pid_gone(supervisor), what="supervisor to die")
    assert runner.poll(spec.run_dir).running

    wait_until(lambda: time.time() > state.started + 3.2, what="deadline")
    done = runner.enforce_timeout(spec.run_dir)

    assert not done.running and done.timed_out and not done.stopped
    assert "supervisor was gone" in (spec.run_dir / "exit.json").read_text()
    assert pid_gone(state.pid)
    wait_until(lambda: pid_gone(grandchild), what="grandchild to die")


def test_enforce_timeout_overrides_a_wedged_supervisor(tmp_path, wait_until, pid_gone):
    spec = spec_for(tmp_path, ["sh", "-c", GRANDCHILD], timeout_s=2.0)
    runner = ProcessRunner(grace_s=0.5, slack_s=0.5)
    state = runner.start(spec)
    supervisor = json.loads((spec.run_dir / "supervisor.json").read_text())["pid"]
    os.kill(supervisor, signal.SIGSTOP)          # alive but doing nothing
    grandchild = grandchild_pid(spec, wait_until)

    assert runner.enforce_timeout(spec.run_dir).running               # before the deadline: left alone
    wait_until(lambda: time.time() > state.started + 3.2, what="deadline + grace + slack")
    done = runner.enforce_timeout(spec.run_dir)

    assert not done.running and done.timed_out
    assert pid_gone(state.pid) and pid_gone(supervisor)
    wait_until(lambda: pid_gone(grandchild), what="grandchild to die")


def test_enforce_timeout_leaves_a_run_within_its_deadline_alone(runner, tmp_path):
    spec = spec_for(tmp_path, ["sleep", "300"], timeout_s=600)
    runner.start(spec)
    assert runner.enforce_timeout(spec.run_dir).running
    runner.stop(spec.run_dir)


def test_pid_reuse_is_not_mistaken_for_a_live_run(runner, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "argv.json").write_text(json.dumps({"argv": ["x"], "started": 1.0}))
    me = {"pid": os.getpid(), "create_time": 12345.0}     # our pid, but not the process that started then
    (run_dir / "supervisor.json").write_text(json.dumps(me))
    (run_dir / "agent.json").write_text(json.dumps(me))

    state = runner.poll(run_dir)

    assert not state.running and state.exit_code is None


def test_huge_output_is_capped_and_rotated_keeping_the_tail(runner, tmp_path, wait_until):
    code = "import sys\nfor i in range(200000): sys.stdout.write(f'line {i:08d} ' + 'x' * 40 + '\\n')\nprint('THE END')"
    spec = spec_for(tmp_path, [PY, "-c", code], log_limit_bytes=200_000)
    runner.start(spec)
    assert ended(runner, spec.run_dir, wait_until).exit_code == 0

    sizes = [p.stat().st_size for p in spec.run_dir.glob("output*.log")]
    assert len(sizes) == 2 and sum(sizes) <= 200_000
    assert runner.tail(spec.run_dir, 200).rstrip().endswith("THE END")
    assert 100_000 <= len(runner.tail(spec.run_dir, 150_000)) <= 150_000   # at least half the cap is kept
    record = json.loads((spec.run_dir / "exit.json").read_text())
    assert record["log_truncated"] and record["log_bytes"] > 10_000_000


def test_garbage_bytes_do_not_break_tail(runner, tmp_path, wait_until):
    code = "import os, sys; sys.stdout.buffer.write(bytes(range(256)) * 50 + b'\\xff\\xfe\\xc3 done\\n')"
    spec = spec_for(tmp_path, [PY, "-c", code])
    runner.start(spec)
    ended(runner, spec.run_dir, wait_until)

    text = runner.tail(spec.run_dir, 100)
    assert isinstance(text, str) and text.endswith(" done\n") and "\ufffd" in text
    assert "done" in runner.read_log(spec.run_dir)


def test_missing_program_ends_the_run_with_127(runner, tmp_path, wait_until):
    spec = spec_for(tmp_path, ["no-such-agent-cli", "--help"])
    runner.start(spec)
    done = ended(runner, spec.run_dir, wait_until)
    assert done.exit_code == 127
    assert "cannot start 'no-such-agent-cli'" in runner.tail(spec.run_dir)


def test_a_run_dir_is_used_once(runner, tmp_path, wait_until):
    spec = spec_for(tmp_path, [PY, "-c", "pass"])
    runner.start(spec)
    with pytest.raises(RunnerError, match="already holds a run"):
        runner.start(spec)
    ended(runner, spec.run_dir, wait_until)


def test_start_needs_an_existing_workdir(runner, tmp_path):
    spec = RunSpec("t1", 1, ("true",), tmp_path / "missing", tmp_path / "run")
    with pytest.raises(RunnerError, match="create the worktree"):
        runner.start(spec)


def test_poll_of_an_unknown_run_dir(runner, tmp_path):
    state = runner.poll(tmp_path / "never")
    assert state == RunState(run_dir=tmp_path / "never", pid=None, running=False)


def test_run_logged_captures_output_and_exit_code(tmp_path):
    done = run_logged([PY, "-c", "print('checked'); raise SystemExit(1)"], tmp_path, tmp_path / "l" / "check.log", 60)
    assert done.exit_code == 1 and not done.ok and "checked" in done.output_tail
    assert "checked" in (tmp_path / "l" / "check.log").read_text()


def test_run_logged_timeout_kills_its_group(tmp_path, wait_until, pid_gone):
    started = time.monotonic()
    done = run_logged(["sh", "-c", "sleep 300 & echo $! > gc.pid; sleep 300"], tmp_path, tmp_path / "c.log", 0.5)
    assert done.timed_out and not done.ok and time.monotonic() - started < 30
    wait_until(lambda: pid_gone(int((tmp_path / "gc.pid").read_text())), what="grandchild to die")


# ---------------------------------------------------------------- the fake follows the same contract


def test_fake_runner_plays_its_script_in_order(tmp_path):
    from vaultzoe.fakes.runner import FakeRunner, ScriptedRun
    fake = FakeRunner([ScriptedRun(exit_code=1, output="boom\n", polls=2)])
    fake.enqueue(exit_code=0, output="ok\n", polls=0)
    first, second = spec_for(tmp_path, ["a"]), spec_for(tmp_path, ["b"], attempt=2)
    second.run_dir.mkdir(parents=True)

    assert fake.start(first).running and fake.start(second).running
    assert fake.poll(first.run_dir).running and fake.poll(first.run_dir).running
    done = fake.poll(first.run_dir)
    assert (done.running, done.exit_code) == (False, 1) and fake.tail(first.run_dir) == "boom\n"
    assert fake.poll(second.run_dir).exit_code == 0
    assert second.run_dir.joinpath("output.log").read_text() == "ok\n"   # log_path holds, as for the real runner
    assert [s.argv for s in fake.started] == [("a",), ("b",)]
    with pytest.raises(RunnerError, match="already holds a run"):
        fake.start(first)


def test_fake_runner_stop_and_timeout(tmp_path):
    from vaultzoe.fakes.runner import FakeRunner
    fake = FakeRunner()
    fake.enqueue(polls=None)
    fake.enqueue(polls=None)
    stopped, slow = spec_for(tmp_path, ["a"]), spec_for(tmp_path, ["b"], attempt=2, timeout_s=60)
    fake.start(stopped)
    fake.start(slow)

    assert fake.stop(stopped.run_dir, "cancelled").stopped and fake.stopped == [(stopped.run_dir, "cancelled")]
    assert fake.enforce_timeout(slow.run_dir).running
    fake.advance(61)
    timed_out = fake.enforce_timeout(slow.run_dir)
    assert timed_out.timed_out and timed_out.exit_code == 143 and not fake.poll(slow.run_dir).running
    assert fake.poll(tmp_path / "unknown") == RunState(run_dir=tmp_path / "unknown", pid=None, running=False)


def test_every_runner_has_every_call_the_runner_protocol_declares(tmp_path):
    """The orchestrator calls start_nowait, tail and read_log through the Protocol, never by probing."""
    from vaultzoe.fakes.runner import FakeRunner
    from vaultzoe.protocols import Runner
    declared = {name for name in vars(Runner) if not name.startswith("_")}
    assert {"start", "start_nowait", "poll", "stop", "enforce_timeout", "tail", "read_log"} <= declared
    for runner in (ProcessRunner(), FakeRunner()):
        assert all(callable(getattr(runner, name, None)) for name in declared), type(runner).__name__

    fake = FakeRunner()
    fake.enqueue(output="done\n", polls=0)
    spec = spec_for(tmp_path, ["a"])
    assert fake.start_nowait(spec).running and fake.started == [spec]
    assert fake.tail(spec.run_dir) == "" and not fake.poll(spec.run_dir).running
    assert fake.tail(spec.run_dir, 3) == "ne\n" and fake.read_log(spec.run_dir) == "done\n"
