"""Command agents and the agent table; a real command agent run through the real runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vaultzoe.errors import SettingsError
from vaultzoe.protocols import AgentReport, RunSpec
from vaultzoe.settings import AgentConfig, agent_from_frontmatter
from vaultzoe.work.agents import AGENT_KINDS, CommandAgent, make_agent
from vaultzoe.work.runners import ProcessRunner


def command_agent(command, **kw) -> CommandAgent:
    return CommandAgent(AgentConfig(name="mine", kind="command", command=tuple(command), **kw))


def test_placeholders_are_filled_inside_each_argument_and_args_appended(tmp_path):
    agent = command_agent(["my-agent", "--prompt={prompt_file}", "{workdir}", "task-{task_id}-{attempt}",
                           '{"json": {"kept": true}}'], args=("--fast", "{attempt}"))

    inv = agent.invocation(prompt_file=tmp_path / "p.md", workdir=tmp_path / "wt", task_id="t9", attempt=2,
                           model="ignored", resume_session="ignored-too")

    assert inv.argv == ("my-agent", f"--prompt={tmp_path / 'p.md'}", str(tmp_path / "wt"), "task-t9-2",
                        '{"json": {"kept": true}}', "--fast", "2")


def test_placeholders_are_filled_once_even_when_a_value_looks_like_one(tmp_path):
    agent = command_agent(["a", "{prompt_file}:{task_id}"])
    inv = agent.invocation(prompt_file=Path("/v/{task_id}.md"), workdir=tmp_path, task_id="t1", attempt=1, model=None)
    assert inv.argv == ("a", "/v/{task_id}.md:t1")


def test_env_carries_the_prompt_file_and_the_notes_env(tmp_path):
    agent = command_agent(["a"], env={"MODE": "ci"})
    inv = agent.invocation(prompt_file=tmp_path / "p.md", workdir=tmp_path, task_id="t", attempt=1, model=None)
    assert inv.env == {"VAULTZOE_PROMPT_FILE": str(tmp_path / "p.md"), "MODE": "ci"}


def test_a_string_command_from_a_note_is_split_not_shelled(tmp_path):
    config = agent_from_frontmatter("demo", "Zoe/Agents/demo.md", {"command": "run-it '{prompt_file}' 'a b'"})
    inv = make_agent(config).invocation(prompt_file=Path("/p q/prompt.md"), workdir=tmp_path, task_id="t",
                                        attempt=1, model=None)
    assert inv.argv == ("run-it", "/p q/prompt.md", "a b")


def test_report_keeps_the_last_non_empty_lines_bounded():
    text = "\n".join(f"line {i}" for i in range(100)) + "\n\n   \nAll done.\n\n"
    report = command_agent(["a"]).report(text)
    assert report.final_message.endswith("line 99\nAll done.")
    assert len(report.final_message.splitlines()) == 20
    assert not report.is_error and report.turns == 0
    assert len(command_agent(["a"]).report("x" * 100_000).final_message) == 2000
    assert command_agent(["a"]).report("") == AgentReport()


def test_available_finds_programs_on_path_and_names_the_fix():
    assert command_agent([sys.executable]).available() is None
    assert command_agent(["sh", "-c", "true"]).available() is None
    missing = command_agent(["no-such-agent-xyz"], note_path="Zoe/Agents/mine.md").available()
    assert "`no-such-agent-xyz` was not found on PATH" in missing and "Zoe/Agents/mine.md" in missing
    assert "not executable" in command_agent(["/nonexistent/agent"]).available()
    assert command_agent(["./scripts/agent.sh"]).available() is None     # resolved in the worktree at run time
    assert "has no command" in command_agent([]).available()


def test_available_honours_a_path_set_in_the_notes_env(tmp_path):
    tool = tmp_path / "bin" / "special-agent"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert command_agent(["special-agent"]).available() is not None
    assert command_agent(["special-agent"], env={"PATH": str(tool.parent)}).available() is None


def test_make_agent_uses_the_table_and_rejects_unknown_kinds():
    assert set(AGENT_KINDS) == {"command", "claude", "codex"}
    assert isinstance(make_agent(AgentConfig(name="x", kind="command", command=("a",))), CommandAgent)
    with pytest.raises(SettingsError, match="unknown kind 'robot'"):
        make_agent(AgentConfig(name="x", kind="robot", command=("a",)))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["claude", "codex"])
def test_make_agent_loads_the_cli_agents_lazily(kind):
    agent = make_agent(AgentConfig(name=kind, kind=kind, command=(kind,)))
    assert agent.name == kind and type(agent).__module__ == f"vaultzoe.work.{kind}"


def test_a_command_agent_runs_for_real(tmp_path, wait_until):
    script = tmp_path / "agent.py"
    script.write_text("import os, sys\nprompt = open(os.environ['VAULTZOE_PROMPT_FILE']).read()\n"
                      "print('read', len(prompt), 'chars for', sys.argv[1])\nprint('Finished the task.')\n")
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Fix the login bug.")
    agent = command_agent([sys.executable, str(script), "{task_id}"])
    inv = agent.invocation(prompt_file=prompt, workdir=tmp_path, task_id="t1", attempt=1, model=None)
    runner = ProcessRunner()
    runner.start(RunSpec("t1", 1, inv.argv, tmp_path, tmp_path / "run", env=inv.env))
    state = wait_until(lambda: (lambda s: s if not s.running else None)(runner.poll(tmp_path / "run")))

    report = agent.report(runner.read_log(tmp_path / "run"))
    assert state.exit_code == 0
    assert report.final_message == "read 18 chars for t1\nFinished the task."
