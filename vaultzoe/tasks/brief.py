"""Read what a task note asks for: title, goal, acceptance criteria, feedback, steer, kind (pure)."""

from __future__ import annotations

import hashlib
import re

from ..protocols import TaskBrief
from ..vault.note import Note
from .journal import strip_owned

STEER_LINE = re.compile(r"^\s*(?:[-*]\s*)?Steer:\s*(.+)$", re.M | re.I)


def title_of(note: Note) -> str:
    fm_title = note.frontmatter.get("title")
    if isinstance(fm_title, str) and fm_title.strip():
        return fm_title.strip()
    return note.name


def kind_of(note: Note) -> str:
    """`kind:` or the nested tag #task/<kind>, else general."""
    kind = note.frontmatter.get("kind")
    if isinstance(kind, str) and kind.strip():
        return kind.strip().lower()
    for tag in note.tags:
        low = tag.lower()
        if low.startswith("#task/"):
            return low.split("/", 1)[1]
    return "general"


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
    """The human's steer: a `## Steer` section, or lines starting `Steer:`."""
    text = section(note, "Steer")
    if text:
        return text
    body = strip_owned(note.body)
    return "\n".join(m.group(1).strip() for m in STEER_LINE.finditer(body))


def brief(note: Note, task_id: str) -> TaskBrief:
    body = strip_owned(note.body).strip()
    goal = section(note, "Goal", "Goals", "What", "Problem") or first_paragraph(body)
    return TaskBrief(
        id=task_id, title=title_of(note), path=note.path, body=body, goal=goal,
        acceptance=section(note, "Acceptance criteria", "Acceptance", "Done when", "Definition of done"),
        kind=kind_of(note), tags=tuple(t.lower() for t in note.tags),
        feedback=section(note, "Feedback"), steer=steer_message(note),
    )


def fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]
