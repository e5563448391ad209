"""The loop: one pass, passes until idle, or a watcher-driven daemon (a `for` loop with `finally`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from .errors import VaultzoeError
from .orchestrator import Orchestrator, Parts, PassResult
from .vault.watch import VaultWatcher, vault_lock

log = logging.getLogger("vaultzoe")

FULL_RESCAN_SECONDS = 300.0


@dataclass(frozen=True)
class IdleResult:
    idle: bool
    passes: int
    seconds: float
    last: PassResult


def open_orchestrator(root: Path, flags: Mapping[str, object] | None = None, parts: Parts | None = None) -> Orchestrator:
    return Orchestrator(root, parts or Parts.real(root), flags)


def run_until_idle(orch: Orchestrator, timeout: float | None = None, pause: float = 0.5,
                   on_pass: Callable[[PassResult], None] | None = None) -> IdleResult:
    """At least one full pass, then passes until nothing is queued, running or checking."""
    start = time.monotonic()
    passes = 0
    while True:
        result = orch.reconcile()
        passes += 1
        if on_pass:
            on_pass(result)
        elapsed = time.monotonic() - start
        if not result.busy:
            return IdleResult(True, passes, elapsed, result)
        if timeout is not None and elapsed >= timeout:
            return IdleResult(False, passes, elapsed, result)
        time.sleep(pause)


def watch(orch: Orchestrator, on_pass: Callable[[PassResult], None] | None = None,
          stop: Callable[[], bool] = lambda: False) -> None:
    """React to edits within a fraction of a second; look at agents, PRs and CI on a timer."""
    with VaultWatcher(orch.root, orch.store.is_own_write) as watcher:
        result = orch.reconcile()
        last_scan = time.monotonic()
        while not stop():
            if on_pass:
                on_pass(result)
            wait = 1.0 if result.busy else orch.settings.poll_seconds
            batch = watcher.next_batch(timeout=wait)
            # a full stat scan now and then, so a lost inotify event is only ever late, never lost
            rescan = (batch is not None and batch.rescan) or time.monotonic() - last_scan > FULL_RESCAN_SECONDS
            if batch is None and not rescan and not result.watching:
                continue      # nothing edited and nothing out there to look at: an idle daemon stays idle
            if rescan:
                last_scan = time.monotonic()
            dirty = set(batch.paths) if batch is not None else set()
            result = orch.reconcile(dirty=dirty, rescan=rescan)


__all__ = ["open_orchestrator", "run_until_idle", "watch", "vault_lock", "IdleResult", "VaultzoeError"]
