"""What the loop tells the human about itself: writes the disk refused (and the recovery), notes it cannot run."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Callable

from ..atomic import write_private_json
from ..errors import VaultzoeError, WriteConflict, refused_write
from ..layout import STATE_DIR
from ..tasks import adoption
from ..tasks.registry import wikilink
from ..text import one_line
from .scene import Scene

log = logging.getLogger("vaultzoe")


@dataclass(frozen=True)
class WriteTrouble:
    since: str
    message: str


class Health:
    """Write refusals (a full disk, a read-only vault) logged once and reported on recovery; note problems once."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.trouble: WriteTrouble | None = None
        self.failed_this_pass = False
        self._problems_seen: set[str] | None = None

    def begin_pass(self) -> None:
        self.failed_this_pass = False

    def refused(self, exc: BaseException) -> bool:
        """Whether exc is the disk refusing a write; logged once until writes work again."""
        cause = refused_write(exc)
        if cause is None:
            return False
        self.failed_this_pass = True
        if self.trouble is None:
            code = getattr(cause, "errno", None) or 0
            message = (f"vaultzoe cannot write to the vault ({os.strerror(code)}: "
                       f"{getattr(cause, 'filename', '') or ''}); it keeps the tasks as they are and retries: "
                       f"free some space or fix the folder's permissions")
            self.trouble = WriteTrouble(since=self.scene.now(), message=message)
            log.error("%s", message)
        return True

    def message(self, exc: BaseException) -> str:
        return self.trouble.message if self.trouble else str(exc)

    def guarded(self, what: str, write: Callable[[], object]) -> list[str]:
        """Run one write of the pass; a refused or conflicting write is reported, not raised."""
        try:
            write()
            return []
        except (OSError, VaultzoeError) as exc:
            if self.refused(exc):
                return [f"{what}: {self.message(exc)}"]
            if isinstance(exc, WriteConflict):
                return [f"{what}: {exc}"]      # the human is editing it; next pass
            raise

    def end_pass(self) -> None:
        """Writes work again: tell the human once, in the inbox."""
        if self.trouble is None or self.failed_this_pass:
            return
        trouble, self.trouble = self.trouble, None
        text = (f"vaultzoe could not write to the vault from {trouble.since} to {self.scene.now()} "
                f"({trouble.message.split(';')[0]}); it has recovered and carried on")
        log.warning("%s", text)
        try:
            self.scene.journal.inbox_line(self.scene.now(), text)
        except (OSError, VaultzoeError) as exc:
            self.refused(exc)

    # ------------------------------------------------------------ notes that look like tasks but cannot run

    def report_problems(self, problems: list[adoption.Problem]) -> None:
        """Each problem once in the inbox (again only when its message changes); the registry lists them all."""
        reported = self._reported()
        current = {f"{p.path}\n{p.message}": p for p in problems}
        fresh = [p for key, p in current.items() if key not in reported]
        for problem in fresh:
            where = f" (line {problem.line})" if problem.line else ""
            self.scene.journal.inbox_line(
                self.scene.now(), f"**problem** in {wikilink(problem.path)}{where}: {one_line(problem.message, 300)}")
        if fresh or set(reported) - set(current):
            write_private_json(self.scene.root / STATE_DIR / "problems.json", sorted(current))
            self._problems_seen = set(current)

    def _reported(self) -> set[str]:
        if self._problems_seen is None:
            try:
                self._problems_seen = set(json.loads((self.scene.root / STATE_DIR / "problems.json").read_text("utf-8")))
            except (OSError, ValueError, TypeError):
                self._problems_seen = set()
        return self._problems_seen
