"""Learnings: patterns that worked, lessons, per-kind stats that feed routing (pure; written via the journal).

API CONTRACT (fixed):

    kind_of(note: Note) -> str                          `kind:` or nested tag #task/<kind>, else "general"
    Outcome(task_id, task_path, attempt, agent, model, succeeded_first_try, merged, cost_usd, duration_s,
            prompt_shape, attempt_note, lesson)
    record(text: str, outcome: Outcome) -> str          the learnings note with its owned block updated
    stats(text: str) -> dict[str, AgentStats]           per "agent/model" from the owned block
    lessons(text: str) -> str                           lessons + human part, for the prompt
"""

from __future__ import annotations
