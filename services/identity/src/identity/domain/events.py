"""Domain events of a user (past tense); adapters map them to parta.identity.v1 protobufs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConsentState(StrEnum):
    UNSPECIFIED = "unspecified"  # no profile yet, so no age
    NOT_REQUIRED = "not_required"
    AWAITING_GUARDIAN = "awaiting_guardian"
    GRANTED = "granted"


class AgeBand(StrEnum):
    """Which age rules apply; derived from the birth date, which never leaves identity."""

    UNSPECIFIED = "unspecified"  # no profile (or deleted)
    BELOW_CONSENT_AGE = "below_consent_age"
    MINOR = "minor"  # at or above the consent age, below 18
    ADULT = "adult"


@dataclass(frozen=True)
class ProfileSnapshot:
    user_id: str
    first_name: str
    last_name: str
    patronymic: str
    is_minor: bool
    consent_state: ConsentState
    age_band: AgeBand = AgeBand.UNSPECIFIED


@dataclass(frozen=True)
class UserRegistered:
    user_id: str
    registered_at: datetime


@dataclass(frozen=True)
class ProfileCreated:
    profile: ProfileSnapshot


@dataclass(frozen=True)
class ProfileUpdated:
    profile: ProfileSnapshot


@dataclass(frozen=True)
class ConsentChanged:
    user_id: str
    consent_state: ConsentState
    guardian_user_id: str


@dataclass(frozen=True)
class GuardianLinked:
    guardian_user_id: str
    child_user_id: str
    confirmed: bool


@dataclass(frozen=True)
class GuardianUnlinked:
    guardian_user_id: str
    child_user_id: str
    unlinked_by_user_id: str = ""


@dataclass(frozen=True)
class ProfileAgeBandChanged:
    user_id: str
    age_band: AgeBand
    previous_age_band: AgeBand
    consent_state: ConsentState


@dataclass(frozen=True)
class AccountDeleted:
    user_id: str
    deleted_at: datetime
    deleted_by_user_id: str = ""  # the person, or the guardian who deleted a young child's account


@dataclass(frozen=True)
class SessionRevoked:
    """A session ended before its access tokens did; every service refuses them from now on."""

    user_id: str
    session_id: str
    revoked_at: datetime
    reason: str


@dataclass(frozen=True)
class BirthDateChangeRequested:
    user_id: str
    age_band: AgeBand
    requested_age_band: AgeBand


@dataclass(frozen=True)
class BirthDateCorrected:
    """The owner corrected their birth date within the same age band (applied at once)."""

    user_id: str
    corrected_by_user_id: str
    age_band: AgeBand


@dataclass(frozen=True)
class BirthDateChangeConfirmed:
    user_id: str
    confirmed_by_user_id: str
    confirmed_as: str
    previous_age_band: AgeBand
    age_band: AgeBand


@dataclass(frozen=True)
class BirthDateChangeDeclined:
    user_id: str
    declined_by_user_id: str
    declined_as: str


@dataclass(frozen=True)
class ErasureReported:
    """What a service removed for an erased account (counts only); identity's own is emitted with
    AccountDeleted. On topic erasure.report.v1, not identity.user.v1."""

    user_id: str
    service: str
    counts: dict[str, int]
    requested_by_user_id: str
    erased_at: datetime


DomainEvent = (
    UserRegistered
    | ProfileCreated
    | ProfileUpdated
    | ConsentChanged
    | ProfileAgeBandChanged
    | GuardianLinked
    | GuardianUnlinked
    | AccountDeleted
    | SessionRevoked
    | BirthDateChangeRequested
    | BirthDateChangeConfirmed
    | BirthDateChangeDeclined
    | BirthDateCorrected
    | ErasureReported
)
