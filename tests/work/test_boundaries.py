"""Which work/ modules may import which: the forge and the workspace never reach into the agent-process runner,
and one agent's module never borrows from another's."""

from __future__ import annotations

import ast
from pathlib import Path

import vaultzoe.work

WORK = Path(vaultzoe.work.__file__).parent


def imported(module: str) -> set[str]:
    """The work/ modules that work/<module>.py imports (relative imports only, as the package writes them)."""
    tree = ast.parse((WORK / f"{module}.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module] if node.module else [alias.name for alias in node.names])
    return names


def test_forge_and_workspace_run_commands_without_the_agent_runner():
    for module in ("forge", "workspace", "github", "done"):
        assert "runners" not in imported(module), module
    assert "commands" in imported("forge") and "commands" in imported("workspace")


def test_each_agent_module_stands_on_the_shared_cli_base_not_on_another_agent():
    assert "claude" not in imported("codex") and "codex" not in imported("claude")
    assert "cli_agent" in imported("claude") and "cli_agent" in imported("codex")
