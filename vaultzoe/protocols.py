"""The boundaries, declared in one place: Runner, Agent, Forge, Planner, Notifier, and the values they trade.

Each has a real implementation (work/runners.py, work/agents.py, work/forge.py, work/github.py,
brain/planner.py, work/notify.py) and a deterministic fake shipped in the package (vaultzoe/fakes/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Mapping, Protocol

if TYPE_CHECKING:      # annotations only: the boundaries never load pydantic or the settings layers
    from .brain.learnings import Learned
    from .settings import RepoConfig
    from .work.workspace import Worktree

# ---------------------------------------------------------------- running agent processes


@dataclass(frozen=True)
class RunSpec:
    """One agent process to start."""

    task_id: str
    attempt: int
    argv: tuple[str, ...]
    workdir: Path
    run_dir: Path                      # <vault>/.vaultzoe/runs/<task_id>/<attempt>/ (logs, pid, exit record)
    env: Mapping[str, str] = field(default_factory=dict)   # added to os.environ
    timeout_s: float | None = None
    log_limit_bytes: int = 20_000_000  # the agent's output log is capped (rotated) beyond this


@dataclass(frozen=True)
class RunState:
    """What a run directory says about its process right now."""

    run_dir: Path
    pid: int | None
    running: bool
    exit_code: int | None = None       # None while running or when unknown
    timed_out: bool = False
    stopped: bool = False              # stopped on purpose (cancel, steer)
    started: float | None = None       # epoch seconds
    ended: float | None = None

    @property
    def log_path(self) -> Path:
        return self.run_dir / "output.log"


class Workspace(Protocol):
    """Branches and worktrees of a task (work/workspace.py: GitPython; fakes/workspace.py: plain folders)."""

    def ensure(self, repo: "RepoConfig", branch: str, task_id: str) -> "Worktree": ...
    def run_setup(self, repo: "RepoConfig", worktree: "Worktree", log_path: Path,
                  timeout_s: float = 900) -> tuple[bool, str]: ...
    def diff(self, worktree_path: Path, base_commit: str, limit: int = 200_000) -> str: ...
    def remove(self, repo: "RepoConfig", worktree_path: Path) -> None: ...
    def new_pass(self) -> None: ...                  # a reconcile pass begins (refs seen before are stale)


class Runner(Protocol):
    def start(self, spec: RunSpec) -> RunState: ...
    def poll(self, run_dir: Path) -> RunState: ...          # works for runs started by an earlier vaultzoe process
    def stop(self, run_dir: Path, reason: str = "stopped") -> RunState: ...   # terminates the whole process group
    def enforce_timeout(self, run_dir: Path) -> RunState: ...               # kills the group if past its deadline
    def start_nowait(self, spec: RunSpec) -> RunState: ...  # start() without waiting for the agent to come up
    def tail(self, run_dir: Path, max_bytes: int = 4000) -> str: ...        # end of the output log, redacted
    def read_log(self, run_dir: Path) -> str: ...           # the whole kept output log, redacted


# ---------------------------------------------------------------- agents (what to run, how to read it)


@dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentReport:
    """What an agent's event log says it did."""

    session_id: str | None = None
    turns: int = 0
    commands: tuple[str, ...] = ()
    files_changed: tuple[str, ...] = ()
    final_message: str = ""
    is_error: bool = False
    error: str = ""
    cost_usd: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0


class Agent(Protocol):
    name: str

    def invocation(self, *, prompt_file: Path, workdir: Path, task_id: str, attempt: int,
                   model: str | None, resume_session: str | None = None) -> Invocation: ...
    def report(self, log_text: str) -> AgentReport: ...
    def available(self) -> str | None: ...   # None when runnable, else the reason and install hint


# ---------------------------------------------------------------- forges (PR, CI, review)

CheckState = Literal["pass", "fail", "pending", "skipped"]


@dataclass(frozen=True)
class CheckItem:
    name: str            # a definition-of-done item: commits, checks, pr, synced, review, screenshots
    state: CheckState
    detail: str = ""


@dataclass(frozen=True)
class ForgeJob:
    task_id: str
    title: str
    summary: str
    acceptance: str
    repo: RepoConfig
    branch: str
    base: str
    worktree: Path
    base_commit: str                   # commit the branch started from (to count new commits)
    log_dir: Path                      # where the forge keeps check output
    task_uri: str = ""                 # obsidian://open?vault=...&file=...
    attempt_summary: str = ""
    ui: bool = False
    pr_number: int | None = None       # known PR from an earlier pass
    refs_at_start: str = ""            # Attempt.refs_at_start (Worktree.refs): base and branch when the attempt began
    private: bool = False              # a private task: its PR body says only that the details stay in the vault
    review: Review | None = None       # the AI review verdict the orchestrator got for review_sha (None: none given)
    review_sha: str = ""               # the commit that verdict judged: ForgeReport.review_for ("" : the current head)


@dataclass(frozen=True)
class ForgeReport:
    checks: tuple[CheckItem, ...] = ()
    pr_number: int | None = None
    pr_url: str | None = None
    merged: bool = False
    closed: bool = False               # closed without merge
    evidence: str = ""                 # what failed, for the next prompt
    feedback: str = ""                 # human review comments, for the next prompt
    needs_sync: bool = False           # behind base or conflicting
    review_for: str = ""               # the head commit awaiting an AI review verdict (pass it back as ForgeJob.review)

    @property
    def pending(self) -> bool:
        return any(c.state == "pending" for c in self.checks)

    @property
    def failed(self) -> bool:
        return any(c.state == "fail" for c in self.checks)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.state in ("pass", "skipped") for c in self.checks)


class Forge(Protocol):
    name: str

    def submit(self, job: ForgeJob) -> ForgeReport: ...     # after the agent exits: judge, push, open PR
    def observe(self, job: ForgeJob) -> ForgeReport: ...    # each pass for tasks in checking/review


# ---------------------------------------------------------------- planner (prompts, routing, diagnosis, review)


@dataclass(frozen=True)
class TaskBrief:
    id: str
    title: str
    path: str              # vault-relative path of the task note
    body: str              # the task note's body without vaultzoe's owned blocks
    goal: str
    acceptance: str
    kind: str
    tags: tuple[str, ...]
    feedback: str = ""     # the human's "## Feedback" section
    steer: str = ""        # the human's "## Steer" section (outside code)
    private: bool = False  # a private task note: planned and reviewed locally, never sent to a remote planner


@dataclass(frozen=True)
class AttemptEvidence:
    attempt: int
    agent: str
    exit_code: int | None
    outcome: str
    log_tail: str = ""
    check_output: str = ""
    review_comments: str = ""
    final_message: str = ""


@dataclass(frozen=True)
class PlanRequest:
    task: TaskBrief
    attempt: int
    context: str                       # the rendered context pack
    context_notes: tuple[tuple[str, int], ...]   # (vault path, tokens) used
    repo: RepoConfig
    learnings: Learned                 # the kind's learnings note, parsed (brain/learnings.py)
    previous: tuple[AttemptEvidence, ...] = ()
    agents: tuple[str, ...] = ()       # agents available to choose from
    default_agent: str = "claude"
    requested_agent: str = "auto"      # the task's `agent:` value


@dataclass(frozen=True)
class Plan:
    prompt: str
    agent: str
    model: str | None
    reason: str                        # one line: why this agent/model
    planner: str                       # "template" | "claude" | "claude->template (reason)"
    log: tuple[str, ...] = ()          # request/reply summaries for the attempt note (never secrets)


@dataclass(frozen=True)
class ReviewRequest:
    task: TaskBrief
    context: str
    diff: str


@dataclass(frozen=True)
class Review:
    verdict: Literal["pass", "block", "skipped"]
    summary: str
    findings: tuple[str, ...] = ()


class Planner(Protocol):
    name: str

    def plan(self, request: PlanRequest) -> Plan: ...
    def review(self, request: ReviewRequest) -> Review: ...


# ---------------------------------------------------------------- notifications


class Notifier(Protocol):
    def notify(self, title: str, body: str) -> None: ...
