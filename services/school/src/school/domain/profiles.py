"""What school knows of a person's educational profile, projected from identity's events (pure Python)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ProfileState(IntEnum):
    """What school knows of a person's educational profile (kept at identity, projected from its events)."""

    UNKNOWN = 0  # no ProfileCreated seen (none yet, or the event has not arrived)
    PRESENT = 1
    DELETED = 2  # AccountDeleted: final, whatever arrives later


@dataclass(frozen=True)
class ProfileFacts:
    """The profile facts school projects from identity: whether there is one, and whether a guardian
    still has to confirm (a child below the consent age). `version` is identity's aggregate version."""

    state: ProfileState = ProfileState.UNKNOWN
    awaiting_guardian: bool = False
    version: int = 0
