"""Learnings: patterns that worked, lessons, per-kind stats that feed routing (pure; written via the journal).

    kind_of(note: Note) -> str                          `kind:` or nested tag #task/<kind> as a slug, else "general"
    learnings_for_prompt(index, kind, private_folders=()) -> Learned   the kind's note parsed once for the
                                                        planners; Learned() if missing or private
    Learned(stats, notes, lessons, worked)              .render() -> str: what the prompt quotes
    parse(text: str) -> Learned                         a learnings note's text, parsed
    Outcome(task_id, task_path, attempt, agent, model, succeeded_first_try, merged, cost_usd, duration_s,
            prompt_shape, attempt_note, lesson)
    record(text: str, outcome: Outcome) -> str          the learnings note with its owned block updated
    stats(text: str) -> dict[str, AgentStats]           per "agent/model" from the owned block
    lessons(text: str) -> str                           lessons + human part, for the prompt (parse(text).render())

A learnings note (Zoe/Learnings/<kind>.md) holds three owned blocks and the human's own text:

    <!-- vaultzoe:stats -->    a table per agent/model, and the raw outcomes as JSON in an HTML comment
                               (outcomes.py: it survives restarts, re-recording an attempt never counts it twice)
    <!-- vaultzoe:worked -->   one entry per merged task: agent, model, prompt shape, links to task and attempt
    <!-- vaultzoe:lessons -->  one line per lesson drawn from a failed attempt
    everything else            the human's; read for the prompt, never changed
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..layout import LEARNINGS_DIR
from ..text import one_line
from ..vault.blocks import get_block, replace_block
from .outcomes import STATS, AgentStats, Outcome, compute, load, render, stats, upsert
from .privacy import is_private
from .redact import redact

if TYPE_CHECKING:
    from ..vault.index import VaultIndex
    from ..vault.note import Note

__all__ = ["AgentStats", "Learned", "Outcome", "human_part", "kind_of", "kind_slug", "learnings_for_prompt",
           "lessons", "new_note", "parse", "prompt_shape", "record", "stats"]

WORKED, LESSONS = "worked", "lessons"
LESSONS_IN_PROMPT = 15
WORKED_IN_PROMPT = 3

_ANY_BLOCK = re.compile(r"<!--\s*vaultzoe:([\w./\-]+)\s*-->.*?<!--\s*/vaultzoe:\1\s*-->\n?", re.S)
_FRONTMATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_COMMENTS = re.compile(r"%%.*?%%|<!--.*?-->", re.S)
_TRAILING_LINK = re.compile(r"\s*\(\[\[[^\]]*\]\]\)\s*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
KIND_MAX = 64
_QUOTED_OUTPUT = re.compile(r"\s*(?:Last output:|The end of its output:|`{3})")   # where evidence quotes output
LESSON_CHARS = 240

WORKED_HEADING = "## What worked"
LESSONS_HEADING = "## Lessons from failed attempts"


@dataclass(frozen=True)
class Learned:
    """A kind's learnings note as the planners read it, parsed once: stats for routing, the rest for the prompt."""

    stats: tuple[AgentStats, ...] = ()     # per agent/model, by key
    notes: str = ""                        # the human's own words (no comments, title or invitation)
    lessons: tuple[str, ...] = ()          # "- ..." lines from failed attempts, oldest first
    worked: tuple[str, ...] = ()           # "- ..." lines of merged tasks, oldest first

    def stats_by_key(self) -> dict[str, AgentStats]:
        """The stats as route() takes them: "agent/model" -> AgentStats."""
        return {s.key: s for s in self.stats}

    def render(self) -> str:
        """What the prompt writer should know: the human's notes, recent lessons, and what worked lately."""
        parts = [self.notes]
        if self.lessons:
            parts.append("Lessons from earlier failed attempts:\n" + "\n".join(self.lessons[-LESSONS_IN_PROMPT:]))
        if self.worked:
            parts.append("What worked before:\n" + "\n".join(self.worked[-WORKED_IN_PROMPT:]))
        return "\n\n".join(p for p in parts if p).strip()


def parse(text: str) -> Learned:
    """A learnings note's text as a Learned value (the one place the note's markdown is read for the planners)."""
    table = compute(load(text))
    mine = _COMMENTS.sub("", human_part(text))      # %% comments %% are notes to self, not advice
    own = [ln for ln in mine.splitlines() if ln.strip() != INVITE and not ln.startswith("# ")]
    return Learned(stats=tuple(table[key] for key in sorted(table)), notes="\n".join(own).strip(),
                   lessons=tuple(_entries(get_block(text, LESSONS))), worked=tuple(_entries(get_block(text, WORKED))))


def kind_of(note: Note) -> str:
    """`kind:` or the nested tag #task/<kind> as a slug ([a-z0-9-]), else "general".

    The kind names a note (Zoe/Learnings/<kind>.md) that is read into prompts and written to: never a path."""
    kind = note.frontmatter.get("kind") if isinstance(note.frontmatter, dict) else None
    if isinstance(kind, str) and kind.strip():
        return kind_slug(kind)
    for tag in note.tags:
        low = tag.lower()
        if low.startswith("#task/") and len(low) > len("#task/"):
            return kind_slug(low.split("/", 1)[1])
    return "general"


def kind_slug(value: str) -> str:
    """"Bug Fix" -> "bug-fix", "../../private/diary" -> "private-diary"; nothing left -> "general"."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    slug = _NOT_SLUG.sub("-", ascii_text).strip("-")[:KIND_MAX]
    return slug.strip("-") or "general"


def learnings_for_prompt(index: VaultIndex, kind: str, private_folders: Sequence[str] = ()) -> Learned:
    """The learnings note of a kind, parsed for the planners; Learned() when there is none or it is private."""
    note = index.note(f"{LEARNINGS_DIR}/{kind_slug(kind)}.md")
    if note is None or is_private(note, private_folders):
        return Learned()
    return parse(note.text)


INVITE = ("Write what you know about these tasks here (conventions, pitfalls, what the customer cares about); "
          "vaultzoe puts it into every prompt for this kind and never edits it.")


def new_note(kind: str) -> str:
    """A fresh learnings note: a title and a line inviting the human's own notes (the blocks follow on record)."""
    return f"# Learnings: {kind}\n\n{INVITE}\n"


# ---------------------------------------------------------------- recording


def record(text: str, outcome: Outcome) -> str:
    """The learnings note with this outcome counted, its success listed when merged, its lesson added."""
    data = load(text)
    upsert(data, outcome)
    text = replace_block(text, STATS, render(data))
    if outcome.merged:
        text = _append_line(text, WORKED, WORKED_HEADING, _worked_line(outcome), _worked_marker(outcome))
    if outcome.lesson.strip():
        line = _lesson_line(outcome)
        text = _append_line(text, LESSONS, LESSONS_HEADING, line, _lesson_marker(outcome))
    return text


def _append_line(text: str, name: str, heading: str, line: str, marker: str) -> str:
    """Append `line` to an owned list block unless an entry with `marker` is there already."""
    block = get_block(text, name)
    if block is not None and marker in block:
        return text
    body = f"{block.rstrip()}\n{line}" if block and block.strip() else f"{heading}\n\n{line}"
    return replace_block(text, name, body)


def _link(path: str) -> str:
    target = path[:-3] if path.lower().endswith(".md") else path
    return f"[[{target}]]"


def _worked_marker(outcome: Outcome) -> str:
    return f"task:{outcome.task_id}"


def _worked_line(outcome: Outcome) -> str:
    shape = f" · prompt: {one_line(outcome.prompt_shape, None)}" if outcome.prompt_shape else ""
    attempt = f" · {_link(outcome.attempt_note)}" if outcome.attempt_note else ""
    return (f"- {_link(outcome.task_path)} merged after attempt {outcome.attempt} · {outcome.key}{shape}{attempt} "
            f"<!-- {_worked_marker(outcome)} -->")


def _lesson_marker(outcome: Outcome) -> str:
    """The lesson's headline, redacted: never the output quoted under it as evidence (it may hold anything)."""
    first = next((line for line in outcome.lesson.splitlines() if line.strip()), "")
    return one_line(redact(_QUOTED_OUTPUT.split(first, maxsplit=1)[0]), None)[:LESSON_CHARS]


def _lesson_line(outcome: Outcome) -> str:
    source = f" ({_link(outcome.attempt_note)})" if outcome.attempt_note else ""
    return f"- {_lesson_marker(outcome)}{source}"


# ---------------------------------------------------------------- reading


def lessons(text: str) -> str:
    """What the prompt writer should know: the human's notes, recent lessons, and what worked lately."""
    return parse(text).render()


def human_part(text: str) -> str:
    """The note without frontmatter and without vaultzoe's blocks: the human's own words."""
    body = _FRONTMATTER.sub("", text, count=1)
    return _ANY_BLOCK.sub("", body).strip()


def _entries(block: str | None) -> list[str]:
    lines: Iterable[str] = (block or "").splitlines()
    out = []
    for line in lines:
        if line.startswith("- "):
            line = re.sub(r"\s*<!--.*?-->", "", line)
            out.append(_TRAILING_LINK.sub("", line).rstrip())
    return out


# ---------------------------------------------------------------- prompt shape (for "what worked")


def prompt_shape(prompt: str) -> str:
    """A one-line description of a prompt: its sections and size, e.g. "Goal, Business context, ... (~2.1k tokens)"."""
    sections = [m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", prompt, re.M)]
    size = (len(prompt) + 3) // 4
    size_text = f"{size / 1000:.1f}k" if size >= 1000 else str(size)
    return f"{', '.join(sections) or 'free text'} (~{size_text} tokens)"
