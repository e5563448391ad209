#!/usr/bin/env python3
"""How good are context packs? Recall of known facts, budget spent on noise, privacy leaks, build time.

    python benchmarks/context_bench.py                       # 10k notes, 40 tasks, budgets 2k/8k/32k
    python benchmarks/context_bench.py --notes 2000 --tasks 20 --md-out /tmp/context.md   (then paste into docs/PERFORMANCE.md)

The vault comes from benchmarks/company_gen.py (into --workdir, default benchmarks/out/, reused while its
size and seed match). Each benchmark task has seven facts with unique codes spread over the notes it links
to (customer, project), their backlinks (a meeting, an ADR), a backlink of the task (a spec) and an unlinked
support ticket. For each method and budget the pack is rendered as the prompt would carry it, then:

  recall         share of the task's facts whose code appears in the rendered text
  noise          share of the tokens used that went to notes holding none of the task's facts
  used           tokens used / budget
  private leaks  codes from private notes that appear in the text (must be 0)
  secret leaks   API keys and passwords planted in notes that appear in the text (must be 0)

Methods (all three leave out private notes and redact secrets; they differ in what they pick and how they
fit it):
  vaultzoe       brain.context.build_pack
  direct links   the notes the task links to, full text in link order, cut at the budget
  two hops       the task's links and backlinks, then theirs (breadth first), full text, cut at the budget

Time: build_pack on the --notes vault, per task, after one warm-up call (which builds the term index the
later calls reuse); the warm-up's own time is reported as "first call", with the memory the term index takes
(RSS growth). The same timing runs on benchmarks/vault_gen.py's generic vault of --notes notes (log-normal note
sizes up to 500 KB, power-law hubs), packing each of its task notes (--no-generic skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from company_gen import generate  # noqa: E402
from vault_gen import generate as generate_generic  # noqa: E402

from vaultzoe.brain.context import build_pack, estimate_tokens, is_private, note_text, redact  # noqa: E402
from vaultzoe.vault.index import VaultIndex  # noqa: E402

BUDGETS = (2000, 8000, 32000)
GOAL_RECALL_8K = 0.9
GOAL_MS = 50.0


@dataclass(frozen=True)
class Packed:
    """A method's output for one task: rendered text and (path, tokens) per note it spent tokens on."""

    text: str
    spent: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Score:
    recall: float
    noise: float
    used: float
    private_leaks: int
    secret_leaks: int
    found: frozenset[str]


# ---------------------------------------------------------------- methods


def ours(index: VaultIndex, task: dict, budget: int, private_folders: list[str]) -> Packed:
    pack = build_pack(index, task["path"], budget, private_folders=private_folders)
    return Packed(pack.render(), tuple((i.path, i.tokens) for i in pack.items))


def allowed(index: VaultIndex, path: str | None, private_folders: list[str], task_path: str) -> bool:
    if not path or path == task_path or not path.endswith(".md"):
        return False
    note = index.note(path)
    return note is not None and not is_private(note, private_folders) and not path.startswith("Zoe/")


def cut(index: VaultIndex, paths: list[str], budget: int) -> Packed:
    """Full texts in order until the budget is spent; the last one cut short."""
    chunks, spent, left = [], [], budget
    for path in paths:
        chunk = f"### {path[:-3].rsplit('/', 1)[-1]}\n\n{redact(note_text(index.note(path)))}\n\n"
        tokens = estimate_tokens(chunk)
        if tokens > left:
            chunk = chunk[: left * 4]
            tokens = estimate_tokens(chunk)
        if tokens <= 0:
            break
        chunks.append(chunk)
        spent.append((path, tokens))
        left -= tokens
    return Packed("".join(chunks), tuple(spent))


def direct_links(index: VaultIndex, task: dict, budget: int, private_folders: list[str]) -> Packed:
    paths = []
    for _, target in index.resolved_links(task["path"]):
        if allowed(index, target, private_folders, task["path"]) and target not in paths:
            paths.append(target)
    return cut(index, paths, budget)


def two_hops(index: VaultIndex, task: dict, budget: int, private_folders: list[str], careless: bool = False) -> Packed:
    """careless=True: the same without the privacy filter (to show what the filter saves)."""
    def neighbours(path: str) -> list[str]:
        outs = [t for _, t in index.resolved_links(path) if t]
        return outs + sorted(index.backlinks(path))

    order: list[str] = []
    frontier = [task["path"]]
    for _ in range(2):
        nxt = []
        for path in frontier:
            for other in neighbours(path):
                ok = careless and other != task["path"] and other.endswith(".md")
                if other not in order and (ok or allowed(index, other, private_folders, task["path"])):
                    order.append(other)
                    nxt.append(other)
        frontier = nxt
    return cut(index, order, budget)


METHODS: dict[str, Callable[..., Packed]] = {"vaultzoe": ours, "direct links": direct_links, "two hops": two_hops}


# ---------------------------------------------------------------- scoring


def score(packed: Packed, task: dict, budget: int, private_codes: list[str], secrets: list[str]) -> Score:
    facts = task["facts"]
    found = frozenset(kind for kind, fact in facts.items() if fact["code"] in packed.text)
    relevant = {fact["note"] for fact in facts.values()}
    used = sum(t for _, t in packed.spent) or 1
    noise = sum(t for p, t in packed.spent if p not in relevant) / used
    return Score(recall=len(found) / len(facts), noise=noise, used=used / budget,
                 private_leaks=sum(code in packed.text for code in private_codes),
                 secret_leaks=sum(secret in packed.text for secret in secrets), found=found)


def evaluate(index: VaultIndex, manifest: dict) -> dict:
    folders = manifest["private_folders"]
    results: dict = {}
    for method, fn in METHODS.items():
        for budget in BUDGETS:
            scores = [score(fn(index, task, budget, folders), task, budget, manifest["private_codes"],
                            manifest["secrets"]) for task in manifest["tasks"]]
            results[(method, budget)] = summarize(scores, manifest["tasks"])
    return results


def summarize(scores: list[Score], tasks: list[dict]) -> dict:
    kinds = list(tasks[0]["facts"])
    return {
        "recall": statistics.mean(s.recall for s in scores),
        "noise": statistics.mean(s.noise for s in scores),
        "used": statistics.mean(s.used for s in scores),
        "private_leaks": sum(s.private_leaks for s in scores),
        "secret_leaks": sum(s.secret_leaks for s in scores),
        "by_kind": {k: sum(k in s.found for s in scores) / len(scores) for k in kinds},
    }


def timing(index: VaultIndex, tasks: list[str], folders: list[str], budget: int = 8000) -> dict:
    rss = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    build_pack(index, tasks[0], budget, private_folders=folders)
    first = time.perf_counter() - t0
    grown = (psutil.Process().memory_info().rss - rss) / 2**20
    times = []
    for _ in range(3):
        for task in tasks:
            t0 = time.perf_counter()
            build_pack(index, task, budget, private_folders=folders)
            times.append(time.perf_counter() - t0)
    times.sort()
    return {"first_ms": first * 1000, "median_ms": statistics.median(times) * 1000, "term_index_mb": grown,
            "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000, "max_ms": times[-1] * 1000, "runs": len(times)}


def generic_timing(workdir: Path, notes: int) -> dict:
    root, meta = workdir / f"vault-{notes}-s1", workdir / f"vault-{notes}-s1.json"
    if not (root.exists() and meta.exists()):              # the same reuse rule as index_bench.py
        meta.write_text(json.dumps(generate_generic(root, notes, seed=1, force=True)))
    index = VaultIndex.open(root, cache=False)
    tasks = [n.path for n in index.tasks()][:60]
    return timing(index, tasks, []) | {"tasks": len(tasks)}


def careless_leaks(index: VaultIndex, manifest: dict, budget: int = 8000) -> int:
    packs = [two_hops(index, t, budget, [], careless=True).text for t in manifest["tasks"]]
    return sum(code in text for text in packs for code in manifest["private_codes"])


# ---------------------------------------------------------------- report


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return (f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"load {load[0]:.2f}")


def report(results: dict, times: dict, generic: dict | None, careless: int, manifest: dict, index_s: float,
           notes: int) -> str:
    kinds = list(next(iter(results.values()))["by_kind"])
    lines = [
        "## Context packs", "",
        f"Measured by `benchmarks/context_bench.py --notes {notes} --tasks {len(manifest['tasks'])}` on {machine()}.",
        f"Vault: `benchmarks/company_gen.py`, {manifest['notes']} notes (seed {manifest['seed']}); "
        f"{len(manifest['tasks'])} tasks with 7 known facts each; {len(manifest['private_codes'])} private notes; "
        f"{len(manifest['secrets'])} planted secrets. Index built in {index_s:.1f} s.", "",
        "| method | budget | recall | noise | budget used | private leaks | secret leaks |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (method, budget), r in results.items():
        lines.append(f"| {method} | {budget // 1000}k | {r['recall']:.2f} | {r['noise']:.2f} | {r['used']:.2f} | "
                     f"{r['private_leaks']} | {r['secret_leaks']} |")
    lines += ["", "recall: share of the task's facts in the rendered pack; noise: share of the tokens used that went "
                  "to notes holding none of the task's facts; budget used: tokens used / budget.",
              f"Without the privacy filter the two-hop baseline would leak {careless} private facts at 8k.", "",
              "Recall by where the fact lives:", "",
              "| method | budget | " + " | ".join(kinds) + " |", "| --- | ---: |" + " ---: |" * len(kinds)]
    for (method, budget), r in results.items():
        cells = " | ".join(f"{v:.2f}" for v in r["by_kind"].values())
        lines.append(f"| {method} | {budget // 1000}k | {cells} |")
    lines += ["", "Time to build one pack (8k budget):", "",
              "| vault | notes | packs timed | median | p95 | max | first call (builds the term index) "
              "| term index RSS |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
              _time_row("company (above)", manifest["notes"], times)]
    if generic:
        lines.append(_time_row("generic (`vault_gen.py`)", notes, generic))
    lines.append("")
    return "\n".join(lines + verdict(results, times)) + "\n"


def _time_row(name: str, notes: int, t: dict) -> str:
    return (f"| {name} | {notes} | {t['runs']} | {t['median_ms']:.1f} ms | {t['p95_ms']:.1f} ms | {t['max_ms']:.1f} ms "
            f"| {t['first_ms'] / 1000:.1f} s | {t['term_index_mb']:.0f} MB |")


def verdict(results: dict, times: dict) -> list[str]:
    ours8 = results[("vaultzoe", 8000)]["recall"]
    beats = all(results[("vaultzoe", b)]["recall"] > max(results[(m, b)]["recall"] for m in METHODS if m != "vaultzoe")
                for b in BUDGETS)
    leaks = sum(r["private_leaks"] + r["secret_leaks"] for r in results.values())
    return [
        "Goals (issue 5):", "",
        f"- recall >= {GOAL_RECALL_8K} at 8k: {ours8:.2f} ({'met' if ours8 >= GOAL_RECALL_8K else 'NOT met'})",
        f"- better than both baselines at every budget: {'met' if beats else 'NOT met'}",
        f"- private leaks 0: {'met' if leaks == 0 else f'NOT met ({leaks})'}",
        f"- pack build <= {GOAL_MS:.0f} ms (median): {times['median_ms']:.1f} ms "
        f"({'met' if times['median_ms'] <= GOAL_MS else 'NOT met'})",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=HERE / "out")
    parser.add_argument("--md-out", type=Path)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--no-generic", action="store_true", help="skip the timing on vault_gen.py's vault")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    root = args.workdir / f"company-{args.notes}-s{args.seed}"
    manifest = generate(root, args.notes, args.seed, args.tasks)
    t0 = time.perf_counter()
    index = VaultIndex.open(root, cache=False)
    index_s = time.perf_counter() - t0
    times = timing(index, [t["path"] for t in manifest["tasks"]], manifest["private_folders"])
    results = evaluate(index, manifest)
    careless = careless_leaks(index, manifest)
    generic = None if args.no_generic else generic_timing(args.workdir, args.notes)
    text = report(results, times, generic, careless, manifest, index_s, args.notes)
    print(text)
    if args.md_out:
        args.md_out.write_text(text)
    if args.json_out:
        data = {"times": times, "generic": generic, "careless_two_hops_leaks": careless,
                "results": {f"{m}@{b}": r for (m, b), r in results.items()}}
        args.json_out.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
