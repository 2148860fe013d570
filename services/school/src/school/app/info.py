"""The school's card: members read it (and its logo), admins fill it in."""

from __future__ import annotations

from dataclasses import dataclass, replace

from parta_common.errors import Aborted, NotFound, Violations
from parta_common.retries import saved, with_retries

from school.app.common import Caller, Deps
from school.app.ports import SchoolInfoRepository
from school.domain.info import EDITABLE, SchoolInfo, SchoolLogo, check_changes, logo_of
from school.domain.permissions import Action
from school.domain.schools import School
from school.domain.validation import check_id


@dataclass(frozen=True)
class UpdateSchoolInfo:
    school_id: str
    # Text fields named by the update mask, with their new values.
    changes: dict[str, str]
    # None: the logo is not named; b"": remove it; bytes: the new image.
    logo_data: bytes | None = None
    expected_version: int | None = None


def prefilled(school: School) -> SchoolInfo:
    """A card nobody filled in yet shows what the operator registered."""
    return SchoolInfo(school.id, full_name=school.name, short_name=school.short_name, address=school.address)


class SchoolInfos:
    def __init__(self, deps: Deps, cards: SchoolInfoRepository):
        self.d = deps
        self.cards = cards

    async def _member_school(self, caller: Caller, school_id: str, name: str = "school_id") -> School:
        v = Violations()
        check_id(v, name, school_id)
        v.raise_if_any()
        school, _ = await self.d.school_for(caller, school_id)
        return school

    async def get_info(self, caller: Caller, school_id: str) -> SchoolInfo:
        school = await self._member_school(caller, school_id)
        return await self.cards.get(school_id) or prefilled(school)

    async def get_logo(self, caller: Caller, school_id: str) -> tuple[SchoolLogo, bytes]:
        await self._member_school(caller, school_id)
        found = await self.cards.logo(school_id)
        if found is None:
            raise NotFound("this school has no logo", reason="LOGO_NOT_FOUND")
        return found

    async def update_info(self, caller: Caller, cmd: UpdateSchoolInfo) -> SchoolInfo:
        v = Violations()
        check_id(v, "info.school_id", cmd.school_id)
        if not cmd.changes and cmd.logo_data is None:
            v.add("update_mask", "must name at least one field")
        for key in cmd.changes:
            if key not in EDITABLE:
                v.add("update_mask", f"{key[:64]!r} cannot be updated")
        if cmd.expected_version is not None and cmd.expected_version < 0:
            v.add("expected_version", "must not be negative")
        changes = check_changes(v, cmd.changes, cmd.logo_data)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, cmd.school_id)
        self.d.require(roles, Action.MANAGE_SCHOOL)
        logo = logo_of(cmd.logo_data) if cmd.logo_data else None

        async def attempt() -> SchoolInfo:
            stored = await self.cards.get(cmd.school_id)
            fresh = stored or prefilled(school)
            if cmd.expected_version is not None and cmd.expected_version != fresh.version:
                # Not retried: the caller edited an older card and must see the newer one first.
                raise Aborted(
                    f"the card changed since version {cmd.expected_version} (now {fresh.version}); read it again",
                    reason="CONCURRENT_CHANGE",
                )
            updated = replace(fresh, **changes)  # type: ignore[arg-type]
            if cmd.logo_data is not None:
                updated = replace(updated, logo=logo)
            if updated == fresh and stored is not None:
                return fresh  # a repeat: nothing changes, the version stays
            updated = replace(updated, version=fresh.version + 1, updated_at=self.d.now(), updated_by=caller.user_id)
            return saved(updated, await self.cards.save(updated, cmd.logo_data, fresh.version))

        return await with_retries(attempt)
