#!/usr/bin/env python3
"""Reaction time and idle CPU of `vaultzoe watch`.

    python benchmarks/loop_bench.py [--tasks 15] [--idle-notes 10000] [--idle-seconds 30]

Reaction: a task note saved with `status: queued` -> its agent process started (the agent's first act
writes a timestamp). Measured on a small vault with a real git repo and a command agent, the daemon
running as its own process. Baseline in the same run: starting the same agent command directly
(the floor no orchestrator can beat).
Idle CPU: `vaultzoe watch` on a generated 10k-note vault, CPU seconds used over a quiet window / wall seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaultzoe.scaffold import init_vault  # noqa: E402

GIT = ["git", "-c", "user.name=b", "-c", "user.email=b@example.invalid", "-c", "commit.gpgsign=false"]
AGENT = "import sys, time; open(sys.argv[1], 'w').write(repr(time.time())); time.sleep(30)\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def make_world(base: Path) -> tuple[Path, Path]:
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
    agent = base / "agent.py"
    agent.write_text(AGENT)
    marks = base / "marks"
    marks.mkdir()
    (vault / "Zoe/Agents/bench.md").write_text(
        f'---\ncommand: ["{sys.executable}", "{agent}", "{marks}/{{task_id}}"]\n---\n')
    from vaultzoe.trust import trust_vault
    trust_vault(vault, os.environ)        # as `vaultzoe trust VAULT` would
    return vault, marks


def start_watch(vault: Path, base: Path, extra_env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "VAULTZOE_WORKTREES": str(base / "wt"), "VAULTZOE_PLANNER": "template",
           "VAULTZOE_MIN_FREE_MEMORY_GB": "0", "VAULTZOE_MAX_AGENTS": "64", **(extra_env or {})}
    env.pop("ANTHROPIC_API_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "vaultzoe.cli", "watch", str(vault)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_ready(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    if "watching" not in line:
        raise SystemExit(f"watch did not start: {line}{proc.stdout.read()}")
    time.sleep(1.0)


TASK = """---
tags: [task]
status: queued
repo: "[[repo]]"
agent: bench
---
## Goal
Benchmark task {i}.
"""


def reaction(tasks: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        vault, marks = make_world(base)
        proc = start_watch(vault, base)
        try:
            wait_ready(proc)
            delays = []
            for i in range(tasks):
                note = vault / "Tasks" / f"Bench {i}.md"
                note.parent.mkdir(exist_ok=True)
                before = set(marks.iterdir())
                saved = time.time()
                note.write_text(TASK.format(i=i))
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    new = set(marks.iterdir()) - before
                    if new and new.pop().read_text():
                        break
                    time.sleep(0.005)
                new = set(marks.iterdir()) - before
                if not new:
                    raise SystemExit(f"task {i}: no agent started within 20 s")
                delays.append(float(new.pop().read_text()) - saved)
                time.sleep(0.3)
            return delays
        finally:
            proc.terminate()
            proc.wait(10)
            for p in psutil.process_iter(["cmdline"]):
                if p.info["cmdline"] and str(base) in " ".join(p.info["cmdline"]):
                    p.kill()


def direct_start(samples: int = 15) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = []
        for i in range(samples):
            mark = Path(tmp) / f"m{i}"
            t0 = time.time()
            proc = subprocess.Popen([sys.executable, "-c", AGENT.replace("time.sleep(30)", "0"), str(mark)])
            proc.wait()
            out.append(float(mark.read_text()) - t0)
        return out


def idle_cpu(notes: int, seconds: float) -> tuple[float, float]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from vault_gen import generate
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        vault = base / "vault"
        generate(vault, notes, seed=7)
        init_vault(vault)
        t0 = time.perf_counter()
        proc = start_watch(vault, base)
        try:
            wait_ready(proc)
            startup = time.perf_counter() - t0
            ps = psutil.Process(proc.pid)
            time.sleep(2)
            c0 = sum(ps.cpu_times()[:2])
            w0 = time.perf_counter()
            time.sleep(seconds)
            used = sum(ps.cpu_times()[:2]) - c0
            return used / (time.perf_counter() - w0), startup
        finally:
            proc.terminate()
            proc.wait(10)


def timer_pass_cost(notes: int) -> tuple[float, float]:
    """In-process: the median cost of one timer pass on a big vault (what `watch` spends every poll_seconds
    while some task is running, checking or in review), next to a stat of every file (the floor of a rescan)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from vault_gen import generate
    from vaultzoe.orchestrator import Orchestrator, Parts
    with tempfile.TemporaryDirectory() as tmp:
        vault = Path(tmp) / "vault"
        generate(vault, notes, seed=7)
        init_vault(vault)
        env = {**os.environ, "VAULTZOE_WORKTREES": str(Path(tmp) / "wt"), "VAULTZOE_PLANNER": "template"}
        orch = Orchestrator(vault, Parts.real(vault, env))
        orch.reconcile()
        passes = []
        for _ in range(7):
            t0 = time.perf_counter()
            orch.reconcile(dirty=set(), rescan=False)
            passes.append(time.perf_counter() - t0)
        stats = []
        for _ in range(3):
            t0 = time.perf_counter()
            for p in vault.rglob("*"):
                p.stat()
            stats.append(time.perf_counter() - t0)
        return statistics.median(passes), statistics.median(stats)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=15)
    parser.add_argument("--idle-notes", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=30)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    floor = direct_start()
    delays = reaction(args.tasks)
    med, p90 = statistics.median(delays), sorted(delays)[int(0.9 * (len(delays) - 1))]
    fmed = statistics.median(floor)
    print(f"reaction, saved queued -> agent started: median {med * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
          f"max {max(delays) * 1000:.0f} ms over {len(delays)} tasks (goal: median <= 500 ms)")
    print(f"baseline, the agent started directly: median {fmed * 1000:.0f} ms; vaultzoe adds "
          f"{(med - fmed) * 1000:.0f} ms ({med / fmed:.1f}x the bare start)")
    if args.idle_notes:
        cpu, startup = idle_cpu(args.idle_notes, args.idle_seconds)
        cost, floor_stat = timer_pass_cost(args.idle_notes)
        print(f"one timer pass on {args.idle_notes} notes (runs every poll_seconds only while a task is running, "
              f"checking or in review): {cost * 1000:.0f} ms = {cost / 10 * 100:.2f}% of a core at poll_seconds 10; "
              f"a stat of every file takes {floor_stat * 1000:.0f} ms")
        print(f"idle CPU of watch on {args.idle_notes} notes: {cpu * 100:.2f}% of a core over {args.idle_seconds:.0f} s "
              f"(goal < 1%); watch ready after {startup:.1f} s")


if __name__ == "__main__":
    main()
