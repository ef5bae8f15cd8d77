"""The framework pins of `corral.http.pinned`: equal to the project's, complete, and enforced."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from corral.http.pinned import PINS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "server" / "corral"


def pinned_in(text: str, name: str) -> list[str]:
    """Every `name==version` (extras allowed) in requirement lines."""
    return re.findall(rf"^\s*\"?{name}(?:\[[^\]]*\])?==([^\s\";]+)", text, re.MULTILINE)


@pytest.mark.parametrize("name", sorted(PINS))
def test_the_pin_is_the_projects_everywhere(name: str) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found = {
        "pyproject.toml": pinned_in("\n".join(pyproject), name),
        "requirements/runtime.txt": pinned_in(
            (ROOT / "requirements/runtime.txt").read_text(), name
        ),
        "constraints.txt": pinned_in((ROOT / "constraints.txt").read_text(), name),
    }
    assert found == {where: [PINS[name].version] for where in found}


def reaches_in(source: str) -> set[str]:
    """The pinned frameworks whose internals a module subclasses, patches (assigns to their
    attributes) or imports private names of."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> framework
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            framework = node.module.split(".")[0]
            for alias in node.names if framework in PINS else ():
                bound[alias.asname or alias.name] = framework
                if alias.name.startswith("_"):
                    found.add(framework)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if (framework := alias.name.split(".")[0]) in PINS:
                    bound[alias.asname or framework] = framework

    def root(expr: ast.expr) -> str | None:
        while isinstance(expr, ast.Attribute):
            expr = expr.value
        return bound.get(expr.id) if isinstance(expr, ast.Name) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            found |= {f for base in node.bases if (f := root(base))}
        elif isinstance(node, ast.Assign):
            found |= {f for t in node.targets if isinstance(t, ast.Attribute) and (f := root(t))}
    return found


def test_every_module_that_reaches_into_a_pinned_framework_is_listed() -> None:
    reaching: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for framework in reaches_in(path.read_text()):
            reaching.setdefault(framework, set()).add(module.removesuffix(".__init__"))
    assert reaching == {name: set(pin.modules) for name, pin in PINS.items()}


@pytest.mark.parametrize("name", sorted(PINS))
def test_another_release_stops_the_server_naming_what_to_recheck(name: str, tmp_path: Path) -> None:
    """A distribution of another version found first on the path, as pip would leave it."""
    other = "99.0.0"
    metadata = tmp_path / f"{name}-{other}.dist-info" / "METADATA"
    metadata.parent.mkdir()
    metadata.write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {other}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "server")])}
    command = [sys.executable, "-c", "import corral.app"]
    started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    error = started.stderr.strip().splitlines()[-1]
    assert error.startswith("RuntimeError: ")
    assert f"{name} {other} is installed" in error
    assert f"{name} {PINS[name].version} internals" in error
    for module in PINS[name].modules:
        assert module in error
