"""The recorder's mapping of the events that close docs/audit.md's former gaps: each event becomes
one entry with who did it (actor), whom it concerned and its attributes — and never a date of birth,
a report's reason or a deleted text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit.api.consumers import Recorder
from audit.domain.chain import Record
from google.protobuf.message import Message
from parta.chat.v1 import events_pb2 as chat_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events.envelope import make_envelope
from parta_common.timestamps import ts

from tests.audit.fakes import MemoryDirectory

SCHOOL = "s1"
AT = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def envelope(payload: Message) -> Any:
    return make_envelope(
        payload,
        aggregate_type="t",
        aggregate_id="a",
        aggregate_version=1,
        producer="test",
        occurred_at=AT,
        traceparent="",
    )


async def record(payload: Message, directory: MemoryDirectory | None = None) -> list[Record]:
    got: list[Record] = []

    async def keep(r: Record) -> None:
        got.append(r)

    recorder = Recorder(directory or MemoryDirectory({SCHOOL: {"ann", "pat", "tom", "ada"}}), keep)
    env = envelope(payload)
    await recorder(env)
    for r in got:
        assert r.source == env.event_id
    return got


async def one(payload: Message, directory: MemoryDirectory | None = None) -> Record:
    [entry] = await record(payload, directory)
    assert entry.school_id == SCHOOL
    return entry


def seat(user: str, role: int = school_pb2.SCHOOL_ROLE_STUDENT) -> school_pb2.MembershipSnapshot:
    return school_pb2.MembershipSnapshot(membership_id=f"m-{user}", school_id=SCHOOL, user_id=user, school_role=role)


# ---- chat --------------------------------------------------------------------------------------------


async def test_a_sealed_deletion_records_the_seal_and_its_key_id() -> None:
    m = chat_pb2.MessageSnapshot(chat_id="cls", message_id="m-9", seq=9, sender_user_id="ann", school_id=SCHOOL)
    e = await one(
        chat_pb2.MessageDeleted(message=m, deleted_by_user_id="tom", content_seal="ab" * 32, seal_key_id="k1")
    )
    assert (e.kind, e.actor, e.subjects) == ("chat.message_deleted", "tom", ("ann",))
    assert e.attrs["content"] == "sealed" and e.attrs["content_seal"] == "ab" * 32 and e.attrs["seal_key_id"] == "k1"
    assert e.attrs["by_moderator"] == "true"
    unsealed = await one(chat_pb2.MessageDeleted(message=m, deleted_by_user_id="ann"))
    assert unsealed.attrs["content"] == "not_sealed" and "content_seal" not in unsealed.attrs


async def test_mute_and_unmute_name_the_moderator() -> None:
    until = AT + timedelta(hours=1)
    muted = await one(
        chat_pb2.MemberMuted(
            chat_id="cls",
            school_id=SCHOOL,
            user_id="ann",
            muted_by_user_id="tom",
            muted_until=ts(until),
            muted_at=ts(AT),
        )
    )
    assert (muted.kind, muted.actor, muted.subjects) == ("chat.member_muted", "tom", ("ann",))
    assert muted.attrs == {"chat_id": "cls", "muted_until": until.isoformat()} and muted.occurred_at == AT
    unmuted = await one(chat_pb2.MemberMuted(chat_id="cls", school_id=SCHOOL, user_id="ann", muted_by_user_id="tom"))
    assert (unmuted.kind, unmuted.actor, unmuted.attrs) == ("chat.member_unmuted", "tom", {"chat_id": "cls"})


async def test_a_report_names_the_reporter_and_the_author() -> None:
    e = await one(
        chat_pb2.MessageReported(
            report_id="r-1",
            school_id=SCHOOL,
            chat_id="cls",
            seq=4,
            message_id="m-4",
            author_user_id="ann",
            reporter_user_id="pat",
            reported_at=ts(AT),
        )
    )
    assert (e.kind, e.actor, e.subjects) == ("chat.message_reported", "pat", ("ann",))
    assert e.attrs == {"report_id": "r-1", "chat_id": "cls", "message_id": "m-4", "seq": "4"}


async def test_a_removal_from_a_chat_by_a_person_is_recorded_and_provisioning_is_not() -> None:
    e = await one(chat_pb2.MemberRemoved(chat_id="grp-1", user_id="ann", removed_by_user_id="tom", school_id=SCHOOL))
    assert (e.kind, e.actor, e.subjects, e.attrs) == (
        "chat.member_removed",
        "tom",
        ("ann",),
        {"chat_id": "grp-1", "left": "false"},
    )
    left = await one(chat_pb2.MemberRemoved(chat_id="grp-1", user_id="ann", removed_by_user_id="ann", school_id=SCHOOL))
    assert left.attrs["left"] == "true"
    assert await record(chat_pb2.MemberRemoved(chat_id="grp-1", user_id="ann", school_id=SCHOOL)) == []


async def test_a_settings_change_by_a_person_is_recorded_with_the_settings_now() -> None:
    chat = chat_pb2.ChatSnapshot(
        chat_id="cls",
        school_id=SCHOOL,
        kind=chat_pb2.CHAT_KIND_CLASS,
        posting_policy=chat_pb2.POSTING_POLICY_ADMINS_ONLY,
        slow_mode_seconds=30,
        read_only=True,
        title="5A — secret title",
    )
    e = await one(chat_pb2.ChatUpdated(chat=chat, changed_by_user_id="tom"))
    assert (e.kind, e.actor) == ("chat.settings_changed", "tom")
    assert e.attrs == {
        "chat_id": "cls",
        "chat_kind": "class",
        "posting_policy": "admins_only",
        "slow_mode_seconds": "30",
        "read_only": "true",
        "pinned": "0",
    }
    assert await record(chat_pb2.ChatUpdated(chat=chat)) == []  # provisioning: no person
    direct = chat_pb2.ChatSnapshot(chat_id="dm-1", school_id=SCHOOL, kind=chat_pb2.CHAT_KIND_DIRECT)
    assert await record(chat_pb2.ChatUpdated(chat=direct, changed_by_user_id="ann")) == []  # a pin between two


# ---- school ------------------------------------------------------------------------------------------


async def test_an_invite_used_names_who_used_which_invite() -> None:
    e = await one(
        school_pb2.InviteAccepted(
            invite_id="inv-1",
            school_id=SCHOOL,
            user_id="pat",
            class_id="5A",
            role=school_pb2.SCHOOL_ROLE_PARENT,
            child_user_id="ann",
            requires_approval=True,
            accepted_at=ts(AT),
            created_by_user_id="tom",
        )
    )
    assert (e.kind, e.actor, e.subjects, e.occurred_at) == ("school.invite_used", "pat", ("pat", "ann"), AT)
    assert e.attrs == {
        "invite_id": "inv-1",
        "school_role": "parent",
        "class_id": "5A",
        "child_user_id": "ann",
        "requires_approval": "true",
        "created_by_user_id": "tom",
    }


async def test_revocations_role_changes_removals_and_policy_changes_name_their_actor() -> None:
    invite = school_pb2.InviteSnapshot(invite_id="inv-1", school_id=SCHOOL, created_by_user_id="tom", revoked=True)
    revoked = await one(school_pb2.InviteRevoked(invite=invite, actor_user_id="ada"))
    assert (revoked.kind, revoked.actor, revoked.attrs["created_by_user_id"]) == ("school.invite_revoked", "ada", "tom")

    changed = await one(school_pb2.MemberRoleChanged(membership=seat("tom", 2), actor_user_id="ada"))
    assert (changed.kind, changed.actor, changed.subjects) == ("school.role_changed", "ada", ("tom",))

    removed = await one(school_pb2.MemberLeft(membership=seat("ann"), reason="removed", actor_user_id="tom"))
    assert (removed.kind, removed.actor, removed.attrs["reason"]) == ("school.member_left", "tom", "removed")

    joined = await one(school_pb2.MemberJoined(membership=seat("new")))
    assert joined.actor == ""  # the join's own entry (invite used, request decided) names who

    school = school_pb2.SchoolSnapshot(school_id=SCHOOL)
    school.communication_policy.students_reach_classmates = False
    policy = await one(school_pb2.SchoolUpdated(school=school, actor_user_id="ada"))
    assert (policy.kind, policy.actor, policy.attrs) == (
        "school.settings_updated",
        "ada",
        {"policy.students_reach_classmates": "false"},
    )


# ---- identity ----------------------------------------------------------------------------------------


async def test_a_same_band_birth_date_correction_is_recorded_without_a_date() -> None:
    e = await one(
        identity_pb2.BirthDateCorrected(user_id="ann", corrected_by_user_id="ann", age_band=identity_pb2.AGE_BAND_MINOR)
    )
    assert (e.kind, e.actor, e.subjects, e.attrs) == (
        "identity.birth_date_corrected",
        "ann",
        ("ann",),
        {"age_band": "minor"},
    )


@pytest.mark.parametrize("by", ["pat", "ann"])
async def test_an_unlink_names_who_ended_it(by: str) -> None:
    e = await one(identity_pb2.GuardianUnlinked(guardian_user_id="pat", child_user_id="ann", unlinked_by_user_id=by))
    assert (e.kind, e.actor, e.subjects) == ("identity.guardian_unlinked", by, ("pat", "ann"))


async def test_identity_events_about_people_in_no_known_school_are_not_recorded() -> None:
    nobody = MemoryDirectory({})
    assert await record(identity_pb2.BirthDateCorrected(user_id="x", corrected_by_user_id="x"), nobody) == []
