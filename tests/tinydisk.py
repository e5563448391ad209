"""A real disk that fills up or turns read-only: a tiny tmpfs (root only; tests skip where mount is refused)."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A freshly mounted 64 KB tmpfs, unmounted after the test."""
    yield from mounted(tmp_path / "tiny", "64k")


def mounted(mount: Path, size: str) -> Iterator[Path]:
    mount.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, mode: str) -> None:
    """`ro` or `rw`."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)


def fill(folder: Path) -> Path:
    """Take every free block of the disk that holds `folder`; delete the returned file to give them back."""
    ballast = folder / "ballast.bin"
    with open(ballast, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return ballast
