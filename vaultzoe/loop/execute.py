"""Act: each action `decide` chose, carried out by its handler (a table of action types to handlers)."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Callable

from .. import trust
from ..brain import context as ctx
from ..brain import learnings
from ..errors import VaultzoeError
from ..layout import LEARNINGS_DIR
from ..tasks import decide as d
from ..tasks.brief import brief
from ..tasks.model import Status, TaskState
from ..work.review import request_review, review_step
from .observe import Observer
from .parts import obsidian_uri
from .scene import Live, Scene
from .start import Starter

log = logging.getLogger("vaultzoe")

Handler = Callable[[d.Action, Live, d.Observation], None]


class Executor:
    """Carries out actions through the parts; every change to a task goes through here or the Starter."""

    def __init__(self, scene: Scene, observer: Observer):
        self.scene, self.observer = scene, observer
        self.starter = Starter(scene)
        self.handlers: dict[type, Handler] = {
            d.SetStatus: self.set_status, d.Wait: self.wait, d.NewRound: self.new_round, d.StopRun: self.stop_run,
            d.FinishAttempt: self.finish_attempt, d.Notify: self.notify, d.Learn: self.learn,
            d.Cleanup: self.cleanup, d.SteerRun: self.steer_run, d.StartAttempt: self.start_attempt,
            d.AdoptRun: self.adopt_run, d.RecordRun: self.record_run, d.Submit: self.submit,
            d.Review: self.review, d.RecordForge: self.record_forge,
        }

    def run(self, action: d.Action, task: Live, obs: d.Observation) -> None:
        self.handlers[type(action)](action, task, obs)

    def block(self, task: Live, reason: str) -> None:
        """The human must act: an attempt whose agent ended is closed, the note says why, inbox + notify once."""
        current = task.state.current
        quiet = d.Observation(note_status=None, max_attempts=0)
        if current is not None and current.outcome == "running" and current.ended:
            self.finish_attempt(d.FinishAttempt("failed", reason), task, quiet)
        self.scene.set_status(task, Status.BLOCKED, reason)
        self.scene.save(task)
        if task.state.id:
            self.notify(d.Notify(Status.BLOCKED), task, quiet)

    # ------------------------------------------------------------ status and bookkeeping

    def set_status(self, action: d.SetStatus, task: Live, obs: d.Observation) -> None:
        self.scene.set_status(task, action.status, action.reason)

    def wait(self, action: d.Wait, task: Live, obs: d.Observation) -> None:
        if task.state.waiting != action.reason:
            task.state = replace(task.state, waiting=action.reason)

    def new_round(self, action: d.NewRound, task: Live, obs: d.Observation) -> None:
        task.state = replace(task.state, round_start=len(task.state.attempts), queued_at=self.scene.now(), checks=())

    def notify(self, action: d.Notify, task: Live, obs: d.Observation) -> None:
        key = f"{action.status.value}:{len(task.state.attempts)}"
        if task.state.notified == key:
            return
        task.state = replace(task.state, notified=key)
        self.scene.save(task)      # remembered before sending: never more than one message per state change
        title, body = self._message(task, action.status)
        self.scene.journal.inbox(self.scene.now(), task.state, body)
        try:
            self.scene.parts.make_notifier(self.scene.settings).notify(title, body)
        except VaultzoeError as exc:
            log.warning("notification failed: %s", exc)

    def _message(self, task: Live, status: Status) -> tuple[str, str]:
        from ..work.notify import message_for
        title, body = message_for(status.value, task.state.title, task.state.pr_url,
                                  obsidian_uri(self.scene.root, task.state.path))
        if task.state.reason and status != Status.REVIEW:
            body = f"{body}\n{task.state.reason}"
        return title, body

    # ------------------------------------------------------------ the agent's run

    def start_attempt(self, action: d.StartAttempt, task: Live, obs: d.Observation) -> None:
        self.starter.start(task)

    def steer_run(self, action: d.SteerRun, task: Live, obs: d.Observation) -> None:
        self.starter.steer(task, action.message)

    def adopt_run(self, action: d.AdoptRun, task: Live, obs: d.Observation) -> None:
        task.state = task.state.with_attempt(replace(task.state.current, outcome="running"))

    def stop_run(self, action: d.StopRun, task: Live, obs: d.Observation) -> None:
        current = task.state.current
        if current is not None:
            self.scene.parts.runner.stop(Path(current.run_dir), action.reason)

    def record_run(self, action: d.RecordRun, task: Live, obs: d.Observation) -> None:
        ended, current = obs.ended, task.state.current
        current = replace(current, exit_code=ended.exit_code, ended=self.scene.now(), session_id=ended.session_id,
                          log_tail=ended.log_tail, final_message=ended.final_message, cost_usd=ended.cost_usd)
        state = task.state.with_attempt(current)
        task.state = replace(state, cost_usd=_total_cost(state))

    def finish_attempt(self, action: d.FinishAttempt, task: Live, obs: d.Observation) -> None:
        current = task.state.current
        if current is None:
            return
        finished = replace(current, outcome=action.outcome, evidence=action.evidence or current.evidence,
                           ended=current.ended or self.scene.now())
        task.state = task.state.with_attempt(finished)
        self.scene.write_attempt(task, finished)

    # ------------------------------------------------------------ the forge

    def submit(self, action: d.Submit, task: Live, obs: d.Observation) -> None:
        """The check command runs, the branch is pushed and the PR opened: the verdict is judged next step."""
        scene = self.scene
        self.observer.looked(task.state.id)                      # submit looks at the PR and CI too
        trust.require(scene.trust.record(), repo=scene.repo(task))   # the check command runs now
        task.judgement = scene.remember_forge(task, scene.forge(task).submit(scene.job(task)))

    def review(self, action: d.Review, task: Live, obs: d.Observation) -> None:
        """The planner reviews the attempt's diff with the task's real context pack; the forge records or posts it."""
        scene = self.scene
        job, note = scene.job(task), task.note
        settings = scene.settings

        def ask(reviewed_job):
            pack = ctx.build_pack(scene.index, note.path, settings.context_tokens,
                                  private_folders=settings.private_folders)
            task_brief = brief(note, task.state.id, settings.private_folders)
            return request_review(scene.parts.make_planner(settings), scene.parts.workspace, reviewed_job,
                                  task_brief, pack.render())
        report = review_step(scene.forge(task), job, obs.judgement, ask) if note is not None else obs.judgement
        # asked once per pass: a reviewer that failed leaves the item pending, and the next pass asks again
        task.judgement = scene.remember_forge(task, replace(report, review_for=""))

    def record_forge(self, action: d.RecordForge, task: Live, obs: d.Observation) -> None:
        self.scene.remember_forge(task, obs.judgement)

    # ------------------------------------------------------------ finishing

    def learn(self, action: d.Learn, task: Live, obs: d.Observation) -> None:
        if task.note is None or not task.state.attempts:
            return
        outcome = _outcome(task.state, action.merged)
        kind = learnings.kind_of(task.note)
        path = f"{LEARNINGS_DIR}/{kind}.md"
        self.scene.journal.edit(path, lambda text: learnings.record(text or f"# Learnings: {kind}\n", outcome))

    def cleanup(self, action: d.Cleanup, task: Live, obs: d.Observation) -> None:
        scene = self.scene
        if not task.state.worktree or not task.state.repo:
            return
        try:
            scene.parts.workspace.remove(scene.config.repos[task.state.repo.lower()], Path(task.state.worktree))
        except (KeyError, VaultzoeError) as exc:
            log.warning("could not remove worktree %s: %s", task.state.worktree, exc)
        task.state = replace(task.state, worktree="")


def _outcome(state: TaskState, merged: bool) -> "learnings.Outcome":
    last = state.current
    lesson = "" if merged else d.first_line(ctx.redact(last.evidence), 300)   # never raw output in lessons
    return learnings.Outcome(
        task_id=state.id, task_path=state.path, attempt=last.number, agent=last.agent, model=last.model,
        succeeded_first_try=merged and state.attempts_this_round == 1, merged=merged, cost_usd=state.cost_usd,
        duration_s=None, prompt_shape=_prompt_shape(Path(re.sub(r"-steer\d+$", "", last.run_dir)) / "prompt.md"),
        attempt_note=last.note, lesson=lesson,
    )


def _prompt_shape(prompt_file: Path) -> str:
    try:
        return learnings.prompt_shape(prompt_file.read_text(encoding="utf-8"))
    except OSError:
        return "unknown (prompt file gone)"


def _total_cost(state: TaskState) -> float:
    return round(sum(a.cost_usd or 0.0 for a in state.attempts), 6)
