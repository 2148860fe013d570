"""Family-scoped export end to end (issue 17) — identity, school, chat and media-signal as processes
on the real store and Kafka: Миша (15) writes in his class chat, sends a drawing and attends a
lesson; his mother Анна, linked as his guardian, exports his data and her own. Each export arrives
as one zip archive in Анна's storage, downloaded through FileService: Миша's messages and file from
chat, his lesson from media-signal, his memberships from school and his profile from identity.
A stranger and a parent of another child hear the same refusal, nobody else reads the export's
progress, and Миша sees that his mother exported his data."""

from __future__ import annotations

import io
import json
import secrets
import uuid
import zipfile

import grpc
import pytest
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import exports_pb2 as chat_exports
from parta.chat.v1 import exports_pb2_grpc as chat_exports_grpc
from parta.identity.v1 import exports_pb2 as identity_exports
from parta.identity.v1 import exports_pb2_grpc as identity_exports_grpc
from parta.identity.v1 import guardians_pb2, guardians_pb2_grpc
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2 as media_pb
from parta.media_signal.v1 import media_signal_pb2_grpc as media_grpc

from tests.chat.support import Person, Stubs, eventually
from tests.e2e import school_client as sc
from tests.e2e.harness import Stack
from tests.e2e.identity_client import random_phone
from tests.e2e.media_signal_support import User, error_reason, media
from tests.e2e.seed_support import seed_school

OPERATOR = random_phone()
DRAWING = b"\x89PNG\r\n" + secrets.token_bytes(70_000)  # a few GridFS chunks


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def test_a_guardian_exports_her_childs_data_and_her_own(stack: Stack) -> None:
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    chat = await stack.start("chat")
    for component in media.COMPONENTS.values():
        component.up()  # idempotent: Janus is normally running already
    m = media.env()
    signal = await stack.start(
        "media_signal",
        {
            "MEDIA_SIGNAL_JANUS_URL": m["janus_url"],
            "MEDIA_SIGNAL_TURN_URIS": m["turn_uri"],
            "MEDIA_SIGNAL_TURN_SECRET": m["turn_secret"],
            "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": secrets.token_urlsafe(32),
        },
    )
    seeded = await seed_school(identity.address, school_svc.address, stack.sms_file, OPERATOR)
    sid = seeded.school_id
    # 9А: Миша (15, past the consent age: he is told) with Анна, Коля (14) with Вера.
    klass = await seeded.seat_class("А", grade=9, children=["2011-02-01", "2012-09-01"], guardians=[1, 1])
    assert klass.head is not None
    teacher = klass.head
    await sc.verify_staff(school_svc.address, seeded.admin.token, sid, teacher.user_id)
    misha, other_child = klass.children
    anna, other_parent = klass.guardians[misha.user_id][0], klass.guardians[other_child.user_id][0]
    stranger = await seeded.person()

    # Анна and Миша confirm the link: he shows her a code.
    guardians = guardians_pb2_grpc.GuardianServiceStub(grpc.aio.insecure_channel(identity.address))
    for child, parent in ((misha, anna), (other_child, other_parent)):
        code = await guardians.CreateLinkCode(guardians_pb2.CreateLinkCodeRequest(), metadata=child.md)
        await guardians.LinkGuardian(guardians_pb2.LinkGuardianRequest(link_code=code.link_code), metadata=parent.md)

    # Миша writes in his class chat and sends a drawing; a classmate writes too.
    stubs = Stubs(grpc.aio.insecure_channel(chat.address))
    class_chat = f"cls-{klass.class_id}"

    async def send(who: Person, text: str, file_ids: tuple[str, ...] = ()) -> chat_pb2.SendMessageResponse:
        request = chat_pb2.SendMessageRequest(
            chat_id=class_chat, client_message_id=uuid.uuid4().hex, text=text, file_ids=list(file_ids)
        )
        return await stubs.chat.SendMessage(request, metadata=who.md)

    await eventually(lambda: send(misha, "Всем привет! Кто решил задачу 5?"), timeout=90, interval=0.3)
    await eventually(lambda: send(other_child, "Я решил, но не скажу"), timeout=90, interval=0.3)
    upload = [
        chat_pb2.UploadFileRequest(
            metadata=chat_pb2.UploadMetadata(
                request_id="drawing", filename="рисунок.png", content_type="image/png", size_bytes=len(DRAWING)
            )
        ),
        chat_pb2.UploadFileRequest(chunk=chat_pb2.UploadChunk(offset=0, data=DRAWING)),
    ]
    drawing = (await stubs.files.UploadFile(iter(upload), metadata=misha.md)).file
    await send(misha, "Мой рисунок", (drawing.file_id,))

    # A lesson: the class head starts it, Миша joins and leaves, the lesson ends.
    media_channel = grpc.aio.insecure_channel(signal.address)
    rooms = media_grpc.RoomServiceStub(media_channel)
    lesson = await eventually(
        lambda: rooms.CreateRoom(
            media_pb.CreateRoomRequest(
                request_id=uuid.uuid4().hex,
                school_id=sid,
                class_id=klass.class_id,
                kind=room_events.ROOM_KIND_LESSON,
                title="Алгебра",
                start_now=True,
            ),
            metadata=teacher.md,
        ),
        timeout=90,
        interval=0.3,
    )
    room_id = lesson.room.room_id
    host = await User(teacher.user_id, teacher.token, media_channel).signal(room_id=room_id)
    await host.expect("joined")
    student = User(misha.user_id, misha.token, media_channel)
    await eventually(lambda: student.join_token(room_id), timeout=60, interval=0.3)
    misha_signal = await student.signal(room_id=room_id)
    await misha_signal.expect("joined")
    await misha_signal.send(media_pb.SignalRequest(leave=media_pb.LeaveRequest()))
    assert await misha_signal.wait_closed() is None
    await rooms.EndRoom(media_pb.EndRoomRequest(room_id=room_id), metadata=teacher.md)
    await host.close()

    # Анна exports Миша's data and her own.
    exports = identity_exports_grpc.ExportServiceStub(grpc.aio.insecure_channel(identity.address))
    progress = chat_exports_grpc.ExportServiceStub(stubs.channel)

    async def request(who: Person, subject: str, request_id: str = "") -> identity_exports.RequestDataExportResponse:
        return await exports.RequestDataExport(
            identity_exports.RequestDataExportRequest(subject_user_id=subject, request_id=request_id),
            metadata=who.md,
        )

    of_misha = await request(anna, misha.user_id, "misha-1")
    assert (await request(anna, misha.user_id, "misha-1")).export_id == of_misha.export_id  # a retry
    own = await request(anna, "")
    assert of_misha.subject_user_id == misha.user_id and own.subject_user_id == anna.user_id

    # A stranger, a parent of another child, and Миша for his mother: the same refusal.
    for who, subject in ((stranger, misha.user_id), (other_parent, misha.user_id), (misha, anna.user_id)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await request(who, subject)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_reason(refused.value) == "EXPORT_NOT_ALLOWED"

    async def delivered(export_id: str) -> chat_exports.DataExport | None:
        reply = await progress.GetDataExport(chat_exports.GetDataExportRequest(export_id=export_id), metadata=anna.md)
        found = reply.export
        assert found.parts_total == 4 and 1 <= found.parts_received <= 4
        return found if found.state == chat_exports.DATA_EXPORT_STATE_DELIVERED else None

    misha_export = await eventually(lambda: delivered(of_misha.export_id), timeout=90, interval=0.3)
    anna_export = await eventually(lambda: delivered(own.export_id), timeout=90, interval=0.3)
    assert list(misha_export.parts) == ["profile", "memberships", "chat", "attendance"]
    for who in (stranger, misha, other_parent):
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await progress.GetDataExport(
                chat_exports.GetDataExportRequest(export_id=of_misha.export_id), metadata=who.md
            )
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

    async def download(file_id: str, who: Person) -> bytes:
        out = bytearray()
        async for part in stubs.files.DownloadFile(chat_pb2.DownloadFileRequest(file_id=file_id), metadata=who.md):
            if part.WhichOneof("part") == "chunk":
                out += part.chunk.data
        return bytes(out)

    archive = zipfile.ZipFile(io.BytesIO(await download(misha_export.file_id, anna)))
    profile = json.loads(archive.read("profile.json"))
    assert profile["user_id"] == misha.user_id and profile["profile"]["last_name"] == "Иванова"
    assert profile["profile"]["birth_date"] == "2011-02-01"
    assert [g["user_id"] for g in profile["guardians"]] == [anna.user_id]
    memberships = json.loads(archive.read("memberships.json"))["memberships"]
    # His seat in the school and in 9А.
    assert {(r["school_id"], r["class_id"], r["school_role"], r["active"]) for r in memberships} == {
        (sid, "", "student", True),
        (sid, klass.class_id, "student", True),
    }
    texts = [r["text"] for r in json.loads(archive.read("messages.json"))["messages"]]
    assert texts == ["Всем привет! Кто решил задачу 5?", "Мой рисунок"]  # his, not the classmate's
    files = json.loads(archive.read("files.json"))["files"]
    assert [f["file_id"] for f in files] == [drawing.file_id]
    assert archive.read(files[0]["path"]) == DRAWING
    lessons = json.loads(archive.read("attendance.json"))["lessons"]
    assert [(r["room_id"], r["title"]) for r in lessons] == [(room_id, "Алгебра")]
    assert lessons[0]["total_seconds"] >= 0 and lessons[0]["intervals"][0]["left_at"]
    # The archive is Анна's: Миша cannot download it.
    with pytest.raises(grpc.aio.AioRpcError) as not_his:
        await download(misha_export.file_id, misha)
    assert not_his.value.code() == grpc.StatusCode.NOT_FOUND

    own_archive = zipfile.ZipFile(io.BytesIO(await download(anna_export.file_id, anna)))
    own_profile = json.loads(own_archive.read("profile.json"))
    assert own_profile["user_id"] == anna.user_id and [c["user_id"] for c in own_profile["children"]] == [misha.user_id]
    assert json.loads(own_archive.read("messages.json"))["messages"] == []

    # Миша (15) sees that his mother exported his data; her list has both exports. (The seed names
    # everyone Анна Иванова.)
    mine = await progress.ListDataExports(chat_exports.ListDataExportsRequest(), metadata=misha.md)
    assert [e.export_id for e in mine.about_me] == [of_misha.export_id]
    assert mine.about_me[0].requested_by_user_id == anna.user_id
    assert mine.about_me[0].notice.startswith("Анна Иванова выгрузил(а) ваши данные")
    assert mine.about_me[0].file_id == "" and list(mine.requested) == []
    hers = await progress.ListDataExports(chat_exports.ListDataExportsRequest(), metadata=anna.md)
    assert {e.export_id for e in hers.requested} == {of_misha.export_id, own.export_id}
