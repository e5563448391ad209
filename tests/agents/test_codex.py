"""CodexAgent: argv/env it builds, how it reads `codex exec --json`, and the real Codex CLI run offline."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.agents.conftest import CODEX_MODEL, codex_config, git, run_agent
from tests.stubs.model_stub import ModelStub, Shell, Turn, WriteFile
from vaultzoe.settings import AgentConfig
from vaultzoe.work.codex import CodexAgent, unwrap_shell

agents = pytest.mark.agents
PLAIN = AgentConfig(name="codex", kind="codex", command=("codex",))


def invocation(agent: CodexAgent, prompt_file: Path, **kw):
    return agent.invocation(prompt_file=prompt_file, workdir=Path("/w"), task_id="t1", attempt=1,
                            model=kw.pop("model", None), **kw)


# ---------------------------------------------------------------- argv and env


def test_argv_runs_exec_json_unattended_in_the_worktree_with_bounded_retries(write_prompt):
    prompt = write_prompt("--fix it")
    inv = invocation(CodexAgent(PLAIN, environ={}), prompt, model="gpt-5.5")
    assert inv.argv == ("codex", "exec", "--json", "--dangerously-bypass-approvals-and-sandbox",
                        "--skip-git-repo-check", "-C", "/w", "-m", "gpt-5.5",
                        "--disable", "unbounded_connection_retries", "--", "--fix it")
    assert inv.env == {"VAULTZOE_PROMPT_FILE": str(prompt)}


def test_resume_puts_the_thread_and_message_after_the_exec_options(write_prompt):
    config = AgentConfig(name="codex", kind="codex", command=("codex",), model="o4", args=("-c", "x=1"),
                         env={"CODEX_HOME": "/h"})
    inv = invocation(CodexAgent(config, environ={}), write_prompt("Steer: API"), resume_session="th-1")
    assert inv.argv[inv.argv.index("-m") + 1] == "o4"
    assert inv.argv[-6:] == ("-c", "x=1", "resume", "th-1", "--", "Steer: API")
    assert inv.env["CODEX_HOME"] == "/h"


@pytest.mark.parametrize("args", [("--sandbox", "workspace-write"), ("-s", "read-only"), ("--full-auto",),
                                  ("-c", "sandbox_mode=workspace-write")])
def test_a_note_that_picks_a_sandbox_replaces_the_default(write_prompt, args):
    config = AgentConfig(name="codex", kind="codex", command=("codex",), args=args)
    inv = invocation(CodexAgent(config, environ={}), write_prompt("x"))
    assert "--dangerously-bypass-approvals-and-sandbox" not in inv.argv


def test_a_note_that_picks_model_or_retries_is_not_overridden(write_prompt):
    config = AgentConfig(name="codex", kind="codex", command=("codex",),
                         args=("-c", "model=o3", "--enable", "unbounded_connection_retries"))
    inv = invocation(CodexAgent(config, environ={}), write_prompt("x"), model="gpt-5.5")
    assert "-m" not in inv.argv and inv.argv.count("unbounded_connection_retries") == 1


def test_available_names_the_install_command(tmp_path):
    reason = CodexAgent(AgentConfig(name="codex", kind="codex", command=("codex-x",)),
                        environ={"PATH": str(tmp_path)}).available()
    assert "npm install -g @openai/codex" in reason


def test_unwrap_shell():
    assert unwrap_shell('/bin/bash -lc "git add a && git commit -m \'x y\'"') == "git add a && git commit -m 'x y'"
    assert unwrap_shell("ls -la") == "ls -la"
    assert unwrap_shell('bash -lc "unclosed') == 'bash -lc "unclosed'


# ---------------------------------------------------------------- reading the JSONL


def line(**event) -> str:
    return json.dumps(event)


def item(**fields) -> str:
    return line(type="item.completed", item=fields)


EVENTS = "\n".join([
    "WARNING: proceeding, even though we could not create PATH aliases",
    "Reading additional input from stdin...",
    line(type="thread.started", thread_id="th-7"),
    line(type="turn.started"),
    line(type="error", message="Reconnecting... 1/5 (stream disconnected)"),
    item(id="i0", type="reasoning", text="thinking"),
    item(id="i1", type="file_change",
         changes=[{"path": "/w/a.py", "kind": "add"}, {"path": "/w/b.py", "kind": "update"}]),
    '{"type":"item.completed","item":{"id":"i2","type":"command_exec',           # cut short
    item(id="i3", type="command_execution", command="/bin/bash -lc 'pytest -q'", exit_code=0, status="completed"),
    item(id="i4", type="agent_message", text="Tests pass."),
    line(type="turn.completed", usage={"input_tokens": 3600, "cached_input_tokens": 100, "output_tokens": 102}),
])


def test_report_reads_thread_items_and_usage():
    report = CodexAgent(PLAIN).report(EVENTS)
    assert report.session_id == "th-7" and report.turns == 1
    assert report.commands == ("pytest -q",) and report.files_changed == ("/w/a.py", "/w/b.py")
    assert report.final_message == "Tests pass." and not report.is_error and report.error == ""
    assert (report.input_tokens, report.output_tokens, report.cost_usd) == (3600, 102, None)


def test_report_of_a_failed_turn_carries_its_message():
    log = "\n".join([line(type="thread.started", thread_id="th-1"), line(type="error", message="Reconnecting... 1/1"),
                     line(type="turn.failed", error={"message": "unexpected status 500"})])
    report = CodexAgent(PLAIN).report(log)
    assert report.is_error and report.error == "unexpected status 500" and report.session_id == "th-1"


@pytest.mark.parametrize("log", ["", "\x00garbage{", line(type="thread.started", thread_id="th-1"),
                                 item(id="x", type="command_execution", command=["not", "a", "string"]),
                                 line(type="turn.completed", usage="lots"), line(type="item.completed", item=None)])
def test_report_never_breaks_and_an_unfinished_turn_is_an_error(log):
    report = CodexAgent(PLAIN).report(log)
    assert isinstance(report.commands, tuple)
    if "turn.completed" not in log:
        assert report.is_error and report.error


# ---------------------------------------------------------------- the real CLI, offline


def _codex(agents_bin: Path, url: str, tmp_path: Path) -> CodexAgent:
    return CodexAgent(codex_config(agents_bin, url, tmp_path / "codex-home"))


@agents
def test_codex_writes_commits_and_reports(agents_bin, repo, tmp_path, write_prompt):
    scenario = [
        Turn(calls=(WriteFile("hello.py", "print('hello')\n"),)),
        Turn(calls=(Shell("git add hello.py && git commit -q -m 'Add hello.py' && git log --oneline -1"),)),
        Turn(text="Added hello.py and committed it."),
    ]
    with ModelStub(scenario) as stub:
        agent = _codex(agents_bin, stub.url, tmp_path)
        inv = agent.invocation(prompt_file=write_prompt("Add hello.py that prints hello, then commit."), workdir=repo,
                               task_id="t1", attempt=1, model=None)
        run = run_agent(inv, repo, tmp_path / "run")
        first = stub.model_calls()[0].body
    assert run.exit_code == 0, run.log[-3000:]
    assert git(repo, "log", "-1", "--format=%s") == "Add hello.py"
    assert git(repo, "show", "HEAD:hello.py") == "print('hello')"
    assert first["model"] == CODEX_MODEL and "Add hello.py that prints hello" in json.dumps(first["input"])
    report = agent.report(run.log)
    assert report.session_id and not report.is_error, report
    assert report.commands == ("git add hello.py && git commit -q -m 'Add hello.py' && git log --oneline -1",)
    assert report.files_changed == (str(repo / "hello.py"),)
    assert report.final_message == "Added hello.py and committed it."
    assert report.turns == 1 and report.input_tokens == 3 * 1200 and report.output_tokens == 3 * 34


@agents
def test_a_failing_model_endpoint_ends_the_run_fast_with_the_error(agents_bin, repo, tmp_path, write_prompt):
    with ModelStub(fail_status=500) as stub:
        agent = _codex(agents_bin, stub.url, tmp_path)
        inv = agent.invocation(prompt_file=write_prompt("do it"), workdir=repo, task_id="t1", attempt=1, model=None)
        run = run_agent(inv, repo, tmp_path / "run")
        calls = len(stub.model_calls())
    report = agent.report(run.log)
    assert run.exit_code != 0 and run.seconds < 60
    assert report.is_error and report.error and calls == 1


@agents
def test_an_unreachable_endpoint_ends_the_run_instead_of_waiting_for_the_network(agents_bin, repo, tmp_path,
                                                                                 write_prompt):
    with socket.socket() as sock:          # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    agent = _codex(agents_bin, dead, tmp_path)
    inv = agent.invocation(prompt_file=write_prompt("do it"), workdir=repo, task_id="t1", attempt=1, model=None)
    run = run_agent(inv, repo, tmp_path / "run", timeout_s=60)
    report = agent.report(run.log)
    assert run.exit_code not in (0, None) and run.seconds < 30, run.log[-2000:]
    assert report.is_error and "Connection failed" in report.error


@agents
def test_resume_continues_the_same_thread_with_the_new_message(agents_bin, repo, tmp_path, write_prompt):
    scenario = [Turn(text="Started on the UI."), Turn(text="Switched to the API layer.")]
    with ModelStub(scenario) as stub:
        agent = _codex(agents_bin, stub.url, tmp_path)
        start = agent.invocation(prompt_file=write_prompt("Build the feature"), workdir=repo, task_id="t1",
                                 attempt=1, model=None)
        first = agent.report(run_agent(start, repo, tmp_path / "r1").log)
        inv = agent.invocation(prompt_file=write_prompt("Stop. Focus on the API layer"), workdir=repo, task_id="t1",
                               attempt=2, model=None, resume_session=first.session_id)
        second = agent.report(run_agent(inv, repo, tmp_path / "r2").log)
        history = json.dumps(stub.model_calls()[-1].body["input"])
    assert first.final_message == "Started on the UI." and not second.is_error
    assert second.session_id == first.session_id
    assert second.final_message == "Switched to the API layer."
    assert "Build the feature" in history and "Started on the UI." in history
    assert "Stop. Focus on the API layer" in history
