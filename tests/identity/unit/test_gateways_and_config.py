"""SMS gateways (the HTTP one against a local http.server) and start-up configuration rules."""

from __future__ import annotations

import json
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from identity.adapters.sms import DevFileSmsGateway, HttpSmsGateway
from identity.bootstrap import sms_gateway_from
from identity.config import IdentitySettings
from parta_common.testing.fakes import FakeClock
from pydantic import ValidationError

BASE = {"mongodb_uri": "mongodb://x", "mongodb_database": "d", "kafka_bootstrap": "k:1"}


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep test output quiet
        return None


@pytest.fixture
def http_server():
    _Recorder.received = []
    _Recorder.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_http_gateway_posts_the_rendered_template(http_server):
    url = f"http://127.0.0.1:{http_server.server_address[1]}/send"
    gateway = HttpSmsGateway(
        url,
        '{"to": "$phone", "message": "$text", "sender": "Parta"}',
        auth_header="Bearer provider-key",
        message='Код "Парты": $code',
    )
    await gateway.send_code("+79991234567", "042917")
    path, headers, body = _Recorder.received[-1]
    assert path == "/send" and headers["Authorization"] == "Bearer provider-key"
    assert json.loads(body) == {"to": "+79991234567", "message": 'Код "Парты": 042917', "sender": "Parta"}


async def test_http_gateway_failure_raises(http_server):
    _Recorder.status = 503
    gateway = HttpSmsGateway(
        f"http://127.0.0.1:{http_server.server_address[1]}/",
        "phone=$phone&code=$code",
        content_type="application/x-www-form-urlencoded",
    )
    with pytest.raises(urllib.error.HTTPError):
        await gateway.send_code("+79991234567", "000000")
    assert _Recorder.received[-1][2] == b"phone=+79991234567&code=000000"


async def test_dev_gateway_appends_json_lines(tmp_path):
    path = tmp_path / "sms" / "codes.jsonl"
    gateway = DevFileSmsGateway(path, FakeClock())
    await gateway.send_code("+79991234567", "123456")
    await gateway.send_code("+79991234568", "654321")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(x["phone"], x["code"]) for x in lines] == [("+79991234567", "123456"), ("+79991234568", "654321")]
    assert lines[0]["sent_at"].startswith("2026-09-01")


def test_production_refuses_the_dev_gateway_and_needs_keys():
    prod = {**BASE, "environment": "production", "grpc_host": "0.0.0.0"}
    with pytest.raises(ValidationError, match="DEV_SMS_FILE"):
        IdentitySettings(**prod, dev_sms_file="/tmp/x", sms_http_url="http://sms", signing_keys="k", hash_key="h")
    with pytest.raises(ValidationError, match="SIGNING_KEYS"):
        IdentitySettings(**prod, sms_http_url="http://sms", hash_key="h")
    with pytest.raises(ValidationError, match="HASH_KEY"):
        IdentitySettings(**prod, sms_http_url="http://sms", signing_keys="k")
    ok = IdentitySettings(**prod, sms_http_url="http://sms", signing_keys="k", hash_key="h")
    assert isinstance(sms_gateway_from(ok, FakeClock()), HttpSmsGateway)
    with pytest.raises(ValidationError):
        IdentitySettings(**BASE)  # development still needs some gateway
    assert isinstance(sms_gateway_from(IdentitySettings(**BASE, dev_sms_file="/tmp/x"), FakeClock()), DevFileSmsGateway)
