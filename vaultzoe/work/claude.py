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

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import RunnerError
from ..protocols import AgentReport, Invocation
from ..settings import AGENTS_DIR, AgentConfig

ARGV_PROMPT_LIMIT = 100_000          # bytes; Linux MAX_ARG_STRLEN is 131072 per argument
POINTER_START = "Your full instructions are in the file"
DEFAULT_MAX_RETRIES = "2"
CLAUDE_INSTALL = "npm install -g @anthropic-ai/claude-code"
PERMISSION_OPTIONS = ("--permission-mode", "--dangerously-skip-permissions")
SHELL_TOOLS = ("Bash",)
EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")


# ---------------------------------------------------------------- helpers shared by the CLI agents


def prompt_argument(prompt_file: Path, limit: int = ARGV_PROMPT_LIMIT) -> str:
    """The prompt itself when it fits one argv element, else an instruction to read the prompt file."""
    try:
        text = prompt_file.read_text(encoding="utf-8", errors="replace").replace("\x00", "")
    except OSError as exc:
        raise RunnerError(f"Cannot read the prompt file {prompt_file} ({exc.strerror}): write the prompt "
                          f"before building the agent's command") from None
    size = len(text.encode("utf-8"))
    if size <= limit:
        return text
    return (f"{POINTER_START} {prompt_file.resolve()} ({size} bytes). "
            f"Read all of that file first, then do exactly what it says.")


def prompt_is_pointer(argument: str, prompt_file: Path) -> bool:
    """Whether prompt_argument() sent an instruction to read the file instead of the prompt itself."""
    return argument.startswith(POINTER_START) and str(prompt_file.resolve()) in argument


def has_option(args: Sequence[str], names: Iterable[str]) -> bool:
    """Whether args already hold one of these options (as `--opt value` or `--opt=value`)."""
    wanted = tuple(names)
    return any(arg in wanted or arg.split("=", 1)[0] in wanted for arg in args)


def with_default(env: dict[str, str], key: str, value: str, environ: Mapping[str, str]) -> None:
    """Set key unless the agent note or the process environment already does."""
    if key not in env and key not in environ:
        env[key] = value


def missing_executable(config: AgentConfig, product: str, install: str,
                       environ: Mapping[str, str]) -> str | None:
    """None when config.command[0] can be run, else a reason that names the fix."""
    note = config.note_path or f"{AGENTS_DIR}/{config.name}.md"
    if not config.command:
        return f"The {config.name} agent has no command: set `command:` in {note}"
    program = config.command[0]
    if os.sep in program:
        found = os.access(program, os.X_OK) and Path(program).is_file()
    else:   # the agent runs with the note's env on top, so its PATH is the one that counts
        search = config.env.get("PATH") or environ.get("PATH", os.defpath)
        found = shutil.which(program, path=search) is not None
    if found:
        return None
    return (f"{product} is not installed: `{program}` was not found. Install it with `{install}`, "
            f"or set `command:` in {note} to the full path of the executable")


def json_events(log_text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects among the log's lines; garbage, partial and non-object lines are skipped."""
    for line in log_text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def last_plain_line(log_text: str) -> str:
    """The last non-empty line that is not a JSON event: what a CLI printed when it died before streaming."""
    for line in reversed(log_text[-20_000:].splitlines()):
        line = line.strip()
        if line and not line.startswith("{"):
            return line[:500]
    return ""


def without_events(product: str, log_text: str) -> str:
    """The error for a log whose run never reached its final event."""
    said = last_plain_line(log_text)
    return (f"{product} ended without a final event (killed, crashed or cut short)"
            + (f"; it last said: {said}" if said else "; see the agent log"))


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


# ---------------------------------------------------------------- Claude Code


class CliAgent:
    """What the real agent CLIs share: their config, the environment they are looked up in, how they report."""

    label = ""          # the product's name in messages
    install = ""        # the command that installs it

    def __init__(self, config: AgentConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.name = config.name
        self._environ = os.environ if environ is None else environ

    @staticmethod
    def read_events(events: list[dict[str, Any]]) -> AgentReport:
        raise NotImplementedError

    def report(self, log_text: str) -> AgentReport:
        report = self.read_events(list(json_events(log_text)))
        if report.is_error and not report.error:
            return replace(report, error=without_events(self.label, log_text))
        return report

    def available(self) -> str | None:
        return missing_executable(self.config, self.label, self.install, self._environ)


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
