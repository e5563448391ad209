"""ClaudeAgent: argv/env it builds, how it reads stream-json, and the real Claude Code CLI run offline."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.agents.conftest import claude_config, git, run_agent
from tests.stubs.model_stub import ModelStub, Shell, Turn, WriteFile
from vaultzoe.errors import RunnerError
from vaultzoe.settings import AgentConfig
from vaultzoe.work.claude import ClaudeAgent
from vaultzoe.work.cli_agent import ARGV_PROMPT_LIMIT

agents = pytest.mark.agents
PLAIN = AgentConfig(name="claude", kind="claude", command=("claude",))


def invocation(agent: ClaudeAgent, prompt_file: Path, **kw):
    return agent.invocation(prompt_file=prompt_file, workdir=Path("/w"), task_id="t1", attempt=1,
                            model=kw.pop("model", None), **kw)


# ---------------------------------------------------------------- argv and env


def test_argv_runs_headless_with_stream_json_and_the_prompt_last(write_prompt):
    prompt = write_prompt("- fix the bug\nthen commit")
    inv = invocation(ClaudeAgent(PLAIN, environ={}), prompt, model="claude-sonnet-4-5")
    assert inv.argv == ("claude", "-p", "--output-format", "stream-json", "--verbose",
                        "--permission-mode", "bypassPermissions", "--model", "claude-sonnet-4-5",
                        "--", "- fix the bug\nthen commit")
    assert inv.env["VAULTZOE_PROMPT_FILE"] == str(prompt)
    assert inv.env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert ("IS_SANDBOX" in inv.env) == (os.geteuid() == 0)


def test_resume_and_note_args_and_note_model(write_prompt):
    config = AgentConfig(name="claude", kind="claude", command=("claude", "--bare"), model="opus",
                         args=("--max-budget-usd", "3"))
    inv = invocation(ClaudeAgent(config, environ={}), write_prompt("Steer: API only"), resume_session="s-1")
    assert inv.argv[:2] == ("claude", "--bare")
    assert inv.argv[-8:] == ("--model", "opus", "--resume", "s-1", "--max-budget-usd", "3", "--", "Steer: API only")


def test_a_note_that_picks_its_own_permission_mode_gets_no_bypass(write_prompt):
    config = AgentConfig(name="claude", kind="claude", command=("claude",),
                         args=("--permission-mode", "acceptEdits"), env={"CLAUDE_CODE_MAX_RETRIES": "7"})
    inv = invocation(ClaudeAgent(config, environ={}), write_prompt("x"))
    assert "bypassPermissions" not in inv.argv and "IS_SANDBOX" not in inv.env
    assert inv.env["CLAUDE_CODE_MAX_RETRIES"] == "7"


def test_user_environment_settings_are_not_overridden(write_prompt):
    inv = invocation(ClaudeAgent(PLAIN, environ={"CLAUDE_CODE_MAX_RETRIES": "9", "IS_SANDBOX": "yes"}),
                     write_prompt("x"))
    assert "CLAUDE_CODE_MAX_RETRIES" not in inv.env
    # Claude Code takes only IS_SANDBOX=1, so as root vaultzoe sets it whatever the process inherited
    assert inv.env.get("IS_SANDBOX") == ("1" if os.geteuid() == 0 else None)


def test_a_prompt_too_long_for_one_argument_points_at_the_prompt_file(write_prompt):
    prompt = write_prompt("é" * ARGV_PROMPT_LIMIT)          # 200 KB of UTF-8
    argv = invocation(ClaudeAgent(PLAIN, environ={}), prompt).argv
    assert str(prompt) in argv[-1] and len(argv[-1]) < 500
    assert argv[argv.index("--add-dir") + 1] == str(prompt.parent)
    fits = write_prompt("a" * ARGV_PROMPT_LIMIT)
    argv = invocation(ClaudeAgent(PLAIN, environ={}), fits).argv
    assert argv[-1] == "a" * ARGV_PROMPT_LIMIT and "--add-dir" not in argv


def test_a_missing_prompt_file_is_a_runner_error(tmp_path):
    with pytest.raises(RunnerError, match="Cannot read the prompt file"):
        invocation(ClaudeAgent(PLAIN, environ={}), tmp_path / "nope.md")


def test_available_names_the_install_command(tmp_path):
    missing = AgentConfig(name="claude", kind="claude", command=("claude-not-here",))
    reason = ClaudeAgent(missing, environ={"PATH": str(tmp_path)}).available()
    assert "npm install -g @anthropic-ai/claude-code" in reason and "Zoe/Agents/claude.md" in reason
    present = AgentConfig(name="claude", kind="claude", command=(sys.executable,))
    assert ClaudeAgent(present, environ={"PATH": ""}).available() is None


# ---------------------------------------------------------------- reading the stream


def line(**event) -> str:
    return json.dumps(event)


def assistant(*blocks) -> str:
    return line(type="assistant", session_id="s-9", message={"role": "assistant", "content": list(blocks)})


STREAM = "\n".join([
    "Warning: something printed on stderr",
    line(type="system", subtype="init", session_id="s-9", cwd="/w", tools=["Bash"]),
    assistant({"type": "tool_use", "id": "a", "name": "Write", "input": {"file_path": "/w/a.py", "content": "x"}}),
    '{"type": "assistant", "message": {"content": [',       # a line cut in half
    assistant({"type": "tool_use", "id": "b", "name": "Bash", "input": {"command": "pytest -q"}}),
    assistant({"type": "tool_use", "id": "c", "name": "Edit", "input": {"file_path": "/w/a.py"}}),
    "[1, 2, 3]",
    assistant({"type": "text", "text": "All done."}),
    line(type="result", subtype="success", is_error=False, num_turns=4, result="All done.", session_id="s-9",
         total_cost_usd=0.0123, usage={"input_tokens": 100, "cache_read_input_tokens": 50,
                                       "cache_creation_input_tokens": 5, "output_tokens": 20}),
])


def test_report_reads_session_turns_tools_result_cost_and_tokens():
    report = ClaudeAgent(PLAIN).report(STREAM)
    assert report.session_id == "s-9" and report.turns == 4
    assert report.commands == ("pytest -q",) and report.files_changed == ("/w/a.py",)
    assert report.final_message == "All done." and not report.is_error and report.error == ""
    assert report.cost_usd == pytest.approx(0.0123)
    assert (report.input_tokens, report.output_tokens) == (155, 20)


def test_report_of_an_error_result_carries_the_error_text():
    log = line(type="result", subtype="error_during_execution", is_error=True, num_turns=1,
               errors=["API Error: 500 boom"], session_id="s-1")
    report = ClaudeAgent(PLAIN).report(log)
    assert report.is_error and report.error == "API Error: 500 boom" and report.session_id == "s-1"


@pytest.mark.parametrize("log", ["", "garbage\n\x00\x01{{{", "\n".join([assistant({"type": "text", "text": "hi"})] * 3),
                                 line(type="result", num_turns="x", usage=[1], total_cost_usd="free", result=5)])
def test_report_never_breaks_on_garbage_or_a_cut_stream(log):
    report = ClaudeAgent(PLAIN).report(log)
    assert isinstance(report.turns, int) and isinstance(report.error, str)


def test_a_cli_that_dies_before_streaming_reports_what_it_last_said():
    report = ClaudeAgent(PLAIN).report("Loading...\nError: Invalid API key · Fix with /login\n")
    assert report.is_error and report.error.endswith("it last said: Error: Invalid API key · Fix with /login")


def test_report_of_a_stream_without_result_is_an_error_with_the_last_text():
    report = ClaudeAgent(PLAIN).report("\n".join([assistant({"type": "text", "text": "working on it"})] * 2))
    assert report.is_error and "without a final event" in report.error
    assert report.final_message == "working on it" and report.turns == 2


# ---------------------------------------------------------------- the real CLI, offline


@agents
def test_claude_code_writes_commits_and_reports(agents_bin, repo, tmp_path, write_prompt):
    scenario = [
        Turn(calls=(WriteFile(str(repo / "hello.py"), "print('hello')\n"),)),
        Turn(calls=(Shell("git add hello.py && git commit -q -m 'Add hello.py' && git log --oneline -1"),)),
        Turn(text="Added hello.py and committed it."),
    ]
    with ModelStub(scenario) as stub:
        agent = ClaudeAgent(claude_config(agents_bin, stub.url, tmp_path / "claude-home"))
        prompt = write_prompt("Add hello.py that prints hello, then commit.")
        inv = agent.invocation(prompt_file=prompt, workdir=repo, task_id="t1", attempt=1, model=None)
        run = run_agent(inv, repo, tmp_path / "run")
        first = stub.model_calls()[0].body
    assert run.exit_code == 0, run.log[-3000:]
    assert git(repo, "log", "-1", "--format=%s") == "Add hello.py"
    assert git(repo, "show", "HEAD:hello.py") == "print('hello')"
    assert "Add hello.py that prints hello" in json.dumps(first["messages"])
    report = agent.report(run.log)
    assert report.session_id and len(report.session_id) == 36
    assert report.turns == 3 and not report.is_error
    assert report.commands == ("git add hello.py && git commit -q -m 'Add hello.py' && git log --oneline -1",)
    assert report.files_changed == (str(repo / "hello.py"),)
    assert report.final_message == "Added hello.py and committed it."
    assert report.cost_usd and report.cost_usd > 0
    assert report.input_tokens >= 3 * 1200 and report.output_tokens > 0


@agents
@pytest.mark.parametrize("status", [500, 529])
def test_a_failing_model_endpoint_ends_the_run_fast_with_the_error(agents_bin, repo, tmp_path, write_prompt, status):
    with ModelStub(fail_status=status) as stub:
        config = claude_config(agents_bin, stub.url, tmp_path / "claude-home")
        env = {k: v for k, v in config.env.items() if k != "CLAUDE_CODE_MAX_RETRIES"}   # vaultzoe's default applies
        agent = ClaudeAgent(AgentConfig(name="claude", kind="claude", command=config.command, env=env), environ={})
        inv = agent.invocation(prompt_file=write_prompt("do it"), workdir=repo, task_id="t1", attempt=1, model=None)
        run = run_agent(inv, repo, tmp_path / "run")
        calls = len(stub.model_calls())
    report = agent.report(run.log)
    assert run.exit_code != 0 and run.seconds < 60
    assert report.is_error and str(status) in report.error and "scripted failure" in report.error
    assert calls == 1 + int(inv.env["CLAUDE_CODE_MAX_RETRIES"])


@agents
def test_resume_continues_the_same_session_with_the_new_message(agents_bin, repo, tmp_path, write_prompt):
    scenario = [Turn(text="Started on the UI."), Turn(text="Switched to the API layer.")]
    with ModelStub(scenario) as stub:
        agent = ClaudeAgent(claude_config(agents_bin, stub.url, tmp_path / "claude-home"))
        start = agent.invocation(prompt_file=write_prompt("Build the feature"), workdir=repo, task_id="t1",
                                 attempt=1, model=None)
        first = agent.report(run_agent(start, repo, tmp_path / "r1").log)
        inv = agent.invocation(prompt_file=write_prompt("Stop. Focus on the API layer"), workdir=repo, task_id="t1",
                               attempt=2, model=None, resume_session=first.session_id)
        second = agent.report(run_agent(inv, repo, tmp_path / "r2").log)
        history = json.dumps(stub.model_calls()[-1].body["messages"])
    assert first.final_message == "Started on the UI." and not second.is_error
    assert second.session_id == first.session_id
    assert second.final_message == "Switched to the API layer."
    assert "Build the feature" in history and "Started on the UI." in history
    assert "Stop. Focus on the API layer" in history


@agents
def test_a_prompt_longer_than_one_argument_reaches_the_agent_as_a_file(agents_bin, repo, tmp_path, write_prompt):
    prompt = write_prompt("Implement the spec below.\n" + "spec line\n" * 20_000)    # ~200 KB
    scenario = [Turn(calls=(Shell(f"head -c 25 {prompt}"),)), Turn(text="Read it.")]
    with ModelStub(scenario) as stub:
        agent = ClaudeAgent(claude_config(agents_bin, stub.url, tmp_path / "claude-home"))
        inv = agent.invocation(prompt_file=prompt, workdir=repo, task_id="t1", attempt=1, model=None)
        run = run_agent(inv, repo, tmp_path / "run")
        history = json.dumps(stub.model_calls()[-1].body["messages"])
    assert run.exit_code == 0, run.log[-3000:]
    assert f"Your full instructions are in the file {prompt}" in history
    assert "Implement the spec below." in history          # the tool result of reading the file
