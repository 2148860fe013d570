"""The school aggregate: its info, workday, admins and the admin seat, staff verification (pure Python)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from parta_common.errors import FailedPrecondition, Violations
from parta_common.retention import DEFAULT_GRACE_DAYS, DEFAULT_KEEP_DAYS, RetentionRule, retention_of
from parta_common.safety import DEFAULT_POLICY, SchoolPolicy

STAFF_ROOM_TITLE = "Учительская"

# Limits on free text; protobuf already rejects invalid UTF-8.
MAX_NAME = 200
MAX_SHORT_NAME = 64
MAX_REGION = 120
MAX_ADDRESS = 300

# The languages the server writes its chat texts in (system notes, reminders): chat renders them.
DEFAULT_LOCALE = "ru"
SUPPORTED_LOCALES = ("ru", "en")


def check_locale(v: Violations, name: str, value: str) -> None:
    if value not in SUPPORTED_LOCALES:
        v.add(name, f"must be one of: {', '.join(SUPPORTED_LOCALES)}")


def check_academic_year(v: Violations, name: str, value: str, *, required: bool) -> None:
    """ "2026/2027": two consecutive years in a plausible range."""
    if not value:
        if required:
            v.add(name, "must not be empty")
        return
    parts = value.split("/")
    ok = len(parts) == 2 and all(p.isascii() and p.isdigit() and len(p) == 4 for p in parts)
    if ok:
        first, second = int(parts[0]), int(parts[1])
        ok = 2000 <= first <= 2100 and second == first + 1
    if not ok:
        v.add(name, 'must look like "2026/2027"')


def check_minutes(v: Violations, start_name: str, start: int, end_name: str, end: int) -> None:
    if not 0 <= start < 24 * 60:
        v.add(start_name, "must be minutes after midnight (0..1439)")
    if not 0 < end <= 24 * 60:
        v.add(end_name, "must be minutes after midnight (1..1440)")
    if 0 <= start < 24 * 60 and 0 < end <= 24 * 60 and end <= start:
        v.add(end_name, "must be after the start of the workday")


@dataclass(frozen=True)
class School:
    id: str
    name: str
    short_name: str
    region: str
    address: str
    timezone: str
    academic_year: str
    staff_room_class_id: str
    workday_start_minute: int = 8 * 60
    workday_end_minute: int = 18 * 60
    admin_ids: tuple[str, ...] = ()
    verified_ids: tuple[str, ...] = ()
    # The first admin before they sign in: a keyed hash of their phone, cleared once claimed.
    pending_admin_phone_hash: str = ""
    admin_claimed_by: str = ""
    version: int = 0
    created_at: datetime | None = None
    # Set when the last admin's account was deleted (the person's right; the school cannot refuse it):
    # nobody administers the school until an operator appoints a successor. Cleared by that appointment.
    admin_vacant_since: datetime | None = None
    # The last academic-year rollover (domain/years.py), recorded in this document before any class
    # moves, so a retry after a crash resumes the same plan: the year left, the classes it moves up and
    # graduates, and whether classes may still be pending (cleared with AcademicYearStarted).
    rollover_from_year: str = ""
    rollover_promoted: tuple[str, ...] = ()
    rollover_graduated: tuple[str, ...] = ()
    rollover_pending: bool = False
    # The school's tighten-only communication switches (SetSchoolPolicy; the rule book applies them).
    policy: SchoolPolicy = DEFAULT_POLICY
    # The language of the texts the server writes into the school's chats (UpdateSchool's "locale").
    locale: str = DEFAULT_LOCALE
    # How long chats and files of ended academic years are kept (SetRetentionPolicy; chat applies it).
    retention_keep_days: int = DEFAULT_KEEP_DAYS
    retention_grace_days: int = DEFAULT_GRACE_DAYS

    @property
    def retention(self) -> RetentionRule:
        return retention_of(self.retention_keep_days, self.retention_grace_days)

    @property
    def admin_vacant(self) -> bool:
        return self.admin_vacant_since is not None


def forget_verification(school: School, user_id: str) -> School:
    """Verification belongs to a person's time on the staff: once they leave the school it ends, so a
    teacher re-joining by a plain link is unverified until an admin verifies them again."""
    if user_id not in school.verified_ids:
        return school
    return replace(school, verified_ids=tuple(v for v in school.verified_ids if v != user_id))


# --- admins ------------------------------------------------------------------------------------


def check_can_remove_admin(admin_ids: tuple[str, ...], user_id: str) -> None:
    if user_id not in admin_ids:
        raise FailedPrecondition("the user is not an admin of this school", reason="NOT_AN_ADMIN")
    if len(admin_ids) <= 1:
        raise FailedPrecondition(
            "a school must keep at least one admin: appoint another admin before stepping down", reason="LAST_ADMIN"
        )


def vacate_admin(school: School, user_id: str, now: datetime) -> School:
    """A deleted account leaves the admins whatever their count: the person is gone and the last-admin rule
    cannot hold them. When they were the last, the seat is recorded vacant (since the first vacancy: a
    replay or a second deletion does not move the date). Unchanged when the person was no admin."""
    if user_id not in school.admin_ids:
        return school
    remaining = tuple(a for a in school.admin_ids if a != user_id)
    vacant_since = school.admin_vacant_since or (None if remaining else now)
    return replace(school, admin_ids=remaining, admin_vacant_since=vacant_since)


def check_operator_may_fill(school: School) -> None:
    """Operators step into a school only when nobody inside can act: while it has an admin, admins appoint.
    A school whose first admin never signed in counts as without admin too (a mistyped phone is fixed so)."""
    if school.admin_ids:
        raise FailedPrecondition("the school has an admin; its admins appoint new ones", reason="ADMIN_SEAT_OCCUPIED")


def fill_admin_seat(school: School, user_id: str) -> School:
    """`user_id` becomes admin (and verified staff); a vacancy and any pending phone nomination end."""
    return replace(
        school,
        admin_ids=school.admin_ids if user_id in school.admin_ids else (*school.admin_ids, user_id),
        verified_ids=school.verified_ids if user_id in school.verified_ids else (*school.verified_ids, user_id),
        admin_vacant_since=None,
        pending_admin_phone_hash="",
    )


def nominate_admin_phone(school: School, phone_hash: str) -> School:
    """An operator names the successor by phone (there may be no staff left to pick from): whoever signs
    in with it claims the seat, exactly like the first admin of a newly registered school."""
    check_operator_may_fill(school)
    return replace(school, pending_admin_phone_hash=phone_hash, admin_claimed_by="")


def add_once(items: tuple[str, ...], item: str) -> tuple[str, ...]:
    """`items` with `item` appended unless it is there already (admin and verified ids)."""
    return items if item in items else (*items, item)
