"""School's safety rules on fakes: the role-conflict table, verification ending with leaving, profiles
before participation, the access view, and guards on how many store commands the hot calls issue."""

from __future__ import annotations

import asyncio
from collections import Counter
from itertools import product
from typing import Any

import pytest
from parta_common.errors import FailedPrecondition, Unauthenticated, Unavailable
from school.app.access import AccessView, Memo
from school.app.common import Caller
from school.domain import events as de
from school.domain.memberships import ROLE_CONFLICTS, SchoolRole, check_role_conflict
from school.domain.permissions import Action
from school.domain.profiles import ProfileState
from school.domain.schools import School, forget_verification

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded

A, T, S, P = SchoolRole.ADMIN, SchoolRole.TEACHER, SchoolRole.STUDENT, SchoolRole.PARENT

# docs/school.md "Roles that cannot be combined": held role -> invite roles refused.
DOCUMENTED = {A: {S}, T: {S}, S: {T, P}, P: {S}}


@pytest.mark.parametrize(("held", "wanted"), list(product([A, T, S, P], [T, S, P])))
def test_the_role_conflict_table(held: SchoolRole, wanted: SchoolRole) -> None:
    if wanted in DOCUMENTED[held]:
        with pytest.raises(FailedPrecondition) as info:
            check_role_conflict({held}, wanted)
        assert info.value.reason == "ROLE_CONFLICT"
    else:
        check_role_conflict({held}, wanted)
    assert ((held, wanted) in ROLE_CONFLICTS) == (wanted in DOCUMENTED[held])


def test_a_teacher_who_is_a_parent_may_hold_both_and_add_more_of_either() -> None:
    for wanted in (T, P):
        check_role_conflict({T, P}, wanted)


def test_verification_is_forgotten_only_for_the_leaver() -> None:
    school = School("s", "n", "", "", "", "UTC", "2026/2027", "room", verified_ids=("a", "b"))
    assert forget_verification(school, "a").verified_ids == ("b",)
    assert forget_verification(school, "x") is school


# --- the access view ---------------------------------------------------------------------------


async def test_a_load_racing_with_a_forget_is_returned_but_not_kept() -> None:
    memo: Memo[str, int] = Memo(10, 60, lambda: 0.0)
    release = asyncio.Event()

    async def slow_load() -> int:
        await release.wait()
        return 1

    loading = asyncio.create_task(memo.get("k", slow_load))
    await asyncio.sleep(0)
    memo.forget("k")  # a write landed while the old value was on its way
    release.set()
    assert await loading == 1
    assert memo.peek("k") is None

    async def load_two() -> int:
        return 2

    assert await memo.get("k", load_two) == 2
    assert memo.peek("k") == 2


async def test_entries_expire_and_the_view_stays_bounded() -> None:
    now = [0.0]
    memo: Memo[int, int] = Memo(3, 10, lambda: now[0])
    for key in range(5):
        memo.put(key, key)
    assert len(memo) == 3 and memo.peek(0) is None and memo.peek(4) == 4
    now[0] = 11
    assert memo.peek(4) is None


# --- profiles before participation -------------------------------------------------------------


async def _student_invite(w: World) -> tuple[Any, str]:
    school, klass = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    return school, created.token


async def test_no_profile_no_membership_and_no_use_counted() -> None:
    w = World()
    _school, token = await _student_invite(w)
    w.profiles.default = ProfileState.UNKNOWN  # nothing projected; identity says no profile either
    events_before = len(w.events())
    with pytest.raises(FailedPrecondition) as info:
        await w.invites.accept_invite(Caller("kid"), token)
    assert info.value.reason == "PROFILE_MISSING"
    assert len(w.events()) == events_before
    assert all(i.uses == 0 for i in w.invites_repo.items.values())
    assert w.profile_lookup.calls == 1


async def test_a_lagging_projection_asks_identity_and_remembers_the_answer() -> None:
    w = World()
    _school, token = await _student_invite(w)
    w.profiles.default = ProfileState.UNKNOWN
    w.profile_lookup.present.add("kid")
    await w.invites.accept_invite(Caller("kid"), token)
    await w.invites.accept_invite(Caller("kid"), token)  # a retry
    assert w.profile_lookup.calls == 1 and w.profiles.calls == 1


async def test_identity_unreachable_is_unavailable_not_a_refusal() -> None:
    w = World()
    _school, token = await _student_invite(w)
    w.profiles.default = ProfileState.UNKNOWN
    w.profile_lookup.down = True
    with pytest.raises(Unavailable):
        await w.invites.accept_invite(Caller("kid"), token)


async def test_a_deleted_account_cannot_accept_and_a_late_profile_event_does_not_revive_it() -> None:
    w = World()
    _school, token = await _student_invite(w)
    await w.profiles.apply("gone", ProfileState.DELETED, 7)
    await w.profiles.apply("gone", ProfileState.PRESENT, 9)  # an older fact replayed with a higher offset
    with pytest.raises(Unauthenticated) as info:
        await w.invites.accept_invite(Caller("gone"), token)
    assert info.value.reason == "ACCOUNT_DELETED"
    assert not await w.memberships_repo.of_user("gone")


async def test_approval_of_a_deleted_requesters_join_request_makes_no_membership() -> None:
    w = World()
    school, klass = await onboarded(w)
    created = await w.invites.create_invite(
        ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id, approval=True, request_id="a")
    )
    pending = await w.invites.accept_invite(Caller("kid"), created.token)
    assert pending.join_request is not None
    await w.profiles.apply("kid", ProfileState.DELETED, 3)
    with pytest.raises(FailedPrecondition) as info:
        await w.join_requests.decide(ADMIN, pending.join_request.id, approve=True)
    assert info.value.reason == "ACCOUNT_DELETED"
    assert not await w.memberships_repo.of_user("kid")


async def test_leaving_ends_verification_so_a_rejoining_teacher_is_unverified() -> None:
    w = World()
    school, _klass = await onboarded(w)
    link = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.TEACHER, uses=5))
    olga = Caller("olga")
    await w.invites.accept_invite(olga, link.token)
    await w.staff.verify_staff(ADMIN, school.id, "olga")
    assert await w.memberships.check_permission(ADMIN, "olga", school.id, "", Action.CREATE_GROUP_CHAT)
    await w.memberships.remove_member(ADMIN, school.id, "olga", "")
    await w.invites.accept_invite(olga, link.token)  # counted once already: the same link lets her back in
    assert not await w.memberships.check_permission(ADMIN, "olga", school.id, "", Action.CREATE_GROUP_CHAT)
    rejoined = [e for e in w.events() if isinstance(e, de.MemberJoined) and e.membership.user_id == "olga"][-2:]
    assert [e.membership.verified for e in rejoined] == [False, False]


# --- store commands per call: guards that fail when the hot paths grow --------------------------


class Counted:
    """Counts each call of a port's methods: one call of a repository method is one store command."""

    def __init__(self, inner: Any, counter: Counter[str], name: str):
        self._inner, self._counter, self._name = inner, counter, name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if attr.startswith("_") or not callable(value):
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._counter[f"{self._name}.{attr}"] += 1
            return await value(*args, **kwargs)

        return call


def counted(w: World) -> Counter[str]:
    counter: Counter[str] = Counter()
    for name in ("schools", "classes", "memberships", "invites", "join_requests", "profiles"):
        setattr(w.deps, name, Counted(getattr(w.deps, name), counter, name))
    d = w.deps
    w.deps.view = AccessView(d.schools, d.classes, d.memberships, d.invites, now=lambda: w.now_s)
    for repo in (w.schools_repo, w.classes_repo, w.memberships_repo, w.invites_repo):
        repo.on_change = w.deps.view.changed
    return counter


async def test_check_permission_from_a_warm_view_issues_no_store_command() -> None:
    w = World()
    school, klass = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    await w.invites.accept_invite(Caller("kid"), created.token)
    counter = counted(w)
    assert await w.memberships.check_permission(ADMIN, "kid", school.id, klass.id, Action.POST_CLASS_CHAT)
    cold = sum(counter.values())
    assert cold == 3  # school, class, the person's seats: once
    for _ in range(100):
        assert await w.memberships.check_permission(ADMIN, "kid", school.id, klass.id, Action.POST_CLASS_CHAT)
    assert sum(counter.values()) == cold


async def test_a_warm_student_acceptance_issues_four_store_commands() -> None:
    w = World()
    school, klass = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id, uses=100))
    counter = counted(w)
    await w.invites.accept_invite(Caller("first"), created.token)  # warms invite, school and class
    counter.clear()
    await w.invites.accept_invite(Caller("second"), created.token)
    assert counter == Counter(
        {
            "profiles.state": 1,  # is there a profile (projection)
            "memberships.of_user": 1,  # the role table: what the person is in this school already
            "invites.count_use": 1,  # the use, conditional on the invite still being usable
            "memberships.insert_all": 1,  # both seats with their events, one command
        }
    )


# --- the feed: which events forget what ----------------------------------------------------------


def _record(message: Any) -> bytes:
    from datetime import UTC, datetime

    from parta_common.events.envelope import make_envelope

    envelope = make_envelope(
        message, aggregate_type="x", aggregate_id="x", aggregate_version=1, producer="t", occurred_at=datetime.now(UTC)
    )
    return envelope.SerializeToString()


async def test_the_feed_forgets_what_each_event_names_and_nothing_more() -> None:
    from parta.identity.v1 import events_pb2 as identity_pb2
    from parta.school.v1 import events_pb2 as ev
    from school.adapters.view_feed import forget_for

    w = World()
    school, klass = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    await w.invites.accept_invite(Caller("kid"), created.token)
    view = w.view

    async def warm() -> None:
        await view.school(school.id)
        await view.school_class(klass.id)
        await view.seats("kid", school.id)
        await view.seats("irina", school.id)

    def cached() -> set[str]:
        out = set()
        if view._schools.peek(school.id):
            out.add("school")
        if view._classes.peek(klass.id):
            out.add("class")
        for user in ("kid", "irina"):
            if view._seats.peek((user, school.id)) is not None:
                out.add(user)
        return out

    everything = {"school", "class", "kid", "irina"}
    student_seat = ev.MembershipSnapshot(user_id="kid", school_id=school.id, school_role=ev.SCHOOL_ROLE_STUDENT)
    staff_seat = ev.MembershipSnapshot(user_id="irina", school_id=school.id, school_role=ev.SCHOOL_ROLE_ADMIN)
    expectations = [
        (ev.MemberJoined(membership=student_seat), {"kid"}),
        (ev.MemberLeft(membership=staff_seat), {"irina", "school"}),
        (ev.StaffVerified(school_id=school.id, user_id="irina"), {"irina", "school"}),
        (ev.SchoolUpdated(school=ev.SchoolSnapshot(school_id=school.id)), {"school"}),
        (ev.ClassArchived(**{"class": ev.ClassSnapshot(class_id=klass.id)}), {"class"}),
        (identity_pb2.AccountDeleted(user_id="kid"), {"kid"}),
        (identity_pb2.ProfileUpdated(profile=identity_pb2.ProfileSnapshot(user_id="kid")), set()),
    ]
    for message, forgotten in expectations:
        await warm()
        assert cached() == everything
        await forget_for(view, _record(message))
        assert cached() == everything - forgotten, type(message).__name__
