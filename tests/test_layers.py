"""Import layering: the boundary declarations stay free of the settings layers and pydantic."""

from __future__ import annotations

import subprocess
import sys


def _loaded_after(module: str, *names: str) -> dict[str, bool]:
    code = f"import sys, {module}; print(*[n in sys.modules for n in {list(names)!r}])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(zip(names, (word == "True" for word in out.stdout.split())))


def test_the_protocols_load_neither_the_settings_module_nor_pydantic():
    assert _loaded_after("vaultzoe.protocols", "vaultzoe.settings", "pydantic") == {
        "vaultzoe.settings": False, "pydantic": False}


def test_the_vault_layout_is_a_leaf():
    assert _loaded_after("vaultzoe.layout", "vaultzoe.settings", "vaultzoe.errors") == {
        "vaultzoe.settings": False, "vaultzoe.errors": False}
