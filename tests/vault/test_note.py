"""parse_note: frontmatter, tags, links, headings, sections, task rule, robustness (pure, no disk)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultzoe.vault.note import Heading, Link, parse_note, parse_record

TASK_NOTE = """---
tags: [task]
status: queued
repo: "[[example-app]]"
related:
  - "[[Customer A]]"
  - "[[Meeting#Decisions|the decision]]"
created: 2024-05-01
approved: yes
priority: 2
---
# Add export

See [[Customer A]] and [spec](Specs/Export%20spec.md). #feature/export

## Goal

Users export their data.

### Details

CSV first.

## Acceptance criteria

- [ ] #task CSV download works
- works offline

## Notes
"""


def test_frontmatter_values_as_obsidian_holds_them():
    note = parse_note("Tasks/Export.md", TASK_NOTE)
    assert note.frontmatter == {
        "tags": ["task"], "status": "queued", "repo": "[[example-app]]",
        "related": ["[[Customer A]]", "[[Meeting#Decisions|the decision]]"],
        "created": "2024-05-01", "approved": "yes", "priority": 2,
    }
    assert note.warnings == ()
    assert note.text[note.body_start:].startswith("# Add export")
    assert note.body == note.text[note.body_start:]


def test_tags_frontmatter_first_then_body_in_order():
    note = parse_note("Tasks/Export.md", TASK_NOTE)
    assert note.tags == ("#task", "#feature/export", "#task")


def test_links_frontmatter_then_body():
    note = parse_note("Tasks/Export.md", TASK_NOTE)
    assert note.links == (
        Link("example-app", "example-app", "[[example-app]]", False, "repo", 3),
        Link("Customer A", "Customer A", "[[Customer A]]", False, "related.0", 4),
        Link("Meeting#Decisions", "the decision", "[[Meeting#Decisions|the decision]]", False, "related.1", 4),
        Link("Customer A", "Customer A", "[[Customer A]]", False, None, 13),
        Link("Specs/Export spec.md", "spec", "[spec](Specs/Export%20spec.md)", False, None, 13),
    )
    assert note.links[2].target == "Meeting" and note.links[2].subpath == "#Decisions"
    assert Link("#h", None, "[[#h]]").target == "" and Link("X", None, "[[X]]").subpath == ""


def test_headings_and_sections():
    note = parse_note("Tasks/Export.md", TASK_NOTE)
    assert note.headings == (
        Heading("Add export", 1, 11), Heading("Goal", 2, 15), Heading("Details", 3, 19),
        Heading("Acceptance criteria", 2, 23), Heading("Notes", 2, 28))
    assert note.section("goal") == "\nUsers export their data.\n\n### Details\n\nCSV first.\n\n"
    assert note.section("Details") == "\nCSV first.\n\n"
    assert note.section("Notes") == ""
    assert note.section("Missing") is None
    assert "Goal" in note.section("Add export")


def test_setext_section():
    note = parse_note("n.md", "Goal\n====\nbody\n\nNext\n----\nmore\n")
    assert [(h.text, h.level, h.line) for h in note.headings] == [("Goal", 1, 0), ("Next", 2, 4)]
    assert note.section("Goal") == "body\n\nNext\n----\nmore\n"
    assert note.section("Next") == "more\n"


def test_name_and_aliases():
    note = parse_note("Folder/My Note.md", "---\naliases: [One, Two]\n---\n")
    assert note.name == "My Note"
    assert note.aliases == ("One", "Two")
    assert parse_note("a.md", "---\naliases: One, Two\n---\n").aliases == ("One", "Two")


@pytest.mark.parametrize("text, is_task", [
    ("---\ntags: [task]\n---\n", True),
    ("---\ntags: task\n---\n", True),
    ("---\ntags: task, urgent\n---\n", False),      # Obsidian: one text value, no tag (test_syntax.py)
    ("---\ntags:\n  - Task/Bug\n---\n", True),
    ("---\ntags: [tasks, taskforce]\n---\n", False),
    ("Do this #task\n", True),
    ("# Fix it #task/bug\n", True),
    ("> [!note]\n> #task in a callout\n", True),
    ("- [ ] #task a Tasks-plugin checkbox\n", False),
    ("* [x] #task done\n1. [ ] #task numbered\n", False),
    ("- plain item #task\n", False),
    ("- item\n  continued #task\n", False),
    ("- item\nlazy continuation #task\n", False),
    ("- item\n\nafter the list #task\n", True),
    # checklists in callouts and quotes (Tasks plugin) are list items; a bare '>' line is a blank line there
    ("> [!todo] Today\n> - [ ] #task buy milk 📅 2026-12-01\n> - [x] #task eggs\n", False),
    ("> [!note]\n>\n> - [ ] #task a\n>   - child\n> - [ ] #task b\n", False),
    ("> > [!note]\n> >\n> > - [ ] #task nested\n>> 1. [ ] #task numbered\n", False),
    ("> - [ ] a\n>\n>   indented continuation #task\n", False),
    ("> [!todo]\n> - [ ] #task a\n>\n> a paragraph of the callout #task\n", True),
    (">> - [ ] a\n>>\n>> after the quoted list #task\n", True),
    ("`#task` in code\n", False),
    ("```\n#task\n```\n", False),
    ("<!-- #task -->\n", False),
    ("#tasks is another tag\n", False),
])
def test_task_rule(text, is_task):
    assert parse_note("n.md", text).is_task is is_task


def test_invalid_yaml_warns_and_keeps_parsing():
    note = parse_note("n.md", "---\ntags: [task\nstatus: queued\n---\n# Title #tag [[Link]]\n")
    assert note.frontmatter == {}
    assert len(note.warnings) == 1 and "invalid YAML" in note.warnings[0]
    assert note.tags == ("#tag",) and note.links[0].link == "Link" and note.headings[0].text == "Title #tag [[Link]]"
    assert note.is_task is False


def test_duplicate_keys_invalidate_properties_like_obsidian():
    note = parse_note("n.md", "---\na: 1\na: 2\n---\n")
    assert note.frontmatter == {} and "duplicated" in note.warnings[0]


def test_bom_and_crlf():
    text = "\ufeff---\r\ntags: [x]\r\n---\r\n# Head\r\n\r\nline [[L]] #t\r\n"
    note = parse_note("n.md", text)
    assert note.text == text[1:]
    assert note.frontmatter == {"tags": ["x"]}
    assert note.body.startswith("# Head")
    assert note.headings == (Heading("Head", 1, 3),)
    assert [(link.link, link.line, link.original) for link in note.links] == [("L", 5, "[[L]]")]
    assert note.tags == ("#x", "#t")
    assert note.section("Head") == "\r\nline [[L]] #t\r\n"


def test_lone_cr_line_breaks():
    note = parse_note("n.md", "# A\r[[L]]\r## B\r")
    assert [(h.text, h.line) for h in note.headings] == [("A", 0), ("B", 2)]
    assert note.links[0].line == 1


def test_no_frontmatter_and_empty():
    assert parse_note("n.md", "").frontmatter == {}
    note = parse_note("n.md", "---\n---\nbody")
    assert note.frontmatter == {} and note.body == "body" and note.warnings == ()
    assert parse_note("n.md", "---\nunclosed: yes\n").body_start == 0


def test_non_mapping_frontmatter_warns():
    note = parse_note("n.md", "---\n- a\n- b\n---\n")
    assert note.frontmatter == {} and "not a set of properties" in note.warnings[0]


def test_record_is_plain_data():
    record = parse_record(TASK_NOTE)
    assert isinstance(record, tuple) and all(isinstance(link, tuple) for link in record[2])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_never_raises_and_links_come_from_the_text(text):
    note = parse_note("n.md", text)
    body = note.text.replace("\r\n", "\n").replace("\r", "\n")
    for link in note.links:
        if link.key is None:
            assert link.original in body
    assert note.body_start <= len(note.text)
