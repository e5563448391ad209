"""Candidates for a context pack: the link walk around a task note, the lexical matches, and their rank (pure).

Candidates: the task's links, embeds and frontmatter links; the notes linking to the task; the neighbours
(backlinks and links) of all those; notes sharing the task's own tags; notes using the task's rarest words
without linking to it. Score: a noisy-or over the link paths that reach a note (a path through a hub counts for
less) plus lexical relevance (BM25 over the task's key terms) plus a little recency.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..layout import REPOS_DIR, ZOE_DIR
from .lexicon import OWNED_BLOCK, Lexicon, Scorer
from .privacy import private_folder
from .redact import redact

if TYPE_CHECKING:
    from ..vault.index import VaultIndex
    from ..vault.note import Note

__all__ = ["Candidate", "Walk", "note_name", "rank"]

HUB_LIMIT = 200               # a note with more neighbours (a MOC, a daily index) says nothing about each
LEXICAL_CANDIDATES = 60       # unlinked notes taken from the lexical match

# weights of one link path; a path through a note with many neighbours is divided by 1 + ln(fanout)
W_PROPERTY = 1.0              # customer: / project: / repo: links
W_EMBED = 1.0
W_LINK = 0.9
W_BACKLINK = 0.85             # notes linking to the task
W_NEIGHBOUR_BACK = 0.55       # notes linking to a note the task links to (meetings about the customer)
W_NEIGHBOUR_OUT = 0.4         # notes linked from a note the task links to
W_SECOND_OUT = 0.3            # notes linked from a note that links to the task
W_TAG = 0.35
LEX_WEIGHT = 1.1
RECENCY_WEIGHT = 0.15
RECENCY_HALF_LIFE_DAYS = 120


@dataclass
class Candidate:
    """Accumulates the link paths that reach one note while the candidate set is built."""

    path: str
    paths: list[tuple[float, str]] = field(default_factory=list)
    lexical: float = 0.0
    recency: float = 0.5
    score: float = 0.0

    def add(self, weight: float, why: str) -> None:
        self.paths.append((weight, why))

    @property
    def graph(self) -> float:
        miss = 1.0
        for weight, _ in self.paths:
            miss *= 1.0 - min(weight, 0.99)
        return 1.0 - miss

    @property
    def why(self) -> str:
        if not self.paths:
            return "uses the task's words"
        best = max(self.paths, key=lambda p: p[0])[1]
        more = len(self.paths) - 1
        return best + (f" (+{more} more path{'s' if more > 1 else ''})" if more else "")


def _hub_weight(base: float, fanout: int) -> float:
    return base / (1.0 + math.log(max(fanout, 1)))


def note_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base[:-3] if base.lower().endswith(".md") else base


def _direct_reason(link: Any) -> tuple[float, str]:
    if link.key:
        return W_PROPERTY, f"`{link.key}:` of the task"
    if link.embed:
        return W_EMBED, "embedded in the task"
    return W_LINK, "linked from the task"


class Walk:
    """The link walk around one task note: which notes are reachable, by which paths; which may not enter."""

    def __init__(self, index: VaultIndex, task: Note, lexicon: Lexicon, private_folders: Sequence[str]):
        self.index, self.task, self.lexicon, self.private_folders = index, task, lexicon, private_folders
        self.cands: dict[str, Candidate] = {}
        self.blocked: dict[str, str] = {}        # path -> why it may not enter the pack
        self.given: dict[str, str] = {}          # path -> already in the pack as a given piece (extra)
        self.repo_path: str | None = None

    def reach(self, path: str | None, weight: float, why: str) -> bool:
        if not path or path == self.task.path or not path.lower().endswith(".md") or not self.allowed(path):
            return False
        self.cands.setdefault(path, Candidate(path)).add(weight, why)
        return True

    def allowed(self, path: str) -> bool:
        if path in self.blocked:
            return False
        doc = self.lexicon.docs.get(path) or self.lexicon.load(self.index, path)
        why = private_folder(path, self.private_folders) or (doc.marked_private if doc else None)
        if not why and path.startswith(ZOE_DIR + "/") and path != self.repo_path:
            why = "another repo's note" if path.startswith(REPOS_DIR + "/") else "vaultzoe's own note"
        if why:
            self.blocked[path] = why
        return not why and doc is not None

    def outlinks(self, path: str) -> list[str]:
        return [t for _, t in self.index.resolved_links(path) if t]

    def direct(self) -> list[str]:
        links = self.index.resolved_links(self.task.path)
        self.repo_path = next((t for link, t in links if link.key and link.key.lower() == "repo" and t), None)
        firsts: list[str] = []
        for link, target in links:
            weight, why = _direct_reason(link)
            if self.reach(target, weight, why) and target not in firsts:
                firsts.append(target)
        for source in sorted(self.index.backlinks(self.task.path)):
            if self.reach(source, W_BACKLINK, "links to the task"):
                firsts.append(source)
        return firsts

    def neighbours(self, firsts: Sequence[str]) -> None:
        links_to_task = self.index.backlinks(self.task.path)
        for first in firsts:
            if first == self.repo_path:              # every task links its repo: that says nothing
                continue
            name = note_name(first)
            if first not in links_to_task:
                self.spread(self.index.backlinks(first), W_NEIGHBOUR_BACK, f"links to [[{name}]]")
            base = W_SECOND_OUT if first in links_to_task else W_NEIGHBOUR_OUT
            self.spread(self.outlinks(first), base, f"linked from [[{name}]]")

    def drop_given(self, firsts: Sequence[str], given: Sequence[str]) -> None:
        """A linked note whose text the caller already passed as an extra (the repo note, say) is not repeated."""
        for path in firsts:
            note = self.index.note(path) if given and path in self.cands else None
            body = redact(OWNED_BLOCK.sub("", note.body).strip()) if note is not None else ""
            if body and any(body in piece for piece in given):
                self.given[path] = "given above in full"
                del self.cands[path]

    def spread(self, paths: Iterable[str], base: float, why: str) -> None:
        """One path of weight base / (1 + ln fanout) to each of a note's neighbours; none through a hub."""
        unique = set(paths)
        if len(unique) <= HUB_LIMIT:
            weight = _hub_weight(base, len(unique))
            for path in sorted(unique):
                self.reach(path, weight, why)

    def shared_tags(self) -> None:
        for tag in dict.fromkeys(t.lower() for t in self.task.tags):
            if not tag.startswith(("#task", "#private")):
                self.spread(self.index.tagged(tag), W_TAG, f"shares {tag}")

    def lexical(self, weights: dict[str, float]) -> None:
        """Score every candidate lexically, and add the best unlinked notes that use two or more key terms."""
        scorer = Scorer(self.lexicon, weights)
        for cand in self.cands.values():
            cand.lexical = scorer.score(cand.path)
        pool: set[str] = set()
        limit = max(50, len(self.lexicon.docs) // 20)
        for posting, _ in scorer.postings:
            if len(posting) <= limit:
                pool.update(posting)
        pool.difference_update(self.cands)
        pool.discard(self.task.path)
        scored = [(scorer.score(p), p) for p in pool if scorer.matched(p) >= 2 and not p.startswith(ZOE_DIR + "/")]
        added = 0
        for score, path in heapq.nlargest(2 * LEXICAL_CANDIDATES, scored):
            if added < LEXICAL_CANDIDATES and self.allowed(path):
                self.cands[path] = Candidate(path, lexical=score)
                added += 1


def rank(cands: dict[str, Candidate], lexicon: Lexicon) -> list[Candidate]:
    """Score = link paths (noisy-or) + lexical relevance + recency (newest dated candidate 1, halving with age)."""
    days = {p: lexicon.docs[p].day for p in cands if p in lexicon.docs}
    newest = max((d for d in days.values() if d is not None), default=None)
    for cand in cands.values():
        day = days.get(cand.path)
        if newest is not None and day is not None:
            cand.recency = 0.5 ** ((newest - day) / RECENCY_HALF_LIFE_DAYS)
        cand.score = cand.graph + LEX_WEIGHT * cand.lexical + RECENCY_WEIGHT * (cand.recency - 0.5)
    return sorted(cands.values(), key=lambda c: (-c.score, c.path))

