"""Attempt notes redact what the agent said once more, whatever task memory holds (a last line of defence)."""

from __future__ import annotations

import base64

from vaultzoe.protocols import AgentReport
from vaultzoe.tasks.journal import AttemptRecord, attempt_body
from vaultzoe.tasks.model import Attempt, Status, TaskState

GH = "ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz12"
B64 = base64.b64encode(f"GITHUB_TOKEN={GH}\n".encode()).decode()


def test_an_attempt_note_never_shows_a_raw_token_from_old_task_memory():
    attempt = Attempt(number=1, agent="claude", model=None, run_dir="/r", note="Zoe/Attempts/t1 attempt 1.md",
                      started="2026-01-01T00:00:00", outcome="failed", exit_code=1,
                      evidence=f"The agent exited with code 1.\n\nLast output:\nGITHUB_TOKEN={GH}\n{B64}\n")
    report = AgentReport(commands=(f"curl -H 'Authorization: token {GH}' https://api.github.com", "env | base64"),
                         final_message=f"Done. Your token is {GH} and its base64 is {B64}.", is_error=True,
                         error=f"failed with {GH}")
    state = TaskState(id="t1", status=Status.QUEUED, path="Tasks/t1.md", title="t1", attempts=(attempt,))
    note = attempt_body(AttemptRecord(state=state, attempt=attempt, report=report))
    assert GH not in note and GH[4:24] not in note and B64[:24] not in note
    assert "The agent exited with code 1." in note and "env | base64" in note
