"""A task's whole life through the real Orchestrator, in-process, with the shipped fakes and a fake clock.

Only the boundaries are fakes (runner, workspace, forge, planner, notifier, clock); the vault is a real folder
and every vaultzoe module between them is the real one. Each test runs in milliseconds.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from vaultzoe.errors import ForgeUnavailable
from vaultzoe.fakes.forge import failing, merged, passing
from vaultzoe.layout import STATE_DIR

GRACE_S = 10.0          # VAULTZOE_DELETE_GRACE_S's default
FORGE_PACE_S = 10.0     # poll_seconds in the template's Zoe.md: the forge is looked at no more often


class Crash(BaseException):
    """vaultzoe dying (kill -9) at this point: nothing after it runs, no except clause sees it."""


def settle(loop, passes: int = 10) -> None:
    for _ in range(passes):
        if not loop.reconcile().busy:
            return
    raise AssertionError(f"still busy after {passes} passes: {[(s.status.value, s.reason) for s in loop.states()]}")


def running(loop, name: str = "Add numbers"):
    """A task whose agent is at work (it runs until it is stopped or finished)."""
    loop.runner.enqueue(polls=None)
    note = loop.task(name)
    loop.reconcile()                     # adopted, attempt intent, worktree, plan, agent started
    loop.reconcile()                     # the started run adopted
    state = loop.state()
    assert state.status.value == "running" and state.current.outcome == "running", state
    return note, state


def run_dirs(loop, task_id: str) -> list[str]:
    return sorted(p.name for p in (loop.vault / STATE_DIR / "runs" / task_id).iterdir())


# ---------------------------------------------------------------- the happy path


def test_a_queued_task_runs_and_reaches_review_in_two_passes(loop):
    note = loop.task("Add numbers")
    loop.reconcile()
    state = loop.state()
    assert state.id == "task01" and state.status.value == "running"
    assert state.current.outcome == "starting" and state.current.agent == "fake"   # adopted by the next pass
    assert [s.task_id for s in loop.runner.started] == ["task01"]
    loop.reconcile()
    state = loop.state()
    assert state.status.value == "review", state.reason
    assert [a.outcome for a in state.attempts] == ["succeeded"]
    assert loop.note_status(note) == "review" and "id: task01" in note.read_text()
    assert len(loop.forge.submitted) == 1 and loop.forge.submitted[0].branch == state.branch
    assert loop.workspace.ensured == [("app", state.branch, "task01")]
    assert len(loop.notifier.messages) == 1 and "review" in loop.notifier.titles[0].lower()
    assert "task01" in loop.read("Zoe/Inbox.md") or "Add numbers" in loop.read("Zoe/Inbox.md")
    assert "outcome: succeeded" in loop.read("Zoe/Attempts/task01 attempt 1.md")
    assert "Add numbers" in loop.read("Zoe/Registry.md")
    assert not loop.reconcile().busy and len(loop.notifier.messages) == 1     # once per state change


# ---------------------------------------------------------------- failures and retries


def test_a_failed_check_is_retried_with_its_evidence_and_then_reaches_review(loop):
    loop.forge.enqueue_submit(failing("FAIL: test_add_adds (calc.CalcTest)\nAssertionError: -1 != 5"), passing())
    loop.task("Add numbers")
    settle(loop)
    state = loop.state()
    assert state.status.value == "review", state.reason
    assert [a.outcome for a in state.attempts] == ["failed", "succeeded"]
    assert "test_add_adds" in state.attempts[0].check_output
    retry = loop.planner.plan_requests[1]
    assert retry.attempt == 2 and "test_add_adds" in retry.previous[0].check_output
    prompt = (loop.vault / STATE_DIR / "runs" / state.id / "2" / "prompt.md").read_text()
    assert "test_add_adds" in prompt                     # the next prompt leads with what went wrong
    assert run_dirs(loop, state.id) == ["1", "2"]
    assert "outcome: failed" in loop.read(f"Zoe/Attempts/{state.id} attempt 1.md")


def test_a_task_that_fails_every_attempt_ends_failed_after_max_attempts(loop):
    for _ in range(3):
        loop.runner.enqueue(exit_code=2, output="Traceback: boom")
    loop.task("Add numbers")
    settle(loop)
    state = loop.state()
    assert state.status.value == "failed"
    assert "all 3 attempts are used" in state.reason and "exited with code 2" in state.reason
    assert [a.outcome for a in state.attempts] == ["failed"] * 3
    assert len(loop.runner.started) == 3 and loop.forge.submitted == []    # a failed agent is never judged
    assert [t for t in loop.notifier.titles if "fail" in t.lower()] and len(loop.notifier.messages) == 1
    assert "The agent exited with code 2" in loop.read("Zoe/Learnings/general.md")   # the lesson: a redacted first line
    for _ in range(3):
        loop.reconcile()
    assert len(loop.runner.started) == 3                                   # failed stays failed


# ---------------------------------------------------------------- the human's word


def test_cancelling_a_running_task_stops_its_agent_and_removes_its_worktree(loop):
    note, state = running(loop)
    loop.set_status(note, "cancelled")
    loop.reconcile()
    after = loop.state()
    assert after.status.value == "cancelled"
    assert [reason for _, reason in loop.runner.stopped] == ["status set to cancelled by you"]
    assert [a.outcome for a in after.attempts] == ["cancelled"]
    assert loop.workspace.removed == [Path(state.worktree)] and not Path(state.worktree).exists()
    assert loop.note_status(note) == "cancelled"
    loop.reconcile()
    assert len(loop.runner.started) == 1 and len(loop.runner.stopped) == 1


def test_a_steer_stops_the_agent_and_restarts_it_with_the_message_once(loop):
    note, state = running(loop)
    note.write_text(note.read_text() + "\n## Steer\nUse integers only, no floats.\n")
    loop.reconcile()
    assert [reason for _, reason in loop.runner.stopped] == ["steered by you"]
    steered = loop.runner.started[-1]
    assert steered.run_dir.name == "1-steer1" and steered.attempt == 1
    prompt = (steered.run_dir / "prompt.md").read_text()
    assert "Use integers only" in prompt and "Make `add` add numbers" in prompt   # a command agent: task + steer
    loop.reconcile()
    assert len(loop.runner.started) == 2                      # the same steer is delivered once
    loop.runner.finish(steered.run_dir)
    loop.reconcile()
    after = loop.state()
    assert after.status.value == "review" and len(after.attempts) == 1
    assert after.current.steers == ("Use integers only, no floats.",)


def test_a_merged_task_is_done_and_its_learnings_are_recorded(loop):
    note = loop.task("Add numbers", extra="kind: arithmetic")
    settle(loop)
    state = loop.state()
    assert state.status.value == "review"
    loop.forge.enqueue_observe(merged())
    loop.reconcile()
    assert loop.state().status.value == "review"          # the forge is not asked again before poll_seconds
    loop.clock.advance(FORGE_PACE_S)
    loop.reconcile()
    done = loop.state()
    assert done.status.value == "done" and done.reason == "merged"
    assert loop.note_status(note) == "done"
    learned = loop.read("Zoe/Learnings/arithmetic.md")
    assert "task01" in learned or "fake" in learned
    assert loop.workspace.removed == [Path(state.worktree)] and done.worktree == ""


# ---------------------------------------------------------------- a note deleted, a note being saved


def test_a_deleted_note_cancels_its_task_only_after_the_grace_period(loop):
    note, state = running(loop)
    note.unlink()
    loop.reconcile()
    loop.clock.advance(GRACE_S - 1)
    loop.reconcile()
    assert loop.state().status.value == "running" and loop.runner.stopped == []   # maybe a save in progress
    loop.clock.advance(1)
    loop.reconcile()
    after = loop.state()
    assert after.status.value == "cancelled" and after.reason == "the task note was deleted"
    assert [reason for _, reason in loop.runner.stopped] == ["the task note was deleted"]
    assert loop.workspace.removed == [Path(state.worktree)]


def test_a_note_back_within_the_grace_period_keeps_its_task_running(loop):
    note, _ = running(loop)
    text = note.read_text()
    note.unlink()
    loop.reconcile()
    loop.clock.advance(GRACE_S - 1)
    note.write_text(text)
    loop.reconcile()
    loop.clock.advance(GRACE_S * 3)
    loop.reconcile()
    assert loop.state().status.value == "running" and loop.runner.stopped == []


def test_a_truncated_note_is_settling_however_long_it_stays_empty(loop):
    note, state = running(loop)
    text = note.read_text()
    note.write_text("")
    for _ in range(3):
        loop.reconcile()
        loop.clock.advance(GRACE_S * 2)
    assert loop.state().status.value == "running" and loop.runner.stopped == []
    assert "vaultzoe waits for it" in loop.read("Zoe/Registry.md")
    assert note.read_text() == ""                        # vaultzoe never writes into a note being saved
    note.write_text(text)
    loop.runner.finish(Path(loop.state().current.run_dir))
    loop.reconcile()
    assert loop.state().status.value == "review" and len(loop.runner.started) == 1


# ---------------------------------------------------------------- crashes and outages


@pytest.mark.parametrize("after_start", [False, True], ids=["before-the-agent-starts", "after-the-agent-started"])
def test_a_crash_mid_start_is_resumed_once_by_the_next_vaultzoe(loop, after_start):
    loop.runner.break_next_start(Crash(), after_start=after_start)
    loop.task("Add numbers")
    with pytest.raises(Crash):
        loop.reconcile()
    first = loop.state()
    assert first.current.outcome == "starting" and first.current.agent == "fake"
    loop.restart()                       # a new process; the agent (if it started) kept running
    settle(loop)
    state = loop.state()
    assert state.status.value == "review", state.reason
    assert [a.number for a in state.attempts] == [1]
    assert len(loop.runner.started) == 1                 # one agent, never two
    assert run_dirs(loop, state.id) == ["1"]


def test_a_forge_outage_while_in_review_keeps_the_status_and_says_why(loop):
    loop.task("Add numbers")
    settle(loop)
    loop.forge.enqueue_observe(ForgeUnavailable("GitHub answered 503 three times: trying again next pass"))
    loop.clock.advance(FORGE_PACE_S)
    result = loop.reconcile()
    state = loop.state()
    assert state.status.value == "review" and "503" in state.waiting
    assert any("503" in e for e in result.errors) and not result.write_refused
    loop.forge.enqueue_observe(merged())
    loop.clock.advance(FORGE_PACE_S)
    loop.reconcile()
    assert loop.state().status.value == "done" and loop.state().waiting == ""


def test_a_forge_outage_at_submission_is_retried_next_pass_not_failed(loop):
    loop.forge.enqueue_submit(ForgeUnavailable("GitHub answered 502: trying again next pass"))
    loop.task("Add numbers")
    loop.reconcile()
    loop.reconcile()
    state = loop.state()
    assert state.status.value == "running" and "502" in state.waiting
    assert [a.outcome for a in state.attempts] == ["running"] and state.attempts[0].exit_code == 0
    loop.reconcile()
    after = loop.state()
    assert after.status.value == "review" and [a.outcome for a in after.attempts] == ["succeeded"]
    assert len(loop.forge.submitted) == 2 and len(loop.runner.started) == 1


def test_a_write_the_disk_refuses_keeps_the_loop_alive_and_recovers(loop, caplog):
    full = OSError(errno.ENOSPC, "No space left on device", "run folder")
    loop.runner.break_next_start(full)
    first = loop.task("First")
    loop.task("Second")
    result = loop.reconcile()                            # never raises
    assert result.write_refused and any("cannot write to the vault" in e for e in result.errors)
    by_path = {s.path: s for s in loop.states()}
    assert by_path["Tasks/First.md"].status.value == "running"     # kept, not blocked
    assert by_path["Tasks/First.md"].current.outcome == "starting"
    assert [s.task_id for s in loop.runner.started] == [by_path["Tasks/Second.md"].id]   # the other task went on
    settle(loop)
    assert {s.status.value for s in loop.states()} == {"review"}
    assert len(loop.runner.started) == 2 and loop.note_status(first) == "review"
    assert "it has recovered" in loop.read("Zoe/Inbox.md")
    assert len([r for r in caplog.records if r.levelname == "ERROR" and "cannot write" in r.message]) == 1


def test_an_agent_past_its_deadline_is_stopped_and_the_attempt_retried(loop):
    note, state = running(loop)
    loop.clock.advance(60 * 60 - 1)                      # agent_timeout_minutes: 60 in the template's Zoe.md
    loop.reconcile()
    assert loop.state().status.value == "running" and len(loop.runner.started) == 1
    loop.clock.advance(1)
    loop.reconcile()
    after = loop.state()
    assert after.attempts[0].outcome == "failed" and "ran out of time" in after.attempts[0].evidence
    assert after.status.value == "running" and len(loop.runner.started) == 2   # the retry started in the same pass


# ---------------------------------------------------------------- CI, reviews, setup, new rounds


def test_pending_ci_holds_the_task_in_checking_until_it_passes(loop):
    from vaultzoe.fakes.forge import pending
    loop.forge.enqueue_submit(pending())
    loop.task("Add numbers")
    loop.reconcile()
    loop.reconcile()
    assert loop.state().status.value == "checking"
    loop.forge.enqueue_observe(passing())
    loop.reconcile()
    assert loop.state().status.value == "checking"        # paced: the forge is not asked again yet
    loop.clock.advance(FORGE_PACE_S)
    loop.reconcile()
    state = loop.state()
    assert state.status.value == "review" and [a.outcome for a in state.attempts] == ["succeeded"]
    assert len(loop.notifier.messages) == 1


def test_changes_requested_in_review_start_a_new_attempt_with_the_reviewers_words(loop):
    loop.task("Add numbers")
    settle(loop)
    verdict = failing("a reviewer asked for changes")
    from dataclasses import replace
    loop.forge.enqueue_observe(replace(verdict, feedback="Please handle negative numbers too."))
    loop.clock.advance(FORGE_PACE_S)
    loop.reconcile()
    state = loop.state()
    assert [a.outcome for a in state.attempts] == ["failed", "starting"] and state.status.value == "running"
    assert "negative numbers" in loop.planner.plan_requests[1].previous[0].review_comments


def test_a_failing_setup_blocks_the_task_and_queueing_it_again_runs_setup_again(loop, tmp_path):
    import os

    from vaultzoe.trust import trust_vault
    repo_note = loop.vault / "Zoe/Repos/app.md"
    repo_note.write_text(repo_note.read_text().replace("base: main", 'base: main\nsetup: ["make", "deps"]'))
    trust_vault(loop.vault, loop.parts.environ)
    loop.workspace.enqueue_setup(False, "make: *** No rule to make target 'deps'")
    note = loop.task("Add numbers")
    loop.reconcile()
    state = loop.state()
    assert state.status.value == "blocked" and "setup command" in state.reason and "deps" in state.reason
    assert loop.runner.started == [] and "blocked" in loop.notifier.titles[0].lower()
    loop.set_status(note, "queued")
    settle(loop)
    after = loop.state()
    assert after.status.value == "review", after.reason
    assert len(loop.workspace.setups_run) == 2 and len(loop.runner.started) == 1   # the same worktree, set up again
    assert [a.number for a in after.attempts] == [1]
    assert os.path.isdir(after.worktree)


def test_a_failed_task_queued_again_gets_a_new_round_of_attempts(loop):
    for _ in range(3):
        loop.runner.enqueue(exit_code=1, output="no")
    note = loop.task("Add numbers")
    settle(loop)
    assert loop.state().status.value == "failed"
    loop.set_status(note, "queued")
    settle(loop)
    state = loop.state()
    assert state.status.value == "review" and len(state.attempts) == 4
    assert len(loop.runner.started) == 4


def test_a_pull_request_closed_unmerged_cancels_the_task(loop):
    from dataclasses import replace
    loop.task("Add numbers")
    settle(loop)
    loop.forge.enqueue_observe(replace(passing(), closed=True))
    loop.clock.advance(FORGE_PACE_S)
    loop.reconcile()
    state = loop.state()
    assert state.status.value == "cancelled" and "closed without merging" in state.reason
    assert loop.workspace.removed == [loop.workspace.worktrees_root / "app" / state.id]


# ---------------------------------------------------------------- what a kill -9 leaves behind


def test_temp_files_a_killed_vaultzoe_left_are_swept_when_the_next_one_opens_the_vault(loop):
    from vaultzoe.daemon import open_orchestrator
    note = loop.task("Add numbers")
    loop.reconcile()
    state = loop.state()
    run_dir = Path(state.current.run_dir)
    left = [note.with_name(f".{note.name}.3c9b95e7.tmp"),                          # VaultStore, mid-write
            loop.vault / STATE_DIR / "tasks" / f".{state.id}.json.1d7d6a33.tmp",    # task memory, mid-write
            run_dir / ".supervisor.json.tmp"]                                        # the runner, mid-write
    for path in left:
        path.write_text("half written")
    humans = note.with_name(".Add numbers.md.swp")                                   # an editor's, not ours
    humans.write_text("vim")
    loop.orch = open_orchestrator(loop.vault, parts=loop.parts)
    loop.reconcile()
    assert humans.exists()
    assert [p for p in left if p.exists()] == []


def test_a_kill_as_the_supervisor_is_spawned_resumes_the_same_attempt(loop, monkeypatch):
    import subprocess
    import sys
    import time

    from vaultzoe.trust import trust_vault
    from vaultzoe.work.runners import ProcessRunner
    log = loop.vault.parent / "agent.log"
    script = f"import os; open({str(log)!r}, 'a').write('start ' + os.environ['VAULTZOE_ATTEMPT'] + chr(10))"
    (loop.vault / "Zoe/Agents/fake.md").write_text(f'---\ncommand: ["{sys.executable}", "-c", "{script}"]\n---\n')
    trust_vault(loop.vault, loop.parts.environ)
    loop.parts.runner = ProcessRunner()       # the real runner: the window is inside its start
    loop.task("Add numbers")

    def dying(*args, **kwargs):
        raise Crash()                         # vaultzoe killed as it spawns the supervisor (argv.json written)
    with monkeypatch.context() as patch, pytest.raises(Crash):
        patch.setattr(subprocess, "Popen", dying)
        loop.reconcile()
    loop.restart()
    for _ in range(200):
        if loop.reconcile().counts.get("review") or loop.state().status.value not in ("running", "queued"):
            break
        time.sleep(0.02)
    state = loop.state()
    assert state.status.value == "review" and [a.number for a in state.attempts] == [1], [
        (a.number, a.outcome, a.evidence[:80]) for a in state.attempts]
    assert log.read_text().split() == ["start", "1"]


def test_a_kill_right_after_the_supervisor_is_spawned_never_runs_a_second_agent(loop, monkeypatch):
    import subprocess
    import sys
    import time

    from vaultzoe.trust import trust_vault
    from vaultzoe.work.runners import ProcessRunner
    log = loop.vault.parent / "agent.log"
    script = f"import os; open({str(log)!r}, 'a').write('start ' + os.environ['VAULTZOE_ATTEMPT'] + chr(10))"
    (loop.vault / "Zoe/Agents/fake.md").write_text(f'---\ncommand: ["{sys.executable}", "-c", "{script}"]\n---\n')
    trust_vault(loop.vault, loop.parts.environ)
    loop.parts.runner = ProcessRunner()
    loop.task("Add numbers")
    real_popen = subprocess.Popen

    def spawned_then_dying(*args, **kwargs):
        real_popen(*args, **kwargs)
        raise Crash()                         # vaultzoe killed before it records the supervisor's pid
    with monkeypatch.context() as patch, pytest.raises(Crash):
        patch.setattr(subprocess, "Popen", spawned_then_dying)
        loop.reconcile()
    loop.restart()
    for _ in range(200):
        if loop.reconcile().counts.get("review") or loop.state().status.value not in ("running", "queued"):
            break
        time.sleep(0.02)
    state = loop.state()
    assert log.read_text().split() == ["start", "1"]
    assert state.status.value == "review" and [a.number for a in state.attempts] == [1]
