"""Fixtures for running the real Claude Code and Codex CLIs offline against the local model stub.

The CLIs come from `.ci/install-agents` (pinned versions in .ci/cache/agents). Each run gets its own config
home (CLAUDE_CONFIG_DIR, CODEX_HOME) and talks only to the stub on 127.0.0.1, through the agent note's
`env` and `args`, exactly as a user's Zoe/Agents/<name>.md would set them.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from vaultzoe.protocols import Invocation, RunSpec
from vaultzoe.settings import AgentConfig
from vaultzoe.work.runners import ProcessRunner

ROOT = Path(__file__).resolve().parents[2]
AGENTS_BIN = Path(os.environ.get("VAULTZOE_AGENTS_PREFIX", ROOT / ".ci" / "cache" / "agents")) / "bin"
GIT_ID = ("-c", "user.name=Test Author", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false")
CODEX_MODEL = "gpt-5.5"


@pytest.fixture(scope="session")
def agents_bin() -> Path:
    """The bin dir holding the pinned `claude` and `codex`."""
    if (AGENTS_BIN / "claude").exists() and (AGENTS_BIN / "codex").exists():
        return AGENTS_BIN
    reason = f"Agent CLIs not installed in {AGENTS_BIN}: run .ci/install-agents"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run it before pytest)")
    pytest.skip(reason)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_ID, *args], cwd=repo, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo with one commit and a local identity, so an agent's plain `git commit` works."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Agent")
    git(path, "config", "user.email", "agent@localhost")
    git(path, "config", "commit.gpgsign", "false")
    (path / "README.md").write_text("# app\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


def claude_config(agents_bin: Path, stub_url: str, home: Path) -> AgentConfig:
    """What an agent note pointing Claude Code at the stub holds."""
    env = {"CLAUDE_CONFIG_DIR": str(home), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_MAX_RETRIES": "0",
           "ANTHROPIC_BASE_URL": stub_url, "ANTHROPIC_API_KEY": "test"}
    return AgentConfig(name="claude", kind="claude", command=(str(agents_bin / "claude"),), env=env)


def codex_config(agents_bin: Path, stub_url: str, home: Path) -> AgentConfig:
    """What an agent note pointing Codex at the stub holds (a custom provider with no retries)."""
    home.mkdir(parents=True, exist_ok=True)          # Codex refuses a CODEX_HOME that does not exist
    provider = (f'model_providers.stub={{name="stub", base_url="{stub_url}/v1", env_key="STUB_KEY", '
                f'wire_api="responses", request_max_retries=0, stream_max_retries=0}}')
    args = ("-c", "model_provider=stub", "-c", provider,
            "--disable", "plugins", "--disable", "apps", "--disable", "remote_plugin")
    return AgentConfig(name="codex", kind="codex", command=(str(agents_bin / "codex"),), model=CODEX_MODEL,
                       args=args, env={"CODEX_HOME": str(home), "STUB_KEY": "test"})


@dataclass(frozen=True)
class Run:
    exit_code: int | None
    log: str
    seconds: float


def run_agent(invocation: Invocation, workdir: Path, run_dir: Path, timeout_s: float = 120) -> Run:
    """Run an invocation with the real ProcessRunner (detached, stdin /dev/null) and wait for its exit."""
    runner = ProcessRunner(grace_s=2.0)
    spec = RunSpec(task_id="t1", attempt=1, argv=invocation.argv, workdir=workdir, run_dir=run_dir,
                   env=dict(invocation.env), timeout_s=timeout_s)
    began = time.monotonic()
    state = runner.start(spec)
    while state.running:
        time.sleep(0.1)
        state = runner.poll(run_dir)
    return Run(exit_code=state.exit_code, log=runner.read_log(run_dir), seconds=time.monotonic() - began)


@pytest.fixture
def write_prompt(tmp_path: Path):
    """Write a prompt file and return its path."""
    count = iter(range(1, 1000))

    def write(text: str) -> Path:
        path = tmp_path / "prompts" / f"prompt-{next(count)}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
