"""A real vault, a real git repo and scripted command agents, driven through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vaultzoe.cli import app
from vaultzoe.scaffold import init_vault
from vaultzoe.trust import trust_vault

PY = sys.executable

# A scripted agent. argv: MODE WORKDIR LOGFILE. Modes:
#   good       write a passing solution and commit
#   bad-then-good  commit a failing solution unless the prompt carries the failing test's name
#   bad        always commit a failing solution
#   sleep      start a grandchild, then sleep (for cancel/restart tests); commits a good solution at the end
#   none       exit 0 without committing
AGENT = r'''
import os, subprocess, sys, time
from pathlib import Path
mode, workdir, logfile = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
prompt = Path(os.environ["VAULTZOE_PROMPT_FILE"]).read_text(encoding="utf-8")
with open(logfile, "a") as fh:
    fh.write(f"start {os.environ.get('VAULTZOE_TASK_ID')} {os.environ.get('VAULTZOE_ATTEMPT')} {os.getpid()}\n")
print("agent started in", workdir, "mode", mode)
good = "def add(a, b):\n    return a + b\n"
bad = "def add(a, b):\n    return a - b\n"
if mode == "sleep":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(logfile, "a") as fh:
        fh.write(f"child {child.pid}\n")
    time.sleep(float(os.environ.get("AGENT_SLEEP", "120")))
if mode == "none":
    print("nothing to do")
    sys.exit(0)
if mode == "fail":
    print("something went wrong", file=sys.stderr)
    sys.exit(3)
code = good
if mode == "bad" or (mode == "bad-then-good" and "test_add_adds" not in prompt):
    code = bad
(workdir / "calc.py").write_text(code)
git = ["git", "-c", "user.name=agent", "-c", "user.email=agent@example.invalid", "-c", "commit.gpgsign=false"]
subprocess.run(git + ["add", "calc.py"], cwd=workdir, check=True)
subprocess.run(git + ["commit", "-q", "-m", f"agent: {mode}"], cwd=workdir, check=True)
print("committed", mode)
'''

TEST_FILE = '''import unittest
from calc import add


class CalcTest(unittest.TestCase):
    def test_add_adds(self):
        self.assertEqual(add(2, 3), 5)


if __name__ == "__main__":
    unittest.main()
'''

GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@dataclass
class World:
    vault: Path
    repo: Path
    origin: Path
    agent_log: Path
    tmp: Path

    def cli(self, *args: str, timeout: float | None = None):
        result = CliRunner().invoke(app, [*args], catch_exceptions=False)
        return result

    def run_once(self):
        return self.cli("run", str(self.vault), "--once")

    def until_idle(self, timeout: float = 60):
        return self.cli("run", str(self.vault), "--until-idle", "--timeout", str(timeout))

    def task(self, name: str, mode: str = "good", status: str = "queued", extra: str = "", body: str = "") -> Path:
        path = self.vault / "Tasks" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(f"""\
            ---
            tags: [task]
            status: {status}
            repo: "[[calc]]"
            agent: {mode}
            {extra}
            ---
            ## Goal
            Make `add` add numbers.

            ## Acceptance criteria
            - the tests pass
            {body}
            """), encoding="utf-8")
        return path

    def read(self, rel: str) -> str:
        return (self.vault / rel).read_text(encoding="utf-8")

    def starts(self) -> list[str]:
        if not self.agent_log.exists():
            return []
        return [ln for ln in self.agent_log.read_text().splitlines() if ln.startswith("start")]


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    # a fresh machine: no git identity, no API keys, worktrees in the test's tmp dir
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in ("ANTHROPIC_API_KEY", "GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VAULTZOE_WORKTREES", str(tmp_path / "worktrees"))
    monkeypatch.setenv("VAULTZOE_PLANNER", "template")
    monkeypatch.setenv("VAULTZOE_MIN_FREE_MEMORY_GB", "0")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo = tmp_path / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text("def add(a, b):\n    raise NotImplementedError\n")
    (repo / "test_calc.py").write_text(TEST_FILE)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    vault = tmp_path / "vault"
    init_vault(vault)
    (vault / "Tasks/Example task.md").unlink()
    (vault / "Zoe/Repos/example-app.md").unlink()
    (vault / "Zoe/Repos/calc.md").write_text(
        f'---\npath: {repo}\nbase: main\ncheck: ["{PY}", "-m", "unittest", "-q"]\n---\n# calc\nA calculator.\n')
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    log = tmp_path / "agent.log"
    for mode in ("good", "bad", "bad-then-good", "sleep", "none", "fail"):
        (vault / f"Zoe/Agents/{mode}.md").write_text(
            f'---\ncommand: ["{PY}", "{script}", "{mode}", "{{workdir}}", "{log}"]\n---\n')
    # settings the tests rely on
    zoe = vault / "Zoe/Zoe.md"
    zoe.write_text(zoe.read_text().replace("poll_seconds: 10", "poll_seconds: 0.2"))
    trust_vault(vault, os.environ)       # as `vaultzoe trust VAULT` would, after the human read the notes
    return World(vault=vault, repo=repo, origin=origin, agent_log=log, tmp=tmp_path)
