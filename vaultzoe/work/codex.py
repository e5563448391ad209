"""Codex, headless: `codex exec --json ...`, and what its JSONL events say.

Choices, and why (checked against codex-cli 0.169.0):

- `--dangerously-bypass-approvals-and-sandbox`: Codex's `workspace-write` sandbox mounts `.git` read-only, so
  the agent could not commit its work (the first item of vaultzoe's definition of done), and it has no
  network for installing dependencies. The worktree is the isolation boundary, as with Claude Code's
  bypassPermissions. An agent note whose `args` choose a sandbox (`--sandbox`/`-s`, `--full-auto`,
  `--approve-for-me`, `-c sandbox_mode=...`) replaces this default.
- `--disable unbounded_connection_retries`: by default Codex waits forever for an endpoint it cannot reach
  ("Reconnecting... waiting for network"); disabled, a dead endpoint ends the run within seconds. HTTP
  errors are retried `request_max_retries` + `stream_max_retries` times (the built-in OpenAI provider's
  defaults end a run against a failing endpoint in about 25 s; a custom provider in the note sets its own).
- `-C <worktree>` and `--skip-git-repo-check`: the run does not depend on the runner's cwd or trust state.
- The prompt goes in argv after `--`; stdin must be /dev/null (Codex reads a piped stdin and blocks).
- Resume: `codex exec <options> resume <thread_id> -- <message>`; the options before `resume` apply to it
  and the thread id stays the same.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from ..protocols import AgentReport, Invocation
from .cli_agent import (CliAgent, as_dict, as_int, as_list, as_str, has_option, prompt_argument, unique)

CODEX_INSTALL = "npm install -g @openai/codex"
SANDBOX_OPTIONS = ("--sandbox", "-s", "--full-auto", "--approve-for-me", "--dangerously-bypass-approvals-and-sandbox")
UNATTENDED = ("--dangerously-bypass-approvals-and-sandbox",)
BOUNDED_RETRIES = ("--disable", "unbounded_connection_retries")
SHELLS = ("bash", "sh", "zsh", "dash")


def _sets_config(args: tuple[str, ...], key: str) -> bool:
    """Whether args pass `-c key=...` (or `--config key=...`)."""
    return any(a.split("=", 1)[0].strip() == key for prev, a in zip(("",) + args, args) if prev in ("-c", "--config"))


class CodexAgent(CliAgent):
    """Runs `codex exec --json` and reads its JSONL events."""

    label = "Codex"
    install = CODEX_INSTALL

    def invocation(self, *, prompt_file: Path, workdir: Path, task_id: str, attempt: int,
                   model: str | None, resume_session: str | None = None) -> Invocation:
        args = tuple(self.config.args)
        argv = [*self.config.command, "exec", "--json", *self._sandbox_args(args), "--skip-git-repo-check",
                "-C", str(workdir)]
        chosen = model or self.config.model
        if chosen and not has_option(args, ("-m", "--model")) and not _sets_config(args, "model"):
            argv += ["-m", chosen]
        if not any("unbounded_connection_retries" in a for a in args):
            argv += BOUNDED_RETRIES
        argv += args
        if resume_session:
            argv += ["resume", resume_session]
        argv += ["--", prompt_argument(prompt_file)]
        env = {**self.config.env, "VAULTZOE_PROMPT_FILE": str(prompt_file)}
        return Invocation(argv=tuple(argv), env=env)

    @staticmethod
    def _sandbox_args(args: tuple[str, ...]) -> tuple[str, ...]:
        if has_option(args, SANDBOX_OPTIONS) or _sets_config(args, "sandbox_mode"):
            return ()
        return UNATTENDED

    @staticmethod
    def read_events(events: list[dict[str, Any]]) -> AgentReport:
        return codex_report(events)


# ---------------------------------------------------------------- reading the JSONL


def unwrap_shell(command: str) -> str:
    """`/bin/bash -lc "git status"` -> `git status`: Codex wraps every command in a login shell."""
    try:
        parts = shlex.split(command)
    except ValueError:
        return command
    if len(parts) == 3 and os.path.basename(parts[0]) in SHELLS and parts[1] in ("-c", "-lc"):
        return parts[2]
    return command


def _completed_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [as_dict(e.get("item")) for e in events if e.get("type") == "item.completed"]


def _outcome(events: list[dict[str, Any]]) -> tuple[bool, str]:
    """(is_error, error) from the last turn outcome; `error` events before a completed turn were retries."""
    last_error = ""
    for event in events:
        kind = event.get("type")
        if kind == "turn.completed":
            last_error = ""
        elif kind == "turn.failed":
            last_error = as_str(as_dict(event.get("error")).get("message")) or "Codex reported a failed turn"
        elif kind == "error":
            last_error = as_str(event.get("message")) or "Codex reported an error"
    if last_error:
        return True, last_error
    if not any(e.get("type") == "turn.completed" for e in events):
        return True, ""        # the caller names what the log last said
    return False, ""


def codex_report(events: list[dict[str, Any]]) -> AgentReport:
    """Thread, turns, commands, changed files, last message, error and tokens from `codex exec --json` events.

    Codex reports no cost. Its `turn.completed` usage is the thread's running total (it grows across a
    resume), so the last one is taken, not a sum.
    """
    items = _completed_items(events)
    thread = next((as_str(e.get("thread_id")) for e in events if e.get("type") == "thread.started"), "")
    commands = tuple(unwrap_shell(as_str(i.get("command"))) for i in items if i.get("type") == "command_execution")
    files = unique(as_str(as_dict(c).get("path")) for i in items if i.get("type") == "file_change"
                   for c in as_list(i.get("changes")))
    messages = [as_str(i.get("text")) for i in items if i.get("type") == "agent_message" and as_str(i.get("text"))]
    usage = next((as_dict(e.get("usage")) for e in reversed(events) if e.get("type") == "turn.completed"), {})
    is_error, error = _outcome(events)
    return AgentReport(
        session_id=thread or None,
        turns=sum(1 for e in events if e.get("type") in ("turn.completed", "turn.failed")),
        commands=tuple(c for c in commands if c), files_changed=files,
        final_message=messages[-1] if messages else "", is_error=is_error, error=error, cost_usd=None,
        input_tokens=as_int(usage.get("input_tokens")), output_tokens=as_int(usage.get("output_tokens")),
    )
