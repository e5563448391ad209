#!/usr/bin/env python3
"""Human saves racing vaultzoe's writes: count the human lines lost (the goal is 0).

    python benchmarks/stress_saves.py [--saves 20000] [--notes 8] [--min-ms 20] [--max-ms 50] [--dir /tmp/x]

Each note gets its own editor, a separate process that saves the way editors do: read the note, add a line
at the end, write it back, either truncate-then-write into the same file (Obsidian, `fs.writeFile`) or
write a temp file and rename it over the note (vim, many others); half the notes use each style. Saves
are 20-50 ms apart. Meanwhile one thread per note in this process keeps editing the same note through
`VaultStore.edit` (a frontmatter counter, as the journal does), so the two race all the time. Because the
editor re-reads the note before every save, a line vaultzoe overwrites is lost for good; at the end every
note must still hold every line its editor added.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaultzoe.errors import WriteConflict  # noqa: E402
from vaultzoe.vault.edit import set_frontmatter  # noqa: E402
from vaultzoe.vault.store import VaultStore  # noqa: E402

STYLES = ("truncate", "rename")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, load {load}"


def filesystem(folder: Path) -> str:
    best = ("?", "")
    for line in Path("/proc/mounts").read_text().splitlines() if Path("/proc/mounts").exists() else ():
        _, mount, kind, *_ = line.split()
        if str(folder).startswith(mount) and len(mount) >= len(best[1]):
            best = (kind, mount)
    return best[0]


# ------------------------------------------------------------------------------------------------ the editor


def save(note: Path, data: bytes, style: str, number: int) -> None:
    if style == "truncate":
        with open(note, "wb") as handle:          # O_TRUNC, then the bytes: a reader may catch it empty
            handle.write(data)
        return
    temp = note.with_name(f".{note.name}.{os.getpid()}.{number}.swp")
    with open(temp, "wb") as handle:
        handle.write(data)
    os.replace(temp, note)


def editor(note: Path, style: str, count: int, tag: str, min_ms: int, max_ms: int, seed: int) -> None:
    """Add `count` lines to `note`, one save each, re-reading the note before every save."""
    rng = random.Random(seed)
    for number in range(count):
        data = note.read_bytes()
        save(note, data + f"human {tag} {number}\n".encode(), style, number)
        time.sleep(rng.uniform(min_ms, max_ms) / 1000)


# ------------------------------------------------------------------------------------------------ vaultzoe


class Vaultzoe(threading.Thread):
    """Edits one note through the store until told to stop, as the journal does on every pass."""

    def __init__(self, store: VaultStore, rel: str, seed: int) -> None:
        super().__init__(daemon=True)
        self.store, self.rel, self.rng = store, rel, random.Random(seed)
        self.stop = threading.Event()
        self.edits = self.gave_up = 0

    def run(self) -> None:
        counter = 0
        while not self.stop.is_set():
            counter += 1
            try:
                self.store.edit(self.rel, lambda text, n=counter: set_frontmatter(text, {"updated": str(n)}))
                self.edits += 1
            except WriteConflict:
                self.gave_up += 1
            self.stop.wait(self.rng.uniform(0, 0.015))


def lost_lines(note: Path, tag: str, count: int) -> tuple[int, int]:
    lines = set(note.read_text().splitlines())
    present = sum(f"human {tag} {number}" in lines for number in range(count))
    return count - present, len(lines)


def run(args: argparse.Namespace) -> int:
    base = Path(args.dir or tempfile.mkdtemp(prefix="stress-saves-"))
    vault = base / "vault"
    (vault / ".obsidian").mkdir(parents=True, exist_ok=True)
    per_note = args.saves // args.notes
    store = VaultStore(vault)
    notes = []
    for index in range(args.notes):
        rel = f"Task {index}.md"
        (vault / rel).write_text("---\nstatus: running\n---\nThe human's notes:\n")
        notes.append((rel, STYLES[index % 2], f"n{index}"))
    started = time.monotonic()
    editors = [subprocess.Popen([sys.executable, __file__, "--editor", str(vault / rel), "--style", style,
                                 "--count", str(per_note), "--tag", tag, "--min-ms", str(args.min_ms),
                                 "--max-ms", str(args.max_ms), "--seed", str(index)])
               for index, (rel, style, tag) in enumerate(notes)]
    writers = [Vaultzoe(store, rel, index) for index, (rel, _, _) in enumerate(notes)]
    for writer in writers:
        writer.start()
    failed = [proc.wait() for proc in editors]
    for writer in writers:
        writer.stop.set()
        writer.join()
    seconds = time.monotonic() - started
    lost = {style: 0 for style in STYLES}
    for rel, style, tag in notes:
        lost[style] += lost_lines(vault / rel, tag, per_note)[0]
    leftovers = [name for name in os.listdir(vault) if name.startswith(".") and name != ".obsidian"]
    print(f"machine: {machine()}")
    print(f"folder: {vault} ({filesystem(vault)})")
    print(f"human saves: {per_note * args.notes} on {args.notes} notes, {args.min_ms}-{args.max_ms} ms apart, "
          f"{seconds:.0f} s; vaultzoe edits: {sum(w.edits for w in writers)} "
          f"(gave up {sum(w.gave_up for w in writers)} times, retried later)")
    print(f"lost human lines: {sum(lost.values())} (truncate-then-write: {lost['truncate']}, "
          f"write-temp-rename: {lost['rename']}); temp files left: {len(leftovers)}; editor failures: "
          f"{sum(1 for code in failed if code)}")
    for name in leftovers:
        print(f"  left: {name}")
    return 1 if sum(lost.values()) or any(failed) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=20000)
    parser.add_argument("--notes", type=int, default=8)
    parser.add_argument("--min-ms", type=int, default=20)
    parser.add_argument("--max-ms", type=int, default=50)
    parser.add_argument("--dir")
    parser.add_argument("--editor", help=argparse.SUPPRESS)
    parser.add_argument("--style", choices=STYLES, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.editor:
        editor(Path(args.editor), args.style, args.count, args.tag, args.min_ms, args.max_ms, args.seed)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
