"""The only writer: compare-before-write, dot-temp + fsync + rename, remembers its own writes.

API CONTRACT (fixed):

    VaultStore(root: Path)
    store.read(path: str) -> Snapshot                 Snapshot(text: str, digest: str, exists: bool)
    store.write(path: str, text: str, expected: Snapshot) -> None
        Raises WriteConflict when the file on disk no longer matches `expected`.
    store.edit(path: str, change: Callable[[str], str], attempts: int = 5) -> str
        read -> change(text) -> write, re-reading and retrying on WriteConflict; returns the written text;
        writes nothing when change() returns the same text. Creates parent folders for new files.
    store.create(path: str, text: str) -> bool        write only if the file does not exist
    store.is_own_write(path: str) -> bool             True when the file's current content is what we last wrote
    Paths are vault-relative; a path escaping the vault raises PathOutsideVault.
"""

from __future__ import annotations
