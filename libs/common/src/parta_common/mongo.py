"""MongoDB through PyMongo's async API (AsyncMongoClient): client factory, indexes, small helpers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pymongo
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

Document = dict[str, Any]


# Driver timeouts, all shorter than the SDK's default deadline (15 s), so a store outage is
# answered UNAVAILABLE while the caller still waits; a call with its own deadline is bounded tighter
# by outages.store_budget. Selection covers a failover; the socket timeout ends a hung (not closed)
# connection, and is far above the slowest single operation measured (docs/store.md).
SERVER_SELECTION_TIMEOUT_MS = 3_000
CONNECT_TIMEOUT_MS = 2_000
SOCKET_TIMEOUT_MS = 10_000
PING_TIMEOUT_SECONDS = 2.0


def create_mongo_client(uri: str, *, app_name: str) -> AsyncMongoClient[Document]:
    # tz_aware: datetimes come back as UTC-aware, like the ones the domain writes.
    return AsyncMongoClient(
        uri,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        connectTimeoutMS=CONNECT_TIMEOUT_MS,
        socketTimeoutMS=SOCKET_TIMEOUT_MS,
        uuidRepresentation="standard",
    )


async def ping(client: AsyncMongoClient[Document]) -> bool:
    try:
        with pymongo.timeout(PING_TIMEOUT_SECONDS):
            await client.admin.command("ping")
        return True
    except Exception:
        return False


async def ensure_indexes(database: AsyncDatabase[Document], specs: Mapping[str, Sequence[IndexModel]]) -> None:
    """Create the indexes each collection needs; idempotent, run at start-up."""
    for collection, indexes in specs.items():
        if indexes:
            try:
                await database[collection].create_indexes(list(indexes))
            except OperationFailure as exc:
                raise RuntimeError(f"cannot create indexes on {collection}: {exc}") from exc


_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c1d5e-3b5c-4a57-9a0e-3e5b8f7f2a10")


def idempotent_id(scope: str, actor: str, request_id: str) -> str:
    """A document id derived from the client's request id: a retried create hits the same id and
    returns the first result instead of making a second document."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{scope}\x1f{actor}\x1f{request_id}"))


async def apply_versioned(
    collection: AsyncCollection[Document], doc_id: str, version: int, update: Mapping[str, Any]
) -> bool:
    """Apply `update` to a projection document only if `version` is newer than the one it holds.

    Returns False when the document already reflects this version or a later one, which makes
    event handlers idempotent under replays and duplicates (at-least-once delivery).
    """
    merged: dict[str, Any] = {op: dict(fields) for op, fields in update.items()}
    merged.setdefault("$set", {})["version"] = version
    try:
        result = await collection.update_one({"_id": doc_id, "version": {"$lt": version}}, merged, upsert=True)
    except DuplicateKeyError:
        return False  # the document exists with version >= ours, so the upsert tried to insert
    return result.matched_count > 0 or result.upserted_id is not None
