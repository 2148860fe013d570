"""Architecture: domain/ imports no outer layer or driver; app/ imports no adapters or api."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DRIVERS = ("grpc", "google.protobuf", "pymongo", "aiokafka", "parta.", "motor", "structlog")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _packages() -> list[Path]:
    return sorted(p for p in (ROOT / "services").glob("*/src/*") if (p / "__init__.py").exists())


def test_there_are_services_to_check_or_none_yet():
    # Guards the glob itself: when services exist, each has a domain package to check.
    for package in _packages():
        assert (package / "domain").is_dir(), f"{package} has no domain/ layer"


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_inner_layers_do_not_import_outer_ones(package: Path):
    name = package.name
    outer = {
        "domain": (*DRIVERS, f"{name}.app", f"{name}.adapters", f"{name}.api", f"{name}.bootstrap"),
        "app": ("grpc", "pymongo", "aiokafka", "parta.", f"{name}.adapters", f"{name}.api", f"{name}.bootstrap"),
    }
    offenders = []
    for layer, forbidden in outer.items():
        for path in (package / layer).rglob("*.py"):
            for imported in _imports(path):
                if any(
                    imported == f.rstrip(".") or imported.startswith(f if f.endswith(".") else f + ".")
                    for f in forbidden
                ):
                    offenders.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not offenders, "\n".join(offenders)


# Services whose api/ depends on app ports only (issue 12); the others join as they are re-cut.
API_ON_PORTS = ("chat",)


@pytest.mark.parametrize("name", API_ON_PORTS)
def test_api_does_not_import_adapters(name: str):
    package = next(p for p in _packages() if p.name == name)
    forbidden = (f"{name}.adapters", f"{name}.bootstrap")
    offenders = [
        f"{path.relative_to(ROOT)} imports {imported}"
        for path in (package / "api").rglob("*.py")
        for imported in _imports(path)
        if any(imported == f or imported.startswith(f + ".") for f in forbidden)
    ]
    assert not offenders, "\n".join(offenders)
