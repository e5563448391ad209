"""`Status`, `Outcome`, `Attempt`, `TaskState` (what vaultzoe remembers of a task), branch names, priorities."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    DRAFT = "draft"
    PROPOSED = "proposed"
    QUEUED = "queued"
    RUNNING = "running"
    CHECKING = "checking"
    REVIEW = "review"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"

    @classmethod
    def parse(cls, value: Any) -> "Status | None":
        """The status a human typed, tolerant of case and spaces; None when it is not one of ours."""
        text = str(value or "").strip().lower()
        return cls(text) if text in cls._value2member_map_ else None


# The statuses a human sets; the others are vaultzoe's (tasks/decide.py chooses every move it makes).
HUMAN_STATUSES = frozenset({Status.DRAFT, Status.QUEUED, Status.CANCELLED, Status.DONE, Status.PROPOSED})


class Outcome(StrEnum):
    """How an attempt stands. A str: task memory stores the plain value, and it equals that string."""

    STARTING = "starting"      # recorded before any side effect; a restart resumes it, never starts a second
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


PRIORITIES = {"urgent": 0, "high": 1, "normal": 2, "medium": 2, "low": 3}


def priority_rank(value: Any) -> int:
    """Lower runs first; numbers (1 = first) and words both work."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return PRIORITIES.get(str(value or "normal").strip().lower(), 2)


def slugify(title: str, limit: int = 40) -> str:
    """A git-branch-safe slug of a title (ASCII, lowercase, dashes)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return (slug[:limit].rstrip("-")) or "task"


def branch_name(title: str, task_id: str) -> str:
    return f"zoe/{slugify(title)}-{task_id}"


@dataclass(frozen=True)
class Attempt:
    """One try at a task: one prompt, one agent session (possibly steered), one judgement."""

    number: int
    agent: str
    model: str | None
    run_dir: str
    note: str                      # vault path of the attempt note
    started: str                   # ISO time
    ended: str | None = None
    outcome: Outcome = Outcome.RUNNING
    exit_code: int | None = None
    session_id: str | None = None
    evidence: str = ""             # why it failed, for the next prompt
    feedback: str = ""             # review comments / human feedback seen at judgement
    check_output: str = ""
    log_tail: str = ""
    final_message: str = ""
    cost_usd: float | None = None
    steers: tuple[str, ...] = ()
    planner: str = ""
    reason: str = ""               # why this agent/model
    refs_at_start: str = ""        # Worktree.refs: where base and branch stood at the start (the forge spots tampering)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", Outcome(self.outcome))   # a plain string (old memory, callers) too


@dataclass(frozen=True)
class TaskState:
    """What vaultzoe remembers of a task (in .vaultzoe/tasks/<id>.json); the note holds the human's intent."""

    id: str
    status: Status
    path: str
    title: str
    repo: str = ""
    branch: str = ""
    base: str = ""
    base_commit: str = ""
    worktree: str = ""
    pr_number: int | None = None
    pr_url: str | None = None
    attempts: tuple[Attempt, ...] = ()
    round_start: int = 0           # attempts before the latest (re)queue; max_attempts counts from here
    checks: tuple[tuple[str, str, str], ...] = ()   # (item, state, detail)
    reason: str = ""               # blocked/failed/cancelled reason
    waiting: str = ""              # why a queued task has not started yet
    queued_at: str = ""
    updated: str = ""
    notified: str = ""             # "<status>:<attempts>" of the last notification sent
    cost_usd: float = 0.0
    note_status: str = ""          # the status vaultzoe last knows the note to hold (a write that never landed is not the human's word)

    @property
    def current(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def attempts_this_round(self) -> int:
        return len(self.attempts) - self.round_start

    def with_attempt(self, attempt: Attempt) -> "TaskState":
        """Replace the attempt with the same number, or append it."""
        others = tuple(a for a in self.attempts if a.number != attempt.number)
        return replace(self, attempts=tuple(sorted(others + (attempt,), key=lambda a: a.number)))


def state_to_json(state: TaskState) -> dict[str, Any]:
    from dataclasses import asdict
    data = asdict(state)
    data["status"] = state.status.value
    return data


def state_from_json(data: dict[str, Any]) -> TaskState:
    attempts = tuple(Attempt(**{**a, "steers": tuple(a.get("steers", ()))}) for a in data.get("attempts", ()))
    checks = tuple(tuple(c) for c in data.get("checks", ()))
    return TaskState(**{**data, "status": Status(data["status"]), "attempts": attempts, "checks": checks})
