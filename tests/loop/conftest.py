"""The orchestrator driven in-process by the shipped fakes: a real vault folder, fake runner/forge/planner/notifier,
a fake workspace (plain folders) and a fake clock. A whole task life takes milliseconds.

The vault lives on a tmpfs (/dev/shm) when there is one: the store fsyncs every write, which costs ~7 ms on a
busy disk and nothing in memory; the e2e tests keep their vaults on the disk.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from vaultzoe.fakes.clock import FakeClock
from vaultzoe.fakes.forge import FakeForge
from vaultzoe.fakes.notifier import RecordingNotifier
from vaultzoe.fakes.planner import ScriptedPlanner
from vaultzoe.fakes.runner import FakeRunner
from vaultzoe.fakes.workspace import FakeWorkspace
from vaultzoe.orchestrator import Orchestrator, Parts, PassResult
from vaultzoe.scaffold import init_vault
from vaultzoe.tasks.model import TaskState
from vaultzoe.tasks.state import StateStore
from vaultzoe.trust import trust_vault
from vaultzoe.work.agents import make_agent


@dataclass
class Loop:
    """One vault and its fakes; `orch` is the running vaultzoe (`restart()` gives a new one, the world kept)."""

    vault: Path
    clock: FakeClock
    runner: FakeRunner
    forge: FakeForge
    planner: ScriptedPlanner
    notifier: RecordingNotifier
    workspace: FakeWorkspace
    parts: Parts
    orch: Orchestrator

    def task(self, name: str, status: str = "queued", extra: str = "", body: str = "") -> Path:
        path = self.vault / "Tasks" / f"{name}.md"
        path.write_text(textwrap.dedent(f"""\
            ---
            tags: [task]
            status: {status}
            repo: "[[app]]"
            agent: fake
            {extra}
            ---
            ## Goal
            Make `add` add numbers.

            ## Acceptance criteria
            - the tests pass
            """) + body, encoding="utf-8")
        return path

    def reconcile(self) -> PassResult:
        return self.orch.reconcile()

    def restart(self) -> Orchestrator:
        """A new vaultzoe process over the same vault and the same world (agents keep running)."""
        self.orch = Orchestrator(self.vault, self.parts)
        return self.orch

    def states(self) -> list[TaskState]:
        return list(StateStore(self.vault).load_all().values())

    def state(self) -> TaskState:
        found = self.states()
        assert len(found) == 1, found
        return found[0]

    def note_status(self, note: Path) -> str:
        return yaml.safe_load(note.read_text(encoding="utf-8").split("---")[1])["status"]

    def set_status(self, note: Path, status: str) -> None:
        """The human changes the status in the note's properties."""
        lines = note.read_text(encoding="utf-8").splitlines(keepends=True)
        note.write_text("".join(f"status: {status}\n" if ln.startswith("status:") else ln for ln in lines),
                        encoding="utf-8")

    def read(self, rel: str) -> str:
        return (self.vault / rel).read_text(encoding="utf-8")


@pytest.fixture
def fast_dir(tmp_path):
    """A folder in memory when the machine has /dev/shm (removed afterwards), else tmp_path."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="vaultzoe-loop-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def loop(fast_dir, tmp_path) -> Loop:
    vault = fast_dir / "vault"
    init_vault(vault)
    (vault / "Tasks/Example task.md").unlink()
    (vault / "Zoe/Repos/example-app.md").unlink()
    repo = tmp_path / "app"          # the fake workspace never runs git: a folder is enough for preflight
    repo.mkdir()
    (vault / "Zoe/Repos/app.md").write_text(f"---\npath: {repo}\nbase: main\n---\n# app\nThe app.\n")
    (vault / "Zoe/Agents/fake.md").write_text(f'---\ncommand: ["{sys.executable}", "-c", "pass"]\n---\n')
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
               "VAULTZOE_TRUST_DIR": os.environ["VAULTZOE_TRUST_DIR"]}
    trust_vault(vault, environ)
    clock = FakeClock()
    runner, forge, planner = FakeRunner(clock=clock), FakeForge(), ScriptedPlanner()
    notifier, workspace = RecordingNotifier(), FakeWorkspace(fast_dir / "worktrees")
    ids = (f"task{n:02d}" for n in itertools.count(1))
    parts = Parts(runner=runner, workspace=workspace, make_planner=lambda s: planner, make_forge=forge.make,
                  make_notifier=lambda s: notifier, make_agent=make_agent, environ=environ, now=clock.now,
                  clock=clock, free_memory_gb=lambda: 64.0, make_id=lambda: next(ids))
    return Loop(vault=vault, clock=clock, runner=runner, forge=forge, planner=planner, notifier=notifier,
                workspace=workspace, parts=parts, orch=Orchestrator(vault, parts))
