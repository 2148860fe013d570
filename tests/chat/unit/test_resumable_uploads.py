"""Resumable uploads on in-memory ports: an interrupted resumable upload keeps its whole stored
blocks, GetUploadStatus tells its owner where to go on, the resume must continue exactly there with
the same metadata, the hash is the whole file's; plain uploads are still discarded; the housekeeper
removes a resumable upload after its window."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from parta_common.errors import InvalidArgument, NotFound

from tests.chat.unit.fakes import FakeFiles, Fakes

pytestmark = pytest.mark.unit

DATA = b"abcdefghijklmnopqrstuvwxyz"  # 26 bytes, stored in blocks of 4


def fakes() -> Fakes:
    return Fakes(files=FakeFiles(block=4))


async def feed(
    data: bytes, start: int, step: int, hang: asyncio.Event | None = None
) -> AsyncIterator[tuple[int, bytes]]:
    """`data` from offset `start` in chunks of `step`; with `hang`, it sets it and waits for ever
    after the chunks (a stream whose client went away: the server sees a cancellation)."""
    for offset in range(start, len(data), step):
        yield offset, data[offset : offset + step]
    if hang is not None:
        hang.set()
        await asyncio.Event().wait()


async def interrupted(f: Fakes, sent: int, *, resumable: bool, request_id: str = "r-1") -> None:
    """Sends the first `sent` bytes of DATA in chunks of 3, then the stream is cancelled."""
    hang = asyncio.Event()
    task = asyncio.create_task(
        f.app.files.upload(
            "ann", request_id, "v.mp4", "video/mp4", len(DATA), feed(DATA[:sent], 0, 3, hang), resumable=resumable
        )
    )
    await hang.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def fields(exc: InvalidArgument) -> list[str]:
    return [v.field for v in exc.violations]


async def test_an_interrupted_resumable_upload_resumes_to_the_whole_file_and_its_hash() -> None:
    f = fakes()
    await interrupted(f, 11, resumable=True)  # 11 bytes sent, two whole blocks of 4 stored
    assert await f.app.files.upload_status("ann", "r-1") == (8, len(DATA), False)
    stored = await f.app.files.upload("ann", "r-1", "v.mp4", "video/mp4", len(DATA), feed(DATA, 8, 5), resumable=True)
    assert f.files.blobs[stored.file_id] == DATA
    assert stored.sha256_hex == hashlib.sha256(DATA).hexdigest()
    assert (await f.app.files.list_files("ann", 0, 10))[0][0].sha256_hex == stored.sha256_hex
    assert await f.app.files.upload_status("ann", "r-1") == (len(DATA), len(DATA), True)
    # A retry after the end returns the file, as for plain uploads.
    again = await f.app.files.upload("ann", "r-1", "v.mp4", "video/mp4", len(DATA), feed(b"", 0, 1), resumable=True)
    assert again.file_id == stored.file_id


async def test_a_resume_interrupted_again_goes_on_from_the_new_offset() -> None:
    f = fakes()
    await interrupted(f, 6, resumable=True)
    assert (await f.app.files.upload_status("ann", "r-1"))[0] == 4
    hang = asyncio.Event()
    task = asyncio.create_task(
        f.app.files.upload("ann", "r-1", "v.mp4", "video/mp4", len(DATA), feed(DATA[:17], 4, 7, hang), resumable=True)
    )
    await hang.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await f.app.files.upload_status("ann", "r-1"))[0] == 16
    stored = await f.app.files.upload("ann", "r-1", "v.mp4", "video/mp4", len(DATA), feed(DATA, 16, 10), resumable=True)
    assert f.files.blobs[stored.file_id] == DATA and stored.sha256_hex == hashlib.sha256(DATA).hexdigest()


async def test_a_resume_at_the_wrong_offset_or_with_other_metadata_is_refused_and_keeps_the_data() -> None:
    f = fakes()
    await interrupted(f, 11, resumable=True)
    with pytest.raises(InvalidArgument) as wrong:
        await f.app.files.upload("ann", "r-1", "v.mp4", "video/mp4", len(DATA), feed(DATA, 0, 5), resumable=True)
    assert fields(wrong.value) == ["chunk.offset"]
    with pytest.raises(InvalidArgument) as other:
        await f.app.files.upload("ann", "r-1", "w.mp4", "video/mp4", len(DATA) + 1, feed(DATA, 8, 5), resumable=True)
    assert fields(other.value) == ["metadata.filename", "metadata.size_bytes"]
    # Without `resumable` the id is an upload in progress, as before.
    with pytest.raises(InvalidArgument) as plain:
        await f.app.files.upload("ann", "r-1", "v.mp4", "video/mp4", len(DATA), feed(DATA, 8, 5))
    assert fields(plain.value) == ["metadata.request_id"]
    assert await f.app.files.upload_status("ann", "r-1") == (8, len(DATA), False)
    stored = await f.app.files.upload("ann", "r-1", "v.mp4", "video/mp4", len(DATA), feed(DATA, 8, 5), resumable=True)
    assert f.files.blobs[stored.file_id] == DATA


async def test_only_the_owner_sees_an_upload_status() -> None:
    f = fakes()
    await interrupted(f, 11, resumable=True)
    with pytest.raises(NotFound):
        await f.app.files.upload_status("bob", "r-1")
    with pytest.raises(NotFound):
        await f.app.files.upload_status("ann", "r-unknown")


async def test_an_interrupted_plain_upload_is_still_discarded() -> None:
    f = fakes()
    await interrupted(f, 11, resumable=False)
    assert f.files.rows == {} and f.files.blobs == {}
    with pytest.raises(NotFound):
        await f.app.files.upload_status("ann", "r-1")
    stored = await f.app.files.upload("ann", "r-1", "v.mp4", "video/mp4", len(DATA), feed(DATA, 0, 5))
    assert f.files.blobs[stored.file_id] == DATA


async def test_the_housekeeper_removes_a_resumable_upload_after_its_window_only() -> None:
    f = fakes()
    await interrupted(f, 11, resumable=True, request_id="r-res")
    await interrupted(f, 11, resumable=False, request_id="r-plain")
    # A plain upload whose replica crashed: its reservation stays until the housekeeper comes.
    crashed = await f.app.files.upload("ann", "r-done", "d.bin", "", 3, feed(b"xyz", 0, 3))
    f.files.rows[crashed.file_id] = (crashed, False)
    window = f.app.files.limits.resumable_window
    assert window == timedelta(hours=24)
    f.clock.advance(2 * 3600)
    assert await f.app.files.cleanup(timedelta(hours=1)) == 1  # the crashed plain one
    assert await f.app.files.upload_status("ann", "r-res") == (8, len(DATA), False)
    f.clock.advance(window.total_seconds())
    assert await f.app.files.cleanup(timedelta(hours=1)) == 1
    with pytest.raises(NotFound):
        await f.app.files.upload_status("ann", "r-res")
    assert f.files.rows == {} and f.files.blobs == {}
