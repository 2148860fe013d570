"""Typed dispatch of consumed events: handlers are registered by the protobuf message class
they take, never by a type-name string.

    router = EventRouter()
    router.register(school_pb2.ClassCreated, on_class)   # on_class(msg: ClassCreated, envelope)
    consumer = EventConsumer(..., handler=router)

The router looks the envelope's `event_type` up among the registered classes' full names,
unpacks the payload into that class and calls the handler with the typed message and the
envelope (for its aggregate version, ids and times). Event types nobody registered are ignored:
a topic carries events a consumer may not care about. A payload that does not unpack as its
declared type raises `MalformedEvent` (the consumer retries, then dead-letters it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message
from parta.common.v1 import envelope_pb2

from parta_common.events.envelope import unpack

M = TypeVar("M", bound=Message)
Envelope = envelope_pb2.EventEnvelope
Dispatch = Callable[[Envelope], Awaitable[None]]


class EventRouter:
    """Envelope → the handler registered for its payload's message class."""

    def __init__(self) -> None:
        self._routes: dict[str, Dispatch] = {}

    def register(self, message_type: type[M], handler: Callable[[M, Envelope], Awaitable[None]]) -> None:
        """Route events whose payload is `message_type` to `handler(message, envelope)`. A handler
        typed for a union of messages may be registered for each of them; a class has one handler."""
        name = message_type.DESCRIPTOR.full_name
        if name in self._routes:
            raise ValueError(f"{name} already has a handler")

        async def dispatch(envelope: Envelope) -> None:
            await handler(unpack(envelope, message_type), envelope)

        self._routes[name] = dispatch

    def include(self, other: EventRouter) -> None:
        """Adds every route of `other` (one consumer serving several projections)."""
        for name, dispatch in other._routes.items():
            if name in self._routes:
                raise ValueError(f"{name} already has a handler")
            self._routes[name] = dispatch

    @property
    def event_types(self) -> frozenset[str]:
        """Full names of the routed message types."""
        return frozenset(self._routes)

    def handles(self, message_type: type[Message]) -> bool:
        return message_type.DESCRIPTOR.full_name in self._routes

    async def __call__(self, envelope: Envelope) -> None:
        dispatch = self._routes.get(envelope.event_type)
        if dispatch is not None:
            await dispatch(envelope)
