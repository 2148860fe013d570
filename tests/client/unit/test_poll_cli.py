"""`parta poll create|vote|show|close`: options numbered from 1 on the command line (0-based in the
API), results hidden until visible, a refused second vote exits 1. Fake services on port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner

from tests.client.unit.test_announce_cli import FakeChats


class FakePolls(chat_pb2_grpc.PollServiceServicer):
    def __init__(self) -> None:
        self.poll = chat_pb2.Poll(chat_id="par-5a", seq=9, question="Экскурсия?", anonymous=True)
        self.requests: list[object] = []

    async def CreatePoll(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        self.poll.options.extend(chat_pb2.PollOption(text=t) for t in request.options)
        return chat_pb2.CreatePollResponse(poll=self.poll)

    async def Vote(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        if self.poll.voted:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "a vote is final: you voted differently")
        self.poll.voted, self.poll.results_visible, self.poll.voter_count = True, True, 1
        self.poll.my_choices.extend(request.option_indexes)
        for i in request.option_indexes:
            self.poll.options[i].votes += 1
        return chat_pb2.VoteResponse(poll=self.poll)

    async def GetPoll(self, request, context):  # type: ignore[no-untyped-def]
        return chat_pb2.GetPollResponse(poll=self.poll)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[FakePolls, dict[str, str]]]:
    polls = FakePolls()
    server = grpc.aio.server()
    chat_pb2_grpc.add_ChatServiceServicer_to_server(FakeChats(), server)
    chat_pb2_grpc.add_PollServiceServicer_to_server(polls, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "p").save(Session(user_id="u-p", phone="+79000000004", access_token="a", refresh_token="r"))
    env = {"PARTA_HOME": str(tmp_path), **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "CHAT")}}
    yield polls, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "p", *argv], env=env)


async def test_create_vote_show(services) -> None:
    fake, env = services
    created = await parta(env, "poll", "create", "5А", "Экскурсия?", "--option", "Да", "--option", "Нет", "--anonymous")
    assert created.exit_code == 0, created.output
    request = fake.requests[0]
    assert isinstance(request, chat_pb2.CreatePollRequest) and list(request.options) == ["Да", "Нет"]
    assert request.anonymous and request.chat_id == "par-5a"
    hidden = await parta(env, "poll", "show", "5А", "9")
    assert hidden.exit_code == 0 and "Results after you vote." in hidden.stdout
    voted = await parta(env, "poll", "vote", "5А", "9", "2")
    assert voted.exit_code == 0, voted.output
    vote = fake.requests[1]
    assert isinstance(vote, chat_pb2.VoteRequest) and list(vote.option_indexes) == [1]
    assert "Нет ✓" in voted.stdout and "1 voted." in voted.stdout
    again = await parta(env, "poll", "vote", "5А", "9", "1")
    assert again.exit_code == 1 and "final" in again.stderr
    assert (await parta(env, "poll", "vote", "5А", "9", "0")).exit_code == 2
