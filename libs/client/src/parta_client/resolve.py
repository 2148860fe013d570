"""Turning what a person types into ids: class names, chat names, people, times, invite links."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Latin look-alikes typed on an English layout ("5A") mean the Cyrillic class letter ("5А").
_LOOKALIKES = str.maketrans("ABEKMHOPCTXY", "АВЕКМНОРСТХУ")


class UsageError(Exception):
    """The input cannot be turned into a request (printed as is, exit code 2)."""


_DASH = re.compile(r"\s*[-\u2013\u2014]\s*")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Case- and layout-insensitive form of a name for matching; any dash with any spacing is one
    ("5А - родители" finds the chat titled «5А — родители»)."""
    text = _SPACES.sub(" ", _DASH.sub(" - ", text.strip()))
    return text.upper().translate(_LOOKALIKES)


_CLASS = re.compile(r"^\s*(\d{1,2})\s*-?\s*(\S{1,4})\s*$")


def parse_class_name(name: str) -> tuple[int, str]:
    """ "5А", "5 а", "11-Б" → (grade, letter). The letter is folded to Cyrillic upper case."""
    match = _CLASS.match(name)
    if not match:
        raise UsageError(f"a class name is a grade and a letter, like 5А (got {name!r})")
    return int(match.group(1)), fold(match.group(2))


@dataclass(frozen=True)
class Candidate:
    id: str
    names: tuple[str, ...]
    label: str = ""


def pick(what: str, ref: str, candidates: Iterable[Candidate]) -> str:
    """The one candidate whose id is `ref` or one of whose names matches it (folded)."""
    items = list(candidates)
    for c in items:
        if c.id == ref:
            return c.id
    wanted = fold(ref)
    found = [c for c in items if any(fold(n) == wanted for n in c.names if n)]
    if len(found) == 1:
        return found[0].id
    if not found:
        known = ", ".join(sorted({c.label or c.names[0] for c in items if c.names})) or "none"
        raise UsageError(f"no {what} {ref!r} (known: {known})")
    labels = ", ".join(f"{c.label or c.names[0]} ({c.id})" for c in found)
    raise UsageError(f"{what} {ref!r} is ambiguous: {labels}; use the id")


def invite_token(text: str) -> str:
    """An invite token from the token itself or from the link (…/join/<token>)."""
    text = text.strip().split("#", 1)[0].split("?", 1)[0]
    token = text.rsplit("/", 1)[-1]  # a link ending in "/" has no token (not its last folder's name)
    if not token:
        raise UsageError("empty invite token")
    return token


_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """ "90m", "2h", "7d" → seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise UsageError(f"a duration is a number and a unit s/m/h/d/w, like 7d (got {text!r})")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_when(text: str, timezone: str, now: datetime | None = None) -> datetime:
    """ "+2h" (from now), or an ISO date-time; without an offset it is in the school's timezone."""
    current = now or datetime.now(UTC)
    text = text.strip()
    if text.startswith("+"):
        return current + timedelta(seconds=parse_duration(text[1:]))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"a time is +DURATION or ISO like 2026-12-01T09:00 (got {text!r})") from error
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(timezone or "Europe/Moscow"))
        except ZoneInfoNotFoundError:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def choose_role(text: str, choices: Sequence[str]) -> str:
    value = text.strip().lower()
    if value not in choices:
        raise UsageError(f"role must be one of {', '.join(choices)} (got {text!r})")
    return value
