"""Educational profile: names and birth date, validated; age and the consent rule derive from them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import date

from parta_common.errors import InvalidArgument, Violations

from identity.domain.events import AgeBand

MAX_NAME_LENGTH = 64
MIN_AGE_YEARS = 4  # the youngest plausible pupil (pre-school classes)
MAX_AGE_YEARS = 120
ADULT_AGE = 18
PROFILE_FIELDS = ("first_name", "last_name", "patronymic", "birth_date")


@dataclass(frozen=True)
class Profile:
    first_name: str
    last_name: str
    patronymic: str
    birth_date: date

    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def age_on(self, today: date) -> int:
        return age_on(self.birth_date, today)


def age_on(born: date, today: date) -> int:
    years = today.year - born.year
    if (today.month, today.day) < (born.month, born.day):
        years -= 1
    return years


def birthday_at(born: date, years: int) -> date:
    """The day someone born on `born` turns `years`, by the same rule as age_on: a 29 February
    birthday is reached on 1 March in common years."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


def age_band(born: date, today: date, consent_age: int) -> AgeBand:
    age = age_on(born, today)
    if age >= ADULT_AGE:
        return AgeBand.ADULT
    if age >= consent_age:
        return AgeBand.MINOR
    return AgeBand.BELOW_CONSENT_AGE


def next_band_change(born: date, today: date, consent_age: int) -> date | None:
    """The first day after `today` on which the band differs (the consent-age or the 18th
    birthday); None for adults, whose band never changes again."""
    for threshold in sorted({consent_age, ADULT_AGE}):
        day = birthday_at(born, threshold)
        if day > today:
            return day
    return None


def age_band_rule(consent_age: int) -> str:
    """Names the thresholds a stored band was computed with; a changed consent age makes every
    stored band due for a recheck."""
    return f"consent={consent_age};adult={ADULT_AGE}"


def clean_name(value: str, field: str, violations: Violations, *, required: bool) -> str:
    # NFC so "й" typed as и + combining breve compares and sorts like the precomposed letter.
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        if required:
            violations.add(field, "must not be empty")
        return ""
    if len(text) > MAX_NAME_LENGTH:
        violations.add(field, f"must be at most {MAX_NAME_LENGTH} characters")
    elif any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in text):
        violations.add(field, "must not contain control or special space characters")
    elif not any(ch.isalpha() for ch in text):
        violations.add(field, "must contain letters")
    elif any(not (ch.isalpha() or ch in " -'’.") for ch in text):
        violations.add(field, "may contain only letters, spaces, hyphens and apostrophes")
    return text


def parse_birth_date(value: str, field: str, violations: Violations, today: date) -> date | None:
    text = value.strip()
    if not text:
        violations.add(field, "must not be empty")
        return None
    if len(text) != 10:
        violations.add(field, "must be an ISO date YYYY-MM-DD")
        return None
    try:
        born = date.fromisoformat(text)
    except ValueError:
        violations.add(field, "must be a real date YYYY-MM-DD")
        return None
    if born > today:
        violations.add(field, "must not be in the future")
        return None
    age = age_on(born, today)
    if age < MIN_AGE_YEARS or age > MAX_AGE_YEARS:
        violations.add(field, f"age must be between {MIN_AGE_YEARS} and {MAX_AGE_YEARS} years")
        return None
    return born


def new_profile(first_name: str, last_name: str, patronymic: str, birth_date: str, today: date) -> Profile:
    v = Violations()
    first = clean_name(first_name, "first_name", v, required=True)
    last = clean_name(last_name, "last_name", v, required=True)
    middle = clean_name(patronymic, "patronymic", v, required=False)
    born = parse_birth_date(birth_date, "birth_date", v, today)
    v.raise_if_any()
    assert born is not None
    return Profile(first, last, middle, born)


def check_mask(paths: list[str]) -> None:
    if not paths:
        raise InvalidArgument.field("update_mask", "must name at least one field")
    v = Violations()
    for path in paths:
        if path not in PROFILE_FIELDS:
            v.add("update_mask", f"unknown field {path[:40]!r}")
    v.raise_if_any()


def apply_mask(current: Profile, changes: dict[str, str], paths: list[str], today: date) -> Profile:
    """Field-mask update: only the named paths are read; unknown or empty masks are rejected."""
    check_mask(paths)
    v = Violations()
    updated = current
    for path in dict.fromkeys(paths):
        raw = changes.get(path, "")
        if path == "birth_date":
            born = parse_birth_date(raw, "profile.birth_date", v, today)
            if born is not None:
                updated = replace(updated, birth_date=born)
        else:
            text = clean_name(raw, f"profile.{path}", v, required=path != "patronymic")
            if path == "first_name":
                updated = replace(updated, first_name=text)
            elif path == "last_name":
                updated = replace(updated, last_name=text)
            else:
                updated = replace(updated, patronymic=text)
    v.raise_if_any()
    return updated
