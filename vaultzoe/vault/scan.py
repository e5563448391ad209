"""A full build's read, parse and link resolution of every source; on Linux a forked helper shares it.

Each source becomes one plain tuple (its `Record` marshalled, warnings, resolved targets, the summary
the index's lookups need, a digest when the file is racy, its problems), so a helper process can
hand results over as `marshal` frames. Workers also count their links into shares of the backlinks,
which the parent merges with one `dict.update` per target instead of a loop per link.
"""

from __future__ import annotations

import gc
import marshal
import os
import signal
import sys
import tempfile
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from . import syntax
from .files import EMPTY_RECORD, Stat, parse_file, read_file
from .links import escaping_links, fold, target_counts, unresolved_keys
from .note import Record

PARALLEL_BYTES = 4 * 1024 * 1024        # below this a helper process costs more than it saves
RACY_NS = 2_000_000_000                 # a file changed this recently may change again within one mtime tick

_CHUNK = 256                            # at most this many sources in one share of a parallel build
_CHUNKS = 600                           # about this many shares (a pipe of 4-byte numbers holds 16k)

Summary = tuple                         # (tag keys, folded aliases, is_task, unresolved links' name keys, link counts)
Targets = Callable[[tuple, str], tuple]  # (links, source) -> resolved target per link
Parsed = tuple                          # (path, stat | None when gone, record blob, warnings, targets, summary,
                                        #  racy digest | None, problems)


def summary(record: Record, targets: tuple) -> Summary:
    """What the index's lookups need from a record, so a helper process can hand it over ready."""
    tag_keys = tuple({syntax.tag_key(tag) for tag in record[1]})
    alias_keys = tuple({fold(alias) for alias in record[4]})
    return tag_keys, alias_keys, record[7], unresolved_keys(record, targets), target_counts(targets)


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic GC off: it would rescan ~10^6 new long-lived containers again and again (superlinear)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def is_racy(stat: Stat, now: int) -> bool:
    return now - stat[0] < RACY_NS


def digest(data: bytes) -> int:
    return zlib.crc32(data)


def parse_all(root: str, sources: list[str], files: dict[str, Stat], targets: Targets,
              spool_dir: Path) -> tuple[list[Parsed], list[dict]]:
    """Read, parse and resolve every source; on Linux a forked helper shares the work of a big vault.

    Returns the results and shares of the link counts ({target: {source: n}}) covering them. The
    helper spools into `spool_dir` (created then) when it can, else into the system temp folder."""
    total = sum(files[p][1] for p in sources)
    if total < PARALLEL_BYTES or not _can_fork():
        counts: dict = {}
        return parse_slice(root, sources, files, targets, counts), [counts]
    return _parse_forked(root, _chunks_by_size(sources, files), files, targets, spool_dir)


def parse_slice(root: str, paths: list[str], files: dict[str, Stat], targets: Targets,
                counts: dict | None = None) -> list[Parsed]:
    """Each path as a `Parsed` tuple (`files` gives the stat of one that cannot be read).

    With `counts` ({target: {source: n}}, a share of the backlinks), the links are counted there
    and left out of the summaries (the parent merges the shares instead of a loop per link)."""
    out = []
    now = time.time_ns()
    for path in paths:
        try:
            data, stat = read_file(os.path.join(root, path), root)
        except FileNotFoundError:
            out.append((path, None, None, None, None, None, None, None))
            continue
        except OSError as exc:
            data, stat = b"", files[path]
            record, warnings, problems = EMPTY_RECORD, (f"not readable ({exc.strerror})",), ()
        else:
            record, warnings, problems = parse_file(path, data)
            if b".." in data:
                warnings += escaping_links(record, path)
        found = targets(record[2], path)
        ready = summary(record, found)
        if counts is not None:
            for target, n in ready[4]:
                sources = counts.get(target)
                if sources is None:
                    counts[target] = {path: n}
                else:
                    sources[path] = n
            ready = ready[:4] + ((),)
        out.append((path, stat, marshal.dumps(record), warnings, found, ready,
                    digest(data) if is_racy(stat, now) else None, problems))
    return out


def _parse_forked(root: str, chunks: list[list[str]], files: dict[str, Stat], targets: Targets,
                  spool_dir: Path) -> tuple[list[Parsed], list[dict]]:
    """Parse the chunks here and in a forked child, each taking the next chunk number from a pipe."""
    # the numbers are all in the pipe before the fork and a read of 4 bytes takes one whole, so
    # whoever is free takes the next share and both finish within one share of each other; the
    # child spools marshalled results to a temp file (not a pipe) so it never waits for us
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, b"".join(i.to_bytes(4, "little") for i in range(len(chunks))))
    finally:
        os.close(write_fd)
    try:
        with tempfile.TemporaryFile(dir=_scratch_dir(spool_dir)) as spool:
            pid = os.fork()
            if pid == 0:                              # the child: parse, spool, leave at once
                status = 1
                try:
                    counts: dict = {}
                    while (taken := os.read(read_fd, 4)):
                        done = parse_slice(root, chunks[int.from_bytes(taken, "little")], files, targets, counts)
                        _write_frame(spool, marshal.dumps(done))
                    _write_frame(spool, marshal.dumps(counts))
                    spool.flush()
                    status = 0
                finally:
                    os._exit(status)
            results: list = []
            ours: dict = {}
            try:
                while (taken := os.read(read_fd, 4)):
                    results += parse_slice(root, chunks[int.from_bytes(taken, "little")], files, targets, ours)
            except BaseException:
                os.kill(pid, signal.SIGKILL)          # interrupted: do not wait for the helper's share
                os.waitpid(pid, 0)
                raise
            _, status = os.waitpid(pid, 0)
            spool.seek(0)
            spooled = _read_frames(spool) if status == 0 else None
    finally:
        os.close(read_fd)
    if spooled is None or len(results) + len(spooled[0]) != sum(map(len, chunks)):
        done = {found[0] for found in results}        # the helper failed: do what it left here
        theirs = parse_slice(root, [p for chunk in chunks for p in chunk if p not in done], files, targets, ours)
        return results + theirs, [ours]
    return results + spooled[0], [ours, spooled[1]]


def _write_frame(out: Any, blob: bytes) -> None:
    out.write(len(blob).to_bytes(8, "little"))
    out.write(blob)


def _read_frames(spool: Any) -> tuple[list, dict] | None:
    """Everything the helper spooled (its results and, last, its link counts), or None when incomplete."""
    results: list = []
    while True:
        head = spool.read(8)
        if not head:
            return None           # the link counts frame never came
        size = int.from_bytes(head, "little")
        blob = spool.read(size)
        if len(head) != 8 or len(blob) != size:
            return None
        try:
            frame = marshal.loads(blob)
        except (ValueError, EOFError, TypeError):
            return None
        if isinstance(frame, dict):
            return results, frame
        results.extend(frame)


def _scratch_dir(folder: Path) -> str | None:
    """The spool folder (next to the cache when the vault is writable), else None: the system temp folder."""
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    return str(folder)


def _can_fork() -> bool:
    """Forking is safe only on Linux and while this process runs a single thread."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def _chunks_by_size(paths: list[str], files: dict[str, Stat]) -> list[list[str]]:
    """Shares of about equal bytes, largest files first, so two processes taking them in turn finish together."""
    ranked = sorted(paths, key=lambda p: -files[p][1])
    total = sum(files[p][1] for p in ranked)
    target = max(total // _CHUNKS, 1)
    chunks: list[list[str]] = []
    chunk: list[str] = []
    size = 0
    for path in ranked:
        chunk.append(path)
        size += files[path][1]
        if size >= target or len(chunk) >= _CHUNK:
            chunks.append(chunk)
            chunk, size = [], 0
    if chunk:
        chunks.append(chunk)
    return chunks
