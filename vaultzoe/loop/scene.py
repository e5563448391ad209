"""What every step of the loop shares: the vault, task memory, the parts, this pass's settings; writing back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from .. import config as vconfig
from .. import trust
from ..brain import context as ctx
from ..layout import STATE_DIR
from ..protocols import AgentReport, Forge, ForgeJob, ForgeReport, RunState
from ..settings import AgentConfig, RepoConfig
from ..tasks.brief import brief
from ..tasks.journal import AttemptRecord, Journal
from ..tasks.model import Attempt, Status, TaskState
from ..tasks.state import StateStore
from ..vault.index import VaultIndex
from ..vault.note import Note
from ..vault.store import VaultStore
from .parts import Parts, obsidian_uri, stamp


@dataclass
class Live:
    """One task's working set for a pass."""

    note: Note | None
    state: TaskState
    settling: bool = False       # its note is being saved or cannot be read right now: leave the task as it is
    gone: str = ""               # why the task's note counts as gone for good (deleted, trashed, untagged)
    judgement: ForgeReport | None = None   # the forge's verdict on a submission made this pass


class Scene:
    """The vault and its index, task memory, the trust record and the parts; settings are reloaded each pass."""

    def __init__(self, root: Path, parts: Parts, flags: Mapping[str, object], index: VaultIndex | None):
        self.root = Path(root)
        self.parts = parts
        self.flags = dict(flags)
        self.index = index or VaultIndex.open(self.root)
        self.store = VaultStore(self.root)
        self.journal = Journal(self.store)
        self.states = StateStore(self.root)
        self.trust = trust.TrustStore(self.root, parts.environ)
        self.config = vconfig.load_config(self.index, parts.environ, self.flags)
        self.settings = self.config.settings
        self.passes = 0              # bumped at each pass's start: what is remembered "for this pass" keys on it

    def reload_config(self) -> None:
        """A pass begins: this pass's settings (and a new pass number for what is kept per pass)."""
        self.config = vconfig.load_config(self.index, self.parts.environ, self.flags)
        self.settings = self.config.settings
        self.passes += 1
        self.parts.workspace.new_pass()      # refs a workspace kept from an earlier pass are stale now

    def now(self) -> str:
        return stamp(self.parts.now())

    # ------------------------------------------------------------ reading a task's world

    def repo(self, task: Live) -> RepoConfig:
        if task.note is not None:
            return vconfig.repo_for(self.config, self.index, task.note)
        return self.config.repos[task.state.repo.lower()]

    def forge(self, task: Live) -> Forge:
        return self.parts.make_forge(self.settings, self.repo(task))

    def job(self, task: Live) -> ForgeJob:
        state, note = task.state, task.note
        summary = brief(note, state.id, self.settings.private_folders) if note is not None else None
        current = state.current
        tags = summary.tags if summary else ()
        return ForgeJob(
            task_id=state.id, title=state.title, summary=summary.goal if summary else "",
            acceptance=summary.acceptance if summary else "", repo=self.repo(task), branch=state.branch,
            base=state.base, worktree=Path(state.worktree), base_commit=state.base_commit,
            log_dir=Path(current.run_dir) if current else self.root / STATE_DIR,
            task_uri=obsidian_uri(self.root, state.path),
            attempt_summary=current.final_message[-2000:] if current else "",
            ui="#ui" in tags or "#task/ui" in tags, private=summary.private if summary else True,
            pr_number=state.pr_number, refs_at_start=current.refs_at_start if current else "",
        )

    def agent_report(self, agent_cfg: AgentConfig, run: RunState) -> AgentReport:
        """What the agent's event stream says (the runner hands the log over redacted)."""
        try:
            text = self.parts.runner.read_log(run.run_dir)
        except OSError:
            return AgentReport()
        return self.parts.make_agent(agent_cfg).report(text)

    def tail(self, run: RunState, limit: int = 3000) -> str:
        return self.parts.runner.tail(run.run_dir, limit)

    # ------------------------------------------------------------ writing back

    def set_status(self, task: Live, status: Status, reason: str = "") -> None:
        state = task.state
        if state.status == status and (not reason or reason == state.reason):
            return
        keep_reason = reason or ("" if status in (Status.RUNNING, Status.QUEUED, Status.CHECKING) else state.reason)
        task.state = replace(state, status=status, reason=keep_reason, updated=self.now(),
                             waiting="" if status != Status.QUEUED else state.waiting)

    def save(self, task: Live) -> None:
        """Memory first, then the note; the note's status is known to be ours only once that write landed."""
        if not task.state.id:
            return
        self.states.save(task.state)
        if task.note is not None:
            self.journal.task_note(task.state)
            if task.state.note_status != task.state.status.value:
                # kept in memory; the next save records it (until then the older value errs on the safe side)
                task.state = replace(task.state, note_status=task.state.status.value)

    def remember_forge(self, task: Live, report: ForgeReport) -> ForgeReport:
        """The forge's items, PR and evidence go into task memory (redacted)."""
        checks = tuple((c.name, c.state, c.detail) for c in report.checks)
        task.state = replace(task.state, checks=checks, pr_number=report.pr_number or task.state.pr_number,
                             pr_url=report.pr_url or task.state.pr_url)
        current = task.state.current
        if current is not None and (report.evidence or report.feedback):
            task.state = task.state.with_attempt(replace(current, check_output=ctx.redact(report.evidence),
                                                         feedback=ctx.redact(report.feedback)))
        return report

    def write_attempt(self, task: Live, attempt: Attempt, record: AttemptRecord | None = None) -> None:
        report = None
        duration = None
        if attempt.outcome not in ("running", "starting"):
            cfg = self.config.agents.get(attempt.agent.lower())
            run = self.parts.runner.poll(Path(attempt.run_dir)) if Path(attempt.run_dir).is_dir() else None
            if cfg is not None and run is not None:
                report = self.agent_report(cfg, run)
            if run is not None and run.started and run.ended:
                duration = run.ended - run.started
        base = record or AttemptRecord(state=task.state, attempt=attempt)
        self.journal.attempt(replace(base, state=task.state, attempt=attempt, report=report or base.report,
                                     duration_s=duration))
