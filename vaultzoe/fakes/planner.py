"""ScriptedPlanner: a deterministic Planner for tests and demos (like llm's MockModel.enqueue).

Scripted plans and reviews are handed out in order (a scripted review error is raised as PlannerError); when
none are left it answers like the template planner. Every request is kept, so a test can assert on what the
orchestrator asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..brain.planner import TemplatePlanner
from ..errors import PlannerError
from ..protocols import Plan, PlanRequest, Review, ReviewRequest


class ScriptedPlanner:
    name = "scripted"

    def __init__(self, plans: Sequence[Plan | str] = (), reviews: Sequence[Review] = (),
                 routes: Sequence[str] = ()) -> None:
        self._plans = list(plans)
        self._reviews: list[Review | str] = list(reviews)   # a str: the message of a PlannerError to raise
        self._template = TemplatePlanner(routes)
        self.plan_requests: list[PlanRequest] = []
        self.review_requests: list[ReviewRequest] = []

    def enqueue_plan(self, plan: Plan | str) -> None:
        """A Plan, or just the prompt text (agent and reason then come from the template planner's routing)."""
        self._plans.append(plan)

    def enqueue_review(self, verdict: str, summary: str = "", findings: Sequence[str] = ()) -> None:
        self._reviews.append(Review(verdict=verdict, summary=summary or f"scripted {verdict}",  # type: ignore[arg-type]
                                    findings=tuple(findings)))

    def enqueue_review_error(self, message: str) -> None:
        """The next review raises PlannerError(message), as a planner whose API is down does."""
        self._reviews.append(message)

    def plan(self, request: PlanRequest) -> Plan:
        self.plan_requests.append(request)
        base = self._template.plan(request)
        if not self._plans:
            return replace(base, planner=self.name)
        scripted = self._plans.pop(0)
        if isinstance(scripted, str):
            return replace(base, prompt=scripted, planner=self.name)
        return scripted

    def review(self, request: ReviewRequest) -> Review:
        self.review_requests.append(request)
        if not self._reviews:
            return Review(verdict="pass", summary="scripted reviewer: no review scripted, passing")
        scripted = self._reviews.pop(0)
        if isinstance(scripted, str):
            raise PlannerError(scripted)
        return scripted
