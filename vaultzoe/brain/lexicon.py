"""The term index: a vault's notes as terms, kept in step with the index; key terms of a task; BM25 (pure).

Built once per VaultIndex object (one pass over every note), then updated note by note: note_changed(index,
paths) re-reads what index.refresh() or the watcher reported, and a pack that reads a note notices an edit.
"""

from __future__ import annotations

import math
import re
import sys
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .privacy import marked_private

if TYPE_CHECKING:
    from ..vault.index import VaultIndex
    from ..vault.note import Note

__all__ = ["Doc", "Lexicon", "Scorer", "key_terms", "lexicon_of", "note_changed", "note_text", "terms_of", "warm"]

KEY_TERMS = 14
TITLE_BOOST = 2.0             # a word of the task's title counts double
FULL_MATCH_TERMS = 6          # a note holding the task's six best terms is a full lexical match
COVERAGE_POWER = 1.5
COMMON_SHARE = 0.2            # terms in more than this share of notes say nothing about relevance
TEMPLATE_SHARE = 0.3          # ...nor do terms in more than this share of task notes (the task template)
TEMPLATE_MIN_TASKS = 8

OWNED_BLOCK = re.compile(r"<!--\s*vaultzoe:([\w./\-]+)\s*-->.*?<!--\s*/vaultzoe:\1\s*-->\n?", re.S)
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_DATE_IN_TEXT = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_DATE_KEYS = ("date", "created", "updated", "modified", "day", "meeting_date")

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


def note_text(note: Note) -> str:
    """The note's text without vaultzoe's owned blocks (status callouts of other tasks are noise)."""
    return OWNED_BLOCK.sub("", note.text).strip()


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
class Doc:
    """What the term index remembers of a note, so ranking never has to read it."""

    terms: tuple[str, ...]       # distinct terms (to take the note out of the postings again)
    length: int                  # words
    chars: int                   # of the text without owned blocks
    marked_private: str | None   # private: true / #private
    day: int | None              # date from frontmatter or the file name
    digest: int                  # hash of the text, to notice an edit when the note is read again
    is_task: bool = False


def _doc(note: Note) -> Doc:
    text = note_text(note)
    words = terms_of(text)
    terms = tuple(sorted({sys.intern(w) for w in words + terms_of(note.name)}))   # a title often says it all
    return Doc(terms, len(words), len(text), marked_private(note), _note_day(note), hash(note.text),
                bool(note.is_task))


class Lexicon:
    """An inverted index of the vault's notes, cached per index object and kept in step with it."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
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

    def load(self, index: VaultIndex, path: str) -> Doc | None:
        note = index.note(path)
        if note is None:
            self.drop(path)
            return None
        return self.put(note)

    def put(self, note: Note) -> Doc:
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


_LEXICONS: weakref.WeakKeyDictionary[Any, Lexicon] = weakref.WeakKeyDictionary()


def lexicon_of(index: VaultIndex, sync: bool = True) -> Lexicon:
    """The term index of this index object (built on first use), in step with its file list when sync."""
    lexicon = _LEXICONS.get(index)
    if lexicon is None:
        lexicon = _LEXICONS[index] = Lexicon()
    if sync:
        lexicon.sync(index)
    return lexicon


def warm(index: VaultIndex) -> None:
    """Build the term index now (it reads every note once), so the first pack is as fast as the rest."""
    lexicon_of(index)


def note_changed(index: VaultIndex, paths: Iterable[str]) -> None:
    """Re-read these notes into the term index (pass what index.refresh() or the watcher reported)."""
    lexicon = lexicon_of(index, sync=False)
    if lexicon.docs:                                 # not built yet: the first pack reads everything anyway
        for path in paths:
            lexicon.load(index, path)


def key_terms(text: str, title: str, lexicon: Lexicon, limit: int = KEY_TERMS) -> dict[str, float]:
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


class Scorer:
    """BM25 with term presence only; 1.0 for a note of average length holding the task's best few terms."""

    def __init__(self, lexicon: Lexicon, weights: dict[str, float]) -> None:
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


# ---------------------------------------------------------------- dates (for recency)


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
