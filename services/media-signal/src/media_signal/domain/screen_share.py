"""Screen sharing: who may share a screen in a room (pure Python).

A screen share is a second video stream beside the camera (a second publisher in the SFU, a second
peer connection per peer in a peer-to-peer call), marked `screen` wherever it is signalled. The
room's setting (`Room.screen_share`, chosen at create; lessons default to HOSTS, calls and
broadcasts to ANYONE) decides, and the host decides per participant on top of it:
`allow_screen_share` lets one participant share in a HOSTS room, `stop_screen_share` ends their
share and takes the permission back in either kind of room. Sharing needs a publishing grant
(viewers never share) and the host may always share.
"""

from __future__ import annotations

from parta_common.errors import InvalidArgument, PermissionDenied

from media_signal.domain.rooms import Grants, ScreenShare

SOURCES = ("camera", "screen")


def may_share(policy: ScreenShare, grants: Grants, host_decision: bool | None) -> bool:
    """`host_decision`: True when the host allowed this participant, False when the host stopped
    them, None when the host said nothing."""
    if not grants.can_publish:
        return False
    if grants.is_host:
        return True
    if host_decision is not None:
        return host_decision
    return policy is ScreenShare.ANYONE


def check_may_share(policy: ScreenShare, grants: Grants, host_decision: bool | None) -> None:
    if not grants.can_publish:
        raise PermissionDenied("you are not on stage: publishing is not allowed", reason="PUBLISH_NOT_ALLOWED")
    if not may_share(policy, grants, host_decision):
        raise PermissionDenied(
            "only the host, or whom the host allows, may share a screen here", reason="SCREEN_SHARE_NOT_ALLOWED"
        )


def check_share_target(action: str, *, target_is_host: bool) -> None:
    """The host's allow/stop acts on others; the host's own share is stopped like anyone's
    (stop_screen_share from the client), not by a host action on oneself."""
    if target_is_host:
        raise InvalidArgument.field("participant_id", f"{action} does not apply to the host")
