"""The index never follows a symlink out of the vault (nor into its dot-folders), as the store does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vaultzoe.vault.index import VaultIndex

from .conftest import write

SECRET = "Host prod\n  HostName 10.0.0.5\n#task\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "home" / ".ssh"
    folder.mkdir(parents=True)
    (folder / "config").write_text(SECRET)
    (folder / "notes.md").write_text("status: queued\n" + SECRET)
    return folder


def _all_text(index: VaultIndex) -> str:
    return "".join(note.text for note in index.notes())


def test_a_note_symlinked_out_of_the_vault_is_skipped(vault, outside):
    write(vault, "Real.md", "[[Acme]]")
    (vault / "Acme.md").symlink_to(outside / "config")
    index = VaultIndex.open(vault, cache=False)
    assert "Acme.md" not in index.files() and index.note("Acme.md") is None
    assert "10.0.0.5" not in _all_text(index) and index.tasks() == []
    assert index.unresolved() == {"Real.md": {"Acme": 1}}
    assert any(w.startswith("Acme.md: symlink leading out of the vault") for w in index.warnings())


def test_a_folder_symlinked_out_of_the_vault_is_skipped(vault, outside):
    (vault / "Projects").symlink_to(outside, target_is_directory=True)
    index = VaultIndex.open(vault, cache=False)
    assert index.files() == [] and "10.0.0.5" not in _all_text(index)
    index.update("Projects")
    index.update("Projects/notes.md")
    assert index.files() == [] and index.note("Projects/notes.md") is None


def test_symlinks_into_dot_folders_are_skipped(vault):
    write(vault, ".git/config", "[remote]\n url = https://token@example.invalid\n")
    (vault / "Config.md").symlink_to(vault / ".git" / "config")
    index = VaultIndex.open(vault, cache=False)
    assert index.files() == []


def test_symlinks_inside_the_vault_are_still_followed(vault):
    write(vault, "Notes/Real.md", "#task body")
    (vault / "Alias.md").symlink_to("Notes/Real.md")
    (vault / "Mirror").symlink_to(vault / "Notes", target_is_directory=True)
    index = VaultIndex.open(vault, cache=False)
    assert "Alias.md" in index.files() and index.note("Alias.md").text == "#task body"


def test_update_skips_a_new_symlink_out_of_the_vault(vault, outside):
    index = VaultIndex.open(vault, cache=False)
    (vault / "Acme.md").symlink_to(outside / "config")
    index.update("Acme.md")
    index.update(str(vault / "Acme.md"))
    assert index.files() == [] and index.note("Acme.md") is None
    assert index.refresh() == set() and index.files() == []


def test_a_note_swapped_for_a_symlink_after_indexing_is_not_read(vault, outside):
    write(vault, "Acme.md", "status: queued\n#task")
    index = VaultIndex.open(vault, cache=False)
    assert index.note("Acme.md") is not None
    os.unlink(vault / "Acme.md")
    (vault / "Acme.md").symlink_to(outside / "config")
    assert index.note("Acme.md") is None                  # read before any refresh: refused at open
    assert "10.0.0.5" not in _all_text(index) and index.files() == []
