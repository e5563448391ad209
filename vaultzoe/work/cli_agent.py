"""What the real agent CLIs (Claude Code, Codex) share: the prompt argument, option checks, the executable
lookup, reading a JSON event log, and the CliAgent base class each of them extends.

A prompt goes in argv after `--`; Linux caps one argument at 128 KiB, so a longer prompt is replaced by a
short instruction to read the prompt file.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import RunnerError
from ..layout import AGENTS_DIR
from ..protocols import AgentReport
from ..settings import AgentConfig

ARGV_PROMPT_LIMIT = 100_000          # bytes; Linux MAX_ARG_STRLEN is 131072 per argument
POINTER_START = "Your full instructions are in the file"


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


# ---------------------------------------------------------------- the base class


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
