"""Text shaped for one line of a note, a log or a status (pure)."""

from __future__ import annotations

from typing import Any


def one_line(text: Any, limit: int | None = 160) -> str:
    """All whitespace runs (newlines too) as one space, cut to `limit` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1] + "…"


def first_line(text: str, limit: int | None = 160) -> str:
    """The first line that is not blank, as `one_line` shapes it."""
    return one_line(next((line for line in text.splitlines() if line.strip()), ""), limit)
