"""GitHub forge: push the branch, find or open its pull request, read CI, reviews and merges (PyGithub).

Every API round trip goes through `_call`, which honours GitHub's rate-limit headers, retries 5xx and
connection errors with backoff a bounded number of times, and then raises ForgeError. Opening a PR is
idempotent: each try lists the branch's open PRs before it POSTs, so a POST that failed after GitHub had
created the PR, a retry, a restart, or an agent that opened the PR itself never leads to a second one.
The token lives only in the PyGithub client; nothing here writes a file. Reviews count only from the
repository's collaborators, and vaultzoe's review marker only from the token's own login (GET /user);
what vaultzoe writes on GitHub is built, redacted, in github_text.py. The AI review verdict comes from the
orchestrator (ForgeJob.review, asked for by ForgeReport.review_for, see review.py) and is posted once per head
commit; a forge built with a planner of its own still reviews by itself, without the task's context.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, TypeVar

import requests
from github import Auth, Github, GithubException
from github.CheckRun import CheckRun
from github.CheckRunAnnotation import CheckRunAnnotation
from github.PullRequest import PullRequest
from github.PullRequestReview import PullRequestReview

from ..errors import ForgeError, ForgeUnavailable, PlannerError, PushRejected, SettingsError, TaskBlocked
from ..protocols import CheckItem, ForgeJob, ForgeReport, Planner, Review
from ..settings import RepoConfig
from . import done
from .done import CheckRunFact, Facts, PullFacts, ReviewFact, StatusFact
from .github_policy import GitHubPolicy, error_message, rate_limit_wait, rate_limited
from .github_text import is_own_review, posted_review, pr_body, pr_title, review_body
from .review import job_brief, request_review
from .workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
ANNOTATIONS_LIMIT = 50
ACTIONS_APP = "github-actions"  # its check runs are Actions jobs, with the same id
LOGS_PER_PASS = 3               # job logs fetched per observe (the first failing jobs)
LOG_TAIL_BYTES = 256_000


class GitHubForge:
    """protocols.Forge over the GitHub REST API (github.com or GitHub Enterprise via api_url)."""

    name = "github"

    def __init__(self, *, workspace: Workspace, repo: RepoConfig | str, token: str, api_url: str | None = None,
                 planner: Planner | None = None, policy: GitHubPolicy = GitHubPolicy()) -> None:
        self._slug = github_slug(repo)
        self._workspace = workspace
        self._planner = planner
        self._policy = policy
        self._not_before = 0.0          # epoch seconds: GitHub asked us to stay away until then
        self._own_login: str | None = None   # the token's login (None: not asked yet; "": GitHub would not say)
        self._api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self._gh = Github(auth=Auth.Token(token), base_url=self._api_url, retry=None, lazy=True,
                          timeout=policy.timeout_s, seconds_between_requests=policy.request_spacing_s,
                          seconds_between_writes=policy.write_spacing_s)
        self._repo = self._gh.get_repo(self._slug)   # lazy: no request yet

    def __repr__(self) -> str:
        return f"GitHubForge({self._slug!r}, api_url={self._api_url!r})"

    # ------------------------------------------------------------ protocols.Forge

    def submit(self, job: ForgeJob) -> ForgeReport:
        """After the agent exits: new commits? push, find or open the PR, then judge it like observe."""
        commits = tuple(self._workspace.new_commits(job.worktree, job.base_commit))
        if not commits:
            outcome = done.judge("commits", Facts(branch=job.branch, base=job.base, new_commits=()))
            return ForgeReport(checks=(outcome.item,), evidence=outcome.evidence)
        commits_item = CheckItem("commits", "pass", f"{len(commits)} new")
        moved = self._base_moved(job)
        if moved is not None:
            return ForgeReport(checks=(commits_item, moved.item), evidence=moved.evidence)
        rejected = self._push(job)
        if rejected:
            return ForgeReport(checks=(commits_item, CheckItem("pr", "fail", "push rejected")), evidence=rejected)
        number = self._call("open the pull request", lambda: self._find_or_open(job))
        report = self.observe(replace(job, pr_number=number))
        return replace(report, checks=(commits_item,) + tuple(c for c in report.checks if c.name != "commits"))

    def observe(self, job: ForgeJob) -> ForgeReport:
        """Each pass: the PR, its head's checks and statuses, reviews, the AI review, merged or closed."""
        items = done.done_items(job.repo.done, job.ui)
        facts = self._call("read the pull request, its checks and reviews", lambda: self._facts(job, items))
        if "review" in items:
            facts = self._with_ai_review(job, facts)
        review_for = self._review_wanted(facts) if "review" in items else ""
        return _report(facts, done.evaluate(job.repo.done, job.ui, facts), review_for)

    # ------------------------------------------------------------ pushing and opening the PR

    def _base_moved(self, job: ForgeJob) -> done.Outcome | None:
        """The agent moved base (locally, or pushed it through origin) to take its own commits: nothing is published."""
        refs = self._workspace.record_refs(job.repo, job.branch, job.base)
        moves = self._workspace.base_moves(job.repo, job.branch, job.base, job.base_commit, job.refs_at_start, refs)
        took = tuple(m for m in moves if m.took)
        return done.base_moved(job.branch, job.base, took) if took else None

    def _push(self, job: ForgeJob) -> str:
        """The reason the push failed, or "" when the branch is on origin."""
        try:
            pushed = self._workspace.push(job.repo, job.branch, job.worktree)
        except PushRejected as exc:
            return f"Pushing branch {job.branch} was rejected: {exc}"
        if not pushed:
            raise TaskBlocked(f"{job.repo.path} has no `origin` remote, so branch {job.branch} cannot reach "
                              f"GitHub: run `git remote add origin https://github.com/{self._slug}.git` there")
        return ""

    def _find_or_open(self, job: ForgeJob) -> int:
        """The open PR for the branch, else a new one; re-listed on every try so a retry never duplicates."""
        number = self._open_pull(job.branch)
        if number is not None:
            return number
        try:
            pull = self._repo.create_pull(base=job.base, head=job.branch, title=pr_title(job), body=pr_body(job))
        except GithubException as exc:
            number = self._open_pull(job.branch) if exc.status == 422 else None
            if number is None:   # 422 "already exists" means someone was first; anything else is real
                raise
            return number
        log.info("opened pull request #%s for %s", pull.number, job.branch)
        return pull.number

    def _open_pull(self, branch: str) -> int | None:
        pulls = list(self._repo.get_pulls(state="open", head=self._head(branch)))
        return min((p.number for p in pulls), default=None)

    def _head(self, branch: str) -> str:
        return f"{self._slug.split('/')[0]}:{branch}"

    # ------------------------------------------------------------ reading what GitHub knows

    def _facts(self, job: ForgeJob, items: tuple[str, ...]) -> Facts:
        facts = Facts(branch=job.branch, base=job.base)
        pull = self._find_pull(job)
        if pull is None:
            return facts
        sha = pull.head.sha
        own = self._login() if "review" in items else ""
        reviews = self._reviews(pull, own) if "review" in items else ()
        comments = [c.body or "" for c in pull.get_issue_comments()
                    if done.is_trusted(c.author_association)] if "screenshots" in items else []
        if "checks" in items:
            facts = replace(facts, check_runs=self._check_runs(sha), statuses=self._statuses(sha),
                            checks_grace=self._recent(pull.updated_at))
        return replace(facts, pull=_pull_facts(pull, comments), reviews=reviews,
                       ai_review=posted_review(reviews, sha, own))

    def _login(self) -> str:
        """The token's own login, asked once; "" when GitHub will not say (a GitHub App's token)."""
        if self._own_login is None:
            try:
                self._own_login = self._gh.get_user().login
            except GithubException as exc:
                if exc.status not in (403, 404):
                    raise
                log.warning("GitHub will not tell this token's login (%s): vaultzoe trusts only the AI reviews "
                            "it posts from now on", exc.status)
                self._own_login = ""
        return self._own_login

    def _find_pull(self, job: ForgeJob) -> PullRequest | None:
        """The PR vaultzoe knows, else the branch's open PR, else its latest (merged or closed) one."""
        if job.pr_number is not None:
            pull = self._repo.get_pull(job.pr_number)
            if pull.head.ref == job.branch:
                return pull
        pulls = list(self._repo.get_pulls(state="all", head=self._head(job.branch)))
        if not pulls:
            return None
        best = max(pulls, key=lambda p: (p.state == "open", p.number))
        return self._repo.get_pull(best.number)

    def _check_runs(self, sha: str) -> tuple[CheckRunFact, ...]:
        facts = []
        for run in self._repo.get_commit(sha).get_check_runs():
            fact = _run_fact(run)
            logs_so_far = sum(1 for f in facts if f.log)
            if _failing(fact) and _app_slug(run) == ACTIONS_APP and logs_so_far < LOGS_PER_PASS:
                fact = replace(fact, log=self._job_log(run.id))
            facts.append(fact)
        return tuple(facts)

    def _job_log(self, job_id: int) -> str:
        """Where a failed Actions job's log says it failed; best effort, an unreadable log is said so."""
        try:
            location = self._repo.get_workflow_job(job_id).logs_url()
            return done.log_excerpt(_download_tail(location, self._policy.timeout_s))
        except (GithubException, requests.RequestException) as exc:
            return f"(the job log could not be read: {type(exc).__name__})"

    def _statuses(self, sha: str) -> tuple[StatusFact, ...]:
        combined = self._repo.get_commit(sha).get_combined_status()
        return tuple(StatusFact(s.context, s.state, s.description or "", s.target_url or "")
                     for s in combined.statuses)

    def _reviews(self, pull: PullRequest, own_login: str) -> tuple[ReviewFact, ...]:
        comments: dict[int, list[str]] = {}
        for comment in pull.get_review_comments():
            line = comment.line or comment.original_line or ""
            comments.setdefault(comment.pull_request_review_id, []).append(f"{comment.path}:{line}: {comment.body}")
        return tuple(_review_fact(review, comments.get(review.id, []), own_login) for review in pull.get_reviews())

    def _recent(self, updated_at: datetime | None) -> bool:
        if updated_at is None:
            return True
        moment = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=timezone.utc)
        return (datetime.now(timezone.utc) - moment).total_seconds() < self._policy.checks_grace_s

    # ------------------------------------------------------------ the AI review

    def _with_ai_review(self, job: ForgeJob, facts: Facts) -> Facts:
        """Post the verdict the job brings (else the own planner's) once per head commit; its marker makes the
        post idempotent."""
        pull = facts.pull
        if pull is None or pull.state != "open" or facts.ai_review is not None:
            return facts
        given = job.review if job.review is not None and job.review_sha in ("", pull.head_sha) else None
        if given is None and self._planner is None:
            return facts                # the orchestrator is asked for a verdict (review_for)
        waiting = done.review_waits(facts)
        if waiting:
            return replace(facts, ai_review_waiting=waiting)
        try:
            review = given or request_review(self._planner, self._workspace, job, job_brief(job), context="")
        except PlannerError as exc:
            return replace(facts, ai_review_waiting=f"AI review failed ({exc}); trying again next pass")
        if review.verdict in ("pass", "block"):
            self._call("post the AI review", lambda: self._post_review(pull.number, pull.head_sha, review))
        return replace(facts, ai_review=review)

    def _review_wanted(self, facts: Facts) -> str:
        """The head commit to ask the orchestrator's reviewer about ("" when none is wanted now)."""
        pull = facts.pull
        if self._planner is not None or pull is None or pull.state != "open" or facts.ai_review is not None:
            return ""
        return "" if done.review_waits(facts) else pull.head_sha

    def _post_review(self, number: int, sha: str, review: Review) -> None:
        pull = self._repo.get_pull(number)
        own = self._own_login or ""
        if any(is_own_review(r.body or "", r.user.login if r.user else "", own) and sha in (r.body or "")
               for r in pull.get_reviews()):
            return
        posted = pull.create_review(commit=self._repo.get_commit(sha), body=review_body(review, sha), event="COMMENT")
        if not self._own_login and posted.user is not None:
            self._own_login = posted.user.login     # a token GET /user refused: its own posts tell its login

    # ------------------------------------------------------------ faults and rate limits

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        """Run one API operation; rate limits are waited out, faults retried, then ForgeError."""
        failure = ""
        if time.time() < self._not_before:
            raise ForgeUnavailable(f"GitHub asked vaultzoe to wait (rate limit) until "
                                   f"{time.strftime('%H:%M:%S', time.localtime(self._not_before))}; "
                                   f"{what} in {self._slug} is tried again after that")
        for attempt in range(self._policy.tries):
            self._respect_quota(what)
            try:
                return operation()
            except GithubException as exc:
                delay, failure = self._retry_delay(what, exc, attempt)
            except requests.RequestException as exc:
                delay, failure = self._backoff(attempt), f"connection failed ({type(exc).__name__})"
            if attempt + 1 < self._policy.tries:
                log.warning("GitHub: could not %s (%s); retrying in %.1fs", what, failure, delay)
                time.sleep(delay)
        raise ForgeUnavailable(f"GitHub: could not {what} in {self._slug} after {self._policy.tries} tries ({failure}); "
                         f"vaultzoe tries again on its next pass: check that {self._api_url} is reachable")

    def _retry_delay(self, what: str, exc: GithubException, attempt: int) -> tuple[float, str]:
        """How long to wait before retrying; raises ForgeError when retrying cannot help."""
        headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
        if rate_limited(exc, headers):
            wait = rate_limit_wait(headers)
            wait = max(self._backoff(attempt), self._policy.secondary_wait_s) if wait is None else wait
            self._check_wait(what, wait)
            return wait, f"rate limited ({exc.status})"
        if exc.status >= 500:
            return self._backoff(attempt), f"{exc.status} {error_message(exc)}"
        raise ForgeError(self._refusal(what, exc)) from None

    def _respect_quota(self, what: str) -> None:
        """X-RateLimit-Remaining 0 on the last reply: wait for X-RateLimit-Reset before asking again."""
        requester = self._gh.requester
        remaining, _limit = requester.rate_limiting
        if remaining != 0:
            return
        wait = requester.rate_limiting_resettime - time.time() + 1
        if wait > 0:
            self._check_wait(what, wait)
            time.sleep(wait)

    def _check_wait(self, what: str, wait: float) -> None:
        if wait > self._policy.max_wait_s:
            self._not_before = time.time() + wait
            raise ForgeUnavailable(f"GitHub rate limit reached while trying to {what} in {self._slug}: it lifts in "
                             f"{wait:.0f}s, longer than vaultzoe waits ({self._policy.max_wait_s:.0f}s); "
                             f"the task is checked again on a later pass")

    def _backoff(self, attempt: int) -> float:
        return min(self._policy.backoff_s * 2 ** attempt, self._policy.max_wait_s)

    def _refusal(self, what: str, exc: GithubException) -> str:
        message = error_message(exc)
        if exc.status == 401:
            return (f"GitHub rejected the token (401 {message}) while trying to {what}: put a valid token in "
                    f"GITHUB_TOKEN or GH_TOKEN")
        if exc.status == 404:
            return (f"GitHub shows no {self._slug} to this token (404 while trying to {what}): check the repo "
                    f"note's `github: owner/name` and the token's repository access")
        if exc.status == 403:
            return (f"GitHub refused to {what} in {self._slug} (403 {message}): give the token read/write access "
                    f"to contents and pull requests, and read access to checks and commit statuses")
        return f"GitHub refused to {what} in {self._slug} ({exc.status} {message})"


# ---------------------------------------------------------------- pure helpers


def github_slug(repo: RepoConfig | str) -> str:
    """`owner/name` from a repo note (its `github:` property) or a string; SettingsError names the fix."""
    value = repo.github if isinstance(repo, RepoConfig) else repo
    where = f"Repo note {repo.note_path or repo.name}" if isinstance(repo, RepoConfig) else "The GitHub repository"
    value = (value or "").strip().removeprefix("https://github.com/").removesuffix(".git").strip("/")
    if not _SLUG.match(value):
        raise SettingsError(f"{where}: `github:` must name the repository as owner/name (e.g. `github: octo/app`), "
                            f"not {value!r}")
    return value


def _pull_facts(pull: PullRequest, comments: list[str]) -> PullFacts:
    texts = [pull.body or "", *comments]
    return PullFacts(number=pull.number, url=pull.html_url, state=pull.state, merged=bool(pull.merged),
                     head_sha=pull.head.sha, commits=pull.commits or 0, draft=bool(pull.draft),
                     mergeable_state=pull.mergeable_state, has_image=any(done.has_image(t) for t in texts))


def _download_tail(url: str, timeout_s: int) -> str:
    """The end of a log behind GitHub's pre-signed redirect; the token is never sent to that other host."""
    tail = bytearray()
    with requests.get(url, timeout=timeout_s, stream=True) as response:
        response.raise_for_status()
        for chunk in response.iter_content(65_536):
            tail += chunk
            del tail[:-LOG_TAIL_BYTES]
    return tail.decode("utf-8", errors="replace")


def _failing(fact: CheckRunFact) -> bool:
    return fact.status == "completed" and fact.conclusion in done.FAILED_CONCLUSIONS


def _app_slug(run: CheckRun) -> str:
    return run.app.slug if run.app is not None else ""


def _run_fact(run: CheckRun) -> CheckRunFact:
    output = run.output
    fact = CheckRunFact(name=run.name, status=run.status, conclusion=run.conclusion,
                        summary=(output.summary or "") if output else "", text=(output.text or "") if output else "",
                        url=run.html_url or run.details_url or "")
    if _failing(fact) and getattr(output, "annotations_count", 0):
        lines = tuple(_annotation(a) for _, a in zip(range(ANNOTATIONS_LIMIT), run.get_annotations()))
        fact = replace(fact, annotations=lines)
    return fact


def _annotation(annotation: CheckRunAnnotation) -> str:
    title = f"{annotation.title}: " if annotation.title else ""
    return f"{annotation.path}:{annotation.start_line}: [{annotation.annotation_level}] {title}{annotation.message}"


def _review_fact(review: PullRequestReview, comments: list[str], own_login: str) -> ReviewFact:
    body = review.body or ""
    author = review.user.login if review.user else "ghost"
    human = review.user is not None and review.user.type != "Bot" and not is_own_review(body, author, own_login)
    return ReviewFact(author=author, state=review.state, body=body, commit=review.commit_id or "", human=human,
                      comments=tuple(comments), association=review.author_association or "NONE")


def _report(facts: Facts, judgement: done.Judgement, review_for: str = "") -> ForgeReport:
    pull = facts.pull
    return judgement.report(pr_number=pull.number if pull else None, pr_url=pull.url if pull else None,
                            merged=bool(pull and pull.merged),
                            closed=bool(pull and pull.state == "closed" and not pull.merged), review_for=review_for)
