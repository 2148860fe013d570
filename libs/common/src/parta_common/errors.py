"""Domain error taxonomy shared by every service; pure Python, mapped to gRPC status once at the edge."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every expected failure; `reason` is a stable machine code (UPPER_SNAKE)."""

    default_reason = "DOMAIN_ERROR"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})


class InvalidArgument(DomainError):
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        violations: Iterable[FieldViolation] | FieldViolation,
        *,
        message: str | None = None,
        reason: str | None = None,
    ):
        found = [violations] if isinstance(violations, FieldViolation) else list(violations)
        text = message or "; ".join(f"{v.field}: {v.description}" for v in found) or "invalid argument"
        super().__init__(text, reason=reason)
        self.violations = found

    @classmethod
    def field(cls, name: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(name, description)])


class NotFound(DomainError):
    default_reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    default_reason = "FAILED_PRECONDITION"


class Aborted(DomainError):
    """A concurrent change won; the client may retry."""

    default_reason = "ABORTED"


# The one reason code for a write that lost to a concurrent one (every service, every aggregate).
CONCURRENT_CHANGE = "CONCURRENT_CHANGE"


class ConcurrentChange(Aborted):
    """A versioned write lost to a concurrent writer: read again and retry (parta_common.retries),
    or let the client retry (ABORTED, reason CONCURRENT_CHANGE)."""

    default_reason = CONCURRENT_CHANGE

    def __init__(self, message: str = "the record changed concurrently; retry", *, reason: str | None = None):
        super().__init__(message, reason=reason)


class PermissionDenied(DomainError):
    default_reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    default_reason = "UNAUTHENTICATED"


class Unavailable(DomainError):
    """A dependency (store, Kafka, a peer service) cannot answer now; the client should retry after
    `retry_after_seconds` (sent as google.rpc.RetryInfo)."""

    default_reason = "UNAVAILABLE"

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ):
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after_seconds = retry_after_seconds


class ResourceExhausted(DomainError):
    default_reason = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, *, retry_after_seconds: float | None = None, reason: str | None = None):
        super().__init__(message, reason=reason)
        self.retry_after_seconds = retry_after_seconds


@dataclass
class Violations:
    """Collects field violations during validation; `raise_if_any()` at the end."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, name: str, description: str) -> None:
        self.items.append(FieldViolation(name, description))

    def check(self, ok: bool, name: str, description: str) -> None:
        if not ok:
            self.add(name, description)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)
