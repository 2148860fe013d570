"""protobuf ↔ domain for the media-signal API."""

from __future__ import annotations

from datetime import UTC, datetime

from google.rpc import code_pb2
from parta.media_signal.v1 import events_pb2
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta_common.errors import DomainError, FailedPrecondition, InvalidArgument, Violations
from parta_common.grpc.status import code_of
from parta_common.pagination import page_offset
from parta_common.timestamps import ts

from media_signal.app import signals as s
from media_signal.app.listing import RoomQuery, states_or_default
from media_signal.app.ports import IceServer
from media_signal.domain.rooms import Grants, NewRoom, Room, RoomKind, RoomState, ScreenShare

KINDS = {
    events_pb2.ROOM_KIND_CALL: RoomKind.CALL,
    events_pb2.ROOM_KIND_LESSON: RoomKind.LESSON,
    events_pb2.ROOM_KIND_BROADCAST: RoomKind.BROADCAST,
}
KINDS_PB = {v: k for k, v in KINDS.items()}
STATES_PB = {
    RoomState.SCHEDULED: pb.ROOM_STATE_SCHEDULED,
    RoomState.LIVE: pb.ROOM_STATE_LIVE,
    RoomState.ENDED: pb.ROOM_STATE_ENDED,
}
TRACKS = {pb.TRACK_KIND_AUDIO: "audio", pb.TRACK_KIND_VIDEO: "video"}
TRACKS_PB = {v: k for k, v in TRACKS.items()}
HOST_ACTIONS = {
    pb.HOST_ACTION_TYPE_MUTE: "mute",
    pb.HOST_ACTION_TYPE_REMOVE: "remove",
    pb.HOST_ACTION_TYPE_ADMIT: "admit",
    pb.HOST_ACTION_TYPE_PROMOTE: "promote",
    pb.HOST_ACTION_TYPE_DEMOTE: "demote",
    pb.HOST_ACTION_TYPE_END_ROOM: "end_room",
    pb.HOST_ACTION_TYPE_UNMUTE: "unmute",
    pb.HOST_ACTION_TYPE_ALLOW_SCREEN_SHARE: "allow_screen_share",
    pb.HOST_ACTION_TYPE_STOP_SCREEN_SHARE: "stop_screen_share",
    pb.HOST_ACTION_TYPE_LOCK: "lock",
    pb.HOST_ACTION_TYPE_UNLOCK: "unlock",
}
HOST_ACTIONS_PB = {v: k for k, v in HOST_ACTIONS.items()}
# Host actions on the room itself, not on a participant.
ROOM_WIDE_ACTIONS = frozenset({"end_room", "lock", "unlock"})
SCREEN_SHARE = {pb.SCREEN_SHARE_POLICY_ANYONE: ScreenShare.ANYONE, pb.SCREEN_SHARE_POLICY_HOSTS: ScreenShare.HOSTS}
SCREEN_SHARE_PB = {v: k for k, v in SCREEN_SHARE.items()}
SOURCES = {pb.MEDIA_SOURCE_UNSPECIFIED: "camera", pb.MEDIA_SOURCE_CAMERA: "camera", pb.MEDIA_SOURCE_SCREEN: "screen"}
SOURCES_PB = {"camera": pb.MEDIA_SOURCE_CAMERA, "screen": pb.MEDIA_SOURCE_SCREEN}


def _source(value: int, name: str) -> str:
    if value not in SOURCES:
        raise InvalidArgument.field(name, "unknown media source")
    return SOURCES[value]


# Timestamps outside this window are nonsense from a client, not a schedule.
MIN_TS, MAX_TS = 946684800, 4102444800  # 2000-01-01 .. 2100-01-01


def new_room(request: pb.CreateRoomRequest) -> NewRoom:
    scheduled = None
    if request.HasField("scheduled_for"):
        if not MIN_TS <= request.scheduled_for.seconds <= MAX_TS:
            raise InvalidArgument.field("scheduled_for", "must be within a year from now")
        scheduled = datetime.fromtimestamp(request.scheduled_for.seconds, UTC)
    if request.screen_share not in (pb.SCREEN_SHARE_POLICY_UNSPECIFIED, *SCREEN_SHARE):
        raise InvalidArgument.field("screen_share", "unknown screen share policy")
    return NewRoom(
        request_id=request.request_id,
        school_id=request.school_id,
        class_id=request.class_id,
        kind=KINDS.get(request.kind),
        title=request.title,
        scheduled_for=scheduled,
        max_participants=request.max_participants,
        waiting_room=request.waiting_room,
        invited_user_ids=tuple(request.invited_user_ids),
        presenter_user_ids=tuple(request.presenter_user_ids),
        start_now=request.start_now,
        screen_share=SCREEN_SHARE.get(request.screen_share),
    )


def room(r: Room) -> pb.Room:
    out = pb.Room(
        room_id=r.room_id,
        school_id=r.school_id,
        class_id=r.class_id,
        kind=KINDS_PB[r.kind],
        title=r.title,
        host_user_id=r.host_user_id,
        state=STATES_PB[r.state],
        max_participants=r.max_participants,
        waiting_room=r.waiting_room,
        media_mode=pb.MEDIA_MODE_P2P if r.media_mode.value == "p2p" else pb.MEDIA_MODE_SFU,
        invited_user_ids=list(r.invited_user_ids),
        presenter_user_ids=list(r.presenter_user_ids),
        screen_share=SCREEN_SHARE_PB[r.screen_share],
    )
    if r.scheduled_for:
        out.scheduled_for.CopyFrom(ts(r.scheduled_for))
    if r.started_at:
        out.started_at.CopyFrom(ts(r.started_at))
    if r.ended_at:
        out.ended_at.CopyFrom(ts(r.ended_at))
    return out


def grants(g: Grants) -> pb.Grants:
    return pb.Grants(
        can_publish=g.can_publish, can_subscribe=g.can_subscribe, can_publish_data=g.can_publish_data, is_host=g.is_host
    )


def ice_server(server: IceServer) -> pb.IceServer:
    return pb.IceServer(urls=list(server.urls), username=server.username, credential=server.credential)


# ------------------------------------------------------------ signalling


def command(request: pb.SignalRequest) -> s.Command:
    which = request.WhichOneof("message")
    if which in ("offer", "answer"):
        d = getattr(request, which)
        expected = pb.SDP_TYPE_OFFER if which == "offer" else pb.SDP_TYPE_ANSWER
        if d.type not in (pb.SDP_TYPE_UNSPECIFIED, expected):
            raise InvalidArgument.field(f"{which}.type", f"must be {which}")
        source = _source(d.source, f"{which}.source")
        return s.Sdp(which, d.sdp, d.participant_id[:128], d.subscription_id[:128], source)
    if which == "trickle":
        c = request.trickle
        source = _source(c.source, "trickle.source")
        return s.Candidate(
            c.candidate, c.sdp_mid, c.sdp_mline_index, c.participant_id[:128], c.subscription_id[:128], source
        )
    if which == "mute":
        if request.mute.track not in (pb.TRACK_KIND_UNSPECIFIED, *TRACKS):
            raise InvalidArgument.field("mute.track", "unknown track kind")
        return s.Mute(TRACKS.get(request.mute.track), request.mute.muted)
    if which == "raise_hand":
        return s.RaiseHand(request.raise_hand.raised)
    if which == "leave":
        return s.Leave()
    if which == "stop_screen_share":
        return s.StopScreenShare()
    if which == "ping":
        return s.Ping(request.ping.client_time_ms)
    if which == "host_action":
        a = request.host_action
        action = HOST_ACTIONS.get(a.action)
        if action is None:
            raise InvalidArgument.field("host_action.action", "unknown host action")
        if action not in ROOM_WIDE_ACTIONS and not a.participant_id:
            raise InvalidArgument.field("host_action.participant_id", "required")
        return s.HostAction(action, a.participant_id[:128], TRACKS.get(a.track))
    if which == "join":
        raise FailedPrecondition("this stream has joined already", reason="ALREADY_JOINED")
    raise InvalidArgument.field("message", "empty signal message")


def participant(v: s.ParticipantView) -> pb.Participant:
    return pb.Participant(
        participant_id=v.participant_id,
        user_id=v.user_id,
        grants=grants(v.grants),
        status=pb.PARTICIPANT_STATUS_WAITING if v.waiting else pb.PARTICIPANT_STATUS_ACTIVE,
        audio_muted=v.audio_muted,
        video_muted=v.video_muted,
        hand_raised=v.hand_raised,
        publishing=v.publishing,
        joined_at=ts(v.joined_at),
        sharing_screen=v.sharing_screen,
        may_share_screen=v.may_share_screen,
    )


def _sdp(m: s.SdpOut) -> pb.SessionDescription:
    return pb.SessionDescription(
        type=pb.SDP_TYPE_OFFER if m.type == "offer" else pb.SDP_TYPE_ANSWER,
        sdp=m.sdp,
        participant_id=m.participant_id,
        subscription_id=m.subscription_id,
        source=SOURCES_PB[m.source],
    )


def error_code(error: DomainError) -> int:
    if type(error) is DomainError and error.reason == "INTERNAL":
        return int(code_pb2.INTERNAL)
    return code_of(error)


def outbound(m: s.Outbound) -> pb.SignalResponse:
    if isinstance(m, s.Joined):
        state = pb.RoomStateUpdate(
            room=room(m.room), participants=[participant(p) for p in m.participants], self=participant(m.self_view)
        )
        return pb.SignalResponse(
            joined=pb.JoinedResponse(state=state, keepalive_timeout_seconds=m.keepalive_timeout_seconds)
        )
    if isinstance(m, s.Waiting):
        return pb.SignalResponse(waiting=pb.WaitingResponse(room=room(m.room), self=participant(m.self_view)))
    if isinstance(m, s.ParticipantJoinedMsg):
        return pb.SignalResponse(participant_joined=pb.ParticipantUpdate(participant=participant(m.participant)))
    if isinstance(m, s.ParticipantUpdatedMsg):
        return pb.SignalResponse(participant_updated=pb.ParticipantUpdate(participant=participant(m.participant)))
    if isinstance(m, s.ParticipantLeftMsg):
        return pb.SignalResponse(
            participant_left=pb.ParticipantLeftUpdate(
                participant_id=m.participant_id, user_id=m.user_id, reason=m.reason
            )
        )
    if isinstance(m, s.SdpOut):
        return pb.SignalResponse(offer=_sdp(m)) if m.type == "offer" else pb.SignalResponse(answer=_sdp(m))
    if isinstance(m, s.CandidateOut):
        return pb.SignalResponse(
            trickle=pb.IceCandidate(
                candidate=m.candidate,
                sdp_mid=m.sdp_mid,
                sdp_mline_index=m.sdp_mline_index,
                participant_id=m.participant_id,
                subscription_id=m.subscription_id,
                source=SOURCES_PB[m.source],
            )
        )
    if isinstance(m, s.Pong):
        return pb.SignalResponse(pong=pb.PongResponse(client_time_ms=m.client_time_ms, server_time_ms=m.server_time_ms))
    if isinstance(m, s.HostNotice):
        return pb.SignalResponse(
            host_action=pb.HostActionNotice(
                action=HOST_ACTIONS_PB[m.action],
                by_participant_id=m.by_participant_id,
                track=TRACKS_PB.get(m.track or "", pb.TRACK_KIND_UNSPECIFIED),
            )
        )
    if isinstance(m, s.RoomEndedMsg):
        return pb.SignalResponse(room_ended=pb.RoomEndedResponse(reason=m.reason))
    if isinstance(m, s.ErrorMsg):
        return pb.SignalResponse(
            error=pb.ErrorResponse(
                request_id=m.request_id, code=error_code(m.error), reason=m.error.reason, message=m.error.message
            )
        )
    raise TypeError(type(m).__name__)


STATES = {v: k for k, v in STATES_PB.items()}


def room_query(request: pb.ListRoomsRequest) -> tuple[RoomQuery, int]:
    """The listing query and the scan offset its page token carries; field violations for the rest."""
    v = Violations()
    states = []
    for i, state in enumerate(request.states):
        if state not in STATES:
            v.add(f"states[{i}]", "unknown room state")
        else:
            states.append(STATES[state])
    kinds = []
    for i, kind in enumerate(request.kinds):
        if kind not in KINDS:
            v.add(f"kinds[{i}]", "unknown room kind")
        else:
            kinds.append(KINDS[kind])
    v.raise_if_any()
    offset = page_offset(request.page.page_token, "page.page_token")
    query = RoomQuery(
        school_id=request.school_id,
        class_id=request.class_id,
        states=states_or_default(states),
        kinds=tuple(dict.fromkeys(kinds)),
    )
    return query, offset
