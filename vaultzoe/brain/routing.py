"""Routing: which agent runs a task, and a one-line reason (pure).

The task's own `agent:` wins; then the first route (`kind: agent`, `tag: agent`) that matches; then the best
merge rate in the learnings note's stats, once the kind has a few outcomes; else the default agent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..protocols import PlanRequest, TaskBrief
from .learnings import AgentStats

__all__ = ["route", "routing"]

MIN_OUTCOMES_FOR_STATS = 3


def route(task: TaskBrief, requested: str, routes: Sequence[str], default: str, available: Sequence[str],
          stats: Mapping[str, AgentStats] | None = None) -> tuple[str, str]:
    """Which agent runs the task and why (one line): explicit choice, routes, learned stats, else the default."""
    wanted = (requested or "auto").strip()
    if wanted.lower() != "auto":
        return wanted, f"the task asks for `agent: {wanted}`"
    for rule in routes:
        hit = _route_hit(rule, task, available)
        if hit:
            return hit
    learned = _best_by_stats(stats or {}, available, task.kind)
    if learned:
        return learned
    agent = default if not available or default in available else available[0]
    why = "the default agent" if agent == default else f"the default ({default}) is not available"
    return agent, why


def _route_hit(rule: str, task: TaskBrief, available: Sequence[str]) -> tuple[str, str] | None:
    key, sep, agent = rule.partition(":")
    key, agent = key.strip().lower().lstrip("#"), agent.strip()
    if not sep or not key or not agent or (available and agent not in available):
        return None
    if key == task.kind.lower():
        return agent, f"route `{rule.strip()}` matches the kind `{task.kind}`"
    for tag in task.tags:
        bare = tag.lower().lstrip("#")
        if bare == key or bare.startswith(key + "/") or bare.endswith("/" + key):
            return agent, f"route `{rule.strip()}` matches the tag {tag}"
    return None


def _best_by_stats(table: Mapping[str, AgentStats], available: Sequence[str], kind: str) -> tuple[str, str] | None:
    per_agent: dict[str, list[AgentStats]] = {}
    for entry in table.values():
        if not available or entry.agent in available:
            per_agent.setdefault(entry.agent, []).append(entry)
    outcomes = sum(e.attempts for group in per_agent.values() for e in group)
    if outcomes < MIN_OUTCOMES_FOR_STATS or not per_agent:
        return None
    def rate(agent: str) -> tuple[float, float]:
        group = per_agent[agent]
        tasks = sum(e.tasks for e in group) or 1
        return sum(e.merges for e in group) / tasks, sum(e.first_try for e in group) / tasks
    best = max(sorted(per_agent), key=rate)
    merged, _ = rate(best)
    return best, f"best merge rate for `{kind}` tasks so far ({merged:.0%} over {outcomes} outcomes)"


def routing(request: PlanRequest, routes: Sequence[str]) -> tuple[str, str]:
    """The agent for a plan request: route() over its task, its available agents and its learned stats."""
    return route(request.task, request.requested_agent, routes, request.default_agent, request.agents,
                 request.learnings.stats_by_key())
