"""Starting an attempt, write-ahead at each step: intent, worktree, setup, plan, launch (and steering a run)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .. import config as vconfig
from .. import trust
from ..brain import context as ctx
from ..brain import learnings
from ..errors import TaskBlocked
from ..layout import STATE_DIR
from ..protocols import AttemptEvidence, Plan, PlanRequest, RunSpec
from ..settings import RepoConfig
from ..tasks.brief import brief
from ..tasks.journal import AttemptRecord, attempt_note_path
from ..tasks.model import Attempt, Status, TaskState, branch_name
from ..text import one_line
from ..work.runners import private_run_dir
from ..work.supervise import open_private
from .scene import Live, Scene

SETUP_PENDING = "setup.pending"


class Starter:
    """Turns a StartAttempt or a SteerRun into a running agent; a crash at any step is resumed, never repeated."""

    def __init__(self, scene: Scene):
        self.scene = scene

    def start(self, task: Live) -> None:
        """Intent, then worktree, then plan, then launch; each recorded before the next begins."""
        scene = self.scene
        repo = vconfig.repo_for(scene.config, scene.index, task.note)
        task_brief = brief(task.note, task.state.id, scene.settings.private_folders)
        attempt = self._intent(task)
        run_dir = Path(attempt.run_dir)
        branch = task.state.branch or branch_name(task_brief.title, task.state.id)
        worktree = scene.parts.workspace.ensure(repo, branch, task.state.id)
        task.state = replace(task.state, repo=repo.name, branch=branch, base=worktree.base,
                             base_commit=task.state.base_commit or worktree.base_commit, worktree=str(worktree.path),
                             waiting="", reason="")
        if repo.setup and (worktree.created or (run_dir / SETUP_PENDING).exists()):
            self._setup(repo, worktree, run_dir)
        plan, record = self._plan(task, task_brief, repo, attempt.number)
        attempt = replace(attempt, agent=plan.agent, model=plan.model, planner=plan.planner, reason=plan.reason,
                          refs_at_start=attempt.refs_at_start or worktree.refs)
        task.state = task.state.with_attempt(attempt)
        scene.save(task)                 # the plan is durable before the agent exists
        scene.write_attempt(task, attempt, record)
        self.launch(task, attempt, prompt=plan.prompt, resume=None, steer_no=0)

    def steer(self, task: Live, message: str) -> None:
        """Stop the running agent and continue its session with the human's message (or restart it, steered)."""
        scene = self.scene
        current = task.state.current
        stopped = scene.parts.runner.stop(Path(current.run_dir), "steered by you")
        # a running agent's session id is only in its log so far (judging an ended run is what records it)
        report = scene.agent_report(vconfig.agent_config(scene.config, current.agent), stopped)
        session = report.session_id or current.session_id
        steered = replace(current, steers=current.steers + (message,), session_id=session)
        task.state = task.state.with_attempt(steered)
        prompt = message if session else _restart_prompt(steered)
        self.launch(task, steered, prompt=prompt, resume=session, steer_no=len(steered.steers))
        scene.write_attempt(task, task.state.current)

    def _intent(self, task: Live) -> Attempt:
        """The attempt being started, recorded as `starting` before any side effect (or the one a crash cut short)."""
        scene = self.scene
        current = task.state.current
        if current is not None and current.outcome == "starting":
            return current
        number = len(task.state.attempts) + 1
        run_dir = scene.root / STATE_DIR / "runs" / task.state.id / str(number)
        attempt = Attempt(number=number, agent="", model=None, run_dir=str(run_dir), outcome="starting",
                          note=attempt_note_path(task.state, number), started=scene.now())
        task.state = task.state.with_attempt(attempt)
        scene.set_status(task, Status.RUNNING)
        scene.save(task)
        return attempt

    def _setup(self, repo: RepoConfig, worktree, run_dir: Path) -> None:
        trust.require(self.scene.trust.record(), repo=repo)
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        pending = run_dir / SETUP_PENDING
        pending.touch()                  # a crash during setup runs it again on resume
        ok, output = self.scene.parts.workspace.run_setup(repo, worktree, run_dir / "setup.log")
        if not ok:
            raise TaskBlocked(f"The setup command of {repo.note_path} failed in the new worktree: "
                              f"{one_line(output, 300)} (fix `setup:` and set the task queued again)")
        pending.unlink()

    # ------------------------------------------------------------ the plan

    def _plan(self, task: Live, task_brief, repo: RepoConfig, number: int) -> tuple[Plan, AttemptRecord]:
        """The context pack, lessons and earlier attempts' evidence, handed to the planner."""
        scene = self.scene
        settings = scene.settings
        pack = ctx.build_pack(scene.index, task.note.path, settings.context_tokens,
                              private_folders=settings.private_folders, extra=self._extras(repo))
        request = PlanRequest(
            task=task_brief, attempt=number, context=pack.render(),
            context_notes=tuple((i.path, i.tokens) for i in pack.items), repo=repo,
            learnings=learnings.learnings_for_prompt(scene.index, task_brief.kind, settings.private_folders),
            previous=evidence(task.state), agents=scene.config.agent_names, default_agent=settings.default_agent,
            requested_agent=str(task.note.frontmatter.get("agent") or "auto"),
        )
        plan = self._checked_agent(scene.parts.make_planner(settings).plan(request))
        record = AttemptRecord(state=task.state, attempt=None, plan=plan,  # type: ignore[arg-type]
                               context=tuple((i.path, i.mode, i.tokens) for i in pack.items),
                               left_out=tuple(pack.left_out), budget=pack.budget)
        return plan, record

    def _checked_agent(self, plan: Plan) -> Plan:
        """The plan's agent must exist, be trusted and be installed; else the task is blocked with the fix."""
        cfg = vconfig.agent_config(self.scene.config, plan.agent)
        trust.require(self.scene.trust.record(), agent=cfg)     # the planner may pick an agent preflight did not see
        problem = self.scene.parts.make_agent(cfg).available()
        if problem:
            raise TaskBlocked(problem)
        return replace(plan, model=plan.model or cfg.model)

    def _extras(self, repo: RepoConfig) -> list[tuple[str, str]]:
        repo_note = self.scene.index.note(repo.note_path)
        return [(f"Repository {repo.name}", ctx.redact(repo_note.body.strip()))] if repo_note is not None else []

    # ------------------------------------------------------------ the launch

    def launch(self, task: Live, attempt: Attempt, prompt: str, resume: str | None, steer_no: int) -> None:
        """The prompt file (private), the run spec, and the agent started under its supervisor."""
        scene = self.scene
        cfg = vconfig.agent_config(scene.config, attempt.agent)
        trust.require(scene.trust.record(), agent=cfg)     # a note edited since preflight (steers come here too)
        agent = scene.parts.make_agent(cfg)
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
        timeout_min = cfg.timeout_minutes or scene.settings.agent_timeout_minutes
        env = {**inv.env, "VAULTZOE_PROMPT_FILE": str(prompt_file), "VAULTZOE_TASK_ID": task.state.id,
               "VAULTZOE_ATTEMPT": str(attempt.number)}
        # no waiting for each agent to come up: the attempt is `starting` and the next pass adopts the run
        scene.parts.runner.start_nowait(RunSpec(task_id=task.state.id, attempt=attempt.number, argv=tuple(inv.argv),
                                                workdir=workdir, run_dir=run_dir, env=env, timeout_s=timeout_min * 60))
        task.state = task.state.with_attempt(replace(attempt, run_dir=str(run_dir)))


def evidence(state: TaskState) -> tuple[AttemptEvidence, ...]:
    """What went wrong in earlier attempts (redacted), for the next prompt."""
    return tuple(
        AttemptEvidence(attempt=a.number, agent=a.agent, exit_code=a.exit_code, outcome=a.outcome,
                        log_tail=ctx.redact(a.log_tail)[-3000:], check_output=ctx.redact(a.check_output)[-4000:],
                        review_comments=a.feedback, final_message=a.final_message[-2000:])
        for a in state.attempts if a.outcome in ("failed", "cancelled") or a.feedback
    )


def _restart_prompt(attempt: Attempt) -> str:
    """No session to continue (a command agent, or one stopped before it said its id): the task again, steered."""
    first = Path(attempt.run_dir).parent / str(attempt.number) / "prompt.md"
    task_prompt = first.read_text(encoding="utf-8").rstrip()
    steers = "\n\n".join(attempt.steers)
    return f"{task_prompt}\n\n## Steer (from the human; it overrides the above)\n\n{steers}\n"
