"""The one-instance lock: one vaultzoe per vault, held with flock on <vault>/.vaultzoe/watch.lock."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vaultzoe.errors import AlreadyRunning, VaultError, VaultWriteError
from vaultzoe.layout import STATE_DIR

log = logging.getLogger("vaultzoe.vault.watch")   # the lock logged as part of the watcher before the split

LOCK_FOLDER = STATE_DIR
LOCK_FILE = "watch.lock"


@contextmanager
def vault_lock(root: Path) -> Iterator[Path]:
    """Hold <vault>/.vaultzoe/watch.lock for the duration; AlreadyRunning when another process holds it.

    A disk that refuses writes (full, read-only) does not stop us: the pid in the file is only a courtesy,
    and flock works on a descriptor opened read-only.
    """
    root = Path(root)
    if not root.is_dir():
        raise VaultError(f"No vault at {root}: create the folder or give the path of an existing vault")
    lock_path = root / LOCK_FOLDER / LOCK_FILE
    fd = _open_lock(lock_path)
    try:
        _take_lock(fd, root, lock_path)
        try:
            yield lock_path
        finally:
            _leave_pid(fd, b"")
    finally:
        os.close(fd)


def _open_lock(lock_path: Path) -> int:
    """The lock file's descriptor (os.open's is not inherited by agents, so the lock dies with this process)."""
    try:
        lock_path.parent.mkdir(exist_ok=True)
        return os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        if error.errno not in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT):
            raise
        try:
            return os.open(lock_path, os.O_RDONLY)
        except FileNotFoundError:
            raise VaultWriteError(
                f"Cannot create {lock_path} ({os.strerror(error.errno)}): free some space or make "
                f"{lock_path.parent.parent} writable, then start vaultzoe again", error.errno
            ) from error


def _take_lock(fd: int, root: Path, lock_path: Path) -> None:
    """flock without waiting, then leave our pid for whoever finds the lock taken."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise AlreadyRunning(_already_running(root, lock_path, _holder_pid(fd))) from None
    _leave_pid(fd, f"{os.getpid()}\n".encode())


def _leave_pid(fd: int, text: bytes) -> None:
    """Write (or clear) our pid in the lock file; a full or read-only disk only costs the courtesy."""
    try:
        os.ftruncate(fd, 0)
        if text:
            os.pwrite(fd, text, 0)
    except OSError as error:
        if text:
            log.warning("could not write the pid into the lock file (%s); the lock holds all the same", error.strerror)


def _holder_pid(fd: int) -> int | None:
    """The pid the holder wrote into the lock file, if it got that far."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def _already_running(root: Path, lock_path: Path, pid: int | None) -> str:
    if pid is None:
        return f"Another vaultzoe is already working on {root} (it holds {lock_path}): stop it first"
    return f"Another vaultzoe (pid {pid}) is already working on {root}: stop it first (kill {pid}) or wait for it to exit"
