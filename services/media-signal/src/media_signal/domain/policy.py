"""Who may meet whom in a call: media-signal's adapter onto the one rule book (parta_common.safety).

The rules themselves (DESIGN.md "Cross-cutting rules", tabled in docs/safety.md) live in the kit,
so calls follow exactly what chat's DMs and groups follow. This module only maps the membership
projection (`Access`) onto the rule book's `Person` and keeps media-signal's call-shaped entry
points. People who are no longer members are skipped: they cannot join the call anyway. Every
entry point takes the school's policy (its tighten-only switches, from school's events).
"""

from __future__ import annotations

from collections.abc import Iterable

from parta_common.safety import DEFAULT_POLICY, Contact, SchoolPolicy, check_contact, check_together, may_contact

from media_signal.domain.rooms import Access


def may_meet(a: Access, b: Access, policy: SchoolPolicy = DEFAULT_POLICY) -> bool:
    return a.user_id == b.user_id or may_contact(a.person, b.person, Contact.CALL, policy)


def check_call_contacts(me: Access, others: Iterable[Access], policy: SchoolPolicy = DEFAULT_POLICY) -> None:
    """`me` joins a call with `others`: every pair with me must be allowed (CONTACT_NOT_ALLOWED,
    STAFF_NOT_VERIFIED, AWAITING_GUARDIAN, PROFILE_MISSING from the rule book)."""
    for other in others:
        if other.user_id != me.user_id and other.is_member:
            check_contact(me.person, other.person, Contact.CALL, policy)


def check_call_group(members: list[Access], policy: SchoolPolicy = DEFAULT_POLICY) -> None:
    """Every pair of a call's people (the host first, then the invitees) must be allowed to meet,
    and nobody in it may be a child still awaiting a guardian's consent."""
    host, *rest = members
    people = [m.person for m in rest if m.is_member and m.user_id != host.user_id]
    check_together(host.person, people, Contact.CALL, policy)
