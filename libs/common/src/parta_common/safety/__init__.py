"""The one rule book: who may reach whom in a school, and what people in limbo may do (pure code).

Every service decides from its own projection of school memberships and identity profiles, and
asks the same functions here, so chat, media-signal and school can never disagree. The rules and
the reasons are tabled in docs/safety.md; the shared test table is tests/common/safety_cases.py.

Use:
    me = Person.of(user_id, school_id, [Fact(Role.TEACHER, "5A", Seat.CLASS_HEAD, verified=True)],
                   has_profile=True, awaiting_guardian=False)
    check_contact(me, other, Contact.DM)        # a new DM / call / putting two people together
    check_together(me, [a, b, c], Contact.GROUP)  # a group chat or a call: every pair
    check_direct_write(me, peer)                # writing in an existing DM
    check_staff_channel_post(me); check_can_create_group(me); check_can_participate(me)
    conflicts([...])                            # members of an existing group in a forbidden pair
    may_contact(a, b, Contact.CALL)             # the bare pairwise rule, as a bool
    identity_refusal(uid, has_profile=..., awaiting_guardian=...)  # hot paths that know only the profile
    may_post_in_staff_channel(me) / staff_not_verified() / group_conflict(ids)  # recorded ahead, raised later

Raises parta_common.errors with the shared machine reasons: NOT_A_SCHOOL_MEMBER, PROFILE_MISSING,
AWAITING_GUARDIAN, STAFF_NOT_VERIFIED, CONTACT_NOT_ALLOWED, CHAT_READ_ONLY, NOT_STAFF.
`SchoolPolicy` holds the per-school switches; each can only tighten the defaults. Every decision
takes the school's policy (`PolicyBook.get(school_id)`: in memory, fed from school's events).
"""

from parta_common.safety.book import PolicyBook, PolicyRow
from parta_common.safety.rules import (
    AWAITING_GUARDIAN,
    CHAT_READ_ONLY,
    CONTACT_NOT_ALLOWED,
    DEFAULT_POLICY,
    NOT_A_SCHOOL_MEMBER,
    NOT_STAFF,
    PROFILE_MISSING,
    STAFF_NOT_VERIFIED,
    Contact,
    Fact,
    Person,
    Role,
    SchoolPolicy,
    Seat,
    check_archived,
    check_can_create_group,
    check_can_participate,
    check_contact,
    check_direct_write,
    check_staff_channel_post,
    check_together,
    conflicts,
    contact_refusal,
    group_conflict,
    identity_refusal,
    may_contact,
    may_post_in_staff_channel,
    participation_refusal,
    staff_not_verified,
)

__all__ = [
    "AWAITING_GUARDIAN",
    "CHAT_READ_ONLY",
    "CONTACT_NOT_ALLOWED",
    "DEFAULT_POLICY",
    "NOT_A_SCHOOL_MEMBER",
    "NOT_STAFF",
    "PROFILE_MISSING",
    "STAFF_NOT_VERIFIED",
    "Contact",
    "Fact",
    "Person",
    "PolicyBook",
    "PolicyRow",
    "Role",
    "SchoolPolicy",
    "Seat",
    "check_archived",
    "check_can_create_group",
    "check_can_participate",
    "check_contact",
    "check_direct_write",
    "check_staff_channel_post",
    "check_together",
    "conflicts",
    "contact_refusal",
    "group_conflict",
    "identity_refusal",
    "may_contact",
    "may_post_in_staff_channel",
    "participation_refusal",
    "staff_not_verified",
]
