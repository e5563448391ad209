"""The index's disk edge: which files make up the vault, reading one safely, decoding and parsing it.

The scan skips dot-folders and dot-files, folders it has seen (symlink loops) and symlinks whose real
path leaves the vault or enters a dot-folder (a note linked to ~/.ssh/config must never reach a prompt);
a read opens with O_NOFOLLOW and checks a symlink again, in case one replaced the file since the scan.
A note is read up to MAX_NOTE_BYTES; its bytes become text (warnings for binary or non-UTF-8 content),
a `Record`, and the problems that keep a note that looks like a task from being read as one.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from ..errors import VaultError
from . import syntax
from .note import Problem, Record, looks_like_task, parse_record, strip_bom, task_problems

MAX_NOTE_BYTES = 5 * 1024 * 1024       # larger notes are indexed from their first 5 MB
_BINARY_PROBE = 8192

Stat = tuple[int, int]                  # (mtime_ns, size)

EMPTY_RECORD: Record = ({}, (), (), (), (), (), 0, False)
_NOT_UTF8 = "not valid UTF-8"
_BINARY = "binary content"


def is_note(path: str) -> bool:
    return path[-3:].lower() == ".md"


def is_canvas(path: str) -> bool:
    return path[-7:].lower() == ".canvas"


def decode_note(data: bytes) -> tuple[str, tuple[str, ...]]:
    """Note bytes -> (text without BOM, warnings); never raises."""
    warnings: list[str] = []
    if len(data) > MAX_NOTE_BYTES:
        data = data[:MAX_NOTE_BYTES]
        warnings.append(f"larger than {MAX_NOTE_BYTES // (1024 * 1024)} MB: only the first part is indexed")
    if b"\x00" in data[:_BINARY_PROBE]:
        return "", (*warnings, f"{_BINARY} (NUL bytes): not parsed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if warnings and exc.start >= len(data) - 3:
            text = data[:exc.start].decode("utf-8", "replace")   # cut inside a character at the limit
        else:
            text = data.decode("utf-8", "replace")
            warnings.append(f"{_NOT_UTF8} (first bad byte at {exc.start}): undecodable bytes replaced")
    return strip_bom(text), tuple(warnings)


def canvas_record(data: bytes) -> tuple[Record, tuple[str, ...]]:
    """The links of a .canvas file (text cards and file cards) as a Record; never raises."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
        nodes = doc.get("nodes", []) if isinstance(doc, dict) else []
    except (ValueError, UnicodeDecodeError) as exc:
        return EMPTY_RECORD, (f"unreadable canvas: {exc}",)
    links: list[tuple] = []
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict):
            continue
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            links.extend(parse_record(node["text"], headings=False)[2])
        elif node.get("type") == "file" and isinstance(node.get("file"), str):
            target = node["file"] + (node.get("subpath") or "")
            links.append((target, syntax.link_display(target), target, True, None, 0))
    return ({}, (), tuple(links), (), (), (), 0, False), ()


def inside_vault(real: str, vault: str) -> bool:
    """Whether a real (symlink-free) path lies in the vault and outside its dot-folders."""
    if real == vault:
        return True               # a link back to the vault itself: the scan reports the loop
    if not real.startswith(vault + os.sep):
        return False
    return not any(part.startswith(".") for part in real[len(vault) + 1:].split(os.sep))


def symlink_escapes(path: str, vault: str) -> bool:
    """Whether a symlink leads out of the vault (or into a dot-folder such as .git or .obsidian)."""
    return not inside_vault(os.path.realpath(path), vault)


def scan(root: Path, vault: Path | None = None) -> tuple[dict[str, Stat], list[str]]:
    """Every indexable file under root -> stat; skips dot-folders/files and symlinks leading out of `vault`."""
    # a note symlinked to ~/.ssh/config would otherwise put its text into prompts and attempt notes
    files: dict[str, Stat] = {}
    warnings: list[str] = []
    try:
        top = os.stat(root)
    except OSError as exc:
        raise VaultError(f"Cannot read the vault {root}: {exc}") from exc
    seen = {(top.st_dev, top.st_ino)}
    real_vault = os.path.realpath(vault if vault is not None else root)
    stack = [("", str(root))]
    while stack:
        rel, folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            warnings.append(f"{rel or '.'}: folder not readable ({exc.strerror})")
            continue
        for entry in entries:
            _scan_entry(entry, rel, files, stack, seen, warnings, real_vault)
    return files, warnings


def _scan_entry(entry: os.DirEntry, rel: str, files: dict, stack: list, seen: set, warnings: list,
                vault: str) -> None:
    name = entry.name
    if name[0] == ".":
        return                    # .obsidian, .trash, .vaultzoe, .git and dot-files: never notes
    path = rel + "/" + name if rel else name
    try:
        if entry.is_symlink() and symlink_escapes(entry.path, vault):
            warnings.append(f"{path}: symlink leading out of the vault: skipped (vaultzoe reads only the vault)")
            return
        if entry.is_dir():
            st = entry.stat()
            if (st.st_dev, st.st_ino) in seen:
                warnings.append(f"{path}: symlink loop (folder already indexed): skipped")
                return
            seen.add((st.st_dev, st.st_ino))
            stack.append((path, entry.path))
        elif entry.is_file():
            st = entry.stat()
            files[path] = (st.st_mtime_ns, st.st_size)
    except OSError as exc:
        warnings.append(f"{path}: not readable ({exc.strerror})")


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _open(abs_path: str, vault: str) -> int:
    """Open a vault file; a symlink only when it leads to a file in the vault (PermissionError otherwise)."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(abs_path, _OPEN_FLAGS | nofollow)
    except OSError as exc:
        if not nofollow or exc.errno != errno.ELOOP:
            raise
    if symlink_escapes(abs_path, vault):     # the file became a symlink out of the vault since the scan
        raise PermissionError(errno.EACCES, "symlink leading out of the vault", abs_path)
    return os.open(abs_path, _OPEN_FLAGS)


def read_file(abs_path: str, vault: str) -> tuple[bytes, Stat]:
    """The file's bytes (at most the indexed limit + 1) and the stat of what was read."""
    fd = _open(abs_path, vault)
    try:
        st = os.fstat(fd)
        limited = st.st_size > MAX_NOTE_BYTES
        wanted = (MAX_NOTE_BYTES if limited else st.st_size) + 1
        data = os.read(fd, wanted)              # one read: the stat's size plus one byte (EOF)
        if len(data) == wanted or 0 < len(data) < wanted - 1:
            # over the limit, grown since the stat, or a short read: read on as far as the limit allows
            chunks = [data]
            wanted = MAX_NOTE_BYTES + 1 - len(data) if limited else -1
            while wanted != 0 and (chunk := os.read(fd, wanted if wanted > 0 else 1 << 20)):
                chunks.append(chunk)
                if wanted > 0:
                    wanted -= len(chunk)
            data = b"".join(chunks)
    finally:
        os.close(fd)
    return data, (st.st_mtime_ns, st.st_size)


def parse_file(path: str, data: bytes) -> tuple[Record, tuple[str, ...], tuple[Problem, ...]]:
    """(record, warnings, problems) of a note or canvas."""
    if is_canvas(path):
        return (*canvas_record(data), ())
    text, warnings = decode_note(data)
    record = parse_record(text, headings=False)
    return record, warnings, note_problems(data, text, record, warnings)


def note_problems(data: bytes, text: str, record: Record, warnings: tuple[str, ...]) -> tuple[Problem, ...]:
    """Why a note that looks like a task cannot be read as one (see note.task_problems)."""
    bad_byte = None
    if any(w.startswith(_BINARY) for w in warnings):
        nul = data.find(b"\x00")
        raw = strip_bom(data[:MAX_NOTE_BYTES].decode("utf-8", "replace"))
        if not looks_like_task(raw):
            return ()
        return ((f"holds NUL bytes (binary content, first at byte {nul}): vaultzoe cannot read this task;"
                 " remove them or save the note as plain UTF-8 text", data.count(b"\n", 0, nul) + 1),)
    if any(w.startswith(_NOT_UTF8) for w in warnings):
        try:
            data[:MAX_NOTE_BYTES].decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_byte = (exc.start, data.count(b"\n", 0, exc.start) + 1)
    return task_problems(text, record, bad_byte)
