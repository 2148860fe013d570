"""Host actions in a live room: who may do which to whom, and what each changes (pure Python).

The hub (app/hub.py) looks the participants up and applies the outcome under the room's lock; the
rules it applies live here: only the host acts, never removes or demotes themselves, admits only
people in the waiting room and does nothing else to them but remove them; a child whose guardian
has not confirmed watches and is never put on stage; the host stays on stage; what the host muted
the participant cannot unmute alone.
"""

from __future__ import annotations

from dataclasses import replace

from parta_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied

from media_signal.domain.rooms import Grants

TRACKS = frozenset({"audio", "video"})


def check_host(*, is_host: bool) -> None:
    if not is_host:
        raise PermissionDenied("only the host may do this", reason="NOT_HOST")


def check_target(action: str, *, on_self: bool, target_waiting: bool) -> None:
    """What the host may do to this participant (found in the room, waiting or not)."""
    if on_self and action in ("remove", "demote"):
        raise InvalidArgument.field("participant_id", "the host cannot do this to themselves")
    if action == "admit":
        if not target_waiting:
            raise FailedPrecondition("not in the waiting room", reason="NOT_WAITING")
        return
    if target_waiting and action != "remove":
        raise FailedPrecondition("admit the participant first", reason="IN_WAITING_ROOM")


def tracks_of(track: str | None) -> set[str]:
    """The tracks a mute names: one, or both when none is named."""
    return set(TRACKS) if track is None else {track}


def check_self_unmute(*, muted: bool, tracks: set[str], host_muted: set[str]) -> None:
    """A participant mutes themselves freely but cannot unmute what the host muted."""
    if not muted and tracks & host_muted:
        raise PermissionDenied("the host muted you; ask the host to unmute", reason="MUTED_BY_HOST")


def promoted(grants: Grants) -> Grants:
    """On stage: may publish media and data."""
    if not grants.stage_allowed:
        # A child awaiting a guardian's consent may watch, never speak.
        raise PermissionDenied("this participant may only watch until a guardian confirms", reason="AWAITING_GUARDIAN")
    return replace(grants, can_publish=True, can_publish_data=True)


def demoted(grants: Grants) -> Grants:
    """Back to watching: may no longer publish."""
    if grants.is_host:
        raise FailedPrecondition("the host stays on stage", reason="HOST_ON_STAGE")
    return replace(grants, can_publish=False, can_publish_data=False)
