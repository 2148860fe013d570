"""A signalling session without media: join a room, read its state, send host actions, leave.

The CLI moderates with it (who is in a lesson or broadcast, who raised a hand, who goes on stage,
mute, remove, admit from the waiting room, lock the room). Audio and
video need a WebRTC client; this session never offers or answers SDP, so it joins as itself, acts and
leaves (attendance records the moments it was in).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import grpc
from parta.media_signal.v1 import media_signal_pb2 as pb

from parta_client.client import Parta
from parta_client.errors import CallError, Refused, code_name


class SignalSession:
    """`async with SignalSession(parta, room_id) as session:` — joined on enter, left on exit."""

    PING_SECONDS = 3.0  # well inside the server's keep-alive timeout (15 s by default)

    def __init__(self, parta: Parta, room_id: str, timeout: float = 10.0):
        self.parta = parta
        self.room_id = room_id
        self.timeout = timeout
        self.call: Any = None
        self.state = pb.RoomStateUpdate()
        self.waiting = False
        # Participants as they change after the join (participant id → participant).
        self.participants: dict[str, pb.Participant] = {}
        self._inbox: asyncio.Queue[pb.SignalResponse | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._next_request = 0
        self.error: grpc.aio.AioRpcError | None = None

    async def __aenter__(self) -> SignalSession:
        grant = await self.parta.rooms.CreateJoinToken(pb.CreateJoinTokenRequest(room_id=self.room_id))
        self.call = self.parta.signal_at(grant.signal_address).Signal()
        self._tasks.append(asyncio.create_task(self._read()))
        await self.call.write(pb.SignalRequest(join=pb.JoinRequest(token=grant.token)))
        first = await self.expect(lambda r: r.WhichOneof("message") in ("joined", "waiting"))
        if first.WhichOneof("message") == "joined":
            self.state = first.joined.state
            self.participants = {p.participant_id: p for p in self.state.participants}
        else:
            self.waiting = True
        self._tasks.append(asyncio.create_task(self._ping()))
        return self

    async def __aexit__(self, *_: object) -> None:
        reader = self._tasks[0] if self._tasks else None
        for task in self._tasks[1:]:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.call.write(pb.SignalRequest(leave=pb.LeaveRequest()))
            await self.call.done_writing()
            # Wait for the server to close the stream: cancelling at once can overtake the leave, and a
            # dropped stream keeps its seat until the keep-alive timeout (then leaves as "timeout").
            if reader is not None:
                await asyncio.wait_for(asyncio.shield(reader), 3.0)
        if reader is not None:
            reader.cancel()
        if self.call is not None:
            self.call.cancel()

    @property
    def participant_id(self) -> str:
        return str(self.state.self.participant_id)

    async def _read(self) -> None:
        try:
            while True:
                response = await self.call.read()
                if not isinstance(response, pb.SignalResponse):
                    break  # end of stream
                self._track(response)
                await self._inbox.put(response)
        except grpc.aio.AioRpcError as error:
            self.error = error  # the stream's status: raised to whoever waits for an answer
        finally:
            await self._inbox.put(None)

    def _track(self, response: pb.SignalResponse) -> None:
        kind = response.WhichOneof("message")
        if kind in ("participant_joined", "participant_updated"):
            update = getattr(response, kind).participant
            self.participants[update.participant_id] = update
        elif kind == "participant_left":
            self.participants.pop(response.participant_left.participant_id, None)

    async def _ping(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self.PING_SECONDS)
                await self.call.write(pb.SignalRequest(ping=pb.PingRequest()))

    async def expect(self, match: Callable[[pb.SignalResponse], bool]) -> pb.SignalResponse:
        """The next response that matches; an in-stream error for our request is returned too."""

        async def find() -> pb.SignalResponse:
            while True:
                response = await self._inbox.get()
                if response is None:
                    # The server ended the stream: its status (e.g. PERMISSION_DENIED) is the answer.
                    if self.error is not None:
                        raise self.error
                    raise Refused(CallError("UNAVAILABLE", "the signalling stream ended"))
                if response.WhichOneof("message") == "error" and not response.error.request_id:
                    raise refused(response.error)  # e.g. ALREADY_JOINED: nothing of ours to match
                if match(response):
                    return response

        return await asyncio.wait_for(find(), self.timeout)

    async def host_action(
        self,
        action: pb.HostActionType.ValueType,
        participant_id: str,
        track: pb.TrackKind.ValueType = pb.TRACK_KIND_UNSPECIFIED,
    ) -> pb.SignalResponse:
        """Sends a host action; returns the update it caused, or the in-stream error."""
        self._next_request += 1
        request_id = f"cli-{self._next_request}"
        await self.call.write(
            pb.SignalRequest(
                request_id=request_id,
                host_action=pb.HostActionRequest(action=action, participant_id=participant_id, track=track),
            )
        )

        def answered(response: pb.SignalResponse) -> bool:
            kind = response.WhichOneof("message")
            if kind == "error":
                return bool(response.error.request_id == request_id)
            if kind in ("participant_updated", "participant_joined"):  # joined: admitted from the waiting room
                return bool(getattr(response, kind).participant.participant_id == participant_id)
            return kind == "participant_left" and response.participant_left.participant_id == participant_id

        return await self.expect(answered)

    async def screen_share(self, participant_id: str, *, allow: bool) -> pb.SignalResponse:
        """The host lets one participant share a screen (rooms where only hosts share), or stops
        their share and takes the permission back; returns the update or the in-stream error."""
        action = pb.HOST_ACTION_TYPE_ALLOW_SCREEN_SHARE if allow else pb.HOST_ACTION_TYPE_STOP_SCREEN_SHARE
        return await self.host_action(action, participant_id)

    async def room_action(self, action: pb.HostActionType.ValueType) -> pb.SignalResponse:
        """A host action on the room itself (LOCK, UNLOCK): returns its notice, or the in-stream error."""
        self._next_request += 1
        request_id = f"cli-{self._next_request}"
        await self.call.write(pb.SignalRequest(request_id=request_id, host_action=pb.HostActionRequest(action=action)))

        def answered(response: pb.SignalResponse) -> bool:
            kind = response.WhichOneof("message")
            if kind == "error":
                return bool(response.error.request_id == request_id)
            return kind == "host_action" and response.host_action.action == action

        return await self.expect(answered)


def refused(error: pb.ErrorResponse) -> Refused:
    return Refused(CallError(code_name(error.code), error.message, error.reason))
