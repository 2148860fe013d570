"""Every school's policy as one replica knows it: a pure, in-memory map kept current from events.

Services decide "who may reach whom" on hot paths (a DM send, a call join) without a store read
for the policy: they ask this book. It is filled from the service's own projection of school's
events (`parta_common.policy_sync.PolicySync` loads it at start and keeps it fresh) and by the
consumer that applies an event on this replica. Each entry carries the school aggregate version
it came from, so a late or replayed event never brings an older policy back.
"""

from __future__ import annotations

from collections.abc import Iterable

from parta_common.safety.rules import DEFAULT_POLICY, SchoolPolicy

PolicyRow = tuple[str, SchoolPolicy, int]  # (school id, policy, school aggregate version)


class PolicyBook:
    def __init__(self) -> None:
        self._known: dict[str, tuple[int, SchoolPolicy]] = {}

    def __len__(self) -> int:
        return len(self._known)

    def get(self, school_id: str) -> SchoolPolicy:
        """The school's policy; the defaults for a school not (yet) known."""
        known = self._known.get(school_id)
        return known[1] if known is not None else DEFAULT_POLICY

    def version(self, school_id: str) -> int:
        known = self._known.get(school_id)
        return known[0] if known is not None else 0

    def apply(self, school_id: str, policy: SchoolPolicy, version: int) -> bool:
        """Keeps `policy` if it is newer than what the book has; True when it was kept."""
        if not school_id or version <= self.version(school_id):
            return False
        self._known[school_id] = (version, policy)
        return True

    def apply_all(self, rows: Iterable[PolicyRow]) -> int:
        return sum(self.apply(school_id, policy, version) for school_id, policy, version in rows)
