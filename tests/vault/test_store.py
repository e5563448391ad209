"""The store writes atomically, never over a change it has not seen, and only inside the vault."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from vaultzoe.errors import PathOutsideVault, VaultError, WriteConflict
from vaultzoe.vault.edit import set_frontmatter
from vaultzoe.vault.store import Snapshot, VaultStore

NOTE = "---\r\nstatus: queued\r\n---\r\nThe human's words.\r\n"


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    root.mkdir()
    return root


@pytest.fixture
def store(vault: Path) -> VaultStore:
    return VaultStore(vault)


def entries(folder: Path) -> list[str]:
    """Every file name in a folder, dot-files included, so a leftover temp file shows up."""
    return sorted(os.listdir(folder))


def test_a_missing_file_reads_as_empty(store):
    assert store.read("Nope.md") == Snapshot("", "", exists=False)


def test_read_keeps_bom_and_crlf_and_write_puts_back_the_same_bytes(store, vault):
    raw = b"\xef\xbb\xbf" + NOTE.encode()
    (vault / "Task.md").write_bytes(raw)
    snapshot = store.read("Task.md")
    assert snapshot.text == "\ufeff" + NOTE and snapshot.exists
    store.write("Task.md", snapshot.text.replace("queued", "running"), snapshot)
    assert (vault / "Task.md").read_bytes() == raw.replace(b"queued", b"running")


def test_write_refuses_a_file_changed_since_it_was_read(store, vault):
    (vault / "Task.md").write_text("one")
    snapshot = store.read("Task.md")
    (vault / "Task.md").write_text("two, by the human")
    with pytest.raises(WriteConflict, match="changed on disk"):
        store.write("Task.md", "ours", snapshot)
    assert (vault / "Task.md").read_text() == "two, by the human"


def test_write_refuses_a_file_that_appeared_after_reading_it_missing(store, vault):
    snapshot = store.read("New.md")
    (vault / "New.md").write_text("the human was faster")
    with pytest.raises(WriteConflict, match="appeared"):
        store.write("New.md", "ours", snapshot)
    assert (vault / "New.md").read_text() == "the human was faster"


def test_write_refuses_a_file_deleted_since_it_was_read(store, vault):
    (vault / "Task.md").write_text("one")
    snapshot = store.read("Task.md")
    (vault / "Task.md").unlink()
    with pytest.raises(WriteConflict):
        store.write("Task.md", "ours", snapshot)
    assert not (vault / "Task.md").exists()


def test_writes_leave_no_temp_files_behind(store, vault):
    (vault / "Task.md").write_text("one")
    store.edit("Task.md", lambda text: text + " two")
    store.create("Other.md", "x")
    assert entries(vault) == ["Other.md", "Task.md"]


def test_edit_creates_missing_files_and_their_folders(store, vault):
    assert store.edit("Zoe/Attempts/T-1 #1.md", lambda text: text + "hello\n") == "hello\n"
    assert (vault / "Zoe/Attempts/T-1 #1.md").read_text() == "hello\n"


def test_edit_writes_nothing_when_the_change_changes_nothing(store, vault):
    note = vault / "Task.md"
    note.write_text(NOTE)
    before = os.stat(note)
    assert store.edit("Task.md", lambda text: text) == NOTE
    after = os.stat(note)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert store.edit("Absent.md", lambda text: text) == ""
    assert not (vault / "Absent.md").exists()


def test_a_human_edit_between_read_and_write_survives_and_ours_lands_on_top(store, vault):
    note = vault / "Task.md"
    note.write_bytes(NOTE.encode())
    calls = []

    def human_saves() -> None:
        # Written the way an editor does, in place, by another thread while we hold our stale read.
        with open(note, "ab") as handle:
            handle.write(b"A line the human added.\r\n")

    def change(text: str) -> str:
        calls.append(text)
        if len(calls) == 1:
            worker = threading.Thread(target=human_saves)
            worker.start()
            worker.join()
        return set_frontmatter(text, {"status": "running"})

    result = store.edit("Task.md", change)

    assert len(calls) == 2 and "A line the human added." in calls[1]
    expected = NOTE.replace("queued", "running") + "A line the human added.\r\n"
    assert result == expected
    assert note.read_bytes() == expected.encode()


def test_edit_gives_up_when_the_file_never_holds_still(store, vault):
    note = vault / "Task.md"
    note.write_text("0")

    def change(text: str) -> str:
        note.write_text(str(int(note.read_text()) + 1))
        return text + " ours"

    with pytest.raises(WriteConflict, match="3 tries"):
        store.edit("Task.md", change, attempts=3)
    assert note.read_text() == "3"


def test_concurrent_editors_in_one_process_lose_no_change(store, vault):
    (vault / "Log.md").write_text("")

    def append_lines(who: str) -> None:
        for number in range(15):
            store.edit("Log.md", lambda text, n=number: text + f"{who} {n}\n", attempts=100)

    workers = [threading.Thread(target=append_lines, args=(who,)) for who in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lines = (vault / "Log.md").read_text().splitlines()
    assert sorted(lines) == sorted(f"{who} {n}" for who in ("a", "b") for n in range(15))


def test_readers_never_see_a_half_written_file(store, vault):
    note = vault / "Big.md"
    versions = [b"a" * 300_000, b"b" * 200_000]
    note.write_bytes(versions[0])
    seen: set[tuple[bytes, int]] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            data = note.read_bytes()
            seen.add((data[:1], len(data)))

    worker = threading.Thread(target=reader)
    worker.start()
    try:
        for number in range(8):
            store.edit("Big.md", lambda text, n=number: versions[(n + 1) % 2].decode())
    finally:
        stop.set()
        worker.join()
    # A torn or truncated file would show a length no version has.
    assert seen <= {(b"a", 300_000), (b"b", 200_000)}


def test_create_never_overwrites(store, vault):
    assert store.create("Zoe/Inbox.md", "first\n") is True
    assert store.create("Zoe/Inbox.md", "second\n") is False
    assert (vault / "Zoe/Inbox.md").read_text() == "first\n"
    assert entries(vault / "Zoe") == ["Inbox.md"]


def test_permission_bits_are_kept(store, vault):
    note = vault / "Private.md"
    note.write_text("x")
    note.chmod(0o640)
    store.edit("Private.md", lambda text: text + "y")
    assert stat.S_IMODE(note.stat().st_mode) == 0o640


def test_new_files_follow_the_umask(store, vault):
    old = os.umask(0o027)
    try:
        store.create("New.md", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((vault / "New.md").stat().st_mode) == 0o640


def test_read_only_files_are_refused(store, vault):
    note = vault / "Locked.md"
    note.write_text("x")
    note.chmod(0o444)
    with pytest.raises(VaultError, match="read-only"):
        store.edit("Locked.md", lambda text: text + "y")
    assert note.read_text() == "x"


def test_undecodable_bytes_are_refused_not_mangled(store, vault):
    raw = b"---\nstatus: queued\n---\ncaf\xe9\n"
    (vault / "Latin1.md").write_bytes(raw)
    with pytest.raises(VaultError, match=r"not UTF-8 .*0xe9 at offset 26"):
        store.edit("Latin1.md", lambda text: text + "x")
    assert (vault / "Latin1.md").read_bytes() == raw


def test_a_folder_is_not_a_note(store, vault):
    (vault / "Folder.md").mkdir()
    with pytest.raises(VaultError, match="folder"):
        store.read("Folder.md")


def test_own_writes_are_recognised_until_someone_else_writes(store, vault):
    assert store.is_own_write("Task.md") is False
    store.create("Task.md", "ours\n")
    assert store.is_own_write("Task.md") is True
    (vault / "Task.md").write_text("ours\n!")
    assert store.is_own_write("Task.md") is False
    (vault / "Task.md").write_text("theirs\n")
    assert store.is_own_write("Task.md") is False
    store.edit("Task.md", lambda text: text + "more\n")
    assert store.is_own_write("./Task.md") is True
    (vault / "Task.md").unlink()
    assert store.is_own_write("Task.md") is False


def test_own_writes_are_per_path(store, vault):
    store.create("A.md", "same")
    (vault / "B.md").write_text("same")
    assert store.is_own_write("A.md") and not store.is_own_write("B.md")
    assert store.is_own_write("../outside.md") is False


@pytest.mark.parametrize("path", ["../escape.md", "/etc/passwd", "a/../../escape.md", "", "Zoe/../..", "."])
def test_paths_leaving_the_vault_are_refused(store, path):
    with pytest.raises(PathOutsideVault):
        store.read(path)
    with pytest.raises(PathOutsideVault):
        store.create(path, "x")
    with pytest.raises(PathOutsideVault):
        store.edit(path, lambda text: "x")


def test_symlinks_pointing_outside_are_refused(store, vault, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("keep")
    (vault / "linked").symlink_to(outside)
    (vault / "leak.md").symlink_to(outside / "secret.md")
    for path in ("linked/secret.md", "leak.md", "linked/new.md"):
        with pytest.raises(PathOutsideVault, match="outside the vault"):
            store.edit(path, lambda text: "changed")
    assert (outside / "secret.md").read_text() == "keep"
    assert entries(outside) == ["secret.md"]


def test_a_symlink_inside_the_vault_is_written_through(store, vault):
    (vault / "Real.md").write_text("one")
    (vault / "Alias.md").symlink_to("Real.md")
    store.edit("Alias.md", lambda text: text + " two")
    assert (vault / "Alias.md").is_symlink()
    assert (vault / "Real.md").read_text() == "one two"
    assert store.is_own_write("Real.md") and store.is_own_write("Alias.md")


def test_a_vault_reached_through_a_symlink_works(vault, tmp_path):
    (tmp_path / "via").symlink_to(vault)
    store = VaultStore(tmp_path / "via")
    store.create("Note.md", "x")
    assert (vault / "Note.md").read_text() == "x"
    assert store.is_own_write("Note.md")


def test_a_missing_vault_is_a_clear_error(tmp_path):
    with pytest.raises(VaultError, match="No vault at"):
        VaultStore(tmp_path / "nope")


def test_text_utf8_cannot_hold_is_refused(store, vault):
    with pytest.raises(VaultError, match="UTF-8"):
        store.create("Bad.md", "lone \ud800 surrogate")
    assert not (vault / "Bad.md").exists()


# ------------------------------------------------------------------------------------------------ racing editors


def leases_work(folder: Path) -> bool:
    """Whether this kernel and filesystem grant us read leases (the store's guard against late saves)."""
    import fcntl

    probe = folder / ".lease-probe"
    probe.write_text("x")
    fd = os.open(probe, os.O_RDONLY)
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink()


def human_saves_during_our_fsync(monkeypatch, save: Callable[[], None]) -> None:
    """Run `save` once, at the first fsync: our temp file is written, our rename has not happened yet."""
    real_fsync = os.fsync
    fired = []

    def fsync(fd: int) -> None:
        real_fsync(fd)
        if not fired:
            fired.append(True)
            save()

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_save_renamed_into_place_while_we_write_is_kept(store, vault, monkeypatch):
    note = vault / "Task.md"
    note.write_bytes(NOTE.encode())

    def editor_renames_its_save() -> None:
        temp = vault / ".Task.md.swp"
        temp.write_bytes(NOTE.encode() + b"Saved by renaming.\r\n")
        os.replace(temp, note)

    human_saves_during_our_fsync(monkeypatch, editor_renames_its_save)
    store.edit("Task.md", lambda text: set_frontmatter(text, {"status": "running"}))
    assert note.read_bytes() == NOTE.replace("queued", "running").encode() + b"Saved by renaming.\r\n"
    assert entries(vault) == ["Task.md"]


def test_a_save_into_the_file_we_replace_is_kept_however_late_it_lands(store, vault, monkeypatch):
    if not leases_work(vault):
        pytest.skip("this filesystem grants no file leases; the store falls back to looking again")
    note = vault / "Task.md"
    note.write_bytes(NOTE.encode())
    go_on = threading.Event()

    def editor() -> None:
        # Opened before our rename (or, with the lease, held in open() until we are done with the old file),
        # written 0.3 s later: long after any quick look at the replaced file would have ended.
        with open(note, "r+b") as handle:
            go_on.wait(0.3)              # (set as soon as our edit has returned)
            handle.truncate(0)
            handle.write(NOTE.encode() + b"Written late.\r\n")

    worker = threading.Thread(target=editor)

    def start_the_editor() -> None:
        worker.start()
        worker.join(0.1)      # it opens the note now, or waits in open() for our lease

    human_saves_during_our_fsync(monkeypatch, start_the_editor)
    try:
        store.edit("Task.md", lambda text: set_frontmatter(text, {"status": "running"}))
    finally:
        go_on.set()
        worker.join()
    assert note.read_bytes() == NOTE.replace("queued", "running").encode() + b"Written late.\r\n"
    assert entries(vault) == ["Task.md"]


def test_a_save_renamed_into_place_at_the_last_moment_is_put_back(store, vault, monkeypatch):
    note = vault / "Task.md"
    note.write_bytes(NOTE.encode())
    real_fstat = os.fstat
    fired = []

    def fstat(fd: int):
        result = real_fstat(fd)
        # The first look at the compared file once our temp file exists: our last check before the swap.
        if not fired and any(name.endswith(".tmp") for name in os.listdir(vault)):
            fired.append(True)
            temp = vault / ".Task.md.swp"
            temp.write_bytes(NOTE.encode() + b"Renamed in at the last moment.\r\n")
            os.replace(temp, note)
        return result

    monkeypatch.setattr(os, "fstat", fstat)
    store.edit("Task.md", lambda text: set_frontmatter(text, {"status": "running"}))
    assert fired
    assert note.read_bytes() == NOTE.replace("queued", "running").encode() + b"Renamed in at the last moment.\r\n"
    assert entries(vault) == ["Task.md"]
