"""Memberships: list, leave, remove, change role; and authorization for other services
(GetMemberships, CheckPermission)."""

from __future__ import annotations

import asyncio

from parta_common import safety
from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied, Violations

from school.app.admins import Admins
from school.app.common import Caller, Deps
from school.app.staff import StaffVerification
from school.domain.memberships import ClassRole, Membership, Roles, SchoolRole, as_seen_by, sees_school_roster
from school.domain.permissions import CLASS_SCOPED, PERSON_TO_PERSON, Action, allowed, person_of
from school.domain.schools import School
from school.domain.validation import check_id


class Memberships:
    def __init__(self, deps: Deps, admins: Admins, staff: StaffVerification):
        self.d = deps
        self.admins = admins
        self.staff = staff

    async def list_members(
        self, caller: Caller, school_id: str, class_id: str, after: str, limit: int
    ) -> list[Membership]:
        roles = await self.d.school_listing(caller, school_id, class_id)
        if class_id:
            self.d.require(roles, Action.VIEW_CLASS, class_id)
        elif not sees_school_roster(roles):
            # The school-wide list is every family of the school (parent → child links): staff only.
            raise PermissionDenied(
                "the school's member list is for staff; list the members of one of your classes",
                reason="NOT_STAFF",
                metadata={"action": "LIST_SCHOOL_MEMBERS"},
            )
        found = await self.d.memberships.list(school_id, class_id, after=after, limit=limit)
        return [as_seen_by(roles, m) for m in found]

    async def leave(self, caller: Caller, school_id: str, class_id: str) -> None:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "class_id", class_id, required=False)
        v.raise_if_any()
        school, _roles = await self.d.school_for(caller, school_id)
        await self._remove(school.id, caller.user_id, class_id, reason="left", actor=caller.user_id)

    async def remove_member(self, caller: Caller, school_id: str, user_id: str, class_id: str) -> None:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "user_id", user_id)
        check_id(v, "class_id", class_id, required=False)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, school_id)
        if class_id:
            await self.d.class_of_school(school, class_id)
        target = await self.d.roles(school, user_id)
        if not roles.is_admin:
            # Class heads remove students and parents of their own class, nothing else.
            self.d.require(roles, Action.MODERATE_CLASS, class_id)
            if not class_id or target.in_class(class_id) - {ClassRole.STUDENT, ClassRole.PARENT}:
                raise PermissionDenied("class heads remove students and parents only", reason="PERMISSION_DENIED")
        if not target.is_member:
            raise NotFound("member not found", reason="MEMBER_NOT_FOUND")
        await self._remove(school.id, user_id, class_id, reason="removed", actor=caller.user_id)

    async def _remove(self, school_id: str, user_id: str, class_id: str, *, reason: str, actor: str) -> None:
        school = await self.d.schools.get(school_id)
        assert school is not None
        mine = await self.d.memberships.of_user(user_id, school_id)
        if class_id:
            if class_id == school.staff_room_class_id:
                raise FailedPrecondition("staff leave the staff room by leaving the school", reason="STAFF_ROOM")
            targets = [m for m in mine if m.class_id == class_id]
            if not targets:
                raise NotFound("not a member of this class", reason="MEMBER_NOT_FOUND")
            await self.d.leave(targets, reason, actor)
            return
        if user_id in school.admin_ids:
            # Leaving the whole school goes through the last-admin rule first.
            await self.admins.remove_admin_unchecked(school.id, user_id, reason=reason, actor=actor)
        # Verification ends before the seats do: a crash in between leaves an unverified member, never a
        # verified former one who could walk back in by a plain teacher link.
        await self.staff.forget_verification(school.id, user_id)
        # Class seats first, school-level last: a consumer never sees a class member outside the school.
        ordered = sorted(mine, key=lambda m: m.class_id == "")
        await self.d.leave(ordered, reason, actor)

    async def get_memberships(self, caller: Caller, user_id: str, school_id: str) -> list[Membership]:
        v = Violations()
        check_id(v, "user_id", user_id)
        check_id(v, "school_id", school_id, required=False)
        v.raise_if_any()
        found = await self.d.memberships.of_user(user_id, school_id)
        if caller.user_id == user_id or caller.user_id in self.d.policy.internal_clients:
            return found
        # Admins see the memberships of people in their own schools, and nothing else.
        visible: list[Membership] = []
        admin_of: dict[str, bool] = {}
        for m in found:
            if m.school_id not in admin_of:
                school = await self.d.schools.get(m.school_id)
                admin_of[m.school_id] = school is not None and caller.user_id in school.admin_ids
            if admin_of[m.school_id]:
                visible.append(m)
        if not visible and school_id:
            raise PermissionDenied("not allowed to see this person's memberships", reason="PERMISSION_DENIED")
        return visible

    async def check_permission(
        self, caller: Caller, user_id: str, school_id: str, class_id: str, action: Action
    ) -> bool:
        v = Violations()
        check_id(v, "user_id", user_id)
        check_id(v, "school_id", school_id)
        check_id(v, "class_id", class_id, required=False)
        if action == Action.UNSPECIFIED or action not in Action.__members__.values():
            v.add("action", "must be a known action")
        elif action in PERSON_TO_PERSON:
            v.add("target_user_id", "this action is about a second person")
        elif action in CLASS_SCOPED and not class_id:
            v.add("class_id", "this action is about a class")
        v.raise_if_any()
        # This RPC sits on other services' hot paths: answered from the access view (no store command
        # when warm); the three reads of a cold view go out together.
        school, school_class, memberships = await asyncio.gather(
            self.d.view.school(school_id),
            self.d.view.school_class(class_id) if class_id else _none(),
            self.d.view.seats(user_id, school_id),
        )
        self._may_ask(caller, user_id, school)
        if school is None:
            return False
        if class_id and (school_class is None or school_class.school_id != school.id or school_class.archived):
            return False
        return allowed(Roles.of(user_id, school.id, memberships, school.verified_ids), action, class_id)

    async def check_contact(
        self, caller: Caller, user_id: str, target_user_id: str, school_id: str, action: Action
    ) -> str:
        """The person-to-person actions, decided by the kit's rule book (parta_common.safety) exactly as
        chat and media-signal decide them, from school's own records. Returns "" when allowed, else the
        rule book's machine reason."""
        v = Violations()
        check_id(v, "user_id", user_id)
        check_id(v, "target_user_id", target_user_id)
        check_id(v, "school_id", school_id)
        if action not in PERSON_TO_PERSON:
            v.add("action", "must be a person-to-person action")
        v.raise_if_any()
        school, seats, target_seats, facts, target_facts = await asyncio.gather(
            self.d.view.school(school_id),
            self.d.view.seats(user_id, school_id),
            self.d.view.seats(target_user_id, school_id),
            self.d.view.profile_facts(user_id),
            self.d.view.profile_facts(target_user_id),
        )
        self._may_ask(caller, user_id, school)
        if school is None:
            return safety.NOT_A_SCHOOL_MEMBER
        me = person_of(user_id, school.id, seats, school.verified_ids, facts)
        other = person_of(target_user_id, school.id, target_seats, school.verified_ids, target_facts)
        # Under the school's own policy (SetSchoolPolicy), as chat and media-signal apply it.
        refusal = safety.contact_refusal(me, other, PERSON_TO_PERSON[action], school.policy)
        return "" if refusal is None else (refusal.reason or "PERMISSION_DENIED")

    def _may_ask(self, caller: Caller, user_id: str, school: School | None) -> None:
        if caller.user_id != user_id and caller.user_id not in self.d.policy.internal_clients:
            if school is None or caller.user_id not in school.admin_ids:
                raise PermissionDenied("not allowed to ask about this person", reason="PERMISSION_DENIED")

    # --- identity events ---------------------------------------------------------------------

    async def account_deleted(self, user_id: str) -> list[str]:
        """Every membership ends (MemberLeft "account_deleted"). A deleted last admin leaves the school's
        admin seat vacant (AdminSeatVacated, School.admin_vacant) until an operator appoints a successor.
        Returns the schools whose vacancy this call opened (none on a replay)."""
        vacated: list[str] = []
        for school_id in sorted({m.school_id for m in await self.d.memberships.of_user(user_id)}):
            school = await self.d.schools.get(school_id)
            if school is not None and user_id in school.admin_ids and await self.admins.drop_admin(school.id, user_id):
                vacated.append(school.id)
            await self.staff.forget_verification(school_id, user_id)
        mine = await self.d.memberships.of_user(user_id)
        await self.d.leave(sorted(mine, key=lambda m: m.class_id == ""), "account_deleted", user_id)
        return vacated


async def _none() -> None:
    return None


__all__ = ["Memberships", "SchoolRole"]
