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

How a pack is chosen (the why behind the numbers lives in docs/PERFORMANCE.md, "Context packs"):
candidates come from the task's links, embeds and frontmatter links, the notes that link to the task, the
neighbours (backlinks and links) of those notes, notes sharing the task's own tags, and notes that use the
task's rarest words without linking to it. Each gets a score: a noisy-or over the link paths that reach it
(a path through a hub counts for less), plus lexical relevance (BM25 over the task's key terms), plus a little
recency. The budget is then filled by cheapest-useful-first upgrades: every kept note starts as a name, and
upgrades to a summary or to its full text are bought in order of score per token.
"""

from __future__ import annotations

import heapq
import math
import re
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Iterable, Literal, Sequence

from ..errors import VaultError
from ..settings import REPOS_DIR, ZOE_DIR
from .redact import redact

if TYPE_CHECKING:
    from ..vault.index import VaultIndex
    from ..vault.note import Note

__all__ = ["ContextPack", "PackItem", "build_pack", "estimate_tokens", "is_private", "key_terms", "redact"]

Mode = Literal["full", "summary", "name"]

PACK_HEADING = "## Business context (from the vault)\n\n"
EXTRAS_SHARE = 0.5            # extras come first but may take at most half the budget together
FULL_SHARE = 0.45             # one note's full text may take at most this share of the budget
NAME_FLOOR = 0.30             # below this score a note is not worth even its name
HUB_EXPANSION_LIMIT = 400     # neighbours read per hub note (keeps a daily-notes hub cheap)
LEXICAL_CANDIDATES = 60       # unlinked notes considered from the lexical match
KEY_TERMS = 14
LEFT_OUT_LISTED = 40          # weak candidates listed as left out (private ones are always listed)

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

_OWNED_BLOCK = re.compile(r"<!--\s*vaultzoe:([\w\-]+)\s*-->.*?<!--\s*/vaultzoe:\1\s*-->\n?", re.S)
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
yourself yourselves task tasks note notes todo done goal acceptance criteria criterion should able
make sure add adds added update updated change changes work works working thing things way ways still
see also just well good bad next last first week day today tomorrow yesterday people team someone
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
        """Markdown for the prompt: given pieces, full notes, summaries, then the names of the rest."""
        if not self.items:
            return ""
        return PACK_HEADING + "".join(_ordered_texts(self.items)).rstrip() + "\n"

    @property
    def used_tokens(self) -> int:
        return estimate_tokens(self.render())

    def share(self, item: PackItem) -> float:
        """The item's share of the budget, 0..1 (for the attempt note)."""
        return item.tokens / self.budget if self.budget else 0.0


def _ordered_texts(items: Sequence[PackItem]) -> list[str]:
    names = [i.text for i in items if i.mode == "name"]
    body = [i.text for i in items if i.mode != "name"]
    return body + ([NAMES_HEADING] + names + ["\n"] if names else [])


NAMES_HEADING = "### Other related notes (names only; ask for them if you need them)\n"


def estimate_tokens(text: str) -> int:
    """About four characters per token: close enough for English prose and markdown."""
    return (len(text) + 3) // 4


def is_private(note: "Note", private_folders: Sequence[str] = ()) -> bool:
    """`private: true`, a #private tag (or #private/...), or a path under one of private_folders."""
    return _private_reason(note, private_folders) is not None


def _private_reason(note: "Note", private_folders: Sequence[str]) -> str | None:
    flag = note.frontmatter.get("private") if isinstance(note.frontmatter, dict) else None
    if flag is True or (isinstance(flag, str) and flag.strip().lower() in _TRUE_STRINGS) or flag == 1:
        return "private: true"
    if any(t.lower() == "#private" or t.lower().startswith("#private/") for t in note.tags):
        return "tagged #private"
    folder = _private_folder(note.path, private_folders)
    return f"in private folder {folder}/" if folder else None


def _private_folder(path: str, private_folders: Sequence[str]) -> str | None:
    low = path.lower()
    for folder in private_folders:
        clean = folder.strip().strip("/")
        if clean and low.startswith(clean.lower() + "/"):
            return clean
    return None


# ---------------------------------------------------------------- terms (lexical relevance)


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
    """Lower-cased, lightly stemmed content words (no stopwords, numbers or one-letter words)."""
    out = []
    for match in _WORD.finditer(text.lower()):
        word = match.group(0)
        if len(word) < 3 or word in STOPWORDS or word.isdigit():
            continue
        out.append(_stem(word))
    return out


class _Lexicon:
    """Per-index inverted index of note terms, kept in step with the index by Note identity."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[Any, frozenset[str], int]] = {}
        self.postings: dict[str, set[str]] = {}
        self.total_len = 0

    def sync(self, notes: Iterable["Note"]) -> None:
        seen = set()
        for note in notes:
            seen.add(note.path)
            entry = self.docs.get(note.path)
            if entry is None or entry[0] is not note:
                self._replace(note.path, note)
        for path in [p for p in self.docs if p not in seen]:
            self._drop(path)

    def _replace(self, path: str, note: "Note") -> None:
        self._drop(path)
        words = terms_of(note.text)
        terms = frozenset(words)
        self.docs[path] = (note, terms, len(words))
        self.total_len += len(words)
        for term in terms:
            self.postings.setdefault(term, set()).add(path)

    def _drop(self, path: str) -> None:
        entry = self.docs.pop(path, None)
        if entry is None:
            return
        self.total_len -= entry[2]
        for term in entry[1]:
            posting = self.postings.get(term)
            if posting is not None:
                posting.discard(path)
                if not posting:
                    del self.postings[term]

    def df(self, term: str) -> int:
        return len(self.postings.get(term, ()))

    def idf(self, term: str) -> float:
        n = max(len(self.docs), 1)
        df = self.df(term)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @property
    def avg_len(self) -> float:
        return self.total_len / len(self.docs) if self.docs else 1.0


_LEXICONS: "weakref.WeakKeyDictionary[Any, _Lexicon]" = weakref.WeakKeyDictionary()
_LEXICONS_BY_ID: dict[int, tuple[Any, _Lexicon]] = {}


def _lexicon_for(index: "VaultIndex") -> _Lexicon:
    """The lexicon cached for this index object (memoised; brought up to date on every call)."""
    try:
        lexicon = _LEXICONS.get(index)
        if lexicon is None:
            lexicon = _LEXICONS[index] = _Lexicon()
    except TypeError:                      # an unhashable or non-weakref-able index: cache by identity
        ref, lexicon = _LEXICONS_BY_ID.get(id(index), (None, None))
        if ref is not index or lexicon is None:
            lexicon = _Lexicon()
            _LEXICONS_BY_ID.clear()
            _LEXICONS_BY_ID[id(index)] = (index, lexicon)
    lexicon.sync(index.notes())
    return lexicon


def key_terms(text: str, title: str, lexicon: _Lexicon, limit: int = KEY_TERMS) -> dict[str, float]:
    """The task's most telling terms with their weights (tf x idf; the title counts three times)."""
    counts: dict[str, float] = {}
    for word in terms_of(text):
        counts[word] = counts.get(word, 0.0) + 1.0
    for word in terms_of(title):
        counts[word] = counts.get(word, 0.0) + 3.0
    n = max(len(lexicon.docs), 1)
    scored = {}
    for term, tf in counts.items():
        df = lexicon.df(term)
        if df <= 1 or df > max(0.2 * n, 3):      # only the task has it, or nearly every note does
            continue
        scored[term] = (1 + math.log(tf)) * lexicon.idf(term)
    best = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return dict(best)


def _lexical_score(terms: frozenset[str], length: int, weights: dict[str, float], avg_len: float) -> float:
    """BM25 with term presence only, normalised to 0..1 by the score of a note holding every key term."""
    if not weights:
        return 0.0
    norm = 1.2 + 1.0
    length_factor = 1 + 1.2 * (0.25 + 0.75 * length / max(avg_len, 1.0))
    hit = sum(w for t, w in weights.items() if t in terms)
    best = sum(weights.values())
    return (hit * norm / length_factor) / (best * norm / (1 + 1.2)) if hit else 0.0


def _matched(terms: frozenset[str], weights: dict[str, float]) -> list[str]:
    return sorted((t for t in weights if t in terms), key=lambda t: -weights[t])


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
            return "mentions the task's terms"
        best = max(self.paths, key=lambda p: p[0])[1]
        more = len(self.paths) - 1
        return best + (f" (+{more} more path{'s' if more > 1 else ''})" if more else "")


def _hub_weight(base: float, fanout: int) -> float:
    return base / (1.0 + math.log(max(fanout, 1)))


def _note_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base[:-3] if base.lower().endswith(".md") else base


class _Walk:
    """The link walk around one task note: which notes are reachable, by which paths."""

    def __init__(self, index: "VaultIndex", task: "Note") -> None:
        self.index = index
        self.task = task
        self.cands: dict[str, _Candidate] = {}
        self.blocked: dict[str, str] = {}        # path -> why it may not enter the pack
        self.repo_path: str | None = None

    def reach(self, path: str | None, weight: float, why: str) -> bool:
        if not path or path == self.task.path or path in self.blocked or not path.lower().endswith(".md"):
            return False
        self.cands.setdefault(path, _Candidate(path)).add(weight, why)
        return True

    def direct(self) -> list[str]:
        firsts: list[str] = []
        for link, target in self.index.resolved_links(self.task.path):
            weight, why = _direct_reason(link)
            if self.reach(target, weight, why) and target not in firsts:
                firsts.append(target)
            if link.key and link.key.lower() == "repo" and target:
                self.repo_path = target
        for source in sorted(self.index.backlinks(self.task.path)):
            self.reach(source, W_BACKLINK, "links to the task")
        return firsts

    def neighbours(self, firsts: Sequence[str]) -> None:
        for first in firsts:
            if first in self.blocked:
                continue
            name = _note_name(first)
            backs = sorted(self.index.backlinks(first))
            for source in backs[:HUB_EXPANSION_LIMIT]:
                self.reach(source, _hub_weight(W_NEIGHBOUR_BACK, len(backs)), f"links to [[{name}]]")
            outs = [t for _, t in self.index.resolved_links(first) if t]
            for target in outs[:HUB_EXPANSION_LIMIT]:
                self.reach(target, _hub_weight(W_NEIGHBOUR_OUT, len(outs)), f"linked from [[{name}]]")
        for source in sorted(self.index.backlinks(self.task.path)):
            if source in self.blocked:
                continue
            outs = [t for _, t in self.index.resolved_links(source) if t]
            for target in outs[:HUB_EXPANSION_LIMIT]:
                self.reach(target, _hub_weight(W_SECOND_OUT, len(outs)), f"linked from [[{_note_name(source)}]]")

    def shared_tags(self) -> None:
        for tag in dict.fromkeys(t.lower() for t in self.task.tags):
            if tag.startswith(("#task", "#private")):
                continue
            members = self.index.tagged(tag)
            if len(members) > HUB_EXPANSION_LIMIT:
                continue
            for path in sorted(members):
                self.reach(path, _hub_weight(W_TAG, len(members)), f"shares {tag}")


def _direct_reason(link: Any) -> tuple[float, str]:
    if link.key:
        return W_PROPERTY, f"`{link.key}:` of the task"
    if link.embed:
        return W_EMBED, "embedded in the task"
    return W_LINK, "linked from the task"


def _add_lexical(cands: dict[str, _Candidate], lexicon: _Lexicon, weights: dict[str, float], task_path: str) -> None:
    """Score every candidate lexically, and add the best unlinked notes that use the task's rare terms."""
    avg = lexicon.avg_len
    for cand in cands.values():
        entry = lexicon.docs.get(cand.path)
        if entry is not None:
            cand.lexical = _lexical_score(entry[1], entry[2], weights, avg)
    pool: set[str] = set()
    limit = max(50, len(lexicon.docs) // 20)
    for term in weights:
        posting = lexicon.postings.get(term, ())
        if len(posting) <= limit:
            pool.update(posting)
    pool.difference_update(cands)
    pool.discard(task_path)
    scored = []
    for path in pool:
        _, terms, length = lexicon.docs[path]
        if len(_matched(terms, weights)) >= 2:
            scored.append((_lexical_score(terms, length, weights, avg), path))
    for score, path in heapq.nlargest(LEXICAL_CANDIDATES, scored):
        cands[path] = _Candidate(path, lexical=score)


# ---------------------------------------------------------------- recency


def _note_day(note: "Note") -> int | None:
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


def _set_recency(cands: Iterable[_Candidate], notes: dict[str, "Note"]) -> None:
    """Newest dated candidate 1.0, halving every RECENCY_HALF_LIFE_DAYS; undated notes stay neutral (0.5)."""
    days = {c.path: _note_day(notes[c.path]) for c in cands}
    known = [d for d in days.values() if d is not None]
    if not known:
        return
    newest = max(known)
    for cand in cands:
        day = days[cand.path]
        if day is not None:
            cand.recency = 0.5 ** ((newest - day) / RECENCY_HALF_LIFE_DAYS)


# ---------------------------------------------------------------- text of a note, in full or summarised


def note_text(note: "Note") -> str:
    """The note's text without vaultzoe's owned blocks (status callouts of other tasks are noise)."""
    return _OWNED_BLOCK.sub("", note.text).strip()


def _mask_links(text: str, note: "Note", hidden: set[str], index: "VaultIndex") -> str:
    """Links to private or internal notes become "[private note]" so not even their names leak."""
    if not hidden:
        return text
    for link, target in index.resolved_links(note.path):
        if target in hidden and link.original:
            text = text.replace(link.original, "[private note]")
    return text


def _sentences(body: str) -> list[str]:
    out = []
    for line in body.splitlines():
        line = line.strip().lstrip("-*>+ ").strip()
        if not line or line.startswith(("#", "---", "```", "|")):
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def _clip(text: str, words: int) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + " …"


def _first_paragraph(body: str) -> str:
    for block in _PARAGRAPH_BREAK.split(body):
        lines = [ln for ln in block.strip().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if lines:
            return _clip(" ".join(ln.strip() for ln in lines), 60)
    return ""


def summarize(note: "Note", body: str, weights: dict[str, float], max_sentences: int = 6) -> str:
    """Headings, the first paragraph, and the sentences that use the task's key terms (best first, in order)."""
    parts = []
    headings = [h.text for h in note.headings][:10]
    if headings:
        parts.append("Headings: " + " · ".join(headings))
    first = _first_paragraph(body)
    if first:
        parts.append(first)
    picked = _matching_sentences(_sentences(body), weights, max_sentences, skip=first)
    if picked:
        parts.append("Relevant lines:\n" + "\n".join(f"- {_clip(s, 60)}" for s in picked))
    return "\n".join(parts)


def _matching_sentences(sentences: list[str], weights: dict[str, float], limit: int, skip: str) -> list[str]:
    scored = []
    for pos, sentence in enumerate(sentences):
        if sentence in skip:
            continue
        hit = sum(weights[t] for t in set(terms_of(sentence)) if t in weights)
        if hit:
            scored.append((-hit, pos, sentence))
    best = sorted(scored)[:limit]
    return [s for _, _, s in sorted(best, key=lambda x: x[1])]


def _body_of(text: str) -> str:
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end != -1:
            return text[end + 4:]
    return text


# ---------------------------------------------------------------- fitting the budget


@dataclass(frozen=True)
class _Option:
    """One candidate's rendered forms; a form is None when it would add nothing over the cheaper one."""

    path: str
    score: float
    why: str
    name: str
    summary: str | None
    full: str | None


def _item_texts(cand: _Candidate, note: "Note", body: str, weights: dict[str, float]) -> _Option:
    name = _note_name(cand.path)
    header = f"### {name}\n_{cand.why}_\n\n"
    full_text = header + body + "\n\n"
    summary_text = header + summarize(note, _body_of(body), weights) + "\n\n"
    if estimate_tokens(summary_text) >= 0.8 * estimate_tokens(full_text):
        summary_text = None
    return _Option(cand.path, cand.score, cand.why, f"- {name}: {cand.why}\n", summary_text, full_text)


def _fit(options: Sequence[_Option], budget: int) -> tuple[dict[str, Mode], list[str]]:
    """Names for all that fit, then upgrades (to summary, then full) bought by score² per token."""
    modes: dict[str, Mode] = {}
    over: list[str] = []
    left = budget - estimate_tokens(NAMES_HEADING) - 2
    for opt in options:
        cost = estimate_tokens(opt.name)
        if cost <= left:
            modes[opt.path] = "name"
            left -= cost
        else:
            over.append(opt.path)
    by_path = {o.path: o for o in options}
    heap = [_upgrade(o, "name", rank) for rank, o in enumerate(options) if o.path in modes]
    heap = [h for h in heap if h is not None]
    heapq.heapify(heap)
    full_cap = max(int(FULL_SHARE * budget), 200)
    while heap:
        _, rank, path, target, delta = heapq.heappop(heap)
        opt = by_path[path]
        if delta > left or (target == "full" and estimate_tokens(opt.full or "") > full_cap):
            continue
        modes[path] = target
        left -= delta
        nxt = _upgrade(opt, target, rank)
        if nxt is not None:
            heapq.heappush(heap, nxt)
    return modes, over


_GAIN = {"summary": 0.7, "full": 0.3}


def _upgrade(opt: _Option, current: Mode, rank: int) -> tuple[float, int, str, Mode, int] | None:
    target: Mode | None = "summary" if current == "name" and opt.summary else None
    if target is None and current in ("name", "summary"):
        target = "full"
    if target is None or (current == "full"):
        return None
    text = opt.summary if target == "summary" else opt.full
    gain = _GAIN[target] if opt.summary else 1.0
    delta = estimate_tokens(text or "") - estimate_tokens(_text_for(opt, current))
    priority = opt.score * opt.score * gain / max(delta, 40)
    return (-priority, rank, opt.path, target, delta)


def _text_for(opt: _Option, mode: Mode) -> str:
    return {"name": opt.name, "summary": opt.summary or "", "full": opt.full or ""}[mode]


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


def build_pack(index: "VaultIndex", task_path: str, budget_tokens: int, *, private_folders: Sequence[str] = (),
               extra: Sequence[tuple[str, str]] = ()) -> ContextPack:
    """The context for one task: the most relevant vault notes inside budget_tokens, redacted, private ones left out."""
    task = index.note(task_path)
    if task is None:
        raise VaultError(f"No note at {task_path!r} to build a context pack for: check the task's path in the vault")
    budget = max(int(budget_tokens), 0)
    extras = _extra_items(extra, budget)
    room = budget - sum(i.tokens for i in extras) - estimate_tokens(PACK_HEADING) - 4
    lexicon = _lexicon_for(index)
    weights = key_terms(note_text(task), task.name, lexicon)
    walk, notes, left_out = _candidates(index, task, lexicon, weights, private_folders)
    ranked = _rank(walk.cands, notes)
    hidden = {p for p, _ in left_out}
    kept = [c for c in ranked if c.score >= NAME_FLOOR or c.graph >= W_LINK - 1e-9]
    weak = [c for c in ranked if c not in kept]
    options = [_item_texts(c, notes[c.path], _note_body(notes[c.path], hidden, index), weights) for c in kept]
    modes, over = _fit(options, room)
    items = extras + [_pack_item(o, modes[o.path]) for o in options if o.path in modes]
    left_out += [(p, "over budget") for p in over]
    left_out += [(c.path, f"weak match (score {c.score:.2f})") for c in weak[:LEFT_OUT_LISTED]]
    return ContextPack(items=tuple(items), left_out=tuple(left_out), budget=budget, terms=tuple(weights))


def _note_body(note: "Note", hidden: set[str], index: "VaultIndex") -> str:
    return redact(_mask_links(note_text(note), note, hidden, index))


def _pack_item(opt: _Option, mode: Mode) -> PackItem:
    text = _text_for(opt, mode)
    return PackItem(path=opt.path, mode=mode, text=text, tokens=estimate_tokens(text), score=round(opt.score, 4),
                    why=opt.why)


def _candidates(index: "VaultIndex", task: "Note", lexicon: _Lexicon, weights: dict[str, float],
                private_folders: Sequence[str]) -> tuple[_Walk, dict[str, "Note"], list[tuple[str, str]]]:
    """Walk the links, drop private and internal notes (saying why), then add the lexical matches."""
    walk = _Walk(index, task)
    firsts = walk.direct()
    _screen(walk, index, private_folders)
    walk.neighbours(firsts)
    walk.shared_tags()
    _add_lexical(walk.cands, lexicon, weights, task.path)
    _screen(walk, index, private_folders)
    notes = {p: index.note(p) for p in walk.cands}
    for path in [p for p, n in notes.items() if n is None]:
        del walk.cands[path], notes[path]
    return walk, notes, sorted(walk.blocked.items())


def _screen(walk: _Walk, index: "VaultIndex", private_folders: Sequence[str]) -> None:
    """Move private and vaultzoe-internal candidates out of the walk, remembering why (for the pack's left_out)."""
    for path in list(walk.cands):
        why = _excluded(path, index.note(path), private_folders, walk.repo_path)
        if why:
            walk.blocked[path] = why
            del walk.cands[path]


def _excluded(path: str, note: "Note | None", private_folders: Sequence[str], repo_path: str | None) -> str | None:
    if note is None:
        return None
    reason = _private_reason(note, private_folders)
    if reason:
        return reason
    if path.startswith(ZOE_DIR + "/") and path != repo_path:
        return "vaultzoe's own note" if not path.startswith(REPOS_DIR + "/") else "another repo's note"
    return None


def _rank(cands: dict[str, _Candidate], notes: dict[str, "Note"]) -> list[_Candidate]:
    _set_recency(cands.values(), notes)
    for cand in cands.values():
        cand.score = cand.graph + LEX_WEIGHT * cand.lexical + RECENCY_WEIGHT * (cand.recency - 0.5)
    return sorted(cands.values(), key=lambda c: (-c.score, c.path))
