"""Machine state written whole or not at all: a private dot-temp file, fsync, rename (no temp file left behind).

The one helper for vaultzoe's own files (task memory, the problems list, the trust record, forge reports).
Notes go through `vault/store.py` instead, which also guards the human's concurrent saves.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Callable

from .vault.durable import write_temp


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace path with data; readers see the old file or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = write_temp(path, data, mode)      # the store's own temp writer: written, fsynced, closed
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)         # a full disk leaves nothing behind
        raise


def write_private_json(path: Path, data: object, indent: int | None = None) -> None:
    """JSON readable only by the user, written atomically."""
    write_atomic(path, json.dumps(data, indent=indent, ensure_ascii=False).encode("utf-8"))


# Our temp names: `.{name}.{8 hex}.tmp` (notes, task memory, the problems list) and, inside a run folder,
# `.{name}.tmp` (the supervisor's records). An editor's own scratch files (.swp, ~, .crswap) never match.
_OURS = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")
_RUN_RECORD = re.compile(r"\..+\.json\.tmp")
_SKIP_DIRS = frozenset({".git", ".obsidian", ".trash", "node_modules"})


def sweep_temp_files(root: Path, run_is_live: Callable[[Path], bool]) -> list[Path]:
    """Remove the temp files a killed vaultzoe left (call with the vault lock held); returns what went."""
    swept: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not os.path.islink(os.path.join(folder, d))]
        here = Path(folder)
        for name in files:
            ours = _OURS.fullmatch(name) or (_RUN_RECORD.fullmatch(name) and _in_runs(root, here)
                                             and not run_is_live(here))
            if ours:
                with contextlib.suppress(OSError):
                    (here / name).unlink()
                    swept.append(here / name)
    return swept


def _in_runs(root: Path, folder: Path) -> bool:
    from .layout import STATE_DIR
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        return False
    return parts[:2] == (STATE_DIR, "runs")
