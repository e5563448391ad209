"""Shared fixtures for the vault tests: Obsidian's ground truth and small vaults in tmp dirs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ..groundtruth import GROUND_TRUTH  # noqa: E402  (../shared/data/obsidian beside the project)
DEMO_VAULT = GROUND_TRUTH / "tasks-demo-vault"
OLD_MTIME_NS = 1_600_000_000 * 10**9     # 2020: far from "just written", so never racy


def write(root: Path, rel: str, text: str | bytes, *, old: bool = False) -> Path:
    """Write a vault file (creating folders); `old=True` backdates its mtime."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    if old:
        os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    return path


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """An empty vault folder (with the .obsidian/ folder Obsidian creates)."""
    root = tmp_path / "vault"
    (root / ".obsidian").mkdir(parents=True)
    return root


@pytest.fixture(scope="module")
def demo_vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the Tasks-Demo vault Obsidian's metadata was taken from."""
    if not DEMO_VAULT.is_dir():
        pytest.skip(f"ground truth not found at {GROUND_TRUTH}")
    root = tmp_path_factory.mktemp("demo") / "tasks-demo-vault"
    shutil.copytree(DEMO_VAULT, root)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root
