"""Render the registry table (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from ..text import one_line

COLUMNS = ("Task", "Status", "Repo", "Agent", "Attempt", "Branch", "PR", "Checks", "Updated", "Cost", "Note")

CHECK_MARKS = {"pass": "✅", "fail": "❌", "pending": "⏳", "skipped": "➖"}


@dataclass(frozen=True)
class Row:
    path: str              # vault path of the task note
    title: str
    status: str
    repo: str = ""
    agent: str = ""
    attempt: int = 0
    branch: str = ""
    pr: str = ""
    checks: tuple[tuple[str, str, str], ...] = ()
    updated: str = ""
    cost_usd: float = 0.0
    note: str = ""         # why it waits / is blocked / failed


def cell(text: str) -> str:
    """A table cell: no newlines, pipes escaped (Obsidian reads `\\|` inside tables)."""
    return one_line(text, None).replace("|", "\\|")


def wikilink(path: str, title: str | None = None) -> str:
    target = path[:-3] if path.lower().endswith(".md") else path
    label = f"\\|{title}" if title and title != target.rsplit("/", 1)[-1] else ""
    return f"[[{target}{label}]]"


def checks_cell(checks: tuple[tuple[str, str, str], ...]) -> str:
    return " ".join(f"{name} {CHECK_MARKS.get(state, state)}" for name, state, _ in checks)


def render_row(row: Row) -> str:
    cells = (
        wikilink(row.path, row.title), row.status, row.repo, row.agent,
        str(row.attempt or ""), f"`{row.branch}`" if row.branch else "", row.pr,
        checks_cell(row.checks), row.updated, f"${row.cost_usd:.2f}" if row.cost_usd else "", cell(row.note),
    )
    return "| " + " | ".join(c if c.startswith("[[") else cell(c) for c in cells) + " |"


STATUS_ORDER = ("running", "checking", "queued", "review", "blocked", "failed", "draft", "proposed", "done", "cancelled")


def render_registry(rows: list[Row]) -> str:
    """The table, active work first, then newest first within a status."""
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    ordered = sorted(rows, key=lambda r: r.updated, reverse=True)
    ordered.sort(key=lambda r: order.get(r.status, len(order)))
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    return "\n".join([header, rule, *map(render_row, ordered)])


def render_problems(problems: list[tuple[str, str, int | None]]) -> str:
    """Notes that look like tasks but cannot run: a warning callout listing each with the fix."""
    if not problems:
        return ""
    lines = [f"> [!warning] {len(problems)} note{'s' if len(problems) != 1 else ''} vaultzoe cannot run"]
    for path, message, line in sorted(problems):
        where = f" (line {line})" if line else ""
        lines.append(f"> - {wikilink(path)}{where}: {cell(message)}")
    return "\n".join(lines)
