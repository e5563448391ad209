"""The AI review as a step of the loop: a forge asks for a verdict, the orchestrator answers it.

A forge never sees the business context, so it does not review on its own when the orchestrator can: it
reports the commit it wants a verdict for (`ForgeReport.review_for`, only when the `review` item is listed
and nothing else failed or waits). `review_step` asks the planner about that branch's diff with the task's
real context pack, and hands the verdict back (`ForgeJob.review`, `review_sha`): the local forge records it
with its judgement, the GitHub forge posts it once per head commit. Both read it with `done.ai_review`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ..errors import PlannerError, WorkspaceError
from ..protocols import Forge, ForgeJob, ForgeReport, Planner, Review, ReviewRequest, TaskBrief
from . import done
from .workspace import Workspace


def request_review(planner: Planner, workspace: Workspace, job: ForgeJob, task: TaskBrief, context: str) -> Review:
    """The planner's verdict on the branch's committed changes; a branch without a diff is skipped."""
    try:
        diff = workspace.diff(job.worktree, job.base_commit)
    except WorkspaceError as exc:
        return Review("skipped", f"no diff to review: {exc}")
    return planner.review(ReviewRequest(task=task, context=context, diff=diff))


def job_brief(job: ForgeJob) -> TaskBrief:
    """The task as far as a forge job tells it (a forge that reviews by itself has no note to read)."""
    tags = ("ui",) if job.ui else ()
    return TaskBrief(id=job.task_id, title=job.title, path="", body=job.summary, goal=job.summary,
                     acceptance=job.acceptance, kind="ui" if job.ui else "", tags=tags, private=job.private)


def review_step(forge: Forge, job: ForgeJob, report: ForgeReport,
                review: Callable[[ForgeJob], Review]) -> ForgeReport:
    """When the forge wants a verdict, get one and hand it back; a failing reviewer leaves the item pending."""
    if not report.review_for:
        return report
    try:
        verdict = review(job)
    except PlannerError as exc:
        return done.with_outcome(report, done.ai_review(None, f"AI review failed ({exc}); trying again next pass"))
    return forge.observe(replace(job, review=verdict, review_sha=report.review_for,
                                 pr_number=report.pr_number or job.pr_number))
