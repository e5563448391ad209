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

A missing file reads as Snapshot("", "", exists=False). Text is UTF-8 kept byte for byte (a BOM stays as
"\\ufeff", CRLF stays "\\r\\n"); a file that is not UTF-8 raises VaultError instead of being rewritten mangled.
Writes go through a symlink to the note it points at (inside the vault), keep the file's permission bits and
refuse read-only files. The check and the rename are one step for writers in this process; a human's write
landing in the microseconds between them is the one race a rename cannot close.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from vaultzoe.errors import PathOutsideVault, VaultError, WriteConflict

# Filesystems without hard links (some FUSE and network mounts) answer os.link with one of these.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})


@dataclass(frozen=True)
class Snapshot:
    """A file as read: its text, the digest of its bytes, and whether it existed."""

    text: str
    digest: str
    exists: bool


@dataclass(frozen=True)
class _OwnWrite:
    """What we last wrote to a path."""

    digest: str
    size: int


class LateWrite(WriteConflict):
    """Someone saved into the file we had just replaced; `text` is what they saved."""

    def __init__(self, message: str, text: str):
        super().__init__(message)
        self.text = text


def digest_of(data: bytes) -> str:
    """The digest a Snapshot carries for these bytes."""
    return hashlib.sha256(data).hexdigest()


class VaultStore:
    """Reads and writes notes inside one vault, never over a change it has not seen."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        if not self.root.is_dir():
            raise VaultError(f"No vault at {root}: create the folder or give the path of an existing vault")
        self._own_writes: dict[str, _OwnWrite] = {}
        self._path_locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    def read(self, path: str) -> Snapshot:
        """The file's text and digest; a missing file reads as empty with exists=False."""
        data = _read_bytes(self._resolve(path))
        if data is None:
            return Snapshot("", "", exists=False)
        return Snapshot(_decode(data, path), digest_of(data), exists=True)

    def write(self, path: str, text: str, expected: Snapshot) -> None:
        """Replace the file with `text` if it still is what `expected` saw, else raise WriteConflict."""
        target = self._resolve(path)
        data = _encode(text, path)
        with self._lock_for(target):
            late = None
            if expected.exists:
                late = _replace_if_unchanged(target, data, expected.digest, path)
            elif not _create_new(target, data):
                raise WriteConflict(f"{path} appeared on disk after vaultzoe read it as missing; read it again")
            self._remember(target, data)
        if late is not None:
            raise LateWrite(f"{path} was saved by someone else while vaultzoe replaced it", _decode(late, path))

    def edit(self, path: str, change: Callable[[str], str], attempts: int = 5) -> str:
        """Apply `change` to the file's current text, re-reading and retrying when someone else wrote first."""
        rescued: str | None = None
        for _ in range(attempts):
            snapshot = self._settled_read(path)
            text = change(snapshot.text if rescued is None else rescued)
            if text == snapshot.text:
                return text
            try:
                self.write(path, text, snapshot)
            except LateWrite as late:
                rescued = late.text       # their save landed in the file we replaced: redo ours on top of it
                continue
            except WriteConflict:
                rescued = None
                continue
            return text
        raise WriteConflict(
            f"{path} kept changing while vaultzoe tried to edit it ({attempts} tries); it will try again later"
        )

    def _settled_read(self, path: str, looks: int = 5) -> Snapshot:
        """Read; a file caught empty may be mid-save by an editor that truncates then writes, so look again."""
        snapshot = self.read(path)
        for _ in range(looks):
            if not snapshot.exists or snapshot.text:
                return snapshot
            time.sleep(0.02)
            snapshot = self.read(path)
        return snapshot

    def create(self, path: str, text: str) -> bool:
        """Write a new file; False (and nothing written) when the file already exists."""
        target = self._resolve(path)
        data = _encode(text, path)
        with self._lock_for(target):
            if not _create_new(target, data):
                return False
            self._remember(target, data)
            return True

    def is_own_write(self, path: str) -> bool:
        """True when the file holds exactly what this store last wrote there."""
        try:
            target = self._resolve(path)
        except PathOutsideVault:
            return False
        with self._guard:
            own = self._own_writes.get(self._key(target))
        if own is None:
            return False
        try:
            if os.stat(target).st_size != own.size:
                return False
        except (FileNotFoundError, NotADirectoryError):
            return False
        data = _read_bytes(target)
        return data is not None and digest_of(data) == own.digest

    def _resolve(self, path: str) -> Path:
        """The real file a vault-relative path names; PathOutsideVault when it leads out of the vault."""
        raw = os.fspath(path)
        if not raw or PurePosixPath(raw).is_absolute() or "\0" in raw:
            raise PathOutsideVault(f"{raw!r} is not a vault-relative path: give one like 'Zoe/Inbox.md'")
        target = Path(os.path.realpath(self.root / raw))
        if target == self.root or not target.is_relative_to(self.root):
            raise PathOutsideVault(f"{raw!r} leads outside the vault {self.root}: vaultzoe writes only inside it")
        return target

    def _key(self, target: Path) -> str:
        return target.relative_to(self.root).as_posix()

    def _lock_for(self, target: Path) -> threading.Lock:
        """One lock per file, so that check-then-rename is atomic among this process's writers."""
        with self._guard:
            return self._path_locks.setdefault(target, threading.Lock())

    def _remember(self, target: Path, data: bytes) -> None:
        with self._guard:
            self._own_writes[self._key(target)] = _OwnWrite(digest_of(data), len(data))


def _read_bytes(target: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        return target.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        raise VaultError(f"{target} is a folder, not a note") from None


def _decode(data: bytes, path: str) -> str:
    """UTF-8 text, BOM kept as U+FEFF; anything else is refused rather than rewritten mangled."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise VaultError(
            f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}): vaultzoe will not "
            "edit it; save it as UTF-8 to let vaultzoe write to it"
        ) from None


def _encode(text: str, path: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise VaultError(f"cannot write {path}: the new text holds {text[error.start]!r}, which UTF-8 cannot store") from None


def _replace_if_unchanged(target: Path, data: bytes, digest: str, path: str) -> bytes | None:
    """Compare, then atomically swap in the new bytes with the old permission bits.

    Returns the bytes of a late write: an editor that opened the old file before our rename and wrote
    into it afterwards (truncate-then-write saves, as Obsidian's) would otherwise lose them unseen.
    """
    try:
        fd = os.open(target, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        raise WriteConflict(f"{path} was removed since vaultzoe read it; read it again") from None
    try:
        current = _read_fd(fd)
        if digest_of(current) != digest:
            raise WriteConflict(f"{path} changed on disk since vaultzoe read it; read it again and redo the change")
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        # A rename would succeed in a writable folder anyway; the human's read-only mark is what we honour.
        if not mode & 0o222 or not os.access(target, os.W_OK):
            raise VaultError(f"{path} is read-only: vaultzoe leaves it alone; make it writable to let vaultzoe update it")
        temp = _write_temp(target, data, mode)
        try:
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_folder(target.parent)
        return _late_write(fd, current)
    finally:
        os.close(fd)


def _read_fd(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _late_write(fd: int, compared: bytes, looks: int = 5) -> bytes | None:
    """What someone wrote into the file we just replaced after we compared it; None when nobody did."""
    for _ in range(looks):
        now = _read_fd(fd)
        if now == compared:
            return None
        if now:
            return now
        time.sleep(0.02)   # truncated: their bytes are on the way
    return None


def _create_new(target: Path, data: bytes) -> bool:
    """Put a complete new file in place unless one exists; False when it does."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _write_temp(target, data, mode=None)
    try:
        # link() never replaces an existing file, so a file created meanwhile by someone else is safe.
        os.link(temp, target)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        return _create_exclusive(target, data)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_folder(target.parent)
    return True


def _create_exclusive(target: Path, data: bytes) -> bool:
    """Fallback without hard links: O_EXCL still refuses to clobber, though readers may see it half-written."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    _write_all(fd, data)
    _fsync_folder(target.parent)
    return True


def _write_temp(target: Path, data: bytes, mode: int | None) -> Path:
    """A fully written and fsynced dot-file beside `target` (hidden from Obsidian and the watcher)."""
    temp = target.with_name(f".{target.name[:80]}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        _write_all(fd, data, mode)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _write_all(fd: int, data: bytes, mode: int | None = None) -> None:
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


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
