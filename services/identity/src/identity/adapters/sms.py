"""SMS gateways: a development file sink that tests read codes from, and a generic HTTP gateway."""

from __future__ import annotations

import asyncio
import json
import string
import urllib.request
from pathlib import Path

from parta_common.clock import Clock


class DevFileSmsGateway:
    """Appends {"phone","code","sent_at"} JSON lines to a file. Never in production (bootstrap
    refuses): it writes codes in clear on purpose, so the local stack and tests can sign in."""

    def __init__(self, path: Path, clock: Clock):
        self._path = path
        self._clock = clock
        self._lock = asyncio.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    async def send_code(self, phone: str, code: str) -> None:
        line = json.dumps({"phone": phone, "code": code, "sent_at": self._clock.now().isoformat()})
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        with self._path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


class HttpSmsGateway:
    """POSTs a configurable body to a provider. The template uses $phone, $code and $text
    (string.Template), values JSON-escaped when the content type is JSON."""

    def __init__(
        self,
        url: str,
        body_template: str,
        *,
        content_type: str = "application/json",
        auth_header: str = "",
        message: str = "Parta code: $code",
        timeout: float = 5.0,
    ):
        if not url.startswith(("http://", "https://")):
            raise ValueError("SMS gateway URL must be http(s)")
        self._url = url
        self._template = string.Template(body_template)
        self._content_type = content_type
        self._auth_header = auth_header
        self._message = string.Template(message)
        self._timeout = timeout

    def render(self, phone: str, code: str) -> bytes:
        text = self._message.substitute(code=code)
        values = {"phone": phone, "code": code, "text": text}
        if "json" in self._content_type:
            values = {k: json.dumps(v)[1:-1] for k, v in values.items()}
        return self._template.substitute(values).encode()

    async def send_code(self, phone: str, code: str) -> None:
        await asyncio.to_thread(self._post, self.render(phone, code))

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self._url, data=body, method="POST")  # noqa: S310 (scheme checked)
        request.add_header("Content-Type", self._content_type)
        if self._auth_header:
            request.add_header("Authorization", self._auth_header)
        with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
            if response.status >= 300:
                raise RuntimeError(f"SMS gateway answered {response.status}")
