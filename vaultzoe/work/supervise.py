"""Supervisor of one agent run: starts the agent, caps its log, enforces its deadline, records its exit.

Started detached by runners.ProcessRunner as `python -P .../supervise.py RUN_DIR` (or
`python -m vaultzoe.work.supervise RUN_DIR`), in a new session, so the run outlives vaultzoe.
This module uses only the standard library and psutil: it runs as a plain script, without vaultzoe
on sys.path. It also owns the run-directory file format and the capped-log helpers that
commands.run_logged reuses for setup and check commands.

Run directory:
    argv.json        the spec, written by the runner (argv, workdir, deadline, limits, env *names* only)
    supervisor.json  {"pid", "create_time"} of this supervisor, written by the runner
    run.lock         flock'ed by the runner before argv.json and inherited here at fork: held while this lives
    agent.json       {"pid", "pgid", "create_time", "started"} of the agent, written here
    output.log       the agent's stdout+stderr; output.1.log holds the part before the last rotation
    stop.json        {"reason", "timed_out"} written by the runner before it asks for a stop
    exit.json        the outcome, written here atomically when the agent and its group are gone
Every file here is created 0600 (open_private): prompts and agent output are the user's eyes only.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

ARGV_FILE = "argv.json"
SUPERVISOR_FILE = "supervisor.json"
AGENT_FILE = "agent.json"
STOP_FILE = "stop.json"
EXIT_FILE = "exit.json"
LOG_FILE = "output.log"
SUPERVISOR_LOG_FILE = "supervisor.log"

CHUNK = 65536
TICK_S = 0.2
DRAIN_S = 2.0            # how long to wait for the pipe to close once the agent's group is gone
EXIT_NOT_STARTED = 127   # like a shell: the program could not be run


# ---------------------------------------------------------------- small file helpers


PRIVATE_FILE = 0o600     # run records and logs hold prompts and agent output: the user's eyes only


def open_private(path: Path, mode: str = "ab") -> Any:
    """open(path, mode) creating the file 0600 (an existing file is tightened too)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"}))


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON via a private dot-temp file, fsync and rename, so readers never see half a record."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open_private(tmp, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in path, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def process_create_time(pid: int) -> float | None:
    """When the process started (epoch seconds), or None when it is gone."""
    try:
        import psutil
        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing or the process vanished: identity unknown
        return None


# ---------------------------------------------------------------- capped, rotated log


def rotated_path(path: Path) -> Path:
    """output.log -> output.1.log: where the older half of a capped log goes."""
    return path.with_name(f"{path.stem}.1{path.suffix}")


class CappedLog:
    """An append-only byte log kept under `limit` bytes in two halves: path and its rotated sibling."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.part_limit = max(limit // 2, 1)
        self.bytes_seen = 0
        self.rotations = 0
        self._file = open_private(path, "ab")
        self._size = self._file.tell()

    def write(self, data: bytes) -> None:
        """Append data, rotating whenever the current half is full (the tail is always kept)."""
        self.bytes_seen += len(data)
        while data:
            room = self.part_limit - self._size
            if room <= 0:
                self._rotate()
                continue
            self._file.write(data[:room])
            self._size += min(room, len(data))
            data = data[room:]
        self._file.flush()

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.path, rotated_path(self.path))
        self._file = open_private(self.path, "wb")
        self._size = 0
        self.rotations += 1

    def close(self) -> None:
        self._file.close()


def read_tail(path: Path, max_bytes: int = 4000) -> str:
    """The last max_bytes of a capped log (reaching into the rotated half when needed), decoded leniently."""
    data = _last_bytes(path, max_bytes)
    if len(data) < max_bytes:
        data = _last_bytes(rotated_path(path), max_bytes - len(data)) + data
    return data.decode("utf-8", errors="replace")


def read_all(path: Path) -> str:
    """The whole capped log: rotated half then current half, decoded leniently."""
    parts = [p.read_bytes() for p in (rotated_path(path), path) if p.is_file()]
    return b"".join(parts).decode("utf-8", errors="replace")


def _last_bytes(path: Path, count: int) -> bytes:
    if count <= 0:
        return b""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(handle.tell() - count, 0))
            return handle.read()
    except FileNotFoundError:
        return b""


# ---------------------------------------------------------------- running one process group


@dataclass(frozen=True)
class Outcome:
    """How a supervised process ended."""

    exit_code: int | None          # 128+N when killed by signal N; None when it never started
    signal: int | None = None
    timed_out: bool = False
    stopped: bool = False
    error: str = ""
    log_bytes: int = 0
    log_truncated: bool = False


def group_alive(pgid: int) -> bool:
    """True while a live process is left in the group (zombies awaiting a slow init do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:  # no /proc (not Linux): trust the kernel's answer
        return True
    return any(_live_member(pid, pgid) for pid in pids)


def _live_member(pid: str, pgid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    return len(fields) > 2 and fields[0] != "Z" and fields[2] == str(pgid)


def signal_group(pgid: int, signum: int) -> None:
    """Send signum to the whole group; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class _Escalation:
    """SIGTERM to the group once, SIGKILL when the grace period is over."""

    def __init__(self, pgid: int, grace_s: float) -> None:
        self.pgid, self.grace_s = pgid, grace_s
        self.term_at: float | None = None
        self.killed = False

    def step(self, now: float) -> None:
        if self.term_at is None:
            self.term_at = now
            signal_group(self.pgid, signal.SIGTERM)
        elif not self.killed and now - self.term_at >= self.grace_s:
            self.killed = True
            signal_group(self.pgid, signal.SIGKILL)


def spawn(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start argv (never through a shell) as the leader of a new process group, output on one pipe."""
    return subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, process_group=0, close_fds=True)


def pump(proc: subprocess.Popen, log: CappedLog, deadline: float | None, grace_s: float,
         should_stop: Callable[[], bool]) -> tuple[bool, bool]:
    """Copy output into log until the process and its group are gone; returns (timed_out, stopped)."""
    fd = proc.stdout.fileno()
    ending = _Escalation(proc.pid, grace_s)
    timed_out = stopped = eof = False
    drain_until: float | None = None
    while True:
        if eof:
            time.sleep(TICK_S)
        else:
            eof = _read_some(fd, log) is None
        now = time.monotonic()
        running = proc.poll() is None
        timed_out = timed_out or (running and not stopped and deadline is not None and now >= deadline)
        stopped = stopped or (running and not timed_out and should_stop())
        if running and not (timed_out or stopped):
            continue
        if running or group_alive(proc.pid):
            ending.step(now)  # the agent is done or must go: nothing of its group may outlive it
            continue
        drain_until = drain_until or now + DRAIN_S
        if eof or now >= drain_until:
            break
    proc.wait()
    return timed_out, stopped


def _read_some(fd: int, log: CappedLog) -> bytes | None:
    """Read what is ready within one tick; b"" when nothing was, None at end of output."""
    ready, _, _ = select.select([fd], [], [], TICK_S)
    if not ready:
        return b""
    chunk = os.read(fd, CHUNK)
    if not chunk:
        return None
    log.write(chunk)
    return chunk


def outcome_of(proc: subprocess.Popen, log: CappedLog, timed_out: bool, stopped: bool) -> Outcome:
    """Translate a finished Popen into an Outcome (signals as 128+N, like a shell)."""
    code = proc.returncode
    signum = -code if code is not None and code < 0 else None
    return Outcome(exit_code=(128 + signum) if signum else code, signal=signum, timed_out=timed_out,
                   stopped=stopped, log_bytes=log.bytes_seen, log_truncated=log.rotations > 1)


def run_capped(argv: Sequence[str], cwd: Path, log_path: Path, *, limit: int, timeout_s: float | None,
               grace_s: float = 5.0, env: dict[str, str] | None = None,
               should_stop: Callable[[], bool] = lambda: False,
               on_start: Callable[[int], None] = lambda pid: None) -> Outcome:
    """Run argv to completion with its output in a capped log; the whole group dies on timeout or stop."""
    log = CappedLog(log_path, limit)
    try:
        try:
            proc = spawn(argv, cwd, env)
        except OSError as exc:
            return _not_started(log, argv, exc)
        on_start(proc.pid)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with proc.stdout:
            try:
                timed_out, stopped = pump(proc, log, deadline, grace_s, should_stop)
            except BaseException:
                signal_group(proc.pid, signal.SIGKILL)   # never leave an unwatched agent behind
                proc.wait()
                raise
        return outcome_of(proc, log, timed_out, stopped)
    finally:
        log.close()


def _not_started(log: CappedLog, argv: Sequence[str], exc: OSError) -> Outcome:
    message = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
    log.write(f"[vaultzoe] {message}\n".encode())
    return Outcome(exit_code=EXIT_NOT_STARTED, error=message, log_bytes=log.bytes_seen)


# ---------------------------------------------------------------- the supervisor process


class _StopFlag:
    """Set by SIGTERM/SIGINT/SIGHUP sent to the supervisor: stop the agent, then record the exit."""

    def __init__(self) -> None:
        self.raised = False
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __call__(self) -> bool:
        return self.raised


def supervise(run_dir: Path) -> Outcome:
    """Run the agent described by run_dir/argv.json and write run_dir/exit.json when it is over."""
    spec = read_json(run_dir / ARGV_FILE)
    if spec is None:
        raise SystemExit(f"{run_dir / ARGV_FILE} is missing or unreadable: start runs with ProcessRunner")
    deadline = spec.get("deadline")
    outcome = run_capped(spec["argv"], Path(spec["workdir"]), run_dir / LOG_FILE,
                         limit=int(spec["log_limit_bytes"]),
                         timeout_s=None if deadline is None else max(float(deadline) - time.time(), 0.0),
                         grace_s=float(spec.get("grace_s", 5.0)), should_stop=_StopFlag(),
                         on_start=lambda pid: _record_agent(run_dir, pid))
    _record_exit(run_dir, outcome)
    return outcome


def _record_agent(run_dir: Path, pid: int) -> None:
    write_json_atomic(run_dir / AGENT_FILE, {"pid": pid, "pgid": pid, "create_time": process_create_time(pid),
                                             "started": time.time()})


def _record_exit(run_dir: Path, outcome: Outcome) -> None:
    """exit.json: the outcome, with the reason the runner gave when it asked for the stop."""
    request = read_json(run_dir / STOP_FILE) or {}
    record = asdict(outcome)
    if request.get("timed_out"):
        record["timed_out"], record["stopped"] = True, False
    elif request:
        record["stopped"] = not record["timed_out"]
    record["reason"] = "timeout" if record["timed_out"] else str(request.get("reason", ""))
    record["ended"] = time.time()
    write_json_atomic(run_dir / EXIT_FILE, record)


def main(argv: list[str]) -> int:
    """Entry point: `supervise.py RUN_DIR`."""
    if len(argv) != 2:
        print("usage: python -m vaultzoe.work.supervise RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[1])
    try:
        supervise(run_dir)
    except Exception as exc:  # record why, so the run reads as ended rather than lost
        write_json_atomic(run_dir / EXIT_FILE, {"exit_code": None, "error": f"supervisor failed: {exc!r}",
                                                "ended": time.time()})
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
