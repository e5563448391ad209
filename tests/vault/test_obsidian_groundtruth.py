"""Agreement with what Obsidian itself produced for the Tasks-Demo vault (../shared/data/obsidian/).

One test per metadata file and aspect, and one per source file of resolvedLinks/unresolvedLinks, so a
failure names exactly the note and the aspect where vaultzoe and Obsidian part.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaultzoe.vault.index import VaultIndex
from vaultzoe.vault.note import Note, parse_note

from .conftest import GROUND_TRUTH

METADATA = sorted((GROUND_TRUTH / "metadata").glob("*.json"))
# Obsidian's resolvedLinks/unresolvedLinks were taken a little before the vault snapshot (README).
NEWER_NOTES = {
    "Manual Testing/Manually testing views.md",
    "Manual Testing/Nested Backlinks.md",
    "Manual Testing/Smoke test JS setting - should fail when disabled.md",
    "Manual Testing/Smoke test JS setting - should work when disabled.md",
}
# Obsidian's snapshot records no links for this note, whose current text has a plain paragraph
# "[[yaml_all_property_types_populated]] has a tags property ..." that vaultzoe (and any reading of
# Obsidian's grammar) resolves: the note was edited after the snapshot (16 upstream revisions).
EDITED_AFTER_SNAPSHOT = {"How To/Find tasks in notes with particular tag.md"}

pytestmark = pytest.mark.skipif(not METADATA, reason=f"no ground truth at {GROUND_TRUTH}")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.fixture(scope="module")
def index(demo_vault: Path) -> VaultIndex:
    return VaultIndex.open(demo_vault, cache=False)


@pytest.fixture(scope="module")
def link_counts(index: VaultIndex) -> dict:
    return index.link_counts()


@pytest.fixture(scope="module")
def unresolved(index: VaultIndex) -> dict:
    return index.unresolved()


@pytest.fixture(params=METADATA, ids=_ids(METADATA))
def case(request: pytest.FixtureRequest) -> tuple[dict, Note]:
    data = _load(request.param)
    return data, parse_note(data["filePath"], data["fileContents"])


def _body_links(cache: dict) -> list[dict]:
    """Obsidian's links and embeds, merged in document order."""
    found = cache.get("links", []) + cache.get("embeds", [])
    return sorted(found, key=lambda link: link["position"]["start"]["offset"])


def test_get_all_tags(case):
    data, note = case
    assert list(note.tags) == data["getAllTags"]


def test_frontmatter_tags(case):
    data, note = case
    expected = data["parseFrontMatterTags"] or []
    assert [t for t in note.tags[:len(expected)]] == expected


def test_body_links_and_embeds(case):
    data, note = case
    expected = [(x["link"], x["displayText"], x["original"], x["original"].startswith("!"))
                for x in _body_links(data["cachedMetadata"])]
    got = [(link.link, link.display, link.original, link.embed) for link in note.links if link.key is None]
    assert got == expected


def test_link_lines(case):
    data, note = case
    expected = [x["position"]["start"]["line"] for x in _body_links(data["cachedMetadata"])]
    assert [link.line for link in note.links if link.key is None] == expected


def test_frontmatter_links(case):
    data, note = case
    expected = [(x["key"], x["link"], x["displayText"], x["original"])
                for x in data["cachedMetadata"].get("frontmatterLinks", [])]
    got = [(link.key, link.link, link.display, link.original) for link in note.links if link.key is not None]
    assert got == expected


def test_frontmatter_values(case):
    data, note = case
    assert note.frontmatter == data["cachedMetadata"].get("frontmatter", {})
    assert note.warnings == ()


def test_headings(case):
    data, note = case
    expected = [(h["heading"], h["level"], h["position"]["start"]["line"])
                for h in data["cachedMetadata"].get("headings", [])]
    assert [(h.text, h.level, h.line) for h in note.headings] == expected


def test_index_notes_are_parsed_notes(case, index: VaultIndex):
    data, note = case
    assert index.note(data["filePath"]) == note


def test_body_starts_where_obsidian_frontmatter_ends(case):
    data, note = case
    position = data["cachedMetadata"].get("frontmatterPosition")
    if position is None:
        assert note.body_start == 0
    else:
        assert note.body_start == position["end"]["offset"] + 1


def test_file_is_the_vault_file(case, demo_vault: Path):
    data, _ = case
    assert (demo_vault / data["filePath"]).read_text(encoding="utf-8") == data["fileContents"]


@pytest.mark.parametrize("path", METADATA, ids=_ids(METADATA))
def test_resolve_link_to_path(path: Path, index: VaultIndex):
    data = _load(path)
    source = data["filePath"]
    got = {link: index.resolve(link, source) for link in data["resolveLinkToPath"]}
    assert got == data["resolveLinkToPath"]


@pytest.mark.parametrize("path", METADATA, ids=_ids(METADATA))
def test_index_links_resolve_like_obsidian(path: Path, index: VaultIndex):
    data = _load(path)
    expected = data["resolveLinkToPath"]
    for link, target in index.resolved_links(data["filePath"]):
        if link.link in expected and not link.embed:
            assert target == expected[link.link], link


RESOLVED = _load(GROUND_TRUTH / "resolvedLinks.json") if METADATA else {}
UNRESOLVED = _load(GROUND_TRUTH / "unresolvedLinks.json") if METADATA else {}
SOURCES = sorted(set(RESOLVED) | set(UNRESOLVED))


@pytest.mark.parametrize("source", SOURCES)
def test_resolved_links(source: str, link_counts: dict):
    if source in EDITED_AFTER_SNAPSHOT:
        pytest.xfail("the note was edited after Obsidian's snapshot")
    assert link_counts.get(source, {}) == RESOLVED.get(source, {})


@pytest.mark.parametrize("source", SOURCES)
def test_unresolved_links(source: str, unresolved: dict):
    assert unresolved.get(source, {}) == UNRESOLVED.get(source, {})


def test_every_source_obsidian_knows_is_indexed(index: VaultIndex):
    ours = {p for p in index.files() if p.endswith((".md", ".canvas"))}
    assert set(RESOLVED) == ours - NEWER_NOTES


def test_no_other_source_has_links_obsidian_lacks(link_counts: dict):
    extra = set(link_counts) - set(RESOLVED) - NEWER_NOTES
    assert extra == set()


def test_unresolved_sums_match_stats(index: VaultIndex, unresolved: dict):
    newer = sum(sum(unresolved.get(p, {}).values()) for p in NEWER_NOTES)
    assert index.stats()["unresolved"] - newer == sum(sum(v.values()) for v in UNRESOLVED.values())
