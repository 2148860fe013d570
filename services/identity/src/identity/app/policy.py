"""Tunable limits of the use cases, filled from settings by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass, field

from identity.domain.challenges import CodePolicy


@dataclass(frozen=True)
class IdentityPolicy:
    code: CodePolicy = field(default_factory=CodePolicy)
    phone_daily_cap: int = 10
    address_limit: int = 30
    address_window_seconds: int = 3600
    session_idle_days: int = 60
    consent_age: int = 14
    link_code_ttl_seconds: int = 600
    guardian_links_per_day: int = 20
    # Phone link requests that may name one child's phone per day, from anyone: bounds how fast
    # strangers can pile requests on a child (keyed by the phone, account or not: no oracle).
    child_link_requests_per_day: int = 10
    # A pending request lapses unless the child (or the school) confirms it.
    guardian_request_ttl_seconds: int = 7 * 86_400
