"""The closed contour and role matrix over every RPC, and malformed input that never yields INTERNAL."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from parta.chat.v1 import chat_pb2

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
    eventually,
    uid,
)

OK = grpc.StatusCode.OK
DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
async def school_a(world: World):  # type: ignore[no-untyped-def]
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    p = {n: world.person() for n in ("admin", "head", "student", "parent", "foreign")}
    await school.member(p["admin"].user_id, ADMIN)
    await school.member(p["head"].user_id, TEACHER, class_id, HEAD)
    await school.member(p["student"].user_id, STUDENT, class_id, CSTUDENT)
    await school.member(p["parent"].user_id, PARENT, class_id, CPARENT, child=p["student"].user_id)
    other = world.school()
    await other.create()
    await other.member(p["foreign"].user_id, ADMIN)  # an admin — of another school
    stubs = world.replicas[0].stubs

    async def ready() -> bool:
        return f"par-{class_id}" in await chat_ids(stubs, p["parent"]) and bool(await chat_ids(stubs, p["foreign"]))

    await eventually(ready)
    sent = await stubs.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=f"cls-{class_id}", client_message_id="seed", text="seed"),
        metadata=p["head"].md,
    )
    return school, class_id, p, sent.message.seq


def calls(stubs, chat_id: str, seq: int, school_id: str, target: str):  # type: ignore[no-untyped-def]
    """Every ChatService RPC against one chat; each a fresh coroutine factory."""
    c = stubs.chat
    return {
        "GetChat": lambda md: c.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id), metadata=md),
        "UpdateChat": lambda md: c.UpdateChat(
            chat_pb2.UpdateChatRequest(chat_id=chat_id, slow_mode_seconds=0), metadata=md
        ),
        "AddMembers": lambda md: c.AddMembers(
            chat_pb2.AddMembersRequest(chat_id=chat_id, user_ids=[target]), metadata=md
        ),
        "RemoveMember": lambda md: c.RemoveMember(
            chat_pb2.RemoveMemberRequest(chat_id=chat_id, user_id=target), metadata=md
        ),
        "SendMessage": lambda md: c.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=uid(), text="hi"), metadata=md
        ),
        "EditMessage": lambda md: c.EditMessage(
            chat_pb2.EditMessageRequest(chat_id=chat_id, seq=seq, text="e"), metadata=md
        ),
        "DeleteMessage": lambda md: c.DeleteMessage(
            chat_pb2.DeleteMessageRequest(chat_id=chat_id, seq=10**6), metadata=md
        ),
        "ReactToMessage": lambda md: c.ReactToMessage(
            chat_pb2.ReactToMessageRequest(chat_id=chat_id, seq=seq, emoji="👍", add=True), metadata=md
        ),
        "PinMessage": lambda md: c.PinMessage(
            chat_pb2.PinMessageRequest(chat_id=chat_id, seq=seq, pinned=True), metadata=md
        ),
        "ListMessages": lambda md: c.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id), metadata=md),
        "MarkRead": lambda md: c.MarkRead(chat_pb2.MarkReadRequest(chat_id=chat_id, seq=seq), metadata=md),
        "GetReadCount": lambda md: c.GetReadCount(chat_pb2.GetReadCountRequest(chat_id=chat_id, seq=seq), metadata=md),
        "ReportMessage": lambda md: c.ReportMessage(
            chat_pb2.ReportMessageRequest(chat_id=chat_id, seq=seq), metadata=md
        ),
        "MuteMember": lambda md: c.MuteMember(
            chat_pb2.MuteMemberRequest(chat_id=chat_id, user_id=target, duration_seconds=0), metadata=md
        ),
        "OpenDirectChat": lambda md: c.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=school_id, user_id=target), metadata=md
        ),
        "CreateGroupChat": lambda md: c.CreateGroupChat(
            chat_pb2.CreateGroupChatRequest(request_id=uid(), school_id=school_id, title="t", member_user_ids=[target]),
            metadata=md,
        ),
        # The school's report queue and held messages (school-wide, not per chat).
        "ListReports": lambda md: c.ListReports(chat_pb2.ListReportsRequest(school_id=school_id), metadata=md),
        "ActOnReport": lambda md: c.ActOnReport(
            chat_pb2.ActOnReportRequest(report_id=uid("r"), actions=[chat_pb2.REPORT_ACTION_DISMISS], note="n"),
            metadata=md,
        ),
        "ListHeldMessages": lambda md: c.ListHeldMessages(
            chat_pb2.ListHeldMessagesRequest(school_id=school_id), metadata=md
        ),
        "ReleaseHeldMessage": lambda md: c.ReleaseHeldMessage(
            chat_pb2.ReleaseHeldMessageRequest(chat_id=chat_id, seq=seq), metadata=md
        ),
    }


async def outcome(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    try:
        await call
        return OK
    except grpc.aio.AioRpcError as exc:
        assert exc.code() != grpc.StatusCode.INTERNAL, exc.details()
        return exc.code()


async def test_foreign_school_reaches_nothing(world: World, school_a) -> None:  # type: ignore[no-untyped-def]
    school, class_id, p, seq = school_a
    stubs = world.replicas[1].stubs
    foreign = p["foreign"]
    for chat_id in (
        f"cls-{class_id}",
        f"par-{class_id}",
        f"sch-{school.school_id}",
        f"stf-{school.school_id}",
        "cls-nope",
    ):
        for name, call in calls(stubs, chat_id, seq, school.school_id, p["student"].user_id).items():
            code = await outcome(call(foreign.md))
            assert code in (DENIED, NOT_FOUND), (chat_id, name, code)
    assert not {c for c in await chat_ids(stubs, foreign) if school.school_id in c or class_id in c}
    # Subscribing with cursors of school A's chats yields only "chat_removed" for them, no content.
    sub = await Collector(stubs, foreign, {f"cls-{class_id}": 0}).ready()
    await stubs.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=f"cls-{class_id}", client_message_id=uid(), text="secret"),
        metadata=p["head"].md,
    )
    await asyncio.sleep(0.5)
    assert [e.WhichOneof("event") for e in sub.events if class_id in e.chat_id] == ["chat_removed"]
    assert not sub.messages()
    await sub.close()
    # Unauthenticated calls are refused.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.chat.ListChats(chat_pb2.ListChatsRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


# Expected outcome per role on the class chat ("cls-") for each RPC. Seq is the class head's message.
ROLE_MATRIX = {
    #                 admin(not member) head      student   parent(not member of cls)
    "GetChat": (DENIED, OK, OK, DENIED),
    "UpdateChat": (DENIED, OK, DENIED, DENIED),
    "AddMembers": (DENIED, DENIED, DENIED, DENIED),  # provisioned chats follow school memberships
    "SendMessage": (DENIED, OK, OK, DENIED),
    "EditMessage": (DENIED, OK, DENIED, DENIED),  # only the author
    "ReactToMessage": (DENIED, OK, OK, DENIED),
    "PinMessage": (DENIED, OK, DENIED, DENIED),
    "ListMessages": (DENIED, OK, OK, DENIED),
    "MarkRead": (DENIED, OK, OK, DENIED),
    "GetReadCount": (DENIED, OK, DENIED, DENIED),  # for the author
    "ReportMessage": (DENIED, OK, OK, DENIED),
    "MuteMember": (DENIED, OK, DENIED, DENIED),
}


@pytest.mark.parametrize("rpc", sorted(ROLE_MATRIX))
async def test_role_matrix_on_the_class_chat(world: World, school_a, rpc: str) -> None:  # type: ignore[no-untyped-def]
    school, class_id, p, seq = school_a
    stubs = world.replicas[0].stubs
    for role, expected in zip(("admin", "head", "student", "parent"), ROLE_MATRIX[rpc], strict=True):
        target = p["student"].user_id if role != "student" else p["head"].user_id
        call = calls(stubs, f"cls-{class_id}", seq, school.school_id, target)[rpc]
        assert await outcome(call(p[role].md)) == expected, (rpc, role)


async def test_channel_and_dm_rules_per_role(world: World, school_a) -> None:  # type: ignore[no-untyped-def]
    school, _class_id, p, _seq = school_a
    stubs = world.replicas[0].stubs
    channel = f"sch-{school.school_id}"
    for role, expected in (("admin", OK), ("head", DENIED), ("student", DENIED), ("parent", DENIED)):
        send = calls(stubs, channel, 1, school.school_id, "")["SendMessage"]
        assert await outcome(send(p[role].md)) == expected, role
    dm = lambda who, whom: calls(stubs, "x", 1, school.school_id, p[whom].user_id)["OpenDirectChat"](p[who].md)  # noqa: E731
    assert await outcome(dm("foreign", "student")) == DENIED  # a stranger cannot DM a student
    assert await outcome(dm("admin", "student")) == DENIED
    assert await outcome(dm("parent", "student")) == OK  # guardian
    assert await outcome(dm("head", "student")) == OK  # their teacher
    assert await outcome(dm("parent", "head")) == OK
    create = calls(stubs, "x", 1, school.school_id, p["student"].user_id)["CreateGroupChat"]
    assert await outcome(create(p["student"].md)) == DENIED
    assert await outcome(create(p["parent"].md)) == DENIED
    assert await outcome(create(p["head"].md)) == OK


async def test_malformed_input_is_invalid_argument(world: World, school_a) -> None:  # type: ignore[no-untyped-def]
    _school, class_id, p, seq = school_a
    c = world.replicas[0].stubs.chat
    md = p["head"].md
    chat_id = f"cls-{class_id}"
    bad = [
        c.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="a", text="x" * 5000), metadata=md
        ),
        c.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="b", text="bell\x07"), metadata=md
        ),
        c.SendMessage(chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="c", text=""), metadata=md),
        c.SendMessage(chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="", text="no id"), metadata=md),
        c.SendMessage(chat_pb2.SendMessageRequest(chat_id="", client_message_id="d", text="x"), metadata=md),
        c.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="e", text="x", reply_to_seq=-1), metadata=md
        ),
        c.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="f", text="x", reply_to_seq=10**9),
            metadata=md,
        ),
        c.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id, before_seq=5, after_seq=2), metadata=md),
        c.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id, limit=101), metadata=md),
        c.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id, before_seq=-4), metadata=md),
        c.MarkRead(chat_pb2.MarkReadRequest(chat_id=chat_id, seq=10**9), metadata=md),
        c.MarkRead(chat_pb2.MarkReadRequest(chat_id=chat_id, seq=0), metadata=md),
        c.EditMessage(chat_pb2.EditMessageRequest(chat_id=chat_id, seq=seq, text="\u202eevil"), metadata=md),
        c.ReactToMessage(chat_pb2.ReactToMessageRequest(chat_id=chat_id, seq=seq, emoji="abc", add=True), metadata=md),
        c.UpdateChat(chat_pb2.UpdateChatRequest(chat_id=chat_id, slow_mode_seconds=-1), metadata=md),
        c.UpdateChat(chat_pb2.UpdateChatRequest(chat_id=chat_id, title=""), metadata=md),
        c.UpdateChat(chat_pb2.UpdateChatRequest(chat_id=chat_id, posting_policy=7), metadata=md),  # type: ignore[arg-type]
        c.MuteMember(
            chat_pb2.MuteMemberRequest(chat_id=chat_id, user_id=p["student"].user_id, duration_seconds=-5), metadata=md
        ),
        c.ReportMessage(chat_pb2.ReportMessageRequest(chat_id=chat_id, seq=seq, reason="r" * 2000), metadata=md),
        c.OpenDirectChat(chat_pb2.OpenDirectChatRequest(school_id="", user_id="x"), metadata=md),
        c.CreateGroupChat(chat_pb2.CreateGroupChatRequest(request_id="r", school_id="s", title="\n"), metadata=md),
        c.ListChats(chat_pb2.ListChatsRequest(school_id="bad id"), metadata=md),
        c.ListReports(chat_pb2.ListReportsRequest(school_id="bad id"), metadata=md),
        c.ListReports(chat_pb2.ListReportsRequest(school_id="s", limit=101), metadata=md),
        c.ActOnReport(chat_pb2.ActOnReportRequest(report_id="r", actions=[99], note="n"), metadata=md),  # type: ignore[list-item]
        c.ActOnReport(chat_pb2.ActOnReportRequest(report_id="r", note="\x00"), metadata=md),
        c.BlockUser(chat_pb2.BlockUserRequest(user_id=""), metadata=md),
        c.ReleaseHeldMessage(chat_pb2.ReleaseHeldMessageRequest(chat_id=chat_id, seq=-1), metadata=md),
        c.SendMessage(
            chat_pb2.SendMessageRequest(
                chat_id=chat_id, client_message_id="u", text="t", urgent=True, urgent_reason="r" * 201
            ),
            metadata=md,
        ),
    ]
    for i, call in enumerate(bad):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == INVALID, (i, err.value.code(), err.value.details())
    # Bad cursors on the stream.
    stream = c.Subscribe(
        chat_pb2.SubscribeRequest(cursors=[chat_pb2.ChatCursor(chat_id="a b", update_seq=-1)]), metadata=md
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stream:
            pass
    assert err.value.code() == INVALID
    # Bytes that are not a valid request, and invalid UTF-8 in a string field, are not INTERNAL.
    channel = world.replicas[0].stubs.channel
    raw = channel.unary_unary("/parta.chat.v1.ChatService/SendMessage")
    for payload in (b"\x0a\xff\xff\xff\xff\x0f\xc0", b"\x1a\x02\xc3\x28"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await raw(payload, metadata=md)
        assert err.value.code() == INVALID
