"""The only writer: compare-before-write, dot-temp + fsync + rename, remembers its own writes.

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
refuse read-only files. A disk that refuses a write (full, read-only, no permission) raises VaultWriteError
naming the fix, and leaves no temp file or new empty folder behind.

No human save is overwritten unseen (Linux, see swap.py): a read lease on the note we compared makes an
editor that opens it for writing wait until we know about it (then the old file goes back under the note's
name, or its late bytes are read and our change is redone on top of them), and the new file is swapped in
with RENAME_EXCHANGE, so a save renamed into place meanwhile is seen and put back. Where the kernel or the
filesystem offers neither, compare-then-rename leaves a window of microseconds.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from vaultzoe.errors import PathOutsideVault, VaultError, WriteConflict
from vaultzoe.vault import swap
from vaultzoe.vault.durable import disk_refusals, fsync_folder, make_folders, read_fd, write_all, write_temp
from vaultzoe.vault.swap import ReadLease

log = logging.getLogger(__name__)

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
        with self._lock_for(target), disk_refusals(path):
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
        with self._lock_for(target), disk_refusals(path):
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
    lease = ReadLease(fd)
    try:
        if lease.take(patience=0.5) is False:
            raise WriteConflict(f"{path} is being saved right now; vaultzoe will read it again")
        current = read_fd(fd)
        if digest_of(current) != digest:
            raise WriteConflict(f"{path} changed on disk since vaultzoe read it; read it again and redo the change")
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if os.statvfs(target.parent).f_flag & os.ST_RDONLY:      # the disk's refusal, not the human's mark
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(target))
        # A rename would succeed in a writable folder anyway; the human's read-only mark is what we honour.
        if not mode & 0o222 or not os.access(target, os.W_OK):
            raise VaultError(f"{path} is read-only: vaultzoe leaves it alone; make it writable to let vaultzoe update it")
        temp = write_temp(target, data, mode)
        ours = os.stat(temp)
        try:
            exchanged = _swap_in(temp, ours, target, fd, path)
            fsync_folder(target.parent)
            if exchanged and lease.broken() and swap.same_file(target, ours):
                # An editor that opened the note before our swap waits to write into the old file: put that
                # file back at the note's name, so their bytes land where everyone reads them.
                swap.exchange(temp, target)
                fsync_folder(target.parent)
                raise WriteConflict(f"{path} was being saved while vaultzoe replaced it; read it again")
        finally:
            _remove_temp(temp, ours, fd)
        return _late_write(fd, current, lease)
    finally:
        lease.release()
        os.close(fd)


def _swap_in(temp: Path, ours: os.stat_result, target: Path, fd: int, path: str) -> bool:
    """Rename `temp` over `target` only if `target` is still the file open as `fd` (the one we compared).

    An editor that saves by renaming its own temp file into place between our compare and our rename
    would be replaced unseen by a plain rename; exchanging the two names lets us look at what we replaced
    and, when it is their save, put it back. True when exchanged (`temp` now names the replaced file).
    """
    try:
        if not swap.same_file(target, fd):     # the cheap look first: the temp file took a while to write
            raise WriteConflict(f"{path} was replaced since vaultzoe read it; read it again")
        if not swap.exchange(temp, target):
            os.replace(temp, target)     # no exchange here: a save landing in the last microseconds can still be lost
            return False
        if not swap.same_file(temp, fd):
            _put_back(temp, ours, target, path)
            raise WriteConflict(f"{path} was saved while vaultzoe replaced it; read it again")
        return True
    except FileNotFoundError:
        raise WriteConflict(f"{path} was removed since vaultzoe read it; read it again") from None


def _put_back(temp: Path, ours: os.stat_result, target: Path, path: str) -> None:
    """Their save, swapped out by us a moment ago, goes back to the note's name (unless they saved again)."""
    if swap.same_file(target, ours) and swap.exchange(temp, target):
        return
    log.warning("%s: an editor saved twice while vaultzoe replaced it; its earlier save is kept as %s",
                path, temp.name)


def _remove_temp(temp: Path, ours: os.stat_result, replaced_fd: int) -> None:
    """Remove our temp name when it holds our file or the one we replaced; never someone else's save."""
    if swap.same_file(temp, ours) or swap.same_file(temp, replaced_fd):
        temp.unlink(missing_ok=True)


def _late_write(fd: int, compared: bytes, lease: ReadLease, looks: int = 5) -> bytes | None:
    """What someone wrote into the file we just replaced after we compared it; None when nobody did."""
    if lease.held:
        return _late_write_leased(fd, compared, lease)
    for _ in range(looks):
        now = read_fd(fd)
        if now == compared:
            return None
        if now:
            return now
        time.sleep(0.02)   # truncated: their bytes are on the way
    return None


def _late_write_leased(fd: int, compared: bytes, lease: ReadLease, patience: float = 2.0) -> bytes | None:
    """With the lease: no save into the file we replaced goes unseen, however late it lands.

    An unbroken lease means nobody asked to write the old file since we compared it. A broken one means an
    editor that resolved the note before our rename waits in open(): let it through, then wait until its
    bytes are there and nobody has the file open for writing any more (or `patience` runs out).
    """
    if lease.broken():
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            lease.release()
            time.sleep(0.002)       # the writer we held back goes first
            if lease.take(patience=max(deadline - time.monotonic(), 0.0)) is not True:
                break
            now = read_fd(fd)
            if now != compared and not lease.broken():
                return now
    now = read_fd(fd)
    return None if now == compared else now


def _create_new(target: Path, data: bytes) -> bool:
    """Put a complete new file in place unless one exists; False when it does."""
    made = make_folders(target.parent)
    try:
        temp = write_temp(target, data, mode=None)
    except BaseException:
        for folder in reversed(made):        # a failed write leaves no empty folders behind either
            try:
                folder.rmdir()
            except OSError:
                break
        raise
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
    fsync_folder(target.parent)
    return True


def _create_exclusive(target: Path, data: bytes) -> bool:
    """Fallback without hard links: O_EXCL still refuses to clobber, though readers may see it half-written."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        write_all(fd, data)
    except BaseException:
        target.unlink(missing_ok=True)     # ours alone: nobody else could have created it
        raise
    fsync_folder(target.parent)
    return True


