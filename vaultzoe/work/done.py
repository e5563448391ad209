"""Definition of done, one for every forge: the repo note's `done:` list -> one CheckItem per item, plus evidence.

Pure: the forges gather the facts (GitHub API, local git); this module says which items are judged and how a
verdict is formed. Items follow the repo note's `done:` list, plus `screenshots` for tasks tagged ui; `commits`
(and `base`, when an attempt moved its base) come first whatever the list says. Each forge hands `judge_items`
a table of item judges: this module's `GITHUB_JUDGES` over `Facts`, forge.py's `LOCAL_JUDGES` over its own
facts; a known item a forge has no judge for (a local repo's screenshots) is skipped, never failed. Every
forge reports a `Judgement` as a ForgeReport, so pending / failed / passed mean the same everywhere. The AI
review verdict reads the same in both (`ai_review`). Only collaborators' reviews count (GitHub's
author_association OWNER, MEMBER or COLLABORATOR): anyone may review a public PR, and a stranger's
"changes requested" must neither block the task nor become the agent's instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..protocols import CheckItem, ForgeReport, Review

if TYPE_CHECKING:
    from .workspace import BaseMove

KNOWN_ITEMS = ("commits", "pr", "synced", "checks", "review", "screenshots")
FIRST_ITEMS = ("commits",)             # judged first by every forge, whatever the repo's done: says
NO_JUDGE = "needs GitHub: set `github:` in the repo note and GITHUB_TOKEN for vaultzoe to judge it"

# A completed check run with one of these conclusions is red; success, neutral and skipped are not.
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"})
FAILED_STATUSES = frozenset({"failure", "error"})
# mergeable_state values that mean the branch must take in its base before it can merge.
UNSYNCED_STATES = {"behind": "behind", "dirty": "conflicting with"}
# author_association values of people with write access to the repository.
TRUSTED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})

CHECK_OUTPUT_LIMIT = 6_000
LOG_EXCERPT_LINES = 60
EVIDENCE_LIMIT = 16_000

_LOG_TIMESTAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?", re.MULTILINE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)\s]+[^)]*\)|!\[[^\]]*\]\[[^\]]*\]|<img\s", re.IGNORECASE)


@dataclass(frozen=True)
class CheckRunFact:
    """One check run on the head commit (GitHub Checks API)."""

    name: str
    status: str                        # queued | in_progress | completed
    conclusion: str | None = None      # success | failure | neutral | cancelled | skipped | timed_out | ...
    summary: str = ""
    text: str = ""
    annotations: tuple[str, ...] = ()  # "path:line: [level] message"
    url: str = ""
    log: str = ""                      # an excerpt of the job's log (GitHub Actions), when it could be fetched


@dataclass(frozen=True)
class StatusFact:
    """One commit status (the older Status API: one per context)."""

    context: str
    state: str                         # success | failure | error | pending
    description: str = ""
    url: str = ""


@dataclass(frozen=True)
class ReviewFact:
    """One submitted review, in the order GitHub lists them (oldest first)."""

    author: str
    state: str                         # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    body: str = ""
    commit: str = ""                   # the head commit the review was made on
    human: bool = True                 # False for bots and vaultzoe's own AI review
    comments: tuple[str, ...] = ()     # its inline comments, "path:line: body"
    association: str = "NONE"          # GitHub's author_association: OWNER | MEMBER | COLLABORATOR | CONTRIBUTOR | ...

    @property
    def trusted(self) -> bool:
        return is_trusted(self.association)


@dataclass(frozen=True)
class PullFacts:
    number: int
    url: str
    state: str                         # open | closed
    merged: bool
    head_sha: str
    commits: int = 0
    draft: bool = False
    mergeable_state: str | None = None  # clean | behind | dirty | blocked | unstable | unknown | draft | None
    has_image: bool = False            # the body or a comment holds an image


@dataclass(frozen=True)
class Facts:
    """Everything a forge observed for one task; None or empty means not observed (yet)."""

    branch: str
    base: str
    new_commits: tuple[str, ...] | None = None   # from the worktree (submit); None: use the PR's count
    pull: PullFacts | None = None
    check_runs: tuple[CheckRunFact, ...] = ()
    statuses: tuple[StatusFact, ...] = ()
    checks_grace: bool = False         # the head is new: CI may not have reported yet
    reviews: tuple[ReviewFact, ...] = ()
    ai_review: Review | None = None    # None: no AI review (yet)
    ai_review_waiting: str = ""        # why the AI review has not run yet ("" with ai_review None: no reviewer)


@dataclass(frozen=True)
class Judgement:
    checks: tuple[CheckItem, ...]
    evidence: str = ""                 # what failed, for the next prompt
    feedback: str = ""                 # human review comments, for the next prompt
    needs_sync: bool = False

    def report(self, **fields: Any) -> ForgeReport:
        """The judgement as the ForgeReport every forge returns (PR fields and review_for given by the forge)."""
        return ForgeReport(checks=self.checks, evidence=self.evidence, feedback=self.feedback,
                           needs_sync=self.needs_sync, **fields)


@dataclass(frozen=True)
class Outcome:
    """One item's verdict, with what the next prompt should hear about it."""

    item: CheckItem
    evidence: str = ""
    feedback: str = ""
    needs_sync: bool = False


def done_items(done: Sequence[str], ui: bool) -> tuple[str, ...]:
    """The repo's items in order, de-duplicated; `screenshots` only for ui tasks, appended when not listed."""
    items: list[str] = []
    for raw in done:
        name = raw.strip().lower()
        if name and name not in items and (ui or name != "screenshots"):
            items.append(name)
    if ui and "screenshots" not in items:
        items.append("screenshots")
    return tuple(items)


def with_first(items: Sequence[str], first: Sequence[str] = FIRST_ITEMS) -> tuple[str, ...]:
    """`first` (commits, and base when it moved), then the repo's items without them."""
    return tuple(first) + tuple(name for name in items if name not in first)


def evaluate(done: Sequence[str], ui: bool, facts: Facts) -> Judgement:
    """Judge the repo's definition-of-done items against what GitHub showed."""
    return judge_items(done_items(done, ui), facts, GITHUB_JUDGES)


def judge_items(items: Sequence[str], facts: Any, judges: Mapping[str, Callable[[Any], Outcome]]) -> Judgement:
    """Judge each item with the forge's judges; evidence and feedback joined in item order."""
    outcomes = [judge(name, facts, judges) for name in items]
    return Judgement(
        checks=tuple(o.item for o in outcomes),
        evidence=clip(_join(o.evidence for o in outcomes), EVIDENCE_LIMIT),
        feedback=clip(_join(o.feedback for o in outcomes), EVIDENCE_LIMIT),
        needs_sync=any(o.needs_sync for o in outcomes),
    )


def judge(name: str, facts: Any, judges: Mapping[str, Callable[[Any], Outcome]] | None = None) -> Outcome:
    """One item; a known item the forge cannot judge is skipped as needing GitHub, an unknown one names those that exist."""
    judge_fn = (GITHUB_JUDGES if judges is None else judges).get(name)
    if judge_fn is not None:
        return judge_fn(facts)
    if name in KNOWN_ITEMS:
        return Outcome(CheckItem(name, "skipped", NO_JUDGE))
    return Outcome(CheckItem(name, "skipped", f"unknown item: use {', '.join(KNOWN_ITEMS)} in the repo note's done:"))


def review_waits(facts: Facts) -> str:
    """Why the AI review should not run yet ("" when it should): no tokens spent on a change that fails anyway."""
    checks = judge("checks", facts).item.state
    if checks in ("fail", "pending"):
        return "AI review waits for the checks"
    if judge("review", facts).item.state == "fail":
        return "AI review waits: a human asked for changes"
    return ""


def with_outcome(report: ForgeReport, outcome: Outcome) -> ForgeReport:
    """The report with one item judged again (e.g. the AI review verdict arriving after the other items)."""
    checks = tuple(outcome.item if c.name == outcome.item.name else c for c in report.checks)
    return replace(report, checks=checks, evidence=clip(_join([report.evidence, outcome.evidence]), EVIDENCE_LIMIT),
                   feedback=clip(_join([report.feedback, outcome.feedback]), EVIDENCE_LIMIT),
                   needs_sync=report.needs_sync or outcome.needs_sync)


def ai_review(review: Review | None, waiting: str = "", note: str = "", absent: str = "no AI reviewer") -> Outcome:
    """The AI review's verdict as the `review` item: block fails, pass passes, waiting is pending, else skipped."""
    if review is not None and review.verdict == "block":
        findings = "\n".join(f"- {f}" for f in review.findings)
        return Outcome(CheckItem("review", "fail", f"AI review blocked: {len(review.findings)} finding(s)"),
                       evidence=_join([f"The AI review blocked the change: {review.summary}", findings]))
    if review is None and waiting:
        return Outcome(CheckItem("review", "pending", waiting))
    if review is not None and review.verdict == "pass":
        return Outcome(CheckItem("review", "pass", "AI review passed" + note))
    reason = f"AI review skipped: {review.summary}" if review is not None else absent
    return Outcome(CheckItem("review", "skipped", _first_line(reason) + note))


def base_moved(branch: str, base: str, moves: Sequence[BaseMove]) -> Outcome:
    """The base moved while the agent ran, to a commit holding the agent's work: an attempt never merges itself."""
    where = "; ".join(f"{m.ref} {m.old[:12] or '(absent)'} -> {m.new[:12]}" for m in moves)
    evidence = (f"The base branch {base} was moved during the attempt to a commit holding this task's commits "
                f"({where}). Only a human merges a task's work: work and commit on branch {branch} only, never "
                f"update, reset or push {base}. vaultzoe did not touch {base}; the human decides whether to "
                f"reset it (e.g. `git update-ref refs/heads/{base} {moves[0].old or '<the commit before>'}`).")
    return Outcome(CheckItem("base", "fail", f"{base} moved during the run to take this task's commits"),
                   evidence=evidence)


def log_excerpt(text: str, lines: int = LOG_EXCERPT_LINES) -> str:
    """The lines of a CI job log that lead up to its last error (else its end), without timestamps."""
    rows = _LOG_TIMESTAMP.sub("", text).splitlines()
    errors = [i for i, row in enumerate(rows) if "##[error]" in row]
    end = errors[-1] + 1 if errors else len(rows)
    return "\n".join(rows[max(0, end - lines):end]).strip()


def is_trusted(association: str | None) -> bool:
    """A collaborator of the repository (author_association OWNER, MEMBER or COLLABORATOR)."""
    return (association or "").upper() in TRUSTED_ASSOCIATIONS


def has_image(text: str) -> bool:
    """A markdown image (inline or reference) or an HTML <img> tag."""
    return bool(_IMAGE.search(text or ""))


# ---------------------------------------------------------------- the items


def _commits(facts: Facts) -> Outcome:
    count = len(facts.new_commits) if facts.new_commits is not None else (facts.pull.commits if facts.pull else 0)
    if count:
        return Outcome(CheckItem("commits", "pass", f"{count} new"))
    return Outcome(CheckItem("commits", "fail", f"no new commits on {facts.branch}"),
                    evidence=f"The attempt left no new commits on branch {facts.branch}: "
                             f"commit the changes (git add, git commit) before finishing.")


def _pr(facts: Facts) -> Outcome:
    pull = facts.pull
    if pull is None:
        return Outcome(CheckItem("pr", "fail", f"no pull request for {facts.branch}"),
                        evidence=f"No pull request exists for branch {facts.branch}.")
    if pull.merged:
        return Outcome(CheckItem("pr", "pass", f"#{pull.number} merged"))
    if pull.state != "open":
        return Outcome(CheckItem("pr", "fail", f"#{pull.number} closed without merge"),
                        evidence=f"Pull request #{pull.number} was closed without being merged.")
    return Outcome(CheckItem("pr", "pass", f"#{pull.number} open" + (" (draft)" if pull.draft else "")))


def _synced(facts: Facts) -> Outcome:
    pull = facts.pull
    if pull is None:
        return Outcome(CheckItem("synced", "pending", "no pull request yet"))
    if pull.merged:
        return Outcome(CheckItem("synced", "pass", "merged"))
    state = (pull.mergeable_state or "unknown").lower()
    if state in UNSYNCED_STATES:
        relation = UNSYNCED_STATES[state]
        return Outcome(CheckItem("synced", "fail", f"{relation} {facts.base}"), needs_sync=True,
                        evidence=f"Branch {facts.branch} is {relation} {facts.base}: merge (or rebase onto) the latest "
                                 f"origin/{facts.base}, resolve any conflicts, re-run the tests, and push.")
    if state == "unknown":
        return Outcome(CheckItem("synced", "pending", "GitHub is still computing mergeability"))
    return Outcome(CheckItem("synced", "pass", state))


def _checks(facts: Facts) -> Outcome:
    failing_runs = [r for r in facts.check_runs if r.status == "completed" and r.conclusion in FAILED_CONCLUSIONS]
    failing_statuses = [s for s in facts.statuses if s.state in FAILED_STATUSES]
    if failing_runs or failing_statuses:
        names = [r.name for r in failing_runs] + [s.context for s in failing_statuses]
        evidence = _join([_run_evidence(r) for r in failing_runs] + [_status_evidence(s) for s in failing_statuses])
        return Outcome(CheckItem("checks", "fail", f"{len(names)} failing: {', '.join(names)}"),
                        evidence=f"CI failed on {facts.branch}:\n\n{evidence}")
    running = [r.name for r in facts.check_runs if r.status != "completed"]
    running += [s.context for s in facts.statuses if s.state == "pending"]
    if running:
        return Outcome(CheckItem("checks", "pending", f"{len(running)} running: {', '.join(running)}"))
    total = len(facts.check_runs) + len(facts.statuses)
    if total:
        return Outcome(CheckItem("checks", "pass", f"{total} passed"))
    if facts.checks_grace:
        return Outcome(CheckItem("checks", "pending", "waiting for CI to report"))
    return Outcome(CheckItem("checks", "skipped", "no CI checks reported"))


def _review(facts: Facts) -> Outcome:
    head = facts.pull.head_sha if facts.pull else ""
    latest = _latest_human_reviews(facts.reviews)
    blocking = [r for r in latest if r.state == "CHANGES_REQUESTED" and (not r.commit or r.commit == head)]
    if blocking:
        who = ", ".join(r.author for r in blocking)
        return Outcome(CheckItem("review", "fail", f"changes requested by {who}"),
                        feedback=_join(_review_feedback(r) for r in blocking))
    approved = [r.author for r in latest if r.state == "APPROVED" and (not r.commit or r.commit == head)]
    if approved:
        return Outcome(CheckItem("review", "pass", f"approved by {', '.join(approved)}"))
    return _ai_review(facts, stale=[r.author for r in latest if r.state == "CHANGES_REQUESTED"])


def _ai_review(facts: Facts, stale: list[str]) -> Outcome:
    note = f"; changes requested by {', '.join(stale)} on an earlier commit await their re-review" if stale else ""
    return ai_review(facts.ai_review, facts.ai_review_waiting, note)


def _screenshots(facts: Facts) -> Outcome:
    if facts.pull is not None and facts.pull.has_image:
        return Outcome(CheckItem("screenshots", "pass", "image in the PR"))
    return Outcome(CheckItem("screenshots", "fail", "no screenshot in the PR"),
                    evidence="This task changes the UI: attach screenshots of the change to the pull request, as a "
                             "markdown image ![what it shows](url) in the PR description or a PR comment.")


GITHUB_JUDGES: dict[str, Callable[[Facts], Outcome]] = {
    "commits": _commits, "pr": _pr, "synced": _synced, "checks": _checks,
    "review": _review, "screenshots": _screenshots,
}


# ---------------------------------------------------------------- helpers


def _latest_human_reviews(reviews: Sequence[ReviewFact]) -> list[ReviewFact]:
    """Each collaborator's standing review; a comment-only review does not change where they stand."""
    latest: dict[str, ReviewFact] = {}
    for review in reviews:
        if review.human and review.trusted and review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.author] = review
    return [r for r in latest.values() if r.state != "DISMISSED"]


def _review_feedback(review: ReviewFact) -> str:
    comments = "\n".join(f"- {c}" for c in review.comments)
    return _join([f"{review.author} requested changes:", review.body.strip(), comments])


def _run_evidence(run: CheckRunFact) -> str:
    annotations = "\n".join(run.annotations)
    parts = [f"Check {run.name!r}: {run.conclusion}", run.summary.strip(), run.text.strip(),
             f"Annotations:\n{annotations}" if annotations else "", f"Log excerpt:\n{run.log}" if run.log else "",
             f"Details: {run.url}" if run.url else ""]
    return clip(_join(parts), CHECK_OUTPUT_LIMIT)


def _status_evidence(status: StatusFact) -> str:
    return _join([f"Status {status.context!r}: {status.state}", status.description.strip(),
                  f"Details: {status.url}" if status.url else ""])


def _join(parts) -> str:
    return "\n\n".join(p for p in parts if p)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def clip(text: str, limit: int) -> str:
    """Keep the head and the tail (errors sit at either end of CI output)."""
    if len(text) <= limit:
        return text
    half = (limit - 40) // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"
