"""Classes: create, rename, archive; the class head and subject teachers of each class."""

from __future__ import annotations

from dataclasses import replace

from parta_common.errors import FailedPrecondition, Violations
from parta_common.retries import saved, with_retries

from school.app.common import Caller, Deps
from school.domain.classes import MAX_SUBJECT, SchoolClass, check_class_name, class_title, normalize_letter
from school.domain.events import ClassArchived, ClassCreated, ClassUpdated
from school.domain.memberships import ClassRole, Membership, SchoolRole
from school.domain.permissions import Action
from school.domain.schools import check_academic_year
from school.domain.validation import check_id, check_request_id, check_text, derived_id


class Classes:
    def __init__(self, deps: Deps):
        self.d = deps

    async def create_class(
        self, caller: Caller, request_id: str, school_id: str, grade: int, letter: str, academic_year: str
    ) -> SchoolClass:
        v = Violations()
        check_request_id(v, request_id)
        check_id(v, "school_id", school_id)
        check_class_name(v, grade, letter)
        check_academic_year(v, "academic_year", academic_year, required=False)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.MANAGE_CLASSES)
        letter = normalize_letter(letter)
        school_class = SchoolClass(
            id=derived_id("class", school.id, caller.user_id, request_id),
            school_id=school.id,
            grade=grade,
            letter=letter,
            title=class_title(grade, letter),
            academic_year=academic_year or school.academic_year,
            version=1,
        )
        existing = await self.d.classes.get(school_class.id)
        if existing is not None:
            return existing  # a retry: the first result (its grade+letter would clash with itself)
        if not await self.d.classes.insert(school_class, [ClassCreated(school_class)]):
            stored = await self.d.classes.get(school_class.id)
            assert stored is not None
            return stored
        return school_class

    async def get_class(self, caller: Caller, class_id: str) -> SchoolClass:
        v = Violations()
        check_id(v, "class_id", class_id)
        v.raise_if_any()
        school_class, _, roles = await self.d.class_for(caller, class_id)
        self.d.require(roles, Action.VIEW_CLASS, class_id)
        return school_class

    async def list_classes(
        self, caller: Caller, school_id: str, include_archived: bool, after: str, limit: int
    ) -> list[SchoolClass]:
        v = Violations()
        check_id(v, "school_id", school_id)
        v.raise_if_any()
        _, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.VIEW_SCHOOL)
        return await self.d.classes.list(school_id, include_archived=include_archived, after=after, limit=limit)

    async def rename_class(self, caller: Caller, class_id: str, grade: int, letter: str) -> SchoolClass:
        v = Violations()
        check_id(v, "class_id", class_id)
        check_class_name(v, grade, letter)
        v.raise_if_any()
        school_class, _, roles = await self.d.class_for(caller, class_id)
        self.d.require(roles, Action.MANAGE_CLASSES)
        if school_class.is_staff_room:
            raise FailedPrecondition("the staff room keeps its name", reason="STAFF_ROOM")
        letter = normalize_letter(letter)

        async def attempt() -> SchoolClass:
            fresh = await self.d.classes.get(class_id)
            assert fresh is not None
            _check_changeable(fresh)
            if (fresh.grade, fresh.letter) == (grade, letter):
                return fresh
            renamed = replace(
                fresh, grade=grade, letter=letter, title=class_title(grade, letter), version=fresh.version + 1
            )
            return saved(renamed, await self.d.classes.save(renamed, fresh.version, [ClassUpdated(renamed)]))

        return await with_retries(attempt)

    async def archive_class(self, caller: Caller, class_id: str) -> SchoolClass:
        v = Violations()
        check_id(v, "class_id", class_id)
        v.raise_if_any()
        school_class, _, roles = await self.d.class_for(caller, class_id)
        self.d.require(roles, Action.MANAGE_CLASSES)
        if school_class.is_staff_room:
            raise FailedPrecondition("the staff room cannot be archived", reason="STAFF_ROOM")

        async def attempt() -> SchoolClass:
            fresh = await self.d.classes.get(class_id)
            assert fresh is not None
            if fresh.archived:
                return fresh
            archived = replace(fresh, archived=True, version=fresh.version + 1)
            return saved(archived, await self.d.classes.save(archived, fresh.version, [ClassArchived(archived)]))

        archived = await with_retries(attempt)
        # Every seat of the class ends; a retry finishes what a crash left (the class is archived already).
        await self.d.leave(await self.d.memberships.of_class(class_id), "class_archived", caller.user_id)
        return archived

    async def set_class_head(self, caller: Caller, class_id: str, user_id: str) -> None:
        await self._teach(caller, class_id, user_id, ClassRole.CLASS_HEAD, subject="")

    async def add_subject_teacher(self, caller: Caller, class_id: str, user_id: str, subject: str) -> None:
        await self._teach(caller, class_id, user_id, ClassRole.SUBJECT_TEACHER, subject=subject)

    async def _teach(self, caller: Caller, class_id: str, user_id: str, role: ClassRole, subject: str) -> None:
        v = Violations()
        check_id(v, "class_id", class_id)
        check_id(v, "user_id", user_id)
        if role == ClassRole.SUBJECT_TEACHER:
            check_text(v, "subject", subject, MAX_SUBJECT, required=True)
        v.raise_if_any()
        school_class, school, roles = await self.d.class_for(caller, class_id)
        self.d.require(roles, Action.MANAGE_CLASSES)
        _check_changeable(school_class)
        if school_class.is_staff_room:
            raise FailedPrecondition("the staff room has no class head", reason="STAFF_ROOM")
        target = await self.d.roles(school, user_id)
        if not target.is_staff:
            raise FailedPrecondition("only staff members teach classes", reason="NOT_STAFF")
        verified = user_id in school.verified_ids
        role_in_school = SchoolRole.TEACHER if SchoolRole.TEACHER in target.school_roles else SchoolRole.ADMIN
        seat = Membership.new(school.id, user_id, role_in_school, class_id, role, subject=subject, verified=verified)
        if role == ClassRole.CLASS_HEAD:
            # One head per class: the previous head keeps teaching as a subject teacher.
            for m in await self.d.memberships.of_class(class_id):
                if m.class_role == ClassRole.CLASS_HEAD and m.user_id != user_id:
                    await self.d.change(
                        m.id, lambda x: replace(x, class_role=ClassRole.SUBJECT_TEACHER), caller.user_id
                    )
        joined = await self.d.join(seat)
        # A class head who also teaches a subject stays the head.
        keep = ClassRole.CLASS_HEAD if joined.class_role == ClassRole.CLASS_HEAD else role
        merged = _merge_subject(joined.subject, subject)
        if joined.class_role != keep or merged != joined.subject:
            await self.d.change(seat.id, lambda x: replace(x, class_role=keep, subject=merged), caller.user_id)

    async def change_teaching_role(
        self, caller: Caller, class_id: str, user_id: str, role: ClassRole, subject: str
    ) -> None:
        v = Violations()
        if role not in (ClassRole.CLASS_HEAD, ClassRole.SUBJECT_TEACHER):
            v.add("class_role", "must be CLASS_ROLE_CLASS_HEAD or CLASS_ROLE_SUBJECT_TEACHER")
        if role == ClassRole.SUBJECT_TEACHER:
            check_text(v, "subject", subject, MAX_SUBJECT, required=False)
        check_id(v, "class_id", class_id)
        check_id(v, "user_id", user_id)
        v.raise_if_any()
        _school_class, school, roles = await self.d.class_for(caller, class_id)
        self.d.require(roles, Action.MANAGE_CLASSES)
        seat = Membership.new(school.id, user_id, SchoolRole.TEACHER, class_id, role)
        stored = await self.d.memberships.get(seat.id)
        if stored is None or not stored.active:
            raise FailedPrecondition("the person does not teach this class", reason="NOT_TEACHING_CLASS")
        if role == ClassRole.CLASS_HEAD:
            await self.set_class_head(caller, class_id, user_id)
        else:
            await self.d.change(
                seat.id, lambda x: replace(x, class_role=role, subject=subject or x.subject), caller.user_id
            )


def _check_changeable(school_class: SchoolClass) -> None:
    if school_class.archived:
        raise FailedPrecondition("the class is archived", reason="CLASS_ARCHIVED")


def _merge_subject(current: str, new: str) -> str:
    if not new:
        return current
    parts = [p.strip() for p in current.split(",") if p.strip()]
    if new in parts:
        return current
    return ", ".join([*parts, new])[:200]
