"""The reconcile pass: the only place that sequences the parts.

Each pass reads the desired state (task notes), adopts them (loop/adopt.py), observes each task's world
(loop/observe.py), asks the pure `decide` (tasks/decide.py) what to do, carries it out (loop/execute.py),
and writes the registry. File events and timers decide only *when* a pass runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from .brain import context as ctx
from .errors import ForgeUnavailable, TaskBlocked, VaultzoeError, WriteConflict
from .loop.adopt import Adopter
from .loop.execute import Executor
from .loop.health import Health
from .loop.observe import Observer
from .loop.parts import Parts, obsidian_uri, stamp, worktrees_root
from .loop.scene import Live, Scene
from .tasks import adoption
from .tasks import decide as d
from .tasks.journal import one_line, registry_row
from .tasks.model import Status, priority_rank
from .vault.index import VaultIndex

log = logging.getLogger("vaultzoe")

MAX_STEPS = 4      # decide/act rounds per task per pass: a retry may start again, a submission is judged at once

__all__ = ["Orchestrator", "Parts", "PassResult", "obsidian_uri", "stamp", "worktrees_root"]


@dataclass(frozen=True)
class PassResult:
    counts: Mapping[str, int]
    errors: tuple[str, ...] = ()
    config_error: str | None = None
    write_refused: bool = False       # the disk refused writes this pass (the daemon backs off)

    @property
    def busy(self) -> bool:
        return any(self.counts.get(s.value, 0) for s in (Status.QUEUED, Status.RUNNING, Status.CHECKING))

    @property
    def watching(self) -> bool:
        """Whether the world can change without a vault edit (agents, CI, reviews, merges): timer passes matter."""
        return self.busy or bool(self.counts.get(Status.REVIEW.value, 0))


class Orchestrator:
    """One pass over every task: adopt, then observe -> decide -> act per task, then the registry."""

    def __init__(self, root: Path, parts: Parts, flags: Mapping[str, object] | None = None,
                 index: VaultIndex | None = None):
        self.scene = Scene(root, parts, flags or {}, index)
        self.adopter = Adopter(self.scene)
        self.observer = Observer(self.scene)
        self.executor = Executor(self.scene, self.observer)
        self.health = Health(self.scene)

    # the scene's parts, as callers and tests know them
    root = property(lambda self: self.scene.root)
    parts = property(lambda self: self.scene.parts)
    index = property(lambda self: self.scene.index)
    store = property(lambda self: self.scene.store)
    journal = property(lambda self: self.scene.journal)
    states = property(lambda self: self.scene.states)
    config = property(lambda self: self.scene.config)
    settings = property(lambda self: self.scene.settings)
    write_trouble = property(lambda self: self.health.trouble)

    def reconcile(self, dirty: set[str] | None = None, rescan: bool = True) -> PassResult:
        """One level-triggered pass over every task."""
        scene = self.scene
        self._refresh_index(dirty, rescan)
        scene.reload_config()
        self.health.begin_pass()
        live = self.adopter.adopt(scene.states.load_all())
        errors: list[str] = []
        for task in sorted(live.values(), key=_pass_order):
            errors += self._step_guarded(task, live)
        problems = self._problems()
        errors += self.health.guarded("the registry", lambda: self._write_registry(live, problems))
        errors += self.health.guarded("the inbox", lambda: self.health.report_problems(problems))
        for path in scene.journal.take_touched():
            # the watcher drops our own writes, so the index learns of them here (a human edit we merged included)
            scene.index.update(path)
        errors += self.health.guarded("the index cache", lambda: scene.index.save(min_interval=10.0))
        refused = self.health.failed_this_pass
        self.health.end_pass()
        counts: dict[str, int] = {}
        for task in live.values():
            # notes never queued are listed, but only tasks vaultzoe manages make it busy
            key = task.state.status.value if task.state.id else "never queued"
            counts[key] = counts.get(key, 0) + 1
        return PassResult(counts, tuple(errors), scene.config.settings_error, refused)

    def close(self) -> None:
        """Write what the index cache still lacks (the next start then reads only what changed)."""
        self.scene.index.save()

    def _refresh_index(self, dirty: set[str] | None, rescan: bool) -> None:
        index = self.scene.index
        if rescan or dirty is None:
            changed = index.refresh()
        else:
            for path in dirty:
                index.update(path)
            changed = dirty
        ctx.note_changed(index, changed)

    # ------------------------------------------------------------ one task: observe -> decide -> act

    def _step(self, task: Live, live: dict[str, Live]) -> None:
        if not task.state.id or task.settling:
            return            # a note never queued is only listed; a note being saved is read again next pass
        for _ in range(MAX_STEPS):
            before = task.state
            obs = self.observer.observe(task, live)
            actions = d.decide(task.state, obs)
            for action in actions:
                self.executor.run(action, task, obs)
            if task.state == before and task.note is not None and self.scene.journal.shows(task.state, task.note.text):
                self.scene.states.save(task.state)   # its note, as read this pass, says all this already: no re-read
            else:
                self.scene.save(task)
            if not actions or task.state == before or not _goes_on(task, actions):
                return

    # ------------------------------------------------------------ error policy

    def _step_guarded(self, task: Live, live: dict[str, Live]) -> list[str]:
        """The one broad catch: a task's failure is recorded in its note and the others go on, whatever happens."""
        try:
            return self._step_handled(task, live)
        except Exception as exc:  # noqa: BLE001 - the error path itself failed (a full disk, an unwritable note)
            if self.health.refused(exc):
                return [f"{task.state.path}: {self.health.message(exc)}"]
            log.error("task %s: recording its failure failed too: %s: %s", task.state.id, type(exc).__name__,
                      one_line(str(exc), 300))
            return [f"{task.state.path}: {type(exc).__name__}: {exc}"]

    def _step_handled(self, task: Live, live: dict[str, Live]) -> list[str]:
        try:
            self._step(task, live)
            if task.state.waiting and task.state.status != Status.QUEUED:
                task.state = replace(task.state, waiting="")
                self.scene.save(task)
            return []
        except ForgeUnavailable as exc:
            # a passing outage: the task keeps its status and is looked at again next pass
            task.state = replace(task.state, waiting=str(exc))
            self.scene.save(task)
            return [f"{task.state.path}: {exc}"]
        except WriteConflict as exc:
            # the human is saving this note right now: nothing is lost, the pass after this one tries again
            log.info("task %s: its note is being edited; trying again next pass (%s)", task.state.id, exc)
            return [f"{task.state.path}: {exc}"]
        except TaskBlocked as exc:
            log.info("task %s blocked: %s", task.state.id, exc)
            self.executor.block(task, str(exc))
            return [f"{task.state.path}: {exc}"]
        except Exception as exc:  # noqa: BLE001 - recorded in the vault, loop carries on
            if self.health.refused(exc):
                return [f"{task.state.path}: {self.health.message(exc)}"]
            if isinstance(exc, VaultzoeError):
                log.warning("task %s: %s", task.state.id, one_line(str(exc), 300))
                reason = str(exc)
            else:
                log.exception("task %s failed this pass", task.state.id)
                reason = f"vaultzoe hit an error: {type(exc).__name__}: {exc}"
            self.executor.block(task, reason)
            return [f"{task.state.path}: {reason}"]

    # ------------------------------------------------------------ the registry

    def _problems(self) -> list[adoption.Problem]:
        """This pass's adoption problems, and every note that looks like a task but cannot be read (the index)."""
        unreadable = [adoption.Problem(p.path, p.message, p.line) for p in self.scene.index.problems()
                      if not self.adopter.is_template(p.path)]
        return list(self.adopter.problems) + unreadable

    def _write_registry(self, live: Mapping[str, Live], problems: list[adoption.Problem]) -> None:
        rows = [_row(t) for t in live.values() if t.note is not None or t.state.id]
        self.scene.journal.registry(rows, [(p.path, p.message, p.line) for p in problems])


def _goes_on(task: Live, actions: list[d.Action]) -> bool:
    """Decide again this pass: a retry (queued) may start at once, a start or submission is followed up at once."""
    follow_up = (d.Submit, d.AdoptRun, d.RecordRun, d.Review)
    return task.state.status == Status.QUEUED or any(isinstance(a, follow_up) for a in actions)


def _row(task: Live):
    row = registry_row(task.state)
    if task.settling:
        return replace(row, note="its note is being saved or cannot be read right now; vaultzoe waits for it")
    return row


def _pass_order(task: Live) -> tuple[int, int, str]:
    """Active tasks first (they free slots), then the queue by priority and age."""
    state = task.state
    queued = state.status == Status.QUEUED or (task.note is not None and
                                               Status.parse(task.note.frontmatter.get("status")) == Status.QUEUED)
    prio = priority_rank(task.note.frontmatter.get("priority")) if task.note is not None else 2
    return (1 if queued else 0, prio, state.queued_at or state.updated or "")
