"""Short commands run to completion (a repo's `setup:` and `check:`), logged to a private capped file.

The workspace runs setup commands and the local forge runs check commands through `run_logged`; the agent
runner (runners.py) shares only the private-folder and redacted-tail helpers. Commands run without a shell,
without the user's credentials (childenv), and the whole process group dies on timeout (supervise.run_capped).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..brain.redact import redact
from . import supervise as sv
from .childenv import child_env

TAIL_MARGIN = 4096          # read this much more than asked, redact, then cut: no half token at the cut


@dataclass(frozen=True)
class Completed:
    """A short command run to completion by run_logged."""

    exit_code: int | None      # None when it could not start
    timed_out: bool
    output_tail: str
    error: str = ""            # why it could not start

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def run_logged(argv: Sequence[str], cwd: Path, log_path: Path, timeout_s: float | None,
               limit_bytes: int = 20_000_000, tail_bytes: int = 4000,
               env: Mapping[str, str] | None = None) -> Completed:
    """Run argv (no shell) in cwd without the user's credentials, output to a fresh private capped log_path
    (the whole group dies on timeout); the output tail comes back redacted."""
    private_dir(log_path.parent)
    for old in (log_path, sv.rotated_path(log_path)):
        old.unlink(missing_ok=True)
    outcome = sv.run_capped(argv, cwd, log_path, limit=limit_bytes, timeout_s=timeout_s, grace_s=2.0,
                            env=child_env(env))
    return Completed(exit_code=None if outcome.error else outcome.exit_code, timed_out=outcome.timed_out,
                     output_tail=redacted_tail(log_path, tail_bytes), error=outcome.error)


def private_dir(path: Path) -> None:
    """Create path (and missing parents) readable by the user only; tighten it when it already exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def redacted_tail(log_path: Path, max_bytes: int) -> str:
    """The last max_bytes of a log, redacted before the cut: a token the cut would halve is hidden whole."""
    return redact(sv.read_tail(log_path, max_bytes + TAIL_MARGIN))[-max_bytes:]
