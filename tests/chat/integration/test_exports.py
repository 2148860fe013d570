"""chat's export adapters on the real store (no Kafka): the export's document as parts and the
request arrive in any order, the archive stored once in GridFS for the requester, the delivery's
event in the outbox once, the claim — the Mongo side of tests/chat/unit/test_exports.py."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chat.adapters.events import EventRecords
from chat.adapters.files import GridFsStorage
from chat.adapters.mongo import MESSAGES, index_specs
from chat.adapters.mongo.chats import MongoChatRepository
from chat.adapters.mongo.codecs import message_doc
from chat.adapters.mongo.exports import EXPORTS, MongoAuthoredMessages, MongoExportRepository, export_indexes
from chat.adapters.mongo.projections import MongoProjections
from chat.adapters.mongo.sequences import Sequences
from chat.app.exports import Exports
from chat.domain.exports import ExportState, Part, archive_file_id
from chat.domain.files import StoredFile
from chat.domain.messages import Message
from parta.chat.v1 import exports_pb2
from parta.common.v1 import envelope_pb2
from parta_common import exports as kit
from parta_common.events.writer import OutboxWriter
from parta_common.mongo import ensure_indexes
from parta_common.testing.fakes import FakeClock

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def packed(name: str) -> Part:
    data, _ = kit.bounded_json({"part": name, "rows": []}, "rows")
    return Part(data, False, True)


async def test_parts_then_request_then_one_archive_and_one_event(mongo_db: Any) -> None:
    await ensure_indexes(mongo_db, index_specs())
    await ensure_indexes(mongo_db, export_indexes())
    clock = FakeClock(T0)
    storage = GridFsStorage(mongo_db)
    repo = MongoExportRepository(mongo_db, lambda t: t, clock.now)
    exports = Exports(
        repo,
        MongoAuthoredMessages(mongo_db),
        storage,
        MongoChatRepository(mongo_db, EventRecords(OutboxWriter("chat")), Sequences(mongo_db)),
        MongoProjections(mongo_db),
        clock,
    )
    for i, sender in enumerate(("misha", "kolya", "misha")):
        m = Message(f"c{i}", f"m{i}", 1, 1, "s", sender, f"text {i} from {sender}", T0 + timedelta(minutes=i))
        await mongo_db[MESSAGES].insert_one(message_doc(m))
    drawing = StoredFile("f1", "misha", "рисунок.png", "image/png", 5, "", T0)
    assert await storage.reserve(drawing)
    sink = storage.sink(drawing)
    await sink.write(b"\x89PNG!")
    await sink.close()
    await storage.complete("f1", "x")

    # Two parts before identity's request: a document without a state, not yet ready.
    await exports.part_received("e1", kit.ATTENDANCE, packed("attendance"))
    await exports.part_received("e1", kit.PROFILE, packed("profile"))
    assert (await repo.get("e1")).state is ExportState.REQUESTED  # type: ignore[union-attr]
    await exports.requested("e1", "anna", "misha", T0, True)
    done = await exports.part_received("e1", kit.MEMBERSHIPS, packed("memberships"))
    assert done is not None and done.state is ExportState.DELIVERED and done.file_id == archive_file_id("e1")

    data = b"".join([chunk async for chunk in storage.read(done.file_id, 0, 1 << 20)])
    file, complete = await storage.find(done.file_id)  # type: ignore[misc]
    assert complete and file.owner_user_id == "anna" and file.size_bytes == len(data) == done.size_bytes
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert json.loads(archive.read("profile.json")) == {"part": "profile", "rows": []}  # unpacked
    texts = [m["text"] for m in json.loads(archive.read("messages.json"))["messages"]]
    assert texts == ["text 0 from misha", "text 2 from misha"]
    assert archive.read("files/f1/рисунок.png") == b"\x89PNG!"

    # Replays: nothing new stored, the event once, the parts gone from the document.
    await exports.part_received("e1", kit.PROFILE, packed("profile"))
    await exports.requested("e1", "anna", "misha", T0, True)
    doc = await mongo_db[EXPORTS].find_one({"_id": "e1"})
    assert "parts" not in doc and doc["state"] == "delivered"
    events = []
    for record in doc["_outbox"]:
        envelope = envelope_pb2.EventEnvelope.FromString(record["envelope"])
        delivered = exports_pb2.DataExportDelivered()
        assert envelope.payload.Unpack(delivered)
        events.append(
            (delivered.export_id, delivered.requested_by_user_id, delivered.subject_user_id, delivered.file_id)
        )
    assert events == [("e1", "anna", "misha", done.file_id)]
    assert await mongo_db["blobs.files"].count_documents({"_id": done.file_id}) == 1
    assert gzip.decompress(packed("x").json)  # the parts really were packed


async def test_a_claim_holds_off_a_second_assembler_until_it_lapses(mongo_db: Any) -> None:
    repo = MongoExportRepository(mongo_db, lambda t: t, lambda: T0)
    await repo.record_request("e2", "anna", "misha", T0, False)
    assert await repo.claim("e2", T0, T0 + timedelta(minutes=10))
    assert not await repo.claim("e2", T0 + timedelta(minutes=5), T0 + timedelta(minutes=15))
    assert await repo.claim("e2", T0 + timedelta(minutes=11), T0 + timedelta(minutes=21))
    await repo.release("e2")
    assert await repo.claim("e2", T0 + timedelta(minutes=12), T0 + timedelta(minutes=22))
    # The periodic pass finds it (requested before the cutoff, not delivered); a part-only document
    # (no request yet) and a delivered export are not in the list.
    await repo.add_part("e3", kit.PROFILE, packed("profile"))
    assert await repo.undelivered(T0 + timedelta(minutes=1), 10) == ["e2"]
    assert await repo.undelivered(T0, 10) == []
