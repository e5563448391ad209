"""watchdog -> batches of dirty paths (debounced, own writes and .obsidian/ dropped, rescan on overflow).

    VaultWatcher(root: Path, is_own_write: Callable[[str], bool], debounce: float = 0.15, max_latency: float = 1.0)
    with watcher:                         starts/stops the observer
        batch = watcher.next_batch(timeout: float) -> Batch | None
    Batch(paths: frozenset[str], rescan: bool)   vault-relative paths; rescan=True asks for a full refresh

    vault_lock(root: Path) -> context manager      one vaultzoe per vault: flock on <vault>/.vaultzoe/watch.lock;
                                                   a second holder gets AlreadyRunning naming the first one's pid

A path is released once `debounce` seconds pass without an event for it, and at the latest `max_latency` seconds
after its first unreported change (a note saved every 100 ms is still reported once a second); a rescan releases
everything pending. Folders vaultzoe never reads (dot-folders such as .vaultzoe/, .git/, .trash/, and
node_modules/) get no inotify watch at all; a note moved into .trash/ still reports its old path (as deleted).
Paths are files (created, changed, deleted, or either end of a move); folders are never listed: a folder
moved or deleted asks for a rescan, and a folder moved in reports its files. Call next_batch from one thread.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from vaultzoe.errors import VaultError
from vaultzoe.vault.lock import LOCK_FILE, LOCK_FOLDER, vault_lock  # noqa: F401 - where callers find it
from vaultzoe.vault.pruned_inotify import pruned_observer

log = logging.getLogger(__name__)


# Only these reach us: no open/close-without-write events, so reading a note never looks like a change.
_EVENT_TYPES: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
_FILE_EVENT_KINDS = frozenset({"created", "modified", "deleted", "moved", "closed"})
_TEMP_SUFFIXES = ("~", ".tmp", ".swp", ".swx", ".swo", ".crswap")


@dataclass(frozen=True)
class Batch:
    """Paths that changed, and whether the caller should refresh everything."""

    paths: frozenset[str]
    rescan: bool = False


@dataclass(frozen=True)
class Change:
    """What one filesystem event means to vaultzoe, stamped with when it was seen."""

    paths: tuple[str, ...]
    rescan: bool
    at: float


# --------------------------------------------------------------------------------------------- pure core


def is_ignored(relative: str) -> bool:
    """True for paths vaultzoe never reacts to: inside ignored folders (.obsidian, .vaultzoe, ...) and temp files."""
    parts = PurePosixPath(relative).parts
    if not parts or parts[0] == "..":
        return True
    *folders, name = parts
    return any(map(is_ignored_folder, folders)) or is_temp_name(name)


def is_ignored_folder(name: str) -> bool:
    """Folders never watched: dot-folders (.obsidian, .trash, .vaultzoe, .git, sync metadata) and node_modules."""
    return name.startswith(".") or name == "node_modules"


def is_temp_name(name: str) -> bool:
    """Editor and sync scratch files: dot-files (incl. emacs .#locks), *.tmp, *~, vim swap files."""
    if name.startswith(".") or name.endswith(_TEMP_SUFFIXES):
        return True
    # Emacs autosaves are #name#; vim probes a folder's writability with a file named 4913.
    return (len(name) > 1 and name.startswith("#") and name.endswith("#")) or name == "4913"


def relative_to(path: str, root: str) -> str | None:
    """`path` relative to `root` with POSIX separators; "" for the root itself, None when outside."""
    if path == root:
        return ""
    prefix = root.rstrip(os.sep) + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].replace(os.sep, "/")


def change_of(event: FileSystemEvent, root: str, at: float) -> Change | None:
    """Translate one watchdog event into the paths it dirties, or None when it does not matter."""
    ends = [relative_to(os.fsdecode(p), root) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
    if event.is_directory:
        if event.event_type not in ("deleted", "moved"):
            return None
        # A folder that moved or vanished changes every path under it: only a rescan sees them all.
        if ends[0] == "" or any(end is None or not is_ignored(end) for end in ends):
            return Change((), rescan=True, at=at)
        return None
    if event.event_type not in _FILE_EVENT_KINDS:
        return None
    paths = tuple(end for end in ends if end and not is_ignored(end))
    return Change(paths, rescan=False, at=at) if paths else None


class Debouncer:
    """Per-path quiet timers with a ceiling; pure: the caller supplies the clock.

    A path is due once it has been quiet for `quiet` seconds, or `max_wait` seconds after its first
    unreported change, whichever comes first: a note saved every 100 ms is still reported once a second.
    """

    def __init__(self, quiet: float, max_wait: float = 1.0) -> None:
        self.quiet = quiet
        self.max_wait = max(max_wait, quiet)
        self._last_seen: dict[str, float] = {}
        self._first_seen: dict[str, float] = {}
        self._rescan: tuple[float, float] | None = None    # (first, last) unreported rescan request

    def add(self, change: Change) -> None:
        """Note a change; it restarts the quiet timer of each of its paths (the ceiling keeps running)."""
        for path in change.paths:
            self._last_seen[path] = max(change.at, self._last_seen.get(path, change.at))
            self._first_seen.setdefault(path, change.at)
        if change.rescan:
            first, last = self._rescan or (change.at, change.at)
            self._rescan = (first, max(last, change.at))

    def _due_at(self, first: float, last: float) -> float:
        return min(last + self.quiet, first + self.max_wait)

    def next_due(self) -> float | None:
        """When the next path (or rescan) falls due, or None when nothing is pending."""
        times = [self._due_at(self._first_seen[p], last) for p, last in self._last_seen.items()]
        if self._rescan is not None:
            times.append(self._due_at(*self._rescan))
        return min(times) if times else None

    def release(self, now: float) -> tuple[frozenset[str], bool]:
        """Paths that are due, and whether a rescan is due (which takes everything pending)."""
        rescan = self._rescan is not None and now >= self._due_at(*self._rescan)
        due = [p for p, last in self._last_seen.items() if rescan or now >= self._due_at(self._first_seen[p], last)]
        for path in due:
            del self._last_seen[path], self._first_seen[path]
        if rescan:
            self._rescan = None
        return frozenset(due), rescan


# --------------------------------------------------------------------------------------------- the watcher


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's thread: translate and hand over, nothing more."""

    def __init__(self, root: str, sink: Callable[[Change], None]) -> None:
        self._root = root
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        change = change_of(event, self._root, time.monotonic())
        if change is not None:
            self._sink(change)


class _OverflowSignal:
    """An inotify callback of watchdog's that listens only for a kernel queue overflow (events were lost)."""

    def __init__(self, sink: Callable[[Change], None]) -> None:
        self._sink = sink

    def on_event(self, event: object) -> None:
        """Events reach us through the handler; this callback exists for overflows only."""

    def on_watch_deleted(self, wd: object) -> None:
        """A deleted root shows up as a DirDeletedEvent through the handler."""

    def on_queue_overflow(self) -> None:
        self._sink(Change((), rescan=True, at=time.monotonic()))


class VaultWatcher:
    """Batches of changed vault paths, debounced, without vaultzoe's own writes or Obsidian's housekeeping."""

    def __init__(self, root: Path, is_own_write: Callable[[str], bool], debounce: float = 0.15,
                 max_latency: float = 1.0) -> None:
        self.root = Path(os.path.realpath(root))
        self._is_own_write = is_own_write
        self._debouncer = Debouncer(debounce, max_latency)
        self._changes: queue.SimpleQueue[Change] = queue.SimpleQueue()
        self._observer: BaseObserver | None = None

    def __enter__(self) -> VaultWatcher:
        self._start_observer()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop watchdog's threads; safe to call twice."""
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)

    def next_batch(self, timeout: float) -> Batch | None:
        """Wait up to `timeout` seconds for paths to fall quiet; None when none did."""
        if self._observer is None:
            raise RuntimeError("VaultWatcher.next_batch() needs `with watcher:` around it")
        deadline = time.monotonic() + timeout
        while True:
            self._keep_observing()
            now = time.monotonic()
            batch = self._release(now)
            if batch is not None:
                return batch
            if now >= deadline:
                return None
            due = self._debouncer.next_due()
            wake = deadline if due is None else min(deadline, due)
            self._absorb(self._wait_for_change(max(wake - now, 0.0)))

    def _wait_for_change(self, seconds: float) -> Iterable[Change]:
        """Block (no polling) until a change arrives or `seconds` pass; then take everything queued."""
        try:
            first = self._changes.get(timeout=seconds)
        except queue.Empty:
            return []
        changes = [first]
        while True:
            try:
                changes.append(self._changes.get_nowait())
            except queue.Empty:
                return changes

    def _absorb(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self._debouncer.add(change)

    def _release(self, now: float) -> Batch | None:
        paths, rescan = self._debouncer.release(now)
        # Asked at release time, not event time: a human edit right after ours makes the file not ours again.
        paths = frozenset(path for path in paths if not self._is_own_write(path))
        return Batch(paths, rescan) if paths or rescan else None

    def _start_observer(self) -> None:
        if self._observer is not None:
            return
        observer = pruned_observer(is_ignored_folder) or Observer()
        observer.schedule(
            _Handler(str(self.root), self._changes.put), str(self.root), recursive=True, event_filter=_EVENT_TYPES
        )
        try:
            observer.start()
        except OSError as error:
            raise VaultError(_watch_failure(self.root, error)) from error
        self._observer = observer
        _listen_for_overflow(observer, self.root, self._changes.put)

    def _keep_observing(self) -> None:
        """After watchdog's threads died (an error, the root deleted), restart them and ask for a rescan."""
        observer = self._observer
        if observer is None or (observer.is_alive() and all(e.is_alive() for e in tuple(observer.emitters))):
            return
        if not self.root.is_dir():
            raise VaultError(f"The vault folder {self.root} is gone: restore it, then start vaultzoe again")
        log.warning("file watching of %s stopped; restarting it and rescanning the vault", self.root)
        self.close()
        self._start_observer()
        self._changes.put(Change((), rescan=True, at=time.monotonic()))


def _listen_for_overflow(observer: BaseObserver, root: Path, sink: Callable[[Change], None]) -> None:
    """Hook watchdog's inotify overflow callback, which reaches no event handler (watchdog >= 7)."""
    inotify = getattr(observer, "_inotify_fd", None)
    if inotify is None or not hasattr(inotify, "add_callback"):
        log.info("this watchdog observer reports no queue overflows; lost events wait for the periodic rescan")
        return
    from watchdog.observers.inotify_c import CallbackId, InotifyConstants

    signal = _OverflowSignal(sink)
    # IN_MASK_ADD: share the root's existing watch without narrowing the mask watchdog gave it.
    mask = InotifyConstants.IN_DELETE_SELF | 0x20000000
    inotify.add_callback(os.fsencode(root), mask, signal, CallbackId(id(signal)))


def _watch_failure(root: Path, error: OSError) -> str:
    """What to do when inotify refuses to watch the vault."""
    if error.errno == errno.ENOSPC:
        return (
            f"Cannot watch {root}: the inotify watch limit is reached; raise it with "
            "`sudo sysctl fs.inotify.max_user_watches=524288`"
        )
    if error.errno == errno.EMFILE:
        return (
            f"Cannot watch {root}: too many inotify instances; close other watchers or raise "
            "`fs.inotify.max_user_instances`"
        )
    return f"Cannot watch {root}: {error}"
