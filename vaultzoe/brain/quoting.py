"""Untrusted text in a prompt: quoted inside fences it cannot close, and cut to the prompt's budget (pure).

Vault notes, lessons and agent output are information for the agent, never instructions: a customer note's
`## Constraints` must not read like vaultzoe's own. They go inside a backtick fence longer than any backtick
run in the text (so no line of the text can close it), under a preamble that says what they are. The task
note itself is the human's word, but it can be huge: each part of it gets a share of `context_tokens`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..protocols import TaskBrief
from .redact import redact

__all__ = ["bounded_task", "clip", "fence", "quoted"]

CHARS_PER_TOKEN = 4
TITLE_CHARS = 200
REDACT_MARGIN = 2000          # redact a little past the cut, so a secret across it is still recognised
# shares of the context budget (tokens) for the parts of a task note; together at most the whole budget
TASK_SHARES = {"goal": 0.3, "acceptance": 0.2, "body": 0.3, "feedback": 0.1, "steer": 0.1}
_BACKTICKS = re.compile(r"`{3,}")


def fence(text: str, info: str = "text") -> str:
    """`text` in a backtick fence longer than any backtick run inside it: nothing in it can end the fence."""
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(text)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def quoted(preamble: str, text: str, info: str = "text") -> str:
    """A preamble saying what the text is, then the text fenced as data."""
    return f"{preamble}\n\n{fence(text, info)}"


def clip(text: str, chars: int, where: str) -> str:
    """At most `chars` characters of text (marker included), cut at a line or word, saying where the rest is.

    Clipping clipped text changes nothing, so a request may pass through more than one planner."""
    if len(text) <= chars:
        return text
    marker = f"\n\n…(cut at {{:,}} of {len(text):,} characters to fit the prompt's budget; {where})"
    room = max(chars - len(marker) - 12, chars // 2)
    head = redact(text[: room + REDACT_MARGIN])[:room]
    cut = max(head.rfind("\n"), head.rfind(" "))
    head = (head[:cut] if cut > room * 0.8 else head).rstrip()
    return head + marker.format(len(head))


def bounded_task(task: TaskBrief, context_tokens: int) -> TaskBrief:
    """The brief with goal, acceptance criteria, body, feedback and steer cut to their shares of the budget."""
    where = f"the full text is in the task note `{task.path}`"
    budget = max(int(context_tokens), 200) * CHARS_PER_TOKEN
    parts = {name: clip(getattr(task, name), int(share * budget), where) for name, share in TASK_SHARES.items()}
    title = task.title if len(task.title) <= TITLE_CHARS else task.title[:TITLE_CHARS].rstrip() + " …"
    return replace(task, title=title, **parts)
