"""Task notes -> tasks, each pass (the rules are pure, in tasks/adoption.py): ids are written before anything else."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .. import trust
from ..errors import VaultzoeError
from ..settings import env_number
from ..tasks import adoption
from ..tasks.adoption import Claim
from ..tasks.brief import title_of
from ..tasks.model import Status, TaskState
from ..tasks.registry import wikilink
from ..text import one_line
from ..vault.note import Note
from .scene import Live, Scene


class Adopter:
    """Pairs task notes with task memory; remembers how long a task's note has been absent."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.missing_since: dict[str, float] = {}      # task id -> when its note was first seen absent
        self.delete_grace_s = env_number(scene.parts.environ, "VAULTZOE_DELETE_GRACE_S", adoption.DELETE_GRACE_S)
        self.problems: list[adoption.Problem] = []     # this pass's notes that look like tasks but cannot run
        self._templates: tuple[str, ...] = ()

    def adopt(self, states: dict[str, TaskState]) -> dict[str, Live]:
        """Pair each task note with its memory; give newly queued notes an id (note first, then memory)."""
        scene = self.scene
        self.problems = []
        self._templates = ("zoe/",) + tuple(f.lower().strip("/") + "/" for f in _template_folders(scene.root))
        unreadable = {p.path for p in scene.index.problems()}   # reported, never run (a known task's: settling)
        notes = {n.path: n for n in scene.index.tasks() if not self.is_template(n.path) and n.path not in unreadable}
        claims = [Claim(p, str(n.frontmatter.get("id") or "").strip(), Status.parse(n.frontmatter.get("status")))
                  for p, n in notes.items()]
        pairing = adoption.pair(claims, states)
        self.problems = list(pairing.problems)
        live: dict[str, Live] = {}
        for task_id, path in pairing.bound.items():
            live[task_id] = Live(notes[path], _moved(states[task_id], notes[path]))
            self.missing_since.pop(task_id, None)
        for task_id, path in pairing.adopt.items():
            if not self._outside_task_folders(path):
                self._adopt(task_id, notes[path], states, live, reason="")
        for path in pairing.fresh:
            if not self._outside_task_folders(path):
                self._adopt(self._new_id(states), notes[path], states, live, _replaced(pairing, path))
        for path in pairing.listed:
            note = notes[path]
            status = Status.parse(note.frontmatter.get("status")) or Status.DRAFT
            live[f"draft:{path}"] = Live(note, TaskState(id="", status=status, path=path, title=title_of(note)))
        for task_id in pairing.absent:
            live[task_id] = self._absent(states[task_id])
        return live

    def is_template(self, path: str) -> bool:
        """Task templates are not tasks: vaultzoe's own Zoe/ folder and Obsidian's template folder."""
        return path.lower().startswith(self._templates or ("zoe/",))

    def _adopt(self, task_id: str, note: Note, states: dict[str, TaskState], live: dict[str, Live],
               reason: str) -> None:
        scene = self.scene
        now = scene.now()
        state = TaskState(id=task_id, status=Status.QUEUED, path=note.path, title=title_of(note), queued_at=now,
                          updated=now, reason=reason, note_status=Status.QUEUED.value)
        try:
            scene.journal.task_note(state)     # a note vaultzoe cannot write is never started (it would get a new id each pass)
            scene.states.save(state)
        except (VaultzoeError, OSError) as exc:
            self.problems.append(adoption.Problem(note.path, f"vaultzoe cannot write to this task note, so it "
                                                             f"will not start it: {one_line(str(exc), 200)}"))
            return
        states[task_id] = state
        live[task_id] = Live(note, state)
        if reason:
            scene.journal.inbox_line(now, f"{wikilink(note.path)}: {reason} (`{task_id}`)")

    def _new_id(self, states: dict[str, TaskState]) -> str:
        while True:
            candidate = self.scene.parts.make_id()
            if candidate not in states and adoption.valid_id(candidate):
                return candidate

    def _outside_task_folders(self, path: str) -> bool:
        problem = trust.task_folder_problem(path, self.scene.settings)
        if problem:
            self.problems.append(adoption.Problem(path, problem))
        return problem is not None

    def _absent(self, state: TaskState) -> Live:
        """A known task whose note is not a readable task note this pass: settling, or gone for good."""
        scene = self.scene
        since = self.missing_since.setdefault(state.id, scene.parts.clock())
        file = scene.root / state.path
        note = scene.index.note(state.path) if file.is_file() else None
        untagged = (note is not None and bool(note.text.strip()) and not note.is_task
                    and not scene.index.problems_of(state.path))
        why = adoption.gone_for_good(os.path.lexists(file), untagged, _in_trash(scene.root, state),
                                     scene.parts.clock() - since, self.delete_grace_s)
        if why is None:
            return Live(None, state, settling=True)
        self.missing_since.pop(state.id, None)
        return Live(note if untagged else None, state, gone=why)


def _moved(state: TaskState, note: Note) -> TaskState:
    from dataclasses import replace
    return replace(state, path=note.path, title=title_of(note))


def _replaced(pairing: adoption.Pairing, path: str) -> str:
    replaced = pairing.replaced_ids.get(path)
    if not replaced:
        return ""
    return (f"its id `{one_line(replaced, 40)}` was not a valid task id (lowercase letters, digits, dashes); "
            f"vaultzoe gave it a new one")


def _in_trash(root: Path, state: TaskState) -> bool:
    """Obsidian's "move to trash" puts the file in .trash/ under its own name."""
    trashed = root / ".trash" / Path(state.path).name
    try:
        return trashed.is_file() and state.id in trashed.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False


def _template_folders(root: Path) -> tuple[str, ...]:
    """Obsidian's template folder (read once per pass, not per note)."""
    try:
        data = json.loads((root / ".obsidian" / "templates.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    folder = data.get("folder") if isinstance(data, dict) else None
    return (folder,) if isinstance(folder, str) and folder.strip("/") else ()
