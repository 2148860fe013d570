"""The kit's store-command counter: attribution to the sender's scope, handshakes left out."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from parta_common.mongo import StoreCommandCounter, command_scope
from pymongo import monitoring


class _Started:
    """Just what StoreCommandCounter reads from a CommandStartedEvent."""

    def __init__(self, name: str):
        self.command_name = name


def _start(counter: StoreCommandCounter, name: str) -> None:
    event: Any = _Started(name)
    counter.started(event)


async def test_commands_count_under_the_rpc_event_or_worker_that_sent_them() -> None:
    seen: list[tuple[str, str]] = []
    counter = StoreCommandCounter(lambda scope, name: seen.append((scope, name)))

    async def rpc() -> None:
        structlog.contextvars.bind_contextvars(rpc="/parta.chat.v1.ChatService/SendMessage")
        _start(counter, "find")
        _start(counter, "insert")

    async def consumer() -> None:
        with structlog.contextvars.bound_contextvars(consumed="parta.school.v1.MemberJoined"):
            _start(counter, "update")
        _start(counter, "find")  # after the record: background again

    async def relay() -> None:
        structlog.contextvars.bind_contextvars(worker="outbox-relay")
        _start(counter, "find")

    # Each in its own task, as the edge, the consumer and the relay run: bindings do not leak.
    await asyncio.gather(asyncio.create_task(rpc()), asyncio.create_task(consumer()), asyncio.create_task(relay()))

    assert counter.counts == {
        ("rpc:SendMessage", "find"): 1,
        ("rpc:SendMessage", "insert"): 1,
        ("event:MemberJoined", "update"): 1,
        ("background", "find"): 1,
        ("worker:outbox-relay", "find"): 1,
    }
    assert counter.total("rpc:SendMessage") == 2
    assert counter.total() == 5
    assert sorted(seen) == sorted(
        [
            ("rpc:SendMessage", "find"),
            ("rpc:SendMessage", "insert"),
            ("event:MemberJoined", "update"),
            ("background", "find"),
            ("worker:outbox-relay", "find"),
        ]
    )


def test_driver_handshakes_and_monitoring_are_not_counted() -> None:
    counter = StoreCommandCounter()
    for name in ("hello", "isMaster", "saslStart", "endSessions"):
        _start(counter, name)
    assert counter.total() == 0
    _start(counter, "ping")
    assert counter.counts == {(command_scope(), "ping"): 1}
    counter.reset()
    assert counter.counts == {}


def test_the_counter_is_a_pymongo_command_listener() -> None:
    assert isinstance(StoreCommandCounter(), monitoring.CommandListener)
