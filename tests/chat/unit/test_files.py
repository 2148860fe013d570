"""Uploads on in-memory ports: a stream that goes away at any point leaves its request id free."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from chat.domain.files import StoredFile

from tests.chat.unit.fakes import FakeFiles, Fakes
from tests.chat.unit.test_messages import reason

pytestmark = pytest.mark.unit


class SlowReserve(FakeFiles):
    """A store whose insert is still in flight when the caller is cancelled, and lands anyway."""

    def __init__(self) -> None:
        super().__init__()
        self.reserving = asyncio.Event()
        self.land = asyncio.Event()

    async def reserve(self, file: StoredFile) -> bool:
        self.reserving.set()
        # The insert has left for the store: cancelling the caller does not call it back.
        return await asyncio.shield(asyncio.ensure_future(self._land(file)))

    async def _land(self, file: StoredFile) -> bool:
        await self.land.wait()
        return await super().reserve(file)


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
