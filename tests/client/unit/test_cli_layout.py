"""The CLI package keeps no module-level state: at import time a module builds only its Typer group
and option types (a module global for the run's options would come back as a hidden second path)."""

from __future__ import annotations

import ast
from pathlib import Path

import parta_client.cli
import pytest

PACKAGE = Path(parta_client.cli.__file__).parent
# What a module may call at import time: its command group, reusable options, and registration (the
# room commands every kind of room shares register through rooms.add_room_commands).
ALLOWED_CALLS = {
    "typer.Typer",
    "typer.Option",
    "typer.Argument",
    "app.command",
    "app.add_typer",
    "main",
    "add_room_commands",
}

pytestmark = pytest.mark.unit


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def _import_time_calls(tree: ast.Module) -> list[str]:
    """Calls in statements that run at import (not inside functions or classes)."""
    found = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call):
                found.append(_name(node.func))
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_module_builds_nothing_but_its_commands_at_import(path: Path) -> None:
    tree = ast.parse(path.read_text())
    calls = [c for c in _import_time_calls(tree) if c not in ALLOWED_CALLS and not c.endswith("_app.add_typer")]
    # Constants are data (dict displays); the role-name table is derived from the role table.
    assert [c for c in calls if c not in {"int", "ROLES.items"}] == [], f"{path.name} builds objects at import time"
    assert not any(isinstance(node, ast.Global | ast.Nonlocal) for node in ast.walk(tree)), f"{path.name} uses global"


def test_every_group_module_is_registered() -> None:
    root = (PACKAGE / "root.py").read_text()
    helpers = {"__init__", "__main__", "root", "context", "lookup", "rooms"}
    for path in PACKAGE.glob("*.py"):
        if path.stem not in helpers:
            assert f"{path.stem}." in root, f"{path.name} is not registered in root.py"
