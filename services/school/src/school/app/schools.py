"""Schools: onboarding by an operator, claiming the first admin role by phone, school info, admins,
staff verification."""

from __future__ import annotations

from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied, Violations
from parta_common.retries import saved, with_retries
from parta_common.safety import SchoolPolicy

from school.app.common import Caller, Deps
from school.domain.classes import SchoolClass
from school.domain.events import (
    AdminSeatFilled,
    AdminSeatVacated,
    ClassCreated,
    DomainEvent,
    SchoolCreated,
    SchoolUpdated,
    StaffVerified,
)
from school.domain.memberships import ClassRole, Membership, SchoolRole
from school.domain.permissions import Action
from school.domain.schools import (
    MAX_ADDRESS,
    MAX_NAME,
    MAX_REGION,
    MAX_SHORT_NAME,
    STAFF_ROOM_TITLE,
    School,
    check_academic_year,
    check_can_remove_admin,
    check_minutes,
    check_operator_may_fill,
    fill_admin_seat,
    forget_verification,
    nominate_admin_phone,
    vacate_admin,
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
    def __init__(self, deps: Deps):
        self.d = deps

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

    async def claim_pending_roles(self, caller: Caller) -> list[str]:
        """Roles waiting for the caller's phone become memberships; safe to repeat after a crash."""
        claimed: list[str] = []
        if caller.phone and looks_like_e164(caller.phone):
            for school in await self.d.schools.pending_for_phone(self.d.secrets.phone_hash(caller.phone)):

                async def attempt(s: School = school) -> School | bool:
                    fresh = await self.d.schools.get(s.id)
                    if fresh is None or fresh.admin_claimed_by:
                        return False
                    updated = replace(
                        fill_admin_seat(fresh, caller.user_id),
                        admin_claimed_by=caller.user_id,
                        version=fresh.version + 1,
                    )
                    # A nomination by an operator ends a vacancy: say so to whoever watched it open.
                    filled = AdminSeatFilled(updated, caller.user_id, "")
                    events: list[DomainEvent] = [filled] if fresh.admin_vacant else []
                    return saved(updated, await self.d.schools.save(updated, fresh.version, events))

                await with_retries(attempt)
        # Also the schools claimed before: a retry after a crash finishes their memberships. Checked
        # against the seats first, so the common call (ListMySchools on every app start) only reads.
        seats = {(m.school_id, m.class_id, m.school_role) for m in await self.d.memberships.of_user(caller.user_id)}
        for school in await self.d.schools.claimed_by(caller.user_id):
            if caller.user_id in school.admin_ids:
                wanted = {(school.id, "", SchoolRole.ADMIN), (school.id, school.staff_room_class_id, SchoolRole.ADMIN)}
                if not wanted <= seats:
                    await self._admin_memberships(school, caller.user_id)
                claimed.append(school.id)
        return claimed

    async def _admin_memberships(self, school: School, user_id: str) -> None:
        await self.d.join(Membership.new(school.id, user_id, SchoolRole.ADMIN, verified=True))
        seat = Membership.new(
            school.id, user_id, SchoolRole.ADMIN, school.staff_room_class_id, ClassRole.STAFF, verified=True
        )
        joined = await self.d.join(seat)
        if joined.school_role != SchoolRole.ADMIN or not joined.verified:
            await self.d.change(seat.id, lambda m: replace(m, school_role=SchoolRole.ADMIN, verified=True))

    async def list_my_schools(self, caller: Caller) -> list[MySchool]:
        await self.claim_pending_roles(caller)
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
        if "academic_year" in changes:
            check_academic_year(v, "school.academic_year", str(changes["academic_year"]), required=True)
        v.raise_if_any()
        _school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.MANAGE_SCHOOL)

        async def attempt() -> School:
            fresh = await self.d.schools.get(school_id)
            assert fresh is not None
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
            if updated == fresh:
                return fresh
            updated = replace(updated, version=fresh.version + 1)
            return saved(updated, await self.d.schools.save(updated, fresh.version, [SchoolUpdated(updated)]))

        return await with_retries(attempt)

    async def appoint_admin(self, caller: Caller, school_id: str, user_id: str, admin_phone: str = "") -> None:
        v = Violations()
        check_id(v, "school_id", school_id)
        if admin_phone:
            if user_id:
                v.add("admin_phone", "give either user_id or admin_phone, not both")
            elif not looks_like_e164(admin_phone):
                v.add("admin_phone", "must be an E.164 phone number such as +79001234567")
        else:
            check_id(v, "user_id", user_id)
        v.raise_if_any()
        if self.d.is_operator(caller):
            # Operators are not members, so the closed contour would hide the school from them; they
            # may act only where nobody inside can (no admin), which check_operator_may_fill enforces.
            school = await self.d.schools.get(school_id)
            if school is None:
                raise NotFound("school not found", reason="SCHOOL_NOT_FOUND")
            if not (await self.d.roles(school, caller.user_id)).is_admin:
                await self._appoint_by_operator(caller, school, user_id, admin_phone)
                return
        school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.MANAGE_SCHOOL)
        if admin_phone:
            raise PermissionDenied(
                "only operators nominate an admin by phone, for a school without admin", reason="OPERATOR_ONLY"
            )
        target = await self.d.roles(school, user_id)
        if not target.is_staff:
            raise FailedPrecondition("only staff members can become admins", reason="NOT_STAFF")

        async def attempt() -> School:
            fresh = await self.d.schools.get(school_id)
            assert fresh is not None
            if user_id in fresh.admin_ids:
                return fresh
            updated = replace(
                fresh,
                admin_ids=_add(fresh.admin_ids, user_id),
                verified_ids=_add(fresh.verified_ids, user_id),
                version=fresh.version + 1,
            )
            return saved(updated, await self.d.schools.save(updated, fresh.version, []))

        updated = await with_retries(attempt)
        await self._admin_memberships(updated, user_id)

    async def _appoint_by_operator(self, caller: Caller, school: School, user_id: str, admin_phone: str) -> None:
        if admin_phone:
            phone_hash = self.d.secrets.phone_hash(admin_phone)

            async def nominate() -> School:
                fresh = await self.d.schools.get(school.id)
                assert fresh is not None
                if fresh.pending_admin_phone_hash == phone_hash and not fresh.admin_claimed_by:
                    return fresh  # a retry
                updated = replace(nominate_admin_phone(fresh, phone_hash), version=fresh.version + 1)
                return saved(updated, await self.d.schools.save(updated, fresh.version, []))

            await with_retries(nominate)
            return
        if user_id in school.admin_ids:
            # A retry after the appointment went through: finish the memberships, nothing else.
            await self._admin_memberships(school, user_id)
            return
        check_operator_may_fill(school)
        target = await self.d.roles(school, user_id)
        if not target.is_staff:
            raise FailedPrecondition("only staff members can become admins", reason="NOT_STAFF")

        async def appoint() -> School:
            fresh = await self.d.schools.get(school.id)
            assert fresh is not None
            if user_id in fresh.admin_ids:
                return fresh  # a concurrent retry won
            check_operator_may_fill(fresh)
            updated = replace(fill_admin_seat(fresh, user_id), version=fresh.version + 1)
            event = AdminSeatFilled(updated, user_id, caller.user_id)
            return saved(updated, await self.d.schools.save(updated, fresh.version, [event]))

        updated = await with_retries(appoint)
        await self._admin_memberships(updated, user_id)

    async def list_vacant_schools(self, caller: Caller, after: str, limit: int) -> list[School]:
        if not self.d.is_operator(caller):
            raise PermissionDenied("only operators see schools without admin", reason="OPERATOR_ONLY")
        return await self.d.schools.vacant(after=after, limit=limit)

    async def remove_admin(self, caller: Caller, school_id: str, user_id: str) -> None:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "user_id", user_id)
        v.raise_if_any()
        _school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.MANAGE_SCHOOL)
        await self.remove_admin_unchecked(school_id, user_id, reason="removed")

    async def remove_admin_unchecked(self, school_id: str, user_id: str, *, reason: str) -> None:
        """Removes the admin role under the last-admin rule; the caller checked who may do it."""
        updated = await self._drop_from_admins(school_id, user_id)
        await self.demote_admin(updated, user_id, reason=reason)

    async def drop_admin(self, school_id: str, user_id: str) -> bool:
        """For a deleted account: the person is gone, so the last-admin rule cannot hold them. The last one
        leaves the seat vacant (AdminSeatVacated in the same write); a replay finds them gone and does nothing.
        True when this call opened the vacancy."""

        opened = False

        async def attempt() -> School:
            nonlocal opened
            fresh = await self.d.schools.get(school_id)
            assert fresh is not None
            updated = vacate_admin(fresh, user_id, self.d.now())
            if updated == fresh:
                return fresh
            updated = replace(updated, version=fresh.version + 1)
            opened = updated.admin_vacant and not fresh.admin_vacant
            events: list[DomainEvent] = [AdminSeatVacated(updated, "account_deleted")] if opened else []
            return saved(updated, await self.d.schools.save(updated, fresh.version, events))

        await with_retries(attempt)
        return opened

    async def _drop_from_admins(self, school_id: str, user_id: str) -> School:
        async def attempt() -> School:
            fresh = await self.d.schools.get(school_id)
            assert fresh is not None
            check_can_remove_admin(fresh.admin_ids, user_id)
            updated = replace(
                fresh, admin_ids=tuple(a for a in fresh.admin_ids if a != user_id), version=fresh.version + 1
            )
            # A school-level admin count change is not a SchoolSnapshot field: MemberLeft carries it.
            return saved(updated, await self.d.schools.save(updated, fresh.version, []))

        return await with_retries(attempt)

    async def demote_admin(self, school: School, user_id: str, *, reason: str) -> None:
        """End the admin role; the staff-room seat stays as a teacher's when the person also teaches."""
        await self.d.leave([Membership.new(school.id, user_id, SchoolRole.ADMIN)], reason)
        target = await self.d.roles(school, user_id)
        seat = Membership.new(school.id, user_id, SchoolRole.ADMIN, school.staff_room_class_id, ClassRole.STAFF)
        if SchoolRole.TEACHER in target.school_roles:
            await self.d.change(seat.id, lambda m: replace(m, school_role=SchoolRole.TEACHER))
        else:
            await self.d.leave([seat], reason)

    async def forget_verification(self, school_id: str, user_id: str) -> None:
        """The person leaves the school: their verification ends with it (domain/model.forget_verification)."""

        async def attempt() -> School | bool:
            fresh = await self.d.schools.get(school_id)
            if fresh is None:
                return False
            updated = forget_verification(fresh, user_id)
            if updated == fresh:
                return fresh
            updated = replace(updated, version=fresh.version + 1)
            return saved(updated, await self.d.schools.save(updated, fresh.version, []))

        await with_retries(attempt)

    async def verify_staff(self, caller: Caller, school_id: str, user_id: str) -> None:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "user_id", user_id)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.VERIFY_STAFF)
        target = await self.d.roles(school, user_id)
        if not target.is_staff:
            raise FailedPrecondition("only staff members are verified", reason="NOT_STAFF")

        async def attempt() -> School:
            fresh = await self.d.schools.get(school_id)
            assert fresh is not None
            if user_id in fresh.verified_ids:
                return fresh
            updated = replace(fresh, verified_ids=_add(fresh.verified_ids, user_id), version=fresh.version + 1)
            event = StaffVerified(school_id, user_id, caller.user_id)
            return saved(updated, await self.d.schools.save(updated, fresh.version, [event]))

        await with_retries(attempt)
        # Snapshots carry `verified`, so every staff seat of the person is re-published with it.
        for m in await self.d.memberships.of_user(user_id, school_id):
            if m.school_role in (SchoolRole.ADMIN, SchoolRole.TEACHER) and not m.verified:
                await self.d.change(m.id, lambda x: replace(x, verified=True))

    # ---- communication policy (admins) -----------------------------------------------------------

    async def _as_admin(self, caller: Caller, school_id: str) -> School:
        v = Violations()
        check_id(v, "school_id", school_id)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, school_id)
        if not roles.is_admin:
            raise PermissionDenied("only admins see and set the school's policy", reason="NOT_AN_ADMIN")
        return school

    async def get_policy(self, caller: Caller, school_id: str) -> SchoolPolicy:
        return (await self._as_admin(caller, school_id)).policy

    async def set_policy(self, caller: Caller, school_id: str, switches: dict[str, bool]) -> SchoolPolicy:
        """Changes the named switches; SchoolUpdated carries the new policy to chat and media-signal.
        Every switch only takes rights away (SchoolPolicy), so no admin can open what the defaults close."""
        await self._as_admin(caller, school_id)

        async def attempt() -> School:
            fresh = await self.d.schools.get(school_id)
            assert fresh is not None
            policy = replace(fresh.policy, **switches)
            if policy == fresh.policy:
                return fresh  # a repeat: nothing to publish
            updated = replace(fresh, policy=policy, version=fresh.version + 1)
            return saved(updated, await self.d.schools.save(updated, fresh.version, [SchoolUpdated(updated)]))

        return (await with_retries(attempt)).policy


def _add(items: tuple[str, ...], item: str) -> tuple[str, ...]:
    return items if item in items else (*items, item)
