"""The web gateway in front of real identity, school, chat, media-signal and audit processes (real
Kafka and store): cookie sign-in, the status table, limits, CSRF, security headers, a live chat over
a WebSocket, files in and out, a client that vanishes mid-upload, a resumable upload interrupted and
resumed, revocation and drain."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from parta_common.auth import sign_access_token
from web.methods import DOWNLOAD, UPLOAD, MethodTable

from tests.chat.support import eventually
from tests.e2e import school_client as sc
from tests.e2e.harness import ROOT, Stack, free_port
from tests.e2e.identity_client import random_phone, sign_in
from tests.e2e.web_support import Browser, GatewayProcess, start_gateway

sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media

OPERATOR = random_phone()
KID = "k-web-test"
CHAT = "parta.chat.v1.ChatService"
AUTH = "parta.identity.v1.AuthService"
UPLOAD_IDLE_SECONDS = 2


@dataclass
class World:
    stack: Stack
    gateway: GatewayProcess
    key: Ed25519PrivateKey
    school_id: str
    class_chat: str
    teacher: Browser
    student: Browser
    teacher_id: str
    student_id: str
    student_phone: str
    static_dir: Path
    media_env: dict[str, str]

    def expired_token(self, user_id: str, session_id: str) -> str:
        now = int(time.time())
        return sign_access_token(
            self.key,
            key_id=KID,
            issuer="parta-identity",
            audience="parta",
            user_id=user_id,
            session_id=session_id,
            issued_at=now - 600,
            ttl_seconds=300,
        )


async def _person(stack: Stack, gateway: GatewayProcess, birth_date: str) -> tuple[Browser, str, str]:
    browser = Browser(gateway)
    phone = random_phone()
    signed = (await browser.sign_in(phone, stack.sms_file)).json
    await browser.ok(
        "parta.identity.v1.ProfileService/CreateProfile",
        {"firstName": "Анна", "lastName": "Иванова", "birthDate": birth_date, "requestId": uuid.uuid4().hex},
    )
    return browser, signed["userId"], phone


@pytest.fixture(scope="module")
async def world(mongo_uri: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    stack = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    key = Ed25519PrivateKey.generate()
    keys = [{"kid": KID, "private_key": base64.b64encode(key.private_bytes_raw()).decode()}]
    static_dir = tmp_path_factory.mktemp("dist")
    (static_dir / "assets").mkdir()
    (static_dir / "index.html").write_text('<!doctype html><script type="module" src="/assets/app-1a2b3c.js"></script>')
    (static_dir / "assets" / "app-1a2b3c.js").write_text("console.log('parta')")
    (static_dir / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    browsers: list[Browser] = []
    try:
        trusted = {"TRUSTED_PROXIES": "127.0.0.1"}
        identity = await stack.start(
            "identity",
            {
                "IDENTITY_SIGNING_KEYS": base64.b64encode(json.dumps(keys).encode()).decode(),
                "IDENTITY_RESEND_COOLDOWN_SECONDS": "60",
                "IDENTITY_TRUSTED_PROXIES": "127.0.0.1",
            },
        )
        school = await stack.start(
            "school", {"SCHOOL_OPERATOR_PHONES": OPERATOR, "SCHOOL_TRUSTED_PROXIES": "127.0.0.1"}
        )
        await stack.start("chat", {"CHAT_TRUSTED_PROXIES": trusted["TRUSTED_PROXIES"]})
        for component in media.COMPONENTS.values():
            component.up()  # idempotent: Janus and coturn are usually running already
        m = media.env()
        media_env = {
            "MEDIA_SIGNAL_JANUS_URL": m["janus_url"],
            "MEDIA_SIGNAL_TURN_URIS": m["turn_uri"],
            "MEDIA_SIGNAL_TURN_SECRET": m["turn_secret"],
            "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": secrets.token_urlsafe(32),
            "MEDIA_SIGNAL_TRUSTED_PROXIES": trusted["TRUSTED_PROXIES"],
            # The host's socket waits idle while a second replica starts (the signalling test).
            "MEDIA_SIGNAL_KEEPALIVE_TIMEOUT_SECONDS": "120",
        }
        await stack.start("media_signal", media_env)
        # Every exposed route is checked below, the audit trail's too (docs/audit.md).
        await stack.start("audit", {"AUDIT_TRUSTED_PROXIES": trusted["TRUSTED_PROXIES"]})
        gateway = await start_gateway(
            stack,
            extra={
                "WEB_STATIC_DIR": str(static_dir),
                "WEB_COOKIE_SECURE": "true",
                "WEB_UPLOAD_IDLE_SECONDS": str(UPLOAD_IDLE_SECONDS),
            },
        )
        operator = await sign_in(identity.address, OPERATOR, stack.sms_file)
        admin_phone = random_phone()
        registered = await sc.register_school(school.address, operator.access_token, admin_phone=admin_phone)
        admin = await sign_in(identity.address, admin_phone, stack.sms_file)
        await sc.claim(school.address, admin.access_token)
        klass = await sc.create_class(school.address, admin.access_token, registered.school_id, 7, "Б")
        teacher, teacher_id, _ = await _person(stack, gateway, "1985-03-14")
        student, student_id, student_phone = await _person(stack, gateway, "2010-02-01")
        browsers += [teacher, student]
        for browser, role, class_id in ((teacher, sc.TEACHER, ""), (student, sc.STUDENT, klass.class_id)):
            invite = await sc.create_invite(
                school.address, admin.access_token, registered.school_id, role, class_id=class_id
            )
            await browser.ok("parta.school.v1.InviteService/AcceptInvite", {"token": invite.token})
        await sc.set_class_head(school.address, admin.access_token, klass.class_id, teacher_id)
        # Lessons need a verified teacher (media-signal hears of it through school's events).
        await sc.verify_staff(school.address, admin.access_token, registered.school_id, teacher_id)
        class_chat = f"cls-{klass.class_id}"

        async def provisioned() -> bool:
            for browser in (teacher, student):
                reply = await browser.ok(f"{CHAT}/ListChats", {"schoolId": registered.school_id})
                if class_chat not in {c["chat"]["chatId"] for c in reply["chats"]}:
                    return False
            return True

        await eventually(provisioned, timeout=60)
        yield World(
            stack,
            gateway,
            key,
            registered.school_id,
            class_chat,
            teacher,
            student,
            teacher_id,
            student_id,
            student_phone,
            static_dir,
            media_env,
        )
    finally:
        for browser in browsers:
            await browser.close()
        if "gateway" in locals():
            gateway.stop()
        stack.stop_all()


async def test_sign_in_keeps_tokens_in_cookies_only(world: World) -> None:
    browser = Browser(world.gateway)
    try:
        reply = await browser.sign_in(random_phone(), world.stack.sms_file)
        cookies = {line.split("=", 1)[0]: line for line in reply.set_cookies}
        assert set(cookies) == {"parta_at", "parta_rt"}
        for line in cookies.values():
            lowered = line.lower()
            assert "httponly" in lowered and "secure" in lowered and "samesite=strict" in lowered
            assert "path=/api" in lowered
        access, refresh = browser.cookies["parta_at"], browser.cookies["parta_rt"]
        assert access.count(".") == 2  # a JWT, in the cookie
        assert access not in reply.text and refresh not in reply.text
        assert "accessToken" not in reply.json and "refreshToken" not in reply.json
        assert reply.json["userId"] and reply.json["isNewUser"] is True and reply.json["hasProfile"] is False
        # The cookie session works, and refresh goes through the gateway without tokens in the body.
        sessions = await browser.ok(f"{AUTH}/ListSessions")
        assert len(sessions["sessions"]) == 1
        refreshed = await browser.call(f"{AUTH}/RefreshSession", {"refreshToken": "ignored"})
        assert refreshed.status == 200 and "accessToken" not in refreshed.json
        assert browser.cookies["parta_rt"] != refresh and browser.cookies["parta_at"] not in refreshed.text
        # Sign-out ends the session at identity and clears both cookies.
        old_access = browser.cookies["parta_at"]
        out = await browser.call("session/sign-out")
        assert out.status == 200 and browser.cookies == {}
        assert any("max-age=0" in line.lower() for line in out.set_cookies)
        browser.cookies = {"parta_at": old_access}
        after = await browser.call(f"{AUTH}/ListSessions")
        assert after.status == 401 and after.json["code"] == "UNAUTHENTICATED"
    finally:
        await browser.close()


async def test_every_route_refuses_missing_and_expired_tokens(world: World) -> None:
    anonymous = Browser(world.gateway)
    expired = Browser(world.gateway)
    expired.cookies = {"parta_at": world.expired_token(world.teacher_id, "s-expired")}
    try:
        table = MethodTable()
        unary = [m for m in table.all() if m.unary and not m.public]
        assert len(unary) > 60
        for method in unary:
            path = method.path.lstrip("/")
            for browser, reasons in ((anonymous, {"NOT_SIGNED_IN"}), (expired, {"TOKEN_EXPIRED"})):
                reply = await browser.call(path, {})
                assert reply.status == 401, f"{path}: {reply.status} {reply.text}"
                assert reply.json["code"] == "UNAUTHENTICATED" and reply.json["reason"] in reasons, reply.text
        for browser in (anonymous, expired):
            upload = await browser.request("POST", "/api/upload", data=b"x" * 10, headers={"X-Parta-Filename": "a.txt"})
            assert upload.status == 401, upload.text
            download = await browser.request("GET", "/api/files/f-unknown")
            assert download.status == 401, download.text
        # Streams: no token, no socket (the handshake is answered 401).
        for method in [m for m in table.all() if m.server_streaming and m.path != DOWNLOAD]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await (await anonymous.websocket(method.path.lstrip("/"))).close()
            assert refused.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await (await expired.websocket(f"{CHAT}/Subscribe")).close()
        assert refused.value.status == 401
        assert UPLOAD not in {m.path for m in unary}
    finally:
        await anonymous.close()
        await expired.close()


async def test_an_expiring_access_token_is_refreshed_transparently(world: World) -> None:
    browser = Browser(world.gateway)
    try:
        await browser.sign_in(random_phone(), world.stack.sms_file)
        session_id = (await browser.ok(f"{AUTH}/ListSessions"))["sessions"][0]["sessionId"]
        user_id = browser.cookies["parta_at"]
        refresh = browser.cookies["parta_rt"]
        claims = json.loads(base64.urlsafe_b64decode(user_id.split(".")[1] + "=="))
        browser.cookies["parta_at"] = world.expired_token(claims["sub"], session_id)
        # Two requests at once with the same stale cookies: one refresh, both served, session alive.
        first, second = await asyncio.gather(browser.call(f"{AUTH}/ListSessions"), browser.call(f"{AUTH}/ListSessions"))
        assert first.status == 200 and second.status == 200, (first.text, second.text)
        assert browser.cookies["parta_rt"] != refresh
        assert (await browser.call(f"{AUTH}/ListSessions")).status == 200
    finally:
        await browser.close()


async def test_a_forged_refresh_cookie_is_a_session_refusal(world: World) -> None:
    forged = Browser(world.gateway)
    forged.cookies = {"parta_rt": "forged." + secrets.token_urlsafe(32)}
    try:
        reply = await forged.call(f"{AUTH}/ListSessions")
        assert reply.status == 401, reply.text
        assert reply.json["code"] == "UNAUTHENTICATED" and reply.json["reason"] == "SESSION_INVALID", reply.text
        assert "parta_rt" not in forged.cookies  # cleared
    finally:
        await forged.close()


async def test_grpc_statuses_map_to_http(world: World) -> None:
    teacher, student = world.teacher, world.student
    bad = await teacher.call(f"{CHAT}/SendMessage", {"chatId": world.class_chat, "clientMessageId": "", "text": ""})
    assert bad.status == 400 and bad.json["code"] == "INVALID_ARGUMENT"
    assert bad.json["fieldViolations"] and {"field", "description"} <= set(bad.json["fieldViolations"][0])
    unknown_field = await teacher.call(f"{CHAT}/ListChats", {"noSuchField": 1})
    assert unknown_field.status == 400 and unknown_field.json["reason"] == "INVALID_JSON"
    missing = await teacher.call("parta.school.v1.ClassService/GetClass", {"classId": "c-" + "0" * 20})
    assert missing.status in (403, 404) and missing.json["code"] in ("NOT_FOUND", "PERMISSION_DENIED")
    denied = await student.call(
        f"{CHAT}/CreateGroupChat",
        {"schoolId": world.school_id, "title": "x", "memberUserIds": [world.teacher_id], "requestId": uuid.uuid4().hex},
    )
    assert denied.status == 403 and denied.json["code"] == "PERMISSION_DENIED" and denied.json["reason"], denied.text
    again = await teacher.call(
        "parta.identity.v1.ProfileService/CreateProfile",
        {"firstName": "Анна", "lastName": "Иванова", "birthDate": "1985-03-14", "requestId": uuid.uuid4().hex},
    )
    assert again.status == 409 and again.json["code"] in ("ALREADY_EXISTS", "FAILED_PRECONDITION"), again.text
    # RESOURCE_EXHAUSTED: the same phone again within identity's resend cooldown (60 s here).
    anonymous = Browser(world.gateway)
    try:
        phone = random_phone()
        assert (await anonymous.call(f"{AUTH}/RequestCode", {"phone": phone})).status == 200
        limited = await anonymous.call(f"{AUTH}/RequestCode", {"phone": phone})
        assert limited.status == 429 and limited.json["code"] == "RESOURCE_EXHAUSTED", limited.text
        assert int(limited.headers["Retry-After"]) >= 1 and limited.json["retryAfterSeconds"] >= 1
        # UNAVAILABLE: a gateway whose media-signal is not running (a closed port).
        partial = await start_gateway(
            world.stack, "web-partial", {"WEB_MEDIA_SIGNAL_ADDRESS": f"127.0.0.1:{free_port()}"}
        )
        lonely = Browser(partial)
        try:
            lonely.cookies = dict(teacher.cookies)
            down = await lonely.call("parta.media_signal.v1.RoomService/ListRooms", {"schoolId": world.school_id})
            assert down.status == 503 and down.json["code"] == "UNAVAILABLE" and down.headers["Retry-After"] == "1"
        finally:
            await lonely.close()
            assert partial.stop() == 0
        # Routes: unknown → 404 JSON, wrong verb → 405, internal/operator RPCs are not routes at all.
        for path in ("/api/nope", f"/api/{CHAT}/NoSuchMethod", "/api/parta.school.v1.SchoolService/RegisterSchool"):
            reply = await teacher.request("POST", path, body={})
            assert reply.status == 404 and reply.json["code"] == "NOT_FOUND", (path, reply.text)
        keys = await anonymous.call("parta.identity.v1.SigningKeyService/ListSigningKeys", {})
        assert keys.status == 404
        wrong_verb = await teacher.request("GET", f"/api/{CHAT}/ListChats")
        assert wrong_verb.status == 405 and "POST" in wrong_verb.headers["Allow"], wrong_verb.text
    finally:
        await anonymous.close()
    # DEADLINE_EXCEEDED: a second gateway whose deadline no call can meet.
    hurried = await start_gateway(world.stack, "web-hurried", {"WEB_RPC_TIMEOUT_SECONDS": "0.000001"})
    browser = Browser(hurried)
    try:
        browser.cookies = dict(teacher.cookies)
        late = await browser.call(f"{CHAT}/ListChats", {"schoolId": world.school_id})
        assert late.status == 504 and late.json["code"] == "DEADLINE_EXCEEDED", late.text
    finally:
        await browser.close()
        assert hurried.stop() == 0


async def test_csrf_refusals(world: World) -> None:
    teacher = world.teacher
    path = f"/api/{CHAT}/ListChats"
    cases = [
        ({}, False, "CSRF_HEADER_MISSING"),
        ({"Origin": "https://evil.example"}, True, "CROSS_SITE_REQUEST"),
        ({"Sec-Fetch-Site": "cross-site"}, True, "CROSS_SITE_REQUEST"),
        ({"Origin": "null"}, True, "CROSS_SITE_REQUEST"),
        ({"Origin": None, "Sec-Fetch-Site": None}, True, "ORIGIN_MISSING"),
    ]
    for headers, csrf, reason in cases:
        reply = await teacher.request("POST", path, body={}, headers=headers, csrf=csrf)
        assert reply.status == 403 and reply.json["reason"] == reason, (headers, reply.text)
    upload = await teacher.request("POST", "/api/upload", data=b"abc", headers={"Origin": "https://evil.example"})
    assert upload.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await (await teacher.websocket(f"{CHAT}/Subscribe", headers={"Origin": "https://evil.example"})).close()
    assert refused.value.status == 403
    assert (await teacher.request("POST", path, body={})).status == 200


async def test_security_headers_and_static_app(world: World) -> None:
    browser = Browser(world.gateway)
    try:
        for path in ("/", "/join/inv-abc", "/chats/cls-1", "/api/nope", "/assets/app-1a2b3c.js"):
            reply = await browser.request("GET", path)
            csp = reply.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
            assert "unsafe-inline" not in csp and f"ws://{world.gateway.host}" in csp
            assert reply.headers["X-Content-Type-Options"] == "nosniff"
            assert reply.headers["Referrer-Policy"] == "no-referrer"
        for path in ("/", "/join/inv-abc"):
            page = await browser.request("GET", path)
            assert page.status == 200 and "app-1a2b3c.js" in page.text and page.headers["Cache-Control"] == "no-cache"
        asset = await browser.request("GET", "/assets/app-1a2b3c.js")
        assert asset.status == 200 and "immutable" in asset.headers["Cache-Control"]
        assert (await browser.request("GET", "/assets/missing-123.js")).status == 404
        assert (await browser.request("GET", "/../../etc/passwd")).status in (200, 404)  # never outside dist
        assert "root:" not in (await browser.request("GET", "/%2e%2e/%2e%2e/etc/passwd")).text
    finally:
        await browser.close()
    # No build: a plain page saying so.
    bare = await start_gateway(world.stack, "web-bare", {"WEB_STATIC_DIR": str(world.static_dir / "nothing-here")})
    browser = Browser(bare)
    try:
        page = await browser.request("GET", "/")
        assert page.status == 503 and "not built" in page.text
        assert page.headers["Content-Security-Policy"]
    finally:
        await browser.close()
        assert bare.stop() == 0


async def test_oversized_bodies_and_frames(world: World) -> None:
    teacher = world.teacher
    big = {"chatId": world.class_chat, "clientMessageId": "big", "text": "я" * 200_000}
    reply = await teacher.call(f"{CHAT}/SendMessage", big)
    assert reply.status == 413 and reply.json["reason"] == "BODY_TOO_LARGE", reply.text
    upload = await teacher.request(
        "POST", "/api/upload", data=b"\0" * (20 * 1024 * 1024 + 1), headers={"X-Parta-Filename": "big.bin"}
    )
    assert upload.status == 413
    ws = await teacher.websocket(f"{CHAT}/Subscribe")
    await ws.send_str(json.dumps({"cursors": []}))
    await ws.send_str("x" * (64 * 1024 + 1))
    closed = await _until_closed(ws)
    assert closed == 1009
    # A client that floods frames is cut off with RESOURCE_EXHAUSTED (4000 + 8).
    ws = await teacher.websocket(f"{CHAT}/Subscribe")
    await ws.send_str(json.dumps({"cursors": []}))
    for _ in range(200):
        if ws.closed:
            break
        await ws.send_str("{}")
    assert await _until_closed(ws) == 4008
    reason = (
        json.loads(ws.close_reason if hasattr(ws, "close_reason") else "{}")
        if getattr(ws, "close_reason", None)
        else None
    )
    assert reason is None or reason["code"] == "RESOURCE_EXHAUSTED"


CLOSE_REASONS: dict[int, str] = {}


async def _until_closed(ws: aiohttp.ClientWebSocketResponse, timeout: float = 20.0) -> int | None:
    """Reads until the server closes; the close reason lands in CLOSE_REASONS[id(ws)]."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ws.closed:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError("the socket did not close")
        msg = await ws.receive(timeout=remaining)
        if msg.type is aiohttp.WSMsgType.CLOSE:
            # The server's close frame: its code, not what the client's own close handshake made of
            # it (1006 when the server has already gone).
            CLOSE_REASONS[id(ws)] = msg.extra or ""
            return int(msg.data)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            break
    return ws.close_code


async def _events_until(ws: aiohttp.ClientWebSocketResponse, check: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"not seen in {timeout}s: {seen[-5:]}")
        msg = await ws.receive(timeout=remaining)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"socket ended: {msg.type} {ws.close_code} {msg.extra}")
        seen.append(json.loads(msg.data))
        if check(seen[-1]):
            return seen


async def test_signalling_over_websocket_relays_both_ways_and_follows_the_room_owner(world: World) -> None:
    rooms = "parta.media_signal.v1.RoomService"
    signal = "parta.media_signal.v1.SignalService/Signal"
    class_id = world.class_chat.removeprefix("cls-")
    request = {
        "requestId": uuid.uuid4().hex,
        "schoolId": world.school_id,
        "classId": class_id,
        "kind": "ROOM_KIND_LESSON",
        "title": "Алгебра",
        "startNow": True,
    }

    async def created() -> Any:
        # media-signal learns of the class and the teacher's verification from school's events.
        reply = await world.teacher.call(f"{rooms}/CreateRoom", request)
        return reply.json if reply.status == 200 else None

    room_id = (await eventually(created, timeout=60, interval=0.5))["room"]["roomId"]

    async def join(browser: Browser) -> aiohttp.ClientWebSocketResponse:
        grant = await browser.ok(f"{rooms}/CreateJoinToken", {"roomId": room_id})
        ws = await browser.websocket(signal)
        await ws.send_str(json.dumps({"requestId": "j1", "join": {"token": grant["token"]}}))
        await _events_until(ws, lambda e: "joined" in e)
        # Later client frames go into the same stream: a ping comes back as a pong.
        await ws.send_str(json.dumps({"ping": {"clientTimeMs": "42"}}))
        await _events_until(ws, lambda e: "pong" in e)
        return ws

    # A second replica, and a gateway that only knows that one: the student's join lands there, is
    # refused with ROOM_PINNED_ELSEWHERE, and the gateway reopens the stream at the owner. Both start
    # before the host's socket opens: a socket nobody reads while processes start (tens of seconds
    # on a loaded machine) misses the gateway's heartbeat and is closed (seen in a full e2e run).
    await world.stack.start("media_signal", world.media_env, name="media_signal-b")
    other = await start_gateway(
        world.stack, "web-pinned", {"WEB_MEDIA_SIGNAL_ADDRESS": world.stack.services["media_signal-b"].address}
    )
    student = Browser(other)
    try:
        # Through the first gateway, which knows only the first replica: the room is owned there.
        host = await join(world.teacher)
        student.cookies = dict(world.student.cookies)
        guest = await join(student)
        await _events_until(host, lambda e: "participantJoined" in e)
        await guest.send_str(json.dumps({"leave": {}}))
        assert await _until_closed(guest) == 1000
        await host.close()
    finally:
        await student.close()
        assert other.stop() == 0
        world.stack.services.pop("media_signal-b").stop()


async def test_live_chat_over_websocket_and_revocation_ends_it(world: World) -> None:
    # The student's session ends here (revoked below): no later test signs in as the student.
    student = world.student
    ws = await student.websocket(f"{CHAT}/Subscribe")
    await ws.send_str(json.dumps({"cursors": []}))
    await _events_until(ws, lambda e: "live" in e)
    text = f"Контрольная в пятницу {uuid.uuid4().hex[:6]}"
    sent = await world.teacher.ok(
        f"{CHAT}/SendMessage", {"chatId": world.class_chat, "clientMessageId": uuid.uuid4().hex, "text": text}
    )
    assert sent["message"]["text"] == text
    await _events_until(ws, lambda e: e.get("message", {}).get("text") == text)
    # The student revokes this very session: the revocation reaches chat, which ends the stream,
    # which ends the socket with 4000 + UNAUTHENTICATED.
    access = student.cookies["parta_at"]
    claims = json.loads(base64.urlsafe_b64decode(access.split(".")[1] + "=="))
    await student.ok(f"{AUTH}/RevokeSession", {"sessionId": claims["sid"]})
    assert await _until_closed(ws, timeout=60) == 4016
    assert json.loads(CLOSE_REASONS[id(ws)])["code"] == "UNAUTHENTICATED"


async def test_files_round_trip_and_abandoned_upload(world: World) -> None:
    teacher = world.teacher
    data = bytes(range(256)) * 4096 + b"tail"  # ~1 MiB, several chunks
    name = "Домашнее задание.pdf"
    from urllib.parse import quote

    headers = {"X-Parta-Filename": quote(name), "Content-Type": "application/pdf"}
    uploaded = await teacher.request("POST", "/api/upload", data=data, headers=headers)
    assert uploaded.status == 200, uploaded.text
    info = uploaded.json["file"]
    assert info["filename"] == name and int(info["sizeBytes"]) == len(data)
    download = await teacher.session.get(
        f"{world.gateway.url}/api/files/{info['fileId']}", headers=teacher.headers(csrf=False)
    )
    body = await download.read()
    assert download.status == 200 and body == data
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    assert "sandbox" in download.headers["Content-Security-Policy"]
    download.release()
    missing = await teacher.request("GET", "/api/files/f-nothing")
    assert missing.status in (403, 404)

    # A client that promises 1 MiB, sends 300 KiB and vanishes: nothing is kept, and a retry with
    # the same request id is accepted as a fresh upload (no half-finished reservation holds it).
    request_id = uuid.uuid4().hex
    host, port = world.gateway.host.split(":")
    raw = (
        f"POST /api/upload HTTP/1.1\r\nHost: {world.gateway.host}\r\nOrigin: {world.gateway.url}\r\n"
        f"X-Parta-CSRF: 1\r\nCookie: {teacher.headers()['Cookie']}\r\nX-Parta-Filename: half.bin\r\n"
        f"X-Parta-Request-Id: {request_id}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {1024 * 1024}\r\n\r\n"
    ).encode()
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(raw + b"\1" * (300 * 1024))
    await writer.drain()
    writer.transport.abort()
    files = await teacher.ok("parta.chat.v1.FileService/ListFiles", {})
    assert "half.bin" not in {f["filename"] for f in files["files"]}
    whole = b"\2" * (1024 * 1024)

    async def retried() -> bool:
        reply = await teacher.request(
            "POST",
            "/api/upload",
            data=whole,
            headers={"X-Parta-Filename": "half.bin", "X-Parta-Request-Id": request_id},
        )
        return reply.status == 200 and int(reply.json["file"]["sizeBytes"]) == len(whole)

    await eventually(retried, timeout=30, interval=0.5)
    assert (await teacher.session.get(f"{world.gateway.url}/healthz")).status == 200


async def test_a_stalled_upload_is_closed_in_time_and_leaves_nothing(world: World) -> None:
    """Content-Length 100000, then 10 bytes and silence: the gateway answers 408 and closes within
    WEB_UPLOAD_IDLE_SECONDS (+ slack), cancelling chat's UploadFile, which keeps nothing."""
    teacher = world.teacher
    request_id = uuid.uuid4().hex
    host, port = world.gateway.host.split(":")
    raw = (
        f"POST /api/upload HTTP/1.1\r\nHost: {world.gateway.host}\r\nOrigin: {world.gateway.url}\r\n"
        f"X-Parta-CSRF: 1\r\nCookie: {teacher.headers()['Cookie']}\r\nX-Parta-Filename: stalled.bin\r\n"
        f"X-Parta-Request-Id: {request_id}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: 100000\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    writer.write(raw + b"0123456789")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), UPLOAD_IDLE_SECONDS + 15)  # until the gateway closes
    elapsed = time.monotonic() - started
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"UPLOAD_TOO_SLOW" in answer
    assert UPLOAD_IDLE_SECONDS - 0.5 < elapsed < UPLOAD_IDLE_SECONDS + 15
    files = await teacher.ok("parta.chat.v1.FileService/ListFiles", {})
    assert "stalled.bin" not in {f["filename"] for f in files["files"]}

    async def retried() -> bool:  # no half-accepted reservation holds the request id
        reply = await teacher.request(
            "POST",
            "/api/upload",
            data=b"x" * 1000,
            headers={"X-Parta-Filename": "stalled.bin", "X-Parta-Request-Id": request_id},
        )
        return reply.status == 200 and int(reply.json["file"]["sizeBytes"]) == 1000

    await eventually(retried, timeout=30, interval=0.5)


async def test_an_interrupted_resumable_upload_goes_on_where_it_stopped(world: World) -> None:
    """What the web app does for a video material: a resumable upload (X-Parta-Resumable: 1) whose
    connection drops half-way keeps chat's stored blocks; GetUploadStatus through the unary route
    says where to go on, and the rest of the file with X-Parta-Upload-Offset and the same request
    id finishes it; the download is the file byte for byte. Above the plain cap (20 MiB) a
    resumable upload is allowed up to 256 MiB, checked from the headers alone."""
    teacher = world.teacher
    data = secrets.token_bytes(3 * 1024 * 1024 + 12345)
    request_id = uuid.uuid4().hex
    host, port = world.gateway.host.split(":")
    head = (
        f"POST /api/upload HTTP/1.1\r\nHost: {world.gateway.host}\r\nOrigin: {world.gateway.url}\r\n"
        f"X-Parta-CSRF: 1\r\nCookie: {teacher.headers()['Cookie']}\r\nX-Parta-Filename: lesson.mp4\r\n"
        f"X-Parta-Request-Id: {request_id}\r\nX-Parta-Resumable: 1\r\nContent-Type: video/mp4\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head + data[: 2 * 1024 * 1024])
    await writer.drain()
    status_method = "parta.chat.v1.FileService/GetUploadStatus"

    async def stored() -> int:  # chat has the first megabytes in whole blocks
        reply = await teacher.call(status_method, {"requestId": request_id})
        return int(reply.json["receivedBytes"]) if reply.status == 200 else 0

    await eventually(lambda: _at_least(stored, 1024 * 1024), timeout=30, interval=0.2)
    writer.transport.abort()  # the connection drops mid-upload

    resumed_at: list[int] = []

    async def resumed() -> bool:
        # As the page does: ask where to go on, send the rest; a continuation that meets the old
        # stream still ending is refused (ABORTED/503) and asked again.
        status = await teacher.call(status_method, {"requestId": request_id})
        if status.status != 200:
            return False
        offset = int(status.json["receivedBytes"])
        reply = await teacher.request(
            "POST",
            "/api/upload",
            data=data[offset:],
            headers={
                "X-Parta-Filename": "lesson.mp4",
                "X-Parta-Request-Id": request_id,
                "X-Parta-Resumable": "1",
                "X-Parta-Upload-Offset": str(offset),
                "Content-Type": "video/mp4",
            },
        )
        if reply.status != 200:
            assert reply.status in (400, 409, 503), reply.text
            return False
        resumed_at.append(offset)
        return True

    await eventually(resumed, timeout=30, interval=0.5)
    assert 1024 * 1024 <= resumed_at[0] < len(data)  # it went on, it did not start again
    status = await teacher.ok(status_method, {"requestId": request_id})
    assert status["complete"] and int(status["receivedBytes"]) == len(data)
    listed = await teacher.ok("parta.chat.v1.FileService/ListFiles", {})
    (info,) = [f for f in listed["files"] if f["filename"] == "lesson.mp4"]
    assert info["sha256Hex"] == hashlib.sha256(data).hexdigest()
    download = await teacher.session.get(
        f"{world.gateway.url}/api/files/{info['fileId']}", headers=teacher.headers(csrf=False)
    )
    assert download.status == 200 and await download.read() == data
    download.release()

    # The caps, from Content-Length (and the offset) alone: plain 20 MiB, resumable 256 MiB.
    for extra, size, status_code in (
        ({}, 20 * 1024 * 1024 + 1, 413),
        ({"X-Parta-Resumable": "1", "X-Parta-Request-Id": uuid.uuid4().hex}, 256 * 1024 * 1024 + 1, 413),
        ({"X-Parta-Upload-Offset": "5"}, 10, 400),  # an offset without resumable
        ({"X-Parta-Resumable": "1"}, 10, 400),  # resumable without a request id
    ):
        raw = (
            f"POST /api/upload HTTP/1.1\r\nHost: {world.gateway.host}\r\nOrigin: {world.gateway.url}\r\n"
            f"X-Parta-CSRF: 1\r\nCookie: {teacher.headers()['Cookie']}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            + f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
        ).encode()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        assert answer.startswith(f"HTTP/1.1 {status_code}".encode()), (extra, answer[:300])


async def _at_least(read: Any, wanted: int) -> bool:
    return bool(await read() >= wanted)


async def test_drain_closes_sockets_and_exits_cleanly(world: World) -> None:
    drained = await start_gateway(world.stack, "web-drain")
    browser = Browser(drained)
    try:
        browser.cookies = dict(world.teacher.cookies)
        ws = await browser.websocket(f"{CHAT}/Subscribe")
        await ws.send_str(json.dumps({"cursors": []}))
        await _events_until(ws, lambda e: "live" in e)
        code = await asyncio.to_thread(drained.stop)
        assert code == 0, drained.log_tail()
        assert await _until_closed(ws) == 1001
    finally:
        await browser.close()
