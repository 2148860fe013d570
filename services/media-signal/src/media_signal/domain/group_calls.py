"""Group calls: when a call runs peer-to-peer and when through the SFU, and who fits into a room.

The switch point is decided when the call is created (`rooms.is_group_call`): a call for more
than 4 people (the host and the invitees), or one asking for more than 4 seats, is a group call
through Janus from the start, up to 100 participants; anything smaller stays peer-to-peer for its
whole life. A running peer-to-peer call is never switched to the SFU: its people are fixed at
creation, so the only fifth stream it can see is a second device of someone already in it, and
moving four live meshes to the SFU mid-call would renegotiate every connection of every client
for that. The fifth is refused with RESOURCE_EXHAUSTED `CALL_FULL` and a hint to start a group
call (docs/media-signal.md, "Group calls").
"""

from __future__ import annotations

from parta_common.errors import ResourceExhausted

from media_signal.domain.rooms import MAX_P2P_PARTICIPANTS, MediaMode, Room

CALL_FULL_HINT = (
    f"this call is peer-to-peer for at most {MAX_P2P_PARTICIPANTS} people: "
    f"start a group call (more than {MAX_P2P_PARTICIPANTS} people, through the media server) instead"
)


def check_capacity(room: Room, *, active: int, is_host: bool) -> None:
    """Whether one more participant fits: a peer-to-peer mesh never holds more than 4 streams,
    the host included (CALL_FULL); otherwise the host always gets in and the others up to
    `max_participants` (ROOM_FULL)."""
    if room.media_mode is MediaMode.P2P and active >= MAX_P2P_PARTICIPANTS:
        raise ResourceExhausted(CALL_FULL_HINT, reason="CALL_FULL")
    if not is_host and active >= room.max_participants:
        raise ResourceExhausted("the room is full", reason="ROOM_FULL")
