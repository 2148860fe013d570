"""MongoDB through PyMongo's async API (AsyncMongoClient): client factory, indexes, small helpers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, overload

import pymongo
import structlog
from pymongo import AsyncMongoClient, IndexModel, ReturnDocument, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from parta_common.ids import IDEMPOTENCY

Document = dict[str, Any]


# Driver timeouts, all shorter than the SDK's default deadline (15 s), so a store outage is
# answered UNAVAILABLE while the caller still waits; a call with its own deadline is bounded tighter
# by outages.store_budget. Selection covers a failover; the socket timeout ends a hung (not closed)
# connection, and is far above the slowest single operation measured (docs/store.md).
SERVER_SELECTION_TIMEOUT_MS = 3_000
CONNECT_TIMEOUT_MS = 2_000
SOCKET_TIMEOUT_MS = 10_000
PING_TIMEOUT_SECONDS = 2.0


# Driver chatter that is not the application's own work: server monitoring and connection set-up.
_HANDSHAKE_COMMANDS = frozenset({"hello", "ismaster", "isMaster", "saslStart", "saslContinue", "endSessions"})


def command_scope() -> str:
    """Who is sending a store command, from the contextvars the kit binds in the sending task.

    The edge binds `rpc` (the full method) for every call, the event consumer `consumed` (the
    event type) while it handles a record, the outbox relay `worker`; the rest is "background".
    """
    bound = structlog.contextvars.get_contextvars()
    if rpc := bound.get("rpc"):
        return "rpc:" + str(rpc).rsplit("/", 1)[-1]
    if consumed := bound.get("consumed"):
        return "event:" + str(consumed).rsplit(".", 1)[-1]
    if worker := bound.get("worker"):
        return f"worker:{worker}"
    return "background"


class StoreCommandCounter(monitoring.CommandListener):
    """Counts the store commands a client sends, by scope (command_scope()) and command name.

    What a call costs in store round trips is a property of the code, not of the store, so it is
    the number a production sizing and the regression guards are built from. PyMongo publishes
    the started event in the task that sends the command, so the scope is the caller's.
    `on_command(scope, command)` is a hook for a Prometheus counter; `counts` serves tests.
    Enabled per service by the setting MONGODB_COMMAND_METRICS (off by default: every command
    then pays a listener call).
    """

    def __init__(self, on_command: Callable[[str, str], None] | None = None):
        self._lock = threading.Lock()  # the driver may publish from its monitor threads
        self._counts: Counter[tuple[str, str]] = Counter()
        self._on_command = on_command

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in _HANDSHAKE_COMMANDS:
            return
        scope = command_scope()
        with self._lock:
            self._counts[(scope, name)] += 1
        if self._on_command is not None:
            self._on_command(scope, name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def total(self, scope: str | None = None) -> int:
        """All commands, or those of one scope (e.g. "rpc:SendMessage")."""
        with self._lock:
            return sum(n for (s, _), n in self._counts.items() if scope is None or s == scope)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def create_mongo_client(
    uri: str, *, app_name: str, command_listener: StoreCommandCounter | None = None
) -> AsyncMongoClient[Document]:
    # tz_aware: datetimes come back as UTC-aware, like the ones the domain writes.
    return AsyncMongoClient(
        uri,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        connectTimeoutMS=CONNECT_TIMEOUT_MS,
        socketTimeoutMS=SOCKET_TIMEOUT_MS,
        uuidRepresentation="standard",
        event_listeners=[command_listener] if command_listener is not None else [],
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


def idempotent_id(scope: str, actor: str, request_id: str) -> str:
    """A document id derived from the client's request id: a retried create hits the same id and
    returns the first result instead of making a second document."""
    return IDEMPOTENCY.derive(scope, actor, request_id)


@overload
async def apply_versioned(
    collection: AsyncCollection[Document],
    doc_id: str,
    version: int,
    update: Mapping[str, Any],
    *,
    only_if: Mapping[str, Any] | None = None,
    pre_image: Literal[False] = False,
) -> bool: ...


@overload
async def apply_versioned(
    collection: AsyncCollection[Document],
    doc_id: str,
    version: int,
    update: Mapping[str, Any],
    *,
    only_if: Mapping[str, Any] | None = None,
    pre_image: Literal[True],
) -> Document | Literal[False] | None: ...


async def apply_versioned(
    collection: AsyncCollection[Document],
    doc_id: str,
    version: int,
    update: Mapping[str, Any],
    *,
    only_if: Mapping[str, Any] | None = None,
    pre_image: bool = False,
) -> bool | Document | None:
    """Apply `update` to a projection document only if `version` is newer than the one it holds
    (and the document matches `only_if`, e.g. is not in a final state).

    Returns False when the document already reflects this version or a later one, which makes
    event handlers idempotent under replays and duplicates (at-least-once delivery). The only
    projection write: services call it behind their ports, never re-implement it.

    `pre_image=True`: a projection that must know what it replaced (chat's memberships: which
    grants a changed seat takes back) gets the document as it was before the write, None when
    the write created it, and still False when it was stale — in the same one round trip.
    """
    merged: dict[str, Any] = {op: dict(fields) for op, fields in update.items()}
    merged.setdefault("$set", {})["version"] = version
    query = {**(only_if or {}), "_id": doc_id, "version": {"$lt": version}}
    try:
        if pre_image:
            before: Document | None = await collection.find_one_and_update(
                query, merged, upsert=True, return_document=ReturnDocument.BEFORE
            )
            return before
        result = await collection.update_one(query, merged, upsert=True)
    except DuplicateKeyError:
        return False  # the document exists with version >= ours, so the upsert tried to insert
    return result.matched_count > 0 or result.upserted_id is not None


async def insert_claiming_keys(collection: AsyncCollection[Document], doc: Document, keys: Sequence[str]) -> None:
    """Inserts `doc`, writing its uniquely indexed `keys` with an update, so that a later update
    that changes or removes them frees the old value on every engine.

    secantus-mdb 0.5.3-beta.196 never releases a unique-index key a document was *inserted* with
    (an update, a replace, leaving a partial index, even deleting the document after such an
    update keep it), while keys an update wrote are released as they should be
    (tests/store/test_store_conformance.py, docs/store.md). So: insert a placeholder that holds
    only the id, then one update writes the whole document — state, keys and outbox together, the
    one write that carries the change and its events. A placeholder has none of the queried fields,
    so no query sees it (a get by id asks for a field every real document has, e.g. `version`); a
    crash between the two writes leaves one such inert document behind.

    Raises DuplicateKeyError like insert_one: for the id (nothing written) or a key (the
    placeholder is removed again).
    """
    claimed = {k: doc[k] for k in keys if k in doc}
    if not claimed:
        await collection.insert_one(doc)
        return
    await collection.insert_one({"_id": doc["_id"]})
    rest = {k: v for k, v in doc.items() if k != "_id"}
    try:
        await collection.update_one({"_id": doc["_id"]}, {"$set": rest})
    except DuplicateKeyError:
        # Only the placeholder: a document that went on to hold its keys is never removed here.
        await collection.delete_one({"_id": doc["_id"], **{k: {"$exists": False} for k in claimed}})
        raise
