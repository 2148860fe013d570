"""The rule book in chat on the real store and Kafka: leaving ends access to the school's DMs,
groups and files at once; unverified staff, profile-less accounts and students holding a teacher
seat get no more than the rules allow; a group whose pair stops being allowed takes no writes;
read positions go only to their owner (docs/safety.md)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2

from tests.chat.integration.test_files import upload_parts
from tests.chat.support import (
    CPARENT,
    CSTUDENT,
    HEAD,
    PARENT,
    STUDENT,
    TEACHER,
    Collector,
    World,
    chat_ids,
    eventually,
    uid,
)


def reason_of_error(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def reason(err: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> tuple[grpc.StatusCode, str]:
    return err.value.code(), reason_of_error(err.value)


async def refused(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return reason(err)


async def setup(world: World):  # type: ignore[no-untyped-def]
    school = world.school()
    await school.create()
    class_id, other_class = uid("c"), uid("c")
    await school.add_class(class_id)
    await school.add_class(other_class, title="6B")
    p = {name: world.person() for name in ("head", "ann", "bob", "pam")}
    await school.member(p["head"].user_id, TEACHER, class_id, HEAD)
    await school.member(p["ann"].user_id, STUDENT, class_id, CSTUDENT)
    await school.member(p["bob"].user_id, STUDENT, class_id, CSTUDENT)
    await school.member(p["pam"].user_id, PARENT, class_id, CPARENT, child=p["ann"].user_id)
    stubs = world.replicas[0].stubs
    for name in p:
        await eventually(lambda name=name: _in(stubs, p[name], f"sch-{school.school_id}"))
    # The class's chats too: ClassCreated comes on another topic and may land after the seats (under
    # load a test that wrote into the class chat at once met NOT_A_MEMBER).
    for name, chat_id in (("head", f"cls-{class_id}"), ("ann", f"cls-{class_id}"), ("bob", f"cls-{class_id}")):
        await eventually(lambda name=name, chat_id=chat_id: _in(stubs, p[name], chat_id))
    await eventually(lambda: _in(stubs, p["pam"], f"par-{class_id}"))
    return school, class_id, other_class, p


async def _in(stubs, person, chat_id):  # type: ignore[no-untyped-def]
    return chat_id in await chat_ids(stubs, person)


def send(chat_id: str, key: str, text: str = "hi", files: list[str] | None = None) -> chat_pb2.SendMessageRequest:
    return chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=key, text=text, file_ids=files or [])


async def test_a_removed_teacher_loses_the_schools_dms_groups_files_and_streams(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    school, class_id, _other, p = await setup(world)
    head, ann = p["head"], p["ann"]
    dm = (
        await a.chat.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=ann.user_id), metadata=head.md
        )
    ).chat.chat.chat_id
    group = (
        await a.chat.CreateGroupChat(
            chat_pb2.CreateGroupChatRequest(
                request_id="g1", school_id=school.school_id, title="Maths club", member_user_ids=[ann.user_id]
            ),
            metadata=head.md,
        )
    ).chat.chat.chat_id
    upload = await a.files.UploadFile(iter(upload_parts("f1", b"worksheet")), metadata=ann.md)
    file_id = upload.file.file_id
    await a.chat.SendMessage(send(group, "with-file", files=[file_id]), metadata=ann.md)
    stream = await Collector(b, head).ready()
    try:
        await school.member(head.user_id, TEACHER, class_id, HEAD, left=True, reason="removed")
        removed = lambda: {e.chat_id for e in stream.events if e.WhichOneof("event") == "chat_removed"}  # noqa: E731
        await eventually(lambda: _async(removed() >= {dm, group}))
    finally:
        await stream.close()
    for chat_id, key in ((dm, "after-1"), (group, "after-2")):
        assert await refused(a.chat.SendMessage(send(chat_id, key), metadata=head.md)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "NOT_A_MEMBER",
        )
    add = chat_pb2.AddMembersRequest(chat_id=group, user_ids=[p["bob"].user_id])
    assert (await refused(a.chat.AddMembers(add, metadata=head.md)))[1] == "NOT_A_MEMBER"
    download = b.files.DownloadFile(chat_pb2.DownloadFileRequest(file_id=file_id), metadata=head.md)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in download:
            pass
    assert reason(err) == (grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")
    # The child sees the DM read-only; the group goes on without him.
    assert await refused(a.chat.SendMessage(send(dm, "reply"), metadata=ann.md)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "CHAT_READ_ONLY",
    )
    await a.chat.SendMessage(send(group, "still-here"), metadata=ann.md)


async def _async(value: object) -> object:
    return value


async def test_unverified_staff_profile_less_accounts_and_students_with_teacher_seats(world: World) -> None:
    a = world.replicas[0].stubs
    school, class_id, other_class, p = await setup(world)
    una, nop, sam = world.person(), world.person(), world.person()
    await school.member(una.user_id, TEACHER, class_id, HEAD, verified=False, membership_id=f"m-{una.user_id}")
    await school.member(nop.user_id, STUDENT, class_id, CSTUDENT, profile=False)
    await school.member(sam.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(sam.user_id, TEACHER, other_class, HEAD)
    staff = f"stf-{school.school_id}"
    await eventually(lambda: _in(a, una, staff))
    await eventually(lambda: _in(a, nop, f"cls-{class_id}"))
    await eventually(lambda: _in(a, sam, f"cls-{class_id}"))
    open_dm = chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=p["ann"].user_id)
    group = chat_pb2.CreateGroupChatRequest(
        request_id="g", school_id=school.school_id, title="t", member_user_ids=[p["ann"].user_id]
    )
    assert (await refused(a.chat.OpenDirectChat(open_dm, metadata=una.md)))[1] == "STAFF_NOT_VERIFIED"
    assert (await refused(a.chat.CreateGroupChat(group, metadata=una.md)))[1] == "STAFF_NOT_VERIFIED"
    assert (await refused(a.chat.SendMessage(send(staff, "s1"), metadata=una.md)))[1] == "STAFF_NOT_VERIFIED"
    assert await refused(a.chat.SendMessage(send(f"cls-{class_id}", "n1"), metadata=nop.md)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PROFILE_MISSING",
    )
    # sam is a student: the teacher seat gives no staff channel and no groups.
    assert staff not in await chat_ids(a, sam)
    assert (await refused(a.chat.CreateGroupChat(group, metadata=sam.md)))[1] == "NOT_STAFF"
    # An admin verifies una (school re-publishes her seat verified): she posts and DMs.
    await school.member(una.user_id, TEACHER, class_id, HEAD, membership_id=f"m-{una.user_id}", changed=True)

    async def posted() -> bool:
        try:
            await a.chat.SendMessage(send(staff, "s2"), metadata=una.md)
        except grpc.aio.AioRpcError:
            return False
        return True

    await eventually(posted)
    await a.chat.OpenDirectChat(open_dm, metadata=una.md)


async def test_a_group_whose_pair_is_no_longer_allowed_takes_no_writes(world: World) -> None:
    a = world.replicas[0].stubs
    school, class_id, other_class, p = await setup(world)
    head, ann, pam = p["head"], p["ann"], p["pam"]
    group = (
        await a.chat.CreateGroupChat(
            chat_pb2.CreateGroupChatRequest(
                request_id="fam", school_id=school.school_id, title="Ann's family",
                member_user_ids=[ann.user_id, pam.user_id],
            ),
            metadata=head.md,
        )
    ).chat.chat.chat_id  # fmt: skip
    # Putting a classmate's parent next to the child is refused outright (finding 3).
    bob_parent = world.person()
    await school.member(bob_parent.user_id, PARENT, class_id, CPARENT, child=p["bob"].user_id)
    await eventually(lambda: _in(a, bob_parent, f"par-{class_id}"))
    add = chat_pb2.AddMembersRequest(chat_id=group, user_ids=[bob_parent.user_id])
    assert (await refused(a.chat.AddMembers(add, metadata=head.md)))[1] == "CONTACT_NOT_ALLOWED"
    await a.chat.SendMessage(send(group, "p1"), metadata=pam.md)
    # ann moves to 6B, which head does not teach: head and ann are no longer an allowed pair.
    await school.member(
        ann.user_id, STUDENT, other_class, CSTUDENT, membership_id=f"m-{ann.user_id}-{class_id}-{CSTUDENT}",
        changed=True,
    )  # fmt: skip

    async def blocked() -> bool:
        try:  # a new key per try: a retry of an accepted message would get the first result back
            await a.chat.SendMessage(send(group, uid("p")), metadata=pam.md)
        except grpc.aio.AioRpcError as exc:
            return reason_of_error(exc) == "CONTACT_NOT_ALLOWED"
        return False

    await eventually(blocked)
    view = await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=group), metadata=pam.md)
    assert not view.chat.can_post
    # The moderator takes ann out; the rest may write again.
    await a.chat.RemoveMember(chat_pb2.RemoveMemberRequest(chat_id=group, user_id=ann.user_id), metadata=head.md)
    await a.chat.SendMessage(send(group, "p3"), metadata=pam.md)


async def test_read_positions_go_only_to_their_owner(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    _school, class_id, _other, p = await setup(world)
    chat_id = f"cls-{class_id}"
    sent = await a.chat.SendMessage(send(chat_id, "r1"), metadata=p["head"].md)
    ann_stream, bob_stream = await Collector(b, p["ann"]).ready(), await Collector(a, p["bob"]).ready()
    try:
        await a.chat.MarkRead(chat_pb2.MarkReadRequest(chat_id=chat_id, seq=sent.message.seq), metadata=p["bob"].md)

        def reads(c: Collector) -> list[str]:
            return [e.read.user_id for e in c.events if e.WhichOneof("event") == "read"]

        await eventually(lambda: _async(reads(bob_stream) == [p["bob"].user_id]))
        # A later message reaches ann, so her stream is past the read update: it was not sent to her.
        later = await a.chat.SendMessage(send(chat_id, "r2"), metadata=p["head"].md)
        await eventually(lambda: _async(any(m.seq == later.message.seq for m in ann_stream.messages(chat_id))))
        assert reads(ann_stream) == []
        count = await a.chat.GetReadCount(
            chat_pb2.GetReadCountRequest(chat_id=chat_id, seq=sent.message.seq), metadata=p["head"].md
        )
        assert count.read_count == 1
    finally:
        await ann_stream.close()
        await bob_stream.close()
