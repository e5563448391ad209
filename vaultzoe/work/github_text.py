"""What vaultzoe writes on GitHub (PR title and body, AI review) and the markers it reads back (pure).

Everything written is redacted first (an API key in a task's goal or the agent's final message never reaches
GitHub), and nothing names the vault or the note's path: an obsidian:// link would reveal both. A private
task's PR says only its title and that the details stay in the vault. A marker counts only when vaultzoe's
own login wrote it: anyone can paste `<!-- vaultzoe:review ... -->` into a review.
"""

from __future__ import annotations

import re

from ..brain.redact import redact
from ..protocols import ForgeJob, Review
from .done import ReviewFact, clip

TASK_MARKER = "<!-- vaultzoe:task={task_id} -->"
REVIEW_MARKER = "<!-- vaultzoe:review sha={sha} verdict={verdict} -->"
REVIEW_MARKER_RE = re.compile(r"<!-- vaultzoe:review sha=([0-9a-f]+) verdict=(pass|block) -->")
PR_BODY_LIMIT = 60_000          # GitHub refuses bodies over 65,536 characters
PR_TITLE_LIMIT = 256
SUMMARY_LIMIT = 8_000
PRIVATE_LINE = "This task is private: its details stay in the vault."


def pr_title(job: ForgeJob) -> str:
    """The task's title, redacted; the branch name when it has none."""
    return redact(job.title.strip())[:PR_TITLE_LIMIT] or job.branch


def pr_body(job: ForgeJob) -> str:
    """The PR description: the task, its acceptance criteria, what the agent did, a hidden marker; all redacted."""
    if job.private:
        parts = [f"**{pr_title(job)}**", PRIVATE_LINE]
    else:
        parts = [
            job.summary.strip(),
            f"## Acceptance criteria\n\n{job.acceptance.strip()}" if job.acceptance.strip() else "",
            f"## What the agent did\n\n{clip(job.attempt_summary.strip(), SUMMARY_LIMIT)}"
            if job.attempt_summary.strip() else "",
        ]
    parts.append(f"_Opened by vaultzoe for task {job.task_id}._")
    body = clip(redact("\n\n".join(p for p in parts if p)), PR_BODY_LIMIT)
    return f"{body}\n\n{TASK_MARKER.format(task_id=job.task_id)}\n"


def review_body(review: Review, sha: str) -> str:
    """The AI review as posted: verdict, summary, findings (redacted), and the marker that makes it idempotent."""
    findings = "\n".join(f"- {f}" for f in review.findings)
    parts = [f"**vaultzoe AI review: {review.verdict}** (commit {sha[:12]})", redact(review.summary.strip()),
             redact(findings), REVIEW_MARKER.format(sha=sha, verdict=review.verdict)]
    return "\n\n".join(p for p in parts if p)


def is_own_review(body: str, author: str, own_login: str) -> bool:
    """A review carrying vaultzoe's marker, written by the token's own login."""
    return bool(own_login) and author == own_login and REVIEW_MARKER_RE.search(body or "") is not None


def posted_review(reviews: tuple[ReviewFact, ...], sha: str, own_login: str) -> Review | None:
    """The AI review vaultzoe itself already posted for this head commit, if any."""
    for review in reviews:
        match = REVIEW_MARKER_RE.search(review.body)
        if match and match.group(1) == sha and is_own_review(review.body, review.author, own_login):
            summary = REVIEW_MARKER_RE.sub("", review.body).strip()
            summary = re.sub(r"^\*\*vaultzoe AI review: \w+\*\*[^\n]*\n*", "", summary)
            return Review(match.group(2), summary)   # type: ignore[arg-type]
    return None
