"""Agents: what argv to run for a prompt, and how to read what the agent reported.

    make_agent(config: AgentConfig) -> protocols.Agent          table AGENT_KINDS = {"command": ..., "claude": ..., "codex": ...}
    CommandAgent: argv = config.command with {prompt_file} {workdir} {task_id} {attempt} substituted in each
        argument (+ config.args); env adds VAULTZOE_PROMPT_FILE and config.env; report() reads plain text
        (final_message = the last non-empty lines).
    ClaudeAgent / CodexAgent: the real CLIs (claude.py, codex.py); report() parses their JSON event streams.

AGENT_KINDS maps a kind to "module:Class"; make_agent imports the class only when it is asked
for, so the claude and codex modules load lazily. Command agents cannot resume a session: invocation()
ignores resume_session (a steer or a retry starts the command afresh in the same worktree).
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import SettingsError
from ..layout import AGENTS_DIR
from ..protocols import Agent, AgentReport, Invocation
from ..settings import AgentConfig

AGENT_KINDS: dict[str, str] = {
    "command": "vaultzoe.work.agents:CommandAgent",
    "claude": "vaultzoe.work.claude:ClaudeAgent",
    "codex": "vaultzoe.work.codex:CodexAgent",
}

FINAL_LINES = 20
FINAL_CHARS = 2000


def make_agent(config: AgentConfig) -> Agent:
    """The Agent for config.kind, from the AGENT_KINDS table."""
    target = AGENT_KINDS.get(config.kind)
    if target is None:
        raise SettingsError(f"Agent {config.name}: unknown kind {config.kind!r}: use one of "
                            f"{', '.join(sorted(AGENT_KINDS))}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)(config)


def fill_placeholders(argument: str, values: dict[str, str]) -> str:
    """Replace each {name} of values inside one argument in one pass; other braces (JSON) stay as they are."""
    pattern = re.compile("|".join(re.escape("{" + name + "}") for name in values))
    return pattern.sub(lambda match: values[match.group(0)[1:-1]], argument) if values else argument


def last_lines(text: str, lines: int = FINAL_LINES, chars: int = FINAL_CHARS) -> str:
    """The last non-empty lines of text, at most `chars` characters (the end is kept)."""
    kept = [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(kept)[-chars:]


@dataclass(frozen=True)
class CommandAgent:
    """Any program: argv from the agent note with placeholders, plain-text output."""

    config: AgentConfig

    @property
    def name(self) -> str:
        return self.config.name

    def invocation(self, *, prompt_file: Path, workdir: Path, task_id: str, attempt: int,
                   model: str | None, resume_session: str | None = None) -> Invocation:
        """The note's command with placeholders filled in, then its args; the prompt path also in env."""
        values = {"prompt_file": str(prompt_file), "workdir": str(workdir), "task_id": task_id,
                  "attempt": str(attempt)}
        argv = tuple(fill_placeholders(arg, values) for arg in (*self.config.command, *self.config.args))
        return Invocation(argv=argv, env={"VAULTZOE_PROMPT_FILE": str(prompt_file), **self.config.env})

    def report(self, log_text: str) -> AgentReport:
        """Plain text: the final message is the end of the output."""
        return AgentReport(final_message=last_lines(log_text))

    def available(self) -> str | None:
        """None when the program can be found, else the reason and the fix."""
        note = self.config.note_path or f"{AGENTS_DIR}/{self.config.name}.md"
        if not self.config.command:
            return f"Agent {self.config.name} has no command: set `command:` in {note}"
        program = self.config.command[0]
        if os.sep in program:
            if not Path(program).is_absolute() or (Path(program).is_file() and os.access(program, os.X_OK)):
                return None   # relative paths are resolved in the worktree, which may not exist yet
            return (f"Agent {self.config.name}: {program} is missing or not executable: install it there, "
                    f"or fix `command:` in {note}")
        if shutil.which(program, path=self.config.env.get("PATH") or os.environ.get("PATH", os.defpath)):
            return None
        return (f"Agent {self.config.name}: `{program}` was not found on PATH: install it, or set `command:` "
                f"in {note} to the full path of the program")
