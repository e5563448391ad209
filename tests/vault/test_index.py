"""VaultIndex on real files in tmp dirs: resolution, lookups, incremental updates, cache, bad input."""

from __future__ import annotations

import gc
import marshal
import os
import random
import threading
import weakref
from pathlib import Path

import pytest

from vaultzoe.errors import PathOutsideVault, VaultError
from vaultzoe.vault.index import CACHE_DIR, CACHE_FILE, MAX_NOTE_BYTES, PARALLEL_BYTES, VaultIndex

from .conftest import OLD_MTIME_NS, write


def snapshot(index: VaultIndex) -> dict:
    """Everything the index answers, in comparable form."""
    tags = {tag.lstrip("#").lower() for note in index.notes() for tag in note.tags}
    return {
        "files": index.files(), "links": index.link_counts(), "unresolved": index.unresolved(),
        "stats": index.stats(), "tags": {t: index.tagged(t) for t in sorted(tags)},
        "tasks": [n.path for n in index.tasks()], "conflicts": index.conflicts(),
        "notes": [(n.path, n.tags, n.links, n.frontmatter, n.is_task) for n in index.notes()],
        "backlinks": {p: index.backlinks(p) for p in index.files()},
    }


def build(root: Path, files: dict[str, str]) -> VaultIndex:
    for rel, text in files.items():
        write(root, rel, text, old=True)
    return VaultIndex.open(root)


# ---------------------------------------------------------------- resolution

@pytest.fixture
def linked(vault: Path) -> VaultIndex:
    return build(vault, {
        "Note.md": "root note",
        "A/Dup.md": "", "B/Dup.md": "", "C/D/Dup.md": "", "A/sub/N.md": "", "sub/N.md": "",
        "A/src.md": "", "C/src.md": "", "Deep/er/src.md": "",
        "Alias.md": "---\naliases: [Alt]\n---\n",
        "att/image.png": "png", "att/Board.canvas": "{}", "att/View.base": "views: []",
        "att/no-ext": "raw", "Folder/Target.md": "",
    })


@pytest.mark.parametrize("target, source, expected", [
    ("note", "A/src.md", "Note.md"),
    ("NOTE.MD", "A/src.md", "Note.md"),
    ("Note.md", "C/src.md", "Note.md"),
    ("/Folder/Target", "A/src.md", "Folder/Target.md"),
    ("/Target", "A/src.md", None),
    ("Target", "A/src.md", "Folder/Target.md"),
    ("folder/target", "A/src.md", "Folder/Target.md"),
    ("./Dup", "A/src.md", "A/Dup.md"),
    ("../B/Dup.md", "A/src.md", "B/Dup.md"),
    ("../../Note", "Deep/er/src.md", "Note.md"),
    ("../../../etc/passwd", "Deep/er/src.md", None),
    ("../../etc/passwd", "A/src.md", None),
    ("/etc/passwd", "A/src.md", None),
    ("Dup", "A/src.md", "A/Dup.md"),
    ("Dup", "B/x.md", "B/Dup.md"),
    ("Dup", "Note.md", "A/Dup.md"),
    ("Dup", "C/src.md", "A/Dup.md"),
    ("D/Dup", "A/src.md", "C/D/Dup.md"),
    ("sub/N", "A/src.md", "A/sub/N.md"),
    ("sub/N", "C/src.md", "sub/N.md"),
    ("Alt", "A/src.md", None),
    ("image", "A/src.md", None),
    ("image.png", "A/src.md", "att/image.png"),
    ("Board", "A/src.md", None),
    ("Board.canvas", "A/src.md", "att/Board.canvas"),
    ("View.base", "A/src.md", "att/View.base"),
    ("no-ext", "A/src.md", "att/no-ext"),
    ("", "A/src.md", "A/src.md"),
    ("Note#Heading", "A/src.md", "Note.md"),
    ("  Note  ", "A/src.md", "Note.md"),
    ("Missing", "A/src.md", None),
])
def test_resolution(linked: VaultIndex, target, source, expected):
    assert linked.resolve(target, source) == expected


def test_links_backlinks_and_unresolved(vault: Path):
    index = build(vault, {
        "Hub.md": "[[A]] [[A|again]] ![[pic.png]] [[Nowhere]] [[Nowhere#x]] [[#Local]]",
        "A.md": "---\nup: \"[[Hub]]\"\n---\n[t](Hub.md) [[Gone.md]]",
        "pic.png": "x",
    })
    assert index.link_counts() == {"Hub.md": {"A.md": 2, "pic.png": 1, "Hub.md": 1}, "A.md": {"Hub.md": 2}}
    assert index.unresolved() == {"Hub.md": {"Nowhere": 2}, "A.md": {"Gone.md": 1}}
    assert index.backlinks("Hub.md") == {"A.md", "Hub.md"}
    assert index.backlinks("pic.png") == {"Hub.md"}
    assert [(link.link, target) for link, target in index.resolved_links("A.md")] == [
        ("Hub", "Hub.md"), ("Hub.md", "Hub.md"), ("Gone.md", None)]
    assert index.stats() == {"notes": 2, "links": 9, "unresolved": 3, "tags": 0, "tasks": 0}


# ---------------------------------------------------------------- lookups

def test_lookups(vault: Path):
    index = build(vault, {
        "Projects/Alpha.md": "---\ntags: [Project/Alpha]\naliases: [The A, a1]\n---\n#Status/Open",
        "Archive/alpha.md": "#project",
        "img/Alpha.png": "x",
        ".obsidian/Hidden.md": "#project", ".trash/Old.md": "#project", ".git/x.md": "", "Dot/.hidden.md": "",
        "Folder/.private/Secret.md": "#project",
    })
    assert [n.path for n in index.notes()] == ["Archive/alpha.md", "Projects/Alpha.md"]
    assert [n.path for n in index.notes("projects/")] == ["Projects/Alpha.md"]
    assert index.files() == ["Archive/alpha.md", "Projects/Alpha.md", "img/Alpha.png"]
    assert index.by_name("ALPHA") == ["Archive/alpha.md", "Projects/Alpha.md"]
    assert index.by_name("Alpha.png") == ["img/Alpha.png"]
    assert index.by_alias("the a") == ["Projects/Alpha.md"]
    assert index.by_alias("Alpha") == []
    assert index.tagged("#project") == {"Archive/alpha.md", "Projects/Alpha.md"}
    assert index.tagged("PROJECT/alpha") == {"Projects/Alpha.md"}
    assert index.tagged("status") == {"Projects/Alpha.md"}
    assert index.tagged("proj") == set()
    assert index.note("projects/alpha.md").path == "Projects/Alpha.md"
    assert index.note("img/Alpha.png") is None and index.note("nope.md") is None
    assert index.note("../outside.md") is None
    assert index.read_text("Archive/alpha.md") == "#project"
    with pytest.raises(VaultError):
        index.read_text("nope.md")
    assert index.stats() == {"notes": 2, "links": 0, "unresolved": 0, "tags": 3, "tasks": 0}


def test_tasks_and_conflicts(vault: Path):
    task = "---\ntags: [task]\nstatus: queued\n---\n"
    index = build(vault, {
        "T/Fix.md": task,
        "T/Fix 2.md": task,                                         # iCloud
        "T/Fix (conflicted copy 2025-03-01).md": task,              # Obsidian Sync
        "T/Fix (Ann's conflicted copy 2025-03-01).md": task,        # Dropbox
        "T/Fix.sync-conflict-20250301-120000-ABCDEFG.md": task,     # Syncthing
        "T/Chapter 2.md": task,                                     # no "Chapter.md": a real note
        "Untitled.md": "", "Untitled 2.md": "",                     # Obsidian's own numbering
        "T/Inline.md": "Please do this #task",
        "T/Checkbox.md": "- [ ] #task only a Tasks-plugin item",
    })
    assert index.conflicts() == [
        "T/Fix (Ann's conflicted copy 2025-03-01).md", "T/Fix (conflicted copy 2025-03-01).md",
        "T/Fix 2.md", "T/Fix.sync-conflict-20250301-120000-ABCDEFG.md"]
    assert [n.path for n in index.tasks()] == ["T/Chapter 2.md", "T/Fix.md", "T/Inline.md"]
    assert index.stats()["tasks"] == 3


# ---------------------------------------------------------------- incremental updates

def test_update_add_change_remove(vault: Path):
    index = build(vault, {"Src.md": "[[Target]] [[Other]]", "Other.md": ""})
    assert index.unresolved() == {"Src.md": {"Target": 1}}
    write(vault, "Target.md", "#new")
    index.update("Target.md")
    assert index.unresolved() == {}
    assert index.backlinks("Target.md") == {"Src.md"}
    assert index.tagged("new") == {"Target.md"}
    write(vault, "Src.md", "[[Other]] only")
    index.update("Src.md")
    assert index.backlinks("Target.md") == set()
    (vault / "Other.md").unlink()
    index.update("Other.md")
    assert index.unresolved() == {"Src.md": {"Other": 1}}
    assert "Other.md" not in index.files()
    (vault / "Target.md").unlink()
    index.update("Target.md")
    assert index.tagged("new") == set() and index.stats()["tags"] == 0


def test_namesake_added_in_the_source_folder_wins(vault: Path):
    index = build(vault, {"A/src.md": "[[Dup]]", "B/Dup.md": ""})
    assert index.resolve("Dup", "A/src.md") == "B/Dup.md"
    write(vault, "A/Dup.md", "")
    index.update("A/Dup.md")
    assert index.backlinks("A/Dup.md") == {"A/src.md"} and index.backlinks("B/Dup.md") == set()
    (vault / "A/Dup.md").unlink()
    index.update("A/Dup.md")
    assert index.backlinks("B/Dup.md") == {"A/src.md"}


def test_rename_file_and_folder(vault: Path):
    index = build(vault, {"Old.md": "#t", "Src.md": "[[Old]] [[New]]", "Dir/In.md": "[[Src]]"})
    (vault / "Old.md").rename(vault / "New.md")
    index.rename("Old.md", "New.md")
    assert index.unresolved() == {"Src.md": {"Old": 1}}
    assert index.tagged("t") == {"New.md"}
    (vault / "Dir").rename(vault / "Moved")
    index.rename("Dir", "Moved")
    assert [n.path for n in index.notes()] == ["Moved/In.md", "New.md", "Src.md"]
    assert index.backlinks("Src.md") == {"Moved/In.md"}


def test_update_folder_removed(vault: Path):
    index = build(vault, {"F/a.md": "", "F/G/b.md": "", "c.md": "[[a]] [[b]]"})
    for p in (vault / "F/G/b.md", vault / "F/a.md"):
        p.unlink()
    (vault / "F/G").rmdir()
    (vault / "F").rmdir()
    index.update("F")
    assert index.files() == ["c.md"] and index.stats()["unresolved"] == 2


def test_update_ignores_dot_paths_and_rejects_outside(vault: Path):
    index = build(vault, {"a.md": ""})
    write(vault, ".obsidian/workspace.md", "")
    index.update(".obsidian/workspace.md")
    assert index.files() == ["a.md"]
    with pytest.raises(PathOutsideVault):
        index.update("../elsewhere.md")
    with pytest.raises(PathOutsideVault):
        index.update("/etc/passwd")
    write(vault, "b.md", "")
    index.update(vault / "b.md")
    assert index.files() == ["a.md", "b.md"]


def test_refresh_reports_changes(vault: Path):
    index = build(vault, {"a.md": "one", "b.md": "two", "c.png": "x"})
    assert index.refresh() == set()
    write(vault, "a.md", "one more", old=False)
    (vault / "b.md").unlink()
    write(vault, "d.md", "new")
    write(vault, "c.png", "xy")
    assert index.refresh() == {"a.md", "b.md", "d.md", "c.png"}
    assert index.refresh() == set()


def test_same_size_rewrite_within_one_mtime_tick_is_seen(vault: Path):
    path = write(vault, "a.md", "#one")
    index = VaultIndex.open(vault)
    stamp = path.stat().st_mtime_ns
    path.write_text("#two")
    os.utime(path, ns=(stamp, stamp))            # same size, same mtime: only "racy" tracking can tell
    assert index.refresh() == {"a.md"}
    assert index.tagged("two") == {"a.md"}


def test_note_reparses_when_the_file_changed_on_disk(vault: Path):
    index = build(vault, {"a.md": "#old"})
    write(vault, "a.md", "#new [[b]]")
    note = index.note("a.md")
    assert note.tags == ("#new",)
    assert index.tagged("new") == {"a.md"} and index.unresolved() == {"a.md": {"b": 1}}


def test_incremental_updates_equal_a_fresh_build(vault: Path):
    rng = random.Random(7)
    names = ["A/One", "A/Two", "B/One", "Three", "C/D/Four", "Five"]
    for name in names[:3]:
        write(vault, name + ".md", "")
    index = VaultIndex.open(vault)
    for _ in range(60):
        name = rng.choice(names) + ".md"
        path = vault / name
        action = rng.random()
        if action < 0.55:
            links = " ".join(f"[[{rng.choice(names).split('/')[-1]}]]" for _ in range(3))
            tag = rng.choice(["#x", "#x/y", "#task", ""])
            write(vault, name, f"---\naliases: [{rng.choice('pq')}]\n---\n{links} {tag}\n[r](../Five.md)")
            index.update(name)
        elif action < 0.8 and path.exists():
            path.unlink()
            index.update(name)
        elif path.exists():
            new = rng.choice(names) + ".md"
            if not (vault / new).exists():
                (vault / new).parent.mkdir(parents=True, exist_ok=True)
                path.rename(vault / new)
                index.rename(name, new)
        assert snapshot(index) == snapshot(VaultIndex.open(vault, cache=False))


# ---------------------------------------------------------------- cache

def test_cache_warm_start_rereads_only_changes(vault: Path):
    index = build(vault, {"a.md": "#alpha [[b]]", "b.md": "#beta", "c.md": "[[a]]"})
    index.save()
    cache = vault / CACHE_DIR / CACHE_FILE
    assert cache.is_file()
    # same size, same (old) mtime, other bytes: only a re-read could notice, and none must happen
    write(vault, "b.md", "#gamm", old=True)
    write(vault, "c.md", "[[a]] [[b]] #new")
    (vault / "a.md").unlink()
    warm = VaultIndex.open(vault)
    assert warm.tagged("beta") == {"b.md"}
    assert warm.tagged("new") == {"c.md"}
    assert warm.files() == ["b.md", "c.md"]
    assert warm.unresolved() == {"c.md": {"a": 1}}


def test_save_only_when_changed_and_corrupt_cache_rebuilds(vault: Path):
    index = build(vault, {"a.md": "#a"})
    index.save()
    cache = vault / CACHE_DIR / CACHE_FILE
    os.utime(cache, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    VaultIndex.open(vault).save()
    assert cache.stat().st_mtime_ns == OLD_MTIME_NS          # nothing changed: nothing written
    write(vault, "b.md", "#b")
    again = VaultIndex.open(vault)
    again.save(min_interval=3600)                             # first save: written
    write(vault, "c.md", "#c")
    again.refresh()
    stamp = cache.stat().st_mtime_ns
    again.save(min_interval=3600)                             # changed, but saved moments ago
    assert cache.stat().st_mtime_ns == stamp
    again.save()
    assert VaultIndex.open(vault).tagged("c") == {"c.md"}
    cache.write_bytes(b"not a cache")
    assert VaultIndex.open(vault).tagged("a") == {"a.md"}
    cache.write_bytes(cache.read_bytes()[:3])
    assert VaultIndex.open(vault).stats()["notes"] == 3


def test_save_when_the_state_folder_is_a_file_is_a_warning(vault: Path):
    index = build(vault, {"a.md": "#a"})
    (vault / CACHE_DIR).write_text("not a folder")
    index.save()                                               # raised NotADirectoryError before
    assert any(w.startswith("index cache not written") for w in index.warnings())
    assert index.tagged("a") == {"a.md"}


def test_a_cache_missing_a_table_is_rebuilt_not_trusted(vault: Path):
    index = build(vault, {"a.md": "[[b]] #a", "b.md": ""})
    index.save()
    cache = vault / CACHE_DIR / CACHE_FILE
    payload = marshal.loads(cache.read_bytes())
    del payload["state"]["backlinks"]                          # a cache written by some other code
    cache.write_bytes(marshal.dumps(payload))
    assert VaultIndex.open(vault).backlinks("b.md") == {"a.md"}


def _weakrefable(value) -> bool:
    try:
        weakref.ref(value)
    except TypeError:
        return False
    return True


def test_a_dropped_index_is_freed_at_once(vault: Path):
    """No reference cycles: a process that reopens the index never holds two until the cyclic GC runs."""
    build(vault, {"a.md": "[[b]] #a", "b.md": "---\naliases: [B]\n---\n", "c.canvas": "{}"}).save()
    gc.collect()
    gc.disable()
    try:
        for cache in (False, True):
            index = VaultIndex.open(vault, cache=cache)
            index.update("a.md")
            assert index.backlinks("b.md") == {"a.md"} and index.unresolved() == {}
            parts = [weakref.ref(index)] + [weakref.ref(v) for v in vars(index).values() if _weakrefable(v)]
            del index
            # freed by reference counting alone (the cyclic GC is off): nothing of the index is left alive
            assert [r for r in parts if r() is not None] == []
    finally:
        gc.enable()


def test_warm_start_equals_full_build(demo_vault: Path):
    full = VaultIndex.open(demo_vault, cache=False)
    full.save()
    assert snapshot(VaultIndex.open(demo_vault)) == snapshot(full)


def test_parallel_build_equals_serial_build(vault: Path):
    rng = random.Random(3)
    filler = "word " * 3000
    for i in range(PARALLEL_BYTES // len(filler) + 20):
        links = " ".join(f"[[N{rng.randrange(400)}]]" for _ in range(5))
        write(vault, f"F{i % 7}/N{i}.md", f"---\ntags: [t{i % 5}]\n---\n{links} #x{i % 3}\n{filler}", old=True)
    forked = snapshot(VaultIndex.open(vault, cache=False))
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)        # a second thread: the index must not fork now
    helper.start()
    try:
        serial = snapshot(VaultIndex.open(vault, cache=False))
    finally:
        stop.set()
        helper.join()
    assert forked == serial


# ---------------------------------------------------------------- bad input

def test_bad_input_gives_warnings(vault: Path):
    write(vault, "yaml.md", "---\ntags: [task\n---\n#still")
    write(vault, "binary.md", b"\x00\x01\x02PNG")
    write(vault, "latin1.md", "caf\u00e9 #ok".encode("latin-1"))
    write(vault, "huge.md", "#start\n" + "x" * (MAX_NOTE_BYTES + 10))
    write(vault, "trav.md", "[[../../etc/passwd]] [x](../../../etc/passwd) [[/etc/passwd]]")
    (vault / "loop").mkdir()
    (vault / "loop" / "again").symlink_to(vault, target_is_directory=True)
    (vault / "dangling.md").symlink_to(vault / "missing.md")
    index = VaultIndex.open(vault)
    assert "invalid YAML" in index.warnings("yaml.md")[0] and index.tagged("still") == {"yaml.md"}
    assert "binary" in index.warnings("binary.md")[0] and index.note("binary.md").text == ""
    assert "UTF-8" in index.warnings("latin1.md")[0]
    assert index.note("latin1.md").text == "caf\ufffd #ok" and index.tagged("ok") == {"latin1.md"}
    assert "first part" in index.warnings("huge.md")[0] and index.tagged("start") == {"huge.md"}
    assert index.unresolved() == {"trav.md": {"../../etc/passwd": 1, "../../../etc/passwd": 1, "/etc/passwd": 1}}
    assert [w.split(" points")[0] for w in index.warnings("trav.md")] == [
        "link [[../../etc/passwd]]", "link [x](../../../etc/passwd)"]
    assert any("symlink loop" in w for w in index.warnings())
    assert sorted(p for p in index.files() if p.endswith(".md"))[:2] == ["binary.md", "huge.md"]
    assert index.warnings("nope.md") == ()


def test_open_rejects_a_missing_vault(tmp_path: Path):
    with pytest.raises(VaultError, match="No vault"):
        VaultIndex.open(tmp_path / "missing")
