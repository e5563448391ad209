"""Forge: the local forge (bare remote + local check command) and the table that picks a forge.

    LocalForge(workspace: Workspace) implements protocols.Forge (name "local")
        submit(job): items "commits" (new commits on the branch since job.base_commit), "checks" (repo.check
        run in the worktree, argv, output kept in job.log_dir/check.log; no check command -> skipped),
        then pushes the branch to origin when the repo has one. evidence = check output tail / "no commits".
        observe(job): merged into base -> merged=True; otherwise the last judgement.
    make_forge(settings, repo, environ, workspace) -> Forge   "github" when settings.forge is github, or auto and
        repo.github is set and GITHUB_TOKEN/GH_TOKEN present; else local.

The items are the repo note's `done:` list, judged as done.py says (commits first; LOCAL_JUDGES):
"synced" (the branch holds base's tip), "checks" (run only when listed), "pr" (pushed to origin, or the
local branch when there is no origin; a refused push is a failed "pr" item, listed or not, never an
exception), "review" (the AI review verdict handed in as job.review for the commit the report's review_for
named, recorded with the judgement; human reviews need GitHub), "screenshots" skipped as needing GitHub.
Without new commits, checks and push are skipped. Changes the agent
left uncommitted are never committed for it, only named in the evidence. The judgement is kept in
job.log_dir/forge.json with where the base and the branch stood then; observe() re-judges when none is kept.
The agent's worktree shares refs with the user's clone, so "merged" is never read from a base the agent could
have moved: submit() fails a "base" item when the base moved during the run (since job.refs_at_start, else
since the fork point) to take the branch's commits, and vaultzoe leaves that base as it is; observe() calls
the task merged only when a base ref moved after the judgement and holds the branch's tip (a human merged). make_forge takes an optional planner for
the GitHub forge, and raises TaskBlocked when `forge: github` lacks a token or a `github:` repo. The GitHub
forge's patience (retries, backoff, longest rate-limit wait, request spacing, CI grace) comes from
VAULTZOE_GITHUB_* variables (GitHubPolicy.from_environ: TRIES, BACKOFF_S, MAX_WAIT_S, SECONDARY_WAIT_S,
TIMEOUT_S, REQUEST_SPACING_S, WRITE_SPACING_S, CHECKS_GRACE_S).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..brain.redact import redact
from ..errors import ForgeError, TaskBlocked, WorkspaceError
from ..layout import SETTINGS_NOTE
from ..protocols import CheckItem, Forge, ForgeJob, ForgeReport, Review
from ..settings import DEFAULT_DONE, RepoConfig, Settings
from . import done
from .commands import Completed, run_logged
from .workspace import BaseMove, Workspace

FORGES: dict[str, str] = {
    "local": "vaultzoe.work.forge:LocalForge",
    "github": "vaultzoe.work.github:GitHubForge",
}
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
DEFAULT_GITHUB_API = "https://api.github.com"

CHECK_LOG = "check.log"
REPORT_FILE = "forge.json"
JUDGED_REFS = "judged_refs"          # forge.json key: Workspace.record_refs() at the judgement
CHECK_TAIL_BYTES = 4000
LISTED_FILES = 20


# ---------------------------------------------------------------- what the local forge saw, and its judges (pure)


@dataclass(frozen=True)
class LocalFacts:
    """What submit() gathered from git and the check command; None means not looked at."""

    branch: str
    base: str
    commits: tuple[str, ...]
    uncommitted: tuple[str, ...] = ()
    behind: int | None = None
    check_command: tuple[str, ...] = ()
    check: Completed | None = None
    check_timeout_s: float = 0
    pushed: bool | None = None          # True: pushed to origin; False: no origin; None: not tried
    push_error: str = ""
    not_pushed_because: str = ""
    tampered: tuple[BaseMove, ...] = ()  # base refs moved during the run to take the branch's commits
    tip: str = ""                       # the branch's head commit (looked up only when `review` is listed)
    review: Review | None = None        # the AI review verdict given for that commit


def judge_local(facts: LocalFacts, done_list: Sequence[str] = DEFAULT_DONE, ui: bool = False) -> ForgeReport:
    """The repo's definition-of-done items judged from local facts, with evidence for the next prompt."""
    items = local_items(facts, done_list, ui)
    judgement = done.judge_items(items, facts, LOCAL_JUDGES)
    return judgement.report(review_for=_review_wanted(facts, judgement))


def local_items(facts: LocalFacts, done_list: Sequence[str], ui: bool) -> tuple[str, ...]:
    """commits (and base when it moved) first, then the repo's items; a refused push is always shown as `pr`."""
    items = done.with_first(done.done_items(done_list, ui), ("commits", "base") if facts.tampered else ("commits",))
    return items + ("pr",) if facts.push_error and "pr" not in items else items


def _review_wanted(facts: LocalFacts, judgement: done.Judgement) -> str:
    """The commit to hand the AI reviewer: listed, no verdict yet, and nothing else failed (no tokens on a red change)."""
    names = [c.name for c in judgement.checks]
    others_ok = all(c.state in ("pass", "skipped") for c in judgement.checks if c.name != "review")
    return facts.tip if "review" in names and facts.review is None and others_ok else ""


def _commits(facts: LocalFacts) -> done.Outcome:
    left = _uncommitted_note(facts.uncommitted)
    if facts.commits:
        return done.Outcome(CheckItem("commits", "pass", f"{len(facts.commits)} new"), evidence=left)
    evidence = (f"The agent made no commits on branch {facts.branch}: commit the changes "
                f"(git add, git commit) before finishing.")
    return done.Outcome(CheckItem("commits", "fail", f"no new commits on {facts.branch}"),
                        evidence="\n".join(part for part in (evidence, left) if part))


def _uncommitted_note(lines: tuple[str, ...]) -> str:
    if not lines:
        return ""
    shown = ", ".join(line[3:] for line in lines[:LISTED_FILES])
    more = f" and {len(lines) - LISTED_FILES} more" if len(lines) > LISTED_FILES else ""
    return (f"Uncommitted changes left in the worktree (vaultzoe does not commit them for the agent): "
            f"{shown}{more}.")


def _base(facts: LocalFacts) -> done.Outcome:
    if facts.tampered:
        return done.base_moved(facts.branch, facts.base, facts.tampered)
    return done.Outcome(CheckItem("base", "pass", f"{facts.base} did not take this task's commits"))


def _synced(facts: LocalFacts) -> done.Outcome:
    if facts.behind is None:
        return done.Outcome(CheckItem("synced", "skipped", "not looked at"))
    if not facts.behind:
        return done.Outcome(CheckItem("synced", "pass", f"up to date with {facts.base}"))
    return done.Outcome(CheckItem("synced", "fail", f"{facts.behind} commits behind {facts.base}"), needs_sync=True,
                        evidence=f"Branch {facts.branch} is {facts.behind} commits behind {facts.base}: merge (or "
                                 f"rebase onto) the latest {facts.base}, resolve any conflicts and run the checks again.")


def _checks(facts: LocalFacts) -> done.Outcome:
    if not facts.check_command:
        return done.Outcome(CheckItem("checks", "skipped", "no `check:` command in the repo note"))
    command = " ".join(facts.check_command)
    ran = facts.check
    if ran is None:
        return done.Outcome(CheckItem("checks", "skipped", "not run: no new commits"))
    if ran.ok:
        return done.Outcome(CheckItem("checks", "pass", f"`{command}` passed"))
    if ran.error:
        detail = f"`{command}` could not start ({ran.error}): install it or fix `check:` in the repo note"
        return done.Outcome(CheckItem("checks", "fail", detail), evidence=f"The check {detail}.")
    how = (f"timed out after {facts.check_timeout_s:.0f}s" if ran.timed_out
           else f"failed with exit code {ran.exit_code}")
    return done.Outcome(CheckItem("checks", "fail", f"`{command}` {how}"),
                        evidence=f"The check `{command}` {how} in the worktree. The end of its output:\n\n"
                                 f"{ran.output_tail.strip()}")


def _pr(facts: LocalFacts) -> done.Outcome:
    if facts.push_error:
        return done.Outcome(CheckItem("pr", "fail", f"push refused: {facts.push_error}"),
                            evidence=f"Pushing branch {facts.branch} to origin failed: {facts.push_error}")
    if facts.pushed is None:
        return done.Outcome(CheckItem("pr", "skipped", f"not pushed: {facts.not_pushed_because}"))
    if facts.pushed:
        return done.Outcome(CheckItem("pr", "pass", f"pushed {facts.branch} to origin"))
    return done.Outcome(CheckItem("pr", "pass", f"local branch {facts.branch} (the repo has no origin)"))


def _review(facts: LocalFacts) -> done.Outcome:
    return _ai_review(facts.review)


def _ai_review(review: Review | None) -> done.Outcome:
    """The AI review verdict handed in by the orchestrator; human reviews need GitHub."""
    return done.ai_review(review, absent="no AI review given (human reviews need GitHub)")


# The local forge's judges; screenshots (which live in a PR) have none, so they are skipped as needing GitHub.
LOCAL_JUDGES: dict[str, Callable[[LocalFacts], done.Outcome]] = {
    "commits": _commits, "base": _base, "synced": _synced, "checks": _checks, "pr": _pr, "review": _review,
}
BEFORE_PUSH = ("commits", "base", "synced", "checks")    # a failure here keeps the branch off origin


# ---------------------------------------------------------------- the local forge (I/O)


class LocalForge:
    """Judges an attempt with local git and the repo's check command; publishes by pushing to origin."""

    name = "local"

    def __init__(self, workspace: Workspace, check_timeout_s: float = 1800.0) -> None:
        self.workspace = workspace
        self.check_timeout_s = check_timeout_s

    def submit(self, job: ForgeJob) -> ForgeReport:
        """Judge the attempt that just ended (commits, base, synced, checks), then push when nothing failed."""
        refs = self.workspace.record_refs(job.repo, job.branch, job.base)
        items = done.done_items(job.repo.done, job.ui)
        facts = self._facts(job, refs, items)
        if facts.commits:
            facts = replace(facts, check=self._run_check(job) if "checks" in items else None)
            facts = self._publish(job, facts)
        else:
            facts = replace(facts, not_pushed_because="no new commits")
        report = judge_local(facts, job.repo.done, job.ui)
        save_report(job.log_dir, report, refs)
        return report

    def observe(self, job: ForgeJob) -> ForgeReport:
        """Merged by a human after the judgement -> merged; otherwise the kept judgement (judged when none),
        with the AI review verdict the job hands in recorded."""
        kept, judged_refs = load_judgement(job.log_dir)
        if kept is None:
            return self.submit(job)
        now = self.workspace.seen_refs(job.repo, job.branch, job.base)   # one git call per repo per pass
        kept = self._with_review(job, kept, judged_refs or now)
        if not judged_refs:     # judged before vaultzoe kept refs: from now on only a later move counts
            save_report(job.log_dir, kept, now)
            return kept
        moves = self.workspace.base_moves(job.repo, job.branch, job.base, job.base_commit, judged_refs, now)
        if any(move.holds_tip for move in moves):
            return ForgeReport(checks=kept.checks, merged=True)
        return kept

    def _with_review(self, job: ForgeJob, kept: ForgeReport, refs: str) -> ForgeReport:
        """A verdict for the commit the judgement asked about replaces its review item, and is kept."""
        if job.review is None or not kept.review_for or job.review_sha not in ("", kept.review_for):
            return kept
        judged = replace(done.with_outcome(kept, _ai_review(job.review)), review_for="")
        save_report(job.log_dir, judged, refs)
        return judged

    def _facts(self, job: ForgeJob, refs: str, items: tuple[str, ...]) -> LocalFacts:
        behind = self.workspace.behind(job.repo, job.branch, job.base, refs) if "synced" in items else None
        moves = self.workspace.base_moves(job.repo, job.branch, job.base, job.base_commit, job.refs_at_start, refs)
        commits = tuple(self.workspace.new_commits(job.worktree, job.base_commit))
        tip = self.workspace.head(job.worktree) if commits and "review" in items else ""
        review = job.review if tip and job.review_sha in ("", tip) else None
        return LocalFacts(branch=job.branch, base=job.base, commits=commits,
                          uncommitted=tuple(self.workspace.uncommitted(job.worktree)), behind=behind,
                          check_command=job.repo.check, check_timeout_s=self.check_timeout_s,
                          tampered=tuple(m for m in moves if m.took), tip=tip, review=review)

    def _run_check(self, job: ForgeJob) -> Completed | None:
        if not job.repo.check:
            return None
        return run_logged(job.repo.check, job.worktree, job.log_dir / CHECK_LOG, self.check_timeout_s,
                          tail_bytes=CHECK_TAIL_BYTES)

    def _publish(self, job: ForgeJob, facts: LocalFacts) -> LocalFacts:
        before = done.judge_items(BEFORE_PUSH, facts, LOCAL_JUDGES)
        failing = [c.name for c in before.checks if c.state == "fail"]
        if failing:
            return replace(facts, not_pushed_because=f"{', '.join(failing)} failed")
        try:
            return replace(facts, pushed=self.workspace.push(job.repo, job.branch, job.worktree))
        except (ForgeError, WorkspaceError) as exc:
            return replace(facts, push_error=redact(str(exc)))   # git's words may quote a remote URL's token


def save_report(log_dir: Path, report: ForgeReport, refs: str = "") -> None:
    """Keep the judgement, and where base and branch stood then, next to the attempt's logs."""
    log_dir.mkdir(parents=True, exist_ok=True)
    tmp = log_dir / f".{REPORT_FILE}.tmp"
    tmp.write_text(json.dumps({**asdict(report), JUDGED_REFS: refs}), encoding="utf-8")
    tmp.replace(log_dir / REPORT_FILE)


def load_report(log_dir: Path) -> ForgeReport | None:
    """The kept judgement, or None when there is none (or it cannot be read)."""
    return load_judgement(log_dir)[0]


def load_judgement(log_dir: Path) -> tuple[ForgeReport | None, str]:
    """The kept judgement and the refs recorded with it ("" for a judgement kept by an older vaultzoe)."""
    try:
        data: dict[str, Any] = json.loads((log_dir / REPORT_FILE).read_text(encoding="utf-8"))
        refs = str(data.pop(JUDGED_REFS, "") or "")
        checks = tuple(CheckItem(**item) for item in data.pop("checks", ()))
        return ForgeReport(checks=checks, **data), refs
    except (OSError, ValueError, TypeError, AttributeError):
        return None, ""


# ---------------------------------------------------------------- choosing a forge


def github_token(environ: Mapping[str, str]) -> str | None:
    """The GitHub token from GITHUB_TOKEN or GH_TOKEN."""
    return next((environ[name] for name in TOKEN_VARIABLES if environ.get(name)), None)


def forge_name(setting: str, repo: RepoConfig, environ: Mapping[str, str]) -> str:
    """"github" when asked for, or on auto when the repo names one and a token is there; else "local"."""
    if setting == "github" or (setting == "auto" and repo.github and github_token(environ)):
        return "github"
    return "local"


def make_forge(settings: Settings, repo: RepoConfig, environ: Mapping[str, str], workspace: Workspace,
               planner: Any = None) -> Forge:
    """The forge for this repo, from the FORGES table."""
    name = forge_name(settings.forge, repo, environ)
    forge_class = _load(FORGES[name])
    if name == "local":
        return forge_class(workspace)
    token = github_token(environ)
    if not token:
        raise TaskBlocked(f"forge is github but no token is set: set GITHUB_TOKEN (or GH_TOKEN) in vaultzoe's "
                          f"environment, or set `forge: local` in {SETTINGS_NOTE}")
    if not repo.github:
        raise TaskBlocked(f"forge is github but {repo.note_path or repo.name} has no `github:` property: set it "
                          f"to owner/name, or set `forge: local` in {SETTINGS_NOTE}")
    policy = _load("vaultzoe.work.github:GitHubPolicy").from_environ(environ)
    return forge_class(workspace=workspace, repo=repo, token=token,
                       api_url=environ.get("GITHUB_API_URL") or DEFAULT_GITHUB_API, planner=planner, policy=policy)


def _load(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
