"""The pure decision step, over values only."""

from pathlib import Path

import pytest

from vaultzoe.protocols import CheckItem, ForgeReport, RunState
from vaultzoe.tasks import decide as d
from vaultzoe.tasks.model import Attempt, Status, TaskState


def state(status=Status.QUEUED, attempts=0, outcome="failed", last_outcome="running", round_start=0):
    tries = tuple(
        Attempt(number=i + 1, agent="a", model=None, run_dir=f"/runs/{i + 1}", note=f"Zoe/Attempts/t {i + 1}.md",
                started="2026-01-01", outcome=outcome if i + 1 < attempts else last_outcome)
        for i in range(attempts))
    return TaskState(id="t1", status=status, path="Tasks/T.md", title="T", attempts=tries, round_start=round_start)


def run(running=False, code=0):
    return RunState(run_dir=Path("/runs/1"), pid=1, running=running, exit_code=None if running else code)


def obs(**kw):
    base = dict(note_status=kw.pop("note_status", None), max_attempts=kw.pop("max_attempts", 3))
    return d.Observation(**base, **kw)


PASS = ForgeReport(checks=(CheckItem("commits", "pass"), CheckItem("checks", "pass")))
FAIL = ForgeReport(checks=(CheckItem("checks", "fail", "1 failed"),), evidence="FAILED test_x")
PENDING = ForgeReport(checks=(CheckItem("checks", "pending"),))


def kinds(actions):
    return [type(a).__name__ for a in actions]


def test_queued_task_with_room_starts():
    actions = d.decide(state(), obs(note_status=Status.QUEUED))
    assert kinds(actions) == ["StartAttempt", "SetStatus"]
    assert actions[1].status == Status.RUNNING


def test_queued_task_without_room_waits_and_says_why():
    actions = d.decide(state(), obs(note_status=Status.QUEUED, room="2 of 2 running"))
    assert actions == [d.Wait("2 of 2 running")]


def test_problem_blocks_and_notifies():
    actions = d.decide(state(), obs(note_status=Status.QUEUED, problem="No repo note 'x'"))
    assert actions == [d.SetStatus(Status.BLOCKED, "No repo note 'x'"), d.Notify(Status.BLOCKED)]


def test_running_agent_alive_needs_nothing():
    assert d.decide(state(Status.RUNNING, attempts=1), obs(note_status=Status.RUNNING, run=run(True))) == []


def test_running_agent_with_new_steer_is_steered():
    actions = d.decide(state(Status.RUNNING, attempts=1), obs(note_status=Status.RUNNING, run=run(True), steer="API only"))
    assert actions == [d.SteerRun("API only")]


def test_ended_agent_that_passed_goes_to_review_and_notifies_once():
    actions = d.decide(state(Status.RUNNING, attempts=1), obs(note_status=Status.RUNNING, run=run(), judgement=PASS))
    assert kinds(actions) == ["FinishAttempt", "SetStatus", "Notify"]
    assert actions[1].status == Status.REVIEW


def test_failed_attempt_with_attempts_left_is_requeued_with_the_evidence():
    actions = d.decide(state(Status.RUNNING, attempts=1), obs(note_status=Status.RUNNING, run=run(), judgement=FAIL))
    assert actions[0] == d.FinishAttempt("failed", "FAILED test_x")
    assert actions[1].status == Status.QUEUED and "FAILED test_x" in actions[1].reason


def test_last_attempt_failing_fails_the_task():
    actions = d.decide(state(Status.RUNNING, attempts=3), obs(note_status=Status.RUNNING, run=run(), judgement=FAIL))
    assert kinds(actions) == ["FinishAttempt", "SetStatus", "Notify", "Learn"]
    assert actions[1].status == Status.FAILED


def test_requeue_by_human_starts_a_new_round():
    actions = d.decide(state(Status.FAILED, attempts=3), obs(note_status=Status.QUEUED))
    assert kinds(actions) == ["NewRound", "SetStatus", "StartAttempt", "SetStatus"]


def test_cancel_while_running_stops_the_agent():
    actions = d.decide(state(Status.RUNNING, attempts=1), obs(note_status=Status.CANCELLED, run=run(True)))
    assert kinds(actions)[:3] == ["StopRun", "FinishAttempt", "SetStatus"]
    assert actions[2].status == Status.CANCELLED


def test_pending_checks_move_to_checking_then_wait():
    s = state(Status.RUNNING, attempts=1)
    assert d.decide(s, obs(note_status=Status.RUNNING, run=run(), judgement=PENDING)) == [d.SetStatus(Status.CHECKING)]
    assert d.decide(state(Status.CHECKING, attempts=1), obs(note_status=Status.CHECKING, judgement=PENDING)) == []


def test_merged_in_review_is_done_and_learned():
    merged = ForgeReport(merged=True)
    actions = d.decide(state(Status.REVIEW, attempts=1, last_outcome="succeeded"), obs(note_status=Status.REVIEW, judgement=merged))
    assert kinds(actions) == ["SetStatus", "Learn", "Cleanup"]
    assert actions[0].status == Status.DONE


def test_note_deleted_mid_run_stops_and_cancels():
    actions = d.decide(state(Status.RUNNING, attempts=1), obs(run=run(True), note_missing=True))
    assert kinds(actions) == ["StopRun", "FinishAttempt", "SetStatus", "Cleanup"]


def test_agent_run_record_missing_counts_as_a_failed_attempt():
    actions = d.decide(state(Status.RUNNING, attempts=1), obs(note_status=Status.RUNNING, run=None))
    assert actions[0].outcome == "failed" and "run record" in actions[0].evidence


@pytest.mark.parametrize("status", [Status.DONE, Status.FAILED, Status.BLOCKED])
def test_finished_tasks_left_alone(status):
    assert d.decide(state(status, attempts=1, last_outcome="failed"), obs(note_status=status)) == []


def test_an_attempt_cut_short_while_starting_is_resumed_not_counted_again():
    # the last allowed attempt was being started when vaultzoe died: it is finished, not failed for lack of tries
    from dataclasses import replace
    cut = replace(state(Status.RUNNING, attempts=3, last_outcome="starting"), note_status="queued")
    resumed = d.decide(cut, obs(note_status=Status.QUEUED))
    assert kinds(resumed) == ["StartAttempt"]


def test_a_note_still_showing_vaultzoes_older_status_is_not_the_humans_word():
    from dataclasses import replace
    crashed = replace(state(Status.RUNNING, attempts=1), note_status="queued")   # the note write never landed
    assert d.decide(crashed, obs(note_status=Status.QUEUED, run=run(True))) == []
    human = replace(state(Status.RUNNING, attempts=1), note_status="running")    # the human set it afterwards
    assert "NewRound" in kinds(d.decide(human, obs(note_status=Status.QUEUED, run=run(True))))


def test_a_note_gone_for_good_says_why():
    actions = d.decide(state(Status.RUNNING, attempts=1), obs(run=run(True), note_missing=True,
                                                              gone="the task note was moved to the trash"))
    assert actions[-2] == d.SetStatus(Status.CANCELLED, "the task note was moved to the trash")


def test_a_forge_asking_for_the_ai_review_gets_it_before_anything_is_judged():
    from dataclasses import replace
    asking = replace(PENDING, review_for="abc123")
    actions = d.decide(state(Status.CHECKING, attempts=1, last_outcome="succeeded"),
                       obs(judgement=asking, judgement_new=True))
    assert kinds(actions) == ["RecordForge", "Review"]
