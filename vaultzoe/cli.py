"""The command line: thin commands over library functions. Errors become one clear line, never a traceback.

`vaultzoe index V` and `vaultzoe status V` in their plain forms run without this module (cli_fast.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Literal, Optional

import typer
from typer.core import TyperGroup

from . import cli_fast
from .cli_fast import folder as _folder, inside as _inside, one_line, vault as _vault
from .errors import VaultzoeError


class _OneLineErrors(TyperGroup):
    """A mistyped flag or an expected error is one line on stderr (exit 2), never a usage block or a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _CLICK_ERRORS as error:
            where = getattr(error, "ctx", None) or ctx
            name = where.command_path
            message = error.format_message().replace("Value error, ", "")
            typer.echo(f"{name}: {message} (see `{name} --help`)", err=True)
            raise typer.Exit(getattr(error, "exit_code", 2)) from None
        except VaultzoeError as error:
            typer.echo(one_line(error), err=True)
            raise typer.Exit(2) from None


# typer >= 0.29 carries its own copy of click, whose errors derive from TyperException (importing click
# itself cost ~25 ms at start-up and is no dependency of ours)
_CLICK_ERRORS = (typer.TyperException,)

app = typer.Typer(cls=_OneLineErrors, add_completion=False, no_args_is_help=True,
                  help="vaultzoe: coding agents driven from an Obsidian vault.")

# Flag bounds and choices, checked before anything is read or written; the same as Settings' (a test compares).
Planner = Literal["auto", "claude", "template"]
Forge = Literal["auto", "github", "local"]
MAX_AGENTS = (1, 64)
MAX_ATTEMPTS = (1, 20)


@app.command()
def index(vault: Path, json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Build or refresh the index and its cache."""
    cli_fast.run_index(vault, json_out, say=typer.echo)


@app.command()
def note(vault: Path, paths: List[str], json_out: bool = typer.Option(False, "--json", help="One JSON object per line.")) -> None:
    """Show how vaultzoe reads notes: frontmatter, tags, links (resolved), headings, task or not."""
    from .vault.index import VaultIndex
    root = _vault(vault)
    idx = VaultIndex.open(root)
    failed = False
    for raw in paths:
        rel = _inside(root, raw)
        parsed = idx.note(rel)
        if parsed is None:
            typer.echo(f"No note {rel} in the vault {root} (a markdown file, path relative to the vault)", err=True)
            failed = True
            continue
        record = note_record(idx, parsed)
        typer.echo(json.dumps(record, ensure_ascii=False, default=str) if json_out else _describe(record))
    if failed:
        raise typer.Exit(1)


def note_record(idx, parsed) -> dict:
    links = [{"link": ln.link, "display": ln.display, "original": ln.original, "embed": ln.embed, "key": ln.key,
              "resolved": idx.resolve(ln.target, parsed.path) if ln.target else parsed.path}
             for ln in parsed.links]
    return {"path": parsed.path, "frontmatter": parsed.frontmatter, "tags": list(parsed.tags), "links": links,
            "headings": [{"heading": h.text, "level": h.level} for h in parsed.headings],
            "is_task": parsed.is_task, "warnings": list(parsed.warnings),
            "problems": [{"message": p.message, "line": p.line} for p in idx.problems_of(parsed.path)]}


def _describe(record: dict) -> str:
    lines = [record["path"] + ("  [task]" if record["is_task"] else "")]
    lines.append("  tags: " + " ".join(record["tags"]))
    for ln in record["links"]:
        lines.append(f"  {'embed' if ln['embed'] else 'link'} {ln['original']} -> {ln['resolved'] or 'unresolved'}")
    lines += [f"  warning: {w}" for w in record["warnings"]]
    lines += [f"  problem (line {p['line']}): {p['message']}" for p in record["problems"]]
    return "\n".join(lines)


@app.command()
def init(vault: Path) -> None:
    """Copy the vaultzoe template into a vault (creating it); existing files are never overwritten."""
    from .scaffold import init_vault
    root = vault.expanduser()
    created = init_vault(root)
    typer.echo(f"{len(created)} files created in {root}" if created else f"{root} already has every template file")
    for rel in created:
        typer.echo(f"  + {rel}")


def _flags(max_agents, max_attempts, planner, forge) -> dict:
    return {"max_agents": max_agents, "max_attempts": max_attempts, "planner": planner, "forge": forge}


@app.command()
def run(vault: Path,
        once: bool = typer.Option(False, "--once", help="One pass, then exit."),
        until_idle: bool = typer.Option(False, "--until-idle", help="Passes until nothing is queued, running or checking."),
        timeout: Optional[float] = typer.Option(None, "--timeout", help="Give up after this many seconds (--until-idle).",
                                                min=0),
        max_agents: Optional[int] = typer.Option(None, "--max-agents", min=MAX_AGENTS[0], max=MAX_AGENTS[1]),
        max_attempts: Optional[int] = typer.Option(None, "--max-attempts", min=MAX_ATTEMPTS[0], max=MAX_ATTEMPTS[1]),
        planner: Optional[Planner] = typer.Option(None, "--planner"),
        forge: Optional[Forge] = typer.Option(None, "--forge"),
        ) -> None:
    """Reconcile the vault: one pass (--once) or until idle (--until-idle)."""
    from .daemon import open_orchestrator, run_until_idle, sigterm_as_interrupt, vault_lock
    root = _vault(vault)
    with sigterm_as_interrupt(), vault_lock(root):
        orch = open_orchestrator(root, _flags(max_agents, max_attempts, planner, forge))
        try:
            if once or not until_idle:
                _print_pass(orch.reconcile())
                return
            outcome = run_until_idle(orch, timeout=timeout)
        finally:
            orch.close()
        _print_pass(outcome.last)
        if not outcome.idle:
            typer.echo(f"Not idle after {outcome.seconds:.0f} s (--timeout {timeout:g}); agents keep running.", err=True)
            raise typer.Exit(3)


def _print_pass(result) -> None:
    summary = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items())) or "no tasks"
    typer.echo(f"tasks: {summary}")
    if result.config_error:
        typer.echo(f"settings: {result.config_error}", err=True)
    for error in result.errors:
        typer.echo(f"error: {error}", err=True)


@app.command()
def watch(vault: Path,
          max_agents: Optional[int] = typer.Option(None, "--max-agents", min=MAX_AGENTS[0], max=MAX_AGENTS[1]),
          planner: Optional[Planner] = typer.Option(None, "--planner"),
          forge: Optional[Forge] = typer.Option(None, "--forge")) -> None:
    """Run as a daemon: react to edits in the vault; Ctrl-C or SIGTERM stops vaultzoe and leaves running agents alone."""
    from .daemon import open_orchestrator, sigterm_as_interrupt, vault_lock, watch as watch_loop
    root = _vault(vault)
    with sigterm_as_interrupt(), vault_lock(root):
        orch = open_orchestrator(root, _flags(max_agents, None, planner, forge))
        typer.echo(f"watching {root} (Ctrl-C to stop; running agents keep running and are picked up next time)")
        try:
            watch_loop(orch)
        except KeyboardInterrupt:
            typer.echo("stopped")
        finally:
            orch.close()


@app.command()
def status(vault: Path) -> None:
    """Show the task registry in the terminal."""
    cli_fast.run_status(vault)


@app.command()
def trust(vault: Path) -> None:
    """Trust the vault's repo and agent notes as they are now (their commands run on this machine); prints each."""
    import os
    from .trust import trust_vault
    for line in trust_vault(_folder(vault), os.environ):    # reads the notes, writes nothing into the folder
        typer.echo(line)


@app.command()
def doctor(vault: Path) -> None:
    """Check what vaultzoe needs: agent CLIs, keys (never their values), repo notes, settings."""
    import os
    from .doctor import diagnose
    root = _vault(vault)
    findings = diagnose(root, os.environ)
    for finding in findings:
        typer.echo(f"{finding.level:5} {finding.message}")
    if any(f.level == "block" for f in findings):
        raise typer.Exit(1)


@app.command()
def demo(directory: Optional[Path] = typer.Option(None, "--dir", help="Where to build the demo (default: a new temp dir)."),
         timeout: float = typer.Option(120, "--timeout")) -> None:
    """Run the offline demo: a task fails its checks, is retried with the evidence, and lands in review."""
    from .demo import run_demo
    ok = run_demo(directory, timeout=timeout, echo=typer.echo)
    if not ok:
        raise typer.Exit(1)


def run_app() -> None:
    """Everything but cli_fast's plain forms: typer parses, an error that escapes a command is one line."""
    try:
        app()
    except VaultzoeError as exc:
        typer.echo(f"vaultzoe: {exc}", err=True)
        sys.exit(2)


def main() -> None:
    """The `vaultzoe` command (also `python -m vaultzoe.cli`)."""
    cli_fast.main(fallback=run_app)


if __name__ == "__main__":
    main()
