"""Reports of messages in MongoDB, one document per reporter and message: the message as reported,
the moderators' decisions, and the ReportDecided events until relayed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from parta_common.events.outbox import merge_updates, outbox_fields, outbox_push
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chat.adapters.events import EventRecords
from chat.adapters.mongo import REPORTS
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, decode_message, message_doc
from chat.domain import events as ev
from chat.domain.chats import ChatKind
from chat.domain.moderation import CLASS_CHATS, Decision, Report, ReportAction, ReportState


def _decision_doc(d: Decision) -> Doc:
    return {
        "actions": [int(a) for a in d.actions],
        "moderator": d.moderator,
        "note": d.note,
        "at": d.at,
        "muted_until": d.muted_until,
    }


def _decision(d: Doc) -> Decision:
    return Decision(
        tuple(ReportAction(a) for a in d.get("actions", [])),
        d.get("moderator", ""),
        d.get("note", ""),
        d["at"],
        d.get("muted_until"),
    )


def decode_report(d: Doc) -> Report:
    return Report(
        report_id=d["_id"],
        chat_id=d["chat_id"],
        seq=d["seq"],
        reporter=d["reporter"],
        reason=d.get("reason", ""),
        at=d["at"],
        school_id=d.get("school_id", ""),
        chat_kind=ChatKind(d.get("chat_kind", int(ChatKind.GROUP))),
        class_id=d.get("class_id", ""),
        message=decode_message(d["message"]) if d.get("message") else None,
        state=ReportState(d.get("state", int(ReportState.OPEN))),
        decisions=tuple(_decision(x) for x in d.get("decisions", [])),
    )


class MongoReportRepository:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords | None = None):
        self._reports = db[REPORTS]
        self._records = records

    async def add(self, report: Report, events: Sequence[ev.ChatEvent] = ()) -> None:
        r = report
        fields: dict[str, Any] = {
            "chat_id": r.chat_id,
            "seq": r.seq,
            "reporter": r.reporter,
            "reason": r.reason,
            "at": r.at,
            "school_id": r.school_id,
            "chat_kind": int(r.chat_kind),
            "class_id": r.class_id,
            "state": int(r.state),
            "decisions": [],
            "n": 0,  # how many decisions: the compare-and-set version
        }
        if r.message is not None:
            fields["message"] = message_doc(r.message)
        if events:
            # Only the insert carries them: a repeated report (same id) publishes nothing again.
            assert self._records is not None
            fields |= outbox_fields(self._records.records(r.chat_id, events))
        await self._reports.update_one({"_id": r.report_id}, {"$setOnInsert": fields}, upsert=True)

    async def get(self, report_id: str) -> Report | None:
        doc = await self._reports.find_one({"_id": report_id}, NO_OUTBOX)
        return decode_report(doc) if doc else None

    async def of_school(
        self, school_id: str, *, include_closed: bool, limit: int, classes: Sequence[str] | None = None
    ) -> list[Report]:
        query: Doc = {"school_id": school_id}
        if classes is not None:
            query["class_id"] = {"$in": list(classes)}
            query["chat_kind"] = {"$in": sorted(int(k) for k in CLASS_CHATS)}
        if not include_closed:
            query["state"] = int(ReportState.OPEN)
        docs = await self._reports.find(query, NO_OUTBOX).sort("at", DESCENDING).limit(limit).to_list()
        return [decode_report(d) for d in docs]

    async def of_reporter(self, reporter: str, limit: int) -> list[Report]:
        docs = await self._reports.find({"reporter": reporter}, NO_OUTBOX).sort("at", DESCENDING).limit(limit).to_list()
        return [decode_report(d) for d in docs]

    async def decide(self, report: Report, expected_decisions: int, events: Sequence[ev.ChatEvent]) -> bool:
        assert self._records is not None
        update = merge_updates(
            {
                "$set": {
                    "state": int(report.state),
                    "decisions": [_decision_doc(d) for d in report.decisions],
                    "n": len(report.decisions),
                }
            },
            outbox_push(self._records.records(report.chat_id, events)),
        )
        result = await self._reports.update_one({"_id": report.report_id, "n": expected_decisions}, update)
        return bool(result.matched_count)
