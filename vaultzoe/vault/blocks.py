"""vaultzoe's owned blocks in a note: text between `<!-- vaultzoe:NAME -->` and `<!-- /vaultzoe:NAME -->` (pure).

`get_block` reads one (LF line endings), `replace_block` writes it in the file's line endings (when absent:
appended after a blank line, or first in the body), and `strip_owned` drops every one, leaving what the
human wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .edit import BOM, body_start, newline_of


@dataclass(frozen=True)
class _Block:
    """An owned block: content lies in text[inner_start:inner_end]."""

    inner_start: int
    inner_end: int


def get_block(text: str, name: str) -> str | None:
    """The content between the NAME markers (LF line endings), or None when the block is absent."""
    block = _find_block(text, name)
    if block is None:
        return None
    return text[block.inner_start : block.inner_end].replace("\r\n", "\n")


def replace_block(text: str, name: str, content: str, *, first: bool = False) -> str:
    """Put `content` between the NAME markers; a block that is absent is appended after a blank line, or with
    `first` put before the body's first line (right after the frontmatter). A block found stays where it is."""
    block = _find_block(text, name)
    if block is not None:
        # The start marker's own line ending, so that a second identical call changes nothing.
        newline = newline_of(text[: block.inner_start][-2:])
        body = _normalized(content, name).replace("\n", newline)
        return text[: block.inner_start] + body + text[block.inner_end :]
    newline = newline_of(text)
    body = _normalized(content, name).replace("\n", newline)
    opening, closing = _markers(name)
    new_block = opening + newline + body + closing + newline
    at = body_start(text) if first else None
    if at is None:
        return text + _separator(text, newline) + new_block
    head, rest = text[:at], text[at:]
    if head.lstrip(BOM) and not head.endswith("\n"):
        head += newline                                   # frontmatter closed on the file's last line
    return head + new_block + (newline if rest.strip("\r\n") and not rest.startswith(("\n", "\r\n")) else "") + rest


_OWNED = re.compile(r"<!-- vaultzoe:(\w[\w-]*) -->.*?<!-- /vaultzoe:\1 -->\n?", re.S)


def strip_owned(text: str) -> str:
    """A note's text without vaultzoe's owned blocks (what the human wrote)."""
    return _OWNED.sub("", text)


def _markers(name: str) -> tuple[str, str]:
    if not re.fullmatch(r"[A-Za-z0-9_./-]+", name):
        raise ValueError(f"block name {name!r}: use letters, digits and _ . / - only")
    return f"<!-- vaultzoe:{name} -->", f"<!-- /vaultzoe:{name} -->"


def _marker_pattern(name: str, closing: bool) -> re.Pattern[str]:
    _markers(name)
    slash = "/" if closing else ""
    return re.compile(rf"^\ufeff?[ \t]*<!--[ \t]*{slash}vaultzoe:{re.escape(name)}[ \t]*-->[ \t]*\r?$", re.MULTILINE)


def _find_block(text: str, name: str) -> _Block | None:
    """The first end marker with a start marker before it, paired with the nearest such start marker."""
    starts = [m for m in _marker_pattern(name, closing=False).finditer(text)]
    for end in _marker_pattern(name, closing=True).finditer(text):
        before = [m for m in starts if m.end() < end.start()]
        if before:
            # The nearest start wins, so a start marker the human orphaned never swallows their text.
            return _Block(before[-1].end() + 1, end.start())
    return None


def _normalized(content: str, name: str) -> str:
    """Content with LF line endings, ending in a newline unless empty, free of this block's markers."""
    body = content.replace("\r\n", "\n").replace("\r", "\n")
    if body and not body.endswith("\n"):
        body += "\n"
    if _marker_pattern(name, closing=False).search(body) or _marker_pattern(name, closing=True).search(body):
        raise ValueError(f"the content of block {name!r} must not hold its own markers")
    return body


def _separator(text: str, newline: str) -> str:
    """What goes between the note and an appended block so that one blank line parts them."""
    if not text or text.endswith("\n\n") or text.endswith("\r\n\r\n"):
        return ""
    return newline if text.endswith("\n") else newline + newline
