"""SignalService: the bidirectional signalling stream of one participant, between pb messages and the
hub (app/hub.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc
import structlog
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta_common.errors import DomainError, FailedPrecondition
from parta_common.grpc.context import require_principal

from media_signal.api import mappers
from media_signal.app import signals as s
from media_signal.app.hub import SignalHub
from media_signal.app.live_rooms import Session

log = structlog.get_logger("media_signal.api")


class SignalServicer(pb_grpc.SignalServiceServicer):
    def __init__(self, hub: SignalHub, *, join_timeout: float = 10.0):
        self._hub = hub
        self._join_timeout = join_timeout

    async def Signal(
        self, request_iterator: AsyncIterator[pb.SignalRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SignalResponse]:
        user_id = require_principal().user_id
        try:
            first = await asyncio.wait_for(anext(request_iterator), self._join_timeout)
        except (TimeoutError, StopAsyncIteration) as exc:
            raise FailedPrecondition("send join first", reason="JOIN_REQUIRED") from exc
        if first.WhichOneof("message") != "join":
            raise FailedPrecondition("the first message must be join", reason="JOIN_REQUIRED")
        session = await self._hub.join(user_id, first.join.token)
        structlog.contextvars.bind_contextvars(room_id=session.room_id, participant_id=session.participant_id)
        log.info("participant_joined", waiting=session.waiting)
        reader = asyncio.create_task(self._read(session, request_iterator, context), name="signal-reader")
        clean = False
        try:
            while True:
                message = await session.queue.get()
                if isinstance(message, s.Close):
                    clean = True
                    if message.error is not None:
                        raise message.error
                    return
                yield mappers.outbound(message)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            if not clean and not session.gone:
                # The client vanished (network drop, crash): keep the seat until the keep-alive
                # timeout so a flaky connection does not flap attendance; the hub reaps it then.
                self._hub.detach(session)
                log.info("participant_stream_dropped")

    async def _read(
        self, session: Session, request_iterator: AsyncIterator[pb.SignalRequest], context: grpc.aio.ServicerContext
    ) -> None:
        async for request in request_iterator:
            try:
                await self._hub.handle(session, mappers.command(request))
            except DomainError as error:
                # One bad message is answered in-stream; the stream and the room carry on.
                log.info("signal_rejected", reason=error.reason)
                session.send(s.ErrorMsg(request.request_id[:64], error))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("signal_failed")
                session.send(s.ErrorMsg(request.request_id[:64], _internal()))
        # The request stream ended without a leave. grpc.aio shows a client's cancel (a dropped
        # connection) and a half-close alike, so both count as a drop: the participant keeps the
        # seat until the keep-alive timeout, then leaves with reason "timeout". Only `leave` is clean.
        if not session.gone:
            self._hub.detach(session)


def _internal() -> DomainError:
    return DomainError("internal error", reason="INTERNAL")
