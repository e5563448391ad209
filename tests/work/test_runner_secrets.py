"""Security review, finding 1: an agent that prints its environment. Real processes through the real
ProcessRunner and run_logged; the journal and the learnings note render what the runner reads back."""

from __future__ import annotations

import base64
import json
import stat
import sys
from pathlib import Path

import pytest

from vaultzoe.brain import learnings
from vaultzoe.protocols import RunSpec
from vaultzoe.settings import AgentConfig
from vaultzoe.tasks.journal import AttemptRecord, attempt_body, one_line
from vaultzoe.tasks.model import Attempt, Status, TaskState
from vaultzoe.work.agents import CommandAgent
from vaultzoe.work.commands import redacted_tail, run_logged
from vaultzoe.work.runners import ProcessRunner, tail

PY = sys.executable
GH = "ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz12"
ANT = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"
# Prints the environment raw, base64 (one line and wrapped), hex and with a zero-width space in each token;
# writes what it saw to seen.json so the test can tell what the child got.
LEAKY = r'''
import base64, binascii, json, os, sys
env = dict(os.environ)
open("seen.json", "w").write(json.dumps(env))
dump = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
print(dump)
print(base64.b64encode(dump.encode()).decode())
print(base64.encodebytes(dump.encode()).decode())
print(binascii.hexlify(dump.encode()).decode())
for key in ("GITHUB_TOKEN", "ANTHROPIC_API_KEY"):
    if key in env:
        print(key, "=", env[key][:10] + "\u200b" + env[key][10:])
print("the token is", env.get("GITHUB_TOKEN", "absent"))
sys.exit(1)
'''


def forms(secret: str) -> list[str]:
    """The secret raw, a 20-character core of it, and its base64 and hex forms (cores, any alignment)."""
    out = [secret, secret[-20:], secret.encode().hex()[10:-10]]
    for shift in range(3):
        out.append(base64.b64encode(("x" * shift + secret).encode()).decode()[8:-8])
    return out


def leaked(text: str) -> list[str]:
    return [form for secret in (GH, ANT) for form in forms(secret) if form in text]


@pytest.fixture
def parent_with_tokens(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", GH)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANT)
    monkeypatch.setenv("VAULTZOE_NOTIFY", "json://127.0.0.1/hook")


def start_leaky(tmp_path: Path, wait_until, env=None) -> tuple[ProcessRunner, RunSpec]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (tmp_path / "agent.py").write_text(LEAKY)
    run_dir = tmp_path / "vault" / ".vaultzoe" / "runs" / "t1" / "1"
    spec = RunSpec(task_id="t1", attempt=1, argv=(PY, str(tmp_path / "agent.py")), workdir=workdir,
                   run_dir=run_dir, env=env or {}, timeout_s=60)
    runner = ProcessRunner(grace_s=1.0)
    runner.start(spec)
    wait_until(lambda: not runner.poll(run_dir).running, what="agent to end")
    return runner, spec


def test_agents_get_no_credentials_from_the_parent(parent_with_tokens, tmp_path, wait_until):
    runner, spec = start_leaky(tmp_path, wait_until)

    seen = json.loads((spec.workdir / "seen.json").read_text())
    assert "GITHUB_TOKEN" not in seen and "ANTHROPIC_API_KEY" not in seen and "VAULTZOE_NOTIFY" not in seen
    assert seen["PATH"] and seen["HOME"]
    assert not leaked((spec.run_dir / "output.log").read_text())
    record = json.loads((spec.run_dir / "argv.json").read_text())
    assert {"GITHUB_TOKEN", "ANTHROPIC_API_KEY", "VAULTZOE_NOTIFY"} <= set(record["env_withheld"])
    assert not leaked((spec.run_dir / "argv.json").read_text())


def test_a_token_passed_on_purpose_never_comes_back_out(parent_with_tokens, tmp_path, wait_until):
    runner, spec = start_leaky(tmp_path, wait_until,
                               env={"GITHUB_TOKEN": "$GITHUB_TOKEN", "ANTHROPIC_API_KEY": "${ANTHROPIC_API_KEY}"})
    seen = json.loads((spec.workdir / "seen.json").read_text())
    assert seen["GITHUB_TOKEN"] == GH and seen["ANTHROPIC_API_KEY"] == ANT       # the note asked for them
    assert leaked((spec.run_dir / "output.log").read_text())                     # the raw log is machine state

    log_tail, whole = runner.tail(spec.run_dir, 100_000), runner.read_log(spec.run_dir)
    assert not leaked(log_tail) and not leaked(whole) and not leaked(tail(spec.run_dir, 100_000))
    assert "PATH=" in whole and "[REDACTED]" in whole

    report = CommandAgent(AgentConfig(name="leaky", kind="command", command=(PY,))).report(whole)
    evidence = f"The agent exited with code 1.\n\nLast output:\n{runner.tail(spec.run_dir, 3000)}"
    attempt = Attempt(number=1, agent="leaky", model=None, run_dir=str(spec.run_dir), note="Zoe/Attempts/t1 1.md",
                      started="2026-01-01T00:00:00", outcome="failed", exit_code=1, evidence=evidence,
                      log_tail=log_tail[-3000:], final_message=report.final_message)
    state = TaskState(id="t1", status=Status.QUEUED, path="Tasks/t1.md", title="t1", attempts=(attempt,))
    note = attempt_body(AttemptRecord(state=state, attempt=attempt, report=report))
    lesson = learnings.record("# Learnings: general\n", learnings.Outcome(
        task_id="t1", task_path="Tasks/t1.md", attempt=1, agent="leaky", lesson=one_line(evidence, 300)))
    assert "Last output" in note and not leaked(note) and not leaked(lesson)


def test_run_directories_are_private(tmp_path, wait_until):
    run_dir = tmp_path / "vault" / ".vaultzoe" / "runs" / "t1" / "1"
    run_dir.mkdir(parents=True, mode=0o755)
    (run_dir / "prompt.md").write_text("the prompt")          # as the orchestrator writes it, before start()
    (run_dir / "prompt.md").chmod(0o644)
    runner, spec = start_leaky(tmp_path, wait_until)
    for folder in (run_dir, run_dir.parent, run_dir.parent.parent, tmp_path / "vault" / ".vaultzoe"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    names = {p.name for p in run_dir.iterdir()}
    assert {"prompt.md", "argv.json", "supervisor.json", "agent.json", "exit.json", "output.log"} <= names
    for path in run_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_setup_and_check_commands_get_no_credentials_and_return_redacted_output(parent_with_tokens, tmp_path):
    code = ("import os, base64; print(sorted(os.environ)); t = os.environ.get('GITHUB_TOKEN', 'none'); "
            "print('GITHUB_TOKEN=' + t); print(base64.b64encode(t.encode()).decode())")
    log = tmp_path / "vault" / ".vaultzoe" / "runs" / "t1" / "1" / "check.log"
    done = run_logged([PY, "-c", code], tmp_path, log, timeout_s=60)
    assert done.ok and "GITHUB_TOKEN" not in done.output_tail.split("]")[0] and "ANTHROPIC" not in done.output_tail

    passed = run_logged([PY, "-c", code], tmp_path, log, timeout_s=60, env={"GITHUB_TOKEN": "$GITHUB_TOKEN"})
    assert GH in log.read_text() and not leaked(passed.output_tail)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_a_tail_cut_inside_a_token_hides_the_whole_token(tmp_path):
    log = tmp_path / "output.log"
    log.write_text("x" * 5000 + f"\nexport GITHUB_TOKEN={GH}\nnext {ANT} line\n" + "y" * 20 + "\n")
    pieces = {s[i:i + 12] for s in (GH, ANT) for i in range(len(s) - 11)}
    for size in range(1, 140):
        out = redacted_tail(log, size)
        assert len(out) <= size and not any(piece in out for piece in pieces), size
