"""The admin seat: claiming a nominated admin role by phone, appointing and removing admins (operators
fill a school without admin), and the seat a deleted account leaves vacant."""

from __future__ import annotations

from dataclasses import replace

from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied, Violations
from parta_common.retries import saved, with_retries

from school.app.common import Caller, Deps
from school.domain.events import AdminSeatFilled, AdminSeatVacated, DomainEvent
from school.domain.memberships import ClassRole, Membership, SchoolRole
from school.domain.permissions import Action
from school.domain.schools import (
    School,
    add_once,
    check_can_remove_admin,
    check_operator_may_fill,
    fill_admin_seat,
    nominate_admin_phone,
    vacate_admin,
)
from school.domain.secrets import looks_like_e164
from school.domain.validation import check_id


class Admins:
    def __init__(self, deps: Deps):
        self.d = deps

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

        def appoint(fresh: School) -> School:
            if user_id in fresh.admin_ids:
                return fresh
            return replace(
                fresh, admin_ids=add_once(fresh.admin_ids, user_id), verified_ids=add_once(fresh.verified_ids, user_id)
            )

        updated = await self.d.change_school(school_id, appoint)
        await self._admin_memberships(updated, user_id)

    async def _appoint_by_operator(self, caller: Caller, school: School, user_id: str, admin_phone: str) -> None:
        if admin_phone:
            phone_hash = self.d.secrets.phone_hash(admin_phone)

            def nominate(fresh: School) -> School:
                if fresh.pending_admin_phone_hash == phone_hash and not fresh.admin_claimed_by:
                    return fresh  # a retry
                return nominate_admin_phone(fresh, phone_hash)

            await self.d.change_school(school.id, nominate)
            return
        if user_id in school.admin_ids:
            # A retry after the appointment went through: finish the memberships, nothing else.
            await self._admin_memberships(school, user_id)
            return
        check_operator_may_fill(school)
        target = await self.d.roles(school, user_id)
        if not target.is_staff:
            raise FailedPrecondition("only staff members can become admins", reason="NOT_STAFF")

        def appoint(fresh: School) -> School:
            if user_id in fresh.admin_ids:
                return fresh  # a concurrent retry won
            check_operator_may_fill(fresh)
            return fill_admin_seat(fresh, user_id)

        updated = await self.d.change_school(
            school.id, appoint, lambda filled: [AdminSeatFilled(filled, user_id, caller.user_id)]
        )
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
        await self.remove_admin_unchecked(school_id, user_id, reason="removed", actor=caller.user_id)

    async def remove_admin_unchecked(self, school_id: str, user_id: str, *, reason: str, actor: str = "") -> None:
        """Removes the admin role under the last-admin rule; the caller checked who may do it."""
        updated = await self._drop_from_admins(school_id, user_id)
        await self.demote_admin(updated, user_id, reason=reason, actor=actor)

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
        def drop(fresh: School) -> School:
            check_can_remove_admin(fresh.admin_ids, user_id)
            return replace(fresh, admin_ids=tuple(a for a in fresh.admin_ids if a != user_id))

        # A school-level admin count change is not a SchoolSnapshot field: MemberLeft carries it.
        return await self.d.change_school(school_id, drop)

    async def demote_admin(self, school: School, user_id: str, *, reason: str, actor: str = "") -> None:
        """End the admin role; the staff-room seat stays as a teacher's when the person also teaches."""
        await self.d.leave([Membership.new(school.id, user_id, SchoolRole.ADMIN)], reason, actor)
        target = await self.d.roles(school, user_id)
        seat = Membership.new(school.id, user_id, SchoolRole.ADMIN, school.staff_room_class_id, ClassRole.STAFF)
        if SchoolRole.TEACHER in target.school_roles:
            await self.d.change(seat.id, lambda m: replace(m, school_role=SchoolRole.TEACHER), actor)
        else:
            await self.d.leave([seat], reason, actor)
