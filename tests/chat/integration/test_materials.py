"""School materials on the real store and Kafka, two replicas: 5A's head publishes a file for 5A
and a 5A parent downloads it while a 5B parent sees nothing and cannot download; publishing (and its
retry) writes one «Опубликован материал» note into 5A's class and parents' chats; an admin's link
for the whole school is read by a student and noted in the school channel; removing the file
material takes the download away."""

from __future__ import annotations

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as events

from tests.chat.integration.test_files import _code, download, upload_parts
from tests.chat.support import (
    ADMIN,
    CPARENT,
    CSTUDENT,
    HEAD,
    PARENT,
    STUDENT,
    TEACHER,
    Person,
    Stubs,
    World,
    chat_ids,
    eventually,
    uid,
)


async def material_notes(stubs: Stubs, person: Person, chat_id: str) -> list[tuple[str, str, str]]:
    reply = await stubs.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id), metadata=person.md)
    return [
        (m.text, m.system_note.title, m.system_note.material_id)
        for m in reply.messages
        if m.system and m.system_note.kind == events.SYSTEM_KIND_MATERIAL_PUBLISHED
    ]


async def test_materials_reach_their_audience_only(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    ma, mb = chat_pb2_grpc.MaterialServiceStub(a.channel), chat_pb2_grpc.MaterialServiceStub(b.channel)
    school = world.school()
    await school.create()
    five_a, five_b = uid("c"), uid("c")
    await school.add_class(five_a, "5А")
    await school.add_class(five_b, "5Б")
    admin, head, student, parent, other_student, other_parent = (world.person() for _ in range(6))
    await school.member(admin.user_id, ADMIN)
    await school.member(head.user_id, TEACHER, five_a, HEAD)
    await school.member(student.user_id, STUDENT, five_a, CSTUDENT)
    await school.member(parent.user_id, PARENT, five_a, CPARENT, child=student.user_id)
    await school.member(other_student.user_id, STUDENT, five_b, CSTUDENT)
    await school.member(other_parent.user_id, PARENT, five_b, CPARENT, child=other_student.user_id)

    async def ready() -> bool:
        return (
            f"cls-{five_a}" in await chat_ids(a, head)
            and f"par-{five_a}" in await chat_ids(a, parent)
            and f"par-{five_b}" in await chat_ids(a, other_parent)
            and f"cls-{five_a}" in await chat_ids(a, student)
            and bool(await chat_ids(a, admin))
        )

    await eventually(ready)
    sid = school.school_id

    # --- 5A's head publishes a file for 5A -------------------------------------------------------
    data = b"%PDF diktant " * 1000
    up = await a.files.UploadFile(iter(upload_parts(uid("r"), data)), metadata=head.md)
    request = chat_pb2.PublishMaterialRequest(
        school_id=sid, class_id=five_a, request_id="m1", title="Диктант", description="К среде", file_id=up.file.file_id
    )
    published = (await ma.PublishMaterial(request, metadata=head.md)).material
    again = (await mb.PublishMaterial(request, metadata=head.md)).material  # a retry: the same material
    assert again.material_id == published.material_id and published.kind == chat_pb2.MATERIAL_KIND_FILE
    assert published.filename == "homework.pdf" and published.size_bytes == len(data)
    note = ("Опубликован материал: «Диктант»", "Диктант", published.material_id)
    assert await material_notes(b, parent, f"par-{five_a}") == [note]  # once, though published twice
    assert await material_notes(b, student, f"cls-{five_a}") == [note]

    listed = await mb.ListMaterials(chat_pb2.ListMaterialsRequest(school_id=sid, class_id=five_a), metadata=parent.md)
    assert [m.title for m in listed.materials] == ["Диктант"]
    info, body = await download(b, parent, up.file.file_id)
    assert body == data and info.size_bytes == len(data)

    # --- a 5B parent sees nothing and cannot download --------------------------------------------
    list_b = chat_pb2.ListMaterialsRequest(school_id=sid, class_id=five_a)
    assert await _code(mb.ListMaterials(list_b, metadata=other_parent.md)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_IN_AUDIENCE",
    )
    assert await _code(download(b, other_parent, up.file.file_id)) == (grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")
    own = await mb.ListMaterials(
        chat_pb2.ListMaterialsRequest(school_id=sid, class_id=five_b), metadata=other_parent.md
    )
    assert list(own.materials) == []
    outsider = world.person()
    assert await _code(mb.ListMaterials(chat_pb2.ListMaterialsRequest(school_id=sid), metadata=outsider.md)) == (
        grpc.StatusCode.NOT_FOUND,
        "SCHOOL_NOT_FOUND",
    )

    # --- a link for the whole school, read by a student; a teacher may not publish school-wide ----
    link = chat_pb2.PublishMaterialRequest(
        school_id=sid, request_id="m2", title="Правила школы", url="https://school.example.ru/rules"
    )
    assert await _code(ma.PublishMaterial(link, metadata=head.md)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_PUBLISHER",
    )
    bad = chat_pb2.PublishMaterialRequest(school_id=sid, request_id="m3", title="X", url="javascript:alert(1)")
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await ma.PublishMaterial(bad, metadata=admin.md)
    assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    rules = (await ma.PublishMaterial(link, metadata=admin.md)).material
    assert await material_notes(b, student, f"sch-{sid}") == [
        ("Опубликован материал: «Правила школы»", "Правила школы", rules.material_id)
    ]
    school_wide = await mb.ListMaterials(chat_pb2.ListMaterialsRequest(school_id=sid), metadata=student.md)
    assert [(m.title, m.url, m.kind) for m in school_wide.materials] == [
        ("Правила школы", "https://school.example.ru/rules", chat_pb2.MATERIAL_KIND_LINK)
    ]

    # --- removal: a parent may not; the publisher does, and the download goes with it --------------
    remove = chat_pb2.RemoveMaterialRequest(school_id=sid, material_id=published.material_id)
    assert await _code(ma.RemoveMaterial(remove, metadata=parent.md)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_PUBLISHER",
    )
    await ma.RemoveMaterial(remove, metadata=head.md)
    gone = await mb.ListMaterials(chat_pb2.ListMaterialsRequest(school_id=sid, class_id=five_a), metadata=parent.md)
    assert list(gone.materials) == []
    assert await _code(download(b, parent, up.file.file_id)) == (grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")
    assert (await download(a, head, up.file.file_id))[1] == data  # still the head's own file
