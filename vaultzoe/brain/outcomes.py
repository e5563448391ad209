"""Outcomes of attempts and the per agent/model stats they add up to: the stats block of a learnings note (pure).

The block holds a table per agent/model and the raw outcomes as JSON in an HTML comment (hidden in Obsidian's
reading view), so the numbers survive restarts and re-recording the same attempt never counts it twice. When the
JSON is gone (deleted by hand) the visible table is read back as a baseline.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from typing import Any

from ..vault.blocks import get_block

__all__ = ["AgentStats", "Outcome", "STATS", "compute", "load", "render", "stats", "upsert"]

STATS = "stats"
MAX_RECORDS = 1000                # oldest outcomes beyond this fold into the per-key baseline
STATS_HEADING = "## Outcomes by agent and model"
TABLE_HEAD = ("| Agent/model | Tasks | Attempts | First-try successes | Merges | Median cost | Median duration |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
_DATA = re.compile(r"<!--\s*stats-data\s+(\{.*?\})\s*-->", re.S)
_TABLE_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|" + r"\s*([^|]*?)\s*\|" * 6 + r"\s*$", re.M)


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


def stats(text: str) -> dict[str, AgentStats]:
    """Per "agent/model": tasks, attempts, first-try successes, merges, median cost and duration."""
    return compute(load(text))


def load(text: str) -> dict[str, Any]:
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


def upsert(data: dict[str, Any], outcome: Outcome) -> None:
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


def render(data: dict[str, Any]) -> str:
    rows = [_row(s) for s in sorted(compute(data).values(), key=lambda s: s.key)]
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


def compute(data: dict[str, Any]) -> dict[str, AgentStats]:
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

