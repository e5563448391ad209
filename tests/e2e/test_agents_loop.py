"""The task loop end to end with the real Claude Code and Codex CLIs, offline, driven through the CLI.

The agents are configured the way a user would: Zoe/Agents/claude.md and Zoe/Agents/codex.md override the
built-ins with `command` (the pinned CLI from .ci/install-agents), `model`, `args` and `env`, here pointing
each CLI at the local model stub on 127.0.0.1 with its own config home. The stub scripts the model's side.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from tests.agents.conftest import agents_bin, claude_config, codex_config  # noqa: F401 - agents_bin is a fixture
from tests.stubs.model_stub import ModelStub, Recorded, Shell, Turn, WriteFile
from vaultzoe.settings import AgentConfig
from vaultzoe.tasks.registry import COLUMNS
from vaultzoe.trust import trust_vault

from .conftest import git
from .test_loop import frontmatter_value, only_state, wait_for

agents = pytest.mark.agents

FIX_CALC = "printf 'def add(a, b):\\n    return a + b\\n' > calc.py"
MORE_TESTS = ("import unittest\nfrom calc import add\n\n\nclass MoreTest(unittest.TestCase):\n"
              "    def test_add_zero(self):\n        self.assertEqual(add(7, 0), 7)\n")
COMMIT = "git add -A && git commit -q -m 'Make add add' && git log --oneline -1"
FINAL = "calc.add now adds, with one more test; committed."
STEER = "Stop. Focus on the API layer."
# idempotent, so the scenario holds whether or not a resumed CLI adds a turn of its own for the interruption
API_COMMIT = (f"{FIX_CALC} && echo 'GET /sum' > api.txt && git add -A && "
              "(git diff --cached --quiet || git commit -q -m 'API layer')")
API_FINAL = "The API layer is in api.txt."
SESSION_HEADER = {"claude": "x-claude-code-session-id", "codex": "session-id"}
INSTALL = {"claude": "npm install -g @anthropic-ai/claude-code", "codex": "npm install -g @openai/codex"}
IDLE_TIMEOUT = "150"


# ---------------------------------------------------------------- the vault, as a user writes it


def yaml_str(value: str) -> str:
    return json.dumps(value)        # a JSON string is a valid YAML double-quoted scalar


def agent_note(cfg: AgentConfig) -> str:
    """Zoe/Agents/<name>.md overriding a built-in agent: command, model, args, env."""
    lines = ["---", f"command: {yaml_str(cfg.command[0])}"]
    if cfg.model:
        lines.append(f"model: {yaml_str(cfg.model)}")
    if cfg.args:
        lines += ["args:", *[f"  - {yaml_str(a)}" for a in cfg.args]]
    lines += ["env:", *[f"  {k}: {yaml_str(v)}" for k, v in cfg.env.items()]]
    lines += ["timeout_minutes: 5", "---", f"# {cfg.name}", "", "Talks to the local model stub only.", ""]
    return "\n".join(lines)


def write_agent_notes(world, agents_dir: Path, stub_url: str, missing: str = "") -> None:
    """Both agent notes; `missing` names one whose command points at a binary that does not exist."""
    claude = claude_config(agents_dir, stub_url, world.tmp / "claude-home")
    codex = codex_config(agents_dir, stub_url, world.tmp / "codex-home")
    for cfg in (AgentConfig(name="claude", kind="claude", command=claude.command, model="claude-sonnet-4-5",
                            env=claude.env), codex):
        command = (str(world.tmp / "not-installed" / cfg.name),) if cfg.name == missing else cfg.command
        note = agent_note(AgentConfig(name=cfg.name, kind=cfg.kind, command=command, model=cfg.model,
                                      args=cfg.args, env=cfg.env))
        (world.vault / f"Zoe/Agents/{cfg.name}.md").write_text(note, encoding="utf-8")
    trust_vault(world.vault, os.environ)        # the human approved the agent notes they wrote


def set_setting(world, key: str, value: str) -> None:
    """Change one property of Zoe/Zoe.md (a one-line `key: value`, or a list under `key:`)."""
    zoe = world.vault / "Zoe/Zoe.md"
    text = zoe.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{key}:.*\n(?:  - .*\n)*", re.M)
    assert pattern.search(text), key
    zoe.write_text(pattern.sub(f"{key}: {value}\n", text, count=1), encoding="utf-8")


def write_task(world, name: str, agent: str, task_id: str = "", kind: str = "") -> Path:
    """A queued task note. A preset `id` fixes the worktree path, which Claude's Write tool needs absolute."""
    keys = [f"id: {task_id}"] * bool(task_id) + [f"kind: {kind}"] * bool(kind)
    path = world.vault / "Tasks" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([
        "---", "tags: [task]", "status: queued", 'repo: "[[calc]]"', f"agent: {agent}", *keys, "---",
        "## Goal", "Make `add` add numbers.", "", "## Acceptance criteria", "- the tests pass", "",
    ]), encoding="utf-8")
    return path


def worktree(world, task_id: str) -> Path:
    return (world.tmp / "worktrees" / "calc" / task_id).resolve()


def solve(agent: str, workdir: Path) -> list[Turn]:
    """The model's side of a good run: fix calc.py, add a test file, commit, report."""
    test_file = str(workdir / "test_more.py") if agent == "claude" else "test_more.py"
    return [Turn(calls=(Shell(FIX_CALC),)), Turn(calls=(WriteFile(test_file, MORE_TESTS),)),
            Turn(calls=(Shell(COMMIT),)), Turn(text=FINAL)]


@pytest.fixture
def dev(world, agents_bin):  # noqa: F811 - the imported fixture
    """The e2e world on a developer's machine: the agent CLIs installed and a git identity for their commits."""
    (world.tmp / "home" / "gitconfig").write_text("[user]\n\tname = Agent\n\temail = agent@localhost\n")
    return world

# ---------------------------------------------------------------- reading what vaultzoe wrote


def registry_row(world, title: str) -> dict[str, str]:
    line = next(ln for ln in world.read("Zoe/Registry.md").splitlines() if f"Tasks/{title}" in ln)
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
    return dict(zip(COLUMNS, cells))


def until_idle(world):
    started = time.monotonic()
    result = world.cli("run", str(world.vault), "--until-idle", "--timeout", IDLE_TIMEOUT)
    assert result.exit_code == 0, result.output
    return time.monotonic() - started


def cli_error(run_dir: str) -> str:
    """The error the CLI put in its own event stream (Claude's result event, Codex's turn.failed)."""
    for line in reversed((Path(run_dir) / "output.log").read_text(encoding="utf-8").splitlines()):
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("type") == "turn.failed":
            return event["error"]["message"]
        if event.get("type") == "result":
            return event.get("result") or "; ".join(event.get("errors", []))
    return ""


def messages_text(request: Recorded) -> str:
    body = request.body if isinstance(request.body, dict) else {}
    return json.dumps(body.get("messages") or body.get("input") or [])

# ---------------------------------------------------------------- (1) a task end to end


@agents
@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_real_agent_runs_a_task_to_review_and_the_attempt_note_says_what_it_did(dev, agents_bin, agent):
    task_id = f"{agent[:2]}good"
    with ModelStub(solve(agent, worktree(dev, task_id))) as stub:
        write_agent_notes(dev, agents_bin, stub.url)
        note = write_task(dev, "Add numbers", agent, task_id=task_id)
        until_idle(dev)
        first = stub.model_calls()[0]
    state = only_state(dev)
    assert state.status.value == "review", (state.reason, state.attempts)
    assert frontmatter_value(note.read_text(), "status") == "review"
    assert "Make `add` add numbers." in messages_text(first)          # vaultzoe's prompt reached the model
    assert git(dev.origin, "log", "-1", "--format=%s", state.branch).strip() == "Make add add"
    attempt = state.attempts[0]
    assert attempt.outcome == "succeeded" and attempt.session_id
    text = dev.read(f"Zoe/Attempts/{task_id} attempt 1.md")
    assert f"agent: {agent}" in text and "outcome: succeeded" in text
    assert f"- Session: `{attempt.session_id}`" in text
    assert re.search(r"^- Turns: [1-9]", text, re.M)
    assert re.search(r"^- Duration: \d+ s$", text, re.M)
    assert re.search(r"^- Tokens: \d{4,} in, \d+ out$", text, re.M)
    assert f"`{' '.join(FIX_CALC.split())}`" in text and f"`{COMMIT}`" in text     # one line each
    assert "- Files changed: " in text and "test_more.py`" in text
    assert "- Final message:" in text and FINAL in text
    row = registry_row(dev, "Add numbers")
    assert row["Status"] == "review" and row["Agent"] == agent
    if agent == "claude":
        assert re.search(r"^- Cost: \$0\.\d{4}$", text, re.M) and attempt.cost_usd and attempt.cost_usd > 0
        assert re.fullmatch(r"\$\d+\.\d\d", row["Cost"]), row
    else:
        assert "- Cost:" not in text and row["Cost"] == ""        # Codex reports no cost

# ---------------------------------------------------------------- (2) a model endpoint that fails


@agents
@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_a_failing_model_endpoint_fails_each_attempt_fast_with_the_error_then_the_task(dev, agents_bin, agent):
    set_setting(dev, "max_attempts", "2")
    with ModelStub(fail_status=500) as stub:
        write_agent_notes(dev, agents_bin, stub.url)
        note = write_task(dev, "Doomed", agent)
        seconds = until_idle(dev)
        calls = len(stub.model_calls())
    state = only_state(dev)
    assert state.status.value == "failed", (state.reason, state.attempts)
    assert [a.outcome for a in state.attempts] == ["failed", "failed"] and calls == 2
    assert seconds < 90
    assert "all 2 attempts are used" in state.reason and "The agent reported an error" in state.reason
    for number in (1, 2):
        text = dev.read(f"Zoe/Attempts/{state.id} attempt {number}.md")
        assert "outcome: failed" in text
        error = next(ln for ln in text.splitlines() if ln.startswith("- Error: "))[len("- Error: "):]
        assert error and error == cli_error(state.attempts[number - 1].run_dir), error   # what the CLI said
        if agent == "claude":
            assert "500" in error, error         # Codex words a 500 as its own "high demand" message
        assert "The agent reported an error" in text            # the evidence the retry prompt is built on
    assert frontmatter_value(note.read_text(), "status") == "failed"
    assert "**failed**" in dev.read("Zoe/Inbox.md")

# ---------------------------------------------------------------- (3) steering


def steer_scenario(marker: Path) -> list[Turn]:
    """A slow tool call (the agent is busy when the human steers), then the work the steer asks for."""
    slow = f"echo busy > {marker} && {sys.executable} -c 'import time; time.sleep(90)'"
    return [Turn(calls=(Shell(slow),)), Turn(calls=(Shell(API_COMMIT),)), Turn(calls=(Shell(API_COMMIT),)),
            Turn(text=API_FINAL)]


def steer(note: Path, message: str) -> None:
    """The human types a `## Steer` section into the running task's note (above vaultzoe's status block)."""
    text = note.read_text(encoding="utf-8")
    head, sep, tail = text.partition("<!-- vaultzoe:status -->")
    note.write_text(f"{head.rstrip()}\n\n## Steer\n{message}\n\n{sep}{tail}", encoding="utf-8")


@agents
@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_steering_stops_the_agent_and_continues_the_same_session_with_the_message(dev, agents_bin, agent):
    marker = dev.tmp / "busy.txt"
    with ModelStub(steer_scenario(marker)) as stub:
        write_agent_notes(dev, agents_bin, stub.url)
        note = write_task(dev, "Sum feature", agent)
        assert dev.run_once().exit_code == 0
        assert wait_for(marker.exists, timeout=90), stub.model_calls()          # the agent is inside its slow command
        first_run = Path(only_state(dev).attempts[0].run_dir)
        steer(note, STEER)
        assert dev.run_once().exit_code == 0                         # the next pass steers
        running = only_state(dev)
        assert running.status.value == "running" and running.attempts[0].steers == (STEER,)
        assert json.loads((first_run / "exit.json").read_text())["stopped"]
        assert f"## Steering\n- {STEER}" in dev.read(f"Zoe/Attempts/{running.id} attempt 1.md")
        until_idle(dev)
        calls = stub.model_calls()
    state = only_state(dev)
    assert state.status.value == "review", (state.reason, state.attempts)
    assert len(state.attempts) == 1                                    # the steer continued the same attempt
    attempt = state.attempts[0]
    assert attempt.outcome == "succeeded" and attempt.steers == (STEER,)
    # the stub heard the steer in a request of the session the agent started with
    header = SESSION_HEADER[agent]
    session = calls[0].headers[header]
    steered = [c for c in calls if STEER in messages_text(c)]
    assert steered and all(c.headers[header] == session for c in steered)
    assert attempt.session_id == session
    assert "busy.txt" in messages_text(steered[0])                    # with the earlier turns in its history
    # the resumed run is the one judged
    resumed = json.loads((Path(attempt.run_dir) / "argv.json").read_text())["argv"]
    assert resumed[resumed.index("--resume" if agent == "claude" else "resume") + 1] == session
    assert resumed[-1] == STEER
    assert git(dev.origin, "log", "-1", "--format=%s", state.branch).strip() == "API layer"
    text = dev.read(f"Zoe/Attempts/{state.id} attempt 1.md")
    assert f"## Steering\n- {STEER}" in text
    assert API_FINAL in text and "outcome: succeeded" in text


def test_steering_an_agent_without_a_session_restarts_it_with_the_task_and_the_steer(world, monkeypatch):
    """A command agent cannot resume a session: its steered run gets the task's prompt again, ending with the steer."""
    monkeypatch.setenv("AGENT_SLEEP", "60")
    note = world.task("Sum", mode="sleep")
    assert world.run_once().exit_code == 0
    assert wait_for(lambda: len(world.starts()) == 1, timeout=30)   # the agent is at work when the human steers
    monkeypatch.setenv("AGENT_SLEEP", "0.5")                 # the restarted agent finishes quickly
    steer(note, STEER)
    result = world.until_idle()
    assert result.exit_code == 0, result.output
    state = only_state(world)
    assert state.status.value == "review" and len(state.attempts) == 1 and state.attempts[0].steers == (STEER,)
    prompt = (Path(state.attempts[0].run_dir) / "prompt.md").read_text()
    assert Path(state.attempts[0].run_dir).name == "1-steer1"
    assert "Make `add` add numbers." in prompt and prompt.rstrip().endswith(STEER)
    assert len(world.starts()) == 2

# ---------------------------------------------------------------- (4) routing


@agents
def test_auto_routes_a_backend_task_to_codex_and_says_why(dev, agents_bin):
    set_setting(dev, "routes", '["ui: claude", "backend: codex"]')
    set_setting(dev, "default_agent", "claude")
    with ModelStub(solve("codex", Path())) as stub:
        write_agent_notes(dev, agents_bin, stub.url)
        write_task(dev, "Sum endpoint", "auto", kind="backend")
        until_idle(dev)
        paths = {r.path.split("?")[0] for r in stub.model_calls()}
    state = only_state(dev)
    assert state.status.value == "review", (state.reason, state.attempts)
    assert paths == {"/v1/responses"}                       # Codex did the work, Claude Code was never run
    text = dev.read(f"Zoe/Attempts/{state.id} attempt 1.md")
    assert "agent: codex" in text
    assert "Why this agent: route `backend: codex` matches the kind `backend`" in text
    assert registry_row(dev, "Sum endpoint")["Agent"] == "codex"

# ---------------------------------------------------------------- (5) admission


@agents
def test_a_queued_task_waits_for_memory_and_starts_once_there_is_room(dev, agents_bin, monkeypatch):
    monkeypatch.delenv("VAULTZOE_MIN_FREE_MEMORY_GB")          # the vault's setting counts, as on a user's machine
    set_setting(dev, "min_free_memory_gb", "100000")
    task_id = "clroom"
    with ModelStub(solve("claude", worktree(dev, task_id))) as stub:
        write_agent_notes(dev, agents_bin, stub.url)
        note = write_task(dev, "Big build", "claude", task_id=task_id)
        result = dev.run_once()
        assert result.exit_code == 0, result.output
        state = only_state(dev)
        assert state.status.value == "queued" and not state.attempts and stub.model_calls() == []
        row = registry_row(dev, "Big build")
        assert row["Status"] == "queued"
        assert re.fullmatch(r"waiting for memory: [\d.]+ GB available, min_free_memory_gb is 100000", row["Note"]), row
        assert "Waiting: waiting for memory" in note.read_text()
        assert not (dev.vault / ".vaultzoe" / "runs").exists()
        set_setting(dev, "min_free_memory_gb", "0")
        until_idle(dev)
    state = only_state(dev)
    assert state.status.value == "review" and len(state.attempts) == 1
    assert "waiting for memory" not in registry_row(dev, "Big build")["Note"]

# ---------------------------------------------------------------- (6) a missing CLI


@agents
@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_a_missing_cli_blocks_the_task_with_the_install_command(dev, agents_bin, agent):
    write_agent_notes(dev, agents_bin, "http://127.0.0.1:9", missing=agent)
    note = write_task(dev, "Needs a CLI", agent)
    result = dev.run_once()
    assert result.exit_code == 0, result.output
    state = only_state(dev)
    assert state.status.value == "blocked" and not state.attempts
    assert INSTALL[agent] in state.reason and str(dev.tmp / "not-installed" / agent) in state.reason
    assert f"Zoe/Agents/{agent}.md" in state.reason                  # where to point `command:` instead
    text = note.read_text()
    assert frontmatter_value(text, "status") == "blocked" and INSTALL[agent] in text
    assert INSTALL[agent] in registry_row(dev, "Needs a CLI")["Note"]
    inbox = dev.read("Zoe/Inbox.md")
    assert "**blocked**" in inbox and "[[Tasks/Needs a CLI" in inbox and "is not installed" in inbox
