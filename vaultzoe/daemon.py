"""The loop: one pass, passes until idle, or a watcher-driven daemon (a `for` loop with `finally`).

A pass that dies because the disk refuses a write (full, read-only, no permission) does not stop the loop:
one log line, then retries 1 s apart, doubling to 30 s, and one line when writes work again.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from .errors import VaultzoeError, refused_write
from .orchestrator import Orchestrator, Parts, PassResult
from .vault.watch import VaultWatcher, vault_lock

log = logging.getLogger("vaultzoe")

FULL_RESCAN_SECONDS = 300.0
QUICK_PAUSE = 0.02          # run_until_idle's pause after a pass that moved tasks on
write_refusal = refused_write       # the daemon's name for it


class Backoff:
    """Waits between passes that could not write: `first` s, doubling up to `most` s; `delay` is None when all is well."""

    def __init__(self, first: float = 1.0, most: float = 30.0) -> None:
        self.first, self.most = first, most
        self.delay: float | None = None
        self._told = False

    def failed(self, error: BaseException | None) -> float:
        """Record a pass that could not write; the seconds to wait before the next.

        Logs the first of a run of failures, unless `error` is None (the orchestrator has said it already).
        """
        self.delay = self.first if self.delay is None else min(self.delay * 2, self.most)
        if error is not None and not self._told:
            self._told = True
            log.error("vaultzoe cannot write (%s); it keeps running and retries every %g-%g s", error,
                      self.first, self.most)
        return self.delay

    def succeeded(self) -> None:
        if self._told:
            log.warning("vaultzoe can write again; carrying on")
        self.delay, self._told = None, False


def guarded_pass(orch: Orchestrator, backoff: Backoff, **kwargs: object) -> PassResult | None:
    """One pass; None when it died of a refused write. Either way `backoff.delay` says whether to retry soon."""
    try:
        result = orch.reconcile(**kwargs)  # type: ignore[arg-type]
    except (OSError, VaultzoeError) as error:
        if write_refusal(error) is None:
            raise
        backoff.failed(error)
        return None
    if result.write_refused:
        backoff.failed(None)      # the pass went on without the writes it needed (and said so): retry on the clock
    else:
        backoff.succeeded()
    return result


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager's stop) takes the same clean way out as Ctrl-C."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:            # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class IdleResult:
    idle: bool
    passes: int
    seconds: float
    last: PassResult


def open_orchestrator(root: Path, flags: Mapping[str, object] | None = None, parts: Parts | None = None) -> Orchestrator:
    """The orchestrator for a vault whose lock the caller holds; temp files a killed vaultzoe left are swept."""
    from .atomic import sweep_temp_files
    from .work.runners import run_is_live
    swept = sweep_temp_files(Path(root), run_is_live)
    if swept:
        log.info("removed %d temp file(s) a stopped vaultzoe left behind", len(swept))
    return Orchestrator(root, parts or Parts.real(root), flags)


def run_until_idle(orch: Orchestrator, timeout: float | None = None, pause: float = 0.5,
                   on_pass: Callable[[PassResult], None] | None = None, backoff: Backoff | None = None) -> IdleResult:
    """At least one full pass, then passes until nothing is queued, running or checking (and every write landed)."""
    start = time.monotonic()
    backoff = backoff or Backoff()
    passes = 0
    result = PassResult({})
    nap = pause
    while True:
        outcome = guarded_pass(orch, backoff)
        passes += 1
        if outcome is not None:
            # tasks moved on: look again at once (agents that end quickly free their slots for the queue);
            # each pass with nothing new waits twice as long as the last, up to `pause`
            nap = min(QUICK_PAUSE, pause) if outcome.counts != result.counts else min(nap * 2, pause)
            result = outcome
            if on_pass:
                on_pass(result)
        elapsed = time.monotonic() - start
        if backoff.delay is None and not result.busy:
            return IdleResult(True, passes, elapsed, result)
        if timeout is not None and elapsed >= timeout:
            return IdleResult(False, passes, elapsed, result)
        wait = nap if backoff.delay is None else backoff.delay
        time.sleep(wait if timeout is None else min(wait, max(timeout - elapsed, 0.0)))


def watch(orch: Orchestrator, on_pass: Callable[[PassResult], None] | None = None,
          stop: Callable[[], bool] = lambda: False, backoff: Backoff | None = None) -> None:
    """React to edits within a fraction of a second; look at agents, PRs and CI on a timer."""
    backoff = backoff or Backoff()
    with VaultWatcher(orch.root, orch.store.is_own_write) as watcher:
        outcome = guarded_pass(orch, backoff)
        result = outcome or PassResult({})
        last_scan = time.monotonic()
        while not stop():
            if on_pass and outcome is not None:
                on_pass(result)
            if backoff.delay is not None:
                _wait_out(watcher, backoff.delay, stop)
                batch, rescan = None, True     # what the failed pass read may be stale: look at everything again
            else:
                batch = watcher.next_batch(timeout=1.0 if result.busy else orch.settings.poll_seconds)
                # a full stat scan now and then, so a lost inotify event is only ever late, never lost
                rescan = (batch is not None and batch.rescan) or time.monotonic() - last_scan > FULL_RESCAN_SECONDS
                if batch is None and not rescan and not result.watching:
                    continue      # nothing edited and nothing out there to look at: an idle daemon stays idle
            if rescan:
                last_scan = time.monotonic()
            dirty = set(batch.paths) if batch is not None else set()
            outcome = guarded_pass(orch, backoff, dirty=dirty, rescan=rescan)
            result = outcome or result


def _wait_out(watcher: VaultWatcher, seconds: float, stop: Callable[[], bool]) -> None:
    """Let `seconds` pass, edits or not (they are picked up by the rescan that follows)."""
    deadline = time.monotonic() + seconds
    while not stop() and (left := deadline - time.monotonic()) > 0:
        watcher.next_batch(timeout=left)


__all__ = ["open_orchestrator", "run_until_idle", "watch", "vault_lock", "IdleResult", "VaultzoeError", "Backoff",
           "guarded_pass", "sigterm_as_interrupt", "write_refusal"]
