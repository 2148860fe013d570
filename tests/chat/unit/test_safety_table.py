"""chat against the shared safety table (tests/common/safety_cases.py): every DM row goes through
OpenDirectChat (and, when allowed, both people sending in it), every GROUP row through
CreateGroupChat, on the in-memory fakes of chat's ports (tests/chat/unit/fakes.py)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from chat.app.writes import set_grant
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant
from chat.domain.provisioning import ClassRole, Membership, Profile, SchoolRole
from parta_common.errors import DomainError
from parta_common.safety import Contact, Fact, Role, Seat

from tests.chat.unit.fakes import Fakes
from tests.common.safety_cases import CASES, CAST, OTHER_SCHOOL, SCHOOL, Case, Someone

_ROLES = {Role.ADMIN: SchoolRole.ADMIN, Role.TEACHER: SchoolRole.TEACHER, Role.STUDENT: SchoolRole.STUDENT}
_SEATS = {
    Seat.CLASS_HEAD: ClassRole.CLASS_HEAD,
    Seat.SUBJECT_TEACHER: ClassRole.SUBJECT_TEACHER,
    Seat.STUDENT: ClassRole.STUDENT,
    Seat.PARENT: ClassRole.PARENT,
    Seat.STAFF: ClassRole.STAFF,
}


def memberships(someone: Someone) -> list[Membership]:
    """chat's membership projection of one cast member: active seats, ended ones, other schools."""
    counter = itertools.count()

    def row(school: str, f: Fact, active: bool) -> Membership:
        return Membership(
            f"m-{someone.user_id}-{next(counter)}",
            school,
            someone.user_id,
            _ROLES.get(f.role, SchoolRole.PARENT),
            f.class_id,
            _SEATS[f.seat] if f.seat else ClassRole.NONE,
            f.child_user_id,
            active=active,
            verified=f.verified,
        )

    return (
        [row(SCHOOL, f, True) for f in someone.facts]
        + [row(SCHOOL, f, False) for f in someone.left]
        + [row(OTHER_SCHOOL, f, True) for f in someone.elsewhere]
    )


class FakeChatStore:
    """The test's handle on chat's in-memory ports (tests/chat/unit/fakes.py), seeded with the cast."""

    def __init__(self, fakes: Fakes, cast: dict[str, Someone]):
        self._fakes = fakes
        self.rows = [r for someone in cast.values() for r in memberships(someone)]
        fakes.facts.profiles.update(
            {u: Profile(u, u, awaiting_guardian=p.awaiting_guardian) for u, p in cast.items() if p.has_profile}
        )
        self.chats = fakes.chats.rows

    @property
    def rows(self) -> list[Membership]:
        return self._fakes.facts.memberships

    @rows.setter
    def rows(self, value: list[Membership]) -> None:
        self._fakes.facts.memberships = value

    async def set_grant(self, chat_id: str, school_id: str, user_id: str, key: str, grant: Grant | None) -> bool:
        return await set_grant(self._fakes.members, chat_id, school_id, user_id, key, grant)


class UseCases:
    """chat's use cases by the names the table's rows call them."""

    def __init__(self, fakes: Fakes):
        app = fakes.app
        self.open_direct_chat = app.chats.open_direct_chat
        self.create_group_chat = app.chats.create_group_chat
        self.add_members = app.chats.add_members
        self.get_chat = app.chats.get_chat
        self.send_message = app.messages.send_message


def use_cases(cast: dict[str, Someone] = CAST) -> tuple[UseCases, FakeChatStore]:
    fakes = Fakes()
    return UseCases(fakes), FakeChatStore(fakes, cast)


async def reason_of(coro: object) -> str | None:
    try:
        await coro  # type: ignore[misc]
    except DomainError as exc:
        return exc.reason
    return None


@pytest.mark.parametrize("case", [c for c in CASES if c.how is Contact.DM], ids=lambda c: c.id)
async def test_direct_messages_follow_the_table(case: Case) -> None:
    chats, _ = use_cases()
    peer = case.others[0]
    assert await reason_of(chats.open_direct_chat(case.actor, SCHOOL, peer)) == case.expect, case.why
    if case.expect is not None:
        return
    view = await chats.open_direct_chat(case.actor, SCHOOL, peer)
    for writer in (case.actor, peer):
        refused = await reason_of(chats.send_message(writer, view.chat.chat_id, f"c-{writer}", "hi"))
        assert refused == ("AWAITING_GUARDIAN" if CAST[writer].awaiting_guardian else None), writer


@pytest.mark.parametrize("case", [c for c in CASES if c.how is Contact.GROUP], ids=lambda c: c.id)
async def test_groups_follow_the_table(case: Case) -> None:
    chats, _ = use_cases()
    made = chats.create_group_chat(case.actor, "r-1", SCHOOL, "Group", "", list(case.others))
    assert await reason_of(made) == case.expect, case.why


@pytest.mark.parametrize("case", [c for c in CASES if c.how is Contact.GROUP and c.expect], ids=lambda c: c.id)
async def test_adding_a_refused_set_to_a_group_is_refused_too(case: Case) -> None:
    """The same sets, reached by AddMembers into a group the actor made alone (when the actor
    may make groups at all)."""
    chats, _ = use_cases()
    try:
        view = await chats.create_group_chat(case.actor, "r-1", SCHOOL, "Group", "", [])
    except DomainError:
        return  # the actor may not create groups: covered by the table row itself
    assert await reason_of(chats.add_members(case.actor, view.chat.chat_id, list(case.others))) == case.expect


async def test_a_dm_whose_peer_left_is_read_only_and_a_moved_pair_is_refused() -> None:
    chats, store = use_cases()
    view = await chats.open_direct_chat("tom", SCHOOL, "ann")
    dm = view.chat.chat_id
    # ann moves to 6B (tom no longer teaches her): the pair is refused from her side and his.
    store.rows = [replace(r, class_id="6B") if r.user_id == "ann" and r.class_id else r for r in store.rows]
    assert await reason_of(chats.send_message("tom", dm, "c-1", "hi")) == "CONTACT_NOT_ALLOWED"
    assert await reason_of(chats.send_message("ann", dm, "c-2", "hi")) == "CONTACT_NOT_ALLOWED"
    # ann leaves the school: tom's side is read-only.
    store.rows = [replace(r, active=False) if r.user_id == "ann" else r for r in store.rows]
    assert await reason_of(chats.send_message("tom", dm, "c-3", "hi")) == "CHAT_READ_ONLY"


async def test_profile_less_and_unverified_writers_in_provisioned_chats() -> None:
    chats, store = use_cases()
    store.chats["stf"] = Chat("stf", SCHOOL, ChatKind.STAFF_CHANNEL, "staff")
    store.chats["cls"] = Chat("cls", SCHOOL, ChatKind.CLASS, "5A")
    await store.set_grant("stf", SCHOOL, "una", "m", Grant.STAFF_UNVERIFIED)
    await store.set_grant("stf", SCHOOL, "tom", "m", Grant.STAFF)
    await store.set_grant("cls", SCHOOL, "nop", "m", Grant.STUDENT)
    assert await reason_of(chats.send_message("una", "stf", "c-1", "hi")) == "STAFF_NOT_VERIFIED"
    assert await reason_of(chats.send_message("tom", "stf", "c-2", "hi")) is None
    assert await reason_of(chats.send_message("nop", "cls", "c-3", "hi")) == "PROFILE_MISSING"
    assert not (await chats.get_chat("una", "stf")).can_post
