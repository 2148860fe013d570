"""Direct messages by the school's policy, quiet hours, consent, moderation and lesson system messages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from aiokafka.structs import RecordMetadata
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import events_pb2 as chat_events
from parta.identity.v1 import events_pb2 as identity_pb
from parta_common.events.topics import IDENTITY_USER

from tests.chat.support import (
    ADMIN,
    CPARENT,
    CSTUDENT,
    HEAD,
    PARENT,
    STUDENT,
    TEACHER,
    Collector,
    World,
    chat_ids,
    consumed,
    eventually,
    uid,
)


async def setup(world: World):  # type: ignore[no-untyped-def]
    school = world.school()
    await school.create(start=8 * 60, end=18 * 60, tz="Europe/Moscow")
    class_id = uid("c")
    await school.add_class(class_id)
    p = {name: world.person() for name in ("admin", "head", "ann", "bob", "pam", "stranger")}
    await school.member(p["admin"].user_id, ADMIN)
    await school.member(p["head"].user_id, TEACHER, class_id, HEAD)
    await school.member(p["ann"].user_id, STUDENT, class_id, CSTUDENT)
    await school.member(p["bob"].user_id, STUDENT, class_id, CSTUDENT)
    await school.member(p["pam"].user_id, PARENT, class_id, CPARENT, child=p["ann"].user_id)
    other = world.school()
    await other.create()
    await other.member(p["stranger"].user_id, TEACHER)
    stubs = world.replicas[0].stubs
    await eventually(lambda: _in(stubs, p["pam"], f"par-{class_id}"))
    await eventually(lambda: _in(stubs, p["stranger"], f"stf-{other.school_id}"))
    return school, class_id, p


async def _in(stubs, person, chat_id):  # type: ignore[no-untyped-def]
    return chat_id in await chat_ids(stubs, person)


def code(exc: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> grpc.StatusCode:
    return exc.value.code()


async def test_direct_messages_follow_the_policy(world: World) -> None:
    a = world.replicas[0].stubs
    school, _class_id, p = await setup(world)
    sid = school.school_id
    dm = await a.chat.OpenDirectChat(
        chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=p["bob"].user_id), metadata=p["ann"].md
    )
    again = await a.chat.OpenDirectChat(
        chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=p["ann"].user_id), metadata=p["bob"].md
    )
    assert dm.chat.chat.chat_id == again.chat.chat.chat_id and dm.chat.peer_user_id == p["bob"].user_id
    for sender, target in (("stranger", "ann"), ("admin", "ann"), ("ann", "pam_other")):
        if target not in p:
            continue
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await a.chat.OpenDirectChat(
                chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=p[target].user_id), metadata=p[sender].md
            )
        assert code(err) == grpc.StatusCode.PERMISSION_DENIED
    await a.chat.OpenDirectChat(
        chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=p["ann"].user_id), metadata=p["pam"].md
    )
    # A third person cannot read or write the DM.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=dm.chat.chat.chat_id), metadata=p["pam"].md)
    assert code(err) == grpc.StatusCode.PERMISSION_DENIED


async def test_parent_message_at_night_is_held_until_morning(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    school, _class_id, p = await setup(world)
    dm = (
        await a.chat.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=p["head"].user_id), metadata=p["pam"].md
        )
    ).chat.chat.chat_id
    teacher = await Collector(b, p["head"]).ready()
    night = datetime(2026, 9, 1, 23, 0, tzinfo=UTC) - timedelta(hours=3)  # 23:00 in Moscow
    world.clock.fixed = night
    try:
        sent = await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=dm, client_message_id="late", text="is homework due?"),
            metadata=p["pam"].md,
        )
        morning = datetime(2026, 9, 2, 5, 0, tzinfo=UTC)  # 08:00 in Moscow
        assert sent.deliver_at.ToDatetime(tzinfo=UTC) == morning
        # A parent's urgent message must say why (the rest of urgent: test_report_queue.py).
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await a.chat.SendMessage(
                chat_pb2.SendMessageRequest(chat_id=dm, client_message_id="u", text="urgent!", urgent=True),
                metadata=p["pam"].md,
            )
        assert code(err) == grpc.StatusCode.INVALID_ARGUMENT
        # The teacher sees nothing: neither live nor in history.
        ok = await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=f"stf-{school.school_id}", client_message_id="x", text="staff note"),
            metadata=p["admin"].md,
        )
        await eventually(lambda: _got(teacher, ok.message.chat_id))
        assert teacher.messages(dm) == []
        history = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=dm), metadata=p["head"].md)
        assert list(history.messages) == []
        mine = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=dm), metadata=p["pam"].md)
        assert [m.text for m in mine.messages] == ["is homework due?"]
        # Morning comes: the release worker delivers it to the teacher's live stream.
        world.clock.fixed = morning + timedelta(minutes=1)
        await eventually(lambda: _got(teacher, dm))
        assert [m.text for m in teacher.messages(dm)] == ["is homework due?"]
    finally:
        world.clock.fixed = None
        await teacher.close()


async def _got(collector: Collector, chat_id: str) -> bool:
    return bool(collector.messages(chat_id))


async def test_awaiting_guardian_cannot_send(world: World) -> None:
    a = world.replicas[0].stubs
    _school, class_id, p = await setup(world)
    await world.profile(p["bob"].user_id, 5, awaiting=True)

    async def refused() -> bool:
        try:
            await a.chat.SendMessage(
                chat_pb2.SendMessageRequest(chat_id=f"cls-{class_id}", client_message_id=uid(), text="hi"),
                metadata=p["bob"].md,
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code() == grpc.StatusCode.PERMISSION_DENIED
        return False

    await eventually(refused)
    await world.profile(p["bob"].user_id, 6, awaiting=False)
    await eventually(lambda: _sends(a, p["bob"], f"cls-{class_id}"))


async def test_birthday_lifts_the_guardian_block_and_replays_do_not_restore_it(world: World) -> None:
    """Identity's daily age-band check on a consent-age birthday publishes, in one write,
    ConsentChanged(NOT_REQUIRED) → ProfileAgeBandChanged → ProfileUpdated (consecutive versions of
    the user aggregate). The projection keeps the newest version only, so a redelivered or late
    older record (the blocking snapshot) must not block the child again."""
    a, b = world.replicas[0].stubs, world.replicas[1].stubs
    _school, class_id, p = await setup(world)
    child, chat_id = p["bob"].user_id, f"cls-{class_id}"
    below = dict(consent=identity_pb.CONSENT_STATE_AWAITING_GUARDIAN, band=identity_pb.AGE_BAND_BELOW_CONSENT_AGE)
    minor = dict(consent=identity_pb.CONSENT_STATE_NOT_REQUIRED, band=identity_pb.AGE_BAND_MINOR)
    # v1 UserRegistered (chat ignores it), v2 ProfileCreated, v3 a name edit: still awaiting.
    await _identity(world, identity_pb.ProfileCreated(profile=_snapshot(child, "Lee", **below)), child, 2)
    blocking = identity_pb.ProfileUpdated(profile=_snapshot(child, "Lee-Ray", **below))
    await _identity(world, blocking, child, 3)
    await eventually(lambda: _refused_as_awaiting(a, p["bob"], chat_id))

    # The birthday: ConsentChanged alone already lifts the block …
    await _identity(world, identity_pb.ConsentChanged(user_id=child, consent_state=minor["consent"]), child, 4)
    await eventually(lambda: _sends(a, p["bob"], chat_id))
    # … and the band change and the fresh snapshot that follow keep it lifted (on either replica).
    band = identity_pb.ProfileAgeBandChanged(
        user_id=child,
        age_band=identity_pb.AGE_BAND_MINOR,
        previous_age_band=identity_pb.AGE_BAND_BELOW_CONSENT_AGE,
        consent_state=minor["consent"],
    )
    await _identity(world, band, child, 5)
    await _identity(world, identity_pb.ProfileUpdated(profile=_snapshot(child, "Lee-Ray", **minor)), child, 6)
    store = world.replicas[0].service.store

    async def at_snapshot() -> bool:
        prof = await store.profile(child)
        return prof is not None and not prof.awaiting_guardian and prof.display_name == "Ann Lee-Ray"

    await eventually(at_snapshot)
    assert await _sends(b, p["bob"], chat_id)

    # Redelivery after a consumer restart, then older records arriving late: the whole birthday
    # write again (v4..v6), the ProfileCreated (v2) and, last, the blocking snapshot (v3). Had any
    # of them been applied, the last one would leave the child awaiting a guardian again.
    await _identity(world, identity_pb.ConsentChanged(user_id=child, consent_state=minor["consent"]), child, 4)
    await _identity(world, band, child, 5)
    await _identity(world, identity_pb.ProfileUpdated(profile=_snapshot(child, "Lee-Ray", **minor)), child, 6)
    await _identity(world, identity_pb.ProfileCreated(profile=_snapshot(child, "Lee", **below)), child, 2)
    await consumed(world, await _identity(world, blocking, child, 3))
    prof = await store.profile(child)
    assert prof is not None and not prof.awaiting_guardian and prof.display_name == "Ann Lee-Ray"
    for stubs in (a, b):
        assert await _sends(stubs, p["bob"], chat_id)


def _snapshot(user_id: str, last_name: str, *, consent: int, band: int) -> identity_pb.ProfileSnapshot:
    return identity_pb.ProfileSnapshot(
        user_id=user_id,
        first_name="Ann",
        last_name=last_name,
        is_minor=True,
        consent_state=consent,  # type: ignore[arg-type]
        age_band=band,  # type: ignore[arg-type]
    )


async def _identity(world: World, payload: Message, user_id: str, version: int) -> RecordMetadata:
    return await world.feed(IDENTITY_USER, payload, "user", user_id, version, user_id)


async def _refused_as_awaiting(stubs, person, chat_id):  # type: ignore[no-untyped-def]
    try:
        await stubs.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=uid(), text="hi"), metadata=person.md
        )
    except grpc.aio.AioRpcError as exc:
        return exc.code() == grpc.StatusCode.PERMISSION_DENIED and _reason(exc) == "AWAITING_GUARDIAN"
    return False


def _reason(exc: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(exc)
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


async def _sends(stubs, person, chat_id):  # type: ignore[no-untyped-def]
    try:
        await stubs.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=uid(), text="ok"), metadata=person.md
        )
        return True
    except grpc.aio.AioRpcError:
        return False


async def test_moderation_mute_delete_report_pin_and_settings(world: World) -> None:
    a = world.replicas[0].stubs
    _school, class_id, p = await setup(world)
    chat_id = f"cls-{class_id}"
    sent = await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="r", text="rude"), metadata=p["bob"].md
    )
    seq = sent.message.seq
    report = await a.chat.ReportMessage(
        chat_pb2.ReportMessageRequest(chat_id=chat_id, seq=seq, reason="rude"), metadata=p["ann"].md
    )
    again = await a.chat.ReportMessage(
        chat_pb2.ReportMessageRequest(chat_id=chat_id, seq=seq, reason="rude"), metadata=p["ann"].md
    )
    assert report.report_id == again.report_id
    # Students do not moderate.
    for call, req in (
        (a.chat.MuteMember, chat_pb2.MuteMemberRequest(chat_id=chat_id, user_id=p["bob"].user_id, duration_seconds=60)),
        (a.chat.PinMessage, chat_pb2.PinMessageRequest(chat_id=chat_id, seq=seq, pinned=True)),
        (a.chat.UpdateChat, chat_pb2.UpdateChatRequest(chat_id=chat_id, slow_mode_seconds=10)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(req, metadata=p["ann"].md)
        assert code(err) == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.DeleteMessage(chat_pb2.DeleteMessageRequest(chat_id=chat_id, seq=seq), metadata=p["ann"].md)
    assert code(err) == grpc.StatusCode.PERMISSION_DENIED
    # The class head mutes bob and deletes his message.
    await a.chat.MuteMember(
        chat_pb2.MuteMemberRequest(chat_id=chat_id, user_id=p["bob"].user_id, duration_seconds=600),
        metadata=p["head"].md,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="r2", text="again"), metadata=p["bob"].md
        )
    assert code(err) == grpc.StatusCode.PERMISSION_DENIED
    # A retry of the message bob sent before the mute still returns the first result.
    retry = await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="r", text="rude"), metadata=p["bob"].md
    )
    assert retry.message.seq == seq
    deleted = await a.chat.DeleteMessage(chat_pb2.DeleteMessageRequest(chat_id=chat_id, seq=seq), metadata=p["head"].md)
    assert deleted.message.deleted and deleted.message.text == ""
    pinned = await a.chat.PinMessage(
        chat_pb2.PinMessageRequest(chat_id=chat_id, seq=seq, pinned=True), metadata=p["head"].md
    )
    assert list(pinned.chat.pinned_seqs) == [seq]
    # Slow mode and admins-only posting.
    await a.chat.UpdateChat(chat_pb2.UpdateChatRequest(chat_id=chat_id, slow_mode_seconds=60), metadata=p["head"].md)
    await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="s1", text="one"), metadata=p["ann"].md
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="s2", text="two"), metadata=p["ann"].md
        )
    assert code(err) == grpc.StatusCode.RESOURCE_EXHAUSTED
    await a.chat.UpdateChat(
        chat_pb2.UpdateChatRequest(chat_id=chat_id, slow_mode_seconds=0, posting_policy=2, title="5A official"),
        metadata=p["head"].md,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="s3", text="three"), metadata=p["ann"].md
        )
    assert code(err) == grpc.StatusCode.PERMISSION_DENIED
    view = await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id), metadata=p["ann"].md)
    assert view.chat.chat.title == "5A official" and not view.chat.can_post


def _is_lesson(m: chat_events.MessageSnapshot) -> bool:
    return m.system_note.kind in (chat_events.SYSTEM_KIND_LESSON_STARTED, chat_events.SYSTEM_KIND_LESSON_ENDED)


async def test_lessons_post_system_messages_and_archive_makes_read_only(world: World) -> None:
    a = world.replicas[0].stubs
    school, class_id, p = await setup(world)
    chat_id = f"cls-{class_id}"
    room = uid("r")
    await world.lesson(room, school.school_id, class_id)
    await world.lesson(room, school.school_id, class_id)  # a duplicate delivery
    await world.lesson(room, school.school_id, class_id, ended=True, attended=[p["ann"].user_id, p["bob"].user_id])

    async def system_texts() -> list[str]:
        reply = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id), metadata=p["ann"].md)
        texts = [m.text for m in reply.messages if m.system and _is_lesson(m)]
        return texts if len(texts) >= 2 else []

    texts = await eventually(system_texts)
    assert texts == ["Урок начался: Math", "Урок закончился, присутствовали: 2"]
    await school.add_class(class_id, archived=True)

    async def read_only() -> bool:
        view = await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id), metadata=p["ann"].md)
        return view.chat.chat.read_only

    await eventually(read_only)
    # School ends the seats of an archived class; its members keep reading the read-only chat.
    await school.member(p["ann"].user_id, STUDENT, class_id, CSTUDENT, left=True, reason="class_archived")
    await school.member(p["bob"].user_id, STUDENT, class_id, CSTUDENT, left=True)  # an ordinary leave
    await eventually(lambda: _gone(a, p["bob"], chat_id))
    assert chat_id in await chat_ids(a, p["ann"])
    history = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id), metadata=p["ann"].md)
    assert [m.text for m in history.messages if _is_lesson(m)] == texts
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="x", text="x"), metadata=p["head"].md
        )
    assert code(err) == grpc.StatusCode.FAILED_PRECONDITION


async def _gone(stubs, person, chat_id):  # type: ignore[no-untyped-def]
    return chat_id not in await chat_ids(stubs, person)


async def test_account_deletion_removes_the_member(world: World) -> None:
    a = world.replicas[0].stubs
    _school, class_id, p = await setup(world)
    await world.account_deleted(p["bob"].user_id, 9)

    async def gone() -> bool:
        # Bob's own token is refused at the edge now (the kit's revocation deny-set), so the
        # removal is seen from a remaining member.
        view = await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=f"cls-{class_id}"), metadata=p["ann"].md)
        return view.chat.chat.member_count == 2

    await eventually(gone)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await chat_ids(a, p["bob"])
    assert code(refused) == grpc.StatusCode.UNAUTHENTICATED


async def test_teachers_create_group_chats(world: World) -> None:
    a = world.replicas[0].stubs
    school, _class_id, p = await setup(world)
    req = chat_pb2.CreateGroupChatRequest(
        request_id="g1",
        school_id=school.school_id,
        title="Robotics",
        subject="CS",
        member_user_ids=[p["ann"].user_id, p["bob"].user_id],
    )
    created = await a.chat.CreateGroupChat(req, metadata=p["head"].md)
    again = await a.chat.CreateGroupChat(req, metadata=p["head"].md)
    assert created.chat.chat.chat_id == again.chat.chat.chat_id and created.chat.chat.member_count == 3
    assert created.chat.is_moderator
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.CreateGroupChat(req, metadata=p["ann"].md)
    assert code(err) == grpc.StatusCode.PERMISSION_DENIED
    bad = chat_pb2.CreateGroupChatRequest(
        request_id="g2", school_id=school.school_id, title="X", member_user_ids=[p["stranger"].user_id]
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.CreateGroupChat(bad, metadata=p["head"].md)
    assert code(err) == grpc.StatusCode.INVALID_ARGUMENT


async def test_message_bodies_and_tokens_stay_out_of_the_logs(world: World) -> None:
    from parta_common.testing.fakes import LogCapture

    a = world.replicas[0].stubs
    _school, class_id, p = await setup(world)
    logs = LogCapture("chat")
    secret = "my-secret-body-" + uid()
    chat_id = f"cls-{class_id}"
    sent = await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="s", text=secret), metadata=p["ann"].md
    )
    for call in (
        a.chat.EditMessage(
            chat_pb2.EditMessageRequest(chat_id=chat_id, seq=sent.message.seq, text=secret + "x"), metadata=p["bob"].md
        ),
        a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="t", text=secret + "\x07"),
            metadata=p["ann"].md,
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError):
            await call
    await asyncio.sleep(0.5)
    assert logs.events, "the service logged nothing at all"
    assert secret not in logs.text and p["ann"].token not in logs.text
