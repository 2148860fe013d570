"""Announcements on in-memory ports (app/announcements.py, domain/announcements.py): a family is a
child; guardians confirm once per family; the author and moderators see who has not and remind
them once per family per school day; after the deadline confirming is refused."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from chat.app.live import LiveHub, LiveUpdate, UpdateKind
from chat.domain import events as ev
from chat.domain.announcements import Family, families_of, school_day
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant
from chat.domain.provisioning import ClassRole, Profile, SchoolInfo, SchoolRole
from chat.pb import event_payload, live_update
from parta_common.errors import DomainError, ResourceExhausted

from tests.chat.unit.fake_announcements import announcements_on
from tests.chat.unit.fakes import Fakes, seat, seed_chat

SCHOOL = "s1"
PARENTS = "par-5A"
CLASS = "cls-5A"


async def reason(coro: object) -> str | None:
    try:
        await coro  # type: ignore[misc]
    except DomainError as exc:
        return exc.reason
    return None


@pytest.fixture
async def fakes() -> Fakes:
    """5A: ann, bea, cid. ann has two guardians (pat, pam); pat is also bea's; cal is cid's.
    oli is a parent in 5B; adm the school's admin."""
    f = Fakes()
    f.facts.memberships += [
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "adm", SchoolRole.ADMIN),
        *(seat(SCHOOL, c, SchoolRole.STUDENT, "5A", ClassRole.STUDENT) for c in ("ann", "bea", "cid")),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
        seat(SCHOOL, "pam", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="bea"),
        seat(SCHOOL, "cal", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="cid"),
        seat(SCHOOL, "ole", SchoolRole.STUDENT, "5B", ClassRole.STUDENT),
        seat(SCHOOL, "oli", SchoolRole.PARENT, "5B", ClassRole.PARENT, child="ole"),
    ]
    people = ("tom", "adm", "ann", "bea", "cid", "pat", "pam", "cal", "ole", "oli")
    f.facts.profiles.update({u: Profile(u, u.title()) for u in people})
    f.facts.schools[SCHOOL] = SchoolInfo(SCHOOL, "School", "Europe/Moscow", 8 * 60, 18 * 60)
    parents = {"tom": Grant.CLASS_HEAD, "pat": Grant.PARENT, "pam": Grant.PARENT, "cal": Grant.PARENT}
    await seed_chat(f, Chat(PARENTS, SCHOOL, ChatKind.CLASS_PARENTS, "5A parents", class_id="5A"), parents)
    pupils = {"tom": Grant.CLASS_HEAD, "ann": Grant.STUDENT, "bea": Grant.STUDENT, "cid": Grant.STUDENT}
    await seed_chat(f, Chat(CLASS, SCHOOL, ChatKind.CLASS, "5A", class_id="5A"), pupils)
    return f


def test_a_family_is_a_child_with_its_guardians() -> None:
    ms = [
        seat(SCHOOL, "ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
        seat(SCHOOL, "pam", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="bea"),  # bea: no student seat yet
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "oli", SchoolRole.PARENT, "5B", ClassRole.PARENT, child="ole"),
    ]
    assert families_of(ms, "5A") == [Family("ann", ("pam", "pat"), True), Family("bea", ("pat",), False)]
    assert [f.child_user_id for f in families_of(ms, "")] == ["ann", "bea", "ole"]  # the school channel


async def test_guardians_confirm_once_per_family_and_the_author_hears_each(fakes: Fakes) -> None:
    app, repo = announcements_on(fakes)
    view, message = await app.post("tom", PARENTS, "a-1", "Собрание в четверг в 18:00", None, False)
    assert (view.announcement.family_count, message.seq, view.announcement.students_confirm) == (3, 1, False)
    # A retry after a new family joined: the families asked stay those of the first post.
    fakes.facts.memberships.append(seat(SCHOOL, "dan", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="dee"))
    again, _ = await app.post("tom", PARENTS, "a-1", "Собрание в четверг в 18:00", None, False)
    assert again.announcement == view.announcement and len(repo.rows) == 1 and len(repo.asked) == 3

    first = await app.confirm("pat", PARENTS, message.seq)  # a parent of two children: two families
    assert [(c.child_user_id, before) for c, before in first.confirmed] == [("ann", False), ("bea", False)]
    second = await app.confirm("pam", PARENTS, message.seq)  # ann's other guardian
    assert [(c.child_user_id, c.confirmed_by, before) for c, before in second.confirmed] == [("ann", "pat", True)]
    assert (await app.confirm("pat", PARENTS, message.seq)).confirmed[1][1] is True  # same user twice: one
    assert [
        (e.confirmation.child_user_id, e.confirmed_count, e.family_count, e.author_user_id) for e in repo.events
    ] == [
        ("ann", 1, 3, "tom"),
        ("bea", 2, 3, "tom"),
    ]
    status = await app.status("tom", PARENTS, message.seq)
    assert (status.view.announcement.confirmed_count, status.view.announcement.family_count) == (2, 3)
    assert [(s.family.child_user_id, s.family.guardian_user_ids) for s in status.unconfirmed] == [("cid", ("cal",))]
    assert await reason(app.status("pat", PARENTS, message.seq)) == "NOT_ANNOUNCEMENT_WATCHER"


async def test_who_may_post_and_confirm(fakes: Fakes) -> None:
    app, _repo = announcements_on(fakes)
    assert await reason(app.post("pat", PARENTS, "a-1", "x", None, False)) == "NOT_ANNOUNCER"
    past = fakes.clock.now() - timedelta(minutes=1)
    assert await reason(app.post("tom", PARENTS, "a-1", "x", past, False)) == "INVALID_ARGUMENT"
    _view, message = await app.post("tom", PARENTS, "a-2", "x", None, False)
    assert await reason(app.confirm("tom", PARENTS, message.seq)) == "NOT_IN_AUDIENCE"  # staff: no family
    assert await reason(app.confirm("oli", PARENTS, message.seq)) == "NOT_A_MEMBER"  # 5B's parent
    assert await reason(app.confirm("cal", PARENTS, message.seq + 5)) == "ANNOUNCEMENT_NOT_FOUND"
    # In the class chat students confirm for their own family (guardians are not members there).
    _view, in_class = await app.post("tom", CLASS, "a-3", "Принесите форму", None, False)
    assert _view.announcement.students_confirm
    assert [c.child_user_id for c, _ in (await app.confirm("ann", CLASS, in_class.seq)).confirmed] == ["ann"]


async def test_students_do_not_confirm_unless_the_announcement_says_so(fakes: Fakes) -> None:
    app, _repo = announcements_on(fakes)
    school = Chat("sch-s1", SCHOOL, ChatKind.SCHOOL_CHANNEL, "School")
    await seed_chat(
        fakes,
        school,
        {"adm": Grant.ADMIN, "tom": Grant.MEMBER, "ann": Grant.MEMBER, "cal": Grant.MEMBER, "oli": Grant.MEMBER},
    )
    view, message = await app.post("adm", "sch-s1", "a-1", "Каникулы с 28 октября", None, False)
    assert view.announcement.family_count == 4  # ann, bea, cid of 5A and ole of 5B
    assert await reason(app.confirm("ann", "sch-s1", message.seq)) == "STUDENTS_DO_NOT_CONFIRM"
    assert [c.child_user_id for c, _ in (await app.confirm("oli", "sch-s1", message.seq)).confirmed] == ["ole"]
    assert await reason(app.post("tom", "sch-s1", "a-2", "x", None, False)) == "NOT_ANNOUNCER"


async def test_after_the_deadline_confirming_is_refused_and_the_status_stays(fakes: Fakes) -> None:
    app, _repo = announcements_on(fakes)
    deadline = fakes.clock.now() + timedelta(hours=1)
    _view, message = await app.post("tom", PARENTS, "a-1", "Сдать анкеты", deadline, False)
    await app.confirm("pat", PARENTS, message.seq)
    fakes.clock.advance(2 * 3600)
    assert await reason(app.confirm("cal", PARENTS, message.seq)) == "ANNOUNCEMENT_CLOSED"
    retry = await app.confirm("pat", PARENTS, message.seq)  # confirmed in time: the answer stays
    assert [before for _c, before in retry.confirmed] == [True, True]
    status = await app.status("tom", PARENTS, message.seq)
    assert status.view.closed and [s.family.child_user_id for s in status.unconfirmed] == ["cid"]
    assert await reason(app.remind("tom", PARENTS, message.seq)) == "ANNOUNCEMENT_CLOSED"


async def test_a_reminder_reaches_only_unconfirmed_families_once_a_school_day(fakes: Fakes) -> None:
    app, repo = announcements_on(fakes)
    _view, message = await app.post("tom", PARENTS, "a-1", "Сдать анкеты", None, False)
    await app.confirm("pam", PARENTS, message.seq)  # ann's family
    result = await app.remind("tom", PARENTS, message.seq)
    assert (result.reminded, sorted(result.reached), result.skipped) == (["bea", "cid"], ["cal", "pat"], [])
    dms = [m for m in fakes.messages.rows.values() if m.chat_id.startswith("dm")]
    assert sorted({c.chat_id for c in fakes.chats.rows.values() if c.kind is ChatKind.DIRECT}) == sorted(
        {m.chat_id for m in dms}
    )
    assert len(dms) == 2 and all(m.sender_user_id == "tom" and m.text.startswith("Напоминание") for m in dms)
    # The second reminder the same day: refused with the time until the school's next day (12:00 in Moscow).
    with pytest.raises(ResourceExhausted) as caught:
        await app.remind("tom", PARENTS, message.seq)
    assert caught.value.reason == "REMINDER_LIMIT" and caught.value.retry_after_seconds == 12 * 3600
    assert await reason(app.remind("pat", PARENTS, message.seq)) == "NOT_ANNOUNCEMENT_WATCHER"
    fakes.clock.advance(12 * 3600)
    await app.confirm("pat", PARENTS, message.seq)
    again = await app.remind("tom", PARENTS, message.seq)  # the next day: only cid's family is left
    assert (again.reminded, again.reached) == (["cid"], ["cal"])
    (left,) = (await app.status("tom", PARENTS, message.seq)).unconfirmed
    assert (left.family.child_user_id, left.reminded_at) == ("cid", fakes.clock.now())
    assert len(repo.reminders) == 3


def test_school_day_is_the_schools_calendar_day() -> None:
    from datetime import UTC, datetime

    day, wait = school_day(datetime(2026, 9, 1, 20, 30, tzinfo=UTC), "Europe/Moscow")  # 23:30 in Moscow
    assert (day, wait) == ("2026-09-01", 1800)
    assert school_day(datetime(2026, 9, 1, 20, 30, tzinfo=UTC), "Nowhere/Else")[0] == "2026-09-01"


async def test_concurrent_confirmations_count_exactly(fakes: Fakes) -> None:
    app, repo = announcements_on(fakes)
    _view, message = await app.post("tom", PARENTS, "a-1", "x", None, False)
    await asyncio.gather(*(app.confirm(u, PARENTS, message.seq) for u in ("pat", "pam", "cal") * 5))
    assert len(repo.stored) == 3 and repo.rows[message.message_id].confirmed_count == 3
    assert sorted(e.confirmed_count for e in repo.events if isinstance(e, ev.AnnouncementConfirmed)) == [1, 2, 3]


async def test_a_confirmation_goes_live_to_the_author_only(fakes: Fakes) -> None:
    app, repo = announcements_on(fakes)
    _view, message = await app.post("tom", PARENTS, "a-1", "x", None, False)
    await app.confirm("cal", PARENTS, message.seq)
    (event,) = repo.events
    _type, _id, _version, payload = event_payload(event)
    update = live_update(payload.DESCRIPTOR.full_name, payload.SerializeToString())
    assert update is not None and (update.kind, update.user_id, update.update_seq) == (
        UpdateKind.ANNOUNCEMENT,
        "tom",
        0,
    )
    assert update.event.announcement_progress.confirmed_count == 1

    async def nothing(chat: str, low: int, high: int) -> list[LiveUpdate]:
        return []

    hub = LiveHub(nothing)
    tom, cal = hub.register("tom", 10), hub.register("cal", 10)
    for sub in (tom, cal):
        hub.follow(sub, PARENTS)
    hub.publish(update)
    assert (tom.queue.qsize(), cal.queue.qsize()) == (1, 0)


async def test_a_reminder_reaches_people_with_full_length_ids(fakes: Fakes) -> None:
    """Real user ids are UUIDs: the reminder's DM id must still fit an id's 64 characters."""
    kid, guardian = str(uuid.uuid4()), str(uuid.uuid4())
    fakes.facts.memberships += [
        seat(SCHOOL, kid, SchoolRole.STUDENT, "5C", ClassRole.STUDENT),
        seat(SCHOOL, guardian, SchoolRole.PARENT, "5C", ClassRole.PARENT, child=kid),
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5C", ClassRole.CLASS_HEAD),
    ]
    fakes.facts.profiles.update({u: Profile(u, "X") for u in (kid, guardian)})
    chat = Chat("par-5C", SCHOOL, ChatKind.CLASS_PARENTS, "5C parents", class_id="5C")
    await seed_chat(fakes, chat, {"tom": Grant.CLASS_HEAD, guardian: Grant.PARENT})
    app, _repo = announcements_on(fakes)
    _view, message = await app.post("tom", "par-5C", "a-1", "Сдать анкеты", None, False)
    result = await app.remind("tom", "par-5C", message.seq)
    assert (result.reached, result.unreached) == ([guardian], [])
