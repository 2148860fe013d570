"""The gateway at the HTTP protocol level, in-process on a loopback port with no services behind it
(their addresses are closed ports): bodies split across TCP segments, deep JSON, slow and partial
requests, and what aiohttp's own parser answers to malformed HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import structlog
from parta_common.logging import configure_logging
from web.bootstrap import WebService, build
from web.config import WebSettings

UNARY = "/api/parta.identity.v1.AuthService/RequestCode"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(**extra: Any) -> WebSettings:
    nowhere = f"127.0.0.1:{_closed_port()}"
    values: dict[str, Any] = {
        "http_port": 0,
        "identity_address": nowhere,
        "school_address": nowhere,
        "chat_address": nowhere,
        "media_signal_address": nowhere,
        "audit_address": nowhere,
        "rpc_timeout_seconds": 2.0,
        "body_seconds": 1.5,
        "keepalive_seconds": 1.0,
        **extra,
    }
    return WebSettings(**values)


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[WebService]:
    service = build(settings())
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def exchange(port: int, parts: list[bytes], pause: float = 0.0, timeout: float = 10.0) -> bytes:
    """Sends `parts` with `pause` between them; returns everything the server sent until it closed
    the connection (or `timeout` passed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.sleep(pause)  # the point of the test: a pause between TCP segments
            writer.write(part)
            await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def request_head(port: int, length: int, path: str = UNARY, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"X-Parta-CSRF: 1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
        f"Connection: close\r\n{extra}\r\n"
    ).encode()


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return status, headers, body


async def test_a_json_body_in_two_tcp_segments_is_read_whole(gateway: WebService) -> None:
    body = json.dumps({"phone": "+79990001122"}).encode()
    raw = await exchange(gateway.port, [request_head(gateway.port, len(body)) + body[:10], body[10:]], pause=0.3)
    status, _, answer = parse(raw)
    # identity is not there (a closed port): the body was read whole and parsed, and the call got as
    # far as the service.
    assert json.loads(answer)["reason"] != "INVALID_JSON", answer
    assert status == 503, answer


async def test_a_body_that_stops_arriving_is_refused_in_time(gateway: WebService) -> None:
    started = asyncio.get_running_loop().time()
    raw = await exchange(gateway.port, [request_head(gateway.port, 100) + b'{"phone":'])
    status, headers, answer = parse(raw)
    assert status == 408 and json.loads(answer)["reason"] == "BODY_TOO_SLOW"
    assert headers["content-type"].startswith("application/json")
    assert asyncio.get_running_loop().time() - started < 5


async def test_deeply_nested_json_is_invalid_json_not_a_crash(gateway: WebService) -> None:
    body = b'{"a":' * 5000 + b"1" + b"}" * 5000
    raw = await exchange(gateway.port, [request_head(gateway.port, len(body)) + body])
    status, _, answer = parse(raw)
    assert status == 400 and json.loads(answer)["reason"] == "INVALID_JSON", answer


async def test_a_request_with_partial_headers_is_closed_by_the_keepalive_bound(gateway: WebService) -> None:
    started = asyncio.get_running_loop().time()
    raw = await exchange(gateway.port, [b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Le"], timeout=10)
    assert raw == b""  # closed without an answer
    assert asyncio.get_running_loop().time() - started < 5


@pytest.mark.parametrize(
    "tail",
    [
        "Content-Length: -1\r\n\r\n" + "SECRET-BODY " * 500,
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + "SECRET-BODY " * 500,
        "Content-Length: 2\r\n\r\n{}" + "SECRET-BODY " * 500,
    ],
    ids=["negative-length", "length-and-chunked", "body-longer-than-length"],
)
async def test_malformed_http_gets_a_json_refusal_without_echo_and_a_one_line_log(
    gateway: WebService, tail: str
) -> None:
    stream = io.StringIO()
    configure_logging("web", "info", stream=stream)
    try:
        head = f"POST {UNARY} HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n"
        raw = await exchange(gateway.port, [(head + tail).encode()])
    finally:
        logged = stream.getvalue()
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
    assert b"SECRET-BODY" not in raw
    answers = re.split(rb"HTTP/1\.[01] ", raw)[1:]
    assert answers, raw
    for answer in answers:
        status, headers, body = parse(b"HTTP/1.1 " + answer)
        if status == 400:
            assert headers["content-type"].startswith("application/json")
            assert headers["x-content-type-options"] == "nosniff"
            assert "content-security-policy" in headers
            assert json.loads(body)["reason"] == "BAD_HTTP_REQUEST"
    assert "SECRET-BODY" not in logged
    for line in logged.splitlines():
        json.loads(line)  # every log line is one JSON object: no multi-line tracebacks
    assert "Traceback" not in logged


def test_production_needs_the_public_origins() -> None:
    production = {"environment": "production", "http_host": "0.0.0.0"}
    with pytest.raises(ValueError, match="WEB_PUBLIC_ORIGINS"):
        settings(**production)
    assert settings(**production, public_origins="https://parta.example.org").origins() == (
        "https://parta.example.org",
    )
    assert settings().origins() == ()  # development: the Host header stands in


async def test_the_session_probe_says_whether_session_cookies_are_there(gateway: WebService) -> None:
    async with aiohttp.ClientSession() as client:
        url = f"http://127.0.0.1:{gateway.port}/api/session"
        async with client.get(url) as reply:
            assert reply.status == 200 and await reply.json() == {"signedIn": False}
        async with client.get(url, headers={"Cookie": "parta_rt=r"}) as reply:
            assert reply.status == 200 and await reply.json() == {"signedIn": True}
            assert reply.headers["Cache-Control"] == "no-store"
