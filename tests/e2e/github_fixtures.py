"""The e2e world with GitHub in it: the GitHub stub over the bare origin, a CI that really runs the tests of
every pushed head, a webhook that receives apprise's notifications, and scripted agents that react to what
their prompt says (CI output, review comments). Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.stubs.github_stub import GitHubStub
from vaultzoe.tasks.model import TaskState
from vaultzoe.tasks.state import StateStore
from vaultzoe.trust import trust_vault

from .conftest import World

PY = sys.executable
# secret-looking, in GitHub's own format, so any leak is unmistakable in a grep
TOKEN = "ghp_vz7Ek2eSecretT0kenNeverWrittenQx41"
PULLS = r"/repos/octo/app/pulls"
CHECK_NAME = "unit tests"

# Scripted agents. argv: MODE WORKDIR. Each run commits something new, so every attempt moves the branch head.
#   ci-fixer   commits a broken `add` unless its prompt quotes the failing assertion from CI
#   careful    commits a working `add`; documents it when its prompt carries the reviewer's request
AGENT = r'''
import os, subprocess, sys
from pathlib import Path
mode, workdir = sys.argv[1], Path(sys.argv[2])
prompt = Path(os.environ["VAULTZOE_PROMPT_FILE"]).read_text(encoding="utf-8")
code = "def add(a, b):\n    return a + b\n"
if mode == "ci-fixer" and "-1 != 5" not in prompt:
    code = "def add(a, b):\n    return a - b\n"
if mode == "careful" and "Please document add" in prompt:
    code = 'def add(a, b):\n    """The sum of a and b."""\n    return a + b\n'
(workdir / "calc.py").write_text(code)
git = ["git", "-c", "user.name=agent", "-c", "user.email=agent@example.invalid", "-c", "commit.gpgsign=false"]
subprocess.run(git + ["add", "calc.py"], cwd=workdir, check=True)
subprocess.run(git + ["commit", "-q", "-m", f"agent {mode}, attempt {os.environ['VAULTZOE_ATTEMPT']}"],
               cwd=workdir, check=True)
print("committed", mode)
'''
AGENTS = ("ci-fixer", "careful")


class Webhook:
    """A local endpoint for apprise's json:// channel: records every message POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/vaultzoe"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeCI:
    """GitHub Actions for the stub: each new head of a `zoe/` branch on origin gets a check run that runs the
    repo's unit tests at that commit (a real `python -m unittest`), with its output and a job log."""

    def __init__(self, stub: GitHubStub, origin: Path, scratch: Path) -> None:
        self.stub, self.origin, self.scratch = stub, origin, scratch
        self.results: dict[str, str] = {}          # head sha -> conclusion
        self.paused = threading.Event()            # set: new heads wait (CI has not picked them up yet)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            if self.paused.is_set():
                continue
            for sha in self._heads():
                if sha not in self.results:
                    try:
                        self.results[sha] = self._run(sha)
                    except Exception as exc:  # noqa: BLE001 - a broken CI shows in the results, not as a hang
                        self.results[sha] = f"CI broke: {exc!r}"

    def _heads(self) -> list[str]:
        done = subprocess.run(["git", "--git-dir", str(self.origin), "for-each-ref", "--format=%(objectname)",
                               "refs/heads/zoe/"], capture_output=True, text=True, check=False)
        return done.stdout.split()

    def _run(self, sha: str) -> str:
        run_id = self.stub.add_check_run(sha, CHECK_NAME, status="in_progress", conclusion=None)
        checkout = self.scratch / sha
        archive = subprocess.run(["git", "--git-dir", str(self.origin), "archive", "--format=tar", sha],
                                 capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(checkout, filter="data")
        tests = subprocess.run([PY, "-m", "unittest", "-v"], cwd=checkout, capture_output=True, text=True,
                               timeout=120, check=False)
        output = (tests.stdout + tests.stderr).strip()
        conclusion = "success" if tests.returncode == 0 else "failure"
        with self.stub._lock:      # one consistent update, never half a check run to a reader
            run = next(r for r in self.stub.check_runs if r.id == run_id)
            run.title = "tests passed" if tests.returncode == 0 else "tests failed"
            run.summary = output.splitlines()[-1] if output else ""
            run.text = output
            run.log = _actions_log(["##[group]Run python -m unittest -v", *output.splitlines(), "##[endgroup]"]
                                   + ([] if tests.returncode == 0 else
                                      [f"##[error]Process completed with exit code {tests.returncode}."])
                                   + ["Post job cleanup."])
            run.conclusion, run.status = conclusion, "completed"
        return conclusion


def _actions_log(lines: list[str]) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return "".join(f"{stamp}.{i:07d}Z {line}\n" for i, line in enumerate(lines))


@dataclass
class GitHubWorld:
    """conftest's World (vault, clone, bare origin) with GitHub, CI and a notification endpoint."""

    world: World
    stub: GitHubStub
    ci: FakeCI
    webhook: Webhook

    def task(self, name: str, agent: str) -> Path:
        return self.world.task(name, mode=agent)

    def run_once(self):
        result = self.world.run_once()
        assert result.exit_code == 0, result.output
        return result

    def until_idle(self, timeout: float = 45):
        result = self.world.until_idle(timeout)
        assert result.exit_code == 0, result.output
        return result

    def states(self) -> dict[str, TaskState]:
        return {s.title: s for s in StateStore(self.world.vault).load_all().values()}

    def state(self, title: str) -> TaskState:
        return self.states()[title]

    def prompts(self, title: str) -> list[str]:
        return [(Path(a.run_dir) / "prompt.md").read_text(encoding="utf-8") for a in self.state(title).attempts]

    def wait_for_exit(self, title: str, timeout: float = 30) -> None:
        """The current attempt's agent has ended (the supervisor wrote its exit record)."""
        exit_record = Path(self.state(title).current.run_dir) / "exit.json"
        deadline = time.monotonic() + timeout
        while not exit_record.exists():
            assert time.monotonic() < deadline, f"agent of {title!r} still running after {timeout}s"
            time.sleep(0.05)

    @property
    def notifications(self) -> list[dict]:
        return list(self.webhook.received)

    def files_holding(self, secret: str) -> list[Path]:
        """Every file under the test's tmp dir (vault, run dirs, worktrees, clone, origin, home) holding secret."""
        needle = secret.encode()
        return [p for p in self.world.tmp.rglob("*")
                if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def write_github_setup(world: World, stub: GitHubStub, webhook: Webhook) -> None:
    """The repo note names the GitHub repository; Zoe.md sends notifications to the webhook; two agents."""
    (world.vault / "Zoe/Repos/calc.md").write_text(
        f"---\npath: {world.repo}\nbase: main\ngithub: {stub.owner}/{stub.name}\n---\n# calc\nA calculator.\n")
    zoe = world.vault / "Zoe/Zoe.md"
    text = zoe.read_text()
    assert "notify: []" in text, "the scaffold's Zoe.md changed: update write_github_setup"
    zoe.write_text(text.replace("notify: []", f'notify: ["{webhook.url}"]'))
    script = world.tmp / "gh_agent.py"
    script.write_text(AGENT)
    for mode in AGENTS:
        (world.vault / f"Zoe/Agents/{mode}.md").write_text(
            f'---\ncommand: ["{PY}", "{script}", "{mode}", "{{workdir}}"]\n---\n')
    trust_vault(world.vault, os.environ)       # the human approved the notes they wrote


# GitHubPolicy from the environment: no request spacing, short backoff, a rate-limit wait of at most 5 s, and
# a CI grace longer than any test (a PR without check runs yet is pending, never passed unchecked).
FAST_GITHUB_ENV = {
    "VAULTZOE_GITHUB_REQUEST_SPACING_S": "0", "VAULTZOE_GITHUB_WRITE_SPACING_S": "0",
    "VAULTZOE_GITHUB_BACKOFF_S": "0.05", "VAULTZOE_GITHUB_MAX_WAIT_S": "5",
    "VAULTZOE_GITHUB_SECONDARY_WAIT_S": "0.2", "VAULTZOE_GITHUB_TIMEOUT_S": "10",
    "VAULTZOE_GITHUB_CHECKS_GRACE_S": "300",
}
