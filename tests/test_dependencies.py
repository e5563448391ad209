"""pyproject.toml and the code agree: every declared dependency is imported, every import is declared."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def _normal(name: str) -> str:
    """A distribution name as PEP 503 compares them (PyGithub == pygithub, ruamel.yaml == ruamel-yaml)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """The distributions `[project] dependencies` names, without versions, markers or extras."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normal(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec).group(0)) for spec in project["dependencies"]}


def imported_modules(package: Path, root: Path = PROJECT) -> dict[str, str]:
    """Top-level third-party modules imported anywhere in `package` (inside functions too) -> first file seen."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != package.name:
                    found.setdefault(top, path.relative_to(root).as_posix())
    return found


def distributions_of(modules: dict[str, str]) -> dict[str, set[str]]:
    """Import name -> the installed distributions that provide it (normalized names)."""
    provided = importlib.metadata.packages_distributions()
    return {module: {_normal(d) for d in provided.get(module, [])} for module in modules}


def test_every_import_is_a_declared_dependency():
    modules = imported_modules(PROJECT / "vaultzoe")
    wanted = declared()
    undeclared = {module: (where, sorted(dists)) for module, dists in distributions_of(modules).items()
                  for where in [modules[module]] if not dists & wanted}
    assert not undeclared, f"imported but not declared in pyproject.toml [project] dependencies: {undeclared}"


def test_every_declared_dependency_is_imported():
    providers = set().union(*distributions_of(imported_modules(PROJECT / "vaultzoe")).values())
    unused = declared() - providers
    assert not unused, f"declared in pyproject.toml but never imported by vaultzoe/ (remove them): {sorted(unused)}"


def test_the_checks_see_what_they_claim(tmp_path):
    """The walk finds imports inside functions and `from x.y import z`, and skips stdlib and relative imports."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("import os\nfrom . import b\nfrom yaml.loader import SafeLoader\n"
                                  "def f():\n    import requests\n", encoding="utf-8")
    modules = imported_modules(package, root=tmp_path)
    assert set(modules) == {"yaml", "requests"}
    assert distributions_of({"yaml": ""})["yaml"] == {"pyyaml"}
