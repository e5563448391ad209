"""The commands people run most (`index`, `status`) without typer: argv of their exact plain forms is run here.

Importing typer costs ~60 ms and running a typer app ~100 ms more (it converts parameters with pydantic);
a warm `vaultzoe index` is otherwise ~200 ms. Only the exact forms below are taken; anything else (a flag
we do not list, `--help`, a path that starts with '-', shell completion) goes to the typer app, so usage
errors, help and exit codes come from one place. The command bodies are shared with `cli.py`, so the
output is the same whichever way a command ran.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .errors import PathOutsideVault, VaultError, VaultzoeError

Echo = Callable[..., None]


def echo(message: str, err: bool = False) -> None:
    """typer.echo for plain text: one line, flushed."""
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n")
    stream.flush()


def one_line(error: VaultzoeError) -> str:
    """An expected error as the CLI prints it: one line on stderr."""
    return f"vaultzoe: {' '.join(str(error).split())}"


def folder(path: Path) -> Path:
    """An existing folder, else a VaultError with the fix."""
    root = path.expanduser()
    if not root.is_dir():
        raise VaultError(f"No vault at {root}: pass the folder Obsidian opens (run `vaultzoe init {root}` to create one)")
    return root.resolve()


def vault(path: Path) -> Path:
    """An existing folder that is a vault (Obsidian's or vaultzoe's), else a VaultError with the fix."""
    root = folder(path)
    if not (root / ".obsidian").is_dir() and not (root / "Zoe" / "Zoe.md").is_file():
        raise VaultError(f"{root} is not a vault (no .obsidian/ folder, no Zoe/Zoe.md); vaultzoe changes nothing "
                         f"there: run `vaultzoe init {root}` to make it one, or pass the folder Obsidian opens")
    return root.resolve()


def inside(root: Path, rel: str) -> str:
    """`rel` as a vault path, else PathOutsideVault."""
    candidate = (root / rel).resolve()
    if candidate != root and root not in candidate.parents:
        raise PathOutsideVault(f"{rel} is outside the vault {root}: give a path relative to the vault")
    return candidate.relative_to(root).as_posix()


def run_index(path: Path, json_out: bool, say: Echo = echo) -> None:
    """`vaultzoe index`: build or refresh the index and its cache, then one line of figures."""
    from .vault.index import VaultIndex
    root = vault(path)
    started = time.perf_counter()
    idx = VaultIndex.open(root)
    idx.save()
    stats = dict(idx.stats())
    stats["seconds"] = round(time.perf_counter() - started, 4)
    if json_out:
        say(json.dumps({k: stats[k] for k in ("notes", "links", "unresolved", "tags", "tasks", "seconds")}))
        return
    say(f"{stats['notes']} notes, {stats['links']} links ({stats['unresolved']} unresolved), "
        f"{stats['tags']} tags, {stats['tasks']} tasks in {stats['seconds']:.2f} s")
    for conflict in idx.conflicts():
        say(f"sync conflict copy (not treated as a task): {conflict}")


def run_status(path: Path) -> None:
    """`vaultzoe status`: the task registry as a table in the terminal."""
    from rich.console import Console
    from rich.table import Table
    from .tasks.state import StateStore
    root = vault(path)
    table = Table("Task", "Status", "Repo", "Agent", "Attempt", "Branch", "PR", "Checks", "Updated", "Note")
    states = sorted(StateStore(root).load_all().values(), key=lambda s: s.updated, reverse=True)
    for s in states:
        checks = " ".join(f"{n}:{st}" for n, st, _ in s.checks)
        agent = s.current.agent if s.current else ""
        table.add_row(s.title, s.status.value, s.repo, agent, str(len(s.attempts)), s.branch, s.pr_url or "", checks,
                      s.updated, s.waiting or s.reason)
    Console().print(table if states else "No tasks yet: set `status: queued` in a task note and run `vaultzoe run`.")


def fast_command(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Callable[[], None] | None:
    """The command for argv when it is `index V`, `index V --json`, `index --json V` or `status V`; else None."""
    if any(key.startswith("_") and key.endswith("_COMPLETE") for key in environ):
        return None                                   # click's shell completion protocol: typer's job
    name, *rest = list(argv) or [""]
    options = [a for a in rest if a.startswith("-")]
    paths = [a for a in rest if not a.startswith("-")]
    if len(paths) != 1:
        return None
    if name == "status" and not options:
        return lambda: run_status(Path(paths[0]))
    if name == "index" and options in ([], ["--json"]):
        return lambda: run_index(Path(paths[0]), json_out=bool(options))
    return None


def run_fast(command: Callable[[], None]) -> int:
    """Run a fast command as typer would: expected errors one line (exit 2), Ctrl-C 130, a closed pipe 1."""
    try:
        command()
    except VaultzoeError as error:
        echo(one_line(error), err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        if error.errno != errno.EPIPE:
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())    # no second EPIPE at exit
        return 1
    return 0


def main(fallback: Callable[[], None] | None = None) -> None:
    """The `vaultzoe` command: the plain forms above here, everything else through the typer app."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = fast_command(sys.argv[1:])
    if command is not None:
        sys.exit(run_fast(command))
    if fallback is None:
        from .cli import run_app as fallback
    fallback()
