"""In-memory MaterialRepository (app/materials.py's port) for unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.app.materials import Materials, build_materials
from chat.domain.materials import Material

from tests.chat.unit.fakes import Fakes


@dataclass
class FakeMaterials:
    rows: dict[str, Material] = field(default_factory=dict)

    async def add(self, material: Material) -> Material:
        return self.rows.setdefault(material.material_id, material)

    async def get(self, material_id: str) -> Material | None:
        return self.rows.get(material_id)

    async def page(self, school_id: str, class_id: str, skip: int, limit: int) -> list[Material]:
        found = [m for m in self.rows.values() if m.school_id == school_id and m.class_id == class_id]
        found.sort(key=lambda m: (m.published_at, m.material_id), reverse=True)
        return found[skip : skip + limit]

    async def with_file(self, file_id: str) -> list[Material]:
        return [m for m in self.rows.values() if m.file_id == file_id]

    async def remove(self, material_id: str) -> None:
        self.rows.pop(material_id, None)


def materials_on(fakes: Fakes) -> tuple[Materials, FakeMaterials]:
    """The use cases on fakes, wired as bootstrap wires them: file materials grant downloads,
    publishing writes the chat note."""
    repo = FakeMaterials()
    materials = build_materials(repo, fakes.files, fakes.app.messages.access, fakes.clock)
    fakes.app.files.also_readable = materials.may_read_file
    materials.announce = fakes.app.provisioning.material_published
    return materials, repo
