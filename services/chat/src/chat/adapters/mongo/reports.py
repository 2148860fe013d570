"""Reports of messages in MongoDB, one document per reporter and message."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from chat.adapters.mongo import REPORTS
from chat.adapters.mongo.codecs import Doc
from chat.domain.moderation import Report


class MongoReportRepository:
    def __init__(self, db: AsyncDatabase[Doc]):
        self._reports = db[REPORTS]

    async def add(self, report: Report) -> None:
        r = report
        await self._reports.update_one(
            {"_id": r.report_id},
            {
                "$setOnInsert": {
                    "chat_id": r.chat_id,
                    "seq": r.seq,
                    "reporter": r.reporter,
                    "reason": r.reason,
                    "at": r.at,
                }
            },
            upsert=True,
        )
