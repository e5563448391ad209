#!/usr/bin/env python3
"""Deterministic generator of realistic synthetic Obsidian vaults (for benchmarks and stress tests).

    python benchmarks/vault_gen.py OUT_DIR --notes N [--seed S] [--force]

or, from Python:

    from benchmarks.vault_gen import generate      # or importlib from the file path
    summary = generate(out_dir, n=10_000, seed=1)  # -> dict (counts, bytes, ...)

The same (n, seed) always gives byte-identical files with identical mtimes. What a vault holds:

* nested folders (depth 1-4, some with non-ASCII names), notes with non-ASCII names, duplicate
  basenames in different folders (~4%), a few sync-conflict copies (iCloud "Name 2.md", Dropbox
  "(conflicted copy ...)", Syncthing ".sync-conflict-..."), a few empty "Untitled" notes;
* links drawn from a power law (Zipf over a shuffled rank; a handful of explicit hub/MOC notes sit at
  the top): [[X]], [[X|alias]], [[X#Heading]], [[X#^block]], ![[X]], ![[img.png]], [[folder/X]],
  [[#Local heading]], [t](Some%20Note.md), [t](<Some Note.md>), ./ and ../ relative markdown links,
  links to .canvas/.base/.pdf, ~5% unresolved targets, escaped \\| inside tables;
* frontmatter on ~75% of notes: tags (flow and block lists, strings), aliases, dates, datetimes,
  numbers, yes/no, quoted links in properties ("[[X]]" and lists of them), comments; ~1% invalid YAML;
* bodies: paragraphs, headings, lists, inline tags (nested #a/b, Unicode, emoji, all-digit non-tags),
  fenced code and inline code holding fake tags/links, HTML comments and %% comments %%, callouts,
  Tasks-plugin checkboxes "- [ ] #task ... 📅 date", block ids ^abc123, tables;
* ~3% real task notes (frontmatter tags: [task] / task/..., status, repo: "[[...]]"), plus a few with
  an inline #task outside list items;
* ~3% CRLF files, ~2% UTF-8 BOM files, ~0.1% Latin-1 (undecodable as UTF-8) files;
* note sizes log-normal, clipped to 1 KB..500 KB (a few notes pinned near 300-500 KB); the notes total
  about 4.1 KB x N (~41 MB at 10k) plus ~1.5 MB of attachments at 10k;
* attachments (png/pdf stubs), .canvas and .base files, an .obsidian/ folder (config, workspace,
  plugins with a large main.js), a .trash/ folder with a few notes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import quote

# --------------------------------------------------------------------------------------------------
# vocabulary

_ASCII_WORDS = (
    "the of and to in is for on that with as it was by this be are from at or an have not but "
    "project meeting notes idea plan review design system data model agent task build test release "
    "customer feedback roadmap sprint issue bug fix feature deploy server client index cache link "
    "vault graph query search note daily weekly monthly summary research paper reading book chapter "
    "draft outline decision context question answer problem solution metric goal team owner status "
    "quickly carefully later today tomorrow yesterday important urgent minor major simple complex "
    "write read check update change remove rename move sync merge branch commit pull request "
    "performance memory latency throughput budget estimate risk dependency milestone deadline"
).split()
_WORDS = _ASCII_WORDS * 4 + (
    "café naïve résumé über straße façade jalapeño smörgåsbord crème brûlée déjà vu coöperate "
    "日本語 東京 会議 メモ 中文 笔记 项目 한국어 회의 Ελληνικά σημείωση Заметка проект встреча "
    "שלום مرحبا नमस्ते ☕ 🚀 📚 ✅"
).split()

_TITLE_WORDS = (
    "Project Meeting Idea Plan Review Design System Data Model Agent Release Customer Feedback "
    "Roadmap Sprint Bug Feature Deploy Server Client Index Cache Graph Query Search Research Paper "
    "Reading Book Chapter Draft Outline Decision Question Problem Solution Metric Goal Team Status "
    "Alpha Beta Gamma Delta Omega Phoenix Atlas Orion Nova Apollo Hermes Zephyr Aurora Falcon "
    "Café Über Straße Résumé Façade Jalapeño Smörgåsbord Crème Ærø Łódź İstanbul Ñandú "
    "東京 会議 メモ 笔记 项目 회의 Σημειώσεις Заметки Проект Встреча Ελλάδα مرحبا नमस्ते 🚀 📚 ☕"
).split()

_FOLDER_NAMES = (
    "Projects Areas Resources Archive Inbox Daily Weekly Meetings People Companies Books Papers "
    "Ideas Journal Work Personal Clients Research Reference Templates Drafts Specs Notes Logs "
    "Zettelkasten Maps Topics Engineering Design Ops Finance Health Travel Recipes "
    "Café Überblick Ärzte Reisen Écoles 日本語 会議録 Проекты Σημειώσεις 🚀Launch 📚Reading"
).split()

_HEADINGS = (
    "Overview", "Details", "Next steps", "Notes", "References", "Log", "Summary", "Decisions",
    "Open questions", "Context", "Background", "Action items", "Ideas", "Résumé", "Überblick",
    "会議メモ", "Итоги",
)

_TAGS = (
    "project", "project/alpha", "project/beta", "project/alpha/backend", "area/health", "area/work",
    "status/active", "status/done", "idea", "meeting", "reading", "book", "paper", "person",
    "review", "draft", "todo", "inbox", "moc", "daily", "weekly", "research", "work", "personal",
    "café", "über-ideen", "日本語", "проект", "σημείωση", "📚", "🚀launch", "emoji/✅", "a_b-c",
    "CamelCase", "UPPER", "MixedCase/Sub", "y2024", "2024/q1",
)

_LANGS = ("python", "js", "bash", "yaml", "json", "rust", "sql", "")

_CALLOUTS = ("note", "tip", "warning", "info", "todo", "quote", "example", "abstract", "danger",
             "question", "success", "failure", "bug", "custom-thing")

_PNG_HEADER = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
               b"\x90\x91h6")

_TARGET_NOTE_BYTES = 4150          # mean note size; ~41 MB of notes at 10k notes
_MIN_SIZE, _MAX_SIZE = 1024, 500 * 1024


# --------------------------------------------------------------------------------------------------
# helpers

def _title(rng: random.Random) -> str:
    k = rng.choice((1, 2, 2, 2, 3, 3, 4))
    words = [rng.choice(_TITLE_WORDS) for _ in range(k)]
    r = rng.random()
    if r < 0.08:
        return f"{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} " + " ".join(words)
    if r < 0.12:
        return " ".join(words) + f" {rng.randint(1, 99)}"
    if r < 0.16:
        return " ".join(w.lower() for w in words)
    if r < 0.18:
        return " ".join(words) + " (draft)"
    if r < 0.20:
        return " ".join(words) + " - v" + str(rng.randint(1, 5))
    return " ".join(words)


def _sentence_pool(rng: random.Random, count: int) -> list[str]:
    pool = []
    for _ in range(count):
        k = rng.randint(6, 22)
        words = [rng.choice(_WORDS) for _ in range(k)]
        words[0] = words[0].capitalize()
        r = rng.random()
        if r < 0.05:
            words.insert(rng.randrange(len(words)), "**" + rng.choice(_WORDS) + "**")
        elif r < 0.10:
            words.insert(rng.randrange(len(words)), "*" + rng.choice(_WORDS) + "*")
        elif r < 0.13:
            words.insert(rng.randrange(len(words)), "`" + rng.choice(_WORDS) + "`")
        elif r < 0.15:
            words.insert(rng.randrange(len(words)), "#" + str(rng.randint(1, 9999)))  # all digits: not a tag
        elif r < 0.17:
            words.insert(rng.randrange(len(words)), "https://example.com/" + rng.choice(_WORDS).lower())
        pool.append(" ".join(words) + rng.choice((".", ".", ".", "!", "?", ":", "…")))
    return pool


def _lognormal_sizes(rng: random.Random, n: int) -> list[int]:
    """Log-normal sizes in [1 KB, 500 KB] with mean ~_TARGET_NOTE_BYTES; a few pinned near the top."""
    if n <= 0:
        return []
    sigma = 1.05
    raw = [rng.lognormvariate(0.0, sigma) for _ in range(n)]
    big = max(1, n // 2500)
    for i in rng.sample(range(n), min(big, n)):
        raw[i] = -rng.uniform(300 * 1024, _MAX_SIZE)   # marker: pinned absolute size
    target_total = _TARGET_NOTE_BYTES * n
    pinned = sum(-r for r in raw if r < 0)
    free = [r for r in raw if r > 0]
    # find the scale k such that sum(clip(k * r)) == target_total - pinned (monotone: bisection)
    want = max(target_total - pinned, _MIN_SIZE * len(free))
    lo, hi = 1.0, 1e6
    for _ in range(60):
        k = math.sqrt(lo * hi)
        tot = sum(min(_MAX_SIZE, max(_MIN_SIZE, k * r)) for r in free)
        if tot < want:
            lo = k
        else:
            hi = k
    k = math.sqrt(lo * hi)
    return [int(-r) if r < 0 else int(min(_MAX_SIZE, max(_MIN_SIZE, k * r))) for r in raw]


class _Vault:
    def __init__(self, out: Path, n: int, seed: int):
        self.out = out
        self.n = n
        self.rng = random.Random(seed)
        self.stats = {"notes": 0, "task_notes": 0, "attachments": 0, "canvases": 0, "bases": 0,
                      "links": 0, "unresolved_links": 0, "frontmatter": 0, "invalid_yaml": 0,
                      "crlf": 0, "bom": 0, "latin1": 0, "duplicate_names": 0, "conflicts": 0,
                      "empty": 0, "folders": 0, "trash": 0, "bytes_notes": 0, "bytes_total": 0}

    # ---------------------------------------------------------------------------------- layout
    def plan(self) -> None:
        rng, n = self.rng, self.n
        # folders: a tree; ~ n/40 folders, depth up to 4
        nfold = max(3, n // 40)
        folders = [""]
        tops = []
        for name in _FOLDER_NAMES:
            if len(tops) >= min(14, nfold):
                break
            tops.append(name)
        folders += tops
        while len(folders) < nfold + 1:
            parent = rng.choice(folders[1:])
            if parent.count("/") >= 3:
                continue
            child = f"{parent}/{rng.choice(_FOLDER_NAMES)} {rng.randint(1, 999)}" if rng.random() < 0.5 \
                else f"{parent}/{_title(rng)}"
            if child not in folders:
                folders.append(child)
        self.folders = folders
        self.stats["folders"] = len(folders) - 1
        # folder popularity: some folders are big (Daily, Inbox), most are small
        fw = [1.0 / (i + 1) ** 0.7 for i in range(len(folders))]
        rng.shuffle(fw)
        fcum = _cum(fw)

        # notes
        names_used: dict[str, set[str]] = {}   # folder -> lowercase names
        all_names: list[str] = []
        notes: list[tuple[str, str]] = []      # (folder, name)
        hubs = ["Index", "Home", "MOC - Projects", "MOC - People", "MOC - Reading", "Dashboard",
                "Glossary", "Inbox"]
        for h in hubs[: max(1, min(len(hubs), n // 100))]:
            notes.append(("", h))
            names_used.setdefault("", set()).add(h.lower())
            all_names.append(h)
        while len(notes) < n:
            folder = folders[_pick(rng, fcum)]
            if all_names and rng.random() < 0.04:
                name = rng.choice(all_names)          # duplicate basename in another folder
                dup = True
            else:
                name = _title(rng)
                dup = False
            used = names_used.setdefault(folder, set())
            if name.lower() in used:
                if dup:
                    continue
                name = f"{name} {rng.randint(2, 9999)}"
                if name.lower() in used:
                    continue
            used.add(name.lower())
            if dup:
                self.stats["duplicate_names"] += 1
            else:
                all_names.append(name)
            notes.append((folder, name))
        self.notes = notes
        self.paths = [f"{f}/{nm}.md" if f else f"{nm}.md" for f, nm in notes]
        self.name_count: dict[str, int] = {}
        for _, nm in notes:
            self.name_count[nm.lower()] = self.name_count.get(nm.lower(), 0) + 1

        # power-law link target distribution: hubs first, then a shuffled order
        nh = min(len(hubs), max(1, min(len(hubs), n // 100)))
        rest = list(range(nh, n))
        rng.shuffle(rest)
        order = list(range(nh)) + rest
        weights = [1.0 / (r + 1) ** 1.05 for r in range(n)]
        self.rank_order = order
        self.rank_cum = _cum(weights)

        # attachments, canvases, bases
        self.attachments = []
        natt = max(2, n // 20)
        for i in range(natt):
            ext = "png" if rng.random() < 0.75 else ("pdf" if rng.random() < 0.8 else "jpg")
            base = rng.choice(("Pasted image ", "Screenshot ", "diagram-", "scan ", "Foto "))
            name = f"{base}{20200101 + i * 7 % 50000}{rng.randint(100000, 999999)}.{ext}"
            folder = "attachments" if rng.random() < 0.7 else folders[_pick(rng, fcum)]
            self.attachments.append(f"{folder}/{name}" if folder else name)
        self.canvases = [f"{folders[_pick(rng, fcum)]}/{_title(rng)} board.canvas".lstrip("/")
                         for _ in range(max(1, n // 200))]
        self.bases = [f"{folders[_pick(rng, fcum)]}/{_title(rng)} view.base".lstrip("/")
                      for _ in range(max(1, n // 500))]
        self.sizes = _lognormal_sizes(rng, n)
        self.pool = _sentence_pool(rng, 3000)
        self.task_notes = set(rng.sample(range(nh, n), max(1, (n - nh) * 3 // 100))) if n > nh else set()
        self.inline_task_notes = set(rng.sample(range(nh, n), max(1, (n - nh) // 500))) if n > nh else set()

    # ---------------------------------------------------------------------------------- links
    def _target_index(self) -> int:
        return self.rank_order[_pick(self.rng, self.rank_cum)]

    def _link(self, src: int) -> str:
        rng = self.rng
        self.stats["links"] += 1
        r = rng.random()
        if r < 0.05:                                       # unresolved
            self.stats["unresolved_links"] += 1
            name = _title(rng)
            return rng.choice((f"[[{name}]]", f"[[{name}|{rng.choice(_WORDS)}]]", f"[[{name}#Overview]]"))
        if r < 0.09:                                       # attachment embed / link
            att = rng.choice(self.attachments)
            base = att.rsplit("/", 1)[-1]
            if att.endswith((".png", ".jpg")):
                return rng.choice((f"![[{base}]]", f"![[{base}|300]]", f"![{base}]({quote(att)})"))
            return rng.choice((f"[[{base}]]", f"![[{base}#page=2]]"))
        if r < 0.10:
            c = rng.choice(self.canvases + self.bases)
            return f"[[{c.rsplit('/', 1)[-1]}]]" if rng.random() < 0.7 else f"![[{c.rsplit('/', 1)[-1]}]]"
        if r < 0.11:
            return f"[[#{rng.choice(_HEADINGS)}]]"
        t = self._target_index()
        folder, name = self.notes[t]
        path = self.paths[t]
        # duplicate basenames: sometimes disambiguate by path, as Obsidian's "shortest path" does
        linkname = name
        if self.name_count[name.lower()] > 1 and rng.random() < 0.6:
            linkname = path[:-3]
        elif rng.random() < 0.03:
            linkname = name.lower() if rng.random() < 0.5 else name + ".md"   # case-insensitive, .md optional
        r = rng.random()
        if r < 0.52:
            return f"[[{linkname}]]"
        if r < 0.66:
            return f"[[{linkname}|{rng.choice(_WORDS)} {rng.choice(_WORDS)}]]"
        if r < 0.74:
            return f"[[{linkname}#{rng.choice(_HEADINGS)}]]"
        if r < 0.78:
            return f"[[{linkname}#^{_blockid(rng)}]]"
        if r < 0.82:
            return f"![[{linkname}]]" if rng.random() < 0.6 else f"![[{linkname}#{rng.choice(_HEADINGS)}]]"
        if r < 0.90:
            return f"[{rng.choice(_WORDS)}]({quote(path)})"
        if r < 0.95:
            return f"[{rng.choice(_WORDS)}](<{path}>)"
        # relative markdown link from the source folder
        sfolder = self.notes[src][0]
        rel = os.path.relpath(path, sfolder or ".").replace(os.sep, "/")
        if not rel.startswith("../"):
            rel = "./" + rel
        return f"[{rng.choice(_WORDS)}]({quote(rel)})"

    # ---------------------------------------------------------------------------------- content
    def _tag(self) -> str:
        return "#" + self.rng.choice(_TAGS)

    def _paragraph(self, src: int, links_per_sentence: float) -> str:
        rng, pool = self.rng, self.pool
        parts = []
        for _ in range(rng.randint(2, 6)):
            parts.append(rng.choice(pool))
            if rng.random() < links_per_sentence:
                parts.append(self._link(src))
            if rng.random() < 0.06:
                parts.append(self._tag())
        if rng.random() < 0.08:
            parts.append("^" + _blockid(rng))
        return " ".join(parts)

    def _block(self, src: int, lps: float, heading_level: list[int]) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return self._paragraph(src, lps)
        if r < 0.55:
            lvl = rng.choice((1, 2, 2, 2, 3, 3, 4))
            return "#" * lvl + " " + rng.choice(_HEADINGS) + ("" if rng.random() < 0.7 else f" {rng.randint(1, 9)}")
        if r < 0.65:
            items = []
            for _ in range(rng.randint(2, 7)):
                indent = "  " * (1 if rng.random() < 0.2 else 0)
                item = rng.choice(self.pool)
                if rng.random() < lps * 1.5:
                    item += " " + self._link(src)
                if rng.random() < 0.1:
                    item += " " + self._tag()
                items.append(f"{indent}{rng.choice(('-', '*', '1.'))} {item}")
            return "\n".join(items)
        if r < 0.72:   # Tasks-plugin checkboxes: never make the note a task
            items = []
            for _ in range(rng.randint(1, 5)):
                box = rng.choice(("[ ]", "[ ]", "[x]", "[/]", "[-]"))
                extra = ""
                if rng.random() < 0.5:
                    extra += f" 📅 2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                if rng.random() < 0.2:
                    extra += rng.choice((" ⏫", " 🔼", " 🔽", " 🔁 every week"))
                if rng.random() < 0.2:
                    extra += " " + self._link(src)
                tag = "#task " if rng.random() < 0.7 else ""
                items.append(f"- {box} {tag}{rng.choice(self.pool)}{extra}")
            return "\n".join(items)
        if r < 0.78:   # fenced code with fake tags and links
            lang = rng.choice(_LANGS)
            fence = "```" if rng.random() < 0.85 else "~~~"
            body = ["# not a heading #notatag [[Not A Link]]",
                    f"x = '[[{rng.choice(self.notes)[1]}]]'  # #fake/tag",
                    "def f():", "    return {'a': 1}  # ![[nope.png]]",
                    f"echo \"#{rng.choice(_TAGS)}\""]
            rng.shuffle(body)
            return f"{fence}{lang}\n" + "\n".join(body[: rng.randint(2, 5)]) + f"\n{fence}"
        if r < 0.82:   # inline code with fake tags/links
            return (f"{rng.choice(self.pool)} Use `#inline-not-tag` and `[[Inline Not Link]]` "
                    f"and ``code with ` tick #x``. {rng.choice(self.pool)}")
        if r < 0.87:   # callout
            kind = rng.choice(_CALLOUTS)
            fold = rng.choice(("", "", "-", "+"))
            lines = [f"> [!{kind}]{fold} {rng.choice(_HEADINGS)}"]
            for _ in range(rng.randint(1, 4)):
                s = rng.choice(self.pool)
                if rng.random() < lps * 2:
                    s += " " + self._link(src)
                lines.append("> " + s)
            if rng.random() < 0.2:
                lines += [">", "> > [!quote] nested", "> > " + rng.choice(self.pool) + " " + self._tag()]
            return "\n".join(lines)
        if r < 0.90:   # table with escaped pipes in links
            t = self._target_index()
            name = self.notes[t][1]
            self.stats["links"] += 1
            return ("| Item | Link | Notes |\n| --- | --- | --- |\n"
                    f"| {rng.choice(_WORDS)} | [[{name}\\|{rng.choice(_WORDS)}]] | {rng.choice(self.pool)} |\n"
                    f"| {rng.choice(_WORDS)} | {self._link(src)} | {self._tag()} |")
        if r < 0.93:   # comments
            if rng.random() < 0.5:
                return f"<!-- hidden #html-comment-tag [[Hidden Link]] -->\n{rng.choice(self.pool)}"
            return f"%% obsidian comment {self._tag()} counts %%\n{rng.choice(self.pool)}"
        if r < 0.96:
            return "> " + rng.choice(self.pool) + "\n> — " + rng.choice(_TITLE_WORDS)
        if r < 0.98:
            return "---" if rng.random() < 0.5 else "***"
        return "$$\n\\sum_{i=1}^{n} x_i #nottag\n$$"

    def _frontmatter(self, i: int, is_task: bool) -> tuple[str, bool]:
        """Return (frontmatter text incl. fences or "", invalid)."""
        rng = self.rng
        if is_task:
            tagline = rng.choice(("tags: [task]", "tags:\n  - task", "tags:\n  - task/bug\n  - project/alpha",
                                  "tags: [task/feature, work]", "tags: task"))
            status = rng.choice(("draft", "queued", "running", "review", "done", "failed", "blocked"))
            repo = self.notes[self._target_index()][1]
            self.stats["links"] += 1
            lines = [tagline, f"status: {status}", f'repo: "[[{repo}]]"',
                     f"agent: {rng.choice(('auto', 'claude', 'codex'))}",
                     f"priority: {rng.choice(('low', 'normal', 'high'))}"]
            if rng.random() < 0.5:
                lines += [f"id: T-{rng.randint(1, 99999):05d}", f"attempt: {rng.randint(0, 3)}",
                          f"branch: zoe/{rng.randint(1, 9999)}-fix", f"updated: 2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:{rng.randint(10, 59)}:00"]
            return "---\n" + "\n".join(lines) + "\n---\n", False
        if rng.random() > 0.75:
            return "", False
        if rng.random() < 0.01:
            bad = rng.choice(("title: [unclosed\ntags: [a, b", "key: value\n  bad: indent\n- item",
                              'tags: "unterminated\nother: 1', "\tkey: tab-indented\nx: [", "a: b: c: :\n[[x]]: {"))
            return "---\n" + bad + "\n---\n", True
        lines = []
        if rng.random() < 0.7:
            tags = rng.sample(_TAGS, rng.randint(1, 4))
            st = rng.random()
            if st < 0.4:
                lines.append("tags: [" + ", ".join(tags) + "]")
            elif st < 0.8:
                lines.append("tags:\n" + "\n".join(f"  - {t}" for t in tags))
            elif st < 0.9:
                lines.append("tags: " + " ".join(tags))
            else:
                lines.append("tags:\n" + "\n".join(f'  - "#{t}"' for t in tags))
        if rng.random() < 0.3:
            als = [f"{rng.choice(_TITLE_WORDS)} {rng.choice(_TITLE_WORDS)}" for _ in range(rng.randint(1, 3))]
            lines.append("aliases:\n" + "\n".join(f"  - {a}" for a in als) if rng.random() < 0.6
                         else "aliases: [" + ", ".join(f'"{a}"' for a in als) + "]")
        if rng.random() < 0.6:
            lines.append(f"created: {rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        if rng.random() < 0.2:
            lines.append(f"modified: {rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}")
        if rng.random() < 0.2:
            lines.append(f"rating: {rng.randint(1, 5)}")
        if rng.random() < 0.1:
            lines.append(f"progress: {rng.random():.2f}")
        if rng.random() < 0.1:
            lines.append(f"draft: {rng.choice(('yes', 'no', 'true', 'false', 'on'))}")
        if rng.random() < 0.25:
            t = self.notes[self._target_index()][1]
            self.stats["links"] += 1
            lines.append(f'related: "[[{t}]]"')
        if rng.random() < 0.1:
            ts = [self.notes[self._target_index()][1] for _ in range(rng.randint(1, 3))]
            self.stats["links"] += len(ts)
            lines.append("people:\n" + "\n".join(f'  - "[[{t}]]"' for t in ts))
        if rng.random() < 0.1:
            lines.append(f"# a yaml comment about {rng.choice(_WORDS)}")
        if rng.random() < 0.05:
            lines.append("cssclasses:\n  - wide\nempty:\nnested:\n  key: value\n  list: [1, 2]")
        if rng.random() < 0.05:
            lines.append(f"source: https://example.com/{rng.randint(1, 9999)}?q=a#frag")
        if not lines:
            lines.append(f"created: {rng.randint(2019, 2025)}-01-01")
        return "---\n" + "\n".join(lines) + "\n---\n", False

    def note_text(self, i: int) -> tuple[str, bool]:
        rng = self.rng
        is_task = i in self.task_notes
        fm, invalid = self._frontmatter(i, is_task)
        if fm:
            self.stats["frontmatter"] += 1
        if invalid:
            self.stats["invalid_yaml"] += 1
        size = self.sizes[i]
        # links density: ~ 1 link per 280 bytes; hubs (MOCs) are link-dense
        lps = 0.35
        if i < 8:
            lps = 0.9
        out = [fm]
        cur = len(fm)
        if rng.random() < 0.5:
            h = "# " + self.notes[i][1]
            out.append(h + "\n\n")
            cur += len(h) + 2
        if i in self.inline_task_notes:
            out.append("#task this one is a task by its inline tag\n\n")
        elif is_task:
            out.append("## Goal\n\n" + rng.choice(self.pool) + "\n\n## Definition of done\n\n- [ ] tests pass\n- [ ] PR opened\n\n")
        hl = [0]
        while cur < size:
            b = self._block(i, lps, hl)
            out.append(b)
            out.append("\n\n")
            cur += len(b.encode("utf-8")) + 2 if len(b) < 64 else len(b) + len(b) // 8 + 2
        return "".join(out), is_task

    # ---------------------------------------------------------------------------------- writing
    def write(self) -> None:
        rng, out = self.rng, self.out
        for f in self.folders[1:]:
            (out / f).mkdir(parents=True, exist_ok=True)
        (out / "attachments").mkdir(exist_ok=True)
        mt0 = 1_700_000_000
        total = 0
        for i, path in enumerate(self.paths):
            text, is_task = self.note_text(i)
            r = rng.random()
            if r < 0.03:
                text = text.replace("\n", "\r\n")
                self.stats["crlf"] += 1
            r2 = rng.random()
            if r2 < 0.001 and not is_task:
                data = text.encode("latin-1", errors="replace")
                self.stats["latin1"] += 1
            elif r2 < 0.021:
                data = b"\xef\xbb\xbf" + text.encode("utf-8")
                self.stats["bom"] += 1
            else:
                data = text.encode("utf-8")
            p = out / path
            p.write_bytes(data)
            os.utime(p, (mt0 + i * 37, mt0 + i * 37))
            total += len(data)
            self.stats["notes"] += 1
            self.stats["task_notes"] += is_task or i in self.inline_task_notes
        self.stats["bytes_notes"] = total

        # a few empty notes, sync-conflict copies
        for k in range(max(1, self.n // 2000)):
            p = out / ("Untitled.md" if k == 0 else f"Untitled {k}.md")
            p.write_bytes(b"")
            self.stats["notes"] += 1
            self.stats["empty"] += 1
        for k in range(max(1, self.n // 1000)):
            j = rng.randrange(len(self.paths))
            src = self.paths[j]
            stem = src[:-3]
            name = rng.choice((f"{stem} 2.md", f"{stem} (conflicted copy 2025-03-0{k % 9 + 1}).md",
                               f"{stem}.sync-conflict-20250301-12{k % 60:02d}00-ABCDEF{k % 10}.md",
                               f"{stem} (Conflict {k}).md"))
            if not (out / name).exists():
                shutil.copyfile(out / src, out / name)
                self.stats["notes"] += 1
                self.stats["conflicts"] += 1

        # attachments
        for a in self.attachments:
            p = out / a
            p.parent.mkdir(parents=True, exist_ok=True)
            n = rng.randint(100, 600)
            if a.endswith(".pdf"):
                data = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
                        + rng.randbytes(n) + b"\n%%EOF\n")
            elif a.endswith(".jpg"):
                data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + rng.randbytes(n) + b"\xff\xd9"
            else:
                data = _PNG_HEADER + rng.randbytes(n) + b"\x00\x00\x00\x00IEND\xaeB`\x82"
            p.write_bytes(data)
            self.stats["attachments"] += 1
        for c in self.canvases:
            nodes = []
            for k in range(rng.randint(2, 8)):
                t = self.paths[self._target_index()]
                nodes.append({"id": f"{k:016x}", "type": "file", "file": t, "x": k * 400, "y": 0,
                              "width": 400, "height": 300})
            nodes.append({"id": "t0", "type": "text", "text": "A card with [[Index]] and #tag", "x": 0,
                          "y": 400, "width": 250, "height": 60})
            p = out / c
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps({"nodes": nodes, "edges": [{"id": "e1", "fromNode": nodes[0]["id"],
                                     "toNode": nodes[-1]["id"]}]}, indent="\t", ensure_ascii=False), encoding="utf-8")
            self.stats["canvases"] += 1
        for b in self.bases:
            p = out / b
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text('filters:\n  and:\n    - file.hasTag("project")\nviews:\n  - type: table\n'
                         '    name: Table\n    order:\n      - file.name\n      - status\n', encoding="utf-8")
            self.stats["bases"] += 1

        # .obsidian/ (must be ignored by indexers; includes big plugin bundles)
        ob = out / ".obsidian"
        (ob / "plugins" / "obsidian-tasks-plugin").mkdir(parents=True, exist_ok=True)
        (ob / "plugins" / "dataview").mkdir(parents=True, exist_ok=True)
        (ob / "themes" / "Minimal").mkdir(parents=True, exist_ok=True)
        (ob / "app.json").write_text(json.dumps({"useMarkdownLinks": False, "newLinkFormat": "shortest",
                                                 "attachmentFolderPath": "attachments",
                                                 "alwaysUpdateLinks": True}, indent=2))
        (ob / "appearance.json").write_text(json.dumps({"cssTheme": "Minimal", "baseFontSize": 16}, indent=2))
        (ob / "core-plugins.json").write_text(json.dumps(["file-explorer", "global-search", "backlink",
                                                          "graph", "canvas", "bases", "daily-notes"], indent=2))
        (ob / "community-plugins.json").write_text(json.dumps(["obsidian-tasks-plugin", "dataview"], indent=2))
        (ob / "workspace.json").write_text(json.dumps({"lastOpenFiles": self.paths[:20]}, indent=2,
                                                      ensure_ascii=False))
        for plug, size in (("obsidian-tasks-plugin", 400_000), ("dataview", 250_000)):
            js = ("/* fake bundle #notatag [[Not A Note]] */\n"
                  + "function f(a){return a+1}\n" * (size // 27))
            (ob / "plugins" / plug / "main.js").write_text(js)
            (ob / "plugins" / plug / "manifest.json").write_text(json.dumps({"id": plug, "version": "1.0.0"}))
        (ob / "plugins" / "obsidian-tasks-plugin" / "data.json").write_text('{"globalFilter": "#task"}')
        (ob / "themes" / "Minimal" / "theme.css").write_text("body { --x: 1; }\n" * 3000)
        (ob / "snippets").mkdir(exist_ok=True)
        (ob / "snippets" / "notes.md").write_text("# not a note\n[[Index]] #nope\n")

        # .trash/ (ignored)
        tr = out / ".trash"
        tr.mkdir(exist_ok=True)
        for k in range(max(1, self.n // 1000)):
            (tr / f"Deleted note {k}.md").write_text("---\ntags: [task]\n---\n#task deleted [[Index]]\n")
            self.stats["trash"] += 1

        total_all = 0
        for dirpath, _dirs, files in os.walk(out):
            for f in files:
                total_all += os.path.getsize(os.path.join(dirpath, f))
        self.stats["bytes_total"] = total_all


def _cum(weights: list[float]) -> list[float]:
    acc, out = 0.0, []
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _pick(rng: random.Random, cum: list[float]) -> int:
    import bisect
    return min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)


def _blockid(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(6))


def generate(out_dir: str | os.PathLike, n: int, seed: int = 1, force: bool = False) -> dict:
    """Generate a vault of `n` markdown notes (plus a few empty/conflict notes) in out_dir.

    out_dir must not exist or be empty (or force=True: it is removed first). Returns a summary dict.
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} exists and is not empty (use force=True / --force)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    v = _Vault(out, n, seed)
    v.plan()
    v.write()
    summary = dict(v.stats)
    summary.update({"path": str(out), "seed": seed, "requested_notes": n,
                    "seconds": round(time.perf_counter() - t0, 2)})
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--notes", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="remove OUT_DIR first if it exists")
    a = ap.parse_args(argv)
    try:
        s = generate(a.out_dir, a.notes, a.seed, force=a.force)
    except FileExistsError as e:
        print(f"vault_gen: {e}", file=sys.stderr)
        return 2
    print(json.dumps(s, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
