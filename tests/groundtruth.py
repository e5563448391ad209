"""Where Obsidian's ground truth lives: ../shared/data/obsidian beside the project (or VAULTZOE_GROUND_TRUTH)."""

from __future__ import annotations

import os
from pathlib import Path

_PROJECT = Path(__file__).resolve().parents[1]


def ground_truth() -> Path:
    """The first of: $VAULTZOE_GROUND_TRUTH, ../shared/data/obsidian, /work/shared/data/obsidian."""
    candidates = [os.environ.get("VAULTZOE_GROUND_TRUTH", ""), _PROJECT.parent / "shared/data/obsidian",
                  "/work/shared/data/obsidian"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return _PROJECT.parent / "shared/data/obsidian"


GROUND_TRUTH = ground_truth()
