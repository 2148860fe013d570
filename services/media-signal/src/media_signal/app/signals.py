"""Messages of the signalling stream as plain data: commands from clients, messages to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from parta_common.errors import DomainError, Violations

from media_signal.domain.rooms import Grants, Room

MAX_SDP_BYTES = 64 * 1024
MAX_CANDIDATE = 1024
MAX_SDP_MID = 64
MAX_MLINE_INDEX = 64
TRACKS = ("audio", "video")
HOST_ACTIONS = (
    "mute",
    "unmute",
    "remove",
    "admit",
    "promote",
    "demote",
    "end_room",
    "allow_screen_share",
    "stop_screen_share",
)

# ----------------------------------------------------------------- from the client


@dataclass(frozen=True)
class Sdp:
    type: str  # "offer" | "answer"
    sdp: str
    participant_id: str = ""
    subscription_id: str = ""
    source: str = "camera"  # "camera" | "screen"


@dataclass(frozen=True)
class Candidate:
    candidate: str
    sdp_mid: str = ""
    sdp_mline_index: int = 0
    participant_id: str = ""
    subscription_id: str = ""
    source: str = "camera"


@dataclass(frozen=True)
class Mute:
    track: str | None  # None: every track
    muted: bool


@dataclass(frozen=True)
class RaiseHand:
    raised: bool


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class StopScreenShare:
    pass


@dataclass(frozen=True)
class Ping:
    client_time_ms: int


@dataclass(frozen=True)
class HostAction:
    action: str
    participant_id: str = ""
    track: str | None = None


Command = Sdp | Candidate | Mute | RaiseHand | Leave | Ping | HostAction | StopScreenShare


def validate_sdp(sdp: Sdp) -> None:
    """Cheap structural checks; the SFU or the other peer does the full parse."""
    v = Violations()
    text = sdp.sdp
    v.check(0 < len(text.encode()) <= MAX_SDP_BYTES, "sdp", f"1..{MAX_SDP_BYTES} bytes")
    v.check(text.startswith("v=0"), "sdp", "not a session description (must start with v=0)")
    v.check("\nm=" in text, "sdp", "no media section")
    v.check("\x00" not in text and all(ch.isprintable() or ch in "\r\n\t" for ch in text), "sdp", "control characters")
    v.raise_if_any()


def validate_candidate(c: Candidate) -> None:
    v = Violations()
    v.check(len(c.candidate) <= MAX_CANDIDATE, "candidate", f"at most {MAX_CANDIDATE} characters")
    if c.candidate:
        ok = c.candidate.startswith("candidate:") and c.candidate.isascii() and c.candidate.isprintable()
        v.check(ok, "candidate", "must be an a=candidate value (candidate:...)")
        v.check(len(c.candidate.split()) >= 8, "candidate", "too few fields")
    v.check(len(c.sdp_mid) <= MAX_SDP_MID and c.sdp_mid.isprintable(), "sdp_mid", "invalid")
    v.check(0 <= c.sdp_mline_index < MAX_MLINE_INDEX, "sdp_mline_index", f"0..{MAX_MLINE_INDEX - 1}")
    v.raise_if_any()


# ----------------------------------------------------------------- to the client


@dataclass(frozen=True)
class ParticipantView:
    participant_id: str
    user_id: str
    grants: Grants
    waiting: bool
    audio_muted: bool
    video_muted: bool
    hand_raised: bool
    publishing: bool
    joined_at: datetime
    sharing_screen: bool = False
    may_share_screen: bool = False


@dataclass(frozen=True)
class Joined:
    room: Room
    participants: list[ParticipantView]
    self_view: ParticipantView
    keepalive_timeout_seconds: int


@dataclass(frozen=True)
class Waiting:
    room: Room
    self_view: ParticipantView


@dataclass(frozen=True)
class ParticipantJoinedMsg:
    participant: ParticipantView


@dataclass(frozen=True)
class ParticipantUpdatedMsg:
    participant: ParticipantView


@dataclass(frozen=True)
class ParticipantLeftMsg:
    participant_id: str
    user_id: str
    reason: str


@dataclass(frozen=True)
class SdpOut:
    type: str
    sdp: str
    participant_id: str = ""
    subscription_id: str = ""
    source: str = "camera"


@dataclass(frozen=True)
class CandidateOut:
    candidate: str
    sdp_mid: str
    sdp_mline_index: int
    participant_id: str = ""
    subscription_id: str = ""
    source: str = "camera"


@dataclass(frozen=True)
class Pong:
    client_time_ms: int
    server_time_ms: int


@dataclass(frozen=True)
class HostNotice:
    action: str
    by_participant_id: str
    track: str | None = None


@dataclass(frozen=True)
class RoomEndedMsg:
    reason: str


@dataclass(frozen=True)
class ErrorMsg:
    request_id: str
    error: DomainError


@dataclass(frozen=True)
class Close:
    """Ends the stream: with a status when `error` is set, cleanly otherwise."""

    error: DomainError | None = None


Outbound = (
    Joined
    | Waiting
    | ParticipantJoinedMsg
    | ParticipantUpdatedMsg
    | ParticipantLeftMsg
    | SdpOut
    | CandidateOut
    | Pong
    | HostNotice
    | RoomEndedMsg
    | ErrorMsg
    | Close
)
