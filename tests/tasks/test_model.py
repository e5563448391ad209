"""Task values: an attempt's outcome is an enum that old task memory (plain strings) still reads into."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from vaultzoe.tasks.model import Attempt, Outcome, state_from_json, state_to_json


def _attempt(**kw) -> Attempt:
    return Attempt(number=1, agent="claude", model=None, run_dir="/runs/1", note="Zoe/Attempts/t 1.md",
                   started="2026-01-01T00:00:00+00:00", **kw)


def test_an_attempts_outcome_is_an_enum_that_equals_its_plain_string():
    attempt = _attempt(outcome="failed")
    assert attempt.outcome is Outcome.FAILED
    assert attempt.outcome == "failed" and f"({attempt.outcome})" == "(failed)"
    assert _attempt().outcome is Outcome.RUNNING
    assert replace(attempt, outcome="succeeded").outcome is Outcome.SUCCEEDED


def test_task_memory_written_by_older_versions_reads_and_writes_the_same_strings():
    old = {"id": "t1", "status": "running", "path": "Tasks/t1.md", "title": "T",
           "attempts": [{"number": 1, "agent": "claude", "model": None, "run_dir": "/runs/1",
                         "note": "Zoe/Attempts/t1 attempt 1.md", "started": "2026-01-01T00:00:00+00:00",
                         "outcome": "starting", "steers": []}]}
    state = state_from_json(old)
    assert state.current.outcome is Outcome.STARTING
    again = json.loads(json.dumps(state_to_json(state)))
    assert again["attempts"][0]["outcome"] == "starting"
    assert state_from_json(again) == state


def test_an_outcome_no_version_wrote_is_refused_not_kept_as_a_string():
    with pytest.raises(ValueError):
        _attempt(outcome="exploded")

