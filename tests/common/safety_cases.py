"""The one table of safety expectations (role × relation × action → allowed or the exact reason).

The rule book's own tests (tests/common/unit/test_safety.py), chat's (tests/chat/unit/test_safety_table.py)
and media-signal's (tests/media_signal/unit/test_safety_table.py) all run these rows, each through
its own projection and use cases, so the services are checked against the same expectations.
docs/safety.md explains the rules behind each row.
"""

from __future__ import annotations

from dataclasses import dataclass

from parta_common.safety import Contact, Fact, Role, Seat

SCHOOL = "s-safety"
OTHER_SCHOOL = "s-other"


@dataclass(frozen=True)
class Someone:
    user_id: str
    facts: tuple[Fact, ...]  # active seats in SCHOOL
    has_profile: bool = True
    awaiting_guardian: bool = False
    left: tuple[Fact, ...] = ()  # seats in SCHOOL that ended (MemberLeft)
    elsewhere: tuple[Fact, ...] = ()  # seats in OTHER_SCHOOL


def _student(c: str) -> tuple[Fact, ...]:
    return (Fact(Role.STUDENT), Fact(Role.STUDENT, c, Seat.STUDENT))


def _parent(c: str, child: str) -> tuple[Fact, ...]:
    return (Fact(Role.PARENT, child_user_id=child), Fact(Role.PARENT, c, Seat.PARENT, child_user_id=child))


def _teacher(c: str, seat: Seat, *, verified: bool) -> tuple[Fact, ...]:
    return (Fact(Role.TEACHER, verified=verified), Fact(Role.TEACHER, c, seat, verified=verified))


# Class 5A: students ann, bob, kid (awaiting a guardian), nop (no profile); tom heads it; una teaches
# it unverified; pam is ann's parent, pia bob's. Class 6B: student cid, subject teacher tia, parent
# pat. sam is a 5A student who also took a (verified) teacher seat in 6B. ada is the admin; rex was
# a verified teacher of 5A and was removed; out belongs to another school only.
CAST: dict[str, Someone] = {
    p.user_id: p
    for p in (
        Someone("ann", _student("5A")),
        Someone("bob", _student("5A")),
        Someone("kid", _student("5A"), awaiting_guardian=True),
        Someone("nop", _student("5A"), has_profile=False),
        Someone("cid", _student("6B")),
        Someone("tom", _teacher("5A", Seat.CLASS_HEAD, verified=True)),
        Someone("tia", _teacher("6B", Seat.SUBJECT_TEACHER, verified=True)),
        Someone("una", _teacher("5A", Seat.SUBJECT_TEACHER, verified=False)),
        Someone("sam", _student("5A") + _teacher("6B", Seat.SUBJECT_TEACHER, verified=True)),
        Someone("pam", _parent("5A", "ann")),
        Someone("pia", _parent("5A", "bob")),
        Someone("pat", _parent("6B", "cid")),
        Someone("ada", (Fact(Role.ADMIN, verified=True),)),
        Someone("rex", (), left=_teacher("5A", Seat.CLASS_HEAD, verified=True)),
        Someone("out", (), elsewhere=_teacher("5A", Seat.CLASS_HEAD, verified=True)),
    )
}

OK = None
NOT_MEMBER = "NOT_A_SCHOOL_MEMBER"
NO_PROFILE = "PROFILE_MISSING"
AWAITING = "AWAITING_GUARDIAN"
UNVERIFIED = "STAFF_NOT_VERIFIED"
REFUSED = "CONTACT_NOT_ALLOWED"
NOT_STAFF = "NOT_STAFF"


@dataclass(frozen=True)
class Case:
    actor: str
    others: tuple[str, ...]  # DM/CALL: the person reached; GROUP: everyone put in with the actor
    how: Contact
    expect: str | None  # None = allowed, else the machine reason
    why: str

    @property
    def id(self) -> str:
        return f"{self.how}:{self.actor}->{'+'.join(self.others)}"


def _c(actor: str, others: str, how: Contact, expect: str | None, why: str) -> Case:
    return Case(actor, tuple(others.split("+")), how, expect, why)


DM, CALL, GROUP = Contact.DM, Contact.CALL, Contact.GROUP

CASES: list[Case] = [
    # direct messages
    _c("ann", "bob", DM, OK, "classmates"),
    _c("ann", "cid", DM, REFUSED, "students of other classes"),
    _c("ann", "tom", DM, OK, "a student reaches their teacher"),
    _c("tom", "ann", DM, OK, "a verified teacher reaches the students of their class"),
    _c("tia", "ann", DM, REFUSED, "a teacher of another class"),
    _c("una", "ann", DM, UNVERIFIED, "finding 2: an invite link alone does not open a line to a child"),
    _c("ann", "una", DM, REFUSED, "nor from the child's side"),
    _c("pam", "ann", DM, OK, "a guardian"),
    _c("ann", "pam", DM, OK, "a child reaches their guardian"),
    _c("pia", "ann", DM, REFUSED, "a classmate's parent does not reach a child"),
    _c("ada", "ann", DM, REFUSED, "admins reach students only as their teacher"),
    _c("out", "ann", DM, NOT_MEMBER, "a member of another school"),
    _c("out", "tom", DM, NOT_MEMBER, "the closed contour"),
    _c("rex", "ann", DM, NOT_MEMBER, "finding 4: a removed teacher"),
    _c("rex", "tom", DM, NOT_MEMBER, "a removed teacher reaches no one, staff included"),
    _c("tom", "rex", DM, REFUSED, "nobody reaches a person who left"),
    _c("pam", "tom", DM, OK, "a parent reaches their child's teacher"),
    _c("pam", "una", DM, OK, "parents reach their child's teachers, verified or not (adults)"),
    _c("pam", "tia", DM, REFUSED, "a teacher of another class"),
    _c("pam", "pia", DM, OK, "parents of the same class"),
    _c("pam", "pat", DM, REFUSED, "parents of different classes"),
    _c("tom", "tia", DM, OK, "staff among themselves"),
    _c("una", "tom", DM, OK, "unverified staff still reach staff"),
    _c("pam", "ada", DM, OK, "the administration is reachable by adults"),
    _c("ann", "ada", DM, REFUSED, "a student reaches only classmates, teachers, guardians"),
    _c("nop", "bob", DM, NO_PROFILE, "finding 1a: no educational profile, no participation"),
    _c("kid", "bob", DM, AWAITING, "a child awaiting a guardian does not write"),
    _c("bob", "kid", DM, OK, "a classmate may open a DM the child can read"),
    _c("sam", "bob", DM, OK, "sam is still a student of 5A"),
    _c("sam", "cid", DM, REFUSED, "finding 5: a student's teacher seat gives no staff powers"),
    # calls
    _c("tom", "ann", CALL, OK, "a class head calls a student of the class"),
    _c("ann", "bob", CALL, OK, "classmates call"),
    _c("una", "ann", CALL, UNVERIFIED, "finding 2: unverified staff do not call children"),
    _c("pia", "ann", CALL, REFUSED, "finding 3's pair, as a call"),
    _c("ann", "kid", CALL, AWAITING, "a child awaiting a guardian is kept out of calls"),
    _c("kid", "ann", CALL, AWAITING, "…from both sides"),
    _c("nop", "ann", CALL, NO_PROFILE, "finding 1a: profile-less accounts do not call"),
    _c("rex", "tom", CALL, NOT_MEMBER, "finding 4: a removed teacher"),
    _c("out", "tom", CALL, NOT_MEMBER, "another school"),
    _c("pam", "tom", CALL, OK, "a parent calls their child's teacher"),
    _c("sam", "cid", CALL, REFUSED, "finding 5"),
    _c("tom", "tia+ada", CALL, OK, "staff conference"),
    _c("ada", "pam+pat", CALL, REFUSED, "parents of different classes in one call"),
    # group chats: the actor creates a group with the others
    _c("tom", "ann+bob", GROUP, OK, "a class head's group of their students"),
    _c("tom", "ann+pam", GROUP, OK, "a child, their guardian and their teacher"),
    _c("tom", "ann+pia", GROUP, REFUSED, "finding 3: a classmate's parent put next to a child"),
    _c("tom", "ann+cid", GROUP, REFUSED, "a student the class head does not teach"),
    _c("tom", "pat", GROUP, REFUSED, "a parent of a class the teacher does not teach"),
    _c("una", "ann", GROUP, UNVERIFIED, "finding 2: unverified staff create no groups with students"),
    _c("una", "tom+tia", GROUP, OK, "unverified staff may group with staff"),
    _c("tia", "ann", GROUP, REFUSED, "a teacher of another class"),
    _c("ada", "pam+pat", GROUP, REFUSED, "parents of different classes"),
    _c("ada", "tom+pam", GROUP, OK, "adults of the school"),
    _c("ada", "ann", GROUP, REFUSED, "the admin is not the child's teacher"),
    _c("ann", "bob", GROUP, NOT_STAFF, "students do not create groups"),
    _c("sam", "cid", GROUP, NOT_STAFF, "finding 5: a student with a teacher seat is not staff"),
    _c("rex", "tom", GROUP, NOT_MEMBER, "finding 4"),
    _c("out", "tom", GROUP, NOT_MEMBER, "another school"),
]
