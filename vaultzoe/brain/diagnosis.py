"""Failure diagnosis: what to fix first after a failed attempt, from its evidence (pure, deterministic heuristics)."""

from __future__ import annotations

import re

from ..protocols import AttemptEvidence
from .redact import redact

__all__ = ["diagnose", "tail"]

_FAILURE_LINE = re.compile(r"(FAIL|ERROR|Error|error:|Exception|Traceback|assert|expected|✗|failed|panic)")
_STRONG_FAILURE = re.compile(r"^(FAIL|FAILED|ERROR|E  |✗|panic:)|\b\w*(Error|Exception):|\bassert(ion)?\b", re.I)


def tail(text: str, lines: int, chars: int) -> str:
    """The last `lines` lines of text, at most `chars` characters, redacted (before the cut, so no half secret)."""
    kept = redact("\n".join(text.rstrip().splitlines()[-lines:]))
    return kept[-chars:]


def diagnose(evidence: AttemptEvidence, feedback: str = "") -> list[str]:
    """What to fix first, one line each, from an attempt's evidence (deterministic heuristics)."""
    fixes = []
    if feedback.strip():
        fixes.append("Do what the human's feedback below asks; it overrides your earlier reading of the task.")
    if evidence.review_comments.strip():
        fixes.append("Address every review comment below.")
    failing = _failure_lines(evidence.check_output)
    if failing:
        shown = "`; `".join(failing[:2])
        fixes.append(f"The checks failed (`{shown}`): reproduce with the check command, fix the cause, "
                     "run the checks again.")
    state = f"{evidence.outcome} {evidence.log_tail[-500:]}".lower()
    if "timed out" in state or "timeout" in state:
        fixes.append("The attempt ran out of time: keep to the acceptance criteria and commit early.")
    if "no commit" in state or "nothing to commit" in state:
        fixes.append("No commits were made: commit your changes (git add + git commit) before you stop.")
    if evidence.exit_code not in (0, None) and not failing:
        last = _crash_cause(evidence.log_tail)
        cause = f" (`{last}`)" if last else ""
        fixes.append(f"The agent exited with code {evidence.exit_code}{cause}: find out why before changing code.")
    return fixes or [f"Attempt {evidence.attempt} did not meet the definition of done: read the evidence below "
                     "and fix its cause before anything else."]


def _failure_lines(text: str, limit: int = 5) -> list[str]:
    """Lines that say what failed: test failures, assertions and errors first, other "failed" lines after."""
    strong: list[str] = []
    weak: list[str] = []
    for line in text.splitlines():
        clean = redact(line.strip())[:200]
        if not clean or clean in strong or clean in weak:
            continue
        if _STRONG_FAILURE.search(clean):
            strong.append(clean)
        elif _FAILURE_LINE.search(clean):
            weak.append(clean)
    return (strong + weak)[:limit]


def _crash_cause(log: str) -> str:
    """The last error line of a log (a traceback ends with the exception), else its last "failed" line."""
    lines = [redact(line.strip())[:200] for line in log.splitlines()]
    strong = [line for line in lines if line and _STRONG_FAILURE.search(line)]
    weak = [line for line in lines if line and _FAILURE_LINE.search(line)]
    return (strong or weak or [""])[-1]
