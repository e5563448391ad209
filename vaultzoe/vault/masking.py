"""What hides tags and links: fenced code, inline code, HTML comments, HTML blocks and math (pure).

`mask(text)` blanks them to spaces (newlines kept), so offsets into the masked text index the source.
Every scan here is linear: marks are found with literal-led patterns, and a scan never walks back over
text an earlier one already read (hostile notes of one huge line or thousands of openers stay fast).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Iterator



_FENCE_LINE = re.compile(r"((?:[ \t]*>)*[ \t]*)(`{3,}|~{3,})([^\n]*)")
_FENCE_MARKS = (re.compile("```"), re.compile("~~~"))
_BLANK_LINE = re.compile(r"\n[ \t]*(?:\n|\Z)")
_HTML_BLOCK_TAGS = (
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|dir|"
    "div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|"
    "legend|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|summary|"
    "table|tbody|td|tfoot|th|thead|title|tr|track|ul")
_HTML_BLOCK = re.compile(
    r" {0,3}<(?:(?P<raw>script|pre|style|textarea)(?=[\s>]|$)"
    r"|/?(?:" + _HTML_BLOCK_TAGS + r")(?=[\s/>]|$)"
    r"|(?P<lone>/?[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s\"'=<>`]+|'[^'\n]*'|\"[^\"\n]*\"))?)*"
    r"\s*/?>[ \t]*$))",
    re.M | re.I)
_HTML_LINE = re.compile(r"\n {0,3}<")
_HTML_RAW_END = re.compile(r"</(?:script|pre|style|textarea)>", re.I)
_DOLLAR = re.compile(r"\$")
_COMMENT_OPEN = re.compile("<!--")
_TICKS = re.compile("``*")       # a literal first character keeps the scan fast
_INLINE_MATH = re.compile(r"\$(?=[^\s$])(?:[^$\\\n]|\\.)*?[^\s\\$]\$(?![0-9])")

# Scanning note: CPython's regex engine is fast only when a pattern starts with a literal (or a small
# character class); the finders below search for such a literal and check the context around it.


def mask(text: str) -> str:
    """`text` with code, HTML comments, HTML blocks and math blanked to spaces (newlines kept)."""
    ticks = "`" in text
    if (ticks and "```" in text) or ("~~~" in text):
        text = _blank(text, _fence_spans(text))
    comments = "<" in text
    if comments:
        text = _blank(text, _html_block_spans(text))
    if ticks or "$" in text or (comments and "<!--" in text):
        text = _blank(text, _inline_spans(text))
    return text


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts = []
    pos = 0
    for start, end in spans:
        if start < pos:
            start = pos
        if end <= start:
            continue
        parts.append(text[pos:start])
        chunk = text[start:end]
        parts.append("\n".join(" " * len(line) for line in chunk.split("\n")) if "\n" in chunk else " " * len(chunk))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _fence_lines(text: str) -> list[re.Match]:
    """Lines that open or close a code fence ("```" or "~~~" after indentation or '>' markers)."""
    starts = sorted({start for marks in _FENCE_MARKS for start in _marked_line_starts(text, marks)})
    found = []
    for start in starts:
        m = _FENCE_LINE.match(text, start)
        if m is not None and (m.end() == len(text) or text[m.end()] == "\n"):
            found.append(m)
    return found


def _marked_line_starts(text: str, marks: re.Pattern) -> Iterator[int]:
    """The start of each line holding a match, each line once (a line of 10^6 backticks is one line)."""
    line_end = -1
    for m in marks.finditer(text):
        pos = m.start()
        if pos <= line_end:
            continue              # the rest of a line already seen: no scan back over it
        yield text.rfind("\n", line_end + 1, pos) + 1 or line_end + 1
        line_end = text.find("\n", pos)
        if line_end < 0:
            return


def _fence_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    opener: re.Match | None = None
    for m in _fence_lines(text):
        fence, info = m.group(2), m.group(3)
        if opener is None:
            if fence[0] == "`" and "`" in info:
                continue          # "```a`b" is inline code, not a fence
            opener = m
            continue
        open_fence = opener.group(2)
        if fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not info.strip():
            spans.append((opener.start(), m.end()))
            opener = None
    if opener is not None:
        spans.append((opener.start(), len(text)))
    return spans


def _html_block_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    starts = [m.start() + 1 for m in _HTML_LINE.finditer(text)]
    if text[:4].lstrip(" ")[:1] == "<":
        starts.insert(0, 0)
    for start in starts:
        if spans and start < spans[-1][1]:
            continue
        m = _HTML_BLOCK.match(text, start)
        if m is None or (m.group("lone") is not None and not _after_blank_line(text, start)):
            continue              # a lone tag cannot interrupt a paragraph
        if m.group("raw"):
            close = _HTML_RAW_END.search(text, start)
            end = text.find("\n", close.end()) if close else -1
            end = len(text) if end < 0 else end
        else:
            blank = _BLANK_LINE.search(text, start)
            end = blank.start() if blank else len(text)
        spans.append((start, end))
    return spans


def _after_blank_line(text: str, line_start: int) -> bool:
    if line_start == 0:
        return True
    prev_start = text.rfind("\n", 0, line_start - 1) + 1
    return not text[prev_start:line_start - 1].strip()


def _escaped(text: str, pos: int) -> bool:
    """Whether the character at pos follows an odd number of backslashes."""
    run = 0
    while pos - run > 0 and text[pos - run - 1] == "\\":
        run += 1
    return run % 2 == 1


class _Scan:
    """What the inline scan has learnt about the text, so no later mark scans the same stretch again."""

    def __init__(self, text: str, marks: list[tuple[int, int]]):
        self.text = text
        self.marks = marks
        self._by_width: dict[int, list[int]] | None = None
        self._blank_lines: list[int] | None = None
        self._found: dict[str, tuple[int, int]] = {}  # needle -> (searched from, first hit or -1)

    def next_run(self, i: int) -> int | None:
        """The index of the next backtick run as wide as run i, if any."""
        marks = self.marks
        start, end = marks[i]
        width = end - start
        for j in range(i + 1, min(i + 9, len(marks))):          # most code spans close at once
            if marks[j][1] - marks[j][0] == width and marks[j][1] >= 0:
                return j
        if self._by_width is None:
            self._by_width = {}
            for k, (run_start, run_end) in enumerate(marks):
                if run_end >= 0:
                    self._by_width.setdefault(run_end - run_start, []).append(k)
        same = self._by_width[width]
        k = bisect_right(same, i)
        return same[k] if k < len(same) else None

    def blank_line_between(self, start: int, end: int) -> bool:
        """Whether a blank line lies wholly inside text[start:end]."""
        if end - start < _NEAR_TEXT:
            return self.text.find("\n", start, end - 1) >= 0 and _BLANK_LINE.search(self.text, start, end) is not None
        if self._blank_lines is None:
            self._blank_lines = [m.start() for m in _BLANK_AHEAD.finditer(self.text)]
        i = bisect_right(self._blank_lines, start - 1)
        if i == len(self._blank_lines):
            return False
        after = self.text.find("\n", self._blank_lines[i] + 1)    # where that blank line ends
        return 0 <= after < end

    def find(self, needle: str, start: int) -> int:
        """text.find(needle, start), remembering the answer for later starts (they only grow)."""
        known = self._found.get(needle)
        if known is not None and known[0] <= start and (known[1] < 0 or known[1] >= start):
            return known[1]
        hit = self.text.find(needle, start)
        self._found[needle] = (start, hit)
        return hit


_BLANK_AHEAD = re.compile(r"\n(?=[ \t]*(?:\n|\Z))")
_NEAR_TEXT = 2048                     # shorter stretches are searched directly


def _inline_spans(text: str) -> list[tuple[int, int]]:
    """Code spans, HTML comments and math, whichever opens first winning (as in CommonMark)."""
    marks = [(m.start(), m.end()) for m in _TICKS.finditer(text)] if "`" in text else []
    if "$" in text:
        marks += [(m.start(), -1) for m in _DOLLAR.finditer(text)]
    if "<!--" in text:
        marks += [(m.start(), -2) for m in _COMMENT_OPEN.finditer(text)]
    if len(marks) > 1:
        marks.sort()
    scan = _Scan(text, marks)
    spans = []
    pos = 0
    for i, (start, end) in enumerate(marks):
        if start < pos:
            continue
        if end >= 0:
            close = _code_span_close(scan, marks, i)
        elif end == -1:
            close = _math_end(scan, start)
        else:
            close = _comment_end(scan, start)
        if close is not None:
            spans.append((start, close))
            pos = close
    return spans


def _code_span_close(scan: _Scan, marks: list[tuple[int, int]], i: int) -> int | None:
    """End of the code span opened by backtick run i: the next run of the same width in the paragraph."""
    start, end = marks[i]
    if _escaped(scan.text, start):
        return None
    j = scan.next_run(i)
    if j is None:
        return None
    close_start, close_end = marks[j]
    if scan.blank_line_between(end, close_start + 1):
        return None
    return close_end


def _math_end(scan: _Scan, start: int) -> int | None:
    text = scan.text
    if _escaped(text, start) or (start > 0 and text[start - 1] == "$"):
        return None
    if text.startswith("$$", start):
        close = scan.find("$$", start + 2)
        return close + 2 if close >= 0 else None
    m = _INLINE_MATH.match(text, start)
    return m.end() if m else None


def _comment_end(scan: _Scan, start: int) -> int | None:
    close = scan.find("-->", start + 4)
    if close >= 0:
        return close + 3
    return len(scan.text) if start == 0 or scan.text[start - 1] == "\n" else None   # an HTML block runs to the end
