"""Janus VideoRoom over Janus's HTTP API: one Janus session per replica, a handle per publisher and
per subscription; asynchronous plugin replies arrive on the session's long-poll and are matched to
their request by transaction id."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import zlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import structlog
from parta_common.errors import InvalidArgument, Unavailable

from media_signal.app.ports import Published, SfuFeedNotReady, SfuRoomInfo, Subscribed

log = structlog.get_logger("media_signal.janus")
DESCRIPTION_PREFIX = "parta/"
PLUGIN = "janus.plugin.videoroom"
# VideoRoom error codes (janus_videoroom.c).
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
INVALID_SDP = (465, 466)


def sdp_mids(sdp: str) -> dict[str, tuple[str, ...]]:
    """Media kind → mids of an SDP's m-sections (what "moderate" addresses)."""
    out: dict[str, list[str]] = {}
    kind = ""
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ", 1)[0]
        elif line.startswith("a=mid:") and kind:
            out.setdefault(kind, []).append(line[6:].strip())
    return {k: tuple(v) for k, v in out.items()}


class JanusError(Exception):
    def __init__(self, code: int, text: str):
        super().__init__(f"janus {code}: {text}")
        self.code = code


class JanusSfu:
    def __init__(self, url: str, *, namespace: str = "", timeout: float = 10.0):
        self._url = url.rstrip("/")
        # Which Janus this is, as recorded in room documents: the API URL without credentials or query.
        parts = urlsplit(self._url)
        self.instance = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        # Rooms are described "parta/<namespace>/<room id>": the sweep (list_rooms) must never take
        # another deployment's rooms, or another test run's, on a shared Janus for leftovers.
        self._prefix = f"{DESCRIPTION_PREFIX}{namespace}/"
        self._timeout = timeout
        self._http: aiohttp.ClientSession | None = None
        self._session_id = 0
        self._admin_handle = 0
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poll: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ plumbing

    async def _ensure(self) -> int:
        if self._session_id:
            return self._session_id
        async with self._lock:
            if not self._session_id:
                if self._http is None:
                    self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout + 35))
                reply = await self._post(self._url, {"janus": "create"})
                self._session_id = int(reply["data"]["id"])
                self._admin_handle = await self._attach()
                self._poll = asyncio.create_task(self._long_poll(self._session_id), name="janus-poll")
        return self._session_id

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self._http is not None
        body = {**body, "transaction": body.get("transaction") or secrets.token_hex(8)}
        try:
            async with self._http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=self._timeout)) as resp:
                reply: dict[str, Any] = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable("the media server is unreachable", reason="SFU_UNAVAILABLE") from exc
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            if error.get("code") == 458:  # session gone (Janus restarted or timed out): start over
                self._session_id = 0
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
        return reply

    async def _attach(self) -> int:
        reply = await self._post(f"{self._url}/{self._session_id}", {"janus": "attach", "plugin": PLUGIN})
        return int(reply["data"]["id"])

    async def _long_poll(self, session_id: int) -> None:
        assert self._http is not None
        while self._session_id == session_id:
            try:
                async with self._http.get(f"{self._url}/{session_id}?maxev=20&rid={secrets.token_hex(4)}") as resp:
                    payload = await resp.json(content_type=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("janus_poll_failed", error=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for event in payload if isinstance(payload, list) else [payload]:
                if event.get("janus") == "error" and event.get("error", {}).get("code") == 458:
                    self._session_id = 0
                    return
                future = self._pending.pop(event.get("transaction", ""), None)
                if future is not None and not future.done() and event.get("janus") != "ack":
                    future.set_result(event)

    async def _message(self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None) -> dict[str, Any]:
        """A plugin request; waits for the asynchronous event when Janus only acks."""
        session = await self._ensure()
        transaction = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        try:
            reply = await self._post(f"{self._url}/{session}/{handle}", request)
            if reply.get("janus") == "ack":
                reply = await asyncio.wait_for(future, self._timeout)
        except TimeoutError as exc:
            raise Unavailable("the media server did not answer", reason="SFU_TIMEOUT") from exc
        finally:
            self._pending.pop(transaction, None)
        data = reply.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "")))
        return reply

    async def close(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
        if self._session_id and self._http is not None:
            with contextlib.suppress(Exception):
                await self._post(f"{self._url}/{self._session_id}", {"janus": "destroy"})
        self._session_id = 0
        if self._http is not None:
            await self._http.close()

    async def ready(self) -> bool:
        try:
            await self._ensure()
            return True
        except Exception:
            return False

    async def keepalive(self) -> None:
        if self._session_id:
            with contextlib.suppress(Exception):
                await self._post(f"{self._url}/{self._session_id}", {"janus": "keepalive"})

    # ------------------------------------------------------------ the Sfu port

    async def create_room(self, room_id: str, max_publishers: int) -> int:
        await self._ensure()
        number = zlib.crc32(room_id.encode()) or 1
        for attempt in range(5):
            candidate = number if attempt == 0 else secrets.randbelow(2**31 - 1) + 1
            try:
                await self._message(
                    self._admin_handle,
                    {
                        "request": "create",
                        "room": candidate,
                        "publishers": max_publishers,
                        "description": f"{self._prefix}{room_id}",
                        # Listed, so that a sweep can find rooms left by a replica that died (Janus
                        # hides private rooms from "list" without an admin key). The Janus API is
                        # reachable only by media-signal (NetworkPolicy); clients never see it.
                        "is_private": False,
                        "permanent": False,
                        "audiocodec": "opus",
                        "videocodec": "vp8,h264",
                        "notify_joining": False,
                    },
                )
                return candidate
            except JanusError as exc:
                if exc.code != ROOM_EXISTS:  # room exists: a leftover or a crc clash, pick another number
                    raise
        raise Unavailable("cannot allocate a media room", reason="SFU_ROOM_CLASH")

    async def destroy_room(self, sfu_room: int) -> None:
        await self._ensure()
        try:
            await self._message(self._admin_handle, {"request": "destroy", "room": sfu_room})
        except JanusError as exc:
            if exc.code != NO_SUCH_ROOM:  # already gone: destroyed is what was asked
                raise Unavailable("the media server refused to destroy a room", reason="SFU_ERROR") from exc

    async def list_rooms(self) -> list[SfuRoomInfo]:
        await self._ensure()
        reply = await self._message(self._admin_handle, {"request": "list"})
        out = []
        for entry in reply.get("plugindata", {}).get("data", {}).get("list", []):
            description = str(entry.get("description", ""))
            if description.startswith(self._prefix) and isinstance(entry.get("room"), int):
                out.append(SfuRoomInfo(number=entry["room"], room_id=description.removeprefix(self._prefix)))
        return out

    async def publish(self, sfu_room: int, display: str, offer_sdp: str) -> Published:
        await self._ensure()
        handle = await self._attach()
        try:
            joined = await self._message(
                handle, {"request": "join", "ptype": "publisher", "room": sfu_room, "display": display[:64]}
            )
            feed = int(joined["plugindata"]["data"]["id"])
            reply = await self._message(
                handle, {"request": "publish", "audio": True, "video": True}, {"type": "offer", "sdp": offer_sdp}
            )
        except JanusError as exc:
            await self.detach(str(handle))
            if exc.code in INVALID_SDP:
                raise InvalidArgument.field("sdp", "the media server rejected this offer") from exc
            raise Unavailable("the media server refused to publish", reason="SFU_ERROR") from exc
        jsep = reply.get("jsep") or {}
        answer = str(jsep.get("sdp", ""))
        return Published(handle=str(handle), feed_id=feed, answer_sdp=answer, mids=sdp_mids(answer))

    async def subscribe(self, sfu_room: int, feed_id: int) -> Subscribed:
        await self._ensure()
        handle = await self._attach()
        try:
            reply = await self._message(
                handle, {"request": "join", "ptype": "subscriber", "room": sfu_room, "streams": [{"feed": feed_id}]}
            )
        except JanusError as exc:
            await self.detach(str(handle))
            if exc.code == NO_SUCH_FEED:
                raise SfuFeedNotReady from exc
            raise Unavailable("the media server refused to subscribe", reason="SFU_ERROR") from exc
        except BaseException:
            await self.detach(str(handle))  # timed out: no handle may outlive the attempt
            raise
        jsep = reply.get("jsep") or {}
        return Subscribed(handle=str(handle), offer_sdp=str(jsep.get("sdp", "")))

    async def start(self, handle: str, answer_sdp: str) -> None:
        try:
            await self._message(int(handle), {"request": "start"}, {"type": "answer", "sdp": answer_sdp})
        except JanusError as exc:
            raise InvalidArgument.field("sdp", "the media server rejected this answer") from exc

    async def trickle(self, handle: str, candidate: str, sdp_mid: str, sdp_mline_index: int) -> None:
        session = await self._ensure()
        body: dict[str, Any] = (
            {"candidate": candidate, "sdpMid": sdp_mid, "sdpMLineIndex": sdp_mline_index}
            if candidate
            else {"completed": True}
        )
        await self._post(f"{self._url}/{session}/{handle}", {"janus": "trickle", "candidate": body})

    async def moderate(self, sfu_room: int, feed_id: int, mids: Sequence[str], mute: bool) -> None:
        """VideoRoom "moderate" (Janus ≥ 1.0: per mid): Janus drops the muted stream's RTP, so a
        client that ignores the host's notice is silenced for everyone. Rooms have no secret, so
        our handle may moderate; Janus tells the publisher and subscribers about it too."""
        await self._ensure()
        for mid in mids:
            try:
                await self._message(
                    self._admin_handle,
                    {"request": "moderate", "room": sfu_room, "id": feed_id, "mid": mid, "mute": mute},
                )
            except JanusError as exc:
                raise Unavailable("the media server refused to moderate", reason="SFU_ERROR") from exc

    async def detach(self, handle: str) -> None:
        if self._session_id:
            with contextlib.suppress(Exception):
                await self._post(f"{self._url}/{self._session_id}/{handle}", {"janus": "detach"})
