"""What vaultzoe remembers between passes and restarts: one JSON file per task under .vaultzoe/tasks/."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..atomic import write_atomic
from ..layout import STATE_DIR
from .model import TaskState, state_from_json, state_to_json


_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def safe_file_id(task_id: str) -> bool:
    """Whether an id can name a file in the state folder (no separators, no dots: nothing escapes it)."""
    return _SAFE_ID.fullmatch(task_id) is not None


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
            if safe_file_id(state.id) and path.stem == state.id:
                states[state.id] = state
        return states

    def save(self, state: TaskState) -> None:
        if not safe_file_id(state.id):
            raise ValueError(f"task id {state.id!r} cannot name a memory file")
        if self._known is not None and self._known.get(state.id) == state:
            return      # unchanged since the last save: no write (a busy pass saves every task)
        write_atomic(self.dir / f"{state.id}.json",
                     json.dumps(state_to_json(state), indent=1, ensure_ascii=False).encode("utf-8"))
        if self._known is not None:
            self._known[state.id] = state
