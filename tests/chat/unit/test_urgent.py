"""Quiet hours that work, on in-memory ports: a parent's urgent message crosses them (with a
reason, a few times a day), a teacher may turn that off, held edits and reactions stay held, an
admin releases a held message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from chat.domain import urgent as urgency
from chat.domain.provisioning import ClassRole, Profile, SchoolInfo, SchoolRole
from parta_common.errors import ResourceExhausted

from tests.chat.unit.fakes import Fakes, seat
from tests.chat.unit.test_messages import SCHOOL, reason

MOSCOW = ZoneInfo("Europe/Moscow")
NIGHT = datetime(2026, 9, 1, 22, 40, tzinfo=MOSCOW)  # 22:40 school time


@pytest.fixture
async def fakes() -> Fakes:
    f = Fakes()
    f.facts.memberships += [
        seat(SCHOOL, "ada", SchoolRole.ADMIN),
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
    ]
    f.facts.profiles.update({u: Profile(u, u.title()) for u in ("ada", "tom", "ann", "pat")})
    f.facts.schools[SCHOOL] = SchoolInfo(SCHOOL, "School", "Europe/Moscow", 8 * 60, 18 * 60)
    f.clock.set(NIGHT.astimezone(UTC))
    return f


async def _dm(fakes: Fakes) -> str:
    return (await fakes.app.chats.open_direct_chat("pat", SCHOOL, "tom")).chat.chat_id


def test_the_allowance_resets_at_school_local_midnight() -> None:
    now = NIGHT.astimezone(UTC)
    assert urgency.local_day(now, MOSCOW) == "2026-09-01"
    assert urgency.next_reset(now, MOSCOW) == datetime(2026, 9, 2, 0, 0, tzinfo=MOSCOW)
    refusal = urgency.limit_reached(now, MOSCOW, 2)
    assert refusal.reason == "URGENT_LIMIT" and refusal.retry_after_seconds == 80 * 60
    # 21:30 UTC is 00:30 in Moscow: the next school day.
    assert urgency.local_day(datetime(2026, 9, 1, 21, 30, tzinfo=UTC), MOSCOW) == "2026-09-02"


async def test_an_urgent_parent_message_reaches_the_teacher_at_once_within_the_daily_allowance(fakes: Fakes) -> None:
    dm = await _dm(fakes)
    assert await reason(fakes.app.messages.send_message("pat", dm, "u-0", "help", urgent=True)) == "INVALID_ARGUMENT"
    first = await fakes.app.messages.send_message("pat", dm, "u-1", "Ann is ill", urgent=True, urgent_reason="fever")
    assert first.deliver_at is None and first.message.held_for == [] and first.message.urgent
    assert first.message.urgent_reason == "fever"
    seen, _ = await fakes.app.messages.list_messages("tom", dm, 0, 0, 10)
    assert [m.text for m in seen] == ["Ann is ill"]
    # A retry of an accepted urgent message counts nothing.
    again = await fakes.app.messages.send_message("pat", dm, "u-1", "Ann is ill", urgent=True, urgent_reason="fever")
    assert again.message == first.message
    await fakes.app.messages.send_message("pat", dm, "u-2", "still ill", urgent=True, urgent_reason="fever")
    with pytest.raises(ResourceExhausted) as refused:
        await fakes.app.messages.send_message("pat", dm, "u-3", "and now?", urgent=True, urgent_reason="worse")
    assert refused.value.reason == "URGENT_LIMIT" and refused.value.retry_after_seconds == 80 * 60
    # Not urgent: held as always. The next school day the allowance is whole again.
    held = await fakes.app.messages.send_message("pat", dm, "n-1", "thanks")
    assert held.message.held_for == ["tom"]
    fakes.clock.set(datetime(2026, 9, 2, 6, 0, tzinfo=MOSCOW).astimezone(UTC))
    ok = await fakes.app.messages.send_message("pat", dm, "u-4", "fever back", urgent=True, urgent_reason="fever")
    assert ok.deliver_at is None


async def test_urgent_is_for_admins_and_parents_to_teachers(fakes: Fakes) -> None:
    dm = (await fakes.app.chats.open_direct_chat("ann", SCHOOL, "tom")).chat.chat_id
    refused = fakes.app.messages.send_message("ann", dm, "s-1", "hi", urgent=True, urgent_reason="x")
    assert await reason(refused) == "URGENT_NOT_ALLOWED"
    assert await reason(fakes.app.messages.send_message("ann", dm, "s-2", "hi", urgent_reason="x")) == (
        "INVALID_ARGUMENT"
    )


async def test_a_teacher_who_turned_urgent_off_gets_it_in_the_morning(fakes: Fakes) -> None:
    dm = await _dm(fakes)
    await fakes.app.preferences.set_urgent_notifications("tom", False)
    sent = await fakes.app.messages.send_message("pat", dm, "u-1", "Ann is ill", urgent=True, urgent_reason="fever")
    assert sent.message.held_for == ["tom"] and sent.deliver_at is not None and sent.message.urgent
    assert fakes.urgent.used == {}  # nothing crossed quiet hours: the allowance is untouched


async def test_edits_and_reactions_of_a_held_message_stay_held_and_an_admin_releases_it(fakes: Fakes) -> None:
    dm = await _dm(fakes)
    sent = (await fakes.app.messages.send_message("pat", dm, "n-1", "about tomorrow")).message
    edited = await fakes.app.messages.edit_message("pat", dm, sent.seq, "about Thursday")
    reacted = await fakes.app.messages.react("pat", dm, sent.seq, "👍", True)
    for m in (edited, reacted):
        assert m.held_for == ["tom"] and m.held_from("tom", fakes.clock.now())
    assert await reason(fakes.app.messages.react("tom", dm, sent.seq, "👍", True)) == "MESSAGE_NOT_FOUND"
    # Nor is it unread yet: the teacher's badge does not light up at night.
    [view] = [v for v in await fakes.app.chats.list_chats("tom", SCHOOL) if v.chat.chat_id == dm]
    assert view.unread == 0
    assert (await fakes.app.messages.list_messages("tom", dm, 0, reacted.update_seq - 1, 10))[0] == []
    # The admin sees it held (no text on that list) and releases it now.
    assert await reason(fakes.app.held.list_held("tom", SCHOOL)) == "NOT_ADMIN"
    [held] = await fakes.app.held.list_held("ada", SCHOOL)
    assert held.seq == sent.seq
    assert await reason(fakes.app.held.release("pat", dm, sent.seq)) == "NOT_ADMIN"
    released = await fakes.app.held.release("ada", dm, sent.seq)
    assert released.held_for == [] and released.update_seq > reacted.update_seq
    seen, _ = await fakes.app.messages.list_messages("tom", dm, 0, 0, 10)
    assert [m.text for m in seen] == ["about Thursday"]
    [view] = [v for v in await fakes.app.chats.list_chats("tom", SCHOOL) if v.chat.chat_id == dm]
    assert view.unread == 1
    assert await fakes.app.held.list_held("ada", SCHOOL) == []
    assert (await fakes.app.held.release("ada", dm, sent.seq)).update_seq == released.update_seq  # idempotent
    # Later edits are not held any more.
    fakes.clock.set(fakes.clock.now() + timedelta(minutes=1))
    assert (await fakes.app.messages.edit_message("pat", dm, sent.seq, "Friday")).held_for == []
