"""Files on in-memory ports. Uploads: a stream that goes away at any point leaves its request id
free. Files people manage: the uploader deletes a file (quota freed, gone from every message it was
sent with, no download anywhere), the author or a moderator removes an attachment, a chat's file list
is for members, and a school's admins set the per-person quota."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from chat.app.files import DELETION_RESUME_AFTER
from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind
from chat.domain.files import FileKind, QuotaBounds, StoredFile, effective_quota, quota_problem
from chat.domain.members import Grant
from chat.domain.provisioning import ClassRole, Profile, SchoolRole
from parta_common.errors import InvalidArgument

from tests.chat.unit.fakes import FakeFiles, Fakes, seat, seed_chat
from tests.chat.unit.test_messages import reason

pytestmark = pytest.mark.unit

SCHOOL = "s1"
CLASS = "cls-5A"
PARENTS = "par-5A"
MB = 1024 * 1024


class SlowReserve(FakeFiles):
    """A store whose insert is still in flight when the caller is cancelled, and lands anyway."""

    def __init__(self) -> None:
        super().__init__()
        self.reserving = asyncio.Event()
        self.land = asyncio.Event()

    async def reserve(self, file: StoredFile, resumable: bool = False) -> bool:
        self.reserving.set()
        # The insert has left for the store: cancelling the caller does not call it back.
        return await asyncio.shield(asyncio.ensure_future(self._land(file, resumable)))

    async def _land(self, file: StoredFile, resumable: bool) -> bool:
        await self.land.wait()
        return await super().reserve(file, resumable)


async def chunks(*parts: bytes) -> AsyncIterator[tuple[int, bytes]]:
    offset = 0
    for part in parts:
        yield offset, part
        offset += len(part)


async def test_a_stream_cancelled_while_its_reservation_lands_leaves_the_id_free() -> None:
    fakes = Fakes(files=SlowReserve())
    files, store = fakes.app.files, fakes.files
    assert isinstance(store, SlowReserve)
    upload = asyncio.create_task(files.upload("ann", "r-1", "a.txt", "text/plain", 3, chunks(b"abc")))
    await store.reserving.wait()
    upload.cancel()
    store.land.set()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert store.rows == {}  # the reservation that landed was released
    stored = await files.upload("ann", "r-1", "a.txt", "text/plain", 3, chunks(b"abc"))
    assert stored.size_bytes == 3 and store.blobs[stored.file_id] == b"abc"


async def test_accepted_is_told_after_the_checks_and_before_any_data() -> None:
    fakes = Fakes()
    seen: list[str] = []

    async def data() -> AsyncIterator[tuple[int, bytes]]:
        seen.append("data")
        yield 0, b"abc"

    async def accepted() -> None:
        seen.append("accepted")

    await fakes.app.files.upload("ann", "r-2", "a.txt", "text/plain", 3, data(), accepted)
    assert seen == ["accepted", "data"]
    refused = fakes.app.files.upload("ann", "r-3", "a/b.txt", "text/plain", 3, data(), accepted)
    assert await reason(refused) == "INVALID_ARGUMENT"
    assert seen == ["accepted", "data"]  # a refused upload is never accepted


@pytest.fixture
async def fakes() -> Fakes:
    f = Fakes()
    f.facts.memberships += [
        seat(SCHOOL, "irina", SchoolRole.ADMIN),
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "bob", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
    ]
    f.facts.profiles.update({u: Profile(u, u.title()) for u in ("irina", "tom", "ann", "bob", "pat")})
    await seed_chat(
        f,
        Chat(CLASS, SCHOOL, ChatKind.CLASS, "5A", class_id="5A"),
        {"tom": Grant.CLASS_HEAD, "ann": Grant.STUDENT, "bob": Grant.STUDENT},
    )
    await seed_chat(
        f,
        Chat(PARENTS, SCHOOL, ChatKind.CLASS_PARENTS, "5A", class_id="5A"),
        {"tom": Grant.CLASS_HEAD, "pat": Grant.PARENT},
    )
    return f


async def upload(f: Fakes, owner: str, request_id: str, data: bytes, content_type: str = "application/pdf") -> str:
    async def chunks() -> AsyncIterator[tuple[int, bytes]]:
        yield 0, data

    stored = await f.app.files.upload(owner, request_id, f"{request_id}.bin", content_type, len(data), chunks())
    return stored.file_id


async def download(f: Fakes, user: str, file_id: str) -> bytes:
    _info, data = await f.app.files.open(user, file_id, 0)
    return b"".join([block async for block in data])


async def test_deleting_a_file_frees_quota_and_removes_it_from_every_chat(fakes: Fakes) -> None:
    files, messages = fakes.app.files, fakes.app.messages
    file_id = await upload(fakes, "tom", "u1", b"x" * 1000)
    kept = await upload(fakes, "tom", "u2", b"y" * 10)
    in_class = (await messages.send_message("tom", CLASS, "m1", "homework", file_ids=[file_id, kept])).message
    in_parents = (await messages.send_message("tom", PARENTS, "m2", "", file_ids=[file_id])).message
    assert await download(fakes, "bob", file_id) == b"x" * 1000 and await download(fakes, "pat", file_id)
    assert (await files.list_files("tom", 0, 10))[1] == 1010

    fakes.messages.writes.clear()
    assert await files.delete_file("tom", file_id) == 10
    for user in ("tom", "bob", "pat"):
        assert await reason(download(fakes, user, file_id)) == "FILE_NOT_FOUND"
    now_class = await fakes.messages.get_by_seq(CLASS, in_class.seq)
    now_parents = await fakes.messages.get_by_seq(PARENTS, in_parents.seq)
    assert now_class is not None and now_parents is not None
    assert (now_class.file_ids, now_class.removed_file_ids) == ([kept], [file_id])
    assert (now_parents.file_ids, now_parents.removed_file_ids) == ([], [file_id])
    assert now_class.update_seq > in_class.update_seq  # live to every member
    assert [type(e) for _, es in fakes.messages.writes for e in es] == [ev.MessageChanged, ev.MessageChanged]
    assert [f.file_id for f in (await files.list_files("tom", 0, 10))[0]] == [kept]
    assert await download(fakes, "bob", kept) == b"y" * 10
    # A repeat is fine and changes nothing more; someone else's (or a missing) file is NOT_FOUND.
    assert await files.delete_file("tom", file_id) == 10
    assert await reason(files.delete_file("bob", kept)) == "FILE_NOT_FOUND"
    assert await reason(files.delete_file("tom", "nope")) == "FILE_NOT_FOUND"
    # A deleted file cannot be sent again.
    with pytest.raises(InvalidArgument):
        await messages.send_message("tom", CLASS, "m3", "again", file_ids=[file_id])


async def test_a_deletion_a_crash_left_half_done_is_finished_by_cleanup(fakes: Fakes) -> None:
    file_id = await upload(fakes, "ann", "u1", b"z" * 100)
    sent = (await fakes.app.messages.send_message("ann", CLASS, "m1", "", file_ids=[file_id])).message
    await fakes.files.mark_deleted(file_id, "ann", fakes.clock.now())  # the replica died right after this
    assert await fakes.app.files.list_files("ann", 0, 10) == ([], 0)
    assert await fakes.app.files.cleanup(timedelta(hours=1)) == 0  # too fresh: maybe still in progress
    fakes.clock.advance(DELETION_RESUME_AFTER.total_seconds() + 1)
    assert await fakes.app.files.cleanup(timedelta(hours=1)) == 1
    message = await fakes.messages.get_by_seq(CLASS, sent.seq)
    assert message is not None and message.removed_file_ids == [file_id] and file_id not in fakes.files.blobs


async def test_the_author_or_a_moderator_removes_an_attachment_others_cannot(fakes: Fakes) -> None:
    files, messages = fakes.app.files, fakes.app.messages
    file_id = await upload(fakes, "ann", "u1", b"a" * 10)
    first = (await messages.send_message("ann", CLASS, "m1", "look", file_ids=[file_id])).message
    second = (await messages.send_message("ann", CLASS, "m2", "again", file_ids=[file_id])).message
    assert await reason(files.remove_attachment("bob", CLASS, first.seq, file_id)) == "NOT_AUTHOR"
    assert await reason(files.remove_attachment("pat", CLASS, first.seq, file_id)) == "NOT_A_MEMBER"
    assert await reason(files.remove_attachment("ann", CLASS, first.seq, "other")) == "ATTACHMENT_NOT_FOUND"
    fakes.clock.advance(30 * 86400)  # no time window: a file can always be taken back
    removed = await files.remove_attachment("ann", CLASS, first.seq, file_id)
    assert (removed.file_ids, removed.removed_file_ids) == ([], [file_id])
    assert await files.remove_attachment("ann", CLASS, first.seq, file_id) == removed  # a repeat
    # The second message still carries it: the class may still download it.
    assert await download(fakes, "bob", file_id) == b"a" * 10
    # The class head moderates the class chat.
    await files.remove_attachment("tom", CLASS, second.seq, file_id)
    assert await reason(download(fakes, "bob", file_id)) == "FILE_NOT_FOUND"
    # The file stays in its uploader's storage.
    assert await download(fakes, "ann", file_id) == b"a" * 10
    assert (await files.list_files("ann", 0, 10))[1] == 10


async def test_a_chats_file_list_is_for_members_newest_first_by_kind(fakes: Fakes) -> None:
    files, messages = fakes.app.files, fakes.app.messages
    doc = await upload(fakes, "tom", "d", b"d", "application/pdf")
    fakes.clock.advance(1)
    video = await upload(fakes, "tom", "v", b"v", "video/mp4")
    private = await upload(fakes, "tom", "p", b"p", "image/png")
    await messages.send_message("tom", CLASS, "m1", "", file_ids=[doc, video])
    await messages.send_message("tom", PARENTS, "m2", "", file_ids=[private])

    def ids(found: list) -> list[str]:  # type: ignore[type-arg]
        return [f.file_id for f in found]

    assert ids(await files.list_chat_files("ann", CLASS, FileKind.UNSPECIFIED, 0, 10)) == [video, doc]
    assert ids(await files.list_chat_files("ann", CLASS, FileKind.MEDIA, 0, 10)) == [video]
    assert ids(await files.list_chat_files("ann", CLASS, FileKind.DOCUMENT, 0, 10)) == [doc]
    assert ids(await files.list_chat_files("ann", CLASS, FileKind.UNSPECIFIED, 1, 10)) == [doc]
    assert await reason(files.list_chat_files("pat", CLASS, FileKind.UNSPECIFIED, 0, 10)) == "NOT_A_MEMBER"
    await files.delete_file("tom", video)
    assert ids(await files.list_chat_files("bob", CLASS, FileKind.UNSPECIFIED, 0, 10)) == [doc]


async def test_admins_set_the_school_quota_within_the_operator_bounds(fakes: Fakes) -> None:
    files = fakes.app.files
    limits = files.limits
    assert await files.quota_for("ann") == limits.quota_bytes
    assert await reason(files.set_quota("tom", SCHOOL, 500 * MB)) == "NOT_AN_ADMIN"
    assert await reason(files.get_quota("pat", SCHOOL)) == "NOT_AN_ADMIN"
    assert await reason(files.set_quota("stranger", SCHOOL, 500 * MB)) == "SCHOOL_NOT_FOUND"
    with pytest.raises(InvalidArgument):
        await files.set_quota("irina", SCHOOL, limits.max_quota_bytes + 1)
    quota = await files.set_quota("irina", SCHOOL, 500 * MB)
    assert quota.quota_bytes == 500 * MB and quota.set_by_school
    assert await files.get_quota("irina", SCHOOL) == quota
    assert await files.quota_for("ann") == 500 * MB  # ann is in the school's chats
    # Over the school's quota: refused; deleting frees room again.
    big = await upload(fakes, "ann", "big", b"b" * 10)
    fakes.files.rows[big] = (replace(fakes.files.rows[big][0], size_bytes=500 * MB - 5), True)
    assert await reason(upload(fakes, "ann", "more", b"c" * 10)) == "QUOTA_EXCEEDED"
    await files.delete_file("ann", big)
    assert await upload(fakes, "ann", "more", b"c" * 10)
    back = await files.set_quota("irina", SCHOOL, 0)
    assert back.quota_bytes == limits.quota_bytes and not back.set_by_school


def test_quota_rules() -> None:
    bounds = QuotaBounds(default=1000, minimum=100, maximum=5000, max_file_bytes=10)
    assert quota_problem(0, bounds) is None and quota_problem(100, bounds) is None
    assert quota_problem(99, bounds) and quota_problem(5001, bounds) and quota_problem(-1, bounds)
    assert effective_quota([], bounds) == 1000
    assert effective_quota([200, 3000], bounds) == 3000  # the most generous school wins
    assert effective_quota([200], bounds) == 200  # a school may give less than the default


async def test_a_stream_cancelled_while_it_is_told_accepted_leaves_the_id_free() -> None:
    fakes = Fakes()
    files, store = fakes.app.files, fakes.files
    told = asyncio.Event()

    async def accepted() -> None:
        told.set()
        await asyncio.Event().wait()  # the initial metadata is still on its way when the client goes

    upload = asyncio.create_task(files.upload("ann", "r-4", "a.txt", "text/plain", 3, chunks(b"abc"), accepted))
    await told.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert store.rows == {}  # the reservation was released with the stream
    stored = await files.upload("ann", "r-4", "a.txt", "text/plain", 3, chunks(b"abc"))
    assert stored.size_bytes == 3 and store.blobs[stored.file_id] == b"abc"
