"""School's policy in chat's projection: SchoolCreated/SchoolUpdated carry it, the newest aggregate
version wins in the replica's in-memory book, a snapshot from before policies existed means the
defaults, and a change re-judges the school's groups (classmates in one group become a conflict)."""

from __future__ import annotations

from datetime import UTC, datetime

from chat.api.consumers import ProvisioningHandler
from chat.app.provisioning import Provisioning
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant, Member
from chat.domain.provisioning import ClassRole, Membership, Profile, SchoolInfo, SchoolRole
from google.protobuf.message import Message
from parta.school.v1 import events_pb2 as school_pb
from parta_common.events.envelope import make_envelope
from parta_common.safety import DEFAULT_POLICY, PolicyBook, SchoolPolicy
from parta_common.testing.fakes import FakeClock

from tests.chat.unit.fakes import Fakes

SCHOOL = "s1"
GROUP = "grp-1"


class Store:
    """What school_changed touches: the school projection, the school's chats, a group's people
    (chats and members in chat's in-memory fakes, tests/chat/unit/fakes.py)."""

    def __init__(self, fakes: Fakes) -> None:
        self.schools: dict[str, tuple[int, SchoolInfo]] = {}
        self.chats = fakes.chats.rows
        self.chats[GROUP] = Chat(GROUP, SCHOOL, ChatKind.GROUP, "Chess club", created_by="head")
        self.people = {"ann": "5A", "bob": "5A"}
        for user in self.people:
            added = {"added": Grant.ADDED}
            fakes.members.rows[GROUP, user] = Member(GROUP, user, {Grant.ADDED}, keyed=added, rev=1, school_id=SCHOOL)

    async def profile(self, user_id: str) -> Profile | None:
        return None

    async def school(self, school_id: str) -> SchoolInfo | None:
        known = self.schools.get(school_id)
        return known[1] if known else None

    async def put_school(self, school: SchoolInfo, version: int) -> bool:
        known = self.schools.get(school.school_id)
        if known is not None and known[0] >= version:
            return False
        self.schools[school.school_id] = (version, school)
        return True

    async def memberships_of(self, school_id: str, user_id: str) -> list[Membership]:
        class_id = self.people[user_id]
        return [
            Membership(f"m-{user_id}", school_id, user_id, SchoolRole.STUDENT, "", ClassRole.NONE),
            Membership(f"c-{user_id}", school_id, user_id, SchoolRole.STUDENT, class_id, ClassRole.STUDENT),
        ]


def _event(payload: Message, version: int):  # type: ignore[no-untyped-def]
    return make_envelope(
        payload,
        aggregate_type="school",
        aggregate_id=SCHOOL,
        aggregate_version=version,
        producer="school",
        occurred_at=datetime(2026, 9, 1, tzinfo=UTC),
    )


def _snapshot(**switches: bool) -> school_pb.SchoolSnapshot:
    snap = school_pb.SchoolSnapshot(school_id=SCHOOL, name="School 7", timezone="Europe/Moscow")
    for name, value in switches.items():
        setattr(snap.communication_policy, name, value)
    return snap


def _world() -> tuple[ProvisioningHandler, Store, PolicyBook]:
    fakes, book = Fakes(), PolicyBook()
    store = Store(fakes)
    clock = FakeClock(datetime(2026, 9, 1, tzinfo=UTC))
    provisioning = Provisioning(fakes.chats, fakes.members, fakes.messages, store, store, clock, lambda: None, book)
    return ProvisioningHandler(provisioning), store, book


async def test_an_older_snapshot_means_the_defaults_and_the_newest_version_wins() -> None:
    handler, store, book = _world()
    await handler.handle(_event(school_pb.SchoolCreated(school=_snapshot()), 1))
    assert book.get(SCHOOL) == DEFAULT_POLICY
    strict = SchoolPolicy(students_reach_classmates=False)
    await handler.handle(_event(school_pb.SchoolUpdated(school=_snapshot(students_reach_classmates=False)), 3))
    assert book.get(SCHOOL) == strict
    assert store.schools[SCHOOL][1].policy == strict  # the durable projection PolicySync reloads
    # A late, older event (and a replay of version 1) changes nothing.
    await handler.handle(_event(school_pb.SchoolUpdated(school=_snapshot(students_reach_classmates=True)), 2))
    await handler.handle(_event(school_pb.SchoolCreated(school=_snapshot()), 1))
    assert book.get(SCHOOL) == strict


async def test_a_policy_change_rejudges_the_schools_groups_and_switching_back_clears_it() -> None:
    handler, store, _book = _world()
    await handler.handle(_event(school_pb.SchoolCreated(school=_snapshot()), 1))
    assert store.chats[GROUP].contact_conflicts == ()
    await handler.handle(_event(school_pb.SchoolUpdated(school=_snapshot(students_reach_classmates=False)), 2))
    assert store.chats[GROUP].contact_conflicts == ("ann", "bob")
    await handler.handle(_event(school_pb.SchoolUpdated(school=_snapshot(students_reach_classmates=True)), 3))
    assert store.chats[GROUP].contact_conflicts == ()
