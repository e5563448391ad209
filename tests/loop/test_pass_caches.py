"""What the observer keeps for one pass (preflight per repo and agent, who runs) gives the answers of asking anew."""

from __future__ import annotations

from vaultzoe.work.agents import make_agent


def counting_agents(loop) -> list[str]:
    """Every availability check of an agent (`shutil.which` and the like), by agent name."""
    asked: list[str] = []

    class Counted:
        def __init__(self, cfg):
            self.cfg, self.agent = cfg, make_agent(cfg)

        def __getattr__(self, name):
            return getattr(self.agent, name)

        def available(self):
            asked.append(self.cfg.name)
            return self.agent.available()

    loop.parts.make_agent = Counted
    return asked


def test_preflight_asks_each_agent_once_per_pass_however_many_tasks_wait(loop):
    loop.parts.environ["VAULTZOE_MAX_AGENTS"] = "2"
    asked = counting_agents(loop)
    for i in range(6):
        loop.task(f"Task {i}")
    loop.reconcile()
    states = loop.states()
    running = [s for s in states if s.status.value == "running"]
    assert len(running) == 2 and len(loop.runner.started) == 2
    assert all("agent slot" in s.waiting for s in states if s.status.value == "queued")
    # one preflight for the six (same repo, same agent), and the check each start makes right before it
    assert len(asked) == 1 + len(loop.runner.started), asked


def test_slots_freed_during_a_pass_are_taken_in_the_same_pass(loop):
    loop.parts.environ["VAULTZOE_MAX_AGENTS"] = "2"
    for i in range(5):
        loop.task(f"Task {i}")
    loop.reconcile()
    loop.reconcile()         # the first two end and reach review; two queued tasks start in their slots
    counts = [s.status.value for s in loop.states()]
    assert counts.count("review") == 2 and counts.count("running") == 2 and counts.count("queued") == 1
    loop.reconcile()
    counts = [s.status.value for s in loop.states()]
    assert counts.count("review") == 4 and counts.count("running") == 1


def test_preflight_is_asked_again_next_pass(loop):
    loop.parts.environ["VAULTZOE_MAX_AGENTS"] = "1"
    for i in range(3):
        loop.task(f"Task {i}")
    loop.reconcile()
    (loop.vault / "Zoe/Agents/fake.md").write_text('---\ncommand: ["no-such-agent-program-xyz"]\n---\n')
    loop.reconcile()
    blocked = [s for s in loop.states() if s.status.value == "blocked"]
    assert len(blocked) == 2 and all("no-such-agent-program-xyz" in s.reason for s in blocked), blocked
