"""A disk that refuses writes (full, read-only): one typed error naming the fix, no temp file left, recovery."""

from __future__ import annotations

import errno
import os

import pytest

from vaultzoe.errors import VaultError, VaultWriteError
from vaultzoe.vault.store import VaultStore

from ..tinydisk import fill, remount, tiny_disk  # noqa: F401 - the fixture

NOTE = "---\nstatus: queued\n---\nThe human's words.\n"


def test_a_full_disk_is_one_typed_error_no_temp_file_and_recovers(tiny_disk):
    vault = tiny_disk / "vault"
    vault.mkdir()
    (vault / "Task.md").write_text(NOTE)
    store = VaultStore(vault)
    ballast = fill(tiny_disk)
    before = sorted(os.listdir(vault))
    grow = lambda text: text + "x" * 20_000 + "\n"   # noqa: E731 - more than any block left
    with pytest.raises(VaultWriteError, match="disk is full: free some space") as caught:
        store.edit("Task.md", grow)
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, "Task.md")
    with pytest.raises(VaultWriteError):
        store.create("Zoe/Inbox.md", "y" * 20_000)
    assert sorted(os.listdir(vault)) == before
    assert (vault / "Task.md").read_text() == NOTE
    ballast.unlink()
    store.edit("Task.md", grow)
    assert store.create("Zoe/Inbox.md", "inbox\n")
    assert sorted(os.listdir(vault)) == ["Task.md", "Zoe"]


def test_a_read_only_file_system_is_one_typed_error(tiny_disk):
    vault = tiny_disk / "vault"
    vault.mkdir()
    (vault / "Task.md").write_text(NOTE)
    store = VaultStore(vault)
    remount(tiny_disk, "ro")
    with pytest.raises(VaultWriteError, match="read-only: remount it read-write") as caught:
        store.edit("Task.md", lambda text: text + "more\n")
    assert caught.value.errno == errno.EROFS
    remount(tiny_disk, "rw")
    store.edit("Task.md", lambda text: text + "more\n")
    assert (vault / "Task.md").read_text() == NOTE + "more\n"


@pytest.mark.parametrize("step", ["temp file", "folder"])
def test_fsync_refusing_leaves_no_temp_file(tmp_path, monkeypatch, step):
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "Task.md").write_text(NOTE)
    store = VaultStore(vault)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        # Network and delayed-allocation filesystems report a full disk only when the data is flushed.
        if os.path.isdir(f"/proc/self/fd/{fd}") == (step == "folder"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(VaultWriteError, match="free some space"):
        store.edit("Task.md", lambda text: text + "more\n")
    with pytest.raises(VaultWriteError):
        store.create("New.md", "new\n")
    assert not [name for name in os.listdir(vault) if name.startswith(".")]


def test_a_folder_we_may_not_write_is_one_typed_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere; the read-only tmpfs test covers this")
    vault = tmp_path / "vault"
    (vault / "Zoe").mkdir(parents=True)
    (vault / "Zoe").chmod(0o555)
    try:
        with pytest.raises(VaultWriteError, match="permission denied") as caught:
            VaultStore(vault).create("Zoe/Inbox.md", "x")
        assert caught.value.errno == errno.EACCES
        assert isinstance(caught.value, VaultError)
    finally:
        (vault / "Zoe").chmod(0o755)
