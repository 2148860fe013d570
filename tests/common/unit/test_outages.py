"""Outage or bug: which failures the edge answers UNAVAILABLE, and the store budget from a deadline."""

from __future__ import annotations

import grpc
import pytest
from aiokafka.errors import KafkaTimeoutError
from parta_common.outages import dependency_of, outage_of, store_budget
from pymongo import errors as mongo_errors

pytestmark = pytest.mark.unit


class _PeerError(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode):
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata())


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (mongo_errors.ServerSelectionTimeoutError("down"), "store"),
        (mongo_errors.AutoReconnect("reset"), "store"),
        (mongo_errors.NetworkTimeout("slow"), "store"),
        (mongo_errors.ExecutionTimeout("budget", code=50), "store"),
        (KafkaTimeoutError(), "kafka"),
        (_PeerError(grpc.StatusCode.UNAVAILABLE), "peer"),
        (ExceptionGroup("tasks", [ValueError("x"), mongo_errors.AutoReconnect("reset")]), "store"),
    ],
)
def test_outages_are_recognised(error: BaseException, dependency: str) -> None:
    assert dependency_of(error) == dependency
    outage = outage_of(error)
    assert outage is not None and outage.retry_after_seconds and outage.metadata == {"dependency": dependency}


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("bug"),
        mongo_errors.DuplicateKeyError("dup"),
        mongo_errors.OperationFailure("bad query", code=2),
        _PeerError(grpc.StatusCode.PERMISSION_DENIED),
        OverflowError("MongoDB can only handle up to 8-byte ints"),
    ],
)
def test_bugs_and_refusals_are_not_outages(error: BaseException) -> None:
    assert outage_of(error) is None


def test_a_cause_chain_is_followed() -> None:
    try:
        try:
            raise mongo_errors.AutoReconnect("reset")
        except mongo_errors.AutoReconnect as inner:
            raise RuntimeError("save failed") from inner
    except RuntimeError as outer:
        assert dependency_of(outer) == "store"


def test_store_budget_keeps_a_margin_before_the_deadline() -> None:
    from pymongo import _csot  # the budget PyMongo applies to each operation in the block

    with store_budget(None):
        assert _csot.get_timeout() is None
    with store_budget(10.0):  # a quarter of the time left
        assert 7.4 < (_csot.get_timeout() or 0) <= 7.5
    with store_budget(3.0):  # at least a second
        assert 1.9 < (_csot.get_timeout() or 0) <= 2.0
    with store_budget(1.0):
        assert 0.4 < (_csot.get_timeout() or 0) <= 0.5
    with store_budget(0.0):
        assert (_csot.get_timeout() or 0) > 0
