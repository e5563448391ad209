"""What the vault shows: task keys, status block, registry, attempt notes, inbox (renderers pure; writes via the store)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from ..brain.redact import redact
from ..layout import ATTEMPTS_DIR, INBOX_NOTE, REGISTRY_NOTE
from ..protocols import AgentReport, Plan
from ..text import one_line
from ..vault.blocks import get_block, replace_block
from ..vault.edit import set_frontmatter
from ..vault.store import VaultStore
from .model import Attempt, Status, TaskState
from .registry import CHECK_MARKS, Row, render_problems, render_registry, wikilink

INBOX_MARKER = "<!-- vaultzoe:inbox -->"
STATUS_BLOCK = "status"
ATTEMPT_BLOCK = "attempt"
REGISTRY_BLOCK = "registry"

CALLOUTS = {
    Status.QUEUED: "todo", Status.RUNNING: "info", Status.CHECKING: "info", Status.REVIEW: "success",
    Status.DONE: "success", Status.FAILED: "failure", Status.BLOCKED: "warning", Status.CANCELLED: "quote",
    Status.DRAFT: "note", Status.PROPOSED: "question",
}

NEXT_STEP = {
    Status.QUEUED: "waits for a free agent slot",
    Status.RUNNING: "the agent is working; edit `## Steer` to redirect it, or set `status: cancelled` to stop it",
    Status.CHECKING: "waiting for the checks and the pull request",
    Status.REVIEW: "ready for your review; merge the branch or PR to finish, or write `## Feedback` and set `status: queued` to retry",
    Status.DONE: "nothing: merged",
    Status.FAILED: "read the last attempt, write `## Feedback`, then set `status: queued` to try again",
    Status.BLOCKED: "fix the problem above, then set `status: queued`",
    Status.CANCELLED: "nothing; set `status: queued` to start again",
}


def attempt_note_path(state: TaskState, number: int) -> str:
    return f"{ATTEMPTS_DIR}/{state.id} attempt {number}.md"


def note_link(path: str) -> str:
    return wikilink(path)


# ---------------------------------------------------------------- task note


def task_keys(state: TaskState) -> dict[str, Any]:
    """The frontmatter keys vaultzoe owns in a task note."""
    return {
        "status": state.status.value, "id": state.id, "attempt": len(state.attempts) or None,
        "branch": state.branch or None, "pr": state.pr_url or None, "updated": obsidian_time(state.updated),
    }


def obsidian_time(stamp: str | None) -> datetime | str | None:
    """A vaultzoe timestamp ("2026-11-29 08:02:24") as the value of a Date & time property, which
    set_frontmatter writes as Obsidian does (unquoted 2026-11-29T08:02:24); text that is no timestamp stays text."""
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).replace(microsecond=0)
    except ValueError:
        return stamp


def status_callout(state: TaskState) -> str:
    """The callout at the top of a task note's body: where it stands and what happens next."""
    kind = CALLOUTS.get(state.status, "info")
    lines = [f"> [!{kind}] vaultzoe: {state.status.value}"]
    if state.reason:
        lines.append(f"> {one_line(state.reason, 300)}")
    if state.waiting and state.status == Status.QUEUED:
        lines.append(f"> Waiting: {one_line(state.waiting)}")
    if state.attempts:
        links = ", ".join(f"{wikilink(a.note, f'attempt {a.number}')} ({a.outcome})" for a in state.attempts)
        lines.append(f"> Attempts: {links}")
    if state.pr_url:
        lines.append(f"> PR: {state.pr_url}")
    elif state.branch:
        lines.append(f"> Branch: `{state.branch}`")
    if state.checks:
        lines.append("> Checks: " + ", ".join(f"{n} {CHECK_MARKS.get(s, s)}" for n, s, _ in state.checks))
    lines.append(f"> Next: {NEXT_STEP.get(state.status, '')}")
    return "\n".join(lines)


def update_task_note(text: str, state: TaskState) -> str:
    """Set our frontmatter keys and the status block; every other byte stays the human's."""
    with_keys = set_frontmatter(text, task_keys(state))
    return replace_block(with_keys, STATUS_BLOCK, "\n" + status_callout(state) + "\n", first=True)


# ---------------------------------------------------------------- attempt notes


@dataclass(frozen=True)
class AttemptRecord:
    """Everything an attempt note shows."""

    state: TaskState
    attempt: Attempt
    plan: Plan | None = None
    context: tuple[tuple[str, str, int], ...] = ()   # (vault path, mode, tokens)
    left_out: tuple[tuple[str, str], ...] = ()
    budget: int = 0
    report: AgentReport | None = None
    duration_s: float | None = None


def fence(text: str, info: str = "text") -> str:
    """A fenced block that the text itself cannot close."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * max(4, longest + 1)
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def attempt_frontmatter(rec: AttemptRecord) -> dict[str, Any]:
    a = rec.attempt
    return {
        "task": f"[[{rec.state.path[:-3] if rec.state.path.endswith('.md') else rec.state.path}]]",
        "task_id": rec.state.id, "attempt": a.number, "agent": a.agent, "model": a.model,
        "outcome": a.outcome, "started": obsidian_time(a.started), "ended": obsidian_time(a.ended), "exit_code": a.exit_code,
        "cost_usd": a.cost_usd, "tags": ["vaultzoe/attempt"],
    }


def _report_lines(rec: AttemptRecord) -> list[str]:
    r = rec.report
    if r is None:
        return ["(the agent has not reported yet)"]
    lines = [f"- Turns: {r.turns}", f"- Session: `{r.session_id}`" if r.session_id else "- Session: none"]
    if rec.duration_s is not None:
        lines.append(f"- Duration: {rec.duration_s:.0f} s")
    if r.cost_usd is not None:
        lines.append(f"- Cost: ${r.cost_usd:.4f}")
    if r.input_tokens or r.output_tokens:
        lines.append(f"- Tokens: {r.input_tokens} in, {r.output_tokens} out")
    if r.commands:
        lines.append("- Commands run:")
        lines += [f"    - `{one_line(redact(c), 200).replace('`', chr(39))}`" for c in r.commands[:50]]
    if r.files_changed:
        lines.append("- Files changed: " + ", ".join(f"`{f}`" for f in r.files_changed[:100]))
    if r.is_error:
        lines.append(f"- Error: {one_line(redact(r.error), 500)}")
    if r.final_message:
        lines += ["- Final message:", "", fence(redact(r.final_message)[-4000:])]   # again: old task memory may hold raw text
    return lines


def _context_lines(rec: AttemptRecord) -> list[str]:
    total = rec.budget or sum(t for _, _, t in rec.context) or 1
    lines = [f"Budget: {rec.budget} tokens." if rec.budget else ""]
    for path, mode, tokens in rec.context:
        label = wikilink(path) if path.lower().endswith(".md") else path
        lines.append(f"- {label}: {mode}, {tokens} tokens ({100 * tokens / total:.0f}%)")
    if rec.left_out:
        lines.append("")
        lines.append("Left out:")
        lines += [f"- {wikilink(p) if p.endswith('.md') else p}: {why}" for p, why in rec.left_out[:40]]
    return [ln for ln in lines if ln is not None]


def attempt_body(rec: AttemptRecord) -> str:
    a, s = rec.attempt, rec.state
    lines = [
        f"# {s.title}: attempt {a.number}", "",
        f"Task: {wikilink(s.path)} · Agent: **{a.agent}**" + (f" ({a.model})" if a.model else "")
        + f" · Outcome: **{a.outcome}**", "",
    ]
    if a.reason:
        lines += [f"Why this agent: {a.reason}", ""]
    if a.planner:
        lines += [f"Planner: {a.planner}", ""]
    lines += ["## What the agent did", *_report_lines(rec), ""]
    if a.exit_code is not None or a.evidence or s.checks:
        lines += ["## Result", f"- Exit code: {a.exit_code}"]
        lines += [f"- {n}: {CHECK_MARKS.get(st, st)} {one_line(d, 200)}" for n, st, d in s.checks]
        if a.evidence:
            lines += ["", "Evidence:", "", fence(redact(a.evidence)[-6000:])]
        lines.append("")
    if a.steers:
        lines += ["## Steering", *[f"- {one_line(m, 500)}" for m in a.steers], ""]
    if rec.context or rec.left_out:
        lines += ["## Context used", *_context_lines(rec), ""]
    if rec.plan and rec.plan.log:
        lines += ["## Planner log", *[f"- {one_line(x, 500)}" for x in rec.plan.log], ""]
    if rec.plan:
        lines += ["## Prompt", "", *_prompt_lines(rec.plan.prompt, a.run_dir), ""]
    return "\n".join(lines)


PROMPT_SHOWN_CHARS = 20_000


def _prompt_lines(prompt: str, run_dir: str) -> list[str]:
    """The prompt as sent; a long one only begins here and points at the run's copy (attempt notes stay small)."""
    if len(prompt) <= PROMPT_SHOWN_CHARS:
        return [fence(prompt, "markdown")]
    return [fence(prompt[:PROMPT_SHOWN_CHARS], "markdown"), "",
            f"(the first {PROMPT_SHOWN_CHARS:,} of {len(prompt):,} characters; the whole prompt is in "
            f"`{run_dir}/prompt.md`)"]


def render_attempt(text: str, rec: AttemptRecord) -> str:
    """Create or update an attempt note: our frontmatter keys and our block; anything the human added stays."""
    fm = {k: v for k, v in attempt_frontmatter(rec).items()}
    body = attempt_body(rec)
    if not text:
        text = "\n"
    updated = set_frontmatter(text, fm)
    if rec.plan is None:
        old = get_block(updated, ATTEMPT_BLOCK) or ""
        prompt = old[old.find("## Prompt"):] if "## Prompt" in old else ""
        if prompt:
            body = body.rstrip("\n") + "\n\n" + prompt.strip("\n") + "\n"
    return replace_block(updated, ATTEMPT_BLOCK, "\n" + body.rstrip("\n") + "\n")


# ---------------------------------------------------------------- registry and inbox


def registry_row(state: TaskState) -> Row:
    current = state.current
    return Row(
        path=state.path, title=state.title, status=state.status.value, repo=state.repo,
        agent=current.agent if current else "", attempt=len(state.attempts), branch=state.branch,
        pr=state.pr_url or "", checks=state.checks, updated=state.updated, cost_usd=state.cost_usd,
        note=state.waiting or state.reason,
    )


def render_registry_note(text: str, rows: Iterable[Row],
                         problems: Iterable[tuple[str, str, int | None]] = ()) -> str:
    table = render_registry(list(rows))
    listed = render_problems(list(problems))
    return replace_block(text or "# Registry\n", REGISTRY_BLOCK, "\n" + table + ("\n\n" + listed if listed else "") + "\n")


def inbox_entry(when: str, state: TaskState, message: str) -> str:
    attempt = state.current
    link = f" · {wikilink(attempt.note, f'attempt {attempt.number}')}" if attempt else ""
    return f"- [ ] {when} **{state.status.value}**: {wikilink(state.path, state.title)}: {one_line(message, 300)}{link}"


def add_inbox_entry(text: str, entry: str) -> str:
    """Newest first, right under our marker; the human may tick or delete older entries freely."""
    if INBOX_MARKER not in text:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "# Inbox\n\n") + INBOX_MARKER + "\n"
    head, _, tail = text.partition(INBOX_MARKER)
    newline = "\r\n" if "\r\n" in text else "\n"
    rest = tail if tail.startswith(("\n", "\r\n")) else newline + tail
    return head + INBOX_MARKER + newline + entry + rest


class Journal:
    """Writes what the vault shows, always through the store (compare-before-write, atomic)."""

    def __init__(self, store: VaultStore):
        self.store = store
        self.touched: set[str] = set()   # paths written since the last take_touched(), for the index
        self._task_texts: dict[str, tuple[str, dict, str, str]] = {}   # path -> (text read, keys, callout, made)

    def edit(self, path: str, change) -> str:
        """store.edit; the path counts as touched only when the change had something to write."""
        changed = False

        def tracked(text: str) -> str:
            nonlocal changed
            result = change(text)
            changed = changed or result != text
            return result
        try:
            return self.store.edit(path, tracked)
        finally:
            if changed:      # an unchanged note needs no index update: a busy pass saves every task
                self.touched.add(path)

    def take_touched(self) -> set[str]:
        touched, self.touched = self.touched, set()
        return touched

    def task_note(self, state: TaskState) -> None:
        self.edit(state.path, lambda text: self._task_text(text, state))

    def _task_text(self, text: str, state: TaskState) -> str:
        """update_task_note, remembered per note: the same text, keys and status block make the same note (YAML
        is slow, and most of a task's state never shows in its note)."""
        keys, callout = task_keys(state), status_callout(state)
        seen = self._task_texts.get(state.path)
        if seen is not None and seen[:3] == (text, keys, callout):
            return seen[3]
        result = update_task_note(text, state)
        self._task_texts[state.path] = (text, keys, callout, result)
        return result

    def shows(self, state: TaskState, text: str) -> bool:
        """Whether `text` is a task note this journal found (or made) up to date for `state`: nothing to write."""
        seen = self._task_texts.get(state.path)
        return (seen is not None and seen[0] == seen[3] == text and state.note_status == state.status.value
                and seen[1:3] == (task_keys(state), status_callout(state)))

    def attempt(self, rec: AttemptRecord) -> None:
        self.edit(rec.attempt.note, lambda text: render_attempt(text, rec))

    def registry(self, rows: Iterable[Row], problems: Iterable[tuple[str, str, int | None]] = ()) -> None:
        rows, problems = list(rows), list(problems)
        self.edit(REGISTRY_NOTE, lambda text: render_registry_note(text, rows, problems))

    def inbox(self, when: str, state: TaskState, message: str) -> None:
        entry = inbox_entry(when, state, message)
        self.edit(INBOX_NOTE, lambda text: add_inbox_entry(text, entry))

    def inbox_line(self, when: str, message: str) -> None:
        """An inbox entry about vaultzoe itself or a note it cannot run (not about one task's status)."""
        entry = f"- [ ] {when} {message}"
        self.edit(INBOX_NOTE, lambda text: add_inbox_entry(text, entry))
