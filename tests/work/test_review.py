"""The AI review as a step of the loop: the forge asks (review_for), the planner answers with the real context."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vaultzoe.fakes.planner import ScriptedPlanner
from vaultzoe.protocols import ForgeJob, TaskBrief
from vaultzoe.work.forge import LocalForge
from vaultzoe.work.review import request_review, review_step
from vaultzoe.work.workspace import Workspace

BRANCH = "zoe/add-greeting-t1"
CONTEXT = "## Acme\nAcme's customers greet in Welsh."
TASK = TaskBrief(id="t1", title="Add a greeting", path="Tasks/Add a greeting.md", body="Greet.", goal="Greet.",
                 acceptance="- [ ] greets", kind="feature", tags=())


@pytest.fixture
def setup(git_repo, worktrees_root, tmp_path):
    ws = Workspace(worktrees_root)
    repo = git_repo.config(done=("checks", "review"))
    tree = ws.ensure(repo, BRANCH, "t1")
    job = ForgeJob(task_id="t1", title="Add a greeting", summary="", acceptance="", repo=repo, branch=BRANCH,
                   base="main", worktree=tree.path, base_commit=tree.base_commit, log_dir=tmp_path / "run")
    sha = git_repo.commit_file(tree.path, "greeting.txt", "hello\n", "add greeting")
    return ws, job, sha


def step(ws, job, planner):
    forge = LocalForge(ws)
    return review_step(forge, job, forge.submit(job), lambda j: request_review(planner, ws, j, TASK, CONTEXT))


def test_the_reviewer_sees_the_business_context_and_the_diff_and_its_verdict_is_recorded(setup):
    ws, job, sha = setup
    planner = ScriptedPlanner()
    planner.enqueue_review("block", "English, but Acme greets in Welsh.", ["greeting.txt: use 'shwmae'"])

    report = step(ws, job, planner)

    [request] = planner.review_requests
    assert request.context == CONTEXT and request.task == TASK and "+hello" in request.diff
    assert report.failed and "Acme greets in Welsh" in report.evidence
    assert LocalForge(ws).observe(job) == report                     # kept for the next pass and a restart


def test_a_failing_reviewer_leaves_the_review_pending_and_it_is_asked_again(setup):
    ws, job, sha = setup
    planner = ScriptedPlanner()
    planner.enqueue_review_error("the planner API is down")

    report = step(ws, job, planner)
    assert report.pending and "the planner API is down" in dict((c.name, c.detail) for c in report.checks)["review"]

    forge = LocalForge(ws)
    later = review_step(forge, job, forge.observe(job), lambda j: request_review(planner, ws, j, TASK, CONTEXT))
    assert later.passed and len(planner.review_requests) == 2


def test_no_review_is_asked_for_when_the_forge_does_not_want_one(setup):
    ws, job, _ = setup
    planner = ScriptedPlanner()
    report = step(ws, replace(job, repo=replace(job.repo, done=("checks",))), planner)
    assert report.passed and planner.review_requests == []
