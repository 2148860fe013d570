"""Timetables: the week's rules, and on fakes who edits and reads a class's timetable, what is
published (TimetableChanged with the school's timezone and holidays), cancellations, holidays and
the rollover (timetables are not carried into a new year)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Violations
from school.app.common import Caller
from school.app.timetables import SetWeek, Timetables
from school.domain.classes import SchoolClass
from school.domain.events import TimetableChanged
from school.domain.memberships import SchoolRole
from school.domain.schools import School
from school.domain.timetables import Slot, check_slots, check_term, slot_id

from tests.school.fakes import FakeHolidays, FakeTimetables, World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded

MATHS = Slot(1, 9 * 60, 45, "Математика")
RUSSIAN = Slot(1, 10 * 60, 45, "Русский язык")


def test_slot_ids_name_the_weekday_and_the_start():
    assert slot_id(1, 9 * 60) == "1-09:00" and MATHS.slot_id == "1-09:00"
    assert slot_id(7, 23 * 60 + 5) == "7-23:05"


@pytest.mark.parametrize(
    ("slot", "field"),
    [
        (Slot(0, 540, 45, "Математика"), "slots[0].weekday"),
        (Slot(8, 540, 45, "Математика"), "slots[0].weekday"),
        (Slot(1, 1440, 45, "Математика"), "slots[0].start_minute"),
        (Slot(1, 540, 4, "Математика"), "slots[0].duration_minutes"),
        (Slot(1, 540, 241, "Математика"), "slots[0].duration_minutes"),
        (Slot(1, 1430, 45, "Математика"), "slots[0].duration_minutes"),
        (Slot(1, 540, 45, ""), "slots[0].subject"),
        (Slot(1, 540, 45, "Мат\u202eематика"), "slots[0].subject"),
        (Slot(1, 540, 45, "Математика", "bad id!"), "slots[0].teacher_user_id"),
    ],
)
def test_a_bad_slot_is_refused_by_field(slot, field):  # type: ignore[no-untyped-def]
    v = Violations()
    check_slots(v, [slot])
    assert field in [f.field for f in v.items]


def test_two_lessons_of_a_class_do_not_overlap():
    v = Violations()
    check_slots(v, [MATHS, Slot(1, 9 * 60 + 30, 45, "Физика"), Slot(2, 9 * 60 + 30, 45, "Физика")])
    assert [f.field for f in v.items] == ["slots[1]"]
    v = Violations()
    check_slots(v, [MATHS, Slot(1, 9 * 60 + 45, 45, "Физика")])  # back to back is fine
    assert not v.items


def test_the_term_lies_within_the_academic_year():
    v = Violations()
    assert check_term(v, "2026/2027", None, None) == (date(2026, 9, 1), date(2027, 5, 31))
    assert not v.items
    check_term(v, "2026/2027", date(2026, 8, 31), date(2027, 9, 1))
    assert [f.field for f in v.items] == ["first_day", "last_day"]
    v = Violations()
    check_term(v, "2026/2027", date(2027, 1, 10), date(2026, 12, 1))
    assert [f.field for f in v.items] == ["last_day"]


@dataclass
class Setup:
    w: World
    tt: Timetables
    repo: FakeTimetables
    school: School
    klass: SchoolClass
    other: SchoolClass


async def _join(w: World, school_id: str, role: SchoolRole, class_id: str, user: str, child: str = "") -> Caller:
    created = await w.invites.create_invite(ADMIN, invite_cmd(school_id, role, class_id, child, request_id=user))
    caller = Caller(user)
    await w.invites.accept_invite(caller, created.token)
    return caller


async def setup() -> Setup:
    """5А with its head olga (verified), subject teacher pavel (verified), student misha, his parent
    anna; 6Б with its head vera (verified) and student kolya."""
    w = World()
    school, klass = await onboarded(w)
    other = await w.classes.create_class(ADMIN, "c2", school.id, 6, "б", "")
    for teacher in ("olga", "pavel", "vera", "sergey"):
        await _join(w, school.id, SchoolRole.TEACHER, "", teacher)
        await w.staff.verify_staff(ADMIN, school.id, teacher)
    await w.classes.set_class_head(ADMIN, klass.id, "olga")
    await w.classes.add_subject_teacher(ADMIN, klass.id, "pavel", "Физика")
    await w.classes.set_class_head(ADMIN, other.id, "vera")
    await _join(w, school.id, SchoolRole.STUDENT, klass.id, "misha")
    await _join(w, school.id, SchoolRole.PARENT, klass.id, "anna", child="misha")
    await _join(w, school.id, SchoolRole.STUDENT, other.id, "kolya")
    repo = FakeTimetables()
    return Setup(w, Timetables(w.deps, repo, FakeHolidays()), repo, school, klass, other)


async def test_the_admin_sets_a_week_and_it_is_published_with_the_schools_zone():
    s = await setup()
    t = await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [RUSSIAN, MATHS]))
    assert [x.slot_id for x in t.slots] == ["1-09:00", "1-10:00"]  # ordered by time
    assert {x.teacher_user_id for x in t.slots} == {"olga"}  # no teacher named: the class head
    assert (t.first_day, t.last_day, t.academic_year, t.version) == (
        date(2026, 9, 1),
        date(2027, 5, 31),
        "2026/2027",
        1,
    )
    [event] = s.repo.events
    assert isinstance(event, TimetableChanged)
    assert (event.timezone, event.class_title, event.timetable) == ("Europe/Moscow", "5А", t)
    # The same week again changes nothing and publishes nothing.
    again = await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [MATHS, RUSSIAN]))
    assert again == t and len(s.repo.events) == 1


async def test_a_lesson_is_taught_by_a_teacher_of_the_class():
    s = await setup()
    await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [Slot(2, 540, 45, "Физика", "pavel")]))
    with pytest.raises(InvalidArgument) as refused:
        await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [Slot(2, 540, 45, "Физика", "sergey")]))
    assert refused.value.violations[0].field == "slots[0].teacher_user_id"
    with pytest.raises(InvalidArgument):  # a student never teaches
        await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [Slot(2, 540, 45, "Физика", "misha")]))
    # An unverified teacher of the class could not start the lesson: not its teacher either.
    await _join(s.w, s.school.id, SchoolRole.TEACHER, "", "nina")
    await s.w.classes.add_subject_teacher(ADMIN, s.klass.id, "nina", "Химия")
    with pytest.raises(InvalidArgument) as unverified:
        await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [Slot(2, 540, 45, "Химия", "nina")]))
    assert "verified" in unverified.value.violations[0].description


@pytest.mark.parametrize(
    ("who", "outcome"),
    [
        ("irina", None),  # the admin
        ("olga", None),  # the class head (verified)
        ("pavel", PermissionDenied),  # a subject teacher of the class
        ("vera", PermissionDenied),  # the head of another class
        ("misha", PermissionDenied),  # a student of the class
        ("anna", PermissionDenied),  # a parent of the class
        ("stranger", NotFound),  # outside the school: nothing, not even that the class exists
    ],
)
async def test_who_edits_the_timetable(who, outcome):  # type: ignore[no-untyped-def]
    s = await setup()
    caller = ADMIN if who == "irina" else Caller(who)
    week = SetWeek(s.klass.id, [MATHS])
    if outcome is None:
        assert (await s.tt.set_timetable(caller, week)).version == 1
        assert (await s.tt.cancel_lesson(caller, s.klass.id, "2026-09-07", "1-09:00")).version == 2
    else:
        with pytest.raises(outcome):
            await s.tt.set_timetable(caller, week)
        with pytest.raises(outcome):
            await s.tt.cancel_lesson(caller, s.klass.id, "2026-09-07", "1-09:00")
        assert s.repo.events == []


async def test_an_unverified_class_head_does_not_edit():
    s = await setup()
    await _join(s.w, s.school.id, SchoolRole.TEACHER, "", "nina")
    await s.w.classes.set_class_head(ADMIN, s.other.id, "nina")
    with pytest.raises(PermissionDenied):
        await s.tt.set_timetable(Caller("nina"), SetWeek(s.other.id, [Slot(1, 540, 45, "Математика", "vera")]))


@pytest.mark.parametrize(
    ("who", "outcome"),
    [
        ("irina", None),
        ("olga", None),
        ("pavel", None),
        ("misha", None),
        ("anna", None),  # members of the class read it
        ("vera", None),  # staff read every class of their school
        ("kolya", PermissionDenied),  # a student of another class does not
        ("stranger", NotFound),
    ],
)
async def test_who_reads_the_timetable(who, outcome):  # type: ignore[no-untyped-def]
    s = await setup()
    await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [MATHS]))
    caller = ADMIN if who == "irina" else Caller(who)
    if outcome is None:
        found = await s.tt.get_timetable(caller, s.klass.id)
        assert [x.subject for x in found.timetable.slots] == ["Математика"]
        assert found.timezone == "Europe/Moscow"
    else:
        with pytest.raises(outcome):
            await s.tt.get_timetable(caller, s.klass.id)


async def test_a_cancelled_lesson_is_published_once():
    s = await setup()
    await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [MATHS]))
    t = await s.tt.cancel_lesson(ADMIN, s.klass.id, "2026-09-07", "1-09:00")
    again = await s.tt.cancel_lesson(ADMIN, s.klass.id, "2026-09-07", "1-09:00")
    assert again == t and [(c.day, c.slot_id) for c in t.cancelled] == [(date(2026, 9, 7), "1-09:00")]
    assert len(s.repo.events) == 2
    with pytest.raises(InvalidArgument):  # 8 September is a Tuesday
        await s.tt.cancel_lesson(ADMIN, s.klass.id, "2026-09-08", "1-09:00")
    with pytest.raises(InvalidArgument):
        await s.tt.cancel_lesson(ADMIN, s.klass.id, "2026-09-07", "1-11:00")
    with pytest.raises(InvalidArgument):  # after the term
        await s.tt.cancel_lesson(ADMIN, s.klass.id, "2027-06-07", "1-09:00")
    # A changed week keeps the cancellations of slots it still has.
    kept = await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [MATHS, RUSSIAN]))
    assert len(kept.cancelled) == 1
    dropped = await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [RUSSIAN]))
    assert dropped.cancelled == ()


async def test_holidays_are_set_by_admins_and_republish_every_timetable():
    s = await setup()
    await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [MATHS]))
    await s.tt.set_timetable(ADMIN, SetWeek(s.other.id, [Slot(2, 540, 45, "Химия")]))
    with pytest.raises(PermissionDenied):
        await s.tt.set_holidays(Caller("olga"), s.school.id, [("2026-12-30", "2027-01-08", "Зимние каникулы")])
    with pytest.raises(InvalidArgument):
        await s.tt.set_holidays(ADMIN, s.school.id, [("2027-01-08", "2026-12-30", "")])
    h = await s.tt.set_holidays(ADMIN, s.school.id, [("2026-12-30", "2027-01-08", "Зимние каникулы")])
    assert h.version == 1 and h.ranges[0].first_day == date(2026, 12, 30)
    published = [e for e in s.repo.events if isinstance(e, TimetableChanged)][2:]
    assert sorted(e.timetable.class_id for e in published) == sorted([s.klass.id, s.other.id])
    assert all(e.holidays == h.ranges for e in published)
    # Repeating it publishes nothing more; every member reads them.
    await s.tt.set_holidays(ADMIN, s.school.id, [("2026-12-30", "2027-01-08", "Зимние каникулы")])
    assert len(s.repo.events) == 4
    assert (await s.tt.get_holidays(Caller("misha"), s.school.id)).ranges == h.ranges
    with pytest.raises(NotFound):
        await s.tt.get_holidays(Caller("stranger"), s.school.id)


async def test_the_rollover_does_not_carry_the_timetable():
    s = await setup()
    await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [MATHS]))
    await s.w.years.start_academic_year(ADMIN, "y", s.school.id, "2027/2028")
    found = await s.tt.get_timetable(ADMIN, s.klass.id)
    assert (found.timetable.slots, found.timetable.academic_year, found.timetable.version) == ((), "2027/2028", 0)
    with pytest.raises(FailedPrecondition):  # nothing to cancel in the new year
        await s.tt.cancel_lesson(ADMIN, s.klass.id, "2027-09-06", "1-09:00")
    t = await s.tt.set_timetable(ADMIN, SetWeek(s.klass.id, [RUSSIAN]))
    # Versions keep growing across years: consumers keep the newest.
    assert (t.academic_year, t.version, t.first_day) == ("2027/2028", 2, date(2027, 9, 1))


async def test_the_staff_room_has_no_timetable():
    s = await setup()
    with pytest.raises(FailedPrecondition):
        await s.tt.set_timetable(ADMIN, SetWeek(s.school.staff_room_class_id, [MATHS]))
