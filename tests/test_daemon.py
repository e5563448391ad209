"""The daemon loop outlives a disk that refuses writes: one log line, backing off, recovering by itself."""

from __future__ import annotations

import errno
import logging
import threading
import time
from pathlib import Path

import pytest

from vaultzoe.daemon import Backoff, open_orchestrator, run_until_idle, watch, write_refusal
from vaultzoe.errors import VaultError, VaultWriteError
from vaultzoe.scaffold import init_vault

from .tinydisk import fill, mounted

PATIENCE = 60.0


def test_backoff_doubles_from_1_to_30_seconds_and_logs_once_per_outage(caplog):
    backoff = Backoff()
    with caplog.at_level(logging.WARNING, logger="vaultzoe"):
        delays = [backoff.failed(OSError(errno.ENOSPC, "No space left on device")) for _ in range(8)]
        backoff.succeeded()
        backoff.succeeded()
        again = backoff.failed(OSError(errno.EROFS, "Read-only file system"))
        backoff.succeeded()
        backoff.failed(None)             # the orchestrator logged this one itself
        backoff.succeeded()
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30] and again == 1 and backoff.delay is None
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 4, lines
    assert "No space left" in lines[0] and "can write again" in lines[1] and "Read-only" in lines[2]


def test_a_refused_write_is_recognised_through_its_causes():
    full = OSError(errno.ENOSPC, "No space left on device")
    assert write_refusal(full) is full
    typed = VaultWriteError("cannot write Zoe/Inbox.md: the disk is full", errno.ENOSPC)
    assert write_refusal(typed) is typed
    try:
        try:
            raise full
        except OSError as error:
            raise VaultError("the registry could not be written") from error
    except VaultError as wrapped:
        assert write_refusal(wrapped) is full
    assert write_refusal(OSError(errno.ENOENT, "gone")) is None
    assert write_refusal(ValueError("no")) is None


@pytest.fixture
def full_vault(tmp_path: Path, monkeypatch):
    """A vault with a queued task on a 1 MB tmpfs that is full; yields (vault, ballast)."""
    monkeypatch.setenv("VAULTZOE_PLANNER", "template")
    monkeypatch.setenv("VAULTZOE_POLL_SECONDS", "0.2")
    for disk in mounted(tmp_path / "disk", "1m"):
        vault = disk / "vault"
        init_vault(vault)
        task = vault / "Tasks" / "Example task.md"
        task.write_text(task.read_text().replace("status: draft", "status: queued"))
        yield vault, disk


def test_the_watch_loop_outlives_a_full_disk_and_recovers_by_itself(full_vault, caplog):
    vault, disk = full_vault
    orch = open_orchestrator(vault)
    ballast = fill(disk)
    stop = threading.Event()
    died: list[BaseException] = []

    def daemon() -> None:
        try:
            watch(orch, stop=stop.is_set)
        except BaseException as error:  # noqa: BLE001 - the test reports it
            died.append(error)

    worker = threading.Thread(target=daemon)
    with caplog.at_level(logging.INFO):
        worker.start()
        try:
            time.sleep(3)                 # passes fail and back off meanwhile (1 s, 2 s, ...)
            assert worker.is_alive() and not died
            task = vault / "Tasks" / "Example task.md"
            assert "id:" not in task.read_text()
            ballast.unlink()
            deadline = time.monotonic() + PATIENCE
            while "id:" not in task.read_text():
                assert time.monotonic() < deadline and not died, f"no recovery: {died}"
                time.sleep(0.1)
        finally:
            stop.set()
            worker.join(PATIENCE)
    assert not died and not worker.is_alive()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]        # one line for the outage, not one per pass
    assert not [r for r in caplog.records if r.exc_info], "a refused write is a line, not a traceback"
    assert not [name for name in _all_names(vault) if name.endswith(".tmp")]


def test_run_until_idle_outlives_a_full_disk(full_vault):
    vault, disk = full_vault
    orch = open_orchestrator(vault)
    ballast = fill(disk)
    timer = threading.Timer(2.5, ballast.unlink)
    timer.start()
    try:
        outcome = run_until_idle(orch, timeout=PATIENCE, pause=0.1)
    finally:
        timer.cancel()
    assert outcome.idle
    assert "id:" in (vault / "Tasks" / "Example task.md").read_text()


def _all_names(folder: Path) -> list[str]:
    return [path.name for path in folder.rglob("*")]
