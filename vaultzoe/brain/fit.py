"""Fitting candidates into a token budget: summaries, full texts and names, bought by value per token (pure).

The budget is spent greedily on the best value per token: a note's summary (headings, first paragraph, the
sentences using the task's terms) or, later, its full text; what is left pays for the names of the next notes.
Only the notes bought are read.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .candidates import Candidate, note_name
from .lexicon import Doc, Lexicon, note_text, terms_of
from .redact import redact

if TYPE_CHECKING:
    from ..vault.index import VaultIndex
    from ..vault.note import Note
    from .candidates import Walk

__all__ = ["NAMES_HEADING", "Build", "Forms", "Mode", "estimate_tokens", "fit", "summarize"]

Mode = Literal["full", "summary", "name"]

NAMES_HEADING = "### Other related notes (names only)\n"
FULL_SHARE = 0.45             # one note's full text may take at most this share of the budget
NAMES_SHARE = 0.08            # names of notes that did not fit take at most this share...
NAMES_MAX = 20                # ...and at most this many lines
BUY_FLOOR = 0.50              # below this score a note is not worth any of its text: unspent budget beats noise
SUMMARY_SENTENCES = 4
SUMMARY_MAX_TOKENS = 260
SUMMARY_SCAN_CHARS = 60_000   # a summary reads the first 60k characters of a long note
MIN_USEFUL_TOKENS = 40        # budget left below this buys nothing more but names
GAIN = {"summary": 0.7, "full": 0.3}   # share of a note's value a summary / the rest of the text carries

_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def estimate_tokens(text: str) -> int:
    """About four characters per token: close enough for English prose and markdown."""
    return (len(text) + 3) // 4


@dataclass
class Build:
    """The state of one build_pack call (the index, the term index, the walk, the notes read)."""

    index: VaultIndex
    lexicon: Lexicon
    walk: Walk
    weights: dict[str, float]

    def hidden_names(self) -> list[str]:
        names = [note_name(p).lower() for p in self.walk.blocked]
        return names + [n.replace(" ", "%20") for n in names if " " in n]

    def read(self, path: str) -> Note | None:
        note = self.index.note(path)
        if note is None:
            self.lexicon.drop(path)
        else:
            self.lexicon.put(note)                   # an edit noticed here updates the term index too
        return note


# ---------------------------------------------------------------- summaries


def _split(line: str) -> list[str]:
    line = line.strip().lstrip("-*>+ ").strip()
    if line.startswith(("[ ] ", "[x] ")):
        line = line[4:]
    if not line or line.startswith(("#", "---", "```", "|")):
        return []
    return [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]


def _clip(text: str, words: int) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + " …"


def _first_paragraph(body: str) -> str:
    for block in _PARAGRAPH_BREAK.split(body[:SUMMARY_SCAN_CHARS], maxsplit=50):
        lines = [ln for ln in block.strip().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if lines:
            return _clip(" ".join(ln.strip() for ln in lines), 40)
    return ""


def summarize(note: Note, body: str, weights: dict[str, float]) -> str:
    """Headings, the first paragraph, and the sentences that use the task's key terms (best first, kept in order)."""
    parts = []
    headings = [h.text for h in note.headings if h.level > 1][:8]
    if headings:
        parts.append("Sections: " + " · ".join(headings))
    first = _first_paragraph(body)
    if first:
        parts.append(first)
    picked = _matching_sentences(body[:SUMMARY_SCAN_CHARS], weights, SUMMARY_SENTENCES, skip=first)
    if picked:
        parts.append("\n".join(f"- {_clip(s, 50)}" for s in picked))
    text = "\n".join(parts)
    return text if estimate_tokens(text) <= SUMMARY_MAX_TOKENS else text[: SUMMARY_MAX_TOKENS * 4] + " …"


def _matching_sentences(body: str, weights: dict[str, float], limit: int, skip: str) -> list[str]:
    scored = []
    for line in body.splitlines():
        low = line.lower()
        if not any(term in low for term in weights):     # stems are substrings of their words: a cheap first cut
            continue
        for sentence in _split(line):
            if sentence in skip:
                continue
            hit = sum(weights[t] for t in set(terms_of(sentence)) if t in weights)
            if hit:
                scored.append((-hit, len(scored), sentence))
    best = sorted(scored)[:limit]
    return [s for _, _, s in sorted(best, key=lambda x: x[1])]


# ---------------------------------------------------------------- fitting the budget


class Forms:
    """A candidate's forms for the prompt: its name line, then (read only when bought) summary and full text."""

    def __init__(self, cand: Candidate, doc: Doc, build: Build) -> None:
        self.build = build
        self.path, self.score, self.why = cand.path, cand.score, cand.why
        name = note_name(cand.path)
        self.header = f"### {name}\n_{cand.why}_\n\n"
        self.name = f"- {name}: {cand.why}\n"
        self.full_estimate = estimate_tokens(self.header) + (doc.chars + 3) // 4 + 1
        self._body: str | None = None
        self._note: Note | None = None
        self._texts: dict[str, str] = {}

    def _read(self) -> str | None:
        """The note's text with links to left-out notes masked (not yet redacted); None when it vanished."""
        if self._body is None:
            self._note = self.build.read(self.path)
            if self._note is None:
                return None
            self._body = _mask_links(_FRONTMATTER.sub("", note_text(self._note), count=1).strip(), self._note,
                                     self.build)
        return self._body

    def text(self, mode: str) -> str | None:
        """The rendered form (redacted); a summary as long as most of the note is the full text."""
        if mode == "name":
            return self.name
        if mode not in self._texts:
            body = self._read()
            if body is None or self._note is None:
                return None
            props = _mask_links(_properties(self._note.frontmatter), self._note, self.build)
            if mode == "summary":
                summary = summarize(self._note, body, self.build.weights)
                if estimate_tokens(summary) >= 0.8 * self.full_estimate:
                    return self.text("full")
                short = _clip(props.strip(), 30) + "\n" if props else ""
                self._texts[mode] = self.header + redact(short + summary) + "\n\n"
            else:
                self._texts[mode] = self.header + redact(props + body) + "\n\n"
        return self._texts[mode]

    def is_full(self, mode: str) -> bool:
        return mode == "full" or (mode == "summary" and self.text("summary") == self._texts.get("full"))

    def tokens(self, mode: str) -> int:
        return estimate_tokens(self.text(mode) or "")


def _properties(frontmatter: Any) -> str:
    """The note's properties on one line ("Properties: contact: Dana; plan: enterprise"), not as YAML fences."""
    if not isinstance(frontmatter, dict):
        return ""
    parts = []
    for key, value in frontmatter.items():
        if value in (None, "", [], {}):
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        parts.append(f"{key}: {shown}")
    return "Properties: " + "; ".join(parts) + "\n" if parts else ""


def _mask_links(text: str, note: Note, build: Build) -> str:
    """Links to private or internal notes become "[private note]" so not even their names leak."""
    low = text.lower()
    if not any(name in low for name in build.hidden_names()):
        return text                                  # a link names its target (maybe %20-encoded): none here
    for link, target in build.index.resolved_links(note.path):
        if target and link.original and target in build.walk.blocked:
            text = text.replace(link.original, "[private note]")
    return text


def _priority(forms: Forms, target: str, delta: int) -> float:
    return forms.score * forms.score * GAIN[target] / max(delta, 40)


def fit(options: list[Forms], budget: int) -> tuple[dict[str, Mode], list[str]]:
    """Buy summaries and full texts by value per token (lazily: a note is read when its turn comes), then names."""
    names_room = min(int(NAMES_SHARE * budget), NAMES_MAX * 12) if len(options) > 1 else 0
    left = budget - names_room
    modes: dict[str, Mode] = {}
    full_cap = max(int(FULL_SHARE * budget), 200)
    heap = [(-_priority(f, "summary", min(f.full_estimate, SUMMARY_MAX_TOKENS)), rank, "summary", False)
            for rank, f in enumerate(options) if f.score >= BUY_FLOOR]
    heapq.heapify(heap)
    while heap and left > MIN_USEFUL_TOKENS:
        _, rank, target, exact = heapq.heappop(heap)
        forms = options[rank]
        have = forms.tokens(modes[forms.path]) if forms.path in modes else 0
        if target == "full" and (forms.full_estimate > full_cap or forms.full_estimate - have > left):
            continue                                 # too long to take whole (for now), or no room left for it
        if not exact and target == "summary" and min(forms.full_estimate, 2 * MIN_USEFUL_TOKENS) > left:
            continue                                 # not even a short summary would fit: do not read it
        if not exact:                                # read the note, then queue it again at its true price
            if forms.text(target) is not None:
                delta = forms.tokens(target) - have
                heapq.heappush(heap, (-_priority(forms, target, delta), rank, target, True))
            continue
        delta = forms.tokens(target) - have
        if delta > left:
            continue
        modes[forms.path] = "full" if forms.is_full(target) else target  # type: ignore[assignment]
        left -= delta
        if modes[forms.path] == "summary":
            est = forms.full_estimate - forms.tokens("summary")
            heapq.heappush(heap, (-_priority(forms, "full", est), rank, "full", False))
    left = _whole_with_the_rest(options, modes, left)
    return _names(options, modes, left + names_room)


def _whole_with_the_rest(options: list[Forms], modes: dict[str, Mode], left: int) -> int:
    """Long notes held to a summary by the one-note cap get their full text when the budget would go unspent."""
    for forms in options:
        if modes.get(forms.path) == "summary":
            delta = forms.full_estimate - forms.tokens("summary")
            if delta <= left and forms.text("full") is not None:
                delta = forms.tokens("full") - forms.tokens("summary")
                if delta <= left:
                    modes[forms.path] = "full"
                    left -= delta
    return left


def _names(options: list[Forms], modes: dict[str, Mode], left: int) -> tuple[dict[str, Mode], list[str]]:
    over = []
    left -= estimate_tokens(NAMES_HEADING) + 1
    named = 0
    for forms in options:
        if forms.path in modes:
            continue
        cost = forms.tokens("name")
        if named < NAMES_MAX and cost <= left:
            modes[forms.path] = "name"
            left -= cost
            named += 1
        else:
            over.append(forms.path)
    return modes, over


