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
"""

from __future__ import annotations
