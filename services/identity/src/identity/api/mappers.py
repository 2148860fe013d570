"""Protobuf ↔ domain conversions shared by the servicers."""

from __future__ import annotations

from datetime import date

from parta.identity.v1 import auth_pb2, events_pb2, guardians_pb2, profiles_pb2
from parta_common.timestamps import ts

from identity.codecs import CONSENT_TO_PB
from identity.domain.guardians import GuardianLink, LinkState
from identity.domain.sessions import Session
from identity.domain.users import User


def profile_pb(user: User, today: date) -> profiles_pb2.Profile:
    p = user.profile
    assert p is not None
    return profiles_pb2.Profile(
        user_id=user.id,
        first_name=p.first_name,
        last_name=p.last_name,
        patronymic=p.patronymic,
        birth_date=p.birth_date.isoformat(),
        is_minor=user.is_minor(today),
        consent_state=CONSENT_TO_PB[user.consent_state],
        phone=user.phone or "",
        pending_birth_date=user.pending_birth_date.isoformat() if user.pending_birth_date else "",
    )


def display_name_pb(user: User) -> profiles_pb2.DisplayName:
    p = user.profile
    assert p is not None
    return profiles_pb2.DisplayName(
        user_id=user.id,
        first_name=p.first_name,
        last_name=p.last_name,
        patronymic=p.patronymic,
        display_name=p.display_name(),
    )


def session_pb(session: Session, current_session_id: str) -> auth_pb2.Session:
    return auth_pb2.Session(
        session_id=session.id,
        device_name=session.device_name,
        created_at=ts(session.created_at),
        last_used_at=ts(session.last_used_at),
        current=session.id == current_session_id,
    )


LINK_STATE_TO_PB = {
    LinkState.PENDING: guardians_pb2.GUARDIAN_LINK_STATE_PENDING,
    LinkState.LINKED: guardians_pb2.GUARDIAN_LINK_STATE_LINKED,
}


def link_pb(child: User, link: GuardianLink, other: User | None) -> guardians_pb2.GuardianLink:
    return guardians_pb2.GuardianLink(
        guardian_user_id=link.guardian_id,
        child_user_id=child.id,
        state=LINK_STATE_TO_PB[link.state],
        consent_granted=link.consent_granted,
        confirmed_by=link.confirmed_by.value,
        created_at=ts(link.created_at),
        display_name=other.profile.display_name() if other and other.profile else "",
        child_consent_state=CONSENT_TO_PB[child.consent_state] if child else events_pb2.CONSENT_STATE_UNSPECIFIED,
    )


def child_link_pb(child: User, link: GuardianLink) -> guardians_pb2.GuardianLink:
    """A guardian's view of a confirmed child: also the birth date waiting for confirmation."""
    out = link_pb(child, link, child)
    if child.pending_birth_date is not None:
        out.child_pending_birth_date = child.pending_birth_date.isoformat()
    return out
