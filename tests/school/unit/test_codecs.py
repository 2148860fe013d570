"""school/codecs.py: the API's messages and the event snapshots carry an aggregate's shared fields
alike (each mapped once), and what only one of them has stays in that one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from google.protobuf.message import Message
from parta_common.safety import SchoolPolicy
from school import codecs
from school.domain.classes import SchoolClass
from school.domain.invites import Invite
from school.domain.memberships import SchoolRole
from school.domain.schools import School

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def _shared(a: Message, b: Message) -> tuple[dict[str, object], dict[str, object]]:
    names = {f.name for f in a.DESCRIPTOR.fields} & {f.name for f in b.DESCRIPTOR.fields}
    return ({n: getattr(a, n) for n in names}, {n: getattr(b, n) for n in names})


def test_a_school_response_and_its_snapshot_agree_on_every_shared_field():
    school = School(
        "s1",
        "Школа № 17",
        "17",
        "Москва",
        "ул. Ленина, 1",
        "Europe/Moscow",
        "2026/2027",
        "room",
        workday_start_minute=480,
        workday_end_minute=1080,
        created_at=NOW,
        admin_vacant_since=NOW,
        policy=SchoolPolicy(calls_with_students=False),
    )
    api, snapshot = codecs.school_message(school), codecs.school_pb(school)
    left, right = _shared(api, snapshot)
    assert left == right and left["name"] == "Школа № 17" and left["workday_end_minute"] == 1080
    assert api.admin_vacant and api.admin_vacant_since.seconds == int(NOW.timestamp())
    assert snapshot.communication_policy.HasField("calls_with_students")
    assert not snapshot.communication_policy.calls_with_students
    assert not codecs.school_message(replace(school, admin_vacant_since=None)).HasField("admin_vacant_since")


def test_a_class_and_an_invite_map_alike_on_both_edges():
    klass = SchoolClass("c1", "s1", 5, "а", "5а", "2026/2027", archived=True)
    left, right = _shared(codecs.class_message(klass), codecs.class_pb(klass))
    assert left == right and left["archived"] and left["title"] == "5а"
    invite = Invite("i1", "s1", "c1", SchoolRole.STUDENT, "", NOW, 10, 3, True, False, "irina", NOW)
    api, snapshot = codecs.invite_message(invite), codecs.invite_pb(invite)
    left, right = _shared(api, snapshot)
    assert left == right and left["role"] == int(SchoolRole.STUDENT) and left["requires_approval"]
    assert api.uses == 3 and "uses" not in {f.name for f in snapshot.DESCRIPTOR.fields}
