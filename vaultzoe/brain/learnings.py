"""Learnings: patterns that worked, lessons, per-kind stats that feed routing (pure; written via the journal).

API CONTRACT (fixed):

    kind_of(note: Note) -> str                          `kind:` or nested tag #task/<kind> as a slug, else "general"
    learnings_for_prompt(index, kind, private_folders=()) -> str   the kind's note text, "" if missing or private
    Outcome(task_id, task_path, attempt, agent, model, succeeded_first_try, merged, cost_usd, duration_s,
            prompt_shape, attempt_note, lesson)
    record(text: str, outcome: Outcome) -> str          the learnings note with its owned block updated
    stats(text: str) -> dict[str, AgentStats]           per "agent/model" from the owned block
    lessons(text: str) -> str                           lessons + human part, for the prompt

A learnings note (Zoe/Learnings/<kind>.md) holds three owned blocks and the human's own text:

    <!-- vaultzoe:stats -->    a table per agent/model, and the raw outcomes as JSON in an HTML comment
                               (hidden in Obsidian's reading view) so the numbers survive restarts and
                               re-recording the same attempt never counts it twice
    <!-- vaultzoe:worked -->   one entry per merged task: agent, model, prompt shape, links to task and attempt
    <!-- vaultzoe:lessons -->  one line per lesson drawn from a failed attempt
    everything else            the human's; read for the prompt, never changed
"""

from __future__ import annotations

import json
import re
import statistics
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..settings import LEARNINGS_DIR
from ..vault.edit import get_block, replace_block
from .privacy import is_private
from .redact import redact

if TYPE_CHECKING:
    from ..vault.index import VaultIndex
    from ..vault.note import Note

__all__ = ["AgentStats", "Outcome", "kind_of", "kind_slug", "learnings_for_prompt", "lessons", "new_note",
           "prompt_shape", "record", "stats"]

STATS, WORKED, LESSONS = "stats", "worked", "lessons"
MAX_RECORDS = 1000                # oldest outcomes beyond this fold into the per-key baseline
LESSONS_IN_PROMPT = 15
WORKED_IN_PROMPT = 3

_DATA = re.compile(r"<!--\s*stats-data\s+(\{.*?\})\s*-->", re.S)
_ANY_BLOCK = re.compile(r"<!--\s*vaultzoe:([\w./\-]+)\s*-->.*?<!--\s*/vaultzoe:\1\s*-->\n?", re.S)
_FRONTMATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_COMMENTS = re.compile(r"%%.*?%%|<!--.*?-->", re.S)
_TRAILING_LINK = re.compile(r"\s*\(\[\[[^\]]*\]\]\)\s*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
KIND_MAX = 64
_QUOTED_OUTPUT = re.compile(r"\s*(?:Last output:|The end of its output:|`{3})")   # where evidence quotes output
LESSON_CHARS = 240
_TABLE_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|" + r"\s*([^|]*?)\s*\|" * 6 + r"\s*$", re.M)

STATS_HEADING = "## Outcomes by agent and model"
WORKED_HEADING = "## What worked"
LESSONS_HEADING = "## Lessons from failed attempts"
TABLE_HEAD = ("| Agent/model | Tasks | Attempts | First-try successes | Merges | Median cost | Median duration |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")


@dataclass(frozen=True)
class Outcome:
    """One finished attempt (or the merge of its task); recorded again for the same attempt, it updates."""

    task_id: str
    task_path: str
    attempt: int
    agent: str
    model: str | None = None
    succeeded_first_try: bool = False
    merged: bool = False
    cost_usd: float | None = None
    duration_s: float | None = None
    prompt_shape: str = ""
    attempt_note: str = ""
    lesson: str = ""

    @property
    def key(self) -> str:
        return f"{self.agent}/{self.model or 'default'}"


@dataclass(frozen=True)
class AgentStats:
    key: str                       # "agent/model"
    tasks: int
    attempts: int
    first_try: int
    merges: int
    median_cost: float | None = None
    median_duration: float | None = None

    @property
    def agent(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def model(self) -> str | None:
        model = self.key.split("/", 1)[1] if "/" in self.key else "default"
        return None if model == "default" else model

    @property
    def success_rate(self) -> float:
        """Merged tasks per task tried: what routing compares."""
        return self.merges / self.tasks if self.tasks else 0.0


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


def learnings_for_prompt(index: VaultIndex, kind: str, private_folders: Sequence[str] = ()) -> str:
    """The learnings note of a kind for the planners, or "" when there is none or it is private (like any context)."""
    note = index.note(f"{LEARNINGS_DIR}/{kind_slug(kind)}.md")
    if note is None or is_private(note, private_folders):
        return ""
    return note.text


INVITE = ("Write what you know about these tasks here (conventions, pitfalls, what the customer cares about); "
          "vaultzoe puts it into every prompt for this kind and never edits it.")


def new_note(kind: str) -> str:
    """A fresh learnings note: a title and a line inviting the human's own notes (the blocks follow on record)."""
    return f"# Learnings: {kind}\n\n{INVITE}\n"


# ---------------------------------------------------------------- recording


def record(text: str, outcome: Outcome) -> str:
    """The learnings note with this outcome counted, its success listed when merged, its lesson added."""
    data = _load(text)
    _upsert(data, outcome)
    text = replace_block(text, STATS, _render_stats(data))
    if outcome.merged:
        text = _append_line(text, WORKED, WORKED_HEADING, _worked_line(outcome), _worked_marker(outcome))
    if outcome.lesson.strip():
        line = _lesson_line(outcome)
        text = _append_line(text, LESSONS, LESSONS_HEADING, line, _lesson_marker(outcome))
    return text


def _load(text: str) -> dict[str, Any]:
    """The raw outcomes from the hidden JSON; from the visible table as a baseline when the JSON is gone."""
    block = get_block(text, STATS) or ""
    match = _DATA.search(block)
    if match:
        try:
            data = json.loads(match.group(1))
            if isinstance(data, dict) and isinstance(data.get("records"), list):
                data.setdefault("base", {})
                return data
        except ValueError:
            pass
    return {"v": 1, "records": [], "base": {k: _stats_dict(s) for k, s in _table_stats(block).items()}}


def _upsert(data: dict[str, Any], outcome: Outcome) -> None:
    records = data["records"]
    row = {"task": outcome.task_id, "attempt": outcome.attempt, "key": outcome.key,
           "first": outcome.succeeded_first_try, "merged": outcome.merged,
           "cost": outcome.cost_usd, "dur": outcome.duration_s}
    for i, old in enumerate(records):
        if old.get("task") == outcome.task_id and old.get("attempt") == outcome.attempt:
            row = {k: (v if v not in (None, False) else old.get(k, v)) for k, v in row.items()}
            records[i] = row
            return
    records.append(row)
    if len(records) > MAX_RECORDS:
        _fold(data, records.pop(0))


def _fold(data: dict[str, Any], old: dict[str, Any]) -> None:
    """An outcome too old to keep one by one still counts: it moves into its key's baseline."""
    base = data["base"].setdefault(old["key"], {"tasks": 0, "attempts": 0, "first": 0, "merges": 0,
                                                "cost": None, "dur": None})
    base["attempts"] += 1
    base["tasks"] += 1 if old.get("attempt") == 1 else 0
    base["first"] += 1 if old.get("first") else 0
    base["merges"] += 1 if old.get("merged") else 0


def _render_stats(data: dict[str, Any]) -> str:
    rows = [_row(s) for s in sorted(_compute(data).values(), key=lambda s: s.key)]
    blob = json.dumps(data, separators=(",", ":"), sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e")
    return "\n".join([STATS_HEADING, "", TABLE_HEAD, *rows, f"<!-- stats-data {blob} -->"])


def _row(s: AgentStats) -> str:
    return (f"| {s.key} | {s.tasks} | {s.attempts} | {s.first_try} | {s.merges} | {_money(s.median_cost)} | "
            f"{_duration(s.median_duration)} |")


def _money(value: float | None) -> str:
    return "–" if value is None else f"${value:.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


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
    shape = f" · prompt: {_one_line(outcome.prompt_shape)}" if outcome.prompt_shape else ""
    attempt = f" · {_link(outcome.attempt_note)}" if outcome.attempt_note else ""
    return (f"- {_link(outcome.task_path)} merged after attempt {outcome.attempt} · {outcome.key}{shape}{attempt} "
            f"<!-- {_worked_marker(outcome)} -->")


def _lesson_marker(outcome: Outcome) -> str:
    """The lesson's headline, redacted: never the output quoted under it as evidence (it may hold anything)."""
    first = next((line for line in outcome.lesson.splitlines() if line.strip()), "")
    return _one_line(redact(_QUOTED_OUTPUT.split(first, maxsplit=1)[0]))[:LESSON_CHARS]


def _lesson_line(outcome: Outcome) -> str:
    source = f" ({_link(outcome.attempt_note)})" if outcome.attempt_note else ""
    return f"- {_lesson_marker(outcome)}{source}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- reading


def stats(text: str) -> dict[str, AgentStats]:
    """Per "agent/model": tasks, attempts, first-try successes, merges, median cost and duration."""
    return _compute(_load(text))


def _compute(data: dict[str, Any]) -> dict[str, AgentStats]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in data.get("records", []):
        if isinstance(row, dict) and isinstance(row.get("key"), str):
            grouped.setdefault(row["key"], []).append(row)
    keys = set(grouped) | set(data.get("base", {}))
    return {key: _stats_of(key, grouped.get(key, []), data.get("base", {}).get(key, {})) for key in keys}


def _stats_of(key: str, rows: list[dict[str, Any]], base: dict[str, Any]) -> AgentStats:
    costs = [r["cost"] for r in rows if isinstance(r.get("cost"), (int, float))]
    durations = [r["dur"] for r in rows if isinstance(r.get("dur"), (int, float))]
    return AgentStats(
        key=key,
        tasks=len({r.get("task") for r in rows}) + int(base.get("tasks", 0)),
        attempts=len(rows) + int(base.get("attempts", 0)),
        first_try=sum(1 for r in rows if r.get("first")) + int(base.get("first", 0)),
        merges=len({r.get("task") for r in rows if r.get("merged")}) + int(base.get("merges", 0)),
        median_cost=statistics.median(costs) if costs else base.get("cost"),
        median_duration=statistics.median(durations) if durations else base.get("dur"),
    )


def _stats_dict(s: AgentStats) -> dict[str, Any]:
    return {"tasks": s.tasks, "attempts": s.attempts, "first": s.first_try, "merges": s.merges,
            "cost": s.median_cost, "dur": s.median_duration}


def _table_stats(block: str) -> dict[str, AgentStats]:
    """Read the visible table back (when the hidden JSON was deleted by hand)."""
    out = {}
    for match in _TABLE_ROW.finditer(block):
        key, *cells = match.groups()
        if "/" not in key or not cells[0].strip().isdigit():
            continue
        numbers = [int(c) if c.strip().isdigit() else 0 for c in cells[:4]]
        out[key] = AgentStats(key, *numbers, _parse_money(cells[4]), _parse_duration(cells[5]))
    return out


def _parse_money(cell: str) -> float | None:
    match = re.search(r"\d+(?:\.\d+)?", cell)
    return float(match.group(0)) if match else None


def _parse_duration(cell: str) -> float | None:
    match = re.fullmatch(r"\s*(?:(\d+)m\s*)?(\d+)s\s*", cell)
    return int(match.group(1) or 0) * 60 + int(match.group(2)) if match else None


def lessons(text: str) -> str:
    """What the prompt writer should know: the human's notes, recent lessons, and what worked lately."""
    mine = _COMMENTS.sub("", human_part(text))      # %% comments %% are notes to self, not advice
    own = [ln for ln in mine.splitlines() if ln.strip() != INVITE and not ln.startswith("# ")]
    parts = ["\n".join(own).strip()]
    lesson_lines = _entries(get_block(text, LESSONS))[-LESSONS_IN_PROMPT:]
    if lesson_lines:
        parts.append("Lessons from earlier failed attempts:\n" + "\n".join(lesson_lines))
    worked = _entries(get_block(text, WORKED))[-WORKED_IN_PROMPT:]
    if worked:
        parts.append("What worked before:\n" + "\n".join(worked))
    return "\n\n".join(p for p in parts if p).strip()


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
