"""School materials use cases: publish (a file of one's storage or a link), list newest first,
remove; and the download grant a file material gives its audience (Files.open asks
`may_read_file`). Rules in domain/materials.py; docs/chat.md "Materials"."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

import structlog
from parta_common import validation
from parta_common.clock import Clock
from parta_common.errors import NotFound, Violations

from chat.app.access import Access
from chat.app.ports import FileRepository
from chat.domain import materials as rules
from chat.domain.materials import Material, MaterialKind
from chat.domain.rules import check_id

log = structlog.get_logger("chat.materials")
_NS = uuid.UUID("0b6f3c52-9d1e-4a7b-8c2d-5e4f3a2b1c0d")


class MaterialRepository(Protocol):
    async def add(self, material: Material) -> Material:
        """Stores it unless its id exists; returns what is stored (the first one on a retry)."""

    async def get(self, material_id: str) -> Material | None: ...
    async def page(self, school_id: str, class_id: str, skip: int, limit: int) -> list[Material]:
        """The audience's materials, newest first."""

    async def with_file(self, file_id: str) -> list[Material]:
        """Every material that publishes this file."""

    async def remove(self, material_id: str) -> None: ...


@dataclass
class Materials:
    repo: MaterialRepository
    files: FileRepository
    access: Access
    clock: Clock
    # Writes the note «Опубликован материал: «…»» into the audience's chats, once per material
    # (Provisioning.material_published, set at wiring; None: no note).
    announce: Callable[[Material], Awaitable[None]] | None = None

    def material_id_for(self, school_id: str, user_id: str, request_id: str) -> str:
        return str(uuid.uuid5(_NS, f"material\x1f{school_id}\x1f{user_id}\x1f{request_id}"))

    async def publish(
        self,
        user_id: str,
        school_id: str,
        class_id: str,
        request_id: str,
        title: str,
        description: str,
        *,
        file_id: str = "",
        url: str = "",
    ) -> Material:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "class_id", class_id, required=False)
        check_id(v, "request_id", request_id)
        validation.check_text(v, "title", title, rules.MAX_TITLE, required=True, prose=True)
        validation.check_text(v, "description", description, rules.MAX_DESCRIPTION, required=False, prose=True)
        if file_id:
            check_id(v, "file_id", file_id)
        kind = rules.check_source(v, file_id, url)
        v.raise_if_any()
        person = await self.access.person(school_id, user_id, with_profile=True)
        rules.ensure_may_publish(person, class_id)
        material = Material(
            material_id=self.material_id_for(school_id, user_id, request_id),
            school_id=school_id,
            class_id=class_id,
            title=title.strip(),
            description=description.strip(),
            kind=kind,
            published_by=user_id,
            published_at=self.clock.now(),
            url=url,
        )
        if kind is MaterialKind.FILE:
            found = await self.files.find(file_id)
            if found is None or not found[1] or found[0].owner_user_id != user_id:
                raise NotFound("no such file in your storage", reason="FILE_NOT_FOUND")
            f = found[0]
            material = replace(
                material, file_id=f.file_id, filename=f.filename, content_type=f.content_type, size_bytes=f.size_bytes
            )
        stored = await self.repo.add(material)
        if self.announce is not None:
            # After the store: a retry with the same request id finds the material and posts the
            # note that a failure here left unwritten (the note's key is the material id).
            await self.announce(stored)
        log.info("material_published", school_id=school_id, class_id=class_id, kind=kind.name)
        return stored

    async def list_materials(
        self, user_id: str, school_id: str, class_id: str, skip: int, limit: int
    ) -> list[Material]:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "class_id", class_id, required=False)
        v.raise_if_any()
        person = await self.access.person(school_id, user_id, with_profile=False)
        rules.ensure_may_read(person, class_id)
        return await self.repo.page(school_id, class_id, skip, limit)

    async def remove(self, user_id: str, school_id: str, material_id: str) -> None:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "material_id", material_id)
        v.raise_if_any()
        person = await self.access.person(school_id, user_id, with_profile=False)
        rules.ensure_in_school(person)
        material = await self.repo.get(material_id)
        if material is None or material.school_id != school_id:
            raise NotFound("no such material", reason="MATERIAL_NOT_FOUND")
        rules.ensure_may_remove(person, material)
        await self.repo.remove(material_id)
        log.info("material_removed", school_id=school_id, kind=material.kind.name)

    async def may_read_file(self, user_id: str, file_id: str) -> bool:
        """True when a material publishing this file has the user in its audience."""
        for material in await self.repo.with_file(file_id):
            person = await self.access.person(material.school_id, user_id, with_profile=False)
            if rules.may_read(person, material.class_id):
                return True
        return False


def build_materials(repo: MaterialRepository, files: FileRepository, access: Access, clock: Clock) -> Materials:
    return Materials(repo, files, access, clock)
