"""The file layout table of docs/architecture.md stays true: every file it names exists, and every
module of a service's domain/, app/ and api/ (and every unit test file) is named in it, so a reader
who looks a feature up by its noun finds all of its files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "architecture.md"
LAYERS = ("domain", "app", "api")

pytestmark = pytest.mark.unit


def _rows() -> list[list[str]]:
    text = DOC.read_text()
    table = text.split("### File layout", 1)[1]
    rows = []
    for line in table.splitlines():
        if not line.startswith("| ") or line.startswith("| service") or line.startswith("|---"):
            if rows and not line.startswith("|"):
                break
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _named(cell: str) -> list[str]:
    return re.findall(r"`([\w.]+\.py)`", cell)


def _places(service: str) -> dict[str, Path]:
    package = service.replace("-", "_")
    src = ROOT / "services" / service / "src" / package
    return {**{layer: src / layer for layer in LAYERS}, "tests": ROOT / "tests" / package / "unit"}


def _table() -> dict[str, dict[str, set[str]]]:
    named: dict[str, dict[str, set[str]]] = {}
    for service, _noun, *cells in _rows():
        by_place = named.setdefault(service, {place: set() for place in (*LAYERS, "tests")})
        for place, cell in zip((*LAYERS, "tests"), cells, strict=True):
            by_place[place].update(_named(cell))
    return named


def test_the_table_covers_the_services() -> None:
    assert set(_table()) == {"identity", "school", "media-signal", "chat"}


@pytest.mark.parametrize("service", ["identity", "school", "media-signal", "chat"])
def test_every_file_named_exists_and_every_module_is_named(service: str) -> None:
    named = _table()[service]
    for place, directory in _places(service).items():
        listed = named[place]
        missing = sorted(f for f in listed if not (directory / f).is_file())
        assert missing == [], f"docs/architecture.md names {service} {place}/{missing}, which do not exist"
        pattern = "test_*.py" if place == "tests" else "*.py"
        present = {p.name for p in directory.glob(pattern) if p.name != "__init__.py"}
        unnamed = sorted(present - listed)
        assert unnamed == [], (
            f"{service} {place}/{unnamed} are not in the file layout table of docs/architecture.md: add them to "
            "the row of their noun"
        )
