"""A school's communication policy in media-signal's use cases (in-memory projection and book):
the switches close calls the defaults allow, for this school only, and the school event's
snapshot maps onto the policy (an unset switch, as in snapshots from before it existed, = default)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.api.consumers import school_policy
from media_signal.app.rooms import RoomUseCases
from media_signal.domain.rooms import RoomKind
from parta.school.v1 import events_pb2 as school_pb
from parta_common.safety import DEFAULT_POLICY, PolicyBook, SchoolPolicy
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import FakeDirectory, FakeRooms, NoIce
from tests.media_signal.unit.test_policy import MEMBERS, SCHOOL, cmd, reason_of


def uc(book: PolicyBook) -> RoomUseCases:
    counter = itertools.count()
    return RoomUseCases(
        rooms=FakeRooms(),
        directory=FakeDirectory(MEMBERS),
        tokens=HmacJoinTokenCodec(b"k" * 32),
        ice=NoIce(),
        clock=FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC)),
        room_ids=lambda scope, actor, req: f"room-{actor}-{req}-{next(counter)}",
        policies=book,
    )


def call(invited: str):  # type: ignore[no-untyped-def]
    return cmd(RoomKind.CALL, invited_user_ids=(invited,), request_id=f"r-{invited}")


async def test_each_switch_closes_its_calls_and_restoring_it_opens_them_again() -> None:
    book = PolicyBook()
    rooms = uc(book)
    await rooms.create_room(call("petya"), "misha")  # classmates, by default
    await rooms.create_room(call("oleg"), "anna")  # parents of one class
    await rooms.create_room(call("misha"), "tanya")  # the class head calls a student

    book.apply(SCHOOL, SchoolPolicy(students_reach_classmates=False), 2)
    assert await reason_of(rooms.create_room(call("petya"), "misha")) == "CONTACT_NOT_ALLOWED"
    await rooms.create_room(call("misha"), "tanya")
    book.apply(SCHOOL, SchoolPolicy(parents_reach_parents=False), 3)
    assert await reason_of(rooms.create_room(call("oleg"), "anna")) == "CONTACT_NOT_ALLOWED"
    await rooms.create_room(call("petya"), "misha")  # that switch is back on
    book.apply(SCHOOL, SchoolPolicy(calls_with_students=False), 4)
    assert await reason_of(rooms.create_room(call("misha"), "tanya")) == "CONTACT_NOT_ALLOWED"
    await rooms.create_room(call("misha"), "anna")  # a guardian still calls her own child

    book.apply(SCHOOL, DEFAULT_POLICY, 5)
    await rooms.create_room(call("misha"), "tanya")


async def test_an_existing_call_is_judged_by_the_policy_at_join() -> None:
    book = PolicyBook()
    rooms = uc(book)
    room = await rooms.create_room(call("petya"), "misha")
    await rooms.create_join_token(room.room_id, "petya")
    book.apply(SCHOOL, SchoolPolicy(students_reach_classmates=False), 2)
    assert await reason_of(rooms.create_join_token(room.room_id, "petya")) == "CONTACT_NOT_ALLOWED"
    assert await reason_of(rooms.get_room(room.room_id, "petya")) == "CONTACT_NOT_ALLOWED"
    # Another school's policy changes nothing here.
    book.apply("school-2", SchoolPolicy(students_reach_classmates=True), 9)
    book.apply(SCHOOL, DEFAULT_POLICY, 3)
    await rooms.create_join_token(room.room_id, "petya")


def test_the_snapshot_maps_onto_the_policy_and_unset_means_default() -> None:
    assert school_policy(school_pb.CommunicationPolicy()) == DEFAULT_POLICY
    strict = school_pb.CommunicationPolicy(calls_with_students=False, parents_reach_parents=True)
    assert school_policy(strict) == SchoolPolicy(calls_with_students=False)
