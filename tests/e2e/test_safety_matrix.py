"""The attacker suite's matrix (issue 11): every role × relation of the cast in safety_support
against every action that reaches ann (a 15-year-old student of 5А) or her class, through the
public gRPC API of real processes. Each cell is allowed ("OK") or refused with the exact status
code and ErrorInfo reason; the table is docs/safety.md "The attacker suite"."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from parta.identity.v1 import guardians_pb2
from parta.school.v1 import school_pb2

from tests.e2e.safety_support import Actor, T, World, build_school, describe, outcome, settled_outcome, start_stack

OK = "OK"
NOT_MEMBER = "PERMISSION_DENIED:NOT_A_SCHOOL_MEMBER"
NO_PROFILE = "FAILED_PRECONDITION:PROFILE_MISSING"
AWAITING = "PERMISSION_DENIED:AWAITING_GUARDIAN"
UNVERIFIED = "PERMISSION_DENIED:STAFF_NOT_VERIFIED"
CONTACT = "PERMISSION_DENIED:CONTACT_NOT_ALLOWED"
NOT_STAFF = "PERMISSION_DENIED:NOT_STAFF"
REVOKED = "UNAUTHENTICATED:SESSION_REVOKED"
DELETED = "UNAUTHENTICATED:ACCOUNT_DELETED"
NOT_ADULT = "FAILED_PRECONDITION:GUARDIAN_NOT_ADULT"
HIDDEN = "NOT_DELIVERED"  # subscribe: the stream never carries the chat
UNKNOWN = "?"

ACTIONS = [
    "dm",
    "group",
    "group_add",
    "send",
    "call",
    "lesson",
    "room",
    "download",
    "history",
    "subscribe",
    "link",
    "export",
    "roster",
]

# Where a service already had its own sound "not yours" answer, that answer stands (docs/safety.md
# R9): chat says NOT_A_MEMBER for a chat the caller is not in and FILE_NOT_FOUND for a file they may
# not see; media-signal NOT_IN_CLASS for another class's lesson, and NOT_A_MEMBER or ROOM_NOT_FOUND
# for someone outside the school.
NOT_IN_CHAT = "PERMISSION_DENIED:NOT_A_MEMBER"
NO_FILE = "NOT_FOUND:FILE_NOT_FOUND"
NOT_IN_CLASS = "PERMISSION_DENIED:NOT_IN_CLASS"
OUTSIDER_ROOM = frozenset({NOT_MEMBER, NOT_IN_CHAT, "NOT_FOUND:ROOM_NOT_FOUND"})
OUTSIDER_CALL = frozenset({NOT_MEMBER, NOT_IN_CHAT})
OUTSIDER_CHAT = frozenset({NOT_MEMBER, NOT_IN_CHAT})
# The school-wide member list (every family of the school) is for staff (rule R13); the school does not
# confirm its existence to someone without a seat.
NO_SCHOOL = "NOT_FOUND:SCHOOL_NOT_FOUND"
# A pending link must reveal nothing; refusing because of the per-child limit is also sound.
LINK_OK = frozenset({OK, "RESOURCE_EXHAUSTED:LINK_RATE_LIMITED"})


def _or_profile(answers: str | frozenset[str]) -> frozenset[str]:
    """The profile-less account: refused PROFILE_MISSING, or never let into the school (finding 1a)."""
    return frozenset({NO_PROFILE}) | (answers if isinstance(answers, frozenset) else frozenset({answers}))


def _outsider(group: str = NOT_MEMBER) -> dict[str, str | frozenset[str]]:
    """Someone with no seat in the school: removed, or a member of another school."""
    return dict(
        dm=NOT_MEMBER, group=group, send=OUTSIDER_CHAT, call=OUTSIDER_CALL, lesson=OUTSIDER_ROOM,
        room=OUTSIDER_ROOM, download=NO_FILE, history=OUTSIDER_CHAT, subscribe=HIDDEN, link=LINK_OK, export=OK,
        roster=NO_SCHOOL,
    )  # fmt: skip


TEACHER_OF_5A = dict(
    dm=OK, group=OK, group_add=OK, send=OK, call=OK, lesson=OK, room=OK, download=OK, history=OK,
    subscribe=OK, link=LINK_OK, export=OK, roster=OK,
)  # fmt: skip

# role → action → expected outcome (a set where more than one answer is sound, see above)
EXPECT: dict[str, dict[str, str | frozenset[str]]] = {
    "ada": dict(
        dm=CONTACT,
        group=CONTACT,
        group_add=CONTACT,
        send=NOT_IN_CHAT,
        call=CONTACT,
        lesson=OK,
        room=OK,
        download=NO_FILE,
        history=NOT_IN_CHAT,
        subscribe=HIDDEN,
        link=LINK_OK,
        export=OK,
        roster=OK,
    ),
    "tia": dict(
        dm=CONTACT,
        group=CONTACT,
        group_add=CONTACT,
        send=NOT_IN_CHAT,
        call=CONTACT,
        lesson=NOT_IN_CLASS,
        room=NOT_IN_CLASS,
        download=NO_FILE,
        history=NOT_IN_CHAT,
        subscribe=HIDDEN,
        link=LINK_OK,
        export=OK,
        roster=OK,
    ),
    "una": dict(
        dm=UNVERIFIED,
        group=UNVERIFIED,
        group_add=UNVERIFIED,
        send=OK,
        call=UNVERIFIED,
        lesson=UNVERIFIED,
        room=UNVERIFIED,
        download=OK,
        history=OK,
        subscribe=OK,
        link=LINK_OK,
        export=OK,
        roster=OK,
    ),
    "tom": TEACHER_OF_5A,
    "sub": TEACHER_OF_5A,
    "bob": dict(
        dm=OK,
        group=NOT_STAFF,
        send=OK,
        call=OK,
        lesson=OK,
        room=OK,
        download=OK,
        history=OK,
        subscribe=OK,
        link=NOT_ADULT,
        export=OK,
        roster=NOT_STAFF,
    ),
    "kid": dict(
        dm=AWAITING,
        group=AWAITING,
        send=AWAITING,
        call=AWAITING,
        lesson=OK,
        room=OK,
        download=OK,
        history=OK,
        subscribe=OK,
        link=NOT_ADULT,
        export=OK,
        roster=NOT_STAFF,
    ),
    "nop": {
        **{a: _or_profile(v) for a, v in _outsider().items() if a not in ("link", "export")},
        "subscribe": frozenset({HIDDEN, NO_PROFILE}),
        "link": NO_PROFILE,
        "export": OK,
        "roster": _or_profile(NO_SCHOOL),
    },
    "pam": dict(
        dm=OK,
        group=NOT_STAFF,
        send=NOT_IN_CHAT,
        call=OK,
        lesson=NOT_IN_CLASS,
        room=NOT_IN_CLASS,
        download=NO_FILE,
        history=NOT_IN_CHAT,
        subscribe=HIDDEN,
        link="LINKED",
        export="OK+CHILD",
        roster=NOT_STAFF,
    ),
    "pat": dict(
        dm=CONTACT,
        group=NOT_STAFF,
        send=NOT_IN_CHAT,
        call=CONTACT,
        lesson=NOT_IN_CLASS,
        room=NOT_IN_CLASS,
        download=NO_FILE,
        history=NOT_IN_CHAT,
        subscribe=HIDDEN,
        link=LINK_OK,
        export=OK,
        roster=NOT_STAFF,
    ),
    "rex": _outsider(),
    "gone": {a: DELETED for a in ACTIONS if a != "group_add"},
    "rev": {a: REVOKED for a in ACTIONS if a != "group_add"},
    "out": _outsider(),
}


def _cell(role: str, action: str) -> object:
    return pytest.param(role, action, id=f"{role}-{action}")


CELLS = [_cell(role, action) for role, row in EXPECT.items() for action in ACTIONS if action in row]


@pytest.fixture(scope="module")
async def world(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[World]:
    stack, w = await start_stack(mongo_uri, kafka_bootstrap)
    try:
        await build_school(w)
        yield w
    finally:
        await w.close()
        stack.stop_all()


def _link_view(w: World, who: Actor) -> Callable[[], Awaitable[str]]:
    """LinkGuardian(child_phone=ann's): a pending link must reveal nothing about her (finding 7)."""

    async def run() -> str:
        link = await w.link_guardian(who, w["ann"].phone)
        if link.state == guardians_pb2.GUARDIAN_LINK_STATE_LINKED:
            return "LINKED"
        if link.child_user_id or link.display_name or link.child_consent_state:
            return (
                f"REVEALS(id={bool(link.child_user_id)},name={link.display_name!r},consent={link.child_consent_state})"
            )
        return OK

    return run


def _export_view(w: World, who: Actor) -> Callable[[], Awaitable[str]]:
    """ExportMyData after trying to link a child: a child shows only for a confirmed guardian
    (pam and ann). Others link a fresh 12-year-old of their own, so the cell does not depend on
    how many of ann's guardian slots earlier cells took."""

    async def run() -> str:
        child = w["ann"]
        if who.name != "pam":
            child = await w.person(f"ex{who.name}{uuid.uuid4().hex[:4]}", 12)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await w.link_guardian(who, child.phone)
        data = await w.export(who)
        shown = [c for c in data.children if c.child_user_id == child.user_id or c.display_name]
        return "OK+CHILD" if shown else OK

    return run


def _action(w: World, who: Actor, action: str) -> Callable[[], Awaitable[str]]:
    ann = w["ann"]

    async def group_add() -> None:
        # A group of staff only (allowed for every staff row), then ann is added by hand.
        colleague = w["sub"] if who.name != "sub" else w["tom"]
        chat_id = await w.group(who, colleague, title=f"g-{uuid.uuid4().hex[:6]}")
        await w.add(who, chat_id, ann)

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "dm": lambda: w.dm(who, ann),
        "group": lambda: w.group(who, ann),
        "group_add": group_add,
        "send": lambda: w.send(who, w.class_chat),
        "call": lambda: w.call(who, ann),
        "lesson": lambda: w.join_token(who, w.lesson_id),
        "room": lambda: w.get_room(who, w.lesson_id),
        "download": lambda: w.download(who, w.file_id),
        "history": lambda: w.history(who, w.class_chat),
        "roster": lambda: w.members.ListMembers(
            school_pb2.ListMembersRequest(school_id=w.school_id), metadata=who.md, timeout=T
        ),
    }
    if action in calls:
        return lambda: outcome(calls[action])
    if action == "subscribe":
        return lambda: w.subscribe_sees(who, w.class_chat, timeout=8)
    view = _link_view(w, who) if action == "link" else _export_view(w, who)
    return lambda: _answer(view)


async def _answer(run: Callable[[], Awaitable[str]]) -> str:
    try:
        return await run()
    except grpc.aio.AioRpcError as error:
        return describe(error)


@pytest.mark.parametrize(("role", "action"), CELLS)
async def test_cell(world: World, role: str, action: str) -> None:
    expected = EXPECT[role][action]
    accept = expected if isinstance(expected, frozenset) else frozenset({expected})
    got = await settled_outcome(_action(world, world[role], action), accept, timeout=1.0)
    assert got in accept, f"{role} {action}: expected {sorted(accept)}, got {got}"
