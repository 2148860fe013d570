"""The web gateway as a real process in front of real services, and a small cookie-keeping HTTP
client that behaves like the page: same-origin `Origin`, the CSRF header, cookies from Set-Cookie."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.harness import LOG_DIR, ROOT, Stack, free_port
from tests.e2e.identity_client import read_code


@dataclass
class GatewayProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


async def start_gateway(stack: Stack, name: str = "web", extra: dict[str, str] | None = None) -> GatewayProcess:
    """`python -m web` on a free port, wired to the stack's services (absent ones: a closed port)."""
    port = free_port()

    def address(package: str) -> str:
        service = stack.services.get(package)
        return service.address if service is not None else f"127.0.0.1:{free_port()}"

    env = {
        **os.environ,
        "WEB_ENVIRONMENT": "development",
        "WEB_HTTP_HOST": "127.0.0.1",
        "WEB_HTTP_PORT": str(port),
        "WEB_IDENTITY_ADDRESS": address("identity"),
        "WEB_SCHOOL_ADDRESS": address("school"),
        "WEB_CHAT_ADDRESS": address("chat"),
        "WEB_MEDIA_SIGNAL_ADDRESS": address("media_signal"),
        "WEB_AUDIT_ADDRESS": address("audit"),
        "WEB_REPLICA_ID": f"{name}-{port}",
        **(extra or {}),
    }
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}-{stack.run_id}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([sys.executable, "-m", "web"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", process, log_path)
    deadline = asyncio.get_running_loop().time() + 60
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {process.returncode}:\n{gateway.log_tail()}")
            try:
                async with session.get(f"{gateway.url}/healthz") as reply:
                    if reply.status == 200:
                        return gateway
            except aiohttp.ClientConnectionError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                gateway.stop()
                raise TimeoutError(f"the gateway did not answer in 60 s:\n{gateway.log_tail()}")
            await asyncio.sleep(0.1)


@dataclass
class Reply:
    status: int
    headers: Any
    text: str
    set_cookies: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.text)


class Browser:
    """What the page does: sends cookies back, same-origin Origin, `X-Parta-CSRF: 1` on POST."""

    def __init__(self, gateway: GatewayProcess):
        self.gateway = gateway
        self.cookies: dict[str, str] = {}
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=60)
        )

    async def close(self) -> None:
        await self.session.close()

    def headers(self, extra: dict[str, str] | None = None, *, csrf: bool = True) -> dict[str, str]:
        out = {"Origin": self.gateway.url, "Sec-Fetch-Site": "same-origin"}
        if csrf:
            out["X-Parta-CSRF"] = "1"
        if self.cookies:
            out["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        out.update(extra or {})
        return {k: v for k, v in out.items() if v is not None}

    def _keep(self, response: aiohttp.ClientResponse) -> list[str]:
        raw = response.headers.getall("Set-Cookie", [])
        for line in raw:
            jar: SimpleCookie = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return list(raw)

    async def request(
        self,
        verb: str,
        path: str,
        *,
        body: Any = None,
        data: bytes | None = None,
        headers: dict[str, Any] | None = None,
        csrf: bool = True,
    ) -> Reply:
        payload = data if data is not None else (json.dumps(body).encode() if body is not None else None)
        async with self.session.request(
            verb, self.gateway.url + path, data=payload, headers=self.headers(headers, csrf=csrf)
        ) as response:
            text = await response.text(errors="replace")
            return Reply(response.status, response.headers, text, self._keep(response))

    async def call(self, method: str, body: Any = None, **kwargs: Any) -> Reply:
        """POST /api/<full.service.Name>/<Method>, e.g. call("parta.chat.v1.ChatService/ListChats", {...})."""
        return await self.request("POST", f"/api/{method}", body=body if body is not None else {}, **kwargs)

    async def ok(self, method: str, body: Any = None) -> Any:
        reply = await self.call(method, body)
        assert reply.status == 200, f"{method}: {reply.status} {reply.text}"
        return reply.json

    async def websocket(self, method: str, headers: dict[str, str] | None = None) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(
            self.gateway.url.replace("http", "ws", 1) + f"/api/ws/{method}", headers=self.headers(headers, csrf=False)
        )

    async def sign_in(self, phone: str, sms_file: Path) -> Reply:
        before = len(sms_file.read_text().splitlines()) if sms_file.exists() else 0
        sent = await self.ok("parta.identity.v1.AuthService/RequestCode", {"phone": phone})
        code = await read_code(sms_file, phone, after_line=before)
        reply = await self.call(
            "parta.identity.v1.AuthService/VerifyCode",
            {"challengeId": sent["challengeId"], "code": code, "deviceName": "test browser"},
        )
        assert reply.status == 200, reply.text
        return reply
