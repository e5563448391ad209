"""Bytes on disk, whole or not at all: temp files written and fsynced, folders made, and what a refused write means."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vaultzoe.errors import VaultWriteError

# What the human can do about a write the disk refused.
REFUSALS = {
    errno.ENOSPC: "the disk is full: free some space on it",
    errno.EDQUOT: "the disk quota is used up: free some space or raise the quota",
    errno.EACCES: "permission denied: give your user write permission on the note and its folder",
    errno.EPERM: "permission denied: give your user write permission on the note and its folder",
    errno.EROFS: "the file system is read-only: remount it read-write",
    errno.EIO: "the disk reported an I/O error: check it (dmesg) before anything else",
}


@contextmanager
def disk_refusals(path: str) -> Iterator[None]:
    """A full, read-only or forbidden disk becomes one VaultWriteError naming the fix; no temp file is left."""
    try:
        yield
    except OSError as error:
        if error.errno not in REFUSALS:
            raise
        raise VaultWriteError(
            f"vaultzoe cannot write {path}: {REFUSALS[error.errno]}; it retries by itself", error.errno, path
        ) from error


def read_fd(fd: int) -> bytes:
    """Every byte of an open file, from the start (the offset of `fd` is left alone)."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; the ones created, outermost first."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(exist_ok=True)
    return missing[::-1]


def write_temp(target: Path, data: bytes, mode: int | None) -> Path:
    """A fully written and fsynced dot-file beside `target` (hidden from Obsidian and the watcher)."""
    temp = target.with_name(f".{target.name[:80]}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        write_all(fd, data, mode)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def write_all(fd: int, data: bytes, mode: int | None = None) -> None:
    """Set the mode (open() is subject to the umask), write, fsync and close."""
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
