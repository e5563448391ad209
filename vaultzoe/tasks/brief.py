"""Read what a task note asks for: title, goal, acceptance criteria, feedback, steer, kind, privacy (pure).

A task body holds pasted text (emails, logs, code): only the `## Steer` section, a heading outside code, is a
steer, and the kind is a slug (it names Zoe/Learnings/<kind>.md, which is read into prompts and written to)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from ..brain.context import is_private
from ..brain.learnings import kind_of
from ..protocols import TaskBrief
from ..vault.blocks import strip_owned
from ..vault.note import Note

__all__ = ["brief", "fingerprint", "is_private", "kind_of", "section", "steer_message", "title_of"]


def title_of(note: Note) -> str:
    fm_title = note.frontmatter.get("title")
    if isinstance(fm_title, str) and fm_title.strip():
        return fm_title.strip()
    return note.name


def section(note: Note, *names: str) -> str:
    for name in names:
        text = note.section(name)
        if text and text.strip():
            return strip_owned(text).strip()
    return ""


def first_paragraph(body: str) -> str:
    for block in re.split(r"\n\s*\n", body):
        lines = [ln for ln in block.strip().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if lines:
            return "\n".join(lines).strip()
    return ""


def steer_message(note: Note) -> str:
    """The human's steer: the `## Steer` section (headings inside code are not headings); nothing else."""
    return section(note, "Steer")


def brief(note: Note, task_id: str, private_folders: Sequence[str] = ()) -> TaskBrief:
    """The task as the planners see it; `private` when the note is (pass settings.private_folders)."""
    body = strip_owned(note.body).strip()
    goal = section(note, "Goal", "Goals", "What", "Problem") or first_paragraph(body)
    return TaskBrief(
        id=task_id, title=title_of(note), path=note.path, body=body, goal=goal,
        acceptance=section(note, "Acceptance criteria", "Acceptance", "Done when", "Definition of done"),
        kind=kind_of(note), tags=tuple(t.lower() for t in note.tags),
        feedback=section(note, "Feedback"), steer=steer_message(note), private=is_private(note, private_folders),
    )


def fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]
