"""The template planner: offline and deterministic, the prompt strung together from its sections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..protocols import Plan, PlanRequest, Review, ReviewRequest
from . import prompt_sections as sections
from .quoting import bounded_task
from .redact import redact
from .routing import routing

__all__ = ["DEFAULT_CONTEXT_TOKENS", "TemplatePlanner", "bounded", "template_prompt"]

DEFAULT_CONTEXT_TOKENS = 8000      # settings.context_tokens' default: what bounds the task note in a prompt


def template_prompt(request: PlanRequest) -> str:
    """The offline prompt: on a retry it leads with what went wrong; then goal, context, repo, lessons, rules."""
    task = request.task
    parts = [sections.title(request), sections.steer(task), sections.what_went_wrong(request), sections.goal(task),
             sections.acceptance(task), sections.details(task), sections.business_context(request),
             sections.repository(request), sections.lessons_for_kind(request), sections.constraints(request),
             sections.definition_of_done(request)]
    if task.feedback.strip() and not request.previous:
        parts.insert(2, f"## Notes from the human\n\n{redact(task.feedback.strip())}")
    return "\n\n".join(s for s in parts if s) + "\n"


def bounded(request: PlanRequest, context_tokens: int) -> PlanRequest:
    """The request with each part of the task note cut to its share of the context budget."""
    return replace(request, task=bounded_task(request.task, context_tokens))


class TemplatePlanner:
    """Offline, deterministic: the same request always gives the same plan."""

    name = "template"

    def __init__(self, routes: Sequence[str] = (), context_tokens: int = DEFAULT_CONTEXT_TOKENS) -> None:
        self.routes = tuple(routes)
        self.context_tokens = context_tokens

    def plan(self, request: PlanRequest) -> Plan:
        agent, reason = routing(request, self.routes)
        prompt = template_prompt(bounded(request, self.context_tokens))
        return Plan(prompt=prompt, agent=agent, model=None, reason=reason, planner=self.name)

    def review(self, request: ReviewRequest) -> Review:
        return Review(verdict="skipped", summary="No automatic review with the template planner: review the diff "
                                                 "yourself, or set ANTHROPIC_API_KEY for the Claude reviewer.")
