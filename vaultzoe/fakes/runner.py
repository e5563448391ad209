"""FakeRunner: a deterministic Runner for tests of the decision logic (like llm's MockModel.enqueue).

No process is started. Each start() takes the next scripted run: it reports running for `polls` polls,
then ends with its exit code and output. stop() and enforce_timeout() end a run the way ProcessRunner
does (stopped / timed_out, exit code 143). Time is a counter the test advances (or a FakeClock handed in).
`break_next_start` scripts a start that raises: before the run exists (a full disk) or after (a crash).
When a run ends, its output is also written to run_dir/output.log (when the folder exists), so
RunState.log_path holds, as it does for the real runner; everything else stays in memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..errors import RunnerError
from ..protocols import RunSpec, RunState

TERMINATED = 143   # 128 + SIGTERM, what ProcessRunner records for a stopped or timed-out agent


@dataclass(frozen=True)
class ScriptedRun:
    """How one fake run behaves."""

    exit_code: int = 0
    output: str = ""
    polls: int | None = 1       # polls that still see it running; None: runs until stopped or timed out


@dataclass(frozen=True)
class _Run:
    spec: RunSpec
    script: ScriptedRun
    state: RunState
    polls_left: int | None
    output: str = ""


class FakeRunner:
    """Runs nothing; hands out scripted runs in order and remembers every call."""

    name = "fake"

    def __init__(self, runs: list[ScriptedRun] | tuple[ScriptedRun, ...] = (), start_time: float = 1_700_000_000.0,
                 clock: Callable[[], float] | None = None) -> None:
        self._queue: deque[ScriptedRun] = deque(runs)
        self._runs: dict[Path, _Run] = {}
        self._now = start_time
        self._clock = clock
        self._next_pid = 10_000
        self.started: list[RunSpec] = []
        self.stopped: list[tuple[Path, str]] = []
        self._breaks: deque[tuple[BaseException, bool]] = deque()

    # -------------------------------------------------------- scripting

    def enqueue(self, exit_code: int = 0, output: str = "", polls: int | None = 1) -> None:
        """Script the next run started."""
        self._queue.append(ScriptedRun(exit_code, output, polls))

    def advance(self, seconds: float) -> None:
        """Move the fake clock on (timeouts are judged against it)."""
        self._now += seconds

    def break_next_start(self, error: BaseException, after_start: bool = False) -> None:
        """The next start raises error: before the run exists, or once it is up (vaultzoe dying mid-start)."""
        self._breaks.append((error, after_start))

    def now(self) -> float:
        return self._clock() if self._clock else self._now

    def finish(self, run_dir: Path, exit_code: int | None = None, output: str | None = None) -> RunState:
        """End a running run right now (the scripted exit code and output unless given)."""
        run = self._get(run_dir)
        code = run.script.exit_code if exit_code is None else exit_code
        return self._end(run, code, run.script.output if output is None else output)

    # -------------------------------------------------------- protocols.Runner

    def start(self, spec: RunSpec) -> RunState:
        error, after_start = self._breaks.popleft() if self._breaks else (None, False)
        if error is not None and not after_start:
            raise error
        if spec.run_dir in self._runs:
            raise RunnerError(f"Run directory {spec.run_dir} already holds a run: poll it, or start the next "
                              f"attempt in its own directory")
        script = self._queue.popleft() if self._queue else ScriptedRun()
        self._next_pid += 1
        state = RunState(run_dir=spec.run_dir, pid=self._next_pid, running=True, started=self.now())
        self._runs[spec.run_dir] = _Run(spec=spec, script=script, state=state, polls_left=script.polls)
        self.started.append(spec)
        if error is not None:
            raise error
        return state

    def start_nowait(self, spec: RunSpec) -> RunState:
        """Like start(): a fake run is up at once, so there is nothing to wait for."""
        return self.start(spec)

    def poll(self, run_dir: Path) -> RunState:
        run = self._runs.get(run_dir)
        if run is None:
            return RunState(run_dir=run_dir, pid=None, running=False)
        if not run.state.running or run.polls_left is None:
            return run.state
        if run.polls_left > 0:
            self._runs[run_dir] = replace(run, polls_left=run.polls_left - 1)
            return run.state
        return self._end(run, run.script.exit_code, run.script.output)

    def stop(self, run_dir: Path, reason: str = "stopped") -> RunState:
        self.stopped.append((run_dir, reason))
        run = self._runs.get(run_dir)
        if run is None or not run.state.running:
            return self.poll(run_dir)
        return self._end(run, TERMINATED, run.script.output, stopped=True)

    def enforce_timeout(self, run_dir: Path) -> RunState:
        run = self._runs.get(run_dir)
        if run is None or not run.state.running or run.spec.timeout_s is None:
            return self.poll(run_dir)
        if self.now() - (run.state.started or 0.0) < run.spec.timeout_s:
            return run.state
        return self._end(run, TERMINATED, run.script.output, timed_out=True)

    def tail(self, run_dir: Path, max_bytes: int = 4000) -> str:
        """The end of an ended run's scripted output ("" while it runs)."""
        run = self._runs.get(run_dir)
        return run.output[-max_bytes:] if run else ""

    def read_log(self, run_dir: Path) -> str:
        """An ended run's whole scripted output ("" while it runs)."""
        run = self._runs.get(run_dir)
        return run.output if run else ""

    # -------------------------------------------------------- helpers

    def _get(self, run_dir: Path) -> _Run:
        if run_dir not in self._runs:
            raise RunnerError(f"No fake run in {run_dir}: start() it first")
        return self._runs[run_dir]

    def _end(self, run: _Run, exit_code: int, output: str, stopped: bool = False, timed_out: bool = False) -> RunState:
        state = replace(run.state, running=False, exit_code=exit_code, stopped=stopped, timed_out=timed_out,
                        ended=self.now())
        self._runs[run.spec.run_dir] = replace(run, state=state, output=output, polls_left=0)
        if run.spec.run_dir.is_dir():
            state.log_path.write_text(output, encoding="utf-8")
        return state
