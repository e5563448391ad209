"""The command-line contract: JSON shapes, one-line errors, init idempotence."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vaultzoe.cli import app

from .groundtruth import GROUND_TRUTH as GROUND


@pytest.fixture(scope="module")
def demo_vault(tmp_path_factory) -> Path:
    if not GROUND.is_dir():
        pytest.skip(f"ground truth not found at {GROUND}")
    target = tmp_path_factory.mktemp("gt") / "vault"
    shutil.copytree(GROUND / "tasks-demo-vault", target)
    return target


def cli(*args: str):
    """The real console entry point in a subprocess: exit codes and stderr as a user sees them."""
    return subprocess.run([sys.executable, "-m", "vaultzoe.cli", *args], capture_output=True, text=True, timeout=120)


def test_index_json_has_the_contract_keys(demo_vault):
    result = cli("index", str(demo_vault), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"notes", "links", "unresolved", "tags", "tasks", "seconds"}
    md = [p for p in demo_vault.rglob("*.md") if not any(part.startswith(".") for part in p.relative_to(demo_vault).parts)]
    assert data["notes"] == len(md)
    assert all(isinstance(data[k], int) for k in ("notes", "links", "unresolved", "tags", "tasks"))
    assert (demo_vault / ".vaultzoe").is_dir()


def test_note_json_one_object_per_path(demo_vault):
    paths = ["Test Data/links_everywhere.md", "Test Data/all_link_types.md"]
    result = cli("note", str(demo_vault), *paths, "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert set(first) == {"path", "frontmatter", "tags", "links", "headings", "is_task", "warnings", "problems"}
    assert first["path"] == paths[0]
    truth = json.loads((GROUND / "metadata" / "links_everywhere.json").read_text())
    assert first["tags"] == truth["getAllTags"]
    by_link = {ln["link"]: ln for ln in first["links"]}
    for link, resolved in truth["resolveLinkToPath"].items():
        assert by_link[link]["resolved"] == resolved
    fm_links = [ln for ln in first["links"] if ln["key"]]
    assert {ln["key"] for ln in fm_links} == {"link-in-frontmatter", "link-in-frontmatter-to-heading"}
    assert set(first["links"][0]) == {"link", "display", "original", "embed", "key", "resolved"}


@pytest.mark.parametrize("args", [
    ("index", "/no/such/vault"),
    ("note", "/no/such/vault", "x.md", "--json"),
    ("run", "/no/such/vault", "--once"),
])
def test_missing_vault_is_one_clear_line(args):
    result = cli(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "No vault at /no/such/vault" in result.stderr


def test_path_outside_the_vault_is_refused(demo_vault):
    result = cli("note", str(demo_vault), "../../etc/passwd", "--json")
    assert result.returncode != 0
    assert "outside the vault" in result.stderr and "Traceback" not in result.stderr


def test_init_twice_changes_nothing(tmp_path):
    vault = tmp_path / "new vault"
    first = CliRunner().invoke(app, ["init", str(vault)])
    assert first.exit_code == 0 and "Zoe/Zoe.md" in first.output
    (vault / "Zoe/Zoe.md").write_text("---\nmax_agents: 7\n---\nmine\n")
    before = {p: p.read_bytes() for p in vault.rglob("*") if p.is_file()}
    second = CliRunner().invoke(app, ["init", str(vault)])
    assert second.exit_code == 0 and "already has every template file" in second.output
    after = {p: p.read_bytes() for p in vault.rglob("*") if p.is_file()}
    assert before == after


def test_template_has_the_design_layout(tmp_path):
    CliRunner().invoke(app, ["init", str(tmp_path)])
    for rel in ("Zoe/Zoe.md", "Zoe/Registry.md", "Zoe/Inbox.md", "Zoe/Repos", "Zoe/Agents", "Zoe/Attempts",
                "Zoe/Learnings", "Zoe/Templates/Task.md"):
        assert (tmp_path / rel).exists(), rel
    example = (tmp_path / "Tasks/Example task.md").read_text()
    assert "status: draft" in example


def test_status_lists_tasks_after_a_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULTZOE_PLANNER", "template")
    CliRunner().invoke(app, ["init", str(tmp_path)])
    result = CliRunner().invoke(app, ["status", str(tmp_path)])
    assert result.exit_code == 0 and "No tasks yet" in result.output


def test_invalid_settings_block_a_queued_task_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULTZOE_PLANNER", "template")
    CliRunner().invoke(app, ["init", str(tmp_path)])
    zoe = tmp_path / "Zoe/Zoe.md"
    zoe.write_text(zoe.read_text().replace("max_agents: 2", "max_agents: lots"))
    task = tmp_path / "Tasks/Example task.md"
    task.write_text(task.read_text().replace("status: draft", "status: queued"))
    result = CliRunner().invoke(app, ["run", str(tmp_path), "--once"])
    assert result.exit_code == 0
    text = task.read_text()
    assert "status: blocked" in text and "max_agents" in text and "Zoe/Zoe.md" in text
