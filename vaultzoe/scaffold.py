"""`vaultzoe init`: copy the vault template in, never overwriting a file that exists."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Mapping

from .trust import trust_written


def template_root() -> Path:
    """The template shipped inside the package (vault-template/ in the source tree points at it)."""
    return Path(str(resources.files("vaultzoe") / "template"))


def init_vault(root: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    """Create missing template files under root; return the vault paths created (empty on a second run).

    The command notes it creates (the example repo note) are trusted on this machine: vaultzoe wrote them.
    """
    root.mkdir(parents=True, exist_ok=True)
    created = []
    source = template_root()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source)
        target = root / rel
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as handle:   # "x": never clobber a file that appeared meanwhile
            handle.write(path.read_bytes())
        created.append(rel.as_posix())
    for folder in ("Zoe/Attempts", "Zoe/Learnings", "Zoe/Agents", "Zoe/Repos"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    trust_written(root, created, os.environ if environ is None else environ)
    return created
