"""Issue 13: `make run`'s listeners sit outside Linux's ephemeral port range, and are checked before
anything starts, with a message that says what is wrong and how to fix it."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
import infra
import stack
from parta_client.config import DEFAULTS

pytestmark = pytest.mark.unit

KERNEL_DEFAULT = (32768, 60999)


def _fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, span: str, reserved: str = "") -> None:
    (tmp_path / "range").write_text(span + "\n")
    (tmp_path / "reserved").write_text(reserved + "\n")
    monkeypatch.setattr(infra, "EPHEMERAL_RANGE_FILE", tmp_path / "range")
    monkeypatch.setattr(infra, "RESERVED_PORTS_FILE", tmp_path / "reserved")


def test_every_local_listener_is_below_the_ephemeral_range() -> None:
    ports, _ = stack.planned_ports(stack.SERVICES)
    low = min(KERNEL_DEFAULT[0], (infra.ephemeral_range() or KERNEL_DEFAULT)[0])
    inside = {name: port for name, port in ports.items() if port >= low}
    assert not inside, inside
    assert infra.port_problems(ports) == []


def test_the_cli_defaults_are_the_stack_ports() -> None:
    assert DEFAULTS == {package: f"127.0.0.1:{port}" for package, _, _, port, _ in stack.SERVICES}


def test_a_port_in_the_ephemeral_range_is_refused_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_proc(tmp_path, monkeypatch, "32768\t60999")
    problems = infra.port_problems({"school grpc": 50052, "chat grpc": 25053})
    assert len(problems) == 1
    assert "school grpc: port 50052 lies in the ephemeral range 32768-60999" in problems[0]
    assert "ip_local_reserved_ports" in problems[0]


def test_a_reserved_port_inside_the_range_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_proc(tmp_path, monkeypatch, "32768\t60999", reserved="50051-50054,55000")
    assert infra.port_problems({"a": 50052, "b": 55000}) == []
    assert infra.port_problems({"c": 55001}) != []


def test_a_taken_port_is_named_before_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_proc(tmp_path, monkeypatch, "60000 60001")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        problems = infra.port_problems({"chat grpc": port}, must_be_free=frozenset({"chat grpc"}))
        taken = f"chat grpc: port {port} is already taken by another process (`ss -ltnp 'sport = :{port}'`)"
        assert problems == [taken]
        # A component that is already running (ours) is not required to be free.
        assert infra.port_problems({"chat grpc": port}) == []


def test_make_run_starts_the_web_gateway_with_valid_settings_on_a_stack_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from web.config import WebSettings

    ports, _ = stack.planned_ports(stack.SERVICES)
    assert ports["web http"] == stack.WEB_PORT == stack.GRPC_PORT_BASE + 30
    for name, value in stack.web_env().items():
        monkeypatch.setenv(name, value)
    settings = WebSettings()  # type: ignore[call-arg]
    assert settings.http_port == stack.WEB_PORT and settings.metrics_port == ports["web metrics"]
    assert settings.chat_address == stack.addresses()["chat"]
    assert settings.audit_address == stack.addresses()["audit"]
    assert stack.web_url() == f"http://127.0.0.1:{stack.WEB_PORT}/"
    assert settings.origins() == (f"http://127.0.0.1:{stack.WEB_PORT}", f"http://localhost:{stack.WEB_PORT}")
    # Every service believes the gateway's X-Forwarded-For (it runs on loopback), and nobody else's.
    env = stack.service_env("chat", "CHAT_", 1, 2)
    assert env["CHAT_TRUSTED_PROXIES"] == "127.0.0.1/32"


def test_make_run_records_its_state_on_a_fresh_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka and the store already run (nothing spawned), and .cache/run does not exist yet."""
    state = tmp_path / "fresh" / ".cache" / "run" / "stack.json"
    monkeypatch.setattr(stack, "STATE", state)
    stack.remember_started([])
    stack.remember_started(["kafka"])
    assert json.loads(state.read_text()) == {"infra": ["kafka"]}


def test_make_run_prints_invite_links_that_open_the_local_web_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from school.config import SchoolSettings

    env = stack.service_env("school", "SCHOOL_", stack.GRPC_PORT_BASE + 2, 9102)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = SchoolSettings()  # type: ignore[call-arg]
    assert settings.invite_base_url == f"http://127.0.0.1:{stack.WEB_PORT}/join/"
    import demo

    stale = {"teachers_invite": "https://parta.local/join/tok-1", "teachers_invite_token": "tok-1"}
    assert demo.invite_link(stale, stack.web_url()) == f"http://127.0.0.1:{stack.WEB_PORT}/join/tok-1"
    assert demo.invite_link(stale) == "https://parta.local/join/tok-1"
