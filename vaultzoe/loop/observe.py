"""Observe: what a task's world looks like now (its note, its agent's run, the forge, room to start), no side effects.

Reading the runner, the forge and the notes is all this does; whatever follows from it is an action `decide`
chooses and the executor carries out.
"""

from __future__ import annotations

from pathlib import Path

from .. import config as vconfig
from .. import trust
from ..errors import TaskBlocked
from ..protocols import AgentReport, ForgeReport, RunState
from ..settings import AgentConfig, RepoConfig
from ..tasks import decide as d
from ..tasks.brief import fingerprint, steer_message
from ..tasks.model import Status
from .scene import Live, Scene


class Observer:
    """Builds each task's `Observation`; remembers only when it last looked at the forge (pacing)."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.last_forge_look: dict[str, float] = {}
        # kept for one pass (scene.passes): preflight per (repo, named agent), and who runs (see _track)
        self._pass = -1
        self._preflight: dict[tuple[str, str], str | None] = {}
        self._live: dict[str, Live] | None = None
        self._running: set[int] = set()
        self._last: Live | None = None

    def _this_pass(self, live: dict[str, Live] | None = None) -> None:
        """Forget what was kept for an earlier pass (or for another set of tasks)."""
        if self._pass != self.scene.passes or (live is not None and live is not self._live):
            self._pass = self.scene.passes
            self._preflight.clear()
            self._live, self._last = None, None

    def observe(self, task: Live, live: dict[str, Live]) -> d.Observation:
        scene, state = self.scene, task.state
        if not state.id:
            return d.Observation(note_status=state.status, max_attempts=scene.settings.max_attempts)
        self._track(task, live)
        note_status = Status.parse(task.note.frontmatter.get("status")) if task.note else None
        run = self._run(task)
        ended = self._ended(task, run)
        judgement, new = (task.judgement, False) if task.judgement is not None else (self._forge_view(task), True)
        problem = self.problem(task) if state.status == Status.QUEUED or note_status == Status.QUEUED else None
        return d.Observation(
            note_status=None if task.gone else note_status, max_attempts=scene.settings.max_attempts, run=run,
            judgement=judgement, judgement_new=new and judgement is not None, ended=ended, problem=problem,
            room=self._room(task, live) if not problem else None, steer=self._new_steer(task, run),
            note_missing=bool(task.gone), gone=task.gone,
        )

    # ------------------------------------------------------------ the agent's run

    def _run(self, task: Live) -> RunState | None:
        current = task.state.current
        if current is None or current.outcome not in ("running", "starting"):
            return None
        run_dir = Path(current.run_dir)
        if not run_dir.is_dir() or (current.outcome == "starting" and not current.agent):
            return None
        if current.outcome == "running":
            self.scene.parts.runner.enforce_timeout(run_dir)   # the deadline is the supervisor's; this only backs it up
        return self.scene.parts.runner.poll(run_dir)

    def _ended(self, task: Live, run: RunState | None) -> d.EndedRun | None:
        """The ended run of a running attempt not yet judged: its exit and what its log says."""
        state, current = task.state, task.state.current
        if (state.status != Status.RUNNING or current is None or current.outcome != "running" or run is None
                or run.running or task.judgement is not None):
            return None
        report = self.scene.agent_report(vconfig.agent_config(self.scene.config, current.agent), run)
        tail = self.scene.tail(run)
        failed = run.timed_out or run.exit_code != 0 or report.is_error
        return d.EndedRun(exit_code=run.exit_code, session_id=report.session_id, log_tail=tail,
                          final_message=report.final_message, cost_usd=report.cost_usd,
                          failure=exit_evidence(run, report, tail) if failed else "")

    # ------------------------------------------------------------ the forge

    def _forge_view(self, task: Live) -> ForgeReport | None:
        """While checking or in review: the PR, CI and reviews, looked at no more than every poll_seconds."""
        scene, state = self.scene, task.state
        if state.status not in (Status.CHECKING, Status.REVIEW) or not state.repo or task.note is None:
            return None
        wait = min(scene.settings.poll_seconds, 30.0)
        now = scene.parts.clock()
        if now - self.last_forge_look.get(state.id, float("-inf")) < wait:
            return None         # a busy loop passes every second; GitHub allows 5,000 requests an hour
        self.looked(state.id)
        return scene.forge(task).observe(scene.job(task))

    def looked(self, task_id: str) -> None:
        """The forge was just asked about this task (a submission looks at the PR and CI too)."""
        self.last_forge_look[task_id] = self.scene.parts.clock()

    # ------------------------------------------------------------ can it start?

    def problem(self, task: Live) -> str | None:
        """What the human must fix before this task can start (None when nothing)."""
        scene = self.scene
        if scene.config.settings_error:
            return scene.config.settings_error
        try:
            repo = vconfig.repo_for(scene.config, scene.index, task.note)
        except TaskBlocked as exc:
            return str(exc)
        # the same repo and agent give the same answer all pass (`shutil.which`, trust): asked once per pass
        self._this_pass()
        key = (repo.name.lower(), str(task.note.frontmatter.get("agent") or "auto").strip())
        if key not in self._preflight:
            self._preflight[key] = self._preflight_of(task, repo)
        return self._preflight[key]

    def _preflight_of(self, task: Live, repo: RepoConfig) -> str | None:
        try:
            agent_cfg = self.named_agent(task, repo)
        except TaskBlocked as exc:
            return str(exc)
        return trust.check(self.scene.trust.record(), repo, agent_cfg)

    def named_agent(self, task: Live, repo: RepoConfig) -> AgentConfig | None:
        """Preflight: an explicitly named agent must exist and be installed (None: the planner will choose)."""
        scene = self.scene
        asked = str(task.note.frontmatter.get("agent") or "auto").strip()
        name = asked
        if name.lower() == "auto":
            name = scene.settings.default_agent
            if name.lower() not in scene.config.agents:
                return None
        cfg = vconfig.agent_config(scene.config, name)
        problem = scene.parts.make_agent(cfg).available()
        if problem and asked.lower() != "auto":
            raise TaskBlocked(problem)
        return cfg

    def _room(self, task: Live, live: dict[str, Live]) -> str | None:
        settings = self.scene.settings
        self._track(task, live)
        running = len(self._running) - (id(task) in self._running)
        if running >= settings.max_agents:
            return f"waiting for a free agent slot ({running} of max_agents {settings.max_agents} running)"
        free = self.scene.parts.free_memory_gb()
        if free < settings.min_free_memory_gb:
            return (f"waiting for memory: {free:.1f} GB available, min_free_memory_gb is "
                    f"{settings.min_free_memory_gb:g}")
        return None

    def _track(self, task: Live, live: dict[str, Live]) -> None:
        """Who runs, counted once per pass: within a pass a task's status changes only during its own step, so
        the task observed before this one is looked at again (its step is over), and this one."""
        self._this_pass(live)
        if self._live is None:
            self._live = live
            self._running = {id(t) for t in live.values() if t.state.status == Status.RUNNING}
        for seen in (self._last, task):
            if seen is not None:
                (self._running.add if seen.state.status == Status.RUNNING else self._running.discard)(id(seen))
        self._last = task

    def _new_steer(self, task: Live, run: RunState | None) -> str:
        if task.note is None or run is None or not run.running or task.state.current is None:
            return ""
        message = steer_message(task.note)
        if not message:
            return ""
        seen = {fingerprint(m) for m in task.state.current.steers}
        return "" if fingerprint(message) in seen else message


def exit_evidence(run: RunState, report: AgentReport, tail: str) -> str:
    """Why an ended agent failed, for the attempt note and the next prompt."""
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
