"""Planner: prompt, agent+model choice, failure diagnosis, review. Template (offline) and Claude planners.

    TemplatePlanner(routes=(), context_tokens=...) implements protocols.Planner (name "template"); review() returns verdict "skipped".
    ClaudePlanner(model: str, client: anthropic.Anthropic | None = None, fallback: Planner = TemplatePlanner())
    make_planner(settings, environ) -> Planner      auto = claude when ANTHROPIC_API_KEY is set
    route(task: TaskBrief, requested: str, routes: list[str], default: str, available: Sequence[str],
          stats: Mapping | None = None) -> tuple[str, str]     (agent name, one-line reason)

Both planners take `routes=` (settings.routes). PlanRequest.learnings is the kind's
learnings note parsed once (learnings.Learned): its stats feed routing, its render() the prompt's lessons.
Everything a planner puts into a prompt or an API request passes through redact() first.

One module per part: routing.py (which agent), diagnosis.py (what went wrong), prompt_sections.py (the prompt,
section by section, untrusted text fenced as data), template_planner.py, claude_planner.py. This module picks
the planner the settings ask for.
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Mapping
from typing import Any

from ..errors import PlannerError, SettingsError
from ..protocols import Planner
from ..settings import env_number
from .claude_planner import PLAN_TOOL, REVIEW_TOOL, ClaudePlanner, sdk
from .diagnosis import diagnose
from .routing import route
from .template_planner import DEFAULT_CONTEXT_TOKENS, TemplatePlanner

__all__ = ["PLAN_TOOL", "REVIEW_TOOL", "ClaudePlanner", "TemplatePlanner", "diagnose", "make_planner",
           "newest_model", "route"]


def newest_model(family: str = "sonnet") -> str:
    """The newest model id of a family that the installed anthropic SDK lists (e.g. claude-sonnet-5-5)."""
    from anthropic.types import ModelParam
    ids = [a for arg in typing.get_args(ModelParam) for a in typing.get_args(arg) if isinstance(a, str)]
    pattern = re.compile(rf"^claude-{re.escape(family)}-(\d+)(?:-(\d+))?$")
    versions = [((int(m.group(1)), int(m.group(2) or 0)), i) for i in ids if (m := pattern.match(i))]
    if not versions:
        raise PlannerError(f"the anthropic SDK lists no claude-{family} model: set planner_model in Zoe/Zoe.md")
    return max(versions)[1]


def make_planner(settings: Any, environ: Mapping[str, str] | None = None) -> Planner:
    """The planner settings ask for: auto = claude when ANTHROPIC_API_KEY is set, else template.

    VAULTZOE_PLANNER_RETRIES and VAULTZOE_PLANNER_TIMEOUT (seconds) tune the API client.
    """
    env = os.environ if environ is None else environ
    budget = int(getattr(settings, "context_tokens", DEFAULT_CONTEXT_TOKENS))
    template = TemplatePlanner(settings.routes, budget)
    key = (env.get("ANTHROPIC_API_KEY") or "").strip()
    if settings.planner == "template" or (settings.planner == "auto" and not key):
        return template
    if not key:
        raise SettingsError("planner: claude needs ANTHROPIC_API_KEY in the environment: set it, "
                            "or set `planner: template` in Zoe/Zoe.md")
    client = sdk().Anthropic(api_key=key, base_url=(env.get("ANTHROPIC_BASE_URL") or None),
                                 max_retries=env_number(env, "VAULTZOE_PLANNER_RETRIES", 2),
                                 timeout=env_number(env, "VAULTZOE_PLANNER_TIMEOUT", 120.0))
    model = settings.planner_model if "planner_model" in settings.model_fields_set else newest_model("sonnet")
    return ClaudePlanner(model, client=client, fallback=template, routes=settings.routes, context_tokens=budget)
