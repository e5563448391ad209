"""watchdog -> batches of dirty paths (debounced, own writes and .obsidian/ dropped, rescan on overflow).

API CONTRACT (fixed):

    VaultWatcher(root: Path, is_own_write: Callable[[str], bool], debounce: float = 0.15)
    with watcher:                         starts/stops the observer
        batch = watcher.next_batch(timeout: float) -> Batch | None
    Batch(paths: frozenset[str], rescan: bool)   vault-relative paths; rescan=True asks for a full refresh
"""

from __future__ import annotations
