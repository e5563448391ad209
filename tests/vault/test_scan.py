"""scan.py: the full build's shares, the helper's spool frames, and one slice parsed from real files."""

from __future__ import annotations

import io
import marshal
from pathlib import Path

from vaultzoe.vault.files import scan
from vaultzoe.vault.links import Resolver, fold
from vaultzoe.vault.scan import _CHUNK, _chunks_by_size, _read_frames, _write_frame, parse_all

from .conftest import write


def test_shares_cover_every_source_once_largest_first():
    files = {f"n{i}.md": (0, (i * 7919) % 1000 + 1) for i in range(2000)}
    chunks = _chunks_by_size(sorted(files), files)
    flat = [p for chunk in chunks for p in chunk]
    assert sorted(flat) == sorted(files) and len(flat) == len(set(flat))
    assert all(len(chunk) <= _CHUNK for chunk in chunks)
    assert [files[p][1] for p in flat] == sorted((files[p][1] for p in flat), reverse=True)


def test_spool_frames_round_trip_and_an_incomplete_spool_is_refused():
    spool = io.BytesIO()
    _write_frame(spool, marshal.dumps([("a.md", 1)]))
    _write_frame(spool, marshal.dumps([("b.md", 2)]))
    _write_frame(spool, marshal.dumps({"t.md": {"a.md": 1}}))
    whole = spool.getvalue()
    assert _read_frames(io.BytesIO(whole)) == ([("a.md", 1), ("b.md", 2)], {"t.md": {"a.md": 1}})
    assert _read_frames(io.BytesIO(whole[:-3])) is None               # the helper died mid-write
    assert _read_frames(io.BytesIO(whole[:len(whole) // 2])) is None


def test_a_small_build_parses_here_counting_links_into_one_share(vault: Path):
    write(vault, "a.md", "[[b]] [[b]] [[nowhere]] #t", old=True)
    write(vault, "b.md", "---\naliases: [Bee]\n---\n[[a]]")            # fresh: racy, so a digest is kept
    write(vault, "c.canvas", '{"nodes": [{"type": "file", "file": "b.md"}]}', old=True)
    files, _ = scan(vault)
    files["gone.md"] = (0, 1)                                           # vanished since the scan
    by_name: dict[str, list[str]] = {}
    for p in files:
        by_name.setdefault(fold(p), []).append(p)
    resolver = Resolver(files, {fold(p): p for p in files}, by_name)
    parsed, shares = parse_all(str(vault), sorted(files), files, resolver.targets, vault / ".vaultzoe")
    found = {row[0]: row for row in parsed}
    assert found["gone.md"][1] is None
    assert found["a.md"][4] == ("b.md", "b.md", None) and found["a.md"][5][:4] == (("t",), (), False, ("nowhere",))
    assert found["a.md"][6] is None and found["b.md"][6] is not None and found["b.md"][5][1] == ("bee",)
    assert shares == [{"b.md": {"a.md": 2, "c.canvas": 1}, "a.md": {"b.md": 1}}]
    assert not (vault / ".vaultzoe").exists()                          # no helper, no spool folder
