"""Context pack: the most relevant vault notes for a task inside a token budget, redacted, private ones left out.

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

Also: note_changed(index, paths) tells the term index which notes changed (pass what
index.refresh() returned); warm(index) builds the term index ahead of the first pack.

How a pack is chosen (figures in docs/PERFORMANCE.md, "Context packs"), one module per step: the term index
and the task's key terms (lexicon.py), the candidates and their rank (candidates.py), fitting them into the
budget (fit.py), privacy (privacy.py), redaction (redact.py). This module puts the pack together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import VaultError
from .candidates import W_LINK, Walk, rank
from .fit import NAMES_HEADING, Build, Forms, Mode, estimate_tokens, fit
from .lexicon import OWNED_BLOCK, key_terms, lexicon_of, note_changed, note_text, warm
from .privacy import is_private
from .redact import redact

if TYPE_CHECKING:
    from ..vault.index import VaultIndex
    from ..vault.note import Note

__all__ = ["ContextPack", "PackItem", "build_pack", "estimate_tokens", "is_private", "key_terms", "note_changed",
           "note_text", "redact", "warm"]

PACK_HEADING = "## Business context (from the vault)\n\n"
EXTRAS_SHARE = 0.5            # extras come first but may take at most half the budget together
KEEP_FLOOR = 0.30             # below this score a note is not worth even its name
LEFT_OUT_LISTED = 40          # weak candidates listed as left out (private ones are always listed)


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


def build_pack(index: VaultIndex, task_path: str, budget_tokens: int, *, private_folders: Sequence[str] = (),
               extra: Sequence[tuple[str, str]] = ()) -> ContextPack:
    """The context for one task: the most relevant vault notes inside budget_tokens, redacted, private ones left out."""
    task = index.note(task_path)
    if task is None:
        raise VaultError(f"No note at {task_path!r} to build a context pack for: check the task's path in the vault")
    budget = max(int(budget_tokens), 0)
    extras = _extra_items(extra, budget)
    room = budget - sum(i.tokens for i in extras) - estimate_tokens(PACK_HEADING) - 2
    lexicon = lexicon_of(index)
    weights = key_terms(_task_words(task), task.name, lexicon)
    walk = Walk(index, task, lexicon, private_folders)
    firsts = walk.direct()
    walk.neighbours(firsts)
    walk.drop_given(firsts, [i.text for i in extras])
    walk.shared_tags()
    walk.lexical(weights)
    ranked = rank(walk.cands, lexicon)
    build = Build(index, lexicon, walk, weights)
    kept = [c for c in ranked if c.score >= KEEP_FLOOR or c.graph >= W_LINK - 1e-9]
    options = [Forms(c, lexicon.docs[c.path], build) for c in kept if c.path in lexicon.docs]
    modes, over = fit(options, room)
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
    body = OWNED_BLOCK.sub("", task.body)
    names = [link.display or link.target for link in task.links
             if link.key and link.key.lower() != "repo" and (link.display or link.target)]
    return "\n".join([body, *names])


def _item(forms: Forms, mode: Mode) -> PackItem:
    text = forms.text(mode) or ""
    return PackItem(path=forms.path, mode=mode, text=text, tokens=estimate_tokens(text),
                    score=round(forms.score, 4), why=forms.why)
