#!/usr/bin/env python3
"""Throughput of the task loop: many queued tasks, an instant agent, `max_agents: 4`.

    python benchmarks/throughput_bench.py [--tasks 300] [--max-agents 4] [--no-cli] [--profile]

A small vault with a real git repo and a command agent whose agent writes one file, commits it and exits 0
(`sh -c`, no interpreter start). All tasks are queued at once; the clock runs from the first pass until every
task is in `review` (the local forge judged its commit). Measured twice:

- in-process: `run_until_idle` on the real `Orchestrator` (Parts.real), each part timed (wall seconds spent
  inside worktree creation, the supervisor start, the plan, the forge's judgement, vault writes, ...);
- the CLI: `vaultzoe run VAULT --until-idle` as its own process (interpreter start and imports included).

`--profile` prints the cProfile top of the in-process run as well. The machine is printed with the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaultzoe.scaffold import init_vault  # noqa: E402

GIT = ["git", "-c", "user.name=b", "-c", "user.email=b@example.invalid", "-c", "commit.gpgsign=false"]
# the instant agent: one file, one commit, exit 0 (sh, so no interpreter start counts against vaultzoe)
AGENT_SCRIPT = ('echo "$1" > "done-$1.txt" && git -c user.name=agent -c user.email=agent@example.invalid '
                '-c commit.gpgsign=false add "done-$1.txt" && git -c user.name=agent '
                '-c user.email=agent@example.invalid -c commit.gpgsign=false commit -q -m "agent: $1"')

TASK = """---
tags: [task]
status: queued
repo: "[[repo]]"
agent: bench
---
## Goal
Benchmark task {i}: write done-<id>.txt and commit it.
"""


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process, and of its children that ended (git, supervisors, agents)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def cpu_line(before: tuple[float, float], wall: float, tasks: int) -> str:
    after = cpu_seconds()
    own, kids = after[0] - before[0], after[1] - before[1]
    return (f"CPU per task: {own / tasks * 1000:.0f} ms in vaultzoe's own process, {kids / tasks * 1000:.0f} ms in "
            f"its children (git, supervisors, agents); {(own + kids) / wall:.2f} of the 2 cores busy on average")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"load average {load}")


def make_world(base: Path, tasks: int, max_agents: int) -> tuple[Path, dict[str, str]]:
    repo = base / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("bench\n")
    subprocess.run(GIT + ["init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(GIT + ["add", "."], cwd=repo, check=True)
    subprocess.run(GIT + ["commit", "-q", "-m", "init"], cwd=repo, check=True)
    vault = base / "vault"
    init_vault(vault)
    (vault / "Tasks/Example task.md").unlink()
    (vault / "Zoe/Repos/example-app.md").unlink()
    (vault / "Zoe/Repos/repo.md").write_text(f"---\npath: {repo}\nbase: main\n---\n")
    (vault / "Zoe/Agents/bench.md").write_text(_agent_note())
    for i in range(tasks):
        (vault / "Tasks" / f"Bench {i:03d}.md").write_text(TASK.format(i=i))
    env = {**os.environ, "VAULTZOE_WORKTREES": str(base / "wt"), "VAULTZOE_PLANNER": "template",
           "VAULTZOE_MIN_FREE_MEMORY_GB": "0", "VAULTZOE_MAX_AGENTS": str(max_agents),
           "VAULTZOE_TRUST_DIR": str(base / "trust")}
    env.pop("ANTHROPIC_API_KEY", None)
    from vaultzoe.trust import trust_vault
    trust_vault(vault, env)        # as `vaultzoe trust VAULT` would
    return vault, env


def _agent_note() -> str:
    import json
    command = json.dumps(["sh", "-c", AGENT_SCRIPT, "agent", "{task_id}"])
    return f"---\ncommand: {command}\n---\n"


# ---------------------------------------------------------------- where the time goes


PARTS: dict[str, tuple[str, ...]] = {
    # label: (module:Class, method) timed as wall seconds spent inside (outermost call only); where the loop has
    # moved a method, the first place that exists is used
    "worktree (Workspace.ensure)": ("vaultzoe.work.workspace:Workspace", "ensure"),
    "agent start (ProcessRunner.start*)": ("vaultzoe.work.runners:ProcessRunner", "start_nowait",
                                           "vaultzoe.work.runners:ProcessRunner", "start"),
    "  of which waiting for the agent": ("vaultzoe.work.runners:ProcessRunner", "_wait_for"),
    "run polls (ProcessRunner.poll)": ("vaultzoe.work.runners:ProcessRunner", "poll"),
    "plan + context pack (_plan)": ("vaultzoe.loop.start:Starter", "_plan", "vaultzoe.orchestrator:Orchestrator", "_plan"),
    "forge judge (LocalForge.submit)": ("vaultzoe.work.forge:LocalForge", "submit"),
    "forge looks at review (LocalForge.observe)": ("vaultzoe.work.forge:LocalForge", "observe"),
    "vault writes (VaultStore.edit)": ("vaultzoe.vault.store:VaultStore", "edit"),
    "task memory (StateStore.save)": ("vaultzoe.tasks.state:StateStore", "save"),
    "registry (_write_registry)": ("vaultzoe.orchestrator:Orchestrator", "_write_registry"),
    "index refresh (_refresh_index)": ("vaultzoe.orchestrator:Orchestrator", "_refresh_index"),
    "index update (VaultIndex.update)": ("vaultzoe.vault.index:VaultIndex", "update"),
    "index save (VaultIndex.save)": ("vaultzoe.vault.index:VaultIndex", "save"),
    "pauses between passes (time.sleep in run_until_idle)": (),
}


def _target(places: tuple[str, ...]) -> tuple[type, str] | None:
    """The first (class, method) of places that exists in this checkout."""
    import importlib
    for where, method in zip(places[::2], places[1::2]):
        module, _, cls_name = where.partition(":")
        try:
            cls = getattr(importlib.import_module(module), cls_name)
        except (ImportError, AttributeError):
            continue
        if method in cls.__dict__:
            return cls, method
    return None


@contextmanager
def timed_parts() -> Iterator[dict[str, float]]:
    """Wrap the named methods with wall-clock accumulators for the duration of the block."""
    totals: dict[str, float] = defaultdict(float)
    restore: list[Callable[[], None]] = []
    depth: dict[str, int] = defaultdict(int)
    for label, places in PARTS.items():
        found = _target(places)
        if found is None:
            continue
        cls, method = found
        original = cls.__dict__[method]

        def wrapper(*args, __original=original, __label=label, **kwargs):
            depth[__label] += 1
            t0 = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                depth[__label] -= 1
                if depth[__label] == 0:
                    totals[__label] += time.perf_counter() - t0
        setattr(cls, method, functools.wraps(original)(wrapper))
        restore.append(lambda cls=cls, method=method, original=original: setattr(cls, method, original))
    import vaultzoe.daemon as daemon
    real_sleep = daemon.time.sleep
    label = "pauses between passes (time.sleep in run_until_idle)"

    class _Time:
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            t0 = time.perf_counter()
            real_sleep(seconds)
            totals[label] += time.perf_counter() - t0
    daemon.time = _Time()
    restore.append(lambda: setattr(daemon, "time", time))
    try:
        yield totals
    finally:
        for undo in restore:
            undo()


# ---------------------------------------------------------------- the runs


def in_process(tasks: int, max_agents: int, profile: bool, pause: float | None) -> None:
    from vaultzoe.daemon import run_until_idle
    from vaultzoe.orchestrator import Orchestrator, Parts
    with tempfile.TemporaryDirectory() as tmp:
        vault, env = make_world(Path(tmp), tasks, max_agents)
        os.environ["VAULTZOE_TRUST_DIR"] = env["VAULTZOE_TRUST_DIR"]
        orch = Orchestrator(vault, Parts.real(vault, env))
        profiler = cProfile.Profile() if profile else None
        with timed_parts() as totals:
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            if profiler:
                profiler.enable()
            result = run_until_idle(orch, timeout=3600, **({} if pause is None else {"pause": pause}))
            if profiler:
                profiler.disable()
            wall = time.perf_counter() - t0
        review = result.last.counts.get("review", 0)
        print(f"in-process run_until_idle: {review}/{tasks} tasks in review in {wall:.1f} s over {result.passes} "
              f"passes = {review / wall:.2f} tasks/s (max_agents {max_agents})")
        print(f"  {cpu_line(cpu0, wall, tasks)}")
        if result.last.errors:
            print(f"  errors: {result.last.errors[:3]}")
        print("  where the wall time goes (seconds inside each part; parts nest, so they do not add up):")
        for label in PARTS:
            print(f"    {label:<55} {totals.get(label, 0.0):7.1f} s  {100 * totals.get(label, 0.0) / wall:5.1f}%")
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(40)
            stats.sort_stats("tottime").print_stats(25)


def cli(tasks: int, max_agents: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        vault, env = make_world(Path(tmp), tasks, max_agents)
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "vaultzoe.cli", "run", str(vault), "--until-idle"],
                              env=env, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        review = sum(1 for p in (vault / "Tasks").glob("*.md") if "\nstatus: review" in p.read_text())
        print(f"CLI `vaultzoe run VAULT --until-idle`: exit {proc.returncode}, {review}/{tasks} tasks in review in "
              f"{wall:.1f} s = {review / wall:.2f} tasks/s (process start and imports included)")
        used = cpu_seconds()[1] - cpu0[1]
        print(f"  CPU per task: {used / tasks * 1000:.0f} ms (the CLI process and all it ran); "
              f"{used / wall:.2f} of the 2 cores busy on average")
        if proc.returncode:
            print((proc.stdout + proc.stderr)[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--max-agents", type=int, default=4)
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI run")
    parser.add_argument("--no-inprocess", action="store_true", help="skip the in-process run")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process run (slows it down)")
    parser.add_argument("--pause", type=float, default=None, help="run_until_idle's pause (default: its own)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if not args.no_inprocess:
        in_process(args.tasks, args.max_agents, args.profile, args.pause)
    if not args.no_cli:
        cli(args.tasks, args.max_agents)
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
