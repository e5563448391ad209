"""What vaultzoe remembers between passes and restarts: one JSON file per task under .vaultzoe/tasks/."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..settings import STATE_DIR
from .model import TaskState, state_from_json, state_to_json


class StateStore:
    """Task memory on disk; written atomically so a crash never leaves half a file."""

    def __init__(self, vault_root: Path):
        self.dir = vault_root / STATE_DIR / "tasks"
        self._known: dict[str, TaskState] | None = None   # read once; this store is the only writer after that

    def load_all(self) -> dict[str, TaskState]:
        """Every task's memory (read from disk on the first call only: one vaultzoe per vault holds the lock)."""
        if self._known is None:
            self._known = self._read_all()
        return dict(self._known)

    def _read_all(self) -> dict[str, TaskState]:
        states = {}
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else ():
            try:
                state = state_from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError):
                continue   # a damaged memory file is a task we forget, not a crash; its note is still there
            states[state.id] = state
        return states

    def save(self, state: TaskState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        data = json.dumps(state_to_json(state), indent=1, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.dir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.dir / f"{state.id}.json")
        if self._known is not None:
            self._known[state.id] = state
