"""datetime ↔ google.protobuf.Timestamp, one way for every service.

`ts(None)` is None, so `Message(field=ts(maybe))` leaves an absent time unset (HasField False)
instead of writing the epoch; `from_ts` reads an unset or zero timestamp back as None.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from google.protobuf import timestamp_pb2


@overload
def ts(when: datetime) -> timestamp_pb2.Timestamp: ...
@overload
def ts(when: None) -> None: ...
@overload
def ts(when: datetime | None) -> timestamp_pb2.Timestamp | None: ...
def ts(when: datetime | None) -> timestamp_pb2.Timestamp | None:
    if when is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def from_ts(stamp: timestamp_pb2.Timestamp) -> datetime | None:
    """An aware UTC datetime, or None for an unset (zero) timestamp."""
    if not stamp.seconds and not stamp.nanos:
        return None
    return stamp.ToDatetime(tzinfo=UTC)
