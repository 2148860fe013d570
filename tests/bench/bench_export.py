"""Family export benchmark (issue 17): how long chat takes to assemble one export's archive for a
person with 10,000 messages and 50 files — chat's own part read from the store (the messages by
sender, the files from GridFS), the other parts as they arrive, the zip written and stored in the
requester's storage, the export marked delivered. In this process on the real store, no Kafka.

    python tests/bench/bench_export.py      # env PARTA_TEST_MONGODB_URI
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chat.adapters.events import EventRecords  # noqa: E402
from chat.adapters.files import GridFsStorage  # noqa: E402
from chat.adapters.mongo import MESSAGES, index_specs  # noqa: E402
from chat.adapters.mongo.chats import MongoChatRepository  # noqa: E402
from chat.adapters.mongo.codecs import message_doc  # noqa: E402
from chat.adapters.mongo.exports import MongoAuthoredMessages, MongoExportRepository, export_indexes  # noqa: E402
from chat.adapters.mongo.projections import MongoProjections  # noqa: E402
from chat.adapters.mongo.sequences import Sequences  # noqa: E402
from chat.app.exports import Exports  # noqa: E402
from chat.domain.exports import ExportState, Part  # noqa: E402
from chat.domain.files import StoredFile  # noqa: E402
from chat.domain.messages import Message  # noqa: E402
from parta_common import exports as kit  # noqa: E402
from parta_common.clock import SystemClock  # noqa: E402
from parta_common.events.writer import OutboxWriter  # noqa: E402
from parta_common.mongo import create_mongo_client, ensure_indexes  # noqa: E402

MESSAGE_COUNT = int(os.environ.get("PARTA_BENCH_EXPORT_MESSAGES", "10000"))
FILE_COUNT = int(os.environ.get("PARTA_BENCH_EXPORT_FILES", "50"))
FILE_BYTES = int(os.environ.get("PARTA_BENCH_EXPORT_FILE_BYTES", str(200 * 1024)))


async def _seed(db: object, storage: GridFsStorage, subject: str) -> None:
    start = datetime.now(UTC) - timedelta(days=200)
    docs = [
        message_doc(
            Message(
                chat_id=f"chat-{i % 20}",
                message_id=uuid.uuid4().hex,
                seq=i // 20 + 1,
                update_seq=i // 20 + 1,
                school_id="school",
                sender_user_id=subject,
                text=f"Сообщение номер {i}: домашнее задание по алгебре, упражнения 5–{i % 40}",
                sent_at=start + timedelta(minutes=i),
            )
        )
        for i in range(MESSAGE_COUNT)
    ]
    for offset in range(0, len(docs), 1000):
        await db[MESSAGES].insert_many(docs[offset : offset + 1000])  # type: ignore[index]
    for i in range(FILE_COUNT):
        data = secrets.token_bytes(FILE_BYTES)
        file = StoredFile(uuid.uuid4().hex, subject, f"photo-{i}.jpg", "image/jpeg", len(data), "", start)
        assert await storage.reserve(file)
        sink = storage.sink(file)
        await sink.write(data)
        await sink.close()
        await storage.complete(file.file_id, "x")


async def run(env: dict[str, str]) -> list[tuple[str, str]]:
    client = create_mongo_client(env["PARTA_TEST_MONGODB_URI"], app_name="bench-export")
    name = f"bench_export_{uuid.uuid4().hex[:8]}"
    db = client[name]
    await ensure_indexes(db, index_specs())
    await ensure_indexes(db, export_indexes())
    clock = SystemClock()
    storage = GridFsStorage(db)
    records = EventRecords(OutboxWriter("chat"))
    exports = Exports(
        MongoExportRepository(db, lambda t: t, clock.now),
        MongoAuthoredMessages(db),
        storage,
        MongoChatRepository(db, records, Sequences(db)),
        MongoProjections(db),
        clock,
    )
    subject, requester = "misha", "anna"
    rows: list[tuple[str, str]] = []
    try:
        await _seed(db, storage, subject)
        await exports.requested("e1", requester, subject, clock.now(), False)
        for part in (kit.PROFILE, kit.MEMBERSHIPS):
            packed, _ = kit.bounded_json({"user_id": subject, "rows": []}, "rows")
            await exports.part_received("e1", part, Part(packed, False, True))
        lessons = [{"room_id": uuid.uuid4().hex, "title": "Алгебра", "total_seconds": 2640.0} for _ in range(800)]
        packed, _ = kit.bounded_json({"user_id": subject, "lessons": lessons}, "lessons")
        started = time.perf_counter()
        done = await exports.part_received("e1", kit.ATTENDANCE, Part(packed, False, True))
        seconds = time.perf_counter() - started
        assert done is not None and done.state is ExportState.DELIVERED
        total = FILE_COUNT * FILE_BYTES
        rows.append(
            (
                f"export assembly: {MESSAGE_COUNT} messages, {FILE_COUNT} files of {FILE_BYTES // 1024} KiB",
                f"{seconds:.2f} s, archive {done.size_bytes / 1e6:.1f} MB ({total / 1e6 / seconds:.1f} MB/s of files)",
            )
        )
    finally:
        await client.drop_database(name)
        await client.close()
    return rows


if __name__ == "__main__":
    for row in asyncio.run(run(dict(os.environ))):
        print(f"{row[0]:70} {row[1]}")
