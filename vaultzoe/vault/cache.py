"""The index's on-disk cache: its tables as one `marshal` dump in <vault>/.vaultzoe/index.marshal.

The cache only saves work: every entry is checked against its file's stat on load, so a cache from
another version of vaultzoe or Python, or one that does not load, is simply not used.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

from ..layout import STATE_DIR
from .scan import no_gc

CACHE_DIR = STATE_DIR
CACHE_FILE = "index.marshal"
CACHE_VERSION = 9                      # 9: `tags: a, b` is no tag; a bare `>` line ends a quoted list item


def cache_path(root: Path) -> Path:
    return root / CACHE_DIR / CACHE_FILE


def write_cache(root: Path, state: dict[str, Any]) -> str | None:
    """Write the tables atomically; a warning when that failed (nothing left behind), else None."""
    target = cache_path(root)
    payload = {"version": CACHE_VERSION, "python": list(sys.version_info[:2]), "state": state}
    temp = target.with_name(f".{CACHE_FILE}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(exist_ok=True)
        temp.write_bytes(marshal.dumps(payload))
        os.replace(temp, target)
    except (OSError, ValueError) as exc:
        with contextlib.suppress(OSError):    # when .vaultzoe is not a folder, neither is there a temp file
            temp.unlink(missing_ok=True)
        return f"index cache not written to {target.parent}: {exc}"
    return None


def read_cache(root: Path) -> dict[str, Any] | None:
    """The tables the cache holds, or None when there is no cache this vaultzoe and Python can use."""
    try:
        blob = cache_path(root).read_bytes()
        with no_gc():                 # millions of new containers: the cyclic GC would only slow this
            payload = marshal.loads(blob)
        usable = (isinstance(payload, dict) and payload.get("version") == CACHE_VERSION
                  and payload.get("python") == list(sys.version_info[:2]))
        state = payload["state"] if usable else None
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        return None
    return state if isinstance(state, dict) else None
