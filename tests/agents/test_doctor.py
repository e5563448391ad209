"""vaultzoe doctor: agent CLIs and versions, keys (never values), repo notes, settings; blocks exit non-zero."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.agents.conftest import ROOT, git
from vaultzoe.cli import app
from vaultzoe.doctor import Finding, diagnose, program_version, read_frontmatter
from vaultzoe.errors import SettingsError
from vaultzoe.trust import trust_vault

SECRET = "sk-ant-very-secret-0123456789"


def note(vault: Path, rel: str, text: str) -> Path:
    path = vault / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def program(bin_dir: Path, name: str, script: str) -> Path:
    """A stand-in CLI on PATH (a real executable, not a mock)."""
    path = bin_dir / name
    bin_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def vault(tmp_path: Path, environ: dict[str, str]) -> Path:
    root = tmp_path / "vault"
    note(root, "Zoe/Zoe.md", "---\nmax_agents: 3\ndefault_agent: claude\n---\n# Zoe\n")
    app_repo = tmp_path / "app"
    app_repo.mkdir()
    git(app_repo, "init", "-q")
    note(root, "Zoe/Repos/app.md", f"---\npath: {app_repo}\nbase: main\n---\n")
    trust_vault(root, environ)
    return root


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    program(bin_dir, "claude", 'echo "2.1.331 (Claude Code)"')
    program(bin_dir, "codex", 'echo "codex-cli 0.169.0"')
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}", "ANTHROPIC_API_KEY": SECRET,
            "VAULTZOE_TRUST_DIR": str(tmp_path / "trust")}


def levels(findings: list[Finding]) -> dict[str, str]:
    return {f.message: f.level for f in findings}


def find(findings: list[Finding], text: str) -> Finding:
    matches = [f for f in findings if text in f.message]
    assert matches, f"no finding mentions {text!r}: {findings}"
    return matches[0]


def test_a_healthy_vault_has_no_blocks_and_names_versions(vault, environ):
    findings = diagnose(vault, environ)
    assert not [f for f in findings if f.level == "block"], findings
    assert find(findings, "Agent claude: 2.1.331 (Claude Code)").level == "ok"
    assert find(findings, "Agent codex: codex-cli 0.169.0").level == "ok"
    assert find(findings, "Settings in Zoe/Zoe.md parse (max_agents=3").level == "ok"
    assert find(findings, "Repo app:").level == "ok"
    assert find(findings, "Command notes trusted on this machine: 1").level == "ok"


def test_keys_are_reported_as_set_or_not_but_never_printed(vault, environ):
    environ["GH_TOKEN"] = "ghp_also_secret_987654321"
    findings = diagnose(vault, environ)
    assert find(findings, "ANTHROPIC_API_KEY is set").level == "ok"
    assert find(findings, "GH_TOKEN is set").level == "ok"
    assert find(findings, "OPENAI_API_KEY / CODEX_API_KEY not set").level == "warn"
    text = "\n".join(f.message for f in findings)
    assert SECRET not in text and "ghp_also_secret" not in text


def test_a_missing_default_agent_blocks_with_the_install_command(vault, environ, tmp_path):
    environ["PATH"] = str(tmp_path / "empty")
    findings = diagnose(vault, environ)
    claude = find(findings, "Claude Code is not installed")
    assert claude.level == "block" and "npm install -g @anthropic-ai/claude-code" in claude.message
    assert find(findings, "Codex is not installed").level == "warn"
    assert find(findings, "No agent can run").level == "block"


def test_an_agent_note_overrides_the_command_and_a_broken_one_blocks(vault, environ, tmp_path):
    custom = program(tmp_path / "elsewhere", "claude-nightly", 'echo "9.9.9 (Claude Code)"')
    note(vault, "Zoe/Agents/claude.md", f"---\ncommand: {custom}\n---\n")
    note(vault, "Zoe/Agents/mine.md", "---\nmodel: x\n---\n")                  # a command agent with no command
    findings = diagnose(vault, environ)
    assert find(findings, f"Agent claude: 9.9.9 (Claude Code) at {custom}").level == "ok"
    assert find(findings, "Zoe/Agents/mine.md has no `command:`").level == "block"


def test_a_cli_whose_version_fails_is_a_warning(vault, environ, tmp_path):
    program(tmp_path / "bin", "codex", 'echo "segfault" >&2; exit 3')
    finding = find(diagnose(vault, environ), "Agent codex:")
    assert finding.level == "warn" and "exited with 3: segfault" in finding.message


def test_repo_notes_must_point_at_git_repos(vault, environ, tmp_path):
    (tmp_path / "plain").mkdir()
    note(vault, "Zoe/Repos/plain.md", f"---\npath: {tmp_path / 'plain'}\n---\n")
    note(vault, "Zoe/Repos/gone.md", f"---\npath: {tmp_path / 'gone'}\n---\n")
    note(vault, "Zoe/Repos/nopath.md", "---\ngithub: me/x\n---\n")
    findings = diagnose(vault, environ)
    assert find(findings, "Zoe/Repos/plain.md").level == "block"
    assert "not a git repo" in find(findings, "Zoe/Repos/plain.md").message
    assert "does not exist" in find(findings, "Zoe/Repos/gone.md").message
    assert "no `path:` property" in find(findings, "Zoe/Repos/nopath.md").message


@pytest.mark.parametrize("frontmatter, expected", [
    ("max_agents: 0", "max_agents"),
    ("max_agents: [3\nplanner: x", "not valid YAML"),
    ("- just\n- a list", "must be `key: value`"),
])
def test_settings_that_do_not_parse_block(vault, environ, frontmatter, expected):
    note(vault, "Zoe/Zoe.md", f"---\n{frontmatter}\n---\n# Zoe\n")
    finding = find(diagnose(vault, environ), expected)
    assert finding.level == "block" and "Zoe/Zoe.md" in finding.message


def test_settings_from_the_environment_count(vault, environ):
    environ["VAULTZOE_MAX_AGENTS"] = "nope"
    assert find(diagnose(vault, environ), "VAULTZOE_").level == "block"


def test_a_folder_without_zoe_is_not_a_vault_yet(tmp_path, environ):
    finding = find(diagnose(tmp_path, environ), "No Zoe/Zoe.md")
    assert finding.level == "block" and "vaultzoe init" in finding.message


def test_planner_claude_without_a_key_and_forge_github_without_a_token_block(vault, environ):
    note(vault, "Zoe/Zoe.md", "---\nplanner: claude\nforge: github\n---\n")
    del environ["ANTHROPIC_API_KEY"]
    findings = diagnose(vault, environ)
    assert find(findings, "`planner: claude` needs it").level == "block"
    assert find(findings, "GITHUB_TOKEN / GH_TOKEN not set").level == "block"


def test_read_frontmatter_is_simple_and_robust(tmp_path):
    assert read_frontmatter(note(tmp_path, "a.md", "no frontmatter\n---\n"), tmp_path) == {}
    assert read_frontmatter(note(tmp_path, "b.md", "\ufeff---\n---\nbody"), tmp_path) == {}
    assert read_frontmatter(note(tmp_path, "c.md", "---\na: 1\n...\nbody"), tmp_path) == {"a": 1}
    with pytest.raises(SettingsError, match="no closing `---`"):
        read_frontmatter(note(tmp_path, "d.md", "---\na: 1\n"), tmp_path)


def test_program_version_times_out(tmp_path):
    slow = program(tmp_path / "bin", "slow", "sleep 30 & sleep 30")     # a grandchild holds the pipes too
    with pytest.raises(RuntimeError, match="did not answer within 1 s"):
        program_version([str(slow)], os.environ, timeout_s=1)


def test_the_cli_prints_one_line_per_finding_and_exits_non_zero_on_a_block(vault, environ, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", environ["PATH"])
    monkeypatch.setenv("VAULTZOE_TRUST_DIR", environ["VAULTZOE_TRUST_DIR"])
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    ok = CliRunner().invoke(app, ["doctor", str(vault)])
    assert ok.exit_code == 0, ok.output
    assert len(ok.output.strip().splitlines()) == len(diagnose(vault, dict(os.environ)))
    assert SECRET not in ok.output
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    blocked = CliRunner().invoke(app, ["doctor", str(vault)])
    assert blocked.exit_code != 0 and "block Claude Code is not installed" in blocked.output


def pinned(name: str) -> str:
    script = (ROOT / ".ci" / "install-agents").read_text()
    return re.search(rf'^{name}="([^"]+)"', script, re.M).group(1)


@pytest.mark.agents
def test_doctor_reads_the_real_cli_versions(vault, environ, agents_bin):
    environ["PATH"] = f"{agents_bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    findings = diagnose(vault, environ)
    assert find(findings, f"Agent claude: {pinned('CLAUDE_CODE_VERSION')} (Claude Code)").level == "ok"
    assert find(findings, f"Agent codex: codex-cli {pinned('CODEX_VERSION')}").level == "ok"


# ---------------------------------------------------------------- trust and permissions


def test_new_and_changed_command_notes_block_until_trusted(vault, environ, tmp_path, monkeypatch):
    app_note = vault / "Zoe/Repos/app.md"
    app_note.write_text(app_note.read_text().replace("base: main", "base: main\nsetup: ./bootstrap.sh"))
    note(vault, "Zoe/Agents/mine.md", '---\ncommand: ["my-agent", "{prompt_file}"]\n---\n')
    findings = diagnose(vault, environ)
    changed = find(findings, "Zoe/Repos/app.md changed since you trusted it")
    assert changed.level == "block" and "Changed: setup (none) -> `./bootstrap.sh`" in changed.message
    assert "approve with `vaultzoe trust" in changed.message
    assert find(findings, "Zoe/Agents/mine.md is not trusted on this machine").level == "block"

    monkeypatch.setenv("VAULTZOE_TRUST_DIR", environ["VAULTZOE_TRUST_DIR"])
    assert CliRunner().invoke(app, ["trust", str(vault)]).exit_code == 0
    findings = diagnose(vault, environ)
    assert not [f for f in findings if "trust" in f.message and f.level == "block"], findings
    assert find(findings, "Command notes trusted on this machine: 2").level == "ok"


def test_a_trust_record_others_can_write_blocks(vault, environ, tmp_path):
    record = next((tmp_path / "trust").glob("*.json"))
    record.chmod(0o666)
    assert find(diagnose(vault, environ), "is writable by group or others").level == "block"


def test_a_state_folder_others_can_read_or_change_is_reported(vault, environ):
    state = vault / ".vaultzoe"
    note(vault, ".vaultzoe/tasks/abc.json", "{}")
    state.chmod(0o755)
    (state / "tasks").chmod(0o755)
    (state / "tasks/abc.json").chmod(0o644)
    readable = find(diagnose(vault, environ), "entries in")
    assert readable.level == "warn" and "let other users read them" in readable.message
    assert f"chmod 700 {state}" in readable.message

    (state / "tasks/abc.json").chmod(0o666)
    assert find(diagnose(vault, environ), "let other users change them").level == "block"

    state.chmod(0o700)
    assert find(diagnose(vault, environ), f"{state} is private to you").level == "ok"


def test_a_trust_folder_others_can_read_is_reported(vault, environ, tmp_path):
    (tmp_path / "trust").chmod(0o755)
    finding = find(diagnose(vault, environ), "Trust folder")
    assert finding.level == "warn" and "is not private" in finding.message


def test_doctor_lists_a_task_note_it_cannot_read_with_its_line(tmp_path):
    from vaultzoe.doctor import note_problem_findings
    from vaultzoe.scaffold import init_vault
    vault = tmp_path / "vault"
    init_vault(vault)
    (vault / "Tasks" / "Broken.md").write_text("---\ntags: [task]\nstatus: queued\nrepo: [[[x\n---\nbody\n")
    findings = note_problem_findings(vault)
    assert [f.level for f in findings] == ["warn"]
    assert "Tasks/Broken.md line" in findings[0].message
