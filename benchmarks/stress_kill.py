#!/usr/bin/env python3
"""kill -9 of `vaultzoe run` at random moments, over and over: no attempt may run twice, nothing may be left over.

    python benchmarks/stress_kill.py [--tasks 20] [--rounds 50] [--seed 1] [--min-s 0.2] [--max-s 2.5] [--dir D]

A real git repo (with a bare origin), a vault from `init_vault`, and a command agent that logs
"start <task_id> <attempt> <pid>", sleeps a little (`--agent-s`, so kills land while agents run), writes one
file, commits it and exits 0 (the pattern of tests/e2e/conftest.py). `--tasks` notes are queued at once. Then
`--rounds` times: `python -m vaultzoe run VAULT --until-idle` as a process, SIGKILL after a seeded random
delay; at the end one run to idle. Checked and printed:

- every task reached `review`;
- no attempt ran twice (the agent's "start" lines, counted per task and attempt);
- no duplicate ids, branches, worktrees or run folders (one of each per task and attempt, none spare);
- no task blocked over its own leftovers (a branch, worktree or run folder a killed run left behind);
- no temp file left (`.*.tmp` in the vault, the repo and the worktrees).

Exit status 1 when a check fails. The machine is printed with the figures. The runs import vaultzoe from the
tree this script is in: to measure a commit while others edit the working tree, run the script from an export
(`git archive HEAD | tar -x -C /tmp/snap && python /tmp/snap/benchmarks/stress_kill.py`).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaultzoe.scaffold import init_vault  # noqa: E402
from vaultzoe.tasks.state import StateStore  # noqa: E402
from vaultzoe.trust import trust_vault  # noqa: E402

PY = sys.executable
GIT = ["git", "-c", "user.name=b", "-c", "user.email=b@example.invalid", "-c", "commit.gpgsign=false"]

AGENT = r'''
import os, subprocess, sys, time
from pathlib import Path
workdir, logfile = Path(sys.argv[1]), Path(sys.argv[2])
task, attempt = os.environ.get("VAULTZOE_TASK_ID"), os.environ.get("VAULTZOE_ATTEMPT")
with open(logfile, "a") as fh:
    fh.write(f"start {task} {attempt} {os.getpid()}\n")
time.sleep(float(os.environ.get("STRESS_AGENT_S", "0.3")))
(workdir / f"done-{task}.txt").write_text(f"{task} {attempt}\n")
git = ["git", "-c", "user.name=agent", "-c", "user.email=agent@example.invalid", "-c", "commit.gpgsign=false"]
subprocess.run(git + ["add", "."], cwd=workdir, check=True)
subprocess.run(git + ["commit", "-q", "-m", f"agent: {task}"], cwd=workdir, check=True)
'''


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"load average {load}")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(GIT + list(args), cwd=cwd, check=True, capture_output=True, text=True).stdout


# ------------------------------------------------------------------------------------------------ the world


def make_world(base: Path, tasks: int, agent_s: float) -> tuple[Path, Path, Path, dict[str, str]]:
    home = base / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
           "VAULTZOE_WORKTREES": str(base / "worktrees"), "VAULTZOE_PLANNER": "template",
           "VAULTZOE_MIN_FREE_MEMORY_GB": "0", "VAULTZOE_TRUST_DIR": str(base / "trust"),
           "STRESS_AGENT_S": str(agent_s), "PYTHONPATH": str(ROOT)}   # vaultzoe from this script's tree
    for key in ("ANTHROPIC_API_KEY", "GITHUB_TOKEN", "GH_TOKEN"):
        env.pop(key, None)
    origin = base / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo = base / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("stress\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    vault = base / "vault"
    init_vault(vault, env)
    (vault / "Tasks/Example task.md").unlink()
    (vault / "Zoe/Repos/example-app.md").unlink()
    (vault / "Zoe/Repos/app.md").write_text(
        f'---\npath: {repo}\nbase: main\ncheck: ["{PY}", "-c", "pass"]\n---\n# app\nThe stress repo.\n')
    script = base / "agent.py"
    script.write_text(AGENT)
    log = base / "agent.log"
    (vault / "Zoe/Agents/quick.md").write_text(f'---\ncommand: ["{PY}", "{script}", "{{workdir}}", "{log}"]\n---\n')
    zoe = vault / "Zoe/Zoe.md"
    zoe.write_text(zoe.read_text().replace("poll_seconds: 10", "poll_seconds: 0.2"))
    for i in range(tasks):
        (vault / "Tasks" / f"Stress {i:03d}.md").write_text(
            f'---\ntags: [task]\nstatus: queued\nrepo: "[[app]]"\nagent: quick\n---\n## Goal\nWrite file {i}.\n')
    trust_vault(vault, env)
    return vault, repo, log, env


# ------------------------------------------------------------------------------------------------ the kills


def kill_rounds(vault: Path, env: dict[str, str], rounds: int, rng: random.Random, lo: float,
                hi: float) -> dict[str, int]:
    cmd = [PY, "-m", "vaultzoe", "run", str(vault), "--until-idle", "--timeout", "300"]
    figures = Counter()
    for _ in range(rounds):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(lo, hi))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            figures["killed"] += 1
        proc.wait()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode not in (0, -signal.SIGKILL):
            figures["runs that failed by themselves"] += 1
            print(f"  a run exited {proc.returncode}: {err.strip()[-300:]}", file=sys.stderr)
        elif proc.returncode == 0:
            figures["runs idle before the kill"] += 1
    return figures


# ------------------------------------------------------------------------------------------------ the checks


def check(vault: Path, repo: Path, log: Path, worktrees: Path, tasks: int) -> tuple[list[str], dict[str, object]]:
    problems: list[str] = []
    states = list(StateStore(vault).load_all().values())
    ids = [s.id for s in states]
    if len(states) != tasks or len(set(ids)) != len(ids):
        problems.append(f"{len(states)} tasks in memory ({len(set(ids))} distinct ids) for {tasks} notes")
    not_review = [(s.path, s.status.value, s.reason) for s in states if s.status.value != "review"]
    problems += [f"{p} is {st}: {r}" for p, st, r in not_review]
    starts = Counter(tuple(ln.split()[1:3]) for ln in log.read_text().splitlines() if ln.startswith("start"))
    twice = {k: n for k, n in starts.items() if n > 1}
    if twice:
        problems.append(f"attempts that ran more than once: {twice}")
    never_ran = 0
    for s in states:
        ran = sorted(int(a) for (t, a) in starts if t == s.id)
        if ran != [a.number for a in s.attempts]:
            lost = [f"{a.number} {a.outcome}: {a.evidence.splitlines()[0] if a.evidence else ''}"
                    for a in s.attempts if a.number not in ran]
            never_ran += len(lost)
            problems.append(f"{s.id}: agents started for attempts {ran}, memory holds "
                            f"{[a.number for a in s.attempts]} (never ran: {lost})")
        runs = sorted(p.name for p in (vault / ".vaultzoe" / "runs" / s.id).iterdir())
        if runs != [str(a.number) for a in s.attempts]:
            problems.append(f"{s.id}: run folders {runs}")
    branches = [b.strip() for b in git(repo, "branch", "--list", "zoe/*", "--format=%(refname:short)").splitlines()]
    if sorted(branches) != sorted(s.branch for s in states) or len(set(branches)) != len(branches):
        problems.append(f"branches {sorted(branches)} != tasks' {sorted(s.branch for s in states)}")
    listed = [ln.split(" ", 1)[1] for ln in git(repo, "worktree", "list", "--porcelain").splitlines()
              if ln.startswith("worktree ")]
    ours = sorted(p for p in listed if Path(p).resolve() != repo.resolve())
    if ours != sorted(str(Path(s.worktree).resolve()) for s in states):
        problems.append(f"worktrees {ours}")
    folders = sorted(p.name for p in (worktrees / "app").iterdir()) if (worktrees / "app").is_dir() else []
    if folders != sorted(ids):
        problems.append(f"worktree folders {folders} != task ids {sorted(ids)}")
    inbox = (vault / "Zoe/Inbox.md").read_text(encoding="utf-8")
    blocked = [ln for ln in inbox.splitlines() if "blocked" in ln.lower()]
    if blocked or any(s.status.value == "blocked" for s in states):
        problems.append(f"tasks blocked: {blocked[:5]}")
    temps = [p for top in (vault, repo, worktrees) for p in top.rglob("*.tmp")]
    if temps:
        problems.append(f"temp files left: {[str(p) for p in temps[:8]]}")
    in_state = sum(1 for p in temps if (vault / ".vaultzoe") in p.parents)
    figures = {"attempts run": sum(starts.values()), "attempts recorded whose agent never ran": never_ran,
               "attempts per task (max)": max(
        (len(s.attempts) for s in states), default=0), "branches": len(branches), "worktrees": len(ours),
        "temp files left": f"{len(temps)} ({len(temps) - in_state} beside notes, {in_state} in .vaultzoe)",
        "attempts run twice": len(twice), "tasks blocked": len(blocked)}
    return problems, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-s", type=float, default=0.2, help="shortest life of a run before its kill -9")
    parser.add_argument("--max-s", type=float, default=2.5, help="longest life of a run before its kill -9")
    parser.add_argument("--agent-s", type=float, default=0.3, help="how long each agent works")
    parser.add_argument("--dir", type=Path, help="work here (kept) instead of a temp dir (removed)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="stress-kill-") as tmp:
        base = args.dir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        vault, repo, log, env = make_world(base, args.tasks, args.agent_s)
        began = time.monotonic()
        figures = kill_rounds(vault, env, args.rounds, random.Random(args.seed), args.min_s, args.max_s)
        killed_s = time.monotonic() - began
        final = time.monotonic()
        done = subprocess.run([PY, "-m", "vaultzoe", "run", str(vault), "--until-idle", "--timeout", "600"],
                              env=env, capture_output=True, text=True)
        final_s = time.monotonic() - final
        problems, found = check(vault, repo, log, base / "worktrees", args.tasks)
        if done.returncode != 0:
            problems.append(f"the final run exited {done.returncode}: {done.stderr.strip()[-500:]}")
        print(f"tasks {args.tasks}, rounds {args.rounds}, seed {args.seed}, kill after {args.min_s:g}-{args.max_s:g} "
              f"s, agent works {args.agent_s:g} s")
        print(f"kill rounds: {killed_s:.1f} s wall; runs killed {figures['killed']}, idle before the kill "
              f"{figures['runs idle before the kill']}, failed by themselves "
              f"{figures['runs that failed by themselves']}")
        print(f"final run to idle: {final_s:.1f} s")
        for key, value in found.items():
            print(f"{key}: {value}")
        print(f"machine at the end: {machine()}")
        for problem in problems:
            print(f"FAIL: {problem}")
        print("OK: every task in review, no attempt twice, nothing left over" if not problems else
              f"{len(problems)} problem(s)")
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
