"""Erasure end to end (issue 17) — identity, school, chat, media-signal and audit as processes on the
real Kafka and store. Петя (15) has messages, a file, a vote in his teacher's poll, a seat in 5А
and a lesson's attendance; he deletes his account. Миша (10) has a message; his confirmed guardian
Анна deletes his account. Within the documented bound (ERASURE_BOUND_SECONDS, docs/audit.md
"Erasure") every service has reported, the report is Анна's to read and the school admin's in the
audit trail (counts and ids only), and nothing of either child can be read any more: no message
text (ListMessages, a Subscribe replay from the start), no file (DownloadFile, ListChatFiles), no
name (display names, chat's system notes), no seat (the roster), no attendance row under their id,
no vote under his name (it still counts)."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import MessageToJson
from parta.audit.v1 import audit_pb2, audit_pb2_grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.identity.v1 import (
    account_pb2,
    account_pb2_grpc,
    erasure_pb2,
    erasure_pb2_grpc,
    guardians_pb2,
    guardians_pb2_grpc,
    profiles_pb2,
    profiles_pb2_grpc,
)
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2 as mpb
from parta.media_signal.v1 import media_signal_pb2_grpc as mpb_grpc

from tests.chat.support import Collector, Person, Stubs, eventually
from tests.e2e import school_client as sc
from tests.e2e.harness import Stack
from tests.e2e.identity_client import create_profile, random_phone, sign_in
from tests.e2e.media_signal_support import SignalClient, User

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media  # noqa: E402

# docs/audit.md, "Erasure": every service has erased and reported within this long of the deletion.
ERASURE_BOUND_SECONDS = 60
SERVICES = {"identity", "school", "chat", "media-signal"}
PETYA_TEXT, MISHA_TEXT, FILE_BYTES = "Петин секрет", "Мишин секрет", b"petya's private notes"


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def test_deleted_accounts_are_erased_everywhere_within_the_bound_and_reported(stack: Stack) -> None:
    operator_phone = random_phone()
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": operator_phone})
    chat = await stack.start("chat")
    m = media.env()
    media_svc = await stack.start(
        "media_signal",
        {
            "MEDIA_SIGNAL_JANUS_URL": m["janus_url"],
            "MEDIA_SIGNAL_TURN_URIS": m["turn_uri"],
            "MEDIA_SIGNAL_TURN_SECRET": m["turn_secret"],
            "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": uuid.uuid4().hex,
        },
    )
    audit = await stack.start("audit")
    address = school_svc.address

    async def person(first: str, birth_date: str) -> Person:
        signed = await sign_in(identity.address, random_phone(), stack.sms_file)
        await create_profile(identity.address, signed.access_token, first, "Иванов", birth_date)
        return Person(signed.user_id, signed.access_token)

    operator = await sign_in(identity.address, operator_phone, stack.sms_file)
    admin_phone = random_phone()
    school = await sc.register_school(address, operator.access_token, admin_phone=admin_phone)
    admin_signed = await sign_in(identity.address, admin_phone, stack.sms_file)
    await sc.claim(address, admin_signed.access_token)
    await create_profile(identity.address, admin_signed.access_token, "Ольга", "Смирнова", "1980-01-01")
    admin = Person(admin_signed.user_id, admin_signed.access_token)
    sid = school.school_id
    klass = await sc.create_class(address, admin.token, sid, 5, "А")
    teacher = await person("Тамара", "1985-03-14")
    petya = await person("Петя", "2011-03-01")  # 15: past the consent age, deletes his own account
    misha = await person("Миша", "2016-04-01")  # 10: below it, his guardian decides
    anna = await person("Анна", "1984-06-01")
    await sc.join_school(address, admin.token, sid, teacher.token, sc.TEACHER)
    await sc.verify_staff(address, admin.token, sid, teacher.user_id)
    await sc.set_class_head(address, admin.token, klass.class_id, teacher.user_id)
    for kid in (petya, misha):
        await sc.join_school(address, admin.token, sid, kid.token, sc.STUDENT, class_id=klass.class_id)
    await sc.join_school(
        address, admin.token, sid, anna.token, sc.PARENT, class_id=klass.class_id, child_user_id=misha.user_id
    )
    # Анна's confirmed link (the code Миша shows) and her consent, so Миша may write.
    id_channel = grpc.aio.insecure_channel(identity.address)
    guardians = guardians_pb2_grpc.GuardianServiceStub(id_channel)
    code = await guardians.CreateLinkCode(guardians_pb2.CreateLinkCodeRequest(), metadata=misha.md)
    await guardians.LinkGuardian(guardians_pb2.LinkGuardianRequest(link_code=code.link_code), metadata=anna.md)
    await guardians.GrantConsent(guardians_pb2.GrantConsentRequest(child_user_id=misha.user_id), metadata=anna.md)

    # Their traces: messages in the class chat, Петя's file shared there, Петя at a lesson.
    stubs = Stubs(grpc.aio.insecure_channel(chat.address))
    class_chat = f"cls-{klass.class_id}"

    async def send(who: Person, text: str, file_ids: tuple[str, ...] = ()) -> chat_pb2.SendMessageResponse:
        request = chat_pb2.SendMessageRequest(
            chat_id=class_chat, client_message_id=uuid.uuid4().hex, text=text, file_ids=list(file_ids)
        )
        return await stubs.chat.SendMessage(request, metadata=who.md, timeout=10)

    await eventually(lambda: send(petya, PETYA_TEXT), timeout=60, interval=0.3)
    await eventually(lambda: send(misha, MISHA_TEXT), timeout=60, interval=0.3)

    async def parts():  # type: ignore[no-untyped-def]
        yield chat_pb2.UploadFileRequest(
            metadata=chat_pb2.UploadMetadata(
                request_id=uuid.uuid4().hex,
                filename="petya-notes.txt",
                content_type="text/plain",
                size_bytes=len(FILE_BYTES),
            )
        )
        yield chat_pb2.UploadFileRequest(chunk=chat_pb2.UploadChunk(offset=0, data=FILE_BYTES))

    file_id = (await stubs.files.UploadFile(parts(), metadata=petya.md, timeout=10)).file.file_id
    await send(petya, "конспект", (file_id,))
    # Петя votes in his teacher's (named) poll.
    polls = chat_pb2_grpc.PollServiceStub(stubs.channel)
    create = chat_pb2.CreatePollRequest(
        chat_id=class_chat, client_message_id="poll-1", question="Куда едем?", options=["Музей", "Театр"]
    )
    poll = await eventually(lambda: polls.CreatePoll(create, metadata=teacher.md, timeout=10), timeout=60)
    vote = chat_pb2.VoteRequest(chat_id=class_chat, seq=poll.message.seq, option_indexes=[1])
    await polls.Vote(vote, metadata=petya.md, timeout=10)

    media_channel = grpc.aio.insecure_channel(media_svc.address)
    rooms = mpb_grpc.RoomServiceStub(media_channel)
    lesson = await eventually(
        lambda: rooms.CreateRoom(
            mpb.CreateRoomRequest(
                request_id=uuid.uuid4().hex,
                school_id=sid,
                class_id=klass.class_id,
                kind=room_events.ROOM_KIND_LESSON,
                title="Алгебра",
                start_now=True,
            ),
            metadata=teacher.md,
            timeout=10,
        ),
        timeout=60,
        interval=0.3,
    )
    room_id = lesson.room.room_id
    pupil = SignalClient(User(petya.user_id, petya.token, media_channel))
    granted = await eventually(
        lambda: rooms.CreateJoinToken(mpb.CreateJoinTokenRequest(room_id=room_id), metadata=petya.md, timeout=10),
        timeout=60,
        interval=0.3,
    )
    await pupil.open(granted.token)
    await pupil.expect("joined")
    await pupil.send(mpb.SignalRequest(leave=mpb.LeaveRequest()))
    assert await pupil.wait_closed() is None
    await rooms.EndRoom(mpb.EndRoomRequest(room_id=room_id), metadata=teacher.md, timeout=10)
    attendance = mpb_grpc.AttendanceServiceStub(media_channel)

    async def attended() -> set[str]:
        reply = await attendance.ListAttendance(
            mpb.ListAttendanceRequest(room_id=room_id), metadata=teacher.md, timeout=10
        )
        return {r.user_id for r in reply.rows}

    assert petya.user_id in await attended()
    history = await stubs.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=class_chat), metadata=teacher.md)
    assert {PETYA_TEXT, MISHA_TEXT} <= {msg.text for msg in history.messages}  # readable before

    # Петя deletes his account; Анна deletes Миша's.
    accounts = account_pb2_grpc.AccountServiceStub(id_channel)
    erasure = erasure_pb2_grpc.ErasureServiceStub(id_channel)
    started = time.monotonic()
    await accounts.DeleteAccount(account_pb2.DeleteAccountRequest(confirm=True), metadata=petya.md)
    await erasure.DeleteChildAccount(
        erasure_pb2.DeleteChildAccountRequest(child_user_id=misha.user_id, confirm=True), metadata=anna.md
    )

    async def report_complete() -> erasure_pb2.GetErasureReportResponse | None:
        reply = await erasure.GetErasureReport(
            erasure_pb2.GetErasureReportRequest(user_id=misha.user_id), metadata=anna.md
        )
        return reply if reply.complete else None

    trail = audit_pb2_grpc.AuditServiceStub(grpc.aio.insecure_channel(audit.address))

    async def audited() -> list[audit_pb2.AuditEntry] | None:
        reply = await trail.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(school_id=sid, page_size=100, kind="erasure.report"), metadata=admin.md
        )
        services = {(e.subject_user_ids[0], e.attributes["service"]) for e in reply.entries}
        wanted = {(who.user_id, s) for who in (petya, misha) for s in SERVICES}
        return list(reply.entries) if wanted <= services else None

    report = await eventually(report_complete, timeout=ERASURE_BOUND_SECONDS, interval=0.3)
    entries = await eventually(audited, timeout=ERASURE_BOUND_SECONDS, interval=0.5)
    took = time.monotonic() - started
    print(f"\nerasure: every service reported {took:.1f} s after the deletions (bound {ERASURE_BOUND_SECONDS} s)")
    assert took < ERASURE_BOUND_SECONDS

    # Анна's report: what each service removed of Миша, counts only.
    counts = {s.service: {c.what: c.count for c in s.removed} for s in report.services}
    assert set(counts) == SERVICES and all(s.requested_by_user_id == anna.user_id for s in report.services)
    assert counts["identity"]["profile"] == 1 and counts["identity"]["phone"] == 1
    assert counts["chat"]["messages_replaced"] == 1 and counts["school"]["memberships"] >= 1
    assert "attendance_anonymised" in counts["media-signal"]
    assert {"announcements", "polls", "poll_votes", "materials"} <= set(counts["chat"])  # reported, zero too
    with pytest.raises(grpc.aio.AioRpcError) as not_yours:  # nobody else reads it
        await erasure.GetErasureReport(erasure_pb2.GetErasureReportRequest(user_id=misha.user_id), metadata=teacher.md)
    assert not_yours.value.code() == grpc.StatusCode.NOT_FOUND
    # The school's trail: Петя's own request, Анна's for Миша; ids and counts, never names or text.
    petya_chat = next(
        e for e in entries if e.subject_user_ids[0] == petya.user_id and e.attributes["service"] == "chat"
    )
    assert petya_chat.actor_user_id == petya.user_id
    assert int(petya_chat.attributes["messages_replaced"]) == 2 and petya_chat.attributes["files"] == "1"
    assert petya_chat.attributes["poll_votes"] == "1"
    petya_media = next(
        e for e in entries if e.subject_user_ids[0] == petya.user_id and e.attributes["service"] == "media-signal"
    )
    assert petya_media.attributes["attendance_anonymised"] == "1"
    assert all(e.actor_user_id == anna.user_id for e in entries if e.subject_user_ids[0] == misha.user_id)
    dumped = "\n".join(MessageToJson(e) for e in entries)
    assert "Петя" not in dumped and "Миша" not in dumped and "секрет" not in dumped

    # Nothing of theirs can be read, through any of the RPCs and streams that showed it.
    names = {"Петя", "Миша"}
    history = await stubs.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=class_chat), metadata=teacher.md)
    gone = {petya.user_id, misha.user_id}
    theirs = [msg for msg in history.messages if msg.sender_user_id in gone]
    assert len(theirs) == 3 and all(msg.author_erased and not msg.text and not msg.file_ids for msg in theirs)
    for msg in history.messages:
        assert PETYA_TEXT not in msg.text and MISHA_TEXT not in msg.text and not names & set(msg.text.split())
        assert msg.system_note.subject_name not in names
    replay = await Collector(stubs, Person(teacher.user_id, teacher.token), {class_chat: 0}).ready()
    try:
        replayed = replay.messages(class_chat)
        assert replayed and all(PETYA_TEXT not in r.text and MISHA_TEXT not in r.text for r in replayed)
        assert all(not names & set(r.text.split()) for r in replayed)
    finally:
        await replay.close()
    with pytest.raises(grpc.aio.AioRpcError) as no_file:
        async for _ in stubs.files.DownloadFile(chat_pb2.DownloadFileRequest(file_id=file_id), metadata=teacher.md):
            pass
    assert no_file.value.code() == grpc.StatusCode.NOT_FOUND
    files = await stubs.files.ListChatFiles(chat_pb2.ListChatFilesRequest(chat_id=class_chat), metadata=teacher.md)
    assert file_id not in {f.file_id for f in files.files}
    # His vote still counts, naming no one.
    options = (await polls.GetPoll(chat_pb2.GetPollRequest(chat_id=class_chat, seq=poll.message.seq),
                                   metadata=teacher.md)).poll.options  # fmt: skip
    assert [(o.votes, list(o.voter_user_ids)) for o in options] == [(0, []), (1, [])]
    roster = await sc.list_members(address, admin.token, sid)
    assert not gone & {m.user_id for m in roster}
    present = await attended()
    assert petya.user_id not in present and any(u.startswith("erased-") for u in present)
    profiles = profiles_pb2_grpc.ProfileServiceStub(id_channel)
    shown = await profiles.BatchGetDisplayNames(
        profiles_pb2.BatchGetDisplayNamesRequest(user_ids=sorted(gone)), metadata=teacher.md
    )
    assert not list(shown.names)
