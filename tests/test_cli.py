"""The command-line contract: JSON shapes, one-line errors, init idempotence."""

from __future__ import annotations

import json
import os
import re
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
    (target / ".obsidian").mkdir(exist_ok=True)     # what Obsidian creates on opening it: it is a vault
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


# ------------------------------------------------------------------------------------------------ check first, touch after


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file and folder under `folder`, dot-folders included, with the bytes of the files."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>") for p in folder.rglob("*")}


@pytest.fixture
def queued_vault(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VAULTZOE_PLANNER", "template")
    vault = tmp_path / "vault"
    CliRunner().invoke(app, ["init", str(vault)])
    task = vault / "Tasks/Example task.md"
    task.write_text(task.read_text().replace("status: draft", "status: queued"))
    return vault


@pytest.mark.parametrize("flags", [
    ["--planner", "bogus"], ["--forge", "nope"], ["--max-agents", "-3"], ["--max-agents", "65"],
    ["--max-attempts", "0"], ["--timeout", "-1"], ["--max-agents", "lots"], ["--no-such-flag"],
])
def test_bad_flags_are_one_line_exit_2_and_the_vault_is_untouched(queued_vault, flags):
    before = snapshot(queued_vault)
    result = CliRunner().invoke(app, ["run", str(queued_vault), "--once", *flags])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert flags[0] in result.stderr and "--help" in result.stderr
    assert snapshot(queued_vault) == before


@pytest.mark.parametrize("flags", [["--planner", "bogus"], ["--max-agents", "0"], ["--forge", "x"]])
def test_watch_checks_its_flags_too(queued_vault, flags):
    before = snapshot(queued_vault)
    result = CliRunner().invoke(app, ["watch", str(queued_vault), *flags])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert snapshot(queued_vault) == before


def test_good_flags_still_run(queued_vault):
    result = CliRunner().invoke(app, ["run", str(queued_vault), "--once", "--planner", "template", "--forge", "local",
                                      "--max-agents", "64", "--max-attempts", "1"])
    assert result.exit_code == 0, result.output


def test_flag_bounds_are_the_settings_bounds():
    import typing

    from vaultzoe import cli
    from vaultzoe.settings import Settings

    def bounds(name: str) -> tuple[int, int]:
        metadata = Settings.model_fields[name].metadata
        return (next(m.ge for m in metadata if hasattr(m, "ge")), next(m.le for m in metadata if hasattr(m, "le")))

    assert cli.MAX_AGENTS == bounds("max_agents") and cli.MAX_ATTEMPTS == bounds("max_attempts")
    assert typing.get_args(cli.Planner) == typing.get_args(Settings.model_fields["planner"].annotation)
    assert typing.get_args(cli.Forge) == typing.get_args(Settings.model_fields["forge"].annotation)


@pytest.mark.parametrize("command", [["run", "--once"], ["run", "--until-idle"], ["watch"], ["index"], ["status"],
                                     ["doctor"]])
def test_a_folder_that_is_not_a_vault_is_refused_untouched(tmp_path, command):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "README.md").write_text("not a vault\n")
    result = CliRunner().invoke(app, [command[0], str(folder), *command[1:]])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "is not a vault" in result.stderr and f"vaultzoe init {folder}" in result.stderr
    assert snapshot(folder) == {"README.md": b"not a vault\n"}


def test_an_obsidian_vault_without_zoe_is_a_vault(tmp_path):
    vault = tmp_path / "vault"
    (vault / ".obsidian").mkdir(parents=True)
    result = CliRunner().invoke(app, ["index", str(vault)])
    assert result.exit_code == 0, result.output


def test_another_vaultzoe_on_the_vault_is_one_line(queued_vault):
    from vaultzoe.vault.watch import vault_lock

    with vault_lock(queued_vault):
        result = CliRunner().invoke(app, ["run", str(queued_vault), "--once"])
    assert result.exit_code == 2 and "already working on" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------ SIGTERM


def test_sigterm_stops_watch_as_cleanly_as_ctrl_c(queued_vault, tmp_path):
    import os
    import signal
    import time

    env = {**os.environ, "VAULTZOE_PLANNER": "template"}
    daemon = subprocess.Popen([sys.executable, "-m", "vaultzoe.cli", "watch", str(queued_vault)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert daemon.stdout.readline().startswith("watching ")
        # A note written after the first pass: the index learns of it, but saves its cache at most every 10 s.
        probe = queued_vault / "Tasks" / "Probe after start.md"
        probe.write_text("---\ntags: [task]\nstatus: queued\n---\nA probe.\n")
        deadline = time.monotonic() + 60
        while "id:" not in probe.read_text():
            assert time.monotonic() < deadline and daemon.poll() is None, "the daemon never took up the probe"
            time.sleep(0.05)
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    assert "Probe after start.md".encode() in (queued_vault / ".vaultzoe" / "index.marshal").read_bytes()
    from vaultzoe.vault.watch import vault_lock

    with vault_lock(queued_vault) as lock_path:      # the lock went with the process
        assert lock_path.exists()


# ------------------------------------------------------------------------------------------------ start-up (cli_fast)

def vaultzoe(*args: str, importtime: bool = False):
    """`python -m vaultzoe ...`, the path the `vaultzoe` console script takes."""
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-m", "vaultzoe", *args], capture_output=True, text=True, timeout=120)


def through_typer(*args: str):
    """The same command forced through the typer app (what every command ran through before cli_fast)."""
    code = "import sys; from vaultzoe.cli import run_app; sys.argv[0] = 'vaultzoe'; run_app()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def imported(stderr: str) -> set[str]:
    """Top-level packages named by `-X importtime`."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("command", [["status"], ["index"], ["index", "--json"]])
def test_index_and_status_start_without_typer_pydantic_or_rich_help(queued_vault, command):
    result = vaultzoe(command[0], str(queued_vault), *command[1:], importtime=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not imported(result.stderr) & {"typer", "click", "pydantic", "markdown_it"}


@pytest.mark.parametrize("args, taken", [
    (["status", "V"], True), (["index", "V"], True), (["index", "V", "--json"], True), (["index", "--json", "V"], True),
    (["index", "V", "--jsn"], False), (["index", "V", "extra"], False), (["status", "V", "--json"], False),
    (["status", "--help"], False), (["--help"], False), ([], False), (["status"], False), (["index", "-"], False),
    (["index", "--", "V"], False), (["run", "V"], False), (["note", "V", "x.md"], False), (["init", "V"], False),
])
def test_the_fast_forms_are_exactly_the_plain_ones(args, taken):
    from vaultzoe.cli_fast import fast_command

    assert (fast_command(args, environ={}) is not None) == taken


def test_shell_completion_goes_to_typer():
    from vaultzoe.cli_fast import fast_command

    assert fast_command(["status", "V"], environ={"_VAULTZOE_COMPLETE": "bash_complete"}) is None


@pytest.mark.parametrize("command", [["status"], ["index"], ["index", "--json"]])
def test_fast_and_typer_paths_say_the_same(queued_vault, tmp_path, command):
    CliRunner().invoke(app, ["run", str(queued_vault), "--once"])          # a task in memory: status has a row
    (tmp_path / "folder").mkdir()
    for target in (str(queued_vault), "/no/such/vault", str(tmp_path / "folder")):
        fast, slow = vaultzoe(command[0], target, *command[1:]), through_typer(command[0], target, *command[1:])
        assert (fast.returncode, fast.stderr) == (slow.returncode, slow.stderr), target
        if command[0] == "index" and fast.returncode == 0:       # the seconds differ, nothing else may
            fast_out, slow_out = (re.sub(r"[0-9.]+( s)?\}?$", "", o.stdout.strip()) for o in (fast, slow))
            assert fast_out == slow_out and fast_out
        else:
            assert fast.stdout == slow.stdout


def test_bad_flags_on_the_fast_commands_are_typers_one_line(queued_vault):
    for args in (["index", str(queued_vault), "--jsn"], ["status", str(queued_vault), "--json"]):
        result = vaultzoe(*args)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "--help" in result.stderr and "Traceback" not in result.stderr


def test_a_closed_stdout_is_exit_1_without_a_traceback_on_both_paths(queued_vault):
    """`vaultzoe status V | true`: the reader is gone before the first write (its end closed before the start)."""
    def closed_pipe_run(argv: list[str]):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            return subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
        finally:
            os.close(write_end)

    typer_code = "import sys; from vaultzoe.cli import run_app; sys.argv[0] = 'vaultzoe'; run_app()"
    for args in (["status", str(queued_vault)], ["index", str(queued_vault), "--json"]):
        fast = closed_pipe_run([sys.executable, "-m", "vaultzoe", *args])
        slow = closed_pipe_run([sys.executable, "-c", typer_code, *args])
        assert (fast.returncode, fast.stderr) == (slow.returncode, slow.stderr) == (1, ""), (fast.stderr, slow.stderr)
