"""Domain rules with no infrastructure: text limits, DM policy, posting, edit window, quiet hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from chat.domain import rules
from chat.domain.chats import Chat, ChatKind, PostingPolicy
from chat.domain.members import Grant, Member
from chat.domain.messages import Message
from chat.domain.provisioning import ClassRole, Membership, Profile, SchoolRole, chat_grants, person_of
from parta_common import validation
from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Violations

MSK = ZoneInfo("Europe/Moscow")
S = "school-1"


def m(
    user: str, role: SchoolRole, class_id: str = "", class_role: ClassRole = ClassRole.NONE, child: str = ""
) -> Membership:
    return Membership(f"{user}-{class_id}-{class_role}", S, user, role, class_id, class_role, child)


# A small school: class 5A (students ann, bob; teacher tom heads it; parent pam of ann),
# class 6B (student cid; teacher tia teaches it; parent pat of cid), admin ada, parent pia of bob.
PEOPLE = {
    "ann": [m("ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT)],
    "bob": [m("bob", SchoolRole.STUDENT, "5A", ClassRole.STUDENT)],
    "cid": [m("cid", SchoolRole.STUDENT, "6B", ClassRole.STUDENT)],
    "tom": [m("tom", SchoolRole.TEACHER), m("tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD)],
    "tia": [m("tia", SchoolRole.TEACHER, "6B", ClassRole.SUBJECT_TEACHER)],
    "pam": [m("pam", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann")],
    "pia": [m("pia", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="bob")],
    "pat": [m("pat", SchoolRole.PARENT, "6B", ClassRole.PARENT, child="cid")],
    "ada": [m("ada", SchoolRole.ADMIN)],
    "out": [],  # not in this school
}

# Who may DM whom is the rule book's, checked against the shared table in test_safety_table.py.


def test_quiet_hours_apply_to_parent_to_teacher_only() -> None:
    assert rules.is_parent_to_teacher(PEOPLE["pam"], PEOPLE["tom"])
    assert not rules.is_parent_to_teacher(PEOPLE["tom"], PEOPLE["pam"])
    assert not rules.is_parent_to_teacher(PEOPLE["pam"], PEOPLE["pia"])
    assert not rules.is_parent_to_teacher(PEOPLE["tom"], PEOPLE["tia"])


@pytest.mark.parametrize(
    ("local", "release"),
    [
        (datetime(2026, 9, 1, 22, 30), datetime(2026, 9, 2, 8, 0)),  # night → next morning
        (datetime(2026, 9, 2, 6, 59), datetime(2026, 9, 2, 8, 0)),  # early → same morning
        (datetime(2026, 9, 2, 8, 0), None),  # opening minute is inside
        (datetime(2026, 9, 2, 17, 59), None),
        (datetime(2026, 9, 2, 18, 0), datetime(2026, 9, 3, 8, 0)),  # closing minute is outside
    ],
)
def test_quiet_hours_release_time(local: datetime, release: datetime | None) -> None:
    now = local.replace(tzinfo=MSK).astimezone(UTC)
    got = rules.quiet_hours_release(now, MSK, 8 * 60, 18 * 60)
    assert got == (release.replace(tzinfo=MSK) if release else None)
    if got is not None:
        assert got.tzinfo is not None and got > now


def test_no_window_means_no_quiet_hours() -> None:
    now = datetime(2026, 9, 1, 23, 0, tzinfo=UTC)
    assert rules.quiet_hours_release(now, MSK, 0, 0) is None
    assert rules.quiet_hours_release(now, MSK, 600, 500) is None


def test_unknown_timezone_falls_back() -> None:
    assert rules.zone("Mars/Olympus", "Europe/Moscow") == MSK


def _text_violations(text: str, limit: int = 10) -> list[str]:
    v = Violations()
    validation.check_text(v, "text", text, limit, required=True, prose=True)
    return [x.description for x in v.items]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("hello", True),
        ("a\nb\tc", True),
        ("", False),
        ("   ", False),
        ("x" * 11, False),
        ("bell\x07", False),
        ("nul\x00", False),
        ("rtl\u202etxt", False),
        ("привет 👋", True),
    ],
)
def test_text_limits(text: str, ok: bool) -> None:
    assert (not _text_violations(text)) is ok


def test_emoji_must_be_an_emoji() -> None:
    for bad in ("", "a", "👍 ", "x" * 20, "\x01"):
        v = Violations()
        rules.check_emoji(v, "emoji", bad)
        assert v.items, bad
    v = Violations()
    rules.check_emoji(v, "emoji", "👍🏽")
    assert not v.items


def _chat(kind: ChatKind = ChatKind.CLASS, **kw: object) -> Chat:
    return Chat("c1", S, kind, "5A", **kw)  # type: ignore[arg-type]


NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def test_posting_rules() -> None:
    student = Member("c1", "ann", {Grant.STUDENT})
    head = Member("c1", "tom", {Grant.CLASS_HEAD})
    rules.ensure_can_post(_chat(), student, NOW, awaiting_guardian=False)
    with pytest.raises(PermissionDenied) as err:
        rules.ensure_can_post(_chat(), student, NOW, awaiting_guardian=True)
    assert err.value.reason == "AWAITING_GUARDIAN"
    with pytest.raises(PermissionDenied):
        rules.ensure_can_post(_chat(ChatKind.SCHOOL_CHANNEL), student, NOW, awaiting_guardian=False)
    with pytest.raises(PermissionDenied):
        rules.ensure_can_post(_chat(posting_policy=PostingPolicy.ADMINS_ONLY), student, NOW, awaiting_guardian=False)
    rules.ensure_can_post(_chat(posting_policy=PostingPolicy.ADMINS_ONLY), head, NOW, awaiting_guardian=False)
    muted = Member("c1", "ann", {Grant.STUDENT}, muted_until=NOW + timedelta(minutes=5))
    with pytest.raises(PermissionDenied) as err:
        rules.ensure_can_post(_chat(), muted, NOW, awaiting_guardian=False)
    assert err.value.reason == "MEMBER_MUTED"
    rules.ensure_can_post(_chat(), muted, NOW + timedelta(minutes=6), awaiting_guardian=False)
    with pytest.raises(FailedPrecondition):
        rules.ensure_can_post(_chat(read_only=True), head, NOW, awaiting_guardian=False)


def test_slow_mode() -> None:
    chat = _chat(slow_mode_seconds=30)
    ann = Member("c1", "ann", {Grant.STUDENT}, last_sent_at=NOW - timedelta(seconds=10))
    assert rules.slow_mode_wait(chat, ann, NOW) == pytest.approx(20)
    assert rules.slow_mode_wait(chat, ann, NOW + timedelta(seconds=25)) == 0
    assert rules.slow_mode_wait(chat, Member("c1", "tom", {Grant.CLASS_HEAD}, last_sent_at=NOW), NOW) == 0


def _message(sender: str = "ann", age: timedelta = timedelta(0)) -> Message:
    return Message("c1", "m1", 1, 1, S, sender, "hi", NOW - age)


def test_edit_window() -> None:
    window = timedelta(hours=1)
    rules.ensure_can_edit(_message(age=timedelta(minutes=59)), "ann", NOW, window)
    with pytest.raises(FailedPrecondition) as err:
        rules.ensure_can_edit(_message(age=timedelta(minutes=61)), "ann", NOW, window)
    assert err.value.reason == "EDIT_WINDOW_PASSED"
    with pytest.raises(PermissionDenied):
        rules.ensure_can_edit(_message(), "bob", NOW, window)


def test_delete_for_everyone() -> None:
    window = timedelta(hours=1)
    old = _message(age=timedelta(hours=2))
    rules.ensure_can_delete(_message(), Member("c1", "ann", {Grant.STUDENT}), NOW, window)
    with pytest.raises(FailedPrecondition):
        rules.ensure_can_delete(old, Member("c1", "ann", {Grant.STUDENT}), NOW, window)
    rules.ensure_can_delete(old, Member("c1", "tom", {Grant.CLASS_HEAD}), NOW, window)  # moderators always
    with pytest.raises(PermissionDenied):
        rules.ensure_can_delete(_message(), Member("c1", "bob", {Grant.STUDENT}), NOW, window)


def test_held_message_visibility() -> None:
    msg = _message()
    msg.held_until, msg.held_for = NOW + timedelta(hours=8), ["tom"]
    assert msg.held_from("tom", NOW) and not msg.held_from("ann", NOW)
    assert not msg.held_from("tom", NOW + timedelta(hours=8))


def test_chat_grants_per_role() -> None:
    def grants(ms: Membership) -> dict[str, Grant]:
        return dict(chat_grants(ms))

    assert grants(PEOPLE["ann"][0]) == {f"sch-{S}": Grant.MEMBER, "cls-5A": Grant.STUDENT}
    assert grants(PEOPLE["pam"][0]) == {f"sch-{S}": Grant.MEMBER, "par-5A": Grant.PARENT}
    # An unverified teacher reads the staff channel but does not post there (STAFF_UNVERIFIED).
    assert grants(PEOPLE["tom"][1]) == {
        f"sch-{S}": Grant.MEMBER,
        f"stf-{S}": Grant.STAFF_UNVERIFIED,
        "cls-5A": Grant.CLASS_HEAD,
        "par-5A": Grant.CLASS_HEAD,
    }
    assert grants(replace(PEOPLE["tom"][1], verified=True))[f"stf-{S}"] is Grant.STAFF
    assert grants(PEOPLE["ada"][0]) == {f"sch-{S}": Grant.ADMIN, f"stf-{S}": Grant.ADMIN}
    # A student who also holds a teacher seat gets nothing of a teacher from it (finding 5).
    sam = [
        m("sam", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        m("sam", SchoolRole.TEACHER, "6B", ClassRole.CLASS_HEAD),
    ]
    person = person_of(S, "sam", sam, Profile("sam", "Sam"))
    assert dict(chat_grants(sam[1], person)) == {f"sch-{S}": Grant.MEMBER}


def test_ids_are_checked() -> None:
    for bad in ("", "a b", "x" * 200, "tab\t"):
        v = Violations()
        rules.check_id(v, "chat_id", bad)
        with pytest.raises(InvalidArgument):
            v.raise_if_any()


def test_what_a_message_carries_is_addressed_by_chat_and_seq() -> None:
    """Announcements and polls share the one address check and the one NOT_FOUND."""
    rules.check_at_seq("par-5a", 7)
    with pytest.raises(InvalidArgument) as info:
        rules.check_at_seq("a b", 0)
    assert [v.field for v in info.value.violations] == ["chat_id", "seq"]
    with pytest.raises(InvalidArgument) as info:
        rules.check_at_seq("par-5a", -1)
    assert [v.field for v in info.value.violations] == ["seq"]
    assert rules.ensure_at_seq("found", "poll", "POLL_NOT_FOUND") == "found"
    with pytest.raises(NotFound) as missing:
        rules.ensure_at_seq(None, "announcement", "ANNOUNCEMENT_NOT_FOUND")
    assert missing.value.reason == "ANNOUNCEMENT_NOT_FOUND"
    assert str(missing.value) == "no announcement at this seq in this chat"
