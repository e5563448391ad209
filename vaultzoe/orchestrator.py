"""The reconcile loop: the only place that sequences the parts.

Each pass reads the desired state (task notes), observes the actual state (agent processes, branches,
PRs, checks), asks the pure `decide` what to do, does it, and writes the result back into the vault.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Mapping

from . import config as vconfig
from . import trust
from .brain import context as ctx
from .brain import learnings
from .errors import ForgeUnavailable, TaskBlocked, VaultzoeError, WriteConflict
from .protocols import (Agent, AgentReport, AttemptEvidence, Forge, ForgeJob, ForgeReport, Notifier, Plan,
                        Planner, PlanRequest, Runner, RunSpec, RunState)
from .settings import LEARNINGS_DIR, STATE_DIR, AgentConfig, RepoConfig, Settings
from .tasks import adoption
from .tasks import decide as d
from .tasks.adoption import Claim
from .tasks.brief import brief, fingerprint, steer_message, title_of
from .tasks.journal import AttemptRecord, Journal, attempt_note_path, one_line, registry_row
from .tasks.registry import wikilink
from .tasks.model import Attempt, Status, TaskState, branch_name, priority_rank
from .tasks.state import StateStore
from .vault.index import VaultIndex
from .vault.note import Note
from .vault.store import VaultStore
from .work.runners import private_run_dir
from .work.supervise import open_private
from .work.workspace import Workspace

log = logging.getLogger("vaultzoe")


def _now() -> datetime:
    return datetime.now().astimezone()


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Parts:
    """The orchestrator's collaborators, handed in (real ones from `Parts.real`, fakes in tests)."""

    runner: Runner
    workspace: Workspace
    make_planner: Callable[[Settings], Planner]
    make_forge: Callable[[Settings, RepoConfig], Forge]
    make_notifier: Callable[[Settings], Notifier]
    make_agent: Callable[[AgentConfig], Agent]
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    now: Callable[[], datetime] = _now
    clock: Callable[[], float] = time.monotonic      # seconds for grace periods and pacing (a fake clock in tests)
    free_memory_gb: Callable[[], float] = lambda: _available_memory_gb()

    @classmethod
    def real(cls, vault_root: Path, environ: Mapping[str, str] | None = None) -> "Parts":
        from .brain.planner import make_planner
        from .work.agents import make_agent
        from .work.forge import make_forge
        from .work.notify import make_notifier
        from .work.runners import ProcessRunner
        env = dict(os.environ if environ is None else environ)
        workspace = Workspace(worktrees_root(vault_root, env))
        return cls(
            runner=ProcessRunner(), workspace=workspace,
            make_planner=lambda s: make_planner(s, env),
            make_forge=_kept(lambda s, repo: make_forge(s, repo, env, workspace, planner=make_planner(s, env))),
            make_notifier=make_notifier, make_agent=make_agent, environ=env,
        )


def _kept(build: Callable[[Settings, RepoConfig], Forge]) -> Callable[[Settings, RepoConfig], Forge]:
    """One forge per repo while its settings stay the same: a GitHub client remembers the rate limit across passes."""
    made: dict[str, tuple[tuple[RepoConfig, str], Forge]] = {}

    def forge_for(settings: Settings, repo: RepoConfig) -> Forge:
        key = (repo, settings.model_dump_json())
        if repo.name not in made or made[repo.name][0] != key:
            made[repo.name] = (key, build(settings, repo))
        return made[repo.name][1]
    return forge_for


def _available_memory_gb() -> float:
    import psutil
    return psutil.virtual_memory().available / 2**30


def worktrees_root(vault_root: Path, environ: Mapping[str, str]) -> Path:
    """Worktrees live outside the vault (a synced folder) and outside the repos: the user's cache dir."""
    explicit = environ.get("VAULTZOE_WORKTREES")
    if explicit:
        return Path(explicit).expanduser()
    cache = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "vaultzoe" / "worktrees"


@dataclass(frozen=True)
class PassResult:
    counts: Mapping[str, int]
    errors: tuple[str, ...] = ()
    config_error: str | None = None

    @property
    def busy(self) -> bool:
        return any(self.counts.get(s.value, 0) for s in (Status.QUEUED, Status.RUNNING, Status.CHECKING))

    @property
    def watching(self) -> bool:
        """Whether the world can change without a vault edit (agents, CI, reviews, merges): timer passes matter."""
        return self.busy or bool(self.counts.get(Status.REVIEW.value, 0))


@dataclass
class _Live:
    """Per-pass working set for one task."""

    note: Note | None
    state: TaskState
    settling: bool = False       # its note is being saved or cannot be read right now: leave the task as it is
    gone: str = ""               # why the task's note counts as gone for good (deleted, trashed, untagged)


class Orchestrator:
    """Hands each task to `decide` every pass and carries out the actions."""

    def __init__(self, root: Path, parts: Parts, flags: Mapping[str, object] | None = None,
                 index: VaultIndex | None = None):
        self.root = Path(root)
        self.parts = parts
        self.flags = dict(flags or {})
        self.index = index or VaultIndex.open(self.root)
        self.store = VaultStore(self.root)
        self.journal = Journal(self.store)
        self.states = StateStore(self.root)
        self._last_forge_look: dict[str, float] = {}
        self._missing_since: dict[str, float] = {}     # task id -> when its note was first seen absent
        self.problems: list[adoption.Problem] = []     # notes that look like tasks but cannot run (this pass)
        self.delete_grace_s = float(self.parts.environ.get("VAULTZOE_DELETE_GRACE_S") or adoption.DELETE_GRACE_S)
        self.write_trouble: WriteTrouble | None = None
        self._write_failed_this_pass = False
        self._problems_seen: set[str] | None = None
        self.trust = trust.TrustStore(self.root, self.parts.environ)

    # ------------------------------------------------------------ the pass

    def reconcile(self, dirty: set[str] | None = None, rescan: bool = True) -> PassResult:
        """One level-triggered pass over every task."""
        self._refresh_index(dirty, rescan)
        self.config = vconfig.load_config(self.index, self.parts.environ, self.flags)
        self.settings = self.config.settings
        states = self.states.load_all()
        self._write_failed_this_pass = False
        live = self._adopt_notes(states)
        errors: list[str] = []
        for task in sorted(live.values(), key=_pass_order):
            errors += self._step_guarded(task, live)
        errors += self._guarded_write("the registry", lambda: self._write_registry(live))
        errors += self._guarded_write("the inbox", self._report_problems)
        for path in self.journal.take_touched():
            # the watcher drops our own writes, so the index learns of them here (a human edit we merged included)
            self.index.update(path)
        errors += self._guarded_write("the index cache", lambda: self.index.save(min_interval=10.0))
        self._recovered_from_write_trouble()
        counts: dict[str, int] = {}
        for task in live.values():
            # notes never queued are listed, but only tasks vaultzoe manages make it busy
            key = task.state.status.value if task.state.id else "never queued"
            counts[key] = counts.get(key, 0) + 1
        return PassResult(counts, tuple(errors), self.config.settings_error)

    def close(self) -> None:
        """Write what the index cache still lacks (the next start then reads only what changed)."""
        self.index.save()

    def _refresh_index(self, dirty: set[str] | None, rescan: bool) -> None:
        if rescan or dirty is None:
            changed = self.index.refresh()
        else:
            for path in dirty:
                self.index.update(path)
            changed = dirty
        ctx.note_changed(self.index, changed)

    def _step_guarded(self, task: _Live, live: dict[str, _Live]) -> list[str]:
        """The one broad catch: a task's failure is recorded in its note and the others go on, whatever happens."""
        try:
            return self._step_handled(task, live)
        except Exception as exc:  # noqa: BLE001 - the error path itself failed (a full disk, an unwritable note)
            if self._write_failed(exc):
                return [f"{task.state.path}: {self.write_trouble.message if self.write_trouble else exc}"]
            log.error("task %s: recording its failure failed too: %s: %s", task.state.id, type(exc).__name__,
                      one_line(str(exc), 300))
            return [f"{task.state.path}: {type(exc).__name__}: {exc}"]

    def _step_handled(self, task: _Live, live: dict[str, _Live]) -> list[str]:
        try:
            self._step(task, live)
            if task.state.waiting and task.state.status != Status.QUEUED:
                task.state = replace(task.state, waiting="")
                self._save(task)
            return []
        except ForgeUnavailable as exc:
            # a passing outage: the task keeps its status and is looked at again next pass
            task.state = replace(task.state, waiting=str(exc))
            self._save(task)
            return [f"{task.state.path}: {exc}"]
        except WriteConflict as exc:
            # the human is saving this note right now: nothing is lost, the pass after this one tries again
            log.info("task %s: its note is being edited; trying again next pass (%s)", task.state.id, exc)
            return [f"{task.state.path}: {exc}"]
        except TaskBlocked as exc:
            log.info("task %s blocked: %s", task.state.id, exc)
            self._block(task, str(exc))
            return [f"{task.state.path}: {exc}"]
        except Exception as exc:  # noqa: BLE001 - recorded in the vault, loop carries on
            if self._write_failed(exc):
                return [f"{task.state.path}: {self.write_trouble.message if self.write_trouble else exc}"]
            if isinstance(exc, VaultzoeError):
                log.warning("task %s: %s", task.state.id, one_line(str(exc), 300))
            else:
                log.exception("task %s failed this pass", task.state.id)
            reason = f"vaultzoe hit an error: {type(exc).__name__}: {exc}"
            if isinstance(exc, VaultzoeError):
                reason = str(exc)
            self._block(task, reason)
            return [f"{task.state.path}: {reason}"]

    # ------------------------------------------------------------ write errors (a full disk, a read-only vault)

    def _write_failed(self, exc: BaseException) -> bool:
        """Whether exc is the vault or state folder refusing a write; logged once until writes work again."""
        cause = write_error(exc)
        if cause is None:
            return False
        self._write_failed_this_pass = True
        if self.write_trouble is None:
            message = (f"vaultzoe cannot write to the vault ({os.strerror(cause.errno or 0)}: "
                       f"{getattr(cause, 'filename', '') or ''}); it keeps the tasks as they are and retries: "
                       f"free some space or fix the folder's permissions")
            self.write_trouble = WriteTrouble(since=stamp(self.parts.now()), message=message)
            log.error("%s", message)
        return True

    def _guarded_write(self, what: str, write: Callable[[], object]) -> list[str]:
        try:
            write()
            return []
        except (OSError, VaultzoeError) as exc:
            if self._write_failed(exc):
                return [f"{what}: {self.write_trouble.message if self.write_trouble else exc}"]
            if isinstance(exc, WriteConflict):
                return [f"{what}: {exc}"]      # the human is editing it; next pass
            raise

    def _recovered_from_write_trouble(self) -> None:
        """Writes work again: tell the human once, in the inbox."""
        if self.write_trouble is None or self._write_failed_this_pass:
            return
        trouble, self.write_trouble = self.write_trouble, None
        text = (f"vaultzoe could not write to the vault from {trouble.since} to {stamp(self.parts.now())} "
                f"({trouble.message.split(';')[0]}); it has recovered and carried on")
        log.warning("%s", text)
        try:
            self.journal.inbox_line(stamp(self.parts.now()), text)
        except (OSError, VaultzoeError) as exc:
            self._write_failed(exc)

    # ------------------------------------------------------------ notes that look like tasks but cannot run

    def _note_problems(self) -> list[adoption.Problem]:
        """This pass's adoption problems, and every note that looks like a task but cannot be read (the index)."""
        unreadable = [adoption.Problem(p.path, p.message, p.line) for p in self.index.problems()
                      if not self._is_template(p.path)]
        return list(self.problems) + unreadable

    def _report_problems(self) -> None:
        """Each problem once in the inbox (again only when its message changes); the registry lists them all."""
        reported = self._reported_problems()
        current = {f"{p.path}\n{p.message}": p for p in self._note_problems()}
        fresh = [p for key, p in current.items() if key not in reported]
        for problem in fresh:
            where = f" (line {problem.line})" if problem.line else ""
            self.journal.inbox_line(stamp(self.parts.now()),
                                    f"**problem** in {wikilink(problem.path)}{where}: {one_line(problem.message, 300)}")
        if fresh or set(reported) - set(current):
            write_private_json(self.root / STATE_DIR / "problems.json", sorted(current))
            self._problems_seen = set(current)

    def _reported_problems(self) -> set[str]:
        if self._problems_seen is None:
            try:
                self._problems_seen = set(json.loads((self.root / STATE_DIR / "problems.json").read_text("utf-8")))
            except (OSError, ValueError, TypeError):
                self._problems_seen = set()
        return self._problems_seen

    def _block(self, task: _Live, reason: str) -> None:
        """The human must act: an attempt whose agent ended is closed, the note says why, inbox + notify once."""
        current = task.state.current
        if current is not None and current.outcome == "running" and current.ended:
            self._do_FinishAttempt(d.FinishAttempt("failed", reason), task, None)  # type: ignore[arg-type]
        self._set_status(task, Status.BLOCKED, reason)
        self._save(task)
        if task.state.id:
            self._do_Notify(d.Notify(Status.BLOCKED), task, None)  # type: ignore[arg-type]

    def _step(self, task: _Live, live: dict[str, _Live]) -> None:
        if not task.state.id or task.settling:
            return            # a note never queued is only listed; a note being saved is read again next pass
        for _ in range(3):   # a retry turns a task `queued`; it may start again in the same pass
            before = task.state
            obs = self._observe(task, live)
            actions = d.decide(task.state, obs)
            for action in actions:
                self._do(action, task, obs)
            if task.state == before and task.note is not None and self.journal.shows(task.state, task.note.text):
                self.states.save(task.state)   # its note, as read this pass, says all this already: no second read
            else:
                self._save(task)
            if task.state.status != Status.QUEUED or task.state == before or not actions:
                return

    # ------------------------------------------------------------ notes -> states

    def _adopt_notes(self, states: dict[str, TaskState]) -> dict[str, _Live]:
        """Pair each task note with its memory (tasks/adoption.py); ids are written before anything else happens."""
        unreadable = {p.path for p in self.index.problems()}    # reported, never run (a known task's note: settling)
        notes = {n.path: n for n in self.index.tasks() if not self._is_template(n.path) and n.path not in unreadable}
        claims = [Claim(p, str(n.frontmatter.get("id") or "").strip(), Status.parse(n.frontmatter.get("status")))
                  for p, n in notes.items()]
        pairing = adoption.pair(claims, states)
        self.problems = list(pairing.problems)
        live: dict[str, _Live] = {}
        for task_id, path in pairing.bound.items():
            state = replace(states[task_id], path=path, title=title_of(notes[path]))
            live[task_id] = _Live(notes[path], state)
            self._missing_since.pop(task_id, None)
        for task_id, path in list(pairing.adopt.items()):
            if not self._outside_task_folders(path):
                self._adopt(task_id, notes[path], states, live, reason="")
        for path in pairing.fresh:
            if self._outside_task_folders(path):
                continue
            replaced = pairing.replaced_ids.get(path)
            reason = (f"its id `{one_line(replaced, 40)}` was not a valid task id (lowercase letters, digits, "
                      f"dashes); vaultzoe gave it a new one") if replaced else ""
            self._adopt(self._new_id(states), notes[path], states, live, reason)
        for path in pairing.listed:
            note = notes[path]
            status = Status.parse(note.frontmatter.get("status")) or Status.DRAFT
            live[f"draft:{path}"] = _Live(note, TaskState(id="", status=status, path=path, title=title_of(note)))
        for task_id in pairing.absent:
            live[task_id] = self._absent(states[task_id])
        return live

    def _adopt(self, task_id: str, note: Note, states: dict[str, TaskState], live: dict[str, _Live],
               reason: str) -> None:
        """A newly queued note: its id goes into the note first, then into memory (write-ahead, see Failure model)."""
        now = stamp(self.parts.now())
        state = TaskState(id=task_id, status=Status.QUEUED, path=note.path, title=title_of(note), queued_at=now,
                          updated=now, reason=reason, note_status=Status.QUEUED.value)
        try:
            self.journal.task_note(state)     # a note vaultzoe cannot write is never started (it would get a new id each pass)
            self.states.save(state)
        except (VaultzoeError, OSError) as exc:
            self.problems.append(adoption.Problem(note.path, f"vaultzoe cannot write to this task note, so it "
                                                             f"will not start it: {one_line(str(exc), 200)}"))
            return
        states[task_id] = state
        live[task_id] = _Live(note, state)
        if reason:
            self.journal.inbox_line(stamp(self.parts.now()), f"{wikilink(note.path)}: {reason} (`{task_id}`)")

    def _outside_task_folders(self, path: str) -> bool:
        problem = trust.task_folder_problem(path, self.settings)
        if problem:
            self.problems.append(adoption.Problem(path, problem))
        return problem is not None

    def _absent(self, state: TaskState) -> _Live:
        """A known task whose note is not a readable task note this pass: settling, or gone for good."""
        since = self._missing_since.setdefault(state.id, self.parts.clock())
        file = self.root / state.path
        note = self.index.note(state.path) if file.is_file() else None
        untagged = note is not None and bool(note.text.strip()) and not note.is_task and not self._unreadable(state.path)
        why = adoption.gone_for_good(os.path.lexists(file), untagged, self._in_trash(state),
                                     self.parts.clock() - since, self.delete_grace_s)
        if why is None:
            return _Live(None, state, settling=True)
        self._missing_since.pop(state.id, None)
        return _Live(note if untagged else None, state, gone=why)

    def _unreadable(self, path: str) -> bool:
        return any(p.path == path for p in self._note_problems())

    def _in_trash(self, state: TaskState) -> bool:
        """Obsidian's "move to trash" puts the file in .trash/ under its own name."""
        trashed = self.root / ".trash" / Path(state.path).name
        try:
            return trashed.is_file() and state.id in trashed.read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError:
            return False

    def _is_template(self, path: str) -> bool:
        """Task templates are not tasks: vaultzoe's own Zoe/ folder and Obsidian's template folder."""
        folders = ("zoe/",) + tuple(f.lower().strip("/") + "/" for f in self._template_folders())
        return path.lower().startswith(folders)

    def _template_folders(self) -> tuple[str, ...]:
        try:
            data = json.loads((self.root / ".obsidian" / "templates.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ()
        folder = data.get("folder") if isinstance(data, dict) else None
        return (folder,) if isinstance(folder, str) and folder.strip("/") else ()

    def _new_id(self, states: Mapping[str, TaskState]) -> str:
        # short, readable in a branch name, and never all digits (YAML would read a number)
        letters, alphabet = "abcdefghjkmnpqrstuvwxyz", "abcdefghjkmnpqrstuvwxyz23456789"
        while True:
            candidate = secrets.choice(letters) + "".join(secrets.choice(alphabet) for _ in range(5))
            if candidate not in states:
                return candidate

    # ------------------------------------------------------------ observe

    def _observe(self, task: _Live, live: dict[str, _Live]) -> d.Observation:
        state = task.state
        if not state.id:
            return d.Observation(note_status=state.status, max_attempts=self.settings.max_attempts)
        note_status = Status.parse(task.note.frontmatter.get("status")) if task.note else None
        run = self._poll_run(task)
        judgement = self._judge(task, run)
        problem = self._problem(task) if state.status == Status.QUEUED or note_status == Status.QUEUED else None
        room = self._room(task, live) if not problem else None
        return d.Observation(
            note_status=None if task.gone else note_status, max_attempts=self.settings.max_attempts, run=run,
            judgement=judgement, problem=problem, room=room, steer=self._new_steer(task, run),
            note_missing=bool(task.gone), gone=task.gone,
        )

    def _poll_run(self, task: _Live) -> RunState | None:
        current = task.state.current
        if current is not None and current.outcome == "starting":
            current = self._started_already(task, current)
        if current is None or current.outcome != "running":
            return None
        run_dir = Path(current.run_dir)
        if not run_dir.is_dir():
            return None
        self.parts.runner.enforce_timeout(run_dir)
        return self.parts.runner.poll(run_dir)

    def _started_already(self, task: _Live, current: Attempt) -> Attempt:
        """A start cut short by a crash whose agent did get going: adopt that run instead of starting another."""
        run_dir = Path(current.run_dir)
        if not run_dir.is_dir() or not current.agent:
            return current
        run = self.parts.runner.poll(run_dir)
        if run.started is None and run.exit_code is None and not run.running:
            return current                       # nothing was launched: decide resumes the start
        adopted = replace(current, outcome="running")
        task.state = task.state.with_attempt(adopted)
        self._save(task)
        return adopted

    def _problem(self, task: _Live) -> str | None:
        """What the human must fix before this task can start (None when nothing)."""
        if self.config.settings_error:
            return self.config.settings_error
        try:
            repo = vconfig.repo_for(self.config, self.index, task.note)
            agent_cfg = self._agent_for(task, repo)
        except TaskBlocked as exc:
            return str(exc)
        return trust.check(self.trust.record(), repo, agent_cfg)

    def _room(self, task: _Live, live: dict[str, _Live]) -> str | None:
        running = sum(1 for t in live.values() if t.state.status == Status.RUNNING and t is not task)
        if running >= self.settings.max_agents:
            return f"waiting for a free agent slot ({running} of max_agents {self.settings.max_agents} running)"
        free = self.parts.free_memory_gb()
        if free < self.settings.min_free_memory_gb:
            return (f"waiting for memory: {free:.1f} GB available, min_free_memory_gb is "
                    f"{self.settings.min_free_memory_gb:g}")
        return None

    def _new_steer(self, task: _Live, run: RunState | None) -> str:
        if task.note is None or run is None or not run.running or task.state.current is None:
            return ""
        message = steer_message(task.note)
        if not message:
            return ""
        seen = {fingerprint(m) for m in task.state.current.steers}
        return "" if fingerprint(message) in seen else message

    # ------------------------------------------------------------ judging an attempt

    def _judge(self, task: _Live, run: RunState | None) -> ForgeReport | None:
        state = task.state
        if state.status == Status.RUNNING and run is not None and not run.running:
            return self._judge_ended_run(task, run)
        if state.status in (Status.CHECKING, Status.REVIEW) and state.repo and task.note is not None:
            return self._observe_forge(task)
        return None

    def _judge_ended_run(self, task: _Live, run: RunState) -> ForgeReport:
        state, current = task.state, task.state.current
        agent_cfg = vconfig.agent_config(self.config, current.agent)
        report = self._agent_report(agent_cfg, run)
        tail = self._tail(run)
        current = replace(current, exit_code=run.exit_code, ended=stamp(self.parts.now()), session_id=report.session_id,
                          log_tail=tail, final_message=report.final_message, cost_usd=report.cost_usd)
        task.state = replace(state.with_attempt(current), cost_usd=_total_cost(state.with_attempt(current)))
        if run.timed_out or run.exit_code != 0 or report.is_error:
            evidence = self._exit_evidence(run, report, tail)
            return ForgeReport(checks=(_item("agent", "fail", evidence.splitlines()[0]),), evidence=evidence)
        self._last_forge_look[task.state.id] = time.monotonic()    # submit looks at the PR and CI too
        trust.require(self.trust.record(), repo=self._repo(task))   # the check command runs now
        forge_report = self._forge(task).submit(self._job(task))
        return self._remember_forge(task, forge_report)

    def _exit_evidence(self, run: RunState, report: AgentReport, tail: str) -> str:
        if run.timed_out:
            head = "The agent ran out of time and was stopped"
        elif run.exit_code is None:
            head = ("The agent ended without an exit record (its supervisor could not write it: a full disk, or it "
                    "was killed), so its work is not trusted")
        elif report.is_error:
            head = f"The agent reported an error: {(report.error or 'unknown error').rstrip('.')}"
        else:
            head = f"The agent exited with code {run.exit_code}"
        return f"{head}.\n\nLast output:\n{tail}" if tail else head + "."

    def _observe_forge(self, task: _Live) -> ForgeReport | None:
        wait = min(self.settings.poll_seconds, 30.0)
        last = self._last_forge_look.get(task.state.id, 0.0)
        if time.monotonic() - last < wait:   # a busy loop passes every second; GitHub allows 5,000 requests an hour
            return None
        self._last_forge_look[task.state.id] = time.monotonic()
        report = self._forge(task).observe(self._job(task))
        return self._remember_forge(task, report)

    def _remember_forge(self, task: _Live, report: ForgeReport) -> ForgeReport:
        checks = tuple((c.name, c.state, c.detail) for c in report.checks)
        task.state = replace(task.state, checks=checks, pr_number=report.pr_number or task.state.pr_number,
                             pr_url=report.pr_url or task.state.pr_url)
        current = task.state.current
        if current is not None and (report.evidence or report.feedback):
            task.state = task.state.with_attempt(replace(current, check_output=ctx.redact(report.evidence),
                                                         feedback=ctx.redact(report.feedback)))
        return report

    def _agent_report(self, agent_cfg: AgentConfig, run: RunState) -> AgentReport:
        try:
            reader = getattr(self.parts.runner, "read_log", None)
            text = reader(run.run_dir) if reader else ctx.redact(run.log_path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return AgentReport()
        return self.parts.make_agent(agent_cfg).report(text)

    def _tail(self, run: RunState, limit: int = 3000) -> str:
        tail = getattr(self.parts.runner, "tail", None)
        if tail is not None:
            return tail(run.run_dir, limit)
        try:
            return ctx.redact(run.log_path.read_text(encoding="utf-8", errors="replace")[-limit - 4000:])[-limit:]
        except OSError:
            return ""

    def _forge(self, task: _Live) -> Forge:
        repo = self._repo(task)
        return self.parts.make_forge(self.settings, repo)

    def _repo(self, task: _Live) -> RepoConfig:
        if task.note is not None:
            return vconfig.repo_for(self.config, self.index, task.note)
        return self.config.repos[task.state.repo.lower()]

    def _job(self, task: _Live) -> ForgeJob:
        state, note = task.state, task.note
        summary = brief(note, state.id, self.settings.private_folders) if note is not None else None
        current = state.current
        return ForgeJob(
            task_id=state.id, title=state.title, summary=summary.goal if summary else "",
            acceptance=summary.acceptance if summary else "", repo=self._repo(task), branch=state.branch,
            base=state.base, worktree=Path(state.worktree), base_commit=state.base_commit,
            log_dir=Path(current.run_dir) if current else self.root / STATE_DIR,
            task_uri=obsidian_uri(self.root, state.path),
            attempt_summary=current.final_message[-2000:] if current else "",
            ui="#ui" in (summary.tags if summary else ()) or "#task/ui" in (summary.tags if summary else ()),
            private=summary.private if summary else True,
            pr_number=state.pr_number, refs_at_start=current.refs_at_start if current else "",
        )

    # ------------------------------------------------------------ actions

    def _do(self, action: d.Action, task: _Live, obs: d.Observation) -> None:
        handler = getattr(self, f"_do_{type(action).__name__}")
        handler(action, task, obs)

    def _do_SetStatus(self, action: d.SetStatus, task: _Live, obs: d.Observation) -> None:
        self._set_status(task, action.status, action.reason)

    def _do_Wait(self, action: d.Wait, task: _Live, obs: d.Observation) -> None:
        if task.state.waiting != action.reason:
            task.state = replace(task.state, waiting=action.reason)

    def _do_NewRound(self, action: d.NewRound, task: _Live, obs: d.Observation) -> None:
        task.state = replace(task.state, round_start=len(task.state.attempts), queued_at=stamp(self.parts.now()),
                             checks=())

    def _do_StopRun(self, action: d.StopRun, task: _Live, obs: d.Observation) -> None:
        current = task.state.current
        if current is not None:
            self.parts.runner.stop(Path(current.run_dir), action.reason)

    def _do_FinishAttempt(self, action: d.FinishAttempt, task: _Live, obs: d.Observation) -> None:
        current = task.state.current
        if current is None:
            return
        finished = replace(current, outcome=action.outcome, evidence=action.evidence or current.evidence,
                           ended=current.ended or stamp(self.parts.now()))
        task.state = task.state.with_attempt(finished)
        self._write_attempt(task, finished)

    def _do_Notify(self, action: d.Notify, task: _Live, obs: d.Observation) -> None:
        key = f"{action.status.value}:{len(task.state.attempts)}"
        if task.state.notified == key:
            return
        task.state = replace(task.state, notified=key)
        self._save(task)      # remembered before sending: never more than one message per state change
        message = self._message(task, action.status)
        self.journal.inbox(stamp(self.parts.now()), task.state, message[1])
        try:
            self.parts.make_notifier(self.settings).notify(*message)
        except VaultzoeError as exc:
            log.warning("notification failed: %s", exc)

    def _message(self, task: _Live, status: Status) -> tuple[str, str]:
        from .work.notify import message_for
        title, body = message_for(status.value, task.state.title, task.state.pr_url,
                                  obsidian_uri(self.root, task.state.path))
        if task.state.reason and status != Status.REVIEW:
            body = f"{body}\n{task.state.reason}"
        return title, body

    def _do_Learn(self, action: d.Learn, task: _Live, obs: d.Observation) -> None:
        if task.note is None or not task.state.attempts:
            return
        outcome = self._outcome(task, action.merged)
        kind = learnings.kind_of(task.note)
        path = f"{LEARNINGS_DIR}/{kind}.md"
        self.journal.edit(path, lambda text: learnings.record(text or f"# Learnings: {kind}\n", outcome))

    def _outcome(self, task: _Live, merged: bool) -> "learnings.Outcome":
        state = task.state
        last = state.current
        first_try = merged and state.attempts_this_round == 1
        lesson = "" if merged else d.first_line(ctx.redact(last.evidence), 300)   # never raw output in lessons
        return learnings.Outcome(
            task_id=state.id, task_path=state.path, attempt=last.number, agent=last.agent, model=last.model,
            succeeded_first_try=first_try, merged=merged, cost_usd=state.cost_usd, duration_s=None,
            prompt_shape=_prompt_shape(Path(re.sub(r"-steer\d+$", "", last.run_dir)) / "prompt.md"),
            attempt_note=last.note, lesson=lesson,
        )

    def _do_Cleanup(self, action: d.Cleanup, task: _Live, obs: d.Observation) -> None:
        if not task.state.worktree or not task.state.repo:
            return
        try:
            self.parts.workspace.remove(self.config.repos[task.state.repo.lower()], Path(task.state.worktree))
        except (KeyError, VaultzoeError) as exc:
            log.warning("could not remove worktree %s: %s", task.state.worktree, exc)
        task.state = replace(task.state, worktree="")

    def _do_SteerRun(self, action: d.SteerRun, task: _Live, obs: d.Observation) -> None:
        current = task.state.current
        stopped = self.parts.runner.stop(Path(current.run_dir), "steered by you")
        # a running agent's session id is only in its log so far (judging an ended run is what records it)
        report = self._agent_report(vconfig.agent_config(self.config, current.agent), stopped)
        session = report.session_id or current.session_id
        steered = replace(current, steers=current.steers + (action.message,), session_id=session)
        task.state = task.state.with_attempt(steered)
        prompt = action.message if session else self._restart_prompt(steered)
        self._launch(task, steered, prompt=prompt, resume=session, steer_no=len(steered.steers))
        self._write_attempt(task, task.state.current)

    def _restart_prompt(self, attempt: Attempt) -> str:
        """No session to continue (a command agent, or one stopped before it said its id): the task again, steered."""
        first = Path(attempt.run_dir).parent / str(attempt.number) / "prompt.md"
        task_prompt = first.read_text(encoding="utf-8").rstrip()
        steers = "\n\n".join(attempt.steers)
        return f"{task_prompt}\n\n## Steer (from the human; it overrides the above)\n\n{steers}\n"

    def _do_StartAttempt(self, action: d.StartAttempt, task: _Live, obs: d.Observation) -> None:
        """Write-ahead at each step: intent, then worktree, then plan, then launch; a crash resumes where it stopped."""
        note = task.note
        repo = vconfig.repo_for(self.config, self.index, note)
        task_brief = brief(note, task.state.id, self.settings.private_folders)
        attempt = self._intent(task)
        run_dir = Path(attempt.run_dir)
        branch = task.state.branch or branch_name(task_brief.title, task.state.id)
        worktree = self.parts.workspace.ensure(repo, branch, task.state.id)
        task.state = replace(task.state, repo=repo.name, branch=branch, base=worktree.base,
                             base_commit=task.state.base_commit or worktree.base_commit, worktree=str(worktree.path),
                             waiting="", reason="")
        if repo.setup and (worktree.created or (run_dir / SETUP_PENDING).exists()):
            self._setup(repo, worktree, run_dir)
        plan, record = self._plan(task, task_brief, repo, attempt.number)
        attempt = replace(attempt, agent=plan.agent, model=plan.model, planner=plan.planner, reason=plan.reason,
                          refs_at_start=attempt.refs_at_start or worktree.refs)
        task.state = task.state.with_attempt(attempt)
        self._save(task)                 # the plan is durable before the agent exists
        self._write_attempt(task, attempt, record)
        self._launch(task, attempt, prompt=plan.prompt, resume=None, steer_no=0)

    def _intent(self, task: _Live) -> Attempt:
        """The attempt being started, recorded as `starting` before any side effect (or the one a crash cut short)."""
        current = task.state.current
        if current is not None and current.outcome == "starting":
            return current
        number = len(task.state.attempts) + 1
        run_dir = self.root / STATE_DIR / "runs" / task.state.id / str(number)
        attempt = Attempt(number=number, agent="", model=None, run_dir=str(run_dir), outcome="starting",
                          note=attempt_note_path(task.state, number), started=stamp(self.parts.now()))
        task.state = task.state.with_attempt(attempt)
        self._set_status(task, Status.RUNNING)
        self._save(task)
        return attempt

    def _setup(self, repo: RepoConfig, worktree, run_dir: Path) -> None:
        trust.require(self.trust.record(), repo=repo)
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        pending = run_dir / SETUP_PENDING
        pending.touch()                  # a crash during setup runs it again on resume
        ok, output = self.parts.workspace.run_setup(repo, worktree, run_dir / "setup.log")
        if not ok:
            raise TaskBlocked(f"The setup command of {repo.note_path} failed in the new worktree: "
                              f"{one_line(output, 300)} (fix `setup:` and set the task queued again)")
        pending.unlink()

    def _plan(self, task: _Live, task_brief, repo: RepoConfig, number: int) -> tuple[Plan, AttemptRecord]:
        pack = ctx.build_pack(self.index, task.note.path, self.settings.context_tokens,
                              private_folders=self.settings.private_folders, extra=self._extras(task, repo))
        learned = learnings.learnings_for_prompt(self.index, task_brief.kind, self.settings.private_folders)
        request = PlanRequest(
            task=task_brief, attempt=number, context=pack.render(),
            context_notes=tuple((i.path, i.tokens) for i in pack.items), repo=repo, learnings=learned,
            previous=self._evidence(task.state), agents=self.config.agent_names,
            default_agent=self.settings.default_agent,
            requested_agent=str(task.note.frontmatter.get("agent") or "auto"),
        )
        plan = self.parts.make_planner(self.settings).plan(request)
        plan = self._checked_agent(plan, task, repo)
        record = AttemptRecord(state=task.state, attempt=None, plan=plan,  # type: ignore[arg-type]
                               context=tuple((i.path, i.mode, i.tokens) for i in pack.items),
                               left_out=tuple(pack.left_out), budget=pack.budget)
        return plan, record

    def _checked_agent(self, plan: Plan, task: _Live, repo: RepoConfig) -> Plan:
        """The plan's agent must exist and be installed; else the task is blocked with the fix."""
        cfg = vconfig.agent_config(self.config, plan.agent)
        trust.require(self.trust.record(), agent=cfg)     # the planner may pick an agent preflight did not see
        problem = self.parts.make_agent(cfg).available()
        if problem:
            raise TaskBlocked(problem)
        model = plan.model or cfg.model
        return replace(plan, model=model)

    def _agent_for(self, task: _Live, repo: RepoConfig) -> AgentConfig | None:
        """Preflight: an explicitly named agent must exist and be installed (None: the planner will choose)."""
        name = str(task.note.frontmatter.get("agent") or "auto").strip()
        if name.lower() == "auto":
            name = self.settings.default_agent
            if name.lower() not in self.config.agents:
                return None
        cfg = vconfig.agent_config(self.config, name)
        problem = self.parts.make_agent(cfg).available()
        if problem and str(task.note.frontmatter.get("agent") or "auto").lower() != "auto":
            raise TaskBlocked(problem)
        return cfg

    def _extras(self, task: _Live, repo: RepoConfig) -> list[tuple[str, str]]:
        extras = []
        repo_note = self.index.note(repo.note_path)
        if repo_note is not None:
            extras.append((f"Repository {repo.name}", ctx.redact(repo_note.body.strip())))
        return extras

    def _evidence(self, state: TaskState) -> tuple[AttemptEvidence, ...]:
        return tuple(
            AttemptEvidence(attempt=a.number, agent=a.agent, exit_code=a.exit_code, outcome=a.outcome,
                            log_tail=ctx.redact(a.log_tail)[-3000:], check_output=ctx.redact(a.check_output)[-4000:],
                            review_comments=a.feedback, final_message=a.final_message[-2000:])
            for a in state.attempts if a.outcome in ("failed", "cancelled") or a.feedback
        )

    def _launch(self, task: _Live, attempt: Attempt, prompt: str, resume: str | None, steer_no: int) -> None:
        cfg = vconfig.agent_config(self.config, attempt.agent)
        trust.require(self.trust.record(), agent=cfg)     # a note edited since preflight (steers come here too)
        agent = self.parts.make_agent(cfg)
        run_dir = Path(attempt.run_dir)
        if steer_no:    # beside the attempt's first run, which keeps the task's prompt
            run_dir = run_dir.parent / f"{attempt.number}-steer{steer_no}"
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_run_dir(run_dir)             # prompts hold business context: the user's eyes only
        prompt_file = run_dir / "prompt.md"
        with open_private(prompt_file, "w") as handle:
            handle.write(prompt)
        workdir = Path(task.state.worktree)
        inv = agent.invocation(prompt_file=prompt_file, workdir=workdir, task_id=task.state.id,
                               attempt=attempt.number, model=attempt.model, resume_session=resume)
        timeout_min = cfg.timeout_minutes or self.settings.agent_timeout_minutes
        env = {**inv.env, "VAULTZOE_PROMPT_FILE": str(prompt_file), "VAULTZOE_TASK_ID": task.state.id,
               "VAULTZOE_ATTEMPT": str(attempt.number)}
        # no waiting for each agent to come up: the attempt is `starting` and the next pass adopts the run
        start = getattr(self.parts.runner, "start_nowait", self.parts.runner.start)
        start(RunSpec(task_id=task.state.id, attempt=attempt.number, argv=tuple(inv.argv),
                      workdir=workdir, run_dir=run_dir, env=env, timeout_s=timeout_min * 60))
        task.state = task.state.with_attempt(replace(attempt, run_dir=str(run_dir)))

    # ------------------------------------------------------------ writing back

    def _set_status(self, task: _Live, status: Status, reason: str = "") -> None:
        state = task.state
        if state.status == status and (not reason or reason == state.reason):
            return
        keep_reason = reason or ("" if status in (Status.RUNNING, Status.QUEUED, Status.CHECKING) else state.reason)
        task.state = replace(state, status=status, reason=keep_reason, updated=stamp(self.parts.now()),
                             waiting="" if status != Status.QUEUED else state.waiting)

    def _save(self, task: _Live) -> None:
        """Memory first, then the note; the note's status is known to be ours only once that write landed."""
        if not task.state.id:
            return
        self.states.save(task.state)
        if task.note is not None:
            self.journal.task_note(task.state)
            if task.state.note_status != task.state.status.value:
                # kept in memory; the next save records it (until then the older value errs on the safe side)
                task.state = replace(task.state, note_status=task.state.status.value)

    def _write_attempt(self, task: _Live, attempt: Attempt, record: AttemptRecord | None = None) -> None:
        run = None
        report = None
        duration = None
        if attempt.outcome != "running":
            cfg = self.config.agents.get(attempt.agent.lower())
            run = self.parts.runner.poll(Path(attempt.run_dir)) if Path(attempt.run_dir).is_dir() else None
            if cfg is not None and run is not None:
                report = self._agent_report(cfg, run)
            if run is not None and run.started and run.ended:
                duration = run.ended - run.started
        base = record or AttemptRecord(state=task.state, attempt=attempt)
        self.journal.attempt(replace(base, state=task.state, attempt=attempt, report=report or base.report,
                                     duration_s=duration))

    def _write_registry(self, live: Mapping[str, _Live]) -> None:
        rows = [_row(t) for t in live.values() if t.note is not None or t.state.id]
        self.journal.registry(rows, [(p.path, p.message, p.line) for p in self._note_problems()])


SETUP_PENDING = "setup.pending"


def _row(task: _Live):
    row = registry_row(task.state)
    if task.settling:
        return replace(row, note="its note is being saved or cannot be read right now; vaultzoe waits for it")
    return row


WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO})


@dataclass(frozen=True)
class WriteTrouble:
    since: str
    message: str


def write_error(exc: BaseException | None) -> OSError | None:
    """The OSError behind exc (or its causes) that says the disk refused a write, if any."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            return exc
        code = getattr(exc, "errno", None)
        if code in WRITE_ERRNOS:
            return OSError(code, os.strerror(code), getattr(exc, "filename", None))
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def write_private_json(path: Path, data: object) -> None:
    """Machine state: written whole (temp + rename), readable only by the user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _pass_order(task: _Live) -> tuple[int, int, str]:
    """Active tasks first (they free slots), then the queue by priority and age."""
    state = task.state
    queued = state.status == Status.QUEUED or (task.note is not None and
                                               Status.parse(task.note.frontmatter.get("status")) == Status.QUEUED)
    prio = priority_rank(task.note.frontmatter.get("priority")) if task.note is not None else 2
    return (1 if queued else 0, prio, state.queued_at or state.updated or "")


def _item(name: str, state: str, detail: str = ""):
    from .protocols import CheckItem
    return CheckItem(name=name, state=state, detail=detail)  # type: ignore[arg-type]


def _prompt_shape(prompt_file: Path) -> str:
    try:
        return learnings.prompt_shape(prompt_file.read_text(encoding="utf-8"))
    except OSError:
        return "unknown (prompt file gone)"


def _total_cost(state: TaskState) -> float:
    return round(sum(a.cost_usd or 0.0 for a in state.attempts), 6)


def obsidian_uri(root: Path, note_path: str) -> str:
    from urllib.parse import quote
    file = note_path[:-3] if note_path.endswith(".md") else note_path
    return f"obsidian://open?vault={quote(Path(root).name)}&file={quote(file)}"
