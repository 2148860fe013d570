"""PollService: thin protobuf ↔ use case mapping (rules in app/polls.py and domain/polls.py)."""

from __future__ import annotations

from typing import Any

from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_common.grpc.context import require_principal
from parta_common.timestamps import from_ts, ts

from chat.app.polls import Polls, PollView
from chat.pb import message_pb


def poll_pb(view: PollView) -> chat_pb2.Poll:
    p = view.poll
    if view.results is None:
        options = [chat_pb2.PollOption(text=text) for text in p.options]
    else:
        options = [
            chat_pb2.PollOption(text=r.text, votes=r.votes, voter_user_ids=r.voter_user_ids) for r in view.results
        ]
    return chat_pb2.Poll(
        poll_id=p.poll_id,
        chat_id=p.chat_id,
        seq=p.seq,
        author_user_id=p.author_user_id,
        question=p.question,
        options=options,
        multiple_choice=p.multiple,
        anonymous=p.anonymous,
        per_family=p.per_family,
        results_after_close=p.results_after_close,
        closes_at=ts(p.closes_at),
        closed=view.closed,
        results_visible=view.results is not None,
        voter_count=view.voters,
        voted=view.my_choices is not None,
        my_choices=list(view.my_choices or ()),
    )


def _user() -> str:
    return require_principal().user_id


class PollServicer(chat_pb2_grpc.PollServiceServicer):
    def __init__(self, polls: Polls):
        self._p = polls

    async def CreatePoll(self, request: chat_pb2.CreatePollRequest, context: Any) -> chat_pb2.CreatePollResponse:
        view, message = await self._p.create(
            _user(),
            request.chat_id,
            request.client_message_id,
            request.question,
            list(request.options),
            multiple=request.multiple_choice,
            anonymous=request.anonymous,
            per_family=request.per_family,
            results_after_close=request.results_after_close,
            closes_at=from_ts(request.closes_at) if request.HasField("closes_at") else None,
        )
        return chat_pb2.CreatePollResponse(poll=poll_pb(view), message=message_pb(message))

    async def Vote(self, request: chat_pb2.VoteRequest, context: Any) -> chat_pb2.VoteResponse:
        view = await self._p.vote(_user(), request.chat_id, request.seq, list(request.option_indexes))
        return chat_pb2.VoteResponse(poll=poll_pb(view))

    async def GetPoll(self, request: chat_pb2.GetPollRequest, context: Any) -> chat_pb2.GetPollResponse:
        return chat_pb2.GetPollResponse(poll=poll_pb(await self._p.get(_user(), request.chat_id, request.seq)))

    async def ClosePoll(self, request: chat_pb2.ClosePollRequest, context: Any) -> chat_pb2.ClosePollResponse:
        return chat_pb2.ClosePollResponse(poll=poll_pb(await self._p.close(_user(), request.chat_id, request.seq)))

    async def ListPolls(self, request: chat_pb2.ListPollsRequest, context: Any) -> chat_pb2.ListPollsResponse:
        return chat_pb2.ListPollsResponse(
            polls=[poll_pb(v) for v in await self._p.list_polls(_user(), request.chat_id)]
        )
