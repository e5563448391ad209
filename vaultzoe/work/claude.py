"""Claude Code, headless: `claude -p ... --output-format stream-json --verbose`, and what its stream says.

Choices, and why:

- Permission mode `bypassPermissions`: the agent edits, runs tests and commits unattended in its own
  worktree; any prompt for permission would stall the run. An agent note that passes its own
  `--permission-mode` (or `--dangerously-skip-permissions`) in `args` replaces this default.
- As root (containers, CI), Claude Code refuses to bypass permissions unless `IS_SANDBOX=1` (exactly "1");
  vaultzoe sets it only then, unless the agent note's `env` sets it, so the same note works on a laptop
  and in a container.
- `CLAUDE_CODE_MAX_RETRIES` defaults to a small number (unless the note's `env` or vaultzoe's environment
  sets it): Claude Code's own default retries with backoff for minutes, so a dead endpoint would hold a slot.
- The prompt goes in argv after `--` (a prompt starting with "-" is never read as an option) and stdin is
  /dev/null. Linux caps one argument at 128 KiB, so a longer prompt is replaced by a short instruction to
  read the prompt file, which is also exported as VAULTZOE_PROMPT_FILE.
- Resume (steering, a retry that keeps earlier work): `--resume <session>` with the new message as prompt;
  Claude Code keeps the same session id.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from ..protocols import AgentReport, Invocation
from .cli_agent import (CliAgent, as_dict, as_int, as_list, as_str, has_option, prompt_argument, prompt_is_pointer,
                        unique, with_default)

DEFAULT_MAX_RETRIES = "2"
CLAUDE_INSTALL = "npm install -g @anthropic-ai/claude-code"
PERMISSION_OPTIONS = ("--permission-mode", "--dangerously-skip-permissions")
SHELL_TOOLS = ("Bash",)
EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")


# ---------------------------------------------------------------- Claude Code


class ClaudeAgent(CliAgent):
    """Runs Claude Code headless and reads its stream-json log."""

    label = "Claude Code"
    install = CLAUDE_INSTALL

    def invocation(self, *, prompt_file: Path, workdir: Path, task_id: str, attempt: int,
                   model: str | None, resume_session: str | None = None) -> Invocation:
        argv = [*self.config.command, "-p", "--output-format", "stream-json", "--verbose"]
        argv += self._permission_args()
        chosen = model or self.config.model
        if chosen and not has_option(self.config.args, ("--model",)):
            argv += ["--model", chosen]
        if resume_session:
            argv += ["--resume", resume_session]
        prompt = prompt_argument(prompt_file)
        if prompt_is_pointer(prompt, prompt_file):
            argv += ["--add-dir", str(prompt_file.resolve().parent)]   # readable under any permission mode
        argv += [*self.config.args, "--", prompt]
        return Invocation(argv=tuple(argv), env=self._env(prompt_file))

    def _permission_args(self) -> list[str]:
        if has_option(self.config.args, PERMISSION_OPTIONS):
            return []
        return ["--permission-mode", "bypassPermissions"]

    def _env(self, prompt_file: Path) -> dict[str, str]:
        env = dict(self.config.env)
        env["VAULTZOE_PROMPT_FILE"] = str(prompt_file)
        with_default(env, "CLAUDE_CODE_MAX_RETRIES", DEFAULT_MAX_RETRIES, self._environ)
        if os.geteuid() == 0 and not has_option(self.config.args, PERMISSION_OPTIONS):
            # Claude Code accepts only "1" (not "yes"/"true"), so an inherited value is not trusted.
            env.setdefault("IS_SANDBOX", "1")
        return env

    @staticmethod
    def read_events(events: list[dict[str, Any]]) -> AgentReport:
        return claude_report(events)


# ---------------------------------------------------------------- reading the stream


def _tool_uses(events: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for event in events:
        if event.get("type") != "assistant":
            continue
        for block in map(as_dict, as_list(as_dict(event.get("message")).get("content"))):
            if block.get("type") == "tool_use":
                yield as_str(block.get("name")), as_dict(block.get("input"))


def _assistant_texts(events: list[dict[str, Any]]) -> list[str]:
    texts = []
    for event in events:
        if event.get("type") == "assistant":
            for block in map(as_dict, as_list(as_dict(event.get("message")).get("content"))):
                if block.get("type") == "text" and as_str(block.get("text")).strip():
                    texts.append(block["text"])
    return texts


def _last(events: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((e for e in reversed(events) if e.get("type") == kind), None)


def _session_id(events: list[dict[str, Any]]) -> str | None:
    return next((e["session_id"] for e in events if isinstance(e.get("session_id"), str) and e["session_id"]), None)


def _error_text(result: dict[str, Any]) -> str:
    errors = [as_str(e) for e in as_list(result.get("errors")) if as_str(e)]
    return as_str(result.get("result")) or "; ".join(errors) or as_str(result.get("subtype")) or "Claude Code failed"


def _result_fields(result: dict[str, Any] | None, events: list[dict[str, Any]]) -> dict[str, Any]:
    if result is None:
        texts = _assistant_texts(events)
        turns = sum(1 for e in events if e.get("type") == "assistant")
        return {"turns": turns, "final_message": texts[-1] if texts else "", "is_error": True, "error": ""}
    usage = as_dict(result.get("usage"))
    is_error = bool(result.get("is_error")) or as_str(result.get("subtype")).startswith("error")
    cost = result.get("total_cost_usd")
    return {
        "turns": as_int(result.get("num_turns")),
        "final_message": as_str(result.get("result")),
        "is_error": is_error,
        "error": _error_text(result) if is_error else "",
        "cost_usd": float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
        "input_tokens": sum(as_int(usage.get(k)) for k in
                            ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")),
        "output_tokens": as_int(usage.get("output_tokens")),
    }


def claude_report(events: list[dict[str, Any]]) -> AgentReport:
    """Session, turns, Bash commands, edited files, result text, error, cost and tokens from stream-json events."""
    uses = list(_tool_uses(events))
    commands = tuple(as_str(args.get("command")) for name, args in uses if name in SHELL_TOOLS)
    files = unique(as_str(args.get("file_path") or args.get("notebook_path")) for name, args in uses
                   if name in EDIT_TOOLS)
    return AgentReport(session_id=_session_id(events), commands=tuple(c for c in commands if c),
                       files_changed=files, **_result_fields(_last(events, "result"), events))
