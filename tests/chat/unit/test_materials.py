"""School materials on in-memory ports (app/materials.py, domain/materials.py): who publishes (admins
anywhere, a class's verified teachers for their class), who reads (the audience), who removes (the
publisher or an admin), links checked, the download grant a file material gives its audience, and
the system note publishing writes into the audience's chats."""

from __future__ import annotations

import pytest
from chat.adapters.mongo.codecs import decode_message, message_doc
from chat.domain.chats import class_chat_id, parents_chat_id, school_channel_id
from chat.domain.files import StoredFile
from chat.domain.materials import MaterialKind, url_problem
from chat.domain.provisioning import ClassRole, Profile, SchoolInfo, SchoolRole
from chat.domain.system_notes import SystemKind, SystemNote
from chat.pb import message_from_pb, message_pb
from parta_common.errors import DomainError, InvalidArgument

from tests.chat.unit.fake_materials import materials_on
from tests.chat.unit.fakes import Fakes, seat

S = "s1"


async def reason(coro: object) -> str | None:
    try:
        await coro  # type: ignore[misc]
    except DomainError as exc:
        return exc.reason
    return None


@pytest.fixture
def fakes() -> Fakes:
    """5A: head tom, subject teacher sue (unverified: new), student ann, her parent pat. 5B: head
    bob, student ole, his parent oli. adm the admin; out is in another school."""
    f = Fakes()
    f.facts.memberships += [
        seat(S, "adm", SchoolRole.ADMIN),
        seat(S, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(S, "sue", SchoolRole.TEACHER, "5A", ClassRole.SUBJECT_TEACHER, verified=False),
        seat(S, "bob", SchoolRole.TEACHER, "5B", ClassRole.CLASS_HEAD),
        seat(S, "ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(S, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
        seat(S, "ole", SchoolRole.STUDENT, "5B", ClassRole.STUDENT),
        seat(S, "oli", SchoolRole.PARENT, "5B", ClassRole.PARENT, child="ole"),
        seat("s2", "out", SchoolRole.ADMIN),
    ]
    f.facts.profiles.update(
        {u: Profile(u, u.title()) for u in ("adm", "tom", "sue", "bob", "ann", "pat", "ole", "oli")}
    )
    return f


def _file(fakes: Fakes, file_id: str, owner: str) -> None:
    stored = StoredFile(file_id, owner, "dictation.pdf", "application/pdf", 3, "00", fakes.clock.now())
    fakes.files.rows[file_id] = (stored, True)
    fakes.files.blobs[file_id] = b"pdf"


async def test_who_publishes(fakes: Fakes) -> None:
    materials, _repo = materials_on(fakes)
    link = {"url": "https://example.ru/a"}
    assert (await materials.publish("adm", S, "", "r1", "Устав", "", **link)).kind is MaterialKind.LINK
    assert (await materials.publish("adm", S, "5B", "r2", "Для 5Б", "", **link)).class_id == "5B"
    assert (await materials.publish("tom", S, "5A", "r1", "Диктант", "", **link)).published_by == "tom"
    assert await reason(materials.publish("tom", S, "", "r2", "Всем", "", **link)) == "NOT_PUBLISHER"
    assert await reason(materials.publish("tom", S, "5B", "r3", "Чужой", "", **link)) == "NOT_PUBLISHER"
    assert await reason(materials.publish("sue", S, "5A", "r1", "Новая", "", **link)) == "STAFF_NOT_VERIFIED"
    assert await reason(materials.publish("pat", S, "5A", "r1", "Родитель", "", **link)) == "NOT_PUBLISHER"
    assert await reason(materials.publish("ann", S, "5A", "r1", "Ученик", "", **link)) == "NOT_PUBLISHER"
    assert await reason(materials.publish("out", S, "", "r1", "Чужак", "", **link)) == "SCHOOL_NOT_FOUND"


async def test_publishing_is_validated_and_idempotent(fakes: Fakes) -> None:
    materials, repo = materials_on(fakes)
    with pytest.raises(InvalidArgument) as caught:
        await materials.publish("tom", S, "5A", "", " ", "", url="javascript:alert(1)")
    assert {f.field for f in caught.value.violations} == {"request_id", "title", "url"}
    with pytest.raises(InvalidArgument) as both:
        await materials.publish("tom", S, "5A", "r1", "T", "", file_id="f1", url="https://example.ru")
    assert [f.field for f in both.value.violations] == ["file_id"]
    first = await materials.publish("tom", S, "5A", "r1", "Диктант", "", url="https://example.ru/d")
    again = await materials.publish("tom", S, "5A", "r1", "Диктант", "", url="https://example.ru/d")
    assert first == again and len(repo.rows) == 1
    # A file must be the publisher's own, and complete.
    _file(fakes, "f-bob", "bob")
    assert await reason(materials.publish("tom", S, "5A", "r2", "Чужой файл", "", file_id="f-bob")) == "FILE_NOT_FOUND"


def test_links_are_http() -> None:
    assert url_problem("https://школа.рф/материалы?a=1") is None
    assert url_problem("http://example.ru:8080/x") is None
    for bad in (
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://example.ru",
        "https://u:p@example.ru",
        "https://x",
        "https://a b.ru",
    ):
        assert url_problem(bad) is not None, bad


async def test_who_reads(fakes: Fakes) -> None:
    materials, _repo = materials_on(fakes)
    await materials.publish("adm", S, "", "r1", "Устав", "", url="https://example.ru/1")
    await materials.publish("tom", S, "5A", "r1", "Диктант", "", url="https://example.ru/2")
    fakes.clock.advance(60)
    await materials.publish("tom", S, "5A", "r2", "Сочинение", "", url="https://example.ru/3")
    for user in ("adm", "tom", "bob", "ann", "pat", "ole", "oli"):  # the whole school
        assert [m.title for m in await materials.list_materials(user, S, "", 0, 10)] == ["Устав"]
    for user in ("adm", "tom", "sue", "ann", "pat"):  # 5A's audience, newest first
        assert [m.title for m in await materials.list_materials(user, S, "5A", 0, 10)] == ["Сочинение", "Диктант"]
    assert [m.title for m in await materials.list_materials("pat", S, "5A", 1, 1)] == ["Диктант"]
    for user in ("bob", "ole", "oli"):
        assert await reason(materials.list_materials(user, S, "5A", 0, 10)) == "NOT_IN_AUDIENCE"
    assert await reason(materials.list_materials("out", S, "", 0, 10)) == "SCHOOL_NOT_FOUND"


async def test_who_removes(fakes: Fakes) -> None:
    materials, repo = materials_on(fakes)
    mine = await materials.publish("tom", S, "5A", "r1", "Диктант", "", url="https://example.ru/2")
    other = await materials.publish("adm", S, "5A", "r1", "От завуча", "", url="https://example.ru/3")
    assert await reason(materials.remove("pat", S, mine.material_id)) == "NOT_PUBLISHER"
    assert await reason(materials.remove("tom", S, other.material_id)) == "NOT_PUBLISHER"
    assert await reason(materials.remove("oli", S, mine.material_id)) == "MATERIAL_NOT_FOUND"  # not their class
    assert await reason(materials.remove("out", "s2", mine.material_id)) == "MATERIAL_NOT_FOUND"
    assert await reason(materials.remove("out", S, mine.material_id)) == "SCHOOL_NOT_FOUND"
    await materials.remove("tom", S, mine.material_id)
    await materials.remove("adm", S, other.material_id)
    assert repo.rows == {}
    assert await reason(materials.remove("adm", S, mine.material_id)) == "MATERIAL_NOT_FOUND"


async def test_a_file_material_opens_the_file_to_its_audience_while_it_exists(fakes: Fakes) -> None:
    materials, _repo = materials_on(fakes)
    _file(fakes, "f1", "tom")
    assert await reason(fakes.app.files.open("pat", "f1", 0)) == "FILE_NOT_FOUND"  # not shared yet
    material = await materials.publish("tom", S, "5A", "r1", "Диктант", "Текст", file_id="f1")
    assert (material.kind, material.filename, material.size_bytes) == (MaterialKind.FILE, "dictation.pdf", 3)
    for user in ("pat", "ann", "adm", "sue"):
        file, _chunks = await fakes.app.files.open(user, "f1", 0)
        assert file.file_id == "f1"
    for user in ("oli", "ole", "bob", "out"):
        assert await reason(fakes.app.files.open(user, "f1", 0)) == "FILE_NOT_FOUND"
    await materials.remove("tom", S, material.material_id)
    assert await reason(fakes.app.files.open("pat", "f1", 0)) == "FILE_NOT_FOUND"


async def test_publishing_writes_one_note_where_the_audience_reads(fakes: Fakes) -> None:
    """A class's material: «Опубликован материал: «…»» in its class chat and its parents' chat; a
    school-wide one in the school channel; in the school's locale; once, also when the publish is
    retried (the same request id) or the note is written again (a replay)."""
    materials, _repo = materials_on(fakes)

    def notes() -> list[tuple[str, str, SystemNote | None]]:
        found = [m for m in fakes.messages.rows.values() if m.system]
        return sorted((m.chat_id, m.text, m.system_note) for m in found)  # type: ignore[type-var]

    dictation = await materials.publish("tom", S, "5A", "r1", "Диктант", "", url="https://example.ru/d")
    again = await materials.publish("tom", S, "5A", "r1", "Диктант", "", url="https://example.ru/d")
    await fakes.app.provisioning.material_published(dictation)  # a replay
    note = SystemNote(SystemKind.MATERIAL_PUBLISHED, title="Диктант", material_id=dictation.material_id)
    text = "Опубликован материал: «Диктант»"
    assert again == dictation
    assert notes() == [(class_chat_id("5A"), text, note), (parents_chat_id("5A"), text, note)]
    fakes.facts.schools[S] = SchoolInfo(S, "School 17", "Europe/Moscow", 480, 1020, locale="en")
    charter = await materials.publish("adm", S, "", "r1", "Charter", "", url="https://example.ru/c")
    assert notes()[-1] == (
        school_channel_id(S),
        "Material published: «Charter»",
        SystemNote(SystemKind.MATERIAL_PUBLISHED, title="Charter", material_id=charter.material_id),
    )
    assert len(notes()) == 3
    # The note travels with its arguments (events and the store).
    posted = next(m for m in fakes.messages.rows.values() if m.system_note == note)
    assert message_from_pb(message_pb(posted)).system_note == note
    assert decode_message(message_doc(posted)).system_note == note
