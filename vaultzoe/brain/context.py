"""Context pack: walk links/backlinks, rank, fit a token budget, redact secrets, honour privacy (pure over the index).

API CONTRACT (fixed):

    build_pack(index: VaultIndex, task_path: str, budget_tokens: int, *, private_folders: Sequence[str] = (),
               extra: Sequence[tuple[str, str]] = ()) -> ContextPack
        extra: (title, text) pieces to include first (repo note summary, learnings, earlier attempts, feedback).
    ContextPack(items: tuple[PackItem, ...], left_out: tuple[tuple[str, str], ...], budget: int)
        .render() -> str      markdown for the prompt
        .used_tokens -> int
    PackItem(path: str, mode: "full"|"summary"|"name", text: str, tokens: int, score: float, why: str)
    is_private(note: Note, private_folders) -> bool
    redact(text: str) -> str
    estimate_tokens(text: str) -> int

Beyond the contract: note_changed(index, paths) tells the term index which notes changed (pass what
index.refresh() returned); warm(index) builds the term index ahead of the first pack.

How a pack is chosen (figures in docs/PERFORMANCE.md, "Context packs"). Candidates: the task's links,
embeds and frontmatter links; the notes linking to the task; the neighbours (backlinks and links) of all
those; notes sharing the task's own tags; notes using the task's rarest words without linking to it.
Score: a noisy-or over the link paths that reach a note (a path through a hub counts for less) plus lexical
relevance (BM25 over the task's key terms) plus a little recency. The budget is then spent greedily on the
best value per token: a note's summary (headings, first paragraph, the sentences using the task's terms)
or, later, its full text; what is left pays for the names of the next notes. Only the notes bought are read.
"""

from __future__ import annotations

import heapq
import math
import re
import sys
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import VaultError
from ..settings import REPOS_DIR, ZOE_DIR
from .redact import redact

if TYPE_CHECKING:
    from ..vault.index import VaultIndex
    from ..vault.note import Note

__all__ = ["ContextPack", "PackItem", "build_pack", "estimate_tokens", "is_private", "note_changed", "redact",
           "warm"]

Mode = Literal["full", "summary", "name"]

PACK_HEADING = "## Business context (from the vault)\n\n"
NAMES_HEADING = "### Other related notes (names only)\n"
EXTRAS_SHARE = 0.5            # extras come first but may take at most half the budget together
FULL_SHARE = 0.45             # one note's full text may take at most this share of the budget
NAMES_SHARE = 0.08            # names of notes that did not fit take at most this share...
NAMES_MAX = 20                # ...and at most this many lines
KEEP_FLOOR = 0.30             # below this score a note is not worth even its name...
BUY_FLOOR = 0.50              # ...and below this not worth any of its text: unspent budget beats noise
HUB_LIMIT = 200               # a note with more neighbours (a MOC, a daily index) says nothing about each
LEXICAL_CANDIDATES = 60       # unlinked notes taken from the lexical match
KEY_TERMS = 14
TITLE_BOOST = 2.0             # a word of the task's title counts double
FULL_MATCH_TERMS = 6          # a note holding the task's six best terms is a full lexical match
COVERAGE_POWER = 1.5
COMMON_SHARE = 0.2            # terms in more than this share of notes say nothing about relevance
TEMPLATE_SHARE = 0.3          # ...nor do terms in more than this share of task notes (the task template)
TEMPLATE_MIN_TASKS = 8
LEFT_OUT_LISTED = 40          # weak candidates listed as left out (private ones are always listed)
SUMMARY_SENTENCES = 4
SUMMARY_MAX_TOKENS = 260
SUMMARY_SCAN_CHARS = 60_000   # a summary reads the first 60k characters of a long note
MIN_USEFUL_TOKENS = 40        # budget left below this buys nothing more but names

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
GAIN = {"summary": 0.7, "full": 0.3}   # share of a note's value a summary / the rest of the text carries

_OWNED_BLOCK = re.compile(r"<!--\s*vaultzoe:([\w./\-]+)\s*-->.*?<!--\s*/vaultzoe:\1\s*-->\n?", re.S)
_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_DATE_IN_TEXT = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_DATE_KEYS = ("date", "created", "updated", "modified", "day", "meeting_date")
_TRUE_STRINGS = frozenset({"true", "yes", "y", "on", "1"})

STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren as at be because been before being below
between both but by can cannot could did do does doing don down during each else etc even ever every few
for from further get gets got had has have having he her here hers herself him himself his how however i
if in into is isn it its itself just let like make makes made many may me might more most much must my
myself need needs new no nor not now of off on once one only or other ought our ours ourselves out over
own per please same shall she should so some such than that the their theirs them themselves then there
these they this those through to too under until up upon us use used using very via want wants was we
were what when where which while who whom why will with within without would yes yet you your yours
yourself yourselves task tasks note notes todo done goal acceptance criteria criterion able sure add adds
added update updated change changes work works working thing things way ways still see well good bad next
last first week day today tomorrow yesterday people team someone
""".split())


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class PackItem:
    path: str
    mode: Mode
    text: str
    tokens: int
    score: float
    why: str


@dataclass(frozen=True)
class ContextPack:
    items: tuple[PackItem, ...]
    left_out: tuple[tuple[str, str], ...]
    budget: int
    terms: tuple[str, ...] = ()           # the task's key terms the pack was ranked by

    def render(self) -> str:
        """Markdown for the prompt: given pieces, full notes and summaries best first, then names of the rest."""
        if not self.items:
            return ""
        body = [i.text for i in self.items if i.mode != "name"]
        names = [i.text for i in self.items if i.mode == "name"]
        if names:
            body += [NAMES_HEADING, *names, "\n"]
        return PACK_HEADING + "".join(body).rstrip() + "\n"

    @property
    def used_tokens(self) -> int:
        return estimate_tokens(self.render())

    def share(self, item: PackItem) -> float:
        """The item's share of the budget, 0..1 (for the attempt note)."""
        return item.tokens / self.budget if self.budget else 0.0


def estimate_tokens(text: str) -> int:
    """About four characters per token: close enough for English prose and markdown."""
    return (len(text) + 3) // 4


def is_private(note: Note, private_folders: Sequence[str] = ()) -> bool:
    """`private: true` (any case of the name; yes/on/1; or a list holding one), a #private tag (or #private/...),
    or a path under one of private_folders."""
    return (_marked_private(note) or _private_folder(note.path, private_folders)) is not None


def _marked_private(note: Note) -> str | None:
    if _flag_set(_property(note.frontmatter, "private")):
        return "private: true"
    if any(t.lower() == "#private" or t.lower().startswith("#private/") for t in note.tags):
        return "tagged #private"
    return None


def _property(frontmatter: Any, name: str) -> Any:
    """A property by name, ignoring case as Obsidian does (`Private:` is `private:`)."""
    if not isinstance(frontmatter, dict):
        return None
    if name in frontmatter:
        return frontmatter[name]
    return next((v for k, v in frontmatter.items() if isinstance(k, str) and k.strip().lower() == name), None)


def _flag_set(value: Any) -> bool:
    """true, 1, "yes"/"true"/"on", or a list holding one of them (`private: [true]`)."""
    if isinstance(value, (list, tuple)):
        return any(_flag_set(v) for v in value)
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return value is True or (type(value) is int and value == 1)


def _private_folder(path: str, private_folders: Sequence[str]) -> str | None:
    low = path.lower()
    for folder in private_folders:
        clean = folder.strip().strip("/")
        if clean and low.startswith(clean.lower() + "/"):
            return f"in private folder {clean}/"
    return None


def note_text(note: Note) -> str:
    """The note's text without vaultzoe's owned blocks (status callouts of other tasks are noise)."""
    return _OWNED_BLOCK.sub("", note.text).strip()


# ---------------------------------------------------------------- terms


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms_of(text: str) -> list[str]:
    """Lower-cased, lightly stemmed content words (no stopwords, numbers or one- and two-letter words)."""
    words = [w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOPWORDS and not w.isdigit()]
    stems = {w: _stem(w) for w in set(words)}
    return [stems[w] for w in words]


@dataclass(frozen=True)
class _Doc:
    """What the term index remembers of a note, so ranking never has to read it."""

    terms: tuple[str, ...]       # distinct terms (to take the note out of the postings again)
    length: int                  # words
    chars: int                   # of the text without owned blocks
    marked_private: str | None   # private: true / #private
    day: int | None              # date from frontmatter or the file name
    digest: int                  # hash of the text, to notice an edit when the note is read again
    is_task: bool = False


def _doc(note: Note) -> _Doc:
    text = note_text(note)
    words = terms_of(text)
    terms = tuple(sorted({sys.intern(w) for w in words + terms_of(note.name)}))   # a title often says it all
    return _Doc(terms, len(words), len(text), _marked_private(note), _note_day(note), hash(note.text),
                bool(note.is_task))


class _Lexicon:
    """An inverted index of the vault's notes, cached per index object and kept in step with it."""

    def __init__(self) -> None:
        self.docs: dict[str, _Doc] = {}
        self.postings: dict[str, set[str]] = {}
        self.task_df: dict[str, int] = {}          # in how many task notes a term appears
        self.tasks = 0
        self.total_len = 0
        self.files: list[str] = []                 # the index's file list at the last sync

    def sync(self, index: VaultIndex) -> None:
        """Add notes new to the index, drop the ones gone (cheap when nothing came or went: one list compare)."""
        if not self.docs:
            for note in index.notes():               # the first time: one pass over every note
                self.put(note)
        files = index.files()
        if files == self.files:
            return
        self.files = files
        paths = {p for p in files if p.lower().endswith(".md")}
        for gone in [p for p in self.docs if p not in paths]:
            self.drop(gone)
        for path in paths.difference(self.docs):
            self.load(index, path)

    def load(self, index: VaultIndex, path: str) -> _Doc | None:
        note = index.note(path)
        if note is None:
            self.drop(path)
            return None
        return self.put(note)

    def put(self, note: Note) -> _Doc:
        old = self.docs.get(note.path)
        if old is not None and old.digest == hash(note.text):
            return old
        self.drop(note.path)
        doc = self.docs[note.path] = _doc(note)
        self.total_len += doc.length
        for term in doc.terms:
            self.postings.setdefault(term, set()).add(note.path)
        if doc.is_task:
            self.tasks += 1
            for term in doc.terms:
                self.task_df[term] = self.task_df.get(term, 0) + 1
        return doc

    def drop(self, path: str) -> None:
        doc = self.docs.pop(path, None)
        if doc is None:
            return
        self.total_len -= doc.length
        self.tasks -= doc.is_task
        for term in doc.terms:
            posting = self.postings.get(term)
            if posting is not None:
                posting.discard(path)
                if not posting:
                    del self.postings[term]
            if doc.is_task:
                self.task_df[term] -= 1

    def df(self, term: str) -> int:
        return len(self.postings.get(term, ()))

    def template_word(self, term: str) -> bool:
        """In most task notes: a word of the task template, not of this task."""
        return self.tasks >= TEMPLATE_MIN_TASKS and self.task_df.get(term, 0) > TEMPLATE_SHARE * self.tasks

    def idf(self, term: str) -> float:
        n, df = max(len(self.docs), 1), self.df(term)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @property
    def avg_len(self) -> float:
        return self.total_len / len(self.docs) if self.docs else 1.0


_LEXICONS: weakref.WeakKeyDictionary[Any, _Lexicon] = weakref.WeakKeyDictionary()


def _lexicon(index: VaultIndex, sync: bool = True) -> _Lexicon:
    lexicon = _LEXICONS.get(index)
    if lexicon is None:
        lexicon = _LEXICONS[index] = _Lexicon()
    if sync:
        lexicon.sync(index)
    return lexicon


def warm(index: VaultIndex) -> None:
    """Build the term index now (it reads every note once), so the first pack is as fast as the rest."""
    _lexicon(index)


def note_changed(index: VaultIndex, paths: Iterable[str]) -> None:
    """Re-read these notes into the term index (pass what index.refresh() or the watcher reported)."""
    lexicon = _lexicon(index, sync=False)
    if lexicon.docs:                                 # not built yet: the first pack reads everything anyway
        for path in paths:
            lexicon.load(index, path)


def key_terms(text: str, title: str, lexicon: _Lexicon, limit: int = KEY_TERMS) -> dict[str, float]:
    """The task's most telling terms with their weights: tf x idf, doubled for words of the title."""
    counts: dict[str, float] = {}
    for word in terms_of(text):
        counts[word] = counts.get(word, 0.0) + 1.0
    in_title = set(terms_of(title))
    for word in in_title:
        counts.setdefault(word, 1.0)
    n = max(len(lexicon.docs), 1)
    scored = {}
    for term, tf in counts.items():
        df = lexicon.df(term)
        if df <= 1 or df > max(COMMON_SHARE * n, 20) or lexicon.template_word(term):
            continue                                     # only the task has it, most notes do, or every task
        scored[term] = (1 + math.log(tf)) * lexicon.idf(term) * (TITLE_BOOST if term in in_title else 1.0)
    return dict(sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])


class _Scorer:
    """BM25 with term presence only; 1.0 for a note of average length holding the task's best few terms."""

    def __init__(self, lexicon: _Lexicon, weights: dict[str, float]) -> None:
        self.lexicon, self.weights = lexicon, weights
        self.postings = [(lexicon.postings.get(t, set()), w) for t, w in weights.items()]
        self.reference = sum(sorted(weights.values(), reverse=True)[:FULL_MATCH_TERMS]) or 1.0
        self.avg_len = max(lexicon.avg_len, 1.0)

    def score(self, path: str) -> float:
        doc = self.lexicon.docs.get(path)
        hit = sum(w for posting, w in self.postings if path in posting) if doc else 0.0
        if not hit or doc is None:
            return 0.0
        coverage = min(hit / self.reference, 1.0) ** COVERAGE_POWER   # most key terms beat half of them twice
        return coverage * (1 + 1.2) / (1 + 1.2 * (0.25 + 0.75 * doc.length / self.avg_len))

    def matched(self, path: str) -> int:
        return sum(1 for posting, _ in self.postings if path in posting)


# ---------------------------------------------------------------- candidates


@dataclass
class _Candidate:
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


def _note_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base[:-3] if base.lower().endswith(".md") else base


def _direct_reason(link: Any) -> tuple[float, str]:
    if link.key:
        return W_PROPERTY, f"`{link.key}:` of the task"
    if link.embed:
        return W_EMBED, "embedded in the task"
    return W_LINK, "linked from the task"


class _Walk:
    """The link walk around one task note: which notes are reachable, by which paths; which may not enter."""

    def __init__(self, index: VaultIndex, task: Note, lexicon: _Lexicon, private_folders: Sequence[str]):
        self.index, self.task, self.lexicon, self.private_folders = index, task, lexicon, private_folders
        self.cands: dict[str, _Candidate] = {}
        self.blocked: dict[str, str] = {}        # path -> why it may not enter the pack
        self.given: dict[str, str] = {}          # path -> already in the pack as a given piece (extra)
        self.repo_path: str | None = None

    def reach(self, path: str | None, weight: float, why: str) -> bool:
        if not path or path == self.task.path or not path.lower().endswith(".md") or not self.allowed(path):
            return False
        self.cands.setdefault(path, _Candidate(path)).add(weight, why)
        return True

    def allowed(self, path: str) -> bool:
        if path in self.blocked:
            return False
        doc = self.lexicon.docs.get(path) or self.lexicon.load(self.index, path)
        why = _private_folder(path, self.private_folders) or (doc.marked_private if doc else None)
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
            name = _note_name(first)
            if first not in links_to_task:
                self.spread(self.index.backlinks(first), W_NEIGHBOUR_BACK, f"links to [[{name}]]")
            base = W_SECOND_OUT if first in links_to_task else W_NEIGHBOUR_OUT
            self.spread(self.outlinks(first), base, f"linked from [[{name}]]")

    def drop_given(self, firsts: Sequence[str], given: Sequence[str]) -> None:
        """A linked note whose text the caller already passed as an extra (the repo note, say) is not repeated."""
        for path in firsts:
            note = self.index.note(path) if given and path in self.cands else None
            body = redact(_OWNED_BLOCK.sub("", note.body).strip()) if note is not None else ""
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
        scorer = _Scorer(self.lexicon, weights)
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
                self.cands[path] = _Candidate(path, lexical=score)
                added += 1


# ---------------------------------------------------------------- recency


def _note_day(note: Note) -> int | None:
    fm = note.frontmatter if isinstance(note.frontmatter, dict) else {}
    for key in _DATE_KEYS:
        day = _as_day(fm.get(key))
        if day is not None:
            return day
    match = _DATE_IN_TEXT.search(note.path)
    return _ymd(match) if match else None


def _as_day(value: Any) -> int | None:
    if isinstance(value, datetime):
        return value.date().toordinal()
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, str):
        match = _DATE_IN_TEXT.search(value)
        return _ymd(match) if match else None
    return None


def _ymd(match: re.Match[str]) -> int | None:
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3))).toordinal()
    except ValueError:
        return None


def _rank(cands: dict[str, _Candidate], lexicon: _Lexicon) -> list[_Candidate]:
    """Score = link paths (noisy-or) + lexical relevance + recency (newest dated candidate 1, halving with age)."""
    days = {p: lexicon.docs[p].day for p in cands if p in lexicon.docs}
    newest = max((d for d in days.values() if d is not None), default=None)
    for cand in cands.values():
        day = days.get(cand.path)
        if newest is not None and day is not None:
            cand.recency = 0.5 ** ((newest - day) / RECENCY_HALF_LIFE_DAYS)
        cand.score = cand.graph + LEX_WEIGHT * cand.lexical + RECENCY_WEIGHT * (cand.recency - 0.5)
    return sorted(cands.values(), key=lambda c: (-c.score, c.path))


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


class _Forms:
    """A candidate's forms for the prompt: its name line, then (read only when bought) summary and full text."""

    def __init__(self, cand: _Candidate, doc: _Doc, build: _Build) -> None:
        self.build = build
        self.path, self.score, self.why = cand.path, cand.score, cand.why
        name = _note_name(cand.path)
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


def _mask_links(text: str, note: Note, build: _Build) -> str:
    """Links to private or internal notes become "[private note]" so not even their names leak."""
    low = text.lower()
    if not any(name in low for name in build.hidden_names()):
        return text                                  # a link names its target (maybe %20-encoded): none here
    for link, target in build.index.resolved_links(note.path):
        if target and link.original and target in build.walk.blocked:
            text = text.replace(link.original, "[private note]")
    return text


def _priority(forms: _Forms, target: str, delta: int) -> float:
    return forms.score * forms.score * GAIN[target] / max(delta, 40)


def _fit(options: list[_Forms], budget: int) -> tuple[dict[str, Mode], list[str]]:
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


def _whole_with_the_rest(options: list[_Forms], modes: dict[str, Mode], left: int) -> int:
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


def _names(options: list[_Forms], modes: dict[str, Mode], left: int) -> tuple[dict[str, Mode], list[str]]:
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


# ---------------------------------------------------------------- extras (given pieces: repo, learnings, attempts)


def _extra_items(extra: Sequence[tuple[str, str]], budget: int) -> list[PackItem]:
    items = []
    left = int(budget * EXTRAS_SHARE)
    for title, text in extra:
        body = redact(text.strip())
        if not body:
            continue
        chunk = f"### {title}\n\n{body}\n\n"
        if estimate_tokens(chunk) > left:
            chunk = _cut(chunk, left)
        if not chunk:
            break
        tokens = estimate_tokens(chunk)
        left -= tokens
        items.append(PackItem(path=title, mode="full", text=chunk, tokens=tokens, score=float("inf"), why="given"))
    return items


def _cut(chunk: str, tokens: int) -> str:
    marker = "\n…(cut to fit the budget)\n\n"
    room = tokens * 4 - len(marker)
    return chunk[:room].rstrip() + marker if room > 80 else ""


# ---------------------------------------------------------------- the pack


@dataclass
class _Build:
    """The state of one build_pack call (the index, the term index, the walk, the notes read)."""

    index: VaultIndex
    lexicon: _Lexicon
    walk: _Walk
    weights: dict[str, float]

    def hidden_names(self) -> list[str]:
        names = [_note_name(p).lower() for p in self.walk.blocked]
        return names + [n.replace(" ", "%20") for n in names if " " in n]

    def read(self, path: str) -> Note | None:
        note = self.index.note(path)
        if note is None:
            self.lexicon.drop(path)
        else:
            self.lexicon.put(note)                   # an edit noticed here updates the term index too
        return note


def build_pack(index: VaultIndex, task_path: str, budget_tokens: int, *, private_folders: Sequence[str] = (),
               extra: Sequence[tuple[str, str]] = ()) -> ContextPack:
    """The context for one task: the most relevant vault notes inside budget_tokens, redacted, private ones left out."""
    task = index.note(task_path)
    if task is None:
        raise VaultError(f"No note at {task_path!r} to build a context pack for: check the task's path in the vault")
    budget = max(int(budget_tokens), 0)
    extras = _extra_items(extra, budget)
    room = budget - sum(i.tokens for i in extras) - estimate_tokens(PACK_HEADING) - 2
    lexicon = _lexicon(index)
    weights = key_terms(_task_words(task), task.name, lexicon)
    walk = _Walk(index, task, lexicon, private_folders)
    firsts = walk.direct()
    walk.neighbours(firsts)
    walk.drop_given(firsts, [i.text for i in extras])
    walk.shared_tags()
    walk.lexical(weights)
    ranked = _rank(walk.cands, lexicon)
    build = _Build(index, lexicon, walk, weights)
    kept = [c for c in ranked if c.score >= KEEP_FLOOR or c.graph >= W_LINK - 1e-9]
    options = [_Forms(c, lexicon.docs[c.path], build) for c in kept if c.path in lexicon.docs]
    modes, over = _fit(options, room)
    items = extras + [_item(f, modes[f.path]) for f in options if f.path in modes]
    kept_paths = {c.path for c in kept}
    weak = [(c.path, f"weak match (score {c.score:.2f})") for c in ranked if c.path not in kept_paths]
    weak = weak[:LEFT_OUT_LISTED]
    left_out = sorted(walk.blocked.items()) + sorted(walk.given.items()) + [(p, "over budget") for p in over] + weak
    return ContextPack(items=tuple(items), left_out=tuple(left_out), budget=budget, terms=tuple(weights))


def _task_words(task: Note) -> str:
    """What the task is about: its body and the names it links to in its properties (customer, project).

    Frontmatter keys and values (status, tags, agent) describe the workflow, not the work; the repo is the
    same for many tasks."""
    body = _OWNED_BLOCK.sub("", task.body)
    names = [link.display or link.target for link in task.links
             if link.key and link.key.lower() != "repo" and (link.display or link.target)]
    return "\n".join([body, *names])


def _item(forms: _Forms, mode: Mode) -> PackItem:
    text = forms.text(mode) or ""
    return PackItem(path=forms.path, mode=mode, text=text, tokens=estimate_tokens(text),
                    score=round(forms.score, 4), why=forms.why)
