"""Tells an outage of a dependency from a bug, so the edge answers UNAVAILABLE with RetryInfo (the
client may retry) instead of INTERNAL (the client cannot tell it from a defect), and bounds a call's
store operations by the caller's deadline so that answer arrives before the deadline does."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager

import grpc
import pymongo
from aiokafka import errors as kafka_errors
from pymongo import errors as mongo_errors

from parta_common.errors import Unavailable

# How long a client should wait before retrying after an outage answer: about one store
# failover / broker reconnect, and the SDK's first backoff step.
RETRY_AFTER_SECONDS = 1.0

# Part of the caller's remaining deadline kept back for the UNAVAILABLE answer itself: PyMongo's
# server selection notices an expired budget only on its next topology check, measured up to
# 0.5 s late, and on a starved CPU the answer then waits for the event loop and the network. The
# margin is a quarter of the time left, at least a second, at most half the time left: a fixed
# second was not enough on a loaded machine (an answer overran a 2 s deadline), so callers with
# longer deadlines get proportionally more room (8 s: 2 s; the SDK's 15 s: 3.75 s).
_ANSWER_MARGIN_MIN_SECONDS = 1.0
_ANSWER_MARGIN_SHARE = 0.25
_ANSWER_MARGIN_MAX_SHARE = 0.5
_MIN_BUDGET_SECONDS = 0.05

_KAFKA_OUTAGES = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.KafkaUnavailableError,
    kafka_errors.NodeNotReadyError,
)
_PEER_OUTAGE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, what it was raised from, and the members of exception groups (bounded)."""
    seen: set[int] = set()
    pending = [error]
    while pending and len(seen) < 16:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)


def dependency_of(error: BaseException) -> str | None:
    """'store', 'kafka' or 'peer' when `error` (or what it was raised from) is that dependency
    being down or too slow; None for anything else, which stays INTERNAL."""
    for cause in _causes(error):
        if isinstance(cause, mongo_errors.ConnectionFailure):
            return "store"  # selection timeout, reset connection, network timeout, not primary
        if isinstance(cause, mongo_errors.PyMongoError) and cause.timeout:
            return "store"  # the call's store budget (its deadline) ran out mid-operation
        if isinstance(cause, _KAFKA_OUTAGES):
            return "kafka"
        if isinstance(cause, grpc.aio.AioRpcError) and cause.code() in _PEER_OUTAGE_CODES:
            return "peer"
    return None


_REASONS = {"store": "STORE_UNAVAILABLE", "kafka": "EVENTS_UNAVAILABLE", "peer": "PEER_UNAVAILABLE"}
_WHAT = {"store": "the database", "kafka": "the event log", "peer": "a service this call needs"}


def outage_of(error: BaseException) -> Unavailable | None:
    """The UNAVAILABLE answer for an outage, or None when `error` is not one."""
    dependency = dependency_of(error)
    if dependency is None:
        return None
    return Unavailable(
        f"{_WHAT[dependency]} is unavailable; retry shortly",
        reason=_REASONS[dependency],
        retry_after_seconds=RETRY_AFTER_SECONDS,
        metadata={"dependency": dependency},
    )


def store_budget(time_remaining: float | None) -> AbstractContextManager[object]:
    """Bounds every store operation inside the block by the caller's remaining deadline (PyMongo's
    client-side operation timeout), leaving a margin so UNAVAILABLE reaches the caller before its
    deadline does. No deadline: the client's own timeouts (mongo.create_mongo_client) apply."""
    if time_remaining is None:
        return contextlib.nullcontext()
    margin = min(
        max(_ANSWER_MARGIN_MIN_SECONDS, time_remaining * _ANSWER_MARGIN_SHARE),
        time_remaining * _ANSWER_MARGIN_MAX_SHARE,
    )
    return pymongo.timeout(max(_MIN_BUDGET_SECONDS, time_remaining - margin))
