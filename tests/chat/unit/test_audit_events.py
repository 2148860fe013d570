"""What chat tells the audit trail (docs/audit.md): a deletion carries a seal of the deleted text and
file ids (and never the text), mutes, reports, removals and settings changes name who did them; the
protobuf payloads carry it, and chat's live streams do not show who removed a member."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from chat.config import ChatSettings
from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant
from chat.domain.provisioning import ClassRole, Profile, SchoolRole
from chat.domain.sealing import Sealer
from chat.pb import event_payload, live_update
from parta.chat.v1 import events_pb2 as pb
from pydantic import ValidationError

from tests.chat.unit.fakes import Fakes, seat, seed_chat
from tests.chat.unit.test_messages import CLASS, SCHOOL

KEY = b"k" * 32


async def _world(sealer: Sealer | None) -> Fakes:
    f = Fakes(sealer=sealer)
    f.facts.memberships += [
        seat(SCHOOL, "ada", SchoolRole.ADMIN),
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "bob", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
    ]
    f.facts.profiles.update({u: Profile(u, u.title()) for u in ("ada", "tom", "ann", "bob")})
    chat = Chat(CLASS, SCHOOL, ChatKind.CLASS, "5A", class_id="5A")
    await seed_chat(f, chat, {"tom": Grant.CLASS_HEAD, "ann": Grant.STUDENT, "bob": Grant.STUDENT})
    return f


def _of(f: Fakes, kind: type) -> list:
    return [e for e in f.events() + [e for _, es in f.reports.writes for e in es] if isinstance(e, kind)]


async def test_a_deletion_is_sealed_and_the_seal_matches_only_what_was_deleted() -> None:
    sealer = Sealer(KEY, "k7")
    f = await _world(sealer)
    sent = (await f.app.messages.send_message("bob", CLASS, "c-1", "meet me after school")).message
    await f.app.messages.delete_message("bob", CLASS, sent.seq)
    [deleted] = _of(f, ev.MessageDeleted)
    assert deleted.deleted_by == "bob" and deleted.seal is not None and deleted.seal.key_id == "k7"
    assert sealer.matches(deleted.seal.value, sent)
    assert not sealer.matches(deleted.seal.value, replace(sent, text="meet me after school!"))
    assert not Sealer(b"x" * 32, "k7").matches(deleted.seal.value, sent)  # another key
    # On the bus: the seal and its key id, never the text.
    _type, _id, _version, payload = event_payload(deleted)
    assert isinstance(payload, pb.MessageDeleted)
    assert (payload.content_seal, payload.seal_key_id) == (deleted.seal.value, "k7")
    assert len(payload.content_seal) == 64 and b"meet me" not in payload.SerializeToString()


async def test_a_moderators_deletion_is_sealed_too_and_without_a_key_there_is_no_seal() -> None:
    sealer = Sealer(KEY, "k1")
    f = await _world(sealer)
    sent = (await f.app.messages.send_message("bob", CLASS, "c-1", "you are stupid")).message
    report_id = await f.app.moderation.report("ann", CLASS, sent.seq, "insult")
    from chat.domain.moderation import ReportAction

    await f.app.moderation.act("ada", report_id, [ReportAction.DELETE_MESSAGE], "insult", 0)
    [deleted] = _of(f, ev.MessageDeleted)
    assert deleted.deleted_by == "ada" and deleted.seal is not None and sealer.matches(deleted.seal.value, sent)

    plain = await _world(None)
    sent = (await plain.app.messages.send_message("bob", CLASS, "c-1", "hi")).message
    await plain.app.messages.delete_message("bob", CLASS, sent.seq)
    [deleted] = _of(plain, ev.MessageDeleted)
    assert deleted.seal is None
    payload = event_payload(deleted)[3]
    assert isinstance(payload, pb.MessageDeleted) and payload.content_seal == "" and payload.seal_key_id == ""


def test_the_seal_covers_file_ids_and_binds_the_message_and_the_key_stays_out_of_sight() -> None:
    from chat.domain.messages import Message
    from parta_common.testing.fakes import FakeClock

    at = FakeClock().now()
    m = Message(CLASS, "m-1", 3, 3, SCHOOL, "bob", "look", at, file_ids=["f-1", "f-2"])
    sealer = Sealer(KEY, "k1")
    seal = sealer.seal(m).value
    assert sealer.matches(seal, m)
    assert not sealer.matches(seal, replace(m, file_ids=["f-1"]))
    assert not sealer.matches(seal, replace(m, message_id="m-2"))  # another message, same content
    assert "kkkk" not in repr(sealer)
    with pytest.raises(ValueError):
        Sealer(b"short", "k1")


def test_production_requires_a_sealing_key_of_32_bytes() -> None:
    base = {
        "mongodb_uri": "mongodb://x",
        "mongodb_database": "parta_chat",
        "kafka_bootstrap": "kafka:9092",
        "grpc_host": "0.0.0.0",
    }
    with pytest.raises(ValidationError, match="CHAT_SEALING_KEY is required"):
        ChatSettings(environment="production", **base)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        ChatSettings(sealing_key="short", **base)
    settings = ChatSettings(environment="production", sealing_key="s" * 32, sealing_key_id="2027-01", **base)
    sealer = settings.sealer()
    assert sealer is not None and sealer.key_id == "2027-01"
    assert "s" * 32 not in repr(settings) and "s" * 32 not in str(settings.model_dump())
    assert ChatSettings(**base).sealer() is None


async def test_mutes_and_unmutes_name_the_moderator() -> None:
    f = await _world(None)
    until = await f.app.moderation.mute("tom", CLASS, "bob", 600)
    await f.app.moderation.mute("tom", CLASS, "bob", 0)
    first, second = _of(f, ev.MemberMuted)
    assert (first.user_id, first.by, first.school_id, first.until) == ("bob", "tom", SCHOOL, until)
    assert until == f.clock.now() + timedelta(seconds=600)
    assert second.until is None and second.by == "tom"
    payload = event_payload(first)[3]
    assert isinstance(payload, pb.MemberMuted)
    assert (payload.muted_by_user_id, payload.user_id, payload.chat_id) == ("tom", "bob", CLASS)
    assert payload.muted_until.ToDatetime().timestamp() == pytest.approx(until.timestamp())
    assert not event_payload(second)[3].HasField("muted_until")  # type: ignore[attr-defined]


async def test_a_report_is_published_once_without_its_reason() -> None:
    f = await _world(None)
    sent = (await f.app.messages.send_message("bob", CLASS, "c-1", "you are stupid")).message
    report_id = await f.app.moderation.report("ann", CLASS, sent.seq, "he insults me")
    assert await f.app.moderation.report("ann", CLASS, sent.seq, "he insults me") == report_id  # a repeat
    [reported] = _of(f, ev.MessageReported)
    payload = event_payload(reported)[3]
    assert isinstance(payload, pb.MessageReported)
    assert (payload.report_id, payload.reporter_user_id, payload.author_user_id, payload.seq) == (
        report_id,
        "ann",
        "bob",
        sent.seq,
    )
    assert payload.message_id == sent.message_id and payload.school_id == SCHOOL
    wire = payload.SerializeToString()
    assert b"insults" not in wire and b"stupid" not in wire


async def test_a_removal_from_a_group_names_the_remover_for_the_trail_but_not_on_live_streams() -> None:
    f = await _world(None)
    group = await f.app.chats.create_group_chat("tom", "r-1", SCHOOL, "Chess", "", ["ann", "bob"])
    await f.app.chats.remove_member("tom", group.chat.chat_id, "bob")
    await f.app.chats.remove_member("ann", group.chat.chat_id, "ann")  # leaves herself
    removals = _of(f, ev.MemberRemoved)
    assert [(r.user_id, r.by, r.school_id) for r in removals] == [("bob", "tom", SCHOOL), ("ann", "ann", SCHOOL)]
    payload = event_payload(removals[0])[3]
    assert isinstance(payload, pb.MemberRemoved) and payload.removed_by_user_id == "tom"
    update = live_update(pb.MemberRemoved.DESCRIPTOR.full_name, payload.SerializeToString())
    assert update is not None
    assert update.event.member_removed.user_id == "bob"
    assert update.event.member_removed.removed_by_user_id == ""


async def test_settings_changes_and_pins_name_who_made_them() -> None:
    f = await _world(None)
    sent = (await f.app.messages.send_message("tom", CLASS, "c-1", "homework")).message
    await f.app.chats.update_chat("tom", CLASS, None, None, 30)
    await f.app.chats.pin("tom", CLASS, sent.seq, True)
    assert [u.by for u in _of(f, ev.ChatUpdated)] == ["tom", "tom"]
    payload = event_payload(_of(f, ev.ChatUpdated)[0])[3]
    assert isinstance(payload, pb.ChatUpdated) and payload.changed_by_user_id == "tom"
