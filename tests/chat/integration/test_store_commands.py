"""How many store commands one SendMessage costs on the common path (a class chat), counted with
PyMongo's command monitoring on the real store: a regression guard that is not a timed test.

Commands are attributed to the call by its correlation id (the edge puts it in a context variable
the driver's listener sees, since the commands run in the RPC's own task), so the relay, the
consumers and the other replica do not count.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from parta.chat.v1 import chat_pb2
from parta_common.grpc.context import correlation_id
from parta_common.mongo import create_mongo_client
from pymongo import monitoring

from tests.chat.support import CSTUDENT, HEAD, STUDENT, TEACHER, World, eventually, uid

# One send: the access read (chat, my membership and my profile in one aggregate), the counter's
# $inc and the message insert carrying its outbox event.
SEND_COMMANDS = 3
# A history page: the same access aggregate, then the bounded window of sequence numbers.
PAGE_COMMANDS = 2


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.tag = ""
        self.seen: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.tag and correlation_id() == self.tag:
            self.seen[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = _Commands()


@pytest.fixture(scope="module")
async def world(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[World]:
    # Registered before the replicas create their clients: PyMongo copies global listeners then.
    monitoring.register(COMMANDS)
    w = World(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:10])
    await w.start_replica("a")
    try:
        yield w
    finally:
        await w.stop()
        client = create_mongo_client(mongo_uri, app_name="tests")
        await client.drop_database(w.database)
        await client.close()


async def test_a_class_chat_send_costs_three_store_commands_and_a_page_two(world: World) -> None:
    a = world.replicas[0].stubs
    school = world.school()
    await school.create()
    class_id = uid("c")
    head, student = world.person(), world.person()
    await school.member(head.user_id, TEACHER, class_id, HEAD)
    await school.member(student.user_id, STUDENT, class_id, CSTUDENT)
    await school.add_class(class_id)
    chat_id = f"cls-{class_id}"

    async def can_post() -> bool:
        try:
            view = await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id), metadata=student.md)
        except Exception:
            return False
        return view.chat.can_post

    await eventually(can_post)
    for i in range(5):
        COMMANDS.seen.clear()
        COMMANDS.tag = f"send-{uuid.uuid4().hex}"
        request = chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=f"m{i}", text="hi")
        reply = await a.chat.SendMessage(request, metadata=[*student.md, ("x-correlation-id", COMMANDS.tag)])
        COMMANDS.tag = ""
        assert reply.message.seq > 0
        assert sum(COMMANDS.seen.values()) <= SEND_COMMANDS, dict(COMMANDS.seen)

    COMMANDS.seen.clear()
    COMMANDS.tag = f"page-{uuid.uuid4().hex}"
    page = await a.chat.ListMessages(
        chat_pb2.ListMessagesRequest(chat_id=chat_id, before_seq=reply.message.seq, limit=3),
        metadata=[*student.md, ("x-correlation-id", COMMANDS.tag)],
    )
    COMMANDS.tag = ""
    assert [m.seq for m in page.messages][-1] == reply.message.seq - 1
    assert sum(COMMANDS.seen.values()) <= PAGE_COMMANDS, dict(COMMANDS.seen)
