"""cache.py: the tables round-trip through one marshal file; anything else is not used, and a failed write leaves nothing."""

from __future__ import annotations

import marshal
import os
import sys
from pathlib import Path

import pytest

from vaultzoe.vault.cache import CACHE_VERSION, cache_path, read_cache, write_cache

TABLES = {"stat": {"a.md": (1, 2)}, "tags": {"t": {"a.md"}}, "records": {"a.md": b"\x00"}}


def test_tables_round_trip(vault: Path):
    assert read_cache(vault) is None                                   # no cache yet
    assert write_cache(vault, TABLES) is None
    assert read_cache(vault) == TABLES
    assert os.listdir(cache_path(vault).parent) == ["index.marshal"]


@pytest.mark.parametrize("payload", [
    {"version": CACHE_VERSION - 1, "python": list(sys.version_info[:2]), "state": TABLES},
    {"version": CACHE_VERSION, "python": [2, 7], "state": TABLES},
    {"version": CACHE_VERSION, "python": list(sys.version_info[:2]), "state": ["not", "tables"]},
    {"version": CACHE_VERSION, "python": list(sys.version_info[:2])},
    ["not a payload"],
])
def test_a_cache_of_another_version_or_shape_is_not_used(vault: Path, payload):
    write_cache(vault, TABLES)
    cache_path(vault).write_bytes(marshal.dumps(payload))
    assert read_cache(vault) is None


def test_a_failed_write_is_a_warning_and_leaves_no_temp_file(vault: Path):
    (vault / ".vaultzoe").write_text("a file where the folder should be")
    warning = write_cache(vault, TABLES)
    assert warning is not None and warning.startswith("index cache not written to")
    write_cache(vault, TABLES)
    (vault / ".vaultzoe").unlink()
    (vault / ".vaultzoe").mkdir()
    cache_path(vault).mkdir()                                          # os.replace onto a folder fails
    assert write_cache(vault, TABLES) is not None
    assert sorted(os.listdir(vault / ".vaultzoe")) == ["index.marshal"]
