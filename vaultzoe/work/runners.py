"""Runner: agent processes, detached in their own process group, logged, timed out, re-attachable.

ProcessRunner implements protocols.Runner:

    ProcessRunner().start(spec: RunSpec) -> RunState
        Writes spec.run_dir/argv.json; the child runs under a small supervisor (supervise.py) in a new session
        so it survives vaultzoe's exit and records exit.json {"exit_code", "ended", "timed_out"/"stopped"}
        when the agent ends; stdin is /dev/null;
        stdout+stderr go to run_dir/output.log (capped at spec.log_limit_bytes, rotated to output.1.log).
    poll(run_dir) -> RunState      from pid liveness + exit.json (works across vaultzoe restarts)
    stop(run_dir, reason) -> RunState   SIGTERM the process group, SIGKILL after a grace period
    enforce_timeout(run_dir) -> RunState
    tail(run_dir, max_bytes=4000) -> str    the end of the output log (decoded with errors="replace")

The supervisor is launched as `python -P <path of supervise.py> RUN_DIR` (works whether or not
vaultzoe is installed in that interpreter) in a new session; the agent is its child, leader of its own
process group inside that session, so the supervisor survives killing the agent's group and can record
the exit. The pid files are supervisor.json and agent.json (pid + create time, to detect pid reuse);
`started` is in argv.json. The agent's environment is childenv.child_env(spec.env) (the user's without
credentials, plus spec.env), handed over in the supervisor's own environment: values never touch the disk,
argv.json lists only the names (and the names withheld). What the runner reads back from a log (tail,
read_log, a command's output tail) is redacted: nothing downstream ever sees an agent's raw output. Run
directories are private to the user (0700, files 0600).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..brain.redact import redact
from ..errors import RunnerError
from ..layout import STATE_DIR
from ..protocols import RunSpec, RunState
from . import supervise as sv
from .childenv import child_env, withheld_names
from .commands import private_dir, redacted_tail

SUPERVISOR_SCRIPT = Path(sv.__file__).resolve()
PID_REUSE_SLACK_S = 1.0     # create times computed by two processes may differ by boot-time rounding


# ---------------------------------------------------------------- process identity


@dataclass(frozen=True)
class ProcessId:
    """A pid plus its start time: the same pid with another start time is another process."""

    pid: int
    create_time: float | None

    @classmethod
    def load(cls, record: Mapping[str, Any] | None) -> ProcessId | None:
        if not record or not isinstance(record.get("pid"), int):
            return None
        created = record.get("create_time")
        return cls(record["pid"], float(created) if isinstance(created, (int, float)) else None)

    def alive(self) -> bool:
        """True when this very process still runs (not a zombie, not a reused pid)."""
        import psutil
        if self.create_time is None:
            return False   # identity unknown (a record synced in or pasted): never ours to signal
        try:
            proc = psutil.Process(self.pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            return abs(proc.create_time() - self.create_time) <= PID_REUSE_SLACK_S
        except psutil.Error:
            return False

    def owns_group(self) -> bool:
        """True while the group this process leads (or led) is still its own to kill."""
        import psutil
        if self.create_time is None:
            return False
        try:
            same = abs(psutil.Process(self.pid).create_time() - self.create_time) <= PID_REUSE_SLACK_S
        except psutil.NoSuchProcess:
            same = True    # the leader is gone; a pid still naming a live group is never reused
        except psutil.Error:
            return False
        return same and sv.group_alive(self.pid)


# ---------------------------------------------------------------- the runner


@dataclass(frozen=True)
class _RunFiles:
    """What a run directory holds right now."""

    spec: dict[str, Any] | None
    supervisor: ProcessId | None
    agent: ProcessId | None
    exit: dict[str, Any] | None

    @classmethod
    def read(cls, run_dir: Path) -> _RunFiles:
        return cls(spec=sv.read_json(run_dir / sv.ARGV_FILE),
                   supervisor=ProcessId.load(sv.read_json(run_dir / sv.SUPERVISOR_FILE)),
                   agent=ProcessId.load(sv.read_json(run_dir / sv.AGENT_FILE)),
                   exit=sv.read_json(run_dir / sv.EXIT_FILE))


class ProcessRunner:
    """Runs agents as real detached processes; every answer comes from the run directory alone."""

    name = "process"

    def __init__(self, grace_s: float = 5.0, start_wait_s: float = 10.0, slack_s: float = 10.0) -> None:
        self.grace_s = grace_s              # SIGTERM -> SIGKILL
        self.start_wait_s = start_wait_s    # how long start() waits to see the agent running
        self.slack_s = slack_s              # how long past its own grace period a supervisor may take to act
        self._children: dict[Path, subprocess.Popen] = {}   # only to reap supervisors we started

    def start(self, spec: RunSpec) -> RunState:
        """Launch the supervisor for spec and wait briefly until the agent itself is running."""
        self.start_nowait(spec)
        self._wait_for(spec.run_dir, (sv.AGENT_FILE, sv.EXIT_FILE), self.start_wait_s)
        return self.poll(spec.run_dir)

    def start_nowait(self, spec: RunSpec) -> RunState:
        """`start` without the wait for the agent: the supervisor is up and recorded, so poll() already says
        running (the orchestrator starts tasks one after another and re-reads each run next pass)."""
        run_dir = spec.run_dir
        _check_startable(spec)
        private_run_dir(run_dir)
        # The run's lock is taken before argv.json exists and handed to the supervisor at fork: from then on
        # it is held for as long as the supervisor lives, so a vaultzoe killed at any step here leaves either
        # a live holder (the run is adopted) or a free lock (nothing runs; the start is made again).
        lock = _take_run_lock(run_dir)
        try:
            sv.write_json_atomic(run_dir / sv.ARGV_FILE, _spec_record(spec, self.grace_s))
            proc = self._launch(run_dir, spec.env, lock)
        finally:
            os.close(lock)
        sv.write_json_atomic(run_dir / sv.SUPERVISOR_FILE,
                             {"pid": proc.pid, "create_time": sv.process_create_time(proc.pid)})
        return self.poll(run_dir)

    def _launch(self, run_dir: Path, env: Mapping[str, str], lock: int) -> subprocess.Popen:
        argv = [sys.executable, "-P", str(SUPERVISOR_SCRIPT), str(run_dir)]
        try:
            with sv.open_private(run_dir / sv.SUPERVISOR_LOG_FILE, "ab") as log:
                proc = subprocess.Popen(argv, cwd=run_dir, env=child_env(env), stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        close_fds=True, pass_fds=(lock,))
        except OSError as exc:
            raise RunnerError(f"Cannot start the run supervisor with {sys.executable}: {exc}; "
                              f"check that this Python can still run") from None
        self._children[run_dir] = proc
        return proc

    def poll(self, run_dir: Path) -> RunState:
        """What the run directory and the live processes say (works for runs of an earlier vaultzoe)."""
        self._reap(run_dir)
        files = _RunFiles.read(run_dir)
        if files.spec is None:
            return RunState(run_dir=run_dir, pid=None, running=False)
        started = files.spec.get("started")
        pid = files.agent.pid if files.agent else (files.supervisor.pid if files.supervisor else None)
        if files.exit is not None:
            return _ended_state(run_dir, pid, started, files.exit)
        running = any(p is not None and p.alive() for p in (files.supervisor, files.agent))
        held = _run_lock_held(run_dir)
        if held is False and pid is None:
            # argv.json, but no process ever held the run: a start cut short before the supervisor was forked
            return RunState(run_dir=run_dir, pid=None, running=False)
        return RunState(run_dir=run_dir, pid=pid, running=running or bool(held), started=started)

    def stop(self, run_dir: Path, reason: str = "stopped") -> RunState:
        """Terminate the agent's whole process group (SIGTERM, SIGKILL after the grace period)."""
        return self._stop(run_dir, reason, timed_out=False)

    def enforce_timeout(self, run_dir: Path) -> RunState:
        """Kill the group when the run is past its deadline and its supervisor has not (or cannot)."""
        state = self.poll(run_dir)
        deadline = (sv.read_json(run_dir / sv.ARGV_FILE) or {}).get("deadline")
        if not state.running or deadline is None or time.time() < float(deadline):
            return state
        supervisor = _RunFiles.read(run_dir).supervisor
        supervisor_has_time = time.time() < float(deadline) + self.grace_s + self.slack_s
        if supervisor is not None and supervisor.alive() and supervisor_has_time:
            return state   # it is killing the group right now; do not block this pass waiting for it
        return self._stop(run_dir, "timeout", timed_out=True)

    def tail(self, run_dir: Path, max_bytes: int = 4000) -> str:
        """The end of the agent's output log, decoded with errors="replace", redacted."""
        return tail(run_dir, max_bytes)

    def read_log(self, run_dir: Path) -> str:
        """The whole kept output log (both rotated halves), decoded with errors="replace", redacted."""
        return redact(sv.read_all(run_dir / sv.LOG_FILE))

    # -------------------------------------------------------- stopping

    def _stop(self, run_dir: Path, reason: str, timed_out: bool) -> RunState:
        state = self.poll(run_dir)
        if not state.running:
            return state
        sv.write_json_atomic(run_dir / sv.STOP_FILE, {"reason": reason, "timed_out": timed_out,
                                                      "requested": time.time()})
        files = _RunFiles.read(run_dir)
        if files.supervisor is not None and files.supervisor.alive():
            # the supervisor escalates SIGTERM -> SIGKILL on the group itself and records the exit
            _signal_pid(files.supervisor.pid, signal.SIGTERM)
            if self._wait_for(run_dir, (sv.EXIT_FILE,), self.grace_s + self.slack_s):
                return self.poll(run_dir)
        self._stop_without_supervisor(run_dir, files, reason, timed_out)
        return self.poll(run_dir)

    def _stop_without_supervisor(self, run_dir: Path, files: _RunFiles, reason: str, timed_out: bool) -> None:
        """The supervisor is gone or stuck: kill the group ourselves and write the exit record."""
        if files.supervisor is not None and files.supervisor.alive():
            _signal_pid(files.supervisor.pid, signal.SIGKILL)
        if files.agent is not None and (files.agent.alive() or files.agent.owns_group()):
            _kill_group(files.agent.pid, self.grace_s)
        self._reap(run_dir)
        if not (run_dir / sv.EXIT_FILE).exists():
            sv.write_json_atomic(run_dir / sv.EXIT_FILE, {
                "exit_code": None, "timed_out": timed_out, "stopped": not timed_out, "reason": reason,
                "error": "the supervisor was gone; vaultzoe killed the group itself", "ended": time.time()})

    def _wait_for(self, run_dir: Path, names: tuple[str, ...], timeout_s: float) -> bool:
        """Poll until one of names exists in run_dir (reaping our supervisor meanwhile)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any((run_dir / name).exists() for name in names):
                return True
            proc = self._children.get(run_dir)
            if proc is not None and proc.poll() is not None:
                return any((run_dir / name).exists() for name in names)
            time.sleep(0.02)
        return False

    def _reap(self, run_dir: Path) -> None:
        proc = self._children.get(run_dir)
        if proc is not None and proc.poll() is not None:
            del self._children[run_dir]


RUN_LOCK_FILE = "run.lock"


def _take_run_lock(run_dir: Path) -> int:
    fd = os.open(run_dir / RUN_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _run_lock_held(run_dir: Path) -> bool | None:
    """Whether a live process holds the run's lock (None: a run from before the lock existed)."""
    try:
        fd = os.open(run_dir / RUN_LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)       # closing releases a lock we took: we only looked
    return False


def run_is_live(run_dir: Path) -> bool:
    """Whether a process may still write into run_dir (its supervisor holds the lock, or its agent lives)."""
    if _run_lock_held(run_dir):
        return True
    files = _RunFiles.read(run_dir)
    return any(p is not None and p.alive() for p in (files.supervisor, files.agent))


def _abandoned(run_dir: Path) -> bool:
    """argv.json and nothing else: vaultzoe died before the supervisor was forked, so the start is made again."""
    files = _RunFiles.read(run_dir)
    return (files.exit is None and files.supervisor is None and files.agent is None
            and _run_lock_held(run_dir) is False)


def _check_startable(spec: RunSpec) -> None:
    if (spec.run_dir / sv.ARGV_FILE).exists() and not _abandoned(spec.run_dir):
        raise RunnerError(f"Run directory {spec.run_dir} already holds a run: poll it, or start the next "
                          f"attempt in its own directory")
    if not spec.argv:
        raise RunnerError(f"Task {spec.task_id}: the agent command is empty: set `command:` in its agent note")
    if not spec.workdir.is_dir():
        raise RunnerError(f"Task {spec.task_id}: work directory {spec.workdir} does not exist: "
                          f"create the worktree before starting the agent")


def _spec_record(spec: RunSpec, grace_s: float) -> dict[str, Any]:
    """argv.json: everything the supervisor needs, and the env *names* only (values may be secrets)."""
    started = time.time()
    return {
        "task_id": spec.task_id, "attempt": spec.attempt, "argv": list(spec.argv), "workdir": str(spec.workdir),
        "env_keys": sorted(spec.env), "env_withheld": withheld_names(extra=spec.env), "timeout_s": spec.timeout_s,
        "deadline": started + spec.timeout_s if spec.timeout_s is not None else None,
        "grace_s": grace_s, "log_limit_bytes": spec.log_limit_bytes, "started": started,
    }


def _ended_state(run_dir: Path, pid: int | None, started: float | None, record: Mapping[str, Any]) -> RunState:
    code = record.get("exit_code")
    return RunState(run_dir=run_dir, pid=pid, running=False, exit_code=code if isinstance(code, int) else None,
                    timed_out=bool(record.get("timed_out")), stopped=bool(record.get("stopped")),
                    started=started, ended=record.get("ended"))


def _signal_pid(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _kill_group(pgid: int, grace_s: float) -> None:
    """SIGTERM the group, SIGKILL it when it outlives the grace period."""
    sv.signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while sv.group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    sv.signal_group(pgid, signal.SIGKILL)


def tail(run_dir: Path, max_bytes: int = 4000) -> str:
    """The end of a run's output log, redacted, for callers without a runner at hand."""
    return redacted_tail(run_dir / sv.LOG_FILE, max_bytes)


def private_run_dir(run_dir: Path) -> None:
    """Make run_dir, the folders between it and the vault's state folder (that one too), and the files already
    in it (the prompt) private to the user."""
    private_dir(run_dir)
    parts = run_dir.parts
    if STATE_DIR in parts[:-1]:
        top = len(parts) - 1 - parts[::-1].index(STATE_DIR)
        for depth in range(top, len(parts) - 1):
            os.chmod(Path(*parts[:depth + 1]), 0o700)
    for entry in run_dir.iterdir():
        if entry.is_file() and not entry.is_symlink():
            os.chmod(entry, 0o600)
