"""Writing a value into frontmatter asks the YAML parser about that value once per process, not once per write."""

from __future__ import annotations

import yaml

from vaultzoe.vault.edit import set_frontmatter

NOTE = "---\ntags: [task]\nstatus: queued\nvaultzoe_branch: old\nvaultzoe_attempts: 1\n---\n## Goal\nAdd numbers.\n"


def test_the_same_values_written_again_are_not_parsed_again(monkeypatch):
    updates = {"status": "running", "vaultzoe_branch": "zoe/add-numbers-q7x2c1", "vaultzoe_attempts": 2}
    first = set_frontmatter(NOTE, updates)
    parsed: list[str] = []
    real = yaml.safe_load
    monkeypatch.setattr(yaml, "safe_load", lambda doc: parsed.append(doc) or real(doc))
    again = set_frontmatter(NOTE.replace("Add numbers", "Add more numbers"), updates)
    assert parsed == []
    assert again == first.replace("Add numbers", "Add more numbers")
    assert yaml.safe_load(again.split("---")[1])["vaultzoe_branch"] == "zoe/add-numbers-q7x2c1"
