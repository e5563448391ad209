"""Which task note is which task (pure): ids checked, each id bound to one note, notes in flux kept.

A task's id is written into its note the first time it is queued; from then on the id, not the path, says
which task a note is, so renames and moves keep the task's history. The rules, in order:

- an id must be a slug of our alphabet (it becomes a file name, a branch name and an argv value): anything
  else is ignored and the note gets a fresh id, with a one-line note saying so;
- an id belongs to the note that held it first: when several notes carry one id (a copied note), the one at
  the task's remembered path keeps it; the others are duplicates, listed as problems and never run;
- a note without an id at the path of a known task is that task (its id line was lost in a save);
- a known task whose note is not among the task notes this pass is *settling* (being saved, unreadable for a
  moment), not deleted: it is deleted only when its file has been gone for a grace period, or sits in
  `.trash/`, and it stops being a task only when its file stays readable but untagged for that period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .model import Status, TaskState

ID_PATTERN = re.compile(r"[a-z][a-z0-9-]{1,31}")
DELETE_GRACE_S = 10.0


def valid_id(value: object) -> bool:
    """Whether value can be a task id: 2-32 lowercase letters, digits and dashes, starting with a letter."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True)
class Claim:
    """What one task note says about itself."""

    path: str
    raw_id: str          # the `id:` property as written ("" when absent)
    status: Status | None


@dataclass(frozen=True)
class Problem:
    """A note vaultzoe cannot run, and why (shown in the registry and once in the inbox)."""

    path: str
    message: str
    line: int | None = None


@dataclass
class Pairing:
    """The outcome of pairing task notes with task memory for one pass."""

    bound: dict[str, str] = field(default_factory=dict)          # task id -> note path
    fresh: list[str] = field(default_factory=list)               # queued notes that need a new id
    adopt: dict[str, str] = field(default_factory=dict)          # unknown valid id -> note path (queued)
    listed: list[str] = field(default_factory=list)              # notes never queued: listed only
    replaced_ids: dict[str, str] = field(default_factory=dict)   # note path -> the invalid id it carried
    problems: list[Problem] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)              # known active task ids without a note


def pair(claims: Iterable[Claim], states: Mapping[str, TaskState]) -> Pairing:
    """Bind task notes to known tasks; say which need ids, which are duplicates, which tasks lost their note."""
    result = Pairing()
    by_id: dict[str, list[Claim]] = {}
    no_id: list[Claim] = []
    for claim in sorted(claims, key=lambda c: c.path):
        if claim.raw_id and valid_id(claim.raw_id):
            by_id.setdefault(claim.raw_id, []).append(claim)
            continue
        if claim.raw_id:
            result.replaced_ids[claim.path] = claim.raw_id
        no_id.append(claim)
    for task_id, holders in sorted(by_id.items()):
        _bind_id(task_id, holders, states, result)
    held_paths = set(result.bound.values()) | set(result.adopt.values())
    by_path = {s.path: i for i, s in states.items() if i not in result.bound and i not in result.adopt}
    for claim in no_id:
        known = by_path.get(claim.path)
        if known is not None and claim.path not in held_paths and claim.path not in result.replaced_ids:
            result.bound[known] = claim.path       # its id line was lost in a save: the same task
        elif claim.status == Status.QUEUED:
            result.fresh.append(claim.path)
        else:
            result.listed.append(claim.path)
    result.absent = [i for i, s in states.items()
                     if i not in result.bound and i not in result.adopt and s.status not in _FINISHED]
    return result


_FINISHED = (Status.DONE, Status.CANCELLED, Status.FAILED)


def _bind_id(task_id: str, holders: list[Claim], states: Mapping[str, TaskState], result: Pairing) -> None:
    known = states.get(task_id)
    if known is not None:
        owner = next((c for c in holders if c.path == known.path), None)
        if owner is None and len(holders) == 1:
            owner = holders[0]                     # moved or renamed
        if owner is None:
            for claim in holders:                  # moved *and* copied: nobody runs until one id is removed
                result.problems.append(Problem(claim.path, _ambiguous(task_id, holders)))
            return
        result.bound[task_id] = owner.path
        others = [c for c in holders if c is not owner]
    else:
        owner = holders[0]
        if owner.status == Status.QUEUED:
            result.adopt[task_id] = owner.path     # an id written before its memory (a crash, or copied in)
        else:
            result.listed.append(owner.path)
        others = holders[1:]
    for claim in others:
        result.problems.append(Problem(claim.path, _duplicate(task_id, owner.path)))


def _duplicate(task_id: str, owner: str) -> str:
    return (f"duplicate task id `{task_id}`: it belongs to {owner}; delete the `id:` line of this copy to make "
            f"it a task of its own")


def _ambiguous(task_id: str, holders: list[Claim]) -> str:
    paths = ", ".join(c.path for c in holders)
    return (f"task id `{task_id}` is held by several notes ({paths}) and none is where the task was: delete the "
            f"`id:` line of the copies")


def gone_for_good(path_exists: bool, readable_untagged: bool, in_trash: bool, missing_for_s: float | None,
                  grace_s: float = DELETE_GRACE_S) -> str | None:
    """Why a task whose note is absent this pass counts as deleted now; None while it may be settling."""
    if in_trash:
        return "the task note was moved to the trash"
    if missing_for_s is None or missing_for_s < grace_s:
        return None
    if not path_exists:
        return "the task note was deleted"
    if readable_untagged:
        return "the note is no longer tagged #task"
    return None                                    # empty or unreadable: settling, however long it takes
