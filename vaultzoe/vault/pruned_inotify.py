"""watchdog's recursive inotify observer, minus the folders vaultzoe never reads (no watch, no event, no warning).

Linux only: `pruned_observer` returns None elsewhere and the caller falls back to watchdog's default observer.
watchdog adds one inotify watch per folder below the root, run directories in .vaultzoe/ and objects in .git/
included, and warns on every queue overflow they cause; pruning them at the walk keeps both away.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watchdog.observers.api import BaseObserver

try:
    from watchdog.observers.inotify import InotifyEmitter, InotifyObserver, InotifyWatchGroup
except (ImportError, OSError, AttributeError):   # not Linux: no inotify in libc
    InotifyObserver = None  # type: ignore[assignment,misc]


def pruned_observer(skip_folder: Callable[[str], bool]) -> BaseObserver | None:
    """An inotify observer that adds no watch inside a folder whose name `skip_folder` accepts; None off Linux."""
    if InotifyObserver is None:
        return None
    return _PrunedObserver(skip_folder)


def _never(name: str) -> bool:
    return False


if InotifyObserver is not None:

    @dataclass
    class _PrunedWatchGroup(InotifyWatchGroup):
        """A watch group whose recursive walk stops at skipped folders (also for folders created later)."""

        skip_folder: Callable[[str], bool] = field(default=_never)

        def _skipped(self, path: bytes) -> bool:
            if path == self.path or not path.startswith(self.path + b"/"):
                return False
            return any(self.skip_folder(os.fsdecode(part)) for part in path[len(self.path) + 1 :].split(b"/"))

        def _add_all_callbacks(self, path: bytes) -> None:
            if self._skipped(path):
                return
            self._add_callback(path)
            if not (self.is_recursive and os.path.isdir(path)):
                return
            for folder, names, _ in os.walk(path, followlinks=self.follow_symlink):
                names[:] = [name for name in names if not self.skip_folder(os.fsdecode(name))]
                for name in names:
                    full = os.path.join(folder, name)
                    if self.follow_symlink or not os.path.islink(full):
                        self._add_callback(full)

    class _PrunedEmitter(InotifyEmitter):
        def __init__(self, *args: Any, skip_folder: Callable[[str], bool], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._skip_folder = skip_folder

        def on_thread_start(self) -> None:
            self._inotify = _PrunedWatchGroup(
                self._inotify_fd,
                os.fsencode(self.watch.path),
                is_recursive=self.watch.is_recursive,
                event_mask=self.get_event_mask_from_filter(),
                follow_symlink=self.watch.follow_symlink,
                skip_folder=self._skip_folder,
            )

    class _PrunedObserver(InotifyObserver):
        def __init__(self, skip_folder: Callable[[str], bool]) -> None:
            super().__init__()
            self._emitter_class = _PrunedEmitter
            self._emitter_kwargs["skip_folder"] = skip_folder
