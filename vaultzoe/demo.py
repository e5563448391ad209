"""`vaultzoe demo`: the whole loop offline, on a throwaway vault, repo and scripted agent."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Callable, Mapping

from .daemon import run_until_idle
from .orchestrator import Orchestrator, Parts
from .scaffold import init_vault
from .tasks.state import StateStore
from .trust import trust_written

GIT_ID = ["-c", "user.name=vaultzoe demo", "-c", "user.email=demo@vaultzoe.invalid", "-c", "commit.gpgsign=false"]

PRICING = '''\
def order_total(subtotal: float, customer: str) -> float:
    """The amount to invoice for an order."""
    return subtotal
'''

TESTS = '''\
import unittest

from pricing import order_total


class PricingTest(unittest.TestCase):
    def test_acme_large_orders_get_fifteen_percent_off(self):
        self.assertAlmostEqual(order_total(2000, "acme"), 1700)

    def test_acme_small_orders_pay_full_price(self):
        self.assertAlmostEqual(order_total(500, "acme"), 500)

    def test_other_customers_pay_full_price(self):
        self.assertAlmostEqual(order_total(2000, "globex"), 2000)


if __name__ == "__main__":
    unittest.main()
'''

# The scripted agent: a stand-in for Claude Code that only does what its prompt lets it know. The first
# time it applies the discount to every Acme order; given the failing test in a retry prompt, it adds the
# threshold the customer asked for.
AGENT = '''\
import os, subprocess, sys
from pathlib import Path

prompt = Path(os.environ["VAULTZOE_PROMPT_FILE"]).read_text(encoding="utf-8")
workdir = Path(sys.argv[1])
print("demo agent: read a prompt of", len(prompt), "characters")
knows_threshold = "test_acme_small_orders_pay_full_price" in prompt
rule = "customer == 'acme' and subtotal > 1000" if knows_threshold else "customer == 'acme'"
code = (
    "def order_total(subtotal: float, customer: str) -> float:\\n"
    '    """The amount to invoice for an order (Acme: 15% off, see the customer note)."""\\n'
    f"    if {rule}:\\n"
    "        return round(subtotal * 0.85, 2)\\n"
    "    return subtotal\\n"
)
(workdir / "pricing.py").write_text(code, encoding="utf-8")
print("demo agent: wrote pricing.py with the rule:", rule)
git = ["git", "-c", "user.name=demo agent", "-c", "user.email=agent@vaultzoe.invalid", "-c", "commit.gpgsign=false"]
subprocess.run(git + ["add", "pricing.py"], cwd=workdir, check=True)
subprocess.run(git + ["commit", "-q", "-m", "Apply Acme's volume discount"], cwd=workdir, check=True)
print("demo agent: committed. Done.")
'''

NOTES = {
    "Customers/Acme Corp.md": """\
        ---
        tags: [customer]
        contact: Dana Smith
        plan: enterprise
        ---
        # Acme Corp
        Our largest customer since 2024. Renewal in March; pricing is what they care about most.
        """,
    "Meetings/2026-11-20 Acme pricing call.md": """\
        ---
        tags: [meeting]
        date: 2026-11-20
        ---
        # Acme pricing call
        With [[Acme Corp]] (Dana).
        - Acme gets **15% off orders over $1,000**. Smaller orders stay at full price: Dana was explicit,
          finance cannot book discounts below that threshold.
        - Invoices must show the discounted total.
        """,
    "Journal/Private thoughts.md": """\
        ---
        private: true
        ---
        # Private
        Acme might churn if the renewal slips. Do not share.
        """,
    "Tasks/Acme volume discount.md": """\
        ---
        tags: [task]
        status: queued
        repo: "[[demo-shop]]"
        agent: demo-agent
        customer: "[[Acme Corp]]"
        priority: high
        ---
        ## Goal
        Implement the volume discount we agreed with [[Acme Corp]] in `order_total` (see the pricing call).

        ## Acceptance criteria
        - Acme's invoices show the discount agreed in the meeting.
        - Every test in the repository passes.

        ## Feedback
        """,
}


DEMO_COMMAND_NOTES = ("Zoe/Repos/demo-shop.md", "Zoe/Agents/demo-agent.md")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True)


def make_repo(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "pricing.py").write_text(PRICING, encoding="utf-8")
    (path / "test_pricing.py").write_text(TESTS, encoding="utf-8")
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "Shop with an order total and its tests")


def make_vault(vault: Path, repo: Path, agent_script: Path, environ: Mapping[str, str]) -> None:
    init_vault(vault, environ)
    for rel, text in NOTES.items():
        target = vault / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    zoe = vault / "Zoe/Zoe.md"
    zoe.write_text(zoe.read_text(encoding="utf-8").replace("default_agent: claude", "default_agent: demo-agent"),
                   encoding="utf-8")
    (vault / "Tasks/Example task.md").unlink(missing_ok=True)
    (vault / "Zoe/Repos/example-app.md").unlink(missing_ok=True)
    py = sys.executable
    (vault / "Zoe/Repos/demo-shop.md").write_text(
        f"---\npath: {repo}\nbase: main\ncheck: [\"{py}\", \"-m\", \"unittest\", \"-q\"]\n---\n"
        "# demo-shop\nA tiny shop. `pricing.py` computes invoice totals; tests in `test_pricing.py`.\n", encoding="utf-8")
    (vault / "Zoe/Agents/demo-agent.md").write_text(
        f"---\ncommand: [\"{py}\", \"{agent_script}\", \"{{workdir}}\"]\ntimeout_minutes: 5\n---\n"
        "# demo-agent\nA scripted stand-in for Claude Code, used by `vaultzoe demo`.\n", encoding="utf-8")
    trust_written(vault, DEMO_COMMAND_NOTES, environ)   # the demo wrote these commands itself


def build(base: Path, environ: Mapping[str, str]) -> tuple[Path, Path]:
    vault, repo = base / "vault", base / "demo-shop"
    agent_script = base / "demo_agent.py"
    agent_script.write_text(AGENT, encoding="utf-8")
    make_repo(repo)
    make_vault(vault, repo, agent_script, environ)
    return vault, repo


def run_demo(directory: Path | None, timeout: float = 120, echo: Callable[[str], None] = print) -> bool:
    base = Path(directory).expanduser().resolve() if directory else Path(tempfile.mkdtemp(prefix="vaultzoe-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VAULTZOE_WORKTREES": str(base / "worktrees")}
    vault, repo = build(base, env)
    echo(f"Demo vault: {vault}\nDemo repo:  {repo}\n")
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("GITHUB_TOKEN", None)
    env.pop("GH_TOKEN", None)
    flags = {"planner": "template", "forge": "local", "max_agents": 1, "min_free_memory_gb": 0, "poll_seconds": 1}
    orch = Orchestrator(vault, Parts.real(vault, env), flags)
    seen: dict[str, str] = {}

    def report(_result) -> None:
        for state in StateStore(vault).load_all().values():
            line = f"{state.status.value} (attempt {len(state.attempts)})"
            if seen.get(state.id) != line:
                seen[state.id] = line
                why = f": {state.reason}" if state.reason else ""
                echo(f"  {state.title}: {line}{why}")

    outcome = run_until_idle(orch, timeout=timeout, pause=0.3, on_pass=report)
    return _summary(vault, outcome.idle, echo)


def _summary(vault: Path, idle: bool, echo: Callable[[str], None]) -> bool:
    states = list(StateStore(vault).load_all().values())
    ok = idle and all(s.status.value == "review" for s in states) and bool(states)
    echo("")
    for state in states:
        echo(f"{state.title}: {state.status.value} after {len(state.attempts)} attempts on branch {state.branch}")
        for attempt in state.attempts:
            echo(f"  attempt {attempt.number}: {attempt.outcome} -> {vault / attempt.note}")
    echo(f"\nRegistry: {vault / 'Zoe/Registry.md'}\nInbox:    {vault / 'Zoe/Inbox.md'}")
    echo(f"Open {vault} in Obsidian to follow the links." if ok else "The demo did not reach review: see the notes above.")
    return ok
