"""Range checks for every integer that crosses the edge: cursors, offsets, sizes, numbers in page tokens.

proto's int64 admits values the store and the services' arithmetic do not (a cursor of 2^63-1 plus
a window overflows BSON's 8 bytes; a page token may carry 1e20), so each such field is checked here
and refused as INVALID_ARGUMENT with a field violation before it reaches a driver.
"""

from __future__ import annotations

from parta_common.errors import InvalidArgument, Violations

INT64_MAX = 2**63 - 1
# Sequence numbers and cursors: exact in an IEEE double, so JSON/JavaScript clients, the store and
# the services' cursor arithmetic all agree, with room to add windows without leaving int64.
MAX_CURSOR = 2**53 - 1
# Positions in a listing (page-token offsets): far beyond any real page walk, small enough for skip().
MAX_OFFSET = 2**31 - 1


def in_range(value: object, minimum: int, maximum: int) -> bool:
    # bool is an int in Python; a JSON page token of `true` is not a number.
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum


def check_int(
    v: Violations,
    field: str,
    value: object,
    *,
    minimum: int = 0,
    maximum: int = MAX_CURSOR,
    description: str | None = None,
) -> bool:
    """Adds a field violation unless `value` is an integer in [minimum, maximum]; True when it is."""
    if in_range(value, minimum, maximum):
        return True
    v.add(field, description or f"must be an integer in {minimum}..{maximum}")
    return False


def require_int(
    field: str, value: object, *, minimum: int = 0, maximum: int = MAX_CURSOR, description: str | None = None
) -> int:
    """`value` when it is an integer in [minimum, maximum]; INVALID_ARGUMENT on `field` otherwise."""
    if not in_range(value, minimum, maximum):
        raise InvalidArgument.field(field, description or f"must be an integer in {minimum}..{maximum}")
    assert isinstance(value, int)
    return value
