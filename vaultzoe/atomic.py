"""Machine state written whole or not at all: a private dot-temp file, fsync, rename (no temp file left behind).

The one helper for vaultzoe's own files (task memory, the problems list, the trust record, forge reports).
Notes go through `vault/store.py` instead, which also guards the human's concurrent saves.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace path with data; readers see the old file or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)     # a full disk leaves nothing behind
        raise


def write_private_json(path: Path, data: object, indent: int | None = None) -> None:
    """JSON readable only by the user, written atomically."""
    write_atomic(path, json.dumps(data, indent=indent, ensure_ascii=False).encode("utf-8"))
