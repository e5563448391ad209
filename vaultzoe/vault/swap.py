"""Linux primitives that let the store see a human's save it would otherwise overwrite unseen.

- `exchange(a, b)`: renameat2(RENAME_EXCHANGE) swaps two names atomically, so the file our new text replaced
  is still there afterwards (under the temp name) and can be checked: was it the file we compared, or a
  save that an editor renamed into place in between?
- `ReadLease`: fcntl(F_SETLEASE, F_RDLCK) on the note we compared. While we hold it, an editor that opens
  the note for writing (or truncates it) waits in open() until we let go; we can also tell whether anyone
  holds it open for writing at all. So a save written into the replaced file after our rename is always
  waited for and seen, however late it lands.

Both answer None / False where the kernel or filesystem lacks them (macOS, NFS, FUSE, a file we do not own
without CAP_LEASE); the store then falls back to comparing and looking again, which leaves a tiny window.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import signal
import time
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM})


def _renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2()
_LEASES = hasattr(fcntl, "F_SETLEASE") and hasattr(fcntl, "F_SETSIG")     # Linux only


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing names atomically; False when this system cannot (then nothing changed)."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(second))


def same_file(path: Path, other: int | os.stat_result) -> bool:
    """Whether `path` names the file open as the descriptor `other`, or the file `other` is the stat of."""
    try:
        here = os.stat(path, follow_symlinks=False)
        there = os.fstat(other) if isinstance(other, int) else other
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


class ReadLease:
    """A read lease on a file opened read-only: writers wait for us, and we can wait for writers."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.held = False

    def take(self, patience: float) -> bool | None:
        """Hold the lease; False when someone still writes the file after `patience` s, None when unsupported."""
        if not _LEASES:
            return None
        deadline = time.monotonic() + patience
        while True:
            try:
                # A broken lease signals its holder (SIGIO by default, which would kill us): ask for one that
                # is ignored unless handled. Set before the lease, so no break can come first.
                fcntl.fcntl(self.fd, fcntl.F_SETSIG, signal.SIGURG)
                fcntl.fcntl(self.fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
            except OSError as error:
                if error.errno != errno.EAGAIN:
                    return None
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.002)
                continue
            self.held = True
            return True

    def broken(self) -> bool:
        """Whether someone has asked to open the file for writing since we took the lease."""
        return self.held and fcntl.fcntl(self.fd, fcntl.F_GETLEASE) != fcntl.F_RDLCK

    def release(self) -> None:
        if self.held:
            self.held = False
            fcntl.fcntl(self.fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
