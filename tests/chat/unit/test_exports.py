"""Family-scoped export in chat: the parts collected in any order, one archive in the requester's
storage with the subject's messages, files and the other services' parts, once per export; who
reads its progress, and what a child of 14 or older sees — on the fakes."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from chat.app.exports import Exports
from chat.domain.chats import Chat, ChatKind
from chat.domain.exports import PARTS, DataExport, ExportState, Part, archive_file_id
from chat.domain.files import StoredFile
from chat.domain.messages import Message
from chat.domain.provisioning import Profile
from parta_common import exports as kit_exports
from parta_common.errors import NotFound

from tests.chat.unit.fakes import Fakes

pytestmark = pytest.mark.unit

ANNA, MISHA, OTHER = "anna", "misha", "other"
T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


class FakeExportRepo:
    def __init__(self) -> None:
        self.rows: dict[str, DataExport] = {}
        self.delivered_events: list[str] = []
        self.claims: dict[str, datetime] = {}

    async def get(self, export_id: str) -> DataExport | None:
        return self.rows.get(export_id)

    async def record_request(
        self, export_id: str, requested_by: str, subject_user_id: str, requested_at: datetime, notify_subject: bool
    ) -> None:
        current = self.rows.get(export_id, DataExport(export_id))
        self.rows[export_id] = replace(
            current,
            requested_by=requested_by,
            subject_user_id=subject_user_id,
            requested_at=requested_at,
            notify_subject=notify_subject,
        )

    async def add_part(self, export_id: str, name: str, part: Part) -> None:
        current = self.rows.get(export_id, DataExport(export_id))
        if current.state is ExportState.DELIVERED:
            return
        parts = {**current.parts, name: part}
        self.rows[export_id] = replace(current, parts=parts, received=tuple(sorted({*current.received, name})))

    async def claim(self, export_id: str, now: datetime, until: datetime) -> bool:
        if self.rows[export_id].state is ExportState.DELIVERED or self.claims.get(export_id, now) > now:
            return False
        self.claims[export_id] = until
        return True

    async def release(self, export_id: str) -> None:
        self.claims.pop(export_id, None)

    async def delivered(self, export: DataExport, file_id: str, size_bytes: int, at: datetime) -> bool:
        current = self.rows[export.export_id]
        if current.state is ExportState.DELIVERED:
            return False
        self.rows[export.export_id] = replace(
            current, state=ExportState.DELIVERED, file_id=file_id, size_bytes=size_bytes, delivered_at=at, parts={}
        )
        self.claims.pop(export.export_id, None)
        self.delivered_events.append(export.export_id)
        return True

    async def requested_by(self, user_id: str, limit: int) -> list[DataExport]:
        return [e for e in self.rows.values() if e.requested_by == user_id][:limit]

    async def undelivered(self, requested_before: datetime, limit: int) -> list[str]:
        return [
            e.export_id
            for e in self.rows.values()
            if e.state is ExportState.REQUESTED and e.requested_at is not None and e.requested_at < requested_before
        ][:limit]

    async def about(self, subject_user_id: str, limit: int) -> list[DataExport]:
        return [
            e
            for e in self.rows.values()
            if e.subject_user_id == subject_user_id and e.notify_subject and e.requested_by != subject_user_id
        ][:limit]


class FakeAuthored:
    def __init__(self, fakes: Fakes):
        self._fakes = fakes

    async def written_by(self, user_id: str, limit: int) -> list[Message]:
        mine = [m for m in self._fakes.messages.rows.values() if m.sender_user_id == user_id]
        return sorted(mine, key=lambda m: m.sent_at, reverse=True)[:limit]


def message(chat_id: str, seq: int, sender: str, text: str, **extra: object) -> Message:
    return Message(chat_id, f"{chat_id}-{seq}", seq, seq, "s1", sender, text, T0 + timedelta(minutes=seq), **extra)  # type: ignore[arg-type]


def stored(fakes: Fakes, file_id: str, owner: str, name: str, data: bytes, at: datetime = T0) -> None:
    fakes.files.rows[file_id] = (StoredFile(file_id, owner, name, "image/png", len(data), "ab", at), True)
    fakes.files.blobs[file_id] = data


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    fakes = Fakes()
    fakes.chats.rows["c1"] = Chat("c1", "s1", ChatKind.CLASS, "5А")
    fakes.chats.rows["d1"] = Chat("d1", "s1", ChatKind.DIRECT, "")
    for m in (
        message("c1", 1, MISHA, "Привет, класс!"),
        message("c1", 2, OTHER, "чужое сообщение"),
        message("d1", 1, MISHA, "Мама, я в школе", file_ids=["f-misha"]),
        message("d1", 2, ANNA, "Хорошо"),
        message("c1", 3, "", "Миша присоединился", system=True),
    ):
        fakes.messages.rows[m.message_id] = m
    stored(fakes, "f-misha", MISHA, "рисунок.png", b"\x89PNG misha's drawing")
    stored(fakes, "f-anna", ANNA, "anna.png", b"anna's own")
    fakes.facts.profiles[ANNA] = Profile(ANNA, "Анна Смирнова")
    repo = FakeExportRepo()
    exports = Exports(repo, FakeAuthored(fakes), fakes.files, fakes.chats, fakes.facts, fakes.clock, fakes._notify)
    return fakes, repo, exports


def part(name: str, truncated: bool = False) -> Part:
    """A part as the services send it (parta_common.exports: packed, gzip-compressed JSON)."""
    packed, _ = kit_exports.bounded_json({"user_id": MISHA, "part": name}, "part")
    return Part(packed, truncated, gzipped=True)


def archive(fakes: Fakes, file_id: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(fakes.files.blobs[file_id]))


async def test_parts_in_any_order_make_one_archive_in_the_requesters_storage(world):  # type: ignore[no-untyped-def]
    fakes, repo, exports = world
    await exports.part_received("e1", "attendance", part("attendance", False))  # before the request
    assert (await repo.get("e1")).parts_received == ("attendance",)  # type: ignore[union-attr]
    progress = await exports.requested("e1", ANNA, MISHA, T0, False)
    assert progress is not None and progress.parts_received == ("chat", "attendance")
    await exports.part_received("e1", "profile", part("profile", False))
    assert repo.delivered_events == [] and archive_file_id("e1") not in fakes.files.rows
    done = await exports.part_received("e1", "memberships", part("memberships", True))

    assert done is not None and done.state is ExportState.DELIVERED and done.parts_received == PARTS
    assert done.file_id == archive_file_id("e1") and repo.delivered_events == ["e1"]
    file, complete = fakes.files.rows[done.file_id]
    assert complete and file.owner_user_id == ANNA and file.content_type == "application/zip"
    assert file.size_bytes == len(fakes.files.blobs[done.file_id]) == done.size_bytes
    zf = archive(fakes, done.file_id)
    assert json.loads(zf.read("profile.json"))["part"] == "profile"
    assert json.loads(zf.read("attendance.json"))["part"] == "attendance"
    manifest = json.loads(zf.read("export.json"))
    assert manifest["subject_user_id"] == MISHA and manifest["parts"]["memberships"]["truncated"] is True
    texts = [(m["chat_title"], m["text"]) for m in json.loads(zf.read("messages.json"))["messages"]]
    assert texts == [("5А", "Привет, класс!"), ("", "Мама, я в школе")]  # his, oldest first, no system notes
    files = json.loads(zf.read("files.json"))["files"]
    assert [f["filename"] for f in files] == ["рисунок.png"]  # Миша's file, not Анна's
    assert zf.read(files[0]["path"]) == b"\x89PNG misha's drawing"


async def test_replays_store_no_second_archive_and_a_half_written_one_is_replaced(world):  # type: ignore[no-untyped-def]
    fakes, repo, exports = world
    file_id = archive_file_id("e2")
    half = StoredFile(file_id, ANNA, "x.zip", "application/zip", 999, "", T0)
    fakes.files.rows[file_id] = (half, False)  # a replica died while writing it
    fakes.files.blobs[file_id] = b"garbage"
    await exports.requested("e2", ANNA, ANNA, T0, False)
    for name in ("profile", "memberships", "attendance"):
        await exports.part_received("e2", name, part(name, False))
    first = fakes.files.blobs[file_id]
    assert zipfile.ZipFile(io.BytesIO(first)).namelist()[0] == "README.txt"
    for name in ("profile", "memberships", "attendance"):
        await exports.part_received("e2", name, part(name, False))
    await exports.requested("e2", ANNA, ANNA, T0, False)
    assert repo.delivered_events == ["e2"] and fakes.files.blobs[file_id] == first
    assert [f for f in fakes.files.rows if f == file_id] == [file_id]
    # Анна's own export lists her file; her earlier archive is not copied into the next one.
    await exports.requested("e2b", ANNA, ANNA, T0, False)
    for name in ("profile", "memberships", "attendance"):
        await exports.part_received("e2b", name, part(name, False))
    names = [f["filename"] for f in json.loads(archive(fakes, archive_file_id("e2b")).read("files.json"))["files"]]
    assert names == ["anna.png"] and repo.delivered_events == ["e2", "e2b"]


async def test_only_the_requester_reads_the_export_and_a_teen_is_told(world):  # type: ignore[no-untyped-def]
    _, _, exports = world
    await exports.requested("e3", ANNA, MISHA, T0, True)
    assert (await exports.get(ANNA, "e3")).export_id == "e3"
    for caller, export_id in ((MISHA, "e3"), (OTHER, "e3"), (ANNA, "nope")):
        with pytest.raises(NotFound) as missing:
            await exports.get(caller, export_id)
        assert missing.value.reason == "EXPORT_NOT_FOUND"
    mine, about = await exports.listing(ANNA)
    assert [e.export_id for e in mine] == ["e3"] and about == []
    _, about = await exports.listing(MISHA)
    assert [a.export.export_id for a in about] == ["e3"]
    assert about[0].notice.startswith("Анна Смирнова выгрузил(а) ваши данные 1 сентября 2026")
    await exports.requested("e4", ANNA, MISHA, T0, False)  # a younger child is not told
    _, about = await exports.listing(MISHA)
    assert [a.export.export_id for a in about] == ["e3"]


async def test_a_failed_assembly_releases_its_claim(world):  # type: ignore[no-untyped-def]
    fakes, repo, exports = world

    async def broken(*args: object) -> list[StoredFile]:
        raise ConnectionError("store down")

    exports.files = replace_list_owned(fakes.files, broken)
    await exports.requested("e5", ANNA, MISHA, T0, False)
    for name in ("profile", "memberships"):
        await exports.part_received("e5", name, part(name, False))
    with pytest.raises(ConnectionError):
        await exports.part_received("e5", "attendance", part("attendance", False))
    assert "e5" not in repo.claims and repo.delivered_events == []
    exports.files = fakes.files
    assert (await exports.assemble("e5")).state is ExportState.DELIVERED  # type: ignore[union-attr]


def replace_list_owned(files: object, list_owned: object) -> object:
    class Broken:
        def __getattr__(self, name: str) -> object:
            return list_owned if name == "list_owned" else getattr(files, name)

    return Broken()


async def test_an_export_left_behind_by_a_dead_assembler_is_delivered_by_the_periodic_pass(world):  # type: ignore[no-untyped-def]
    fakes, repo, exports = world
    await exports.requested("e6", ANNA, MISHA, T0, False)
    for name in ("profile", "memberships"):
        await exports.part_received("e6", name, part(name))
    repo.claims["e6"] = T0 + timedelta(minutes=10)  # another replica claimed it, then died
    await exports.part_received("e6", "attendance", part("attendance"))
    assert repo.delivered_events == []
    fakes.clock.advance(60)
    assert await exports.resume() == 0  # too early: the claim still holds, the export is young
    fakes.clock.advance(600)
    assert await exports.resume() == 1 and repo.delivered_events == ["e6"]
    assert await exports.resume() == 0  # nothing left behind
