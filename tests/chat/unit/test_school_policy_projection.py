"""School's policy in chat's projection: SchoolCreated/SchoolUpdated carry it, the newest aggregate
version wins in the replica's in-memory book, a snapshot from before policies existed means the
defaults, and a change re-judges the school's groups (classmates in one group become a conflict)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chat.api.consumers import ProvisioningHandler
from chat.app.provisioning import Provisioning
from chat.domain.model import Chat, ChatKind, ClassRole, Membership, SchoolInfo, SchoolRole
from google.protobuf.message import Message
from parta.school.v1 import events_pb2 as school_pb
from parta_common.events.envelope import make_envelope
from parta_common.safety import DEFAULT_POLICY, PolicyBook, SchoolPolicy
from parta_common.testing.fakes import FakeClock

SCHOOL = "s1"
GROUP = "grp-1"


class Store:
    """What school_changed touches: the school projection, the school's chats, a group's people."""

    def __init__(self) -> None:
        self.schools: dict[str, tuple[int, SchoolInfo]] = {}
        self.chats: dict[str, Chat] = {GROUP: Chat(GROUP, SCHOOL, ChatKind.GROUP, "Chess club", created_by="head")}
        self.people = {"ann": "5A", "bob": "5A"}

    async def put_school(self, school: SchoolInfo, version: int) -> bool:
        known = self.schools.get(school.school_id)
        if known is not None and known[0] >= version:
            return False
        self.schools[school.school_id] = (version, school)
        return True

    async def upsert_chat(self, chat: Chat, *, version: int, event: Any) -> bool:
        self.chats.setdefault(chat.chat_id, chat)
        return True

    async def update_chat(self, chat_id: str, fields: dict[str, object], *, bump: bool) -> Chat | None:
        if "contact_conflicts" in fields:
            fields = {**fields, "contact_conflicts": tuple(fields["contact_conflicts"])}  # type: ignore[arg-type]
        self.chats[chat_id] = replace(self.chats[chat_id], **fields)  # type: ignore[arg-type]
        return self.chats[chat_id]

    async def count_members(self, chat_id: str) -> int:
        return len(self.people) if chat_id == GROUP else 0

    async def group_chat_ids(self, school_id: str) -> list[str]:
        return [c.chat_id for c in self.chats.values() if c.kind is ChatKind.GROUP and c.school_id == school_id]

    async def get_chat(self, chat_id: str) -> Chat | None:
        return self.chats.get(chat_id)

    async def member_ids(self, chat_id: str) -> list[str]:
        return sorted(self.people)

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
    store, book = Store(), PolicyBook()
    provisioning = Provisioning(store, store, FakeClock(datetime(2026, 9, 1, tzinfo=UTC)), lambda: None, book)  # type: ignore[arg-type]
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
