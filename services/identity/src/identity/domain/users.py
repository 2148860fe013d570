"""The user aggregate: phone, profile, the guardians of this user, consent; emits domain events.

Guardian links live on the child's document, so a link, the child's consent and their events
change together in one single-document write (the store has no multi-document transactions).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from parta_common.errors import AlreadyExists, FailedPrecondition, NotFound, PermissionDenied

from identity.domain.events import (
    AccountDeleted,
    AgeBand,
    BirthDateChangeConfirmed,
    BirthDateChangeDeclined,
    BirthDateChangeRequested,
    BirthDateCorrected,
    ConsentChanged,
    ConsentState,
    DomainEvent,
    ErasureReported,
    GuardianLinked,
    GuardianUnlinked,
    ProfileAgeBandChanged,
    ProfileCreated,
    ProfileSnapshot,
    ProfileUpdated,
    UserRegistered,
)
from identity.domain.guardians import MAX_GUARDIANS, MAX_PENDING_LINKS, GuardianLink, LinkConfirmation, LinkState
from identity.domain.profiles import ADULT_AGE, Profile, age_band, age_band_rule, next_band_change


@dataclass
class User:
    id: str
    phone: str | None
    registered_at: datetime
    profile: Profile | None = None
    profile_request_id: str = ""
    guardians: list[GuardianLink] = field(default_factory=list)
    consent_state: ConsentState = ConsentState.UNSPECIFIED
    link_code_hash: str | None = None
    link_code_expires_at: datetime | None = None
    deleted_at: datetime | None = None
    deleted_by: str = ""  # who deleted the account: the person, or a guardian (ErasureService)
    # The stored band, the day it next changes and the rule it was computed with: the daily
    # age-band check finds people by them (see refresh_age_band).
    age_band: AgeBand = AgeBand.UNSPECIFIED
    age_band_changes_on: date | None = None
    age_band_rule: str = ""
    # A birth date that would move the person to another age band waits here for a guardian's or
    # a school admin's confirmation; until then every rule follows the confirmed birth date.
    pending_birth_date: date | None = None
    pending_birth_date_since: datetime | None = None
    version: int = 0
    events: list[DomainEvent] = field(default_factory=list)

    @classmethod
    def register(cls, user_id: str, phone: str, now: datetime) -> User:
        user = cls(id=user_id, phone=phone, registered_at=now)
        user.events.append(UserRegistered(user_id, now))
        return user

    # --- reading -----------------------------------------------------------------------------

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def is_minor(self, today: date) -> bool:
        return self.profile is not None and self.profile.age_on(today) < ADULT_AGE

    def compute_consent(self, today: date, consent_age: int) -> ConsentState:
        if self.profile is None:
            return ConsentState.UNSPECIFIED
        if self.profile.age_on(today) >= consent_age:
            return ConsentState.NOT_REQUIRED
        if any(g.state is LinkState.LINKED and g.consent_granted for g in self.guardians):
            return ConsentState.GRANTED
        return ConsentState.AWAITING_GUARDIAN

    def snapshot(self, today: date) -> ProfileSnapshot:
        assert self.profile is not None
        return ProfileSnapshot(
            user_id=self.id,
            first_name=self.profile.first_name,
            last_name=self.profile.last_name,
            patronymic=self.profile.patronymic,
            is_minor=self.is_minor(today),
            consent_state=self.consent_state,
            age_band=self.age_band,
        )

    def link_of(self, guardian_id: str) -> GuardianLink | None:
        return next((g for g in self.guardians if g.guardian_id == guardian_id), None)

    def linked_guardians(self) -> list[GuardianLink]:
        return [g for g in self.guardians if g.state is LinkState.LINKED]

    def is_child_of(self, guardian_id: str) -> bool:
        """Only a confirmed link makes someone a guardian; a request reveals and grants nothing."""
        link = self.link_of(guardian_id)
        return link is not None and link.state is LinkState.LINKED

    # --- profile -----------------------------------------------------------------------------

    def create_profile(self, profile: Profile, request_id: str, today: date, consent_age: int) -> None:
        self._require_alive()
        if self.profile is not None:
            raise AlreadyExists("the profile already exists; update it instead", reason="PROFILE_EXISTS")
        self.profile = profile
        self.profile_request_id = request_id
        self.consent_state = self.compute_consent(today, consent_age)
        self._set_age_band(today, consent_age)  # ProfileCreated carries it; no separate event
        self.events.append(ProfileCreated(self.snapshot(today)))

    def update_profile(
        self,
        profile: Profile,
        today: date,
        consent_age: int,
        now: datetime | None = None,
        *,
        birth_date_given: bool = False,
    ) -> None:
        """Names apply at once. A birth date applies at once only while it keeps the person in the
        same age band; one that crosses the consent age or 18 becomes a pending change (the old
        band holds) until a linked guardian or a school admin confirms it. Giving the confirmed
        date again, or another same-band date, withdraws a pending change."""
        self._require_alive()
        if self.profile is None:
            raise FailedPrecondition("create the profile first", reason="PROFILE_MISSING")
        current = self.profile
        born = profile.birth_date
        requested = age_band(born, today, consent_age)
        if born != current.birth_date and requested is not self.age_band_on(today, consent_age):
            if self.pending_birth_date != born:
                self.pending_birth_date = born
                self.pending_birth_date_since = now
                self.events.append(BirthDateChangeRequested(self.id, self.age_band, requested))
            profile = replace(profile, birth_date=current.birth_date)
        elif birth_date_given and self.pending_birth_date is not None:
            self._clear_pending_birth_date(self.id, "owner")
        if profile == current:
            return
        if profile.birth_date != current.birth_date:
            # A same-band correction applies at once; the trail still learns of it (no date on the bus).
            self.events.append(BirthDateCorrected(self.id, self.id, requested))
        self.profile = profile
        self._after_change(today, consent_age, guardian_id="")
        self._move_age_band(today, consent_age)  # a same-band correction may still move the day
        self.events.append(ProfileUpdated(self.snapshot(today)))

    def age_band_on(self, today: date, consent_age: int) -> AgeBand:
        assert self.profile is not None
        return age_band(self.profile.birth_date, today, consent_age)

    def confirm_birth_date(
        self, confirmer_id: str, confirmed_as: str, expected: date, today: date, consent_age: int
    ) -> None:
        """A linked guardian or a school admin (the caller decides which) confirms the pending
        change: the new birth date applies with its band, consent and snapshot events."""
        self._require_alive()
        if self.profile is None or self.pending_birth_date is None:
            raise NotFound("no birth-date change waits for confirmation", reason="BIRTH_DATE_CHANGE_NOT_FOUND")
        if expected != self.pending_birth_date:
            raise FailedPrecondition(
                "the pending birth date is not the one confirmed", reason="BIRTH_DATE_CHANGE_MISMATCH"
            )
        previous = self.age_band
        self.profile = replace(self.profile, birth_date=self.pending_birth_date)
        self.pending_birth_date = None
        self.pending_birth_date_since = None
        new_band = age_band(self.profile.birth_date, today, consent_age)
        self.events.append(BirthDateChangeConfirmed(self.id, confirmer_id, confirmed_as, previous, new_band))
        self._after_change(today, consent_age, guardian_id="")
        self._move_age_band(today, consent_age)
        self.events.append(ProfileUpdated(self.snapshot(today)))

    def decline_birth_date(self, decliner_id: str, declined_as: str) -> None:
        self._require_alive()
        if self.pending_birth_date is None:
            raise NotFound("no birth-date change waits for confirmation", reason="BIRTH_DATE_CHANGE_NOT_FOUND")
        self._clear_pending_birth_date(decliner_id, declined_as)

    def _clear_pending_birth_date(self, by: str, role: str) -> None:
        self.pending_birth_date = None
        self.pending_birth_date_since = None
        self.events.append(BirthDateChangeDeclined(self.id, by, role))

    def age_band_due(self, today: date, consent_age: int) -> bool:
        """The stored band may be stale: its change day has come, or the thresholds changed."""
        if self.deleted or self.profile is None:
            return False
        if self.age_band_rule != age_band_rule(consent_age):
            return True
        return self.age_band_changes_on is not None and self.age_band_changes_on <= today

    def refresh_age_band(self, today: date, consent_age: int) -> bool:
        """The periodic check: a birthday crossed the consent age or 18 since the band was stored.
        Emits ProfileAgeBandChanged once per change (the band is stored with the event in one
        write), ConsentChanged when consent follows (AWAITING_GUARDIAN/GRANTED → NOT_REQUIRED),
        and a fresh ProfileUpdated snapshot so projections of `is_minor` stay true. Returns
        whether the band changed; otherwise only the bookkeeping moves (nothing is emitted)."""
        if not self.age_band_due(today, consent_age):
            return False
        self._after_change(today, consent_age, guardian_id="")
        changed = self._move_age_band(today, consent_age)
        if changed:
            self.events.append(ProfileUpdated(self.snapshot(today)))
        return changed

    # --- guardians (self is the child) -------------------------------------------------------

    def request_guardian(
        self,
        guardian_id: str,
        now: datetime,
        confirmation: LinkConfirmation,
        today: date,
        consent_age: int,
        request_ttl: timedelta = timedelta(days=7),
    ) -> GuardianLink:
        """A guardian asks to link. `confirmation` says who vouches for it already (the school,
        or the child through a link code); without one the request waits for the child and
        lapses after `request_ttl`. Pending requests take no guardian slot."""
        self._require_alive()
        if guardian_id == self.id:
            raise FailedPrecondition("one cannot be one's own guardian", reason="GUARDIAN_SELF")
        self.drop_lapsed_requests(now, request_ttl)
        link = self.link_of(guardian_id)
        if link is None:
            link = GuardianLink(guardian_id, LinkState.PENDING, False, LinkConfirmation.NONE, now, now + request_ttl)
            self.guardians.append(link)
            pending = [g for g in self.guardians if g.state is LinkState.PENDING]
            for oldest in pending[: max(len(pending) - MAX_PENDING_LINKS, 0)]:
                self.guardians.remove(oldest)
        elif link.state is LinkState.PENDING:
            link.expires_at = now + request_ttl  # asked again: the request lives on
        if confirmation is not LinkConfirmation.NONE and link.state is LinkState.PENDING:
            self._confirm(link, confirmation, today, consent_age)
        return link

    def confirm_guardian(
        self, guardian_id: str, today: date, consent_age: int, now: datetime, request_ttl: timedelta = timedelta(days=7)
    ) -> GuardianLink:
        """The child confirms a pending request (idempotent for a link already made)."""
        self._require_alive()
        self.drop_lapsed_requests(now, request_ttl)
        link = self.link_of(guardian_id)
        if link is None:
            raise NotFound("no link request from this guardian", reason="GUARDIAN_LINK_NOT_FOUND")
        if link.state is LinkState.PENDING:
            self._confirm(link, LinkConfirmation.CHILD, today, consent_age)
        return link

    def drop_lapsed_requests(self, now: datetime, request_ttl: timedelta) -> None:
        self.guardians = [g for g in self.guardians if not g.lapsed(now, request_ttl)]

    def set_consent(self, guardian_id: str, granted: bool, today: date, consent_age: int) -> GuardianLink:
        self._require_alive()
        link = self.link_of(guardian_id)
        if link is None:
            raise NotFound("not a guardian of this user", reason="GUARDIAN_LINK_NOT_FOUND")
        if link.state is not LinkState.LINKED:
            raise FailedPrecondition("the link is not confirmed yet", reason="GUARDIAN_LINK_PENDING")
        if link.consent_granted == granted:
            return link
        link.consent_granted = granted
        self.events.append(GuardianLinked(guardian_id, self.id, confirmed=granted))
        self._after_change(today, consent_age, guardian_id=guardian_id)
        return link

    def unlink_guardian(self, guardian_id: str, today: date, consent_age: int, by: str = "") -> None:
        """`by`: who ended the link (the guardian, the child, or the deleted guardian)."""
        link = self.link_of(guardian_id)
        if link is None:
            raise NotFound("not a guardian of this user", reason="GUARDIAN_LINK_NOT_FOUND")
        self.guardians.remove(link)
        self.events.append(GuardianUnlinked(guardian_id, self.id, by))
        if not self.deleted:
            self._after_change(today, consent_age, guardian_id=guardian_id)

    def set_link_code(self, code_hash: str, now: datetime, ttl_seconds: int) -> datetime:
        self._require_alive()
        self.link_code_hash = code_hash
        self.link_code_expires_at = now + timedelta(seconds=ttl_seconds)
        return self.link_code_expires_at

    def consume_link_code(self, now: datetime) -> None:
        if self.link_code_expires_at is None or now >= self.link_code_expires_at:
            raise FailedPrecondition("the link code has expired", reason="LINK_CODE_EXPIRED")
        self.link_code_hash = None
        self.link_code_expires_at = None

    # --- deletion ----------------------------------------------------------------------------

    def delete(
        self, now: datetime, deleted_by: str = "", *, sessions_revoked: int = 0, children_unlinked: int = 0
    ) -> None:
        """Erases personal data (phone, profile, links) and leaves a tombstone so ids stay unique.
        Emits AccountDeleted (naming who deleted it) and identity's own erasure report (counts)."""
        if self.deleted:
            return
        self.deleted_at = now
        self.deleted_by = deleted_by or self.id
        counts = {
            "profile": int(self.profile is not None),
            "phone": int(self.phone is not None),
            "guardian_links": len(self.guardians) + children_unlinked,
            "sessions_revoked": sessions_revoked,
        }
        for link in list(self.guardians):
            self.guardians.remove(link)
            # Ended by whoever deleted the account (the person, or a guardian deleting a young child's).
            self.events.append(GuardianUnlinked(link.guardian_id, self.id, self.deleted_by))
        self.phone = None
        self.profile = None
        self.link_code_hash = None
        self.link_code_expires_at = None
        self.pending_birth_date = None
        self.pending_birth_date_since = None
        self.consent_state = ConsentState.UNSPECIFIED
        self.age_band = AgeBand.UNSPECIFIED
        self.age_band_changes_on = None
        self.age_band_rule = ""
        self.events.append(ErasureReported(self.id, "identity", counts, self.deleted_by, now))
        self.events.append(AccountDeleted(self.id, now, self.deleted_by))

    # --- internals ---------------------------------------------------------------------------

    def _confirm(self, link: GuardianLink, how: LinkConfirmation, today: date, consent_age: int) -> None:
        if len(self.linked_guardians()) >= MAX_GUARDIANS:
            raise FailedPrecondition("this child has the maximum number of guardians", reason="GUARDIANS_FULL")
        link.state = LinkState.LINKED
        link.expires_at = None
        link.confirmed_by = how
        self.events.append(GuardianLinked(link.guardian_id, self.id, confirmed=link.consent_granted))
        self._after_change(today, consent_age, guardian_id=link.guardian_id)

    def _after_change(self, today: date, consent_age: int, guardian_id: str) -> None:
        state = self.compute_consent(today, consent_age)
        if state != self.consent_state:
            self.consent_state = state
            self.events.append(ConsentChanged(self.id, state, guardian_id))

    def _set_age_band(self, today: date, consent_age: int) -> AgeBand:
        assert self.profile is not None
        previous = self.age_band
        born = self.profile.birth_date
        self.age_band = age_band(born, today, consent_age)
        self.age_band_changes_on = next_band_change(born, today, consent_age)
        self.age_band_rule = age_band_rule(consent_age)
        return previous

    def _move_age_band(self, today: date, consent_age: int) -> bool:
        previous = self._set_age_band(today, consent_age)
        if previous is self.age_band:
            return False
        self.events.append(ProfileAgeBandChanged(self.id, self.age_band, previous, self.consent_state))
        return True

    def _require_alive(self) -> None:
        if self.deleted:
            raise NotFound("account deleted", reason="ACCOUNT_DELETED")


def require_guardian_of(child: User, guardian_id: str) -> GuardianLink:
    link = child.link_of(guardian_id)
    if link is None:
        raise PermissionDenied("not a guardian of this user", reason="NOT_GUARDIAN")
    return link
