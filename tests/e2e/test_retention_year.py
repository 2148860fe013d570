"""Retention by academic year end to end — identity, school, chat and audit as processes, chat's clock
moved through CHAT_DEV_CLOCK_FILE: the admin sets 30 days' retention and 7 days' grace, 11А graduates
at StartAcademicYear, and once chat's clock is past the period its chats are archived (the admin
downloads the JSON with the student's message), past the grace purged (the student's photo gone), and
the audit trail records both with their counts."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from parta.audit.v1 import audit_pb2, audit_pb2_grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.school.v1 import events_pb2 as school_ev
from parta.school.v1 import school_pb2

from tests.chat.integration.test_files import download, upload_parts
from tests.chat.support import Person, Stubs, eventually
from tests.e2e import school_client as sc
from tests.e2e.harness import ROOT, Stack
from tests.e2e.identity_client import create_profile, random_phone, sign_in

OPERATOR = random_phone()


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def test_a_graduated_class_is_archived_and_purged_by_the_schools_retention(stack: Stack) -> None:
    clock_file = ROOT / ".cache" / "e2e" / f"chat-clock-{stack.run_id}.txt"
    clock_file.parent.mkdir(parents=True, exist_ok=True)
    clock_file.unlink(missing_ok=True)  # no file: real time
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    # The two that need only identity and school start together (the stack's start waits for each to serve).
    chat, audit = await asyncio.gather(
        stack.start("chat", {"CHAT_DEV_CLOCK_FILE": str(clock_file), "CHAT_RETENTION_INTERVAL_SECONDS": "0.5"}),
        stack.start("audit"),
    )
    address = school_svc.address
    started = time.monotonic()
    try:
        operator = await sign_in(identity.address, OPERATOR, stack.sms_file)
        admin_phone = random_phone()
        school = await sc.register_school(address, operator.access_token, admin_phone=admin_phone)
        sid = school.school_id
        signed_admin = await sign_in(identity.address, admin_phone, stack.sms_file)
        await sc.claim(address, signed_admin.access_token)
        admin = Person(signed_admin.user_id, signed_admin.access_token)
        signed = await sign_in(identity.address, random_phone(), stack.sms_file)
        await create_profile(identity.address, signed.access_token, "Миша", "Петров", "2009-04-01")
        misha = Person(signed.user_id, signed.access_token)
        eleven = await sc.create_class(address, admin.token, sid, 11, "А")
        await sc.join_school(address, admin.token, sid, misha.token, sc.STUDENT, class_id=eleven.class_id)

        wanted = school_pb2.SetRetentionPolicyRequest(
            school_id=sid, retention=school_ev.RetentionPolicy(keep_days=30, archive_grace_days=7)
        )
        await sc._call(address, "schools", "SetRetentionPolicy", wanted, admin.token)

        stubs = Stubs(grpc.aio.insecure_channel(chat.address))
        retention = chat_pb2_grpc.RetentionServiceStub(stubs.channel)
        cls = f"cls-{eleven.class_id}"

        async def in_class_chat() -> bool:
            reply = await stubs.chat.ListChats(chat_pb2.ListChatsRequest(), metadata=misha.md)
            return cls in {c.chat.chat_id for c in reply.chats}

        await eventually(in_class_chat, timeout=60)
        photo = (await stubs.files.UploadFile(iter(upload_parts("p1", b"photo" * 200)), metadata=misha.md)).file.file_id
        for text, files in (("Последний звонок!", []), ("фото", [photo])):
            await stubs.chat.SendMessage(
                chat_pb2.SendMessageRequest(
                    chat_id=cls, client_message_id=str(uuid.uuid4()), text=text, file_ids=files
                ),
                metadata=misha.md,
            )

        await sc._call(
            address,
            "schools",
            "StartAcademicYear",
            school_pb2.StartAcademicYearRequest(school_id=sid, academic_year="2027/2028", request_id="y1"),
            admin.token,
        )

        async def stage(wanted_stage: int) -> chat_pb2.RetainedChat | None:
            reply = await retention.ListRetainedChats(
                chat_pb2.ListRetainedChatsRequest(school_id=sid), metadata=admin.md
            )
            found = {c.chat_id: c for c in reply.chats}
            return found[cls] if cls in found and found[cls].stage == wanted_stage else None

        kept = await eventually(lambda: stage(chat_pb2.RETENTION_STAGE_KEPT), timeout=60)
        # The school's 30 days came through its snapshot; the clock is the rollover.
        assert kept.archive_at.seconds - kept.retained_from.seconds == 30 * 86400
        assert abs(kept.retained_from.ToDatetime(UTC) - datetime.now(UTC)) < timedelta(minutes=10)

        # Chat's clock a day past the period: archived, hidden from Миша, the JSON for the admin.
        clock_file.write_text((datetime.now(UTC) + timedelta(days=31)).isoformat())
        archived = await eventually(lambda: stage(chat_pb2.RETENTION_STAGE_ARCHIVED), timeout=60)
        assert not await in_class_chat()
        _, body = await download(stubs, admin, archived.archive_file_id)
        texts = [m["text"] for m in json.loads(body)["messages"] if not m["system"]]
        assert texts == ["Последний звонок!", "фото"]

        # Past the grace (from the archive): purged; Миша's photo is gone with it.
        clock_file.write_text((datetime.now(UTC) + timedelta(days=31 + 8)).isoformat())
        purged = await eventually(lambda: stage(chat_pb2.RETENTION_STAGE_PURGED), timeout=60)
        assert purged.counts.files_deleted == 1
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await download(stubs, misha, photo)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND

        trail = audit_pb2_grpc.AuditServiceStub(grpc.aio.insecure_channel(audit.address))

        async def recorded(kind: str) -> list[Any]:
            reply = await trail.ListAuditEntries(
                audit_pb2.ListAuditEntriesRequest(school_id=sid, kind=kind), metadata=admin.md
            )
            return [e for e in reply.entries if e.attributes["chat_id"] == cls]

        [archived_entry] = await eventually(lambda: recorded("retention.archived"), timeout=60, interval=0.3)
        [purged_entry] = await eventually(lambda: recorded("retention.purged"), timeout=60, interval=0.3)
        assert archived_entry.attributes["archive_file_id"] == archived.archive_file_id
        assert purged_entry.attributes["messages"] == str(purged.counts.messages)
        assert purged_entry.attributes["files_deleted"] == "1"
        print(f"retention e2e: {time.monotonic() - started:.1f} s after the processes started")
    finally:
        clock_file.unlink(missing_ok=True)
