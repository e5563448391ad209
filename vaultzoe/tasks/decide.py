"""The pure decision step: `decide(state, observation) -> list[Action]`.

Level-triggered: it looks only at what the task is (TaskState), what the human wants now (the note's
status) and what the world looks like now (Observation); it never depends on having seen an event.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..protocols import ForgeReport, RunState
from ..text import first_line
from .model import HUMAN_STATUSES, Outcome, Status, TaskState


@dataclass(frozen=True)
class EndedRun:
    """What an agent's ended run says: its exit and its report, and why it failed ("" when it ended well)."""

    exit_code: int | None
    session_id: str | None = None
    log_tail: str = ""
    final_message: str = ""
    cost_usd: float | None = None
    failure: str = ""                  # evidence for the next prompt when the agent itself failed


@dataclass(frozen=True)
class Observation:
    note_status: Status | None         # what the task note says now (None: unreadable / not ours)
    max_attempts: int
    run: RunState | None = None        # the current attempt's process, when there is one
    judgement: ForgeReport | None = None   # the forge's verdict this pass (on a submission, or while checking/review)
    judgement_new: bool = False        # the verdict comes from looking at the forge now (not yet in task memory)
    ended: EndedRun | None = None      # the current attempt's agent ended and has not been judged yet
    problem: str | None = None         # something the human must fix before work can start
    room: str | None = None            # None: an agent may start now; else why it must wait
    steer: str = ""                    # a steer message not yet delivered
    note_missing: bool = False
    gone: str = ""                     # why the note counts as gone (deleted, trashed, no longer a task)


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class SetStatus:
    status: Status
    reason: str = ""


@dataclass(frozen=True)
class StartAttempt:
    """Plan a prompt, prepare the worktree and start the agent (a new attempt)."""


@dataclass(frozen=True)
class SteerRun:
    """Stop the running agent and continue its session with the human's message."""

    message: str


@dataclass(frozen=True)
class StopRun:
    reason: str


@dataclass(frozen=True)
class FinishAttempt:
    outcome: Outcome                   # SUCCEEDED | FAILED | CANCELLED
    evidence: str = ""


@dataclass(frozen=True)
class Wait:
    reason: str


@dataclass(frozen=True)
class NewRound:
    """The human queued the task again: max_attempts counts afresh."""


@dataclass(frozen=True)
class Notify:
    status: Status


@dataclass(frozen=True)
class Learn:
    merged: bool


@dataclass(frozen=True)
class Cleanup:
    """Remove the worktree of a finished task (the branch is kept)."""


@dataclass(frozen=True)
class AdoptRun:
    """A start cut short by a crash did launch its agent: that run is the attempt's (never start a second)."""


@dataclass(frozen=True)
class RecordRun:
    """Write what the ended agent run says (exit, session, output tail, final message, cost) into the attempt."""


@dataclass(frozen=True)
class Submit:
    """The agent ended well: hand its work to the forge (commits, check command, push, PR) for a verdict."""


@dataclass(frozen=True)
class Review:
    """The forge asks for the AI review of the attempt's commit: the planner reviews it with the task's context."""


@dataclass(frozen=True)
class RecordForge:
    """Keep what the forge says now (items, PR, evidence, review comments) in task memory."""


Action = (SetStatus | StartAttempt | SteerRun | StopRun | FinishAttempt | Wait | NewRound | Notify | Learn | Cleanup
          | AdoptRun | RecordRun | Submit | Review | RecordForge)


# ---------------------------------------------------------------- decide


def decide(state: TaskState, obs: Observation) -> list[Action]:
    """What to do with one task this pass."""
    if obs.note_missing:
        return _note_gone(state, obs)
    human = _human_intent(state, obs)
    if human is not None:
        return human
    record: list[Action] = [RecordForge()] if obs.judgement is not None and obs.judgement_new else []
    if obs.judgement is not None and obs.judgement.review_for and state.status in _JUDGED:
        return record + [Review()]        # the verdict first; the judgement follows with it
    handler = _BY_STATUS.get(state.status)
    return record + (handler(state, obs) if handler else [])


_JUDGED = frozenset({Status.RUNNING, Status.CHECKING, Status.REVIEW})


def _run_alive(obs: Observation) -> bool:
    return obs.run is not None and obs.run.running


def _note_gone(state: TaskState, obs: Observation) -> list[Action]:
    why = obs.gone or "the task note was deleted"
    if state.status in (Status.RUNNING, Status.QUEUED, Status.CHECKING):
        stop: list[Action] = [StopRun(why)] if _run_alive(obs) else []
        finish: list[Action] = [FinishAttempt(Outcome.CANCELLED, why)] if stop else []
        return stop + finish + [SetStatus(Status.CANCELLED, why), Cleanup()]
    return []


def _human_intent(state: TaskState, obs: Observation) -> list[Action] | None:
    """The human changed the note's status: their word wins."""
    wanted = obs.note_status
    if wanted is None or wanted == state.status or wanted not in HUMAN_STATUSES:
        return None
    if state.note_status and wanted.value == state.note_status:
        return None       # the note still shows what vaultzoe wrote before a write that never landed (a crash)
    actions: list[Action] = []
    if _run_alive(obs):
        why = f"status set to {wanted} by you"
        actions += [StopRun(why), FinishAttempt(Outcome.CANCELLED, why)]
    if wanted == Status.QUEUED:
        return actions + [NewRound(), SetStatus(Status.QUEUED, "queued by you")] + _queued(state, obs, fresh_round=True)
    if wanted in (Status.CANCELLED, Status.DONE):
        return actions + [SetStatus(wanted, f"{wanted} by you"), Cleanup()]
    return actions + [SetStatus(wanted, f"{wanted} by you")]


def _queued(state: TaskState, obs: Observation, fresh_round: bool = False) -> list[Action]:
    if obs.problem:
        return [SetStatus(Status.BLOCKED, obs.problem), Notify(Status.BLOCKED)]
    used = 0 if fresh_round else state.attempts_this_round
    if used >= obs.max_attempts:
        return [SetStatus(Status.FAILED, f"all {obs.max_attempts} attempts used"), Notify(Status.FAILED), Learn(merged=False)]
    if obs.room is not None:
        return [Wait(obs.room)]
    return [StartAttempt(), SetStatus(Status.RUNNING)]


def _running(state: TaskState, obs: Observation) -> list[Action]:
    current = state.current
    if current is not None and current.outcome == Outcome.STARTING:
        # started (the next pass adopts its run), or a start cut short by a crash: finished as the same attempt
        return [AdoptRun()] if run_exists(obs.run) else [StartAttempt()]
    if current is None or current.outcome != Outcome.RUNNING:
        return _queued(state, obs)        # e.g. a restart between "running" and the agent's start
    if obs.run is None:
        return _failed_attempt(state, obs, "the agent's run record is missing (deleted .vaultzoe/runs?)")
    if obs.run.running:
        return [SteerRun(obs.steer)] if obs.steer else []
    if obs.judgement is not None:
        return _judged(state, obs)
    if obs.ended is None:
        return []
    if obs.ended.failure:
        return [RecordRun()] + _failed_attempt(state, obs, obs.ended.failure)
    return [RecordRun(), Submit()]


def run_exists(run: RunState | None) -> bool:
    """Whether a run directory holds a launched run (a spec was written, a process seen, or an exit recorded)."""
    return run is not None and (run.running or run.started is not None or run.exit_code is not None)


def _judged(state: TaskState, obs: Observation) -> list[Action]:
    """The agent ended; act on the forge's judgement of its work."""
    verdict = obs.judgement
    if verdict is None:
        return []
    if verdict.merged:
        return [FinishAttempt(Outcome.SUCCEEDED), SetStatus(Status.DONE, "merged"), Learn(merged=True), Cleanup()]
    if verdict.closed:
        return [SetStatus(Status.CANCELLED, "the pull request was closed without merging"), Cleanup()]
    if verdict.failed:
        return _failed_attempt(state, obs, verdict.evidence or "checks failed")
    if verdict.pending:
        return [SetStatus(Status.CHECKING)] if state.status != Status.CHECKING else []
    if state.status == Status.REVIEW:
        return []
    return [FinishAttempt(Outcome.SUCCEEDED), SetStatus(Status.REVIEW, "definition of done met"), Notify(Status.REVIEW)]


def _failed_attempt(state: TaskState, obs: Observation, evidence: str) -> list[Action]:
    finish: list[Action] = [FinishAttempt(Outcome.FAILED, evidence)]
    if state.attempts_this_round >= obs.max_attempts:
        return finish + [SetStatus(Status.FAILED, f"attempt {len(state.attempts)} failed and all "
                                                  f"{obs.max_attempts} attempts are used: {first_line(evidence)}"),
                         Notify(Status.FAILED), Learn(merged=False)]
    return finish + [SetStatus(Status.QUEUED, f"retrying: {first_line(evidence)}")]


def _checking(state: TaskState, obs: Observation) -> list[Action]:
    return _judged(state, obs)


def _review(state: TaskState, obs: Observation) -> list[Action]:
    verdict = obs.judgement
    if verdict is None:
        return []
    if verdict.merged:
        return [SetStatus(Status.DONE, "merged"), Learn(merged=True), Cleanup()]
    if verdict.closed:
        return [SetStatus(Status.CANCELLED, "the pull request was closed without merging"), Cleanup()]
    if verdict.failed:
        return _failed_attempt(state, obs, verdict.evidence or verdict.feedback or "review failed")
    return []


def _cancelled(state: TaskState, obs: Observation) -> list[Action]:
    return [StopRun("the task is cancelled"), FinishAttempt(Outcome.CANCELLED, "cancelled")] if _run_alive(obs) else []


_BY_STATUS = {
    Status.QUEUED: _queued,
    Status.RUNNING: _running,
    Status.CHECKING: _checking,
    Status.REVIEW: _review,
    Status.CANCELLED: _cancelled,
    Status.DRAFT: _cancelled,
}
