"""Schools: onboarding by an operator, the schools of a person, school info. The admin seat is in
`admins.py`, staff verification in `staff.py`, the communication policy in `policy.py`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parta_common.errors import FailedPrecondition, PermissionDenied, Violations

from school.app.admins import Admins
from school.app.common import Caller, Deps
from school.domain.classes import SchoolClass
from school.domain.events import (
    ClassCreated,
    SchoolCreated,
    SchoolUpdated,
)
from school.domain.memberships import SchoolRole
from school.domain.permissions import Action
from school.domain.schools import (
    MAX_ADDRESS,
    MAX_NAME,
    MAX_REGION,
    MAX_SHORT_NAME,
    STAFF_ROOM_TITLE,
    School,
    check_academic_year,
    check_locale,
    check_minutes,
)
from school.domain.secrets import looks_like_e164
from school.domain.validation import check_id, check_request_id, check_text, derived_id

UPDATABLE = (
    "name",
    "short_name",
    "region",
    "address",
    "timezone",
    "academic_year",
    "workday_start_minute",
    "workday_end_minute",
    "locale",
)


@dataclass(frozen=True)
class RegisterSchool:
    request_id: str
    name: str
    short_name: str
    region: str
    address: str
    timezone: str
    academic_year: str
    admin_phone: str


@dataclass(frozen=True)
class MySchool:
    school: School
    roles: list[SchoolRole]
    verified: bool


def check_timezone(v: Violations, name: str, value: str) -> None:
    if not value or len(value) > 64 or not all(ch.isascii() and (ch.isalnum() or ch in "/_-+") for ch in value):
        v.add(name, "must be an IANA time zone such as Europe/Moscow")
        return
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        v.add(name, "unknown time zone")


def staff_room_id(school_id: str) -> str:
    return derived_id("staff-room", school_id)


class Schools:
    def __init__(self, deps: Deps, admins: Admins):
        self.d = deps
        self.admins = admins

    async def register_school(self, caller: Caller, cmd: RegisterSchool) -> School:
        v = Violations()
        check_request_id(v, cmd.request_id)
        check_text(v, "name", cmd.name, MAX_NAME, required=True)
        check_text(v, "short_name", cmd.short_name, MAX_SHORT_NAME, required=False)
        check_text(v, "region", cmd.region, MAX_REGION, required=False)
        check_text(v, "address", cmd.address, MAX_ADDRESS, required=False)
        timezone = cmd.timezone or self.d.policy.default_timezone
        check_timezone(v, "timezone", timezone)
        check_academic_year(v, "academic_year", cmd.academic_year, required=True)
        if not looks_like_e164(cmd.admin_phone):
            v.add("admin_phone", "must be an E.164 phone number such as +79001234567")
        v.raise_if_any()
        # Validation first, then the role: malformed input is INVALID_ARGUMENT for everyone.
        if not self.d.is_operator(caller):
            raise PermissionDenied("only operators register schools", reason="OPERATOR_ONLY")
        school_id = derived_id("school", caller.user_id, cmd.request_id)
        school = School(
            id=school_id,
            name=cmd.name,
            short_name=cmd.short_name,
            region=cmd.region,
            address=cmd.address,
            timezone=timezone,
            academic_year=cmd.academic_year,
            staff_room_class_id=staff_room_id(school_id),
            pending_admin_phone_hash=self.d.secrets.phone_hash(cmd.admin_phone),
            version=1,
            created_at=self.d.now(),
        )
        if not await self.d.schools.insert(school, [SchoolCreated(school)]):
            stored = await self.d.schools.get(school_id)
            assert stored is not None
            school = stored  # a retry: the first result, and make sure the staff room exists too
        staff_room = SchoolClass(
            id=school.staff_room_class_id,
            school_id=school.id,
            grade=0,
            letter="",
            title=STAFF_ROOM_TITLE,
            academic_year=school.academic_year,
            is_staff_room=True,
            version=1,
        )
        await self.d.classes.insert(staff_room, [ClassCreated(staff_room)])
        return school

    async def list_my_schools(self, caller: Caller) -> list[MySchool]:
        await self.admins.claim_pending_roles(caller)
        memberships = await self.d.memberships.of_user(caller.user_id)
        by_school: dict[str, set[SchoolRole]] = {}
        for m in memberships:
            by_school.setdefault(m.school_id, set()).add(m.school_role)
        schools = await self.d.schools.get_many(sorted(by_school))
        return [
            MySchool(s, sorted(by_school[s.id]), caller.user_id in s.verified_ids or caller.user_id in s.admin_ids)
            for s in schools
        ]

    async def get_school(self, caller: Caller, school_id: str) -> School:
        v = Violations()
        check_id(v, "school_id", school_id)
        v.raise_if_any()
        school, _ = await self.d.school_for(caller, school_id)
        return school

    async def update_school(self, caller: Caller, school_id: str, changes: dict[str, object]) -> School:
        v = Violations()
        check_id(v, "school.school_id", school_id)
        if not changes:
            v.add("update_mask", "must name at least one field")
        for key in changes:
            if key not in UPDATABLE:
                v.add("update_mask", f"{key} cannot be updated")
        text_limits = {"name": MAX_NAME, "short_name": MAX_SHORT_NAME, "region": MAX_REGION, "address": MAX_ADDRESS}
        for key, limit in text_limits.items():
            if key in changes:
                check_text(v, f"school.{key}", str(changes[key]), limit, required=key == "name")
        if "timezone" in changes:
            check_timezone(v, "school.timezone", str(changes["timezone"]))
        if "locale" in changes:
            check_locale(v, "school.locale", str(changes["locale"]))
        if "academic_year" in changes:
            check_academic_year(v, "school.academic_year", str(changes["academic_year"]), required=True)
        v.raise_if_any()
        _school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.MANAGE_SCHOOL)

        def update(fresh: School) -> School:
            if fresh.rollover_pending and changes.get("academic_year", fresh.academic_year) != fresh.academic_year:
                # The unfinished rollover's plan is keyed by the year: changing it would strand its classes.
                raise FailedPrecondition(
                    f"the rollover to {fresh.academic_year} is not finished: repeat it first",
                    reason="ROLLOVER_IN_PROGRESS",
                )
            updated = replace(fresh, **changes)  # type: ignore[arg-type]
            mv = Violations()
            check_minutes(
                mv,
                "school.workday_start_minute",
                updated.workday_start_minute,
                "school.workday_end_minute",
                updated.workday_end_minute,
            )
            mv.raise_if_any()
            return updated

        return await self.d.change_school(school_id, update, lambda updated: [SchoolUpdated(updated, caller.user_id)])
