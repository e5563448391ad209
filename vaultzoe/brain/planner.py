"""Planner: prompt, agent+model choice, failure diagnosis, review. Template (offline) and Claude planners.

API CONTRACT (fixed):

    TemplatePlanner() implements protocols.Planner (name "template"); review() returns verdict "skipped".
    ClaudePlanner(model: str, client: anthropic.Anthropic | None = None, fallback: Planner = TemplatePlanner())
    make_planner(settings, environ) -> Planner      auto = claude when ANTHROPIC_API_KEY is set
    route(task: TaskBrief, requested: str, routes: list[str], default: str, available: Sequence[str],
          stats: Mapping | None = None) -> tuple[str, str]     (agent name, one-line reason)
"""

from __future__ import annotations
