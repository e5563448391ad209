"""The watcher turns real inotify events into debounced batches; the lock keeps one vaultzoe per vault."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from vaultzoe.errors import AlreadyRunning, VaultError, VaultWriteError
from vaultzoe.vault.store import VaultStore
from vaultzoe.vault.watch import Batch, Change, Debouncer, VaultWatcher, change_of, is_ignored, vault_lock

from ..tinydisk import fill, remount, tiny_disk  # noqa: F401 - the fixture

# Generous: a loaded 2-core machine may take seconds to deliver an event; tests wait for conditions, not sleeps.
PATIENCE = 20.0


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / "Notes").mkdir(parents=True)
    return root


def never_ours(path: str) -> bool:
    return False


def collect(watcher: VaultWatcher, done: Callable[[set[str], bool], bool]) -> tuple[set[str], bool, list[Batch]]:
    """Gather batches until `done(paths, rescan)` holds; fail after PATIENCE seconds."""
    paths: set[str] = set()
    rescan = False
    batches: list[Batch] = []
    deadline = time.monotonic() + PATIENCE
    while not done(paths, rescan):
        assert time.monotonic() < deadline, f"gave up waiting; saw {sorted(paths)} rescan={rescan}"
        batch = watcher.next_batch(timeout=0.5)
        if batch is not None:
            batches.append(batch)
            paths |= batch.paths
            rescan = rescan or batch.rescan
    return paths, rescan, batches


def until_seen(*wanted: str) -> Callable[[set[str], bool], bool]:
    return lambda paths, rescan: set(wanted) <= paths


# ------------------------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    "path",
    [".obsidian/workspace.json", ".trash/Old.md", ".vaultzoe/runs/t/1/log", ".git/index", "Notes/.hidden.md",
     "Notes/.#Task.md", "Notes/.Task.md.swp", "Task.md~", "Notes/x.tmp", "a/.stfolder/x.md", "#Task.md#", "4913",
     "..", "../outside.md", "", "Notes/Task.md.crswap"],
)
def test_housekeeping_paths_are_ignored(path):
    assert is_ignored(path)


@pytest.mark.parametrize("path", ["Task.md", "Notes/Meeting 2024-05-01.md", "Zoe/Registry.md", "img/a.png",
                                  "Café/Ünïcode 🎉.md", "Notes/#hashtag.md", "v1.2/notes.md"])
def test_vault_paths_are_watched(path):
    assert not is_ignored(path)


def test_events_translate_to_relative_paths():
    root = "/v"
    assert change_of(FileModifiedEvent("/v/Notes/A.md"), root, 1.0) == Change(("Notes/A.md",), False, 1.0)
    assert change_of(FileMovedEvent("/v/A.md", "/v/B.md"), root, 2.0) == Change(("A.md", "B.md"), False, 2.0)
    assert change_of(FileMovedEvent("/v/.A.md.1234.tmp", "/v/A.md"), root, 0) == Change(("A.md",), False, 0)
    assert change_of(FileMovedEvent("/v/A.md", "/v/.trash/A.md"), root, 0) == Change(("A.md",), False, 0)


def test_events_that_change_nothing_are_dropped():
    root = "/v"
    for event in (FileOpenedEvent("/v/A.md"), FileClosedNoWriteEvent("/v/A.md"), DirModifiedEvent("/v/Notes"),
                  DirCreatedEvent("/v/New"), FileCreatedEvent("/v/.obsidian/x.json"), FileModifiedEvent("/elsewhere/A.md"),
                  DirDeletedEvent("/v/.trash/Old"), DirMovedEvent("/v/.obsidian/a", "/v/.obsidian/b")):
        assert change_of(event, root, 0) is None, event


def test_folder_moves_and_deletions_ask_for_a_rescan():
    root = "/v"
    assert change_of(DirMovedEvent("/v/Notes", "/v/Archive"), root, 0).rescan
    assert change_of(DirMovedEvent("/v/.trash/Old", "/v/Old"), root, 0).rescan
    assert change_of(DirDeletedEvent("/v/Notes"), root, 0).rescan
    assert change_of(DirDeletedEvent("/v"), root, 0).rescan


def test_the_debouncer_releases_a_path_after_it_is_quiet():
    debouncer = Debouncer(0.15)
    debouncer.add(Change(("a",), False, 10.0))
    debouncer.add(Change(("b",), False, 10.1))
    assert debouncer.next_due() == pytest.approx(10.15)
    assert debouncer.release(10.1) == (frozenset(), False)
    debouncer.add(Change(("a",), False, 10.12))
    assert debouncer.release(10.26) == (frozenset({"b"}), False)
    assert debouncer.release(10.27) == (frozenset({"a"}), False)
    assert debouncer.next_due() is None


def test_a_rescan_takes_everything_pending_with_it():
    debouncer = Debouncer(0.5)
    debouncer.add(Change(("a",), False, 1.0))
    debouncer.add(Change((), True, 1.2))
    assert debouncer.release(1.6) == (frozenset({"a"}), False)
    debouncer.add(Change(("b",), False, 1.65))
    assert debouncer.release(1.7) == (frozenset({"b"}), True)
    assert debouncer.release(99) == (frozenset(), False)


def test_an_event_seen_late_never_moves_a_timer_back():
    debouncer = Debouncer(1.0)
    debouncer.add(Change(("a",), False, 5.0))
    debouncer.add(Change(("a",), False, 4.0))
    assert debouncer.release(5.5) == (frozenset(), False)


def test_a_path_that_never_falls_quiet_is_released_after_max_wait():
    debouncer = Debouncer(0.15, max_wait=1.0)
    for tick in range(10):                       # a save every 100 ms: never quiet for 150 ms
        debouncer.add(Change(("a",), False, tick / 10))
        assert debouncer.release(tick / 10) == (frozenset(), False)
    assert debouncer.next_due() == pytest.approx(1.0)
    debouncer.add(Change(("a",), False, 1.0))
    assert debouncer.release(1.0) == (frozenset({"a"}), False)
    debouncer.add(Change(("a",), False, 1.05))   # the ceiling starts again with the next unreported change
    assert debouncer.next_due() == pytest.approx(1.2)
    assert debouncer.release(1.9) == (frozenset({"a"}), False)


def test_a_rescan_that_keeps_being_asked_for_is_released_after_max_wait():
    debouncer = Debouncer(0.5, max_wait=1.0)
    for tick in range(10):
        debouncer.add(Change((), True, 2 + tick / 10))
    assert debouncer.release(2.95) == (frozenset(), False)
    assert debouncer.release(3.0) == (frozenset(), True)


def test_node_modules_is_ignored_like_a_dot_folder():
    assert is_ignored("node_modules/pkg/README.md") and is_ignored("app/node_modules/x.md")
    assert not is_ignored("node_modules.md") and not is_ignored("Notes/modules/x.md")


# ------------------------------------------------------------------------------------------------ real inotify


def inotify_watch_count() -> int:
    """Watches held by this process's inotify instances, as the kernel lists them in /proc/self/fdinfo."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            count += Path(f"/proc/self/fdinfo/{fd}").read_text().count("inotify wd:")
        except OSError:
            continue
    return count


def test_a_note_saved_without_pause_is_still_reported_while_it_keeps_changing(vault):
    note = vault / "Notes" / "Busy.md"
    note.write_text("0")
    stop = threading.Event()

    def keep_saving() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            note.write_text(str(number))
            stop.wait(0.05)

    # A quiet period of 5 s is never reached while saving every 50 ms; only the ceiling can report it.
    with VaultWatcher(vault, never_ours, debounce=5.0, max_latency=0.5) as watcher:
        saver = threading.Thread(target=keep_saving)
        saver.start()
        try:
            collect(watcher, until_seen("Notes/Busy.md"))
            still_saving = saver.is_alive() and not stop.is_set()
            collect(watcher, until_seen("Notes/Busy.md"))     # and again, while it still changes
            assert saver.is_alive()
        finally:
            stop.set()
            saver.join(PATIENCE)
    assert still_saving


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="counts watches through /proc (Linux)")
def test_state_folders_get_no_inotify_watch(vault, caplog):
    for folder in (".vaultzoe/runs/old/1", ".git/objects/ab", ".trash/Old", "node_modules/pkg/lib", ".obsidian"):
        (vault / folder).mkdir(parents=True)
    before = inotify_watch_count()
    with VaultWatcher(vault, never_ours) as watcher:
        assert inotify_watch_count() - before == 2            # the vault and Notes/, nothing below the others
        for number in range(300):                             # a busy day of agent runs
            run = vault / ".vaultzoe" / "runs" / f"t{number}" / "1"
            run.mkdir(parents=True)
            (run / "output.log").write_text("x" * 100)
        (vault / "node_modules" / "new").mkdir()
        (vault / "Notes" / "Sub").mkdir()
        (vault / "Notes" / "Sub" / "Sentinel.md").write_text("after the runs")
        paths, _, _ = collect(watcher, until_seen("Notes/Sub/Sentinel.md"))
        assert inotify_watch_count() - before == 3            # Notes/Sub is new and watched
    assert paths == {"Notes/Sub/Sentinel.md"}
    assert not [r for r in caplog.records if r.name.startswith("watchdog") and r.levelno >= logging.WARNING]


def test_a_note_moved_into_the_trash_and_back_is_reported(vault):
    (vault / ".trash").mkdir()
    (vault / "Notes" / "Gone.md").write_text("to the trash")
    with VaultWatcher(vault, never_ours) as watcher:
        os.rename(vault / "Notes" / "Gone.md", vault / ".trash" / "Gone.md")
        collect(watcher, until_seen("Notes/Gone.md"))
        os.rename(vault / ".trash" / "Gone.md", vault / "Back.md")
        collect(watcher, until_seen("Back.md"))
        (vault / "Notes" / "Folder").mkdir()
        (vault / "Notes" / "Folder" / "In.md").write_text("a folder to the trash")
        collect(watcher, until_seen("Notes/Folder/In.md"))
        os.rename(vault / "Notes" / "Folder", vault / ".trash" / "Folder")
        _, rescan, _ = collect(watcher, lambda paths, rescan: rescan)
    assert rescan


def test_created_changed_and_deleted_files_are_reported(vault):
    (vault / "Old.md").write_text("bye")
    with VaultWatcher(vault, never_ours) as watcher:
        (vault / "Notes" / "Café 🎉.md").write_text("new")
        (vault / "Old.md").unlink()
        (vault / "deep" / "er").mkdir(parents=True)
        (vault / "deep" / "er" / "x.md").write_text("made with its folders")
        paths, rescan, _ = collect(watcher, until_seen("Notes/Café 🎉.md", "Old.md", "deep/er/x.md"))
    assert paths == {"Notes/Café 🎉.md", "Old.md", "deep/er/x.md"}
    assert not rescan


def test_a_burst_of_saves_comes_out_as_one_batch(vault):
    note = vault / "Notes" / "Task.md"
    note.write_text("0")
    with VaultWatcher(vault, never_ours, debounce=1.5) as watcher:
        for number in range(5):
            note.write_text(str(number))
        _, _, batches = collect(watcher, until_seen("Notes/Task.md"))
        assert watcher.next_batch(timeout=0.2) is None
    assert batches == [Batch(frozenset({"Notes/Task.md"}), False)]


def test_housekeeping_and_temp_files_never_show_up(vault):
    noise = (".obsidian/workspace.json", ".trash/Old.md", ".vaultzoe/state.json", ".git/objects/ab/cd",
             "Notes/.Task.md.swp", "Notes/.#Task.md", "Notes/Task.md~", "Notes/upload.tmp")
    for path in noise:
        (vault / path).parent.mkdir(parents=True, exist_ok=True)
    with VaultWatcher(vault, never_ours) as watcher:
        for path in noise:
            (vault / path).write_text("noise")
        (vault / "Notes" / "Sentinel.md").write_text("written last")
        paths, _, _ = collect(watcher, until_seen("Notes/Sentinel.md"))
    assert paths == {"Notes/Sentinel.md"}


def test_own_writes_are_dropped_and_a_human_edit_after_them_is_not(vault):
    store = VaultStore(vault)
    with VaultWatcher(vault, store.is_own_write) as watcher:
        store.create("Zoe/Registry.md", "| Task |\n")
        store.edit("Notes/Task.md", lambda text: "---\nstatus: running\n---\n")
        (vault / "Notes" / "Sentinel.md").write_text("human")
        paths, _, _ = collect(watcher, until_seen("Notes/Sentinel.md"))
        assert paths == {"Notes/Sentinel.md"}

        store.edit("Notes/Task.md", lambda text: text + "ours\n")
        with open(vault / "Notes" / "Task.md", "a") as handle:
            handle.write("the human, right after us\n")
        paths, _, _ = collect(watcher, until_seen("Notes/Task.md"))
    assert paths == {"Notes/Task.md"}


def test_moves_report_both_ends(vault):
    (vault / "Notes" / "A.md").write_text("a")
    (vault / "Notes" / "Gone.md").write_text("to the trash")
    (vault / ".trash").mkdir()
    with VaultWatcher(vault, never_ours) as watcher:
        os.rename(vault / "Notes" / "A.md", vault / "B.md")
        os.rename(vault / "Notes" / "Gone.md", vault / ".trash" / "Gone.md")
        paths, rescan, _ = collect(watcher, until_seen("Notes/A.md", "B.md", "Notes/Gone.md"))
    assert paths == {"Notes/A.md", "B.md", "Notes/Gone.md"}
    assert not rescan


def test_a_folder_rename_asks_for_a_rescan(vault):
    (vault / "Notes" / "A.md").write_text("a")
    with VaultWatcher(vault, never_ours) as watcher:
        os.rename(vault / "Notes", vault / "Archive")
        paths, rescan, _ = collect(watcher, lambda paths, rescan: rescan)
    assert rescan
    assert paths <= {"Notes/A.md", "Archive/A.md"}


def test_a_deleted_folder_asks_for_a_rescan(vault):
    (vault / "Notes" / "A.md").write_text("a")
    with VaultWatcher(vault, never_ours) as watcher:
        shutil.rmtree(vault / "Notes")
        _, rescan, _ = collect(watcher, lambda paths, rescan: rescan)
    assert rescan


def test_a_folder_moved_in_from_outside_reports_its_files(vault, tmp_path):
    outside = tmp_path / "Downloads" / "Imported"
    (outside / "sub").mkdir(parents=True)
    (outside / "One.md").write_text("1")
    (outside / "sub" / "Two.md").write_text("2")
    with VaultWatcher(vault, never_ours) as watcher:
        os.rename(outside, vault / "Imported")
        paths, _, _ = collect(watcher, until_seen("Imported/One.md", "Imported/sub/Two.md"))
    assert paths == {"Imported/One.md", "Imported/sub/Two.md"}


def test_an_inotify_overflow_asks_for_a_rescan(vault):
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 200_000:
        pytest.skip(f"max_queued_events is {limit}; overflowing it would take too long")
    with VaultWatcher(vault, never_ours) as watcher:
        inotify = watcher._observer._inotify_fd  # watchdog's reader; holding its lock stalls it, like a busy machine
        handles = [os.open(vault / name, os.O_WRONLY | os.O_CREAT) for name in ("x.md", "y.md")]
        try:
            with inotify._lock:
                # Alternating files keeps the kernel from merging events; the reader may grab one buffer first.
                for number in range(limit + 5000):
                    os.write(handles[number % 2], b".")
        finally:
            for handle in handles:
                os.close(handle)
        _, rescan, _ = collect(watcher, lambda paths, rescan: rescan)
        (vault / "After.md").write_text("still watching")
        collect(watcher, until_seen("After.md"))
    assert rescan


def test_a_dead_observer_is_restarted_with_a_rescan(vault):
    with VaultWatcher(vault, never_ours) as watcher:
        for emitter in tuple(watcher._observer.emitters):
            emitter.stop()
            emitter.join(PATIENCE)
        _, rescan, _ = collect(watcher, lambda paths, rescan: rescan)
        (vault / "Notes" / "After.md").write_text("seen by the new observer")
        collect(watcher, until_seen("Notes/After.md"))
    assert rescan


def test_a_vanished_vault_is_a_clear_error(vault):
    with VaultWatcher(vault, never_ours) as watcher:
        shutil.rmtree(vault)
        deadline = time.monotonic() + PATIENCE
        with pytest.raises(VaultError, match="is gone"):
            while time.monotonic() < deadline:
                watcher.next_batch(timeout=0.5)


def test_next_batch_returns_none_after_the_timeout(vault):
    with VaultWatcher(vault, never_ours) as watcher:
        started = time.monotonic()
        assert watcher.next_batch(timeout=0.3) is None
        assert time.monotonic() - started >= 0.3


def test_idle_watching_costs_almost_no_cpu(vault):
    with VaultWatcher(vault, never_ours) as watcher:
        watcher.next_batch(timeout=0.2)
        before = time.process_time()
        assert watcher.next_batch(timeout=2.0) is None
        spent = time.process_time() - before
    # process_time counts only this process, so a busy machine does not inflate it; 5% of a core is the ceiling.
    assert spent < 0.1


def test_leaving_the_block_stops_watchdogs_threads(vault):
    before = set(threading.enumerate())
    with VaultWatcher(vault, never_ours) as watcher:
        assert set(threading.enumerate()) - before
        (vault / "A.md").write_text("a")
        collect(watcher, until_seen("A.md"))
    assert {thread for thread in set(threading.enumerate()) - before if thread.is_alive()} == set()


def test_leaving_the_block_on_an_exception_stops_the_threads_too(vault):
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt), VaultWatcher(vault, never_ours):
        raise KeyboardInterrupt
    assert {thread for thread in set(threading.enumerate()) - before if thread.is_alive()} == set()


def test_next_batch_needs_the_with_block(vault):
    with pytest.raises(RuntimeError, match="with watcher"):
        VaultWatcher(vault, never_ours).next_batch(timeout=0)


# ------------------------------------------------------------------------------------------------ one per vault


def test_the_lock_records_our_pid_and_refuses_a_second_holder(vault):
    with vault_lock(vault) as lock_path:
        assert lock_path == vault / ".vaultzoe" / "watch.lock"
        assert lock_path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
            with vault_lock(vault):
                pass
    with vault_lock(vault):
        pass


HOLDER = """
import sys
from pathlib import Path
from vaultzoe.vault.watch import vault_lock
with vault_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_another_process_holding_the_lock_is_named_and_its_death_frees_it(vault):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(vault)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(AlreadyRunning, match=rf"pid {holder.pid}\).*{vault.name}.*kill {holder.pid}"):
            with vault_lock(vault):
                pass
    finally:
        holder.kill()
        holder.wait(PATIENCE)
        holder.stdin.close()
        holder.stdout.close()
    with vault_lock(vault):
        pass


def test_the_lock_needs_an_existing_vault(tmp_path):
    with pytest.raises(VaultError, match="No vault at"):
        with vault_lock(tmp_path / "nope"):
            pass
    assert not (tmp_path / "nope").exists()


def test_the_lock_holds_on_a_full_disk_without_its_pid(tiny_disk, caplog):
    vault = tiny_disk / "vault"
    (vault / ".vaultzoe").mkdir(parents=True)
    (vault / ".vaultzoe" / "watch.lock").touch()
    fill(tiny_disk)
    with vault_lock(vault) as lock_path:
        assert lock_path.read_bytes() == b""
        with pytest.raises(AlreadyRunning, match="already working on"):
            with vault_lock(vault):
                pass
    assert "the lock holds all the same" in caplog.text
    with vault_lock(vault):
        pass


def test_the_lock_holds_on_a_read_only_disk(tiny_disk):
    vault = tiny_disk / "vault"
    (vault / ".vaultzoe").mkdir(parents=True)
    (vault / ".vaultzoe" / "watch.lock").write_text("12345\n")
    remount(tiny_disk, "ro")
    with vault_lock(vault):
        with pytest.raises(AlreadyRunning):
            with vault_lock(vault):
                pass


def test_a_lock_that_cannot_be_created_names_the_fix(tiny_disk):
    vault = tiny_disk / "vault"
    vault.mkdir()
    remount(tiny_disk, "ro")
    with pytest.raises(VaultWriteError, match="Cannot create .*watch.lock .*Read-only file system.*writable"):
        with vault_lock(vault):
            pass
