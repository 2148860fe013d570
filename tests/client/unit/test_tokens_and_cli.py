"""The SDK's token handling and the CLI's error output, against fake identity and school servicers
served in-process on port 0 (no infrastructure)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as chat_events
from parta.identity.v1 import auth_pb2, auth_pb2_grpc
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import DevSmsFile, Endpoints, NotSignedIn, Parta, Session, SessionStore
from parta_client.cli import app
from parta_client.cli.chats import follow_chat
from parta_client.devsms import normalize_phone
from typer.testing import CliRunner


@dataclass
class FakeIdentity(auth_pb2_grpc.AuthServiceServicer):
    """Rotating refresh tokens; a reused refresh token is refused like identity does."""

    generation: int = 1
    refreshes: int = 0
    seen_auth: list[str] = field(default_factory=list)
    sms_file: Path | None = None
    revoked: bool = False

    @property
    def access(self) -> str:
        return f"access-{self.generation}"

    async def RequestCode(self, request, context):  # type: ignore[no-untyped-def]
        self.seen_auth.append(dict(context.invocation_metadata()).get("authorization", ""))
        assert self.sms_file is not None
        with self.sms_file.open("a") as f:
            # identity records the E.164 form of whatever was typed
            f.write(json.dumps({"phone": normalize_phone(request.phone), "code": "123456"}) + "\n")
        return auth_pb2.RequestCodeResponse(challenge_id="ch-1", code_length=6)

    async def VerifyCode(self, request, context):  # type: ignore[no-untyped-def]
        if request.code != "123456":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "wrong code")
        reply = auth_pb2.VerifyCodeResponse(
            user_id="u-1", access_token=self.access, refresh_token=f"refresh-{self.generation}", session_id="s-1"
        )
        reply.access_expires_at.FromDatetime(datetime(2999, 1, 1))
        return reply

    async def RefreshSession(self, request, context):  # type: ignore[no-untyped-def]
        self.refreshes += 1
        await asyncio.sleep(0.05)  # long enough for concurrent callers to pile up
        if self.revoked or request.refresh_token != f"refresh-{self.generation}":
            self.revoked = True
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "refresh token reused: session revoked")
        self.generation += 1
        reply = auth_pb2.RefreshSessionResponse(access_token=self.access, refresh_token=f"refresh-{self.generation}")
        reply.access_expires_at.FromDatetime(datetime(2999, 1, 1))
        return reply


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    def __init__(self, identity: FakeIdentity):
        self.identity = identity

    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        token = dict(context.invocation_metadata()).get("authorization", "")
        if token != f"Bearer {self.identity.access}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "token expired")
        return school_pb2.ListMySchoolsResponse()

    async def RegisterSchool(self, request, context):  # type: ignore[no-untyped-def]
        status = status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message="operators only")
        status.details.add().Pack(error_details_pb2.ErrorInfo(reason="NOT_AN_OPERATOR", domain="parta"))
        await context.abort_with_status(rpc_status.to_status(status))


def msg(seq: int, update_seq: int, text: str) -> chat_events.MessageSnapshot:
    return chat_events.MessageSnapshot(chat_id="c1", seq=seq, update_seq=update_seq, text=text, sender_user_id="u-2")


class FakeChats(chat_pb2_grpc.ChatServiceServicer):
    """History of two messages; the stream replays after the cursor, then goes live."""

    def __init__(self) -> None:
        self.cursors: list[tuple[str, int]] = []

    async def ListMessages(self, request, context):  # type: ignore[no-untyped-def]
        return chat_pb2.ListMessagesResponse(messages=[msg(1, 1, "first"), msg(2, 2, "second")][-request.limit :])

    async def Subscribe(self, request, context):  # type: ignore[no-untyped-def]
        self.cursors = [(c.chat_id, c.update_seq) for c in request.cursors]
        yield chat_pb2.ChatEvent(chat_id="other", update_seq=9, message=msg(9, 9, "another chat"))
        yield chat_pb2.ChatEvent(chat_id="c1", update_seq=2, message=msg(2, 2, "second"))  # overlap with history
        yield chat_pb2.ChatEvent(live=chat_pb2.LiveMarker())
        yield chat_pb2.ChatEvent(chat_id="c1", update_seq=3, message=msg(1, 3, "first (edited)"))
        yield chat_pb2.ChatEvent(live_status=chat_pb2.LiveStatus(state=chat_pb2.LIVE_STATE_DEGRADED))
        yield chat_pb2.ChatEvent(live_status=chat_pb2.LiveStatus(state=chat_pb2.LIVE_STATE_LIVE))
        yield chat_pb2.ChatEvent(chat_id="c1", update_seq=4, message=msg(3, 4, "third"))
        yield chat_pb2.ChatEvent(chat_id="c1", update_seq=5, message=msg(4, 5, "fourth"))
        yield chat_pb2.ChatEvent(chat_id="c1", update_seq=6, message=msg(5, 6, "never read: --count reached"))


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[tuple[FakeIdentity, Endpoints]]:
    identity = FakeIdentity(sms_file=tmp_path / "sms.jsonl")
    server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(identity, server)
    school_pb2_grpc.add_SchoolServiceServicer_to_server(FakeSchools(identity), server)
    chat_pb2_grpc.add_ChatServiceServicer_to_server(FakeChats(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    yield identity, Endpoints(identity=address, school=address, chat=address, media_signal=address)
    await server.stop(0)


def stale_session(**overrides: object) -> Session:
    values: dict[str, object] = {
        "user_id": "u-1",
        "phone": "+79000000002",
        "access_token": "access-0",
        "refresh_token": "refresh-1",
        "access_expires_at": datetime(2999, 1, 1, tzinfo=UTC).timestamp(),
    }
    values.update(overrides)
    return Session(**values)  # type: ignore[arg-type]


async def test_sign_in_through_the_dev_sms_file_saves_the_session(fakes, tmp_path: Path) -> None:
    identity, endpoints = fakes
    store = SessionStore(tmp_path / "home", "olga")
    async with Parta(endpoints, store) as parta:
        await parta.sign_in("8 900 000 00 02", DevSmsFile(identity.sms_file))  # type: ignore[arg-type]
        await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
    saved = store.load()
    assert saved is not None and saved.access_token == "access-1" and saved.phone == "+79000000002"
    assert identity.seen_auth == [""]  # public RPCs carry no token


async def test_a_rejected_token_is_refreshed_once_and_the_call_retried(fakes, tmp_path: Path) -> None:
    identity, endpoints = fakes
    store = SessionStore(tmp_path, "default")
    store.save(stale_session())  # the server no longer takes access-0, locally it looks valid
    async with Parta(endpoints, store) as parta:
        await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
    assert identity.refreshes == 1
    saved = store.load()
    assert saved is not None and (saved.access_token, saved.refresh_token) == ("access-2", "refresh-2")


async def test_an_expiring_token_is_refreshed_before_the_call(fakes) -> None:
    identity, endpoints = fakes
    async with Parta(endpoints, session=stale_session(access_expires_at=1.0)) as parta:
        await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
        assert parta.session is not None and parta.session.access_token == "access-2"
    assert identity.refreshes == 1


async def test_concurrent_calls_refresh_once_never_reusing_the_refresh_token(fakes) -> None:
    identity, endpoints = fakes
    async with Parta(endpoints, session=stale_session()) as parta:
        await asyncio.gather(*(parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest()) for _ in range(8)))
    assert identity.refreshes == 1 and not identity.revoked


async def test_a_revoked_session_is_forgotten(fakes, tmp_path: Path) -> None:
    identity, endpoints = fakes
    identity.revoked = True
    store = SessionStore(tmp_path, "default")
    store.save(stale_session())
    async with Parta(endpoints, store) as parta:
        with pytest.raises(NotSignedIn):
            await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
    assert store.load() is None


async def test_cli_prints_status_and_reason_without_a_traceback(fakes, tmp_path: Path) -> None:
    _, endpoints = fakes
    env = {
        "PARTA_HOME": str(tmp_path),
        "PARTA_SCHOOL_ADDR": endpoints.school,
        "PARTA_IDENTITY_ADDR": endpoints.identity,
    }
    SessionStore(tmp_path, "op").save(stale_session(access_token="access-1"))
    argv = ["-p", "op", "school", "register", "Школа", "--admin-phone", "+79000000002"]
    # In a thread: the CLI runs its own event loop while the fake server keeps serving on this one.
    result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
    assert result.exit_code == 1
    assert "PERMISSION_DENIED NOT_AN_OPERATOR: operators only" in result.stderr
    assert "Traceback" not in result.output


def test_cli_without_a_session_or_with_bad_input(tmp_path: Path) -> None:
    env = {"PARTA_HOME": str(tmp_path), "PARTA_CHAT_ADDR": "127.0.0.1:9"}
    runner = CliRunner()
    nobody = runner.invoke(app, ["-p", "nobody", "chats", "list"], env=env)
    assert nobody.exit_code == 1 and "parta login" in nobody.stderr
    bad = runner.invoke(app, ["class", "create", "five"], env=env)
    assert bad.exit_code == 2 and "grade and a letter" in bad.stderr
    profile = runner.invoke(app, ["-p", "../x", "chats", "list"], env=env)
    assert profile.exit_code == 2


def test_cli_reports_an_unreachable_service(tmp_path: Path) -> None:
    env = {"PARTA_HOME": str(tmp_path), "PARTA_SCHOOL_ADDR": "127.0.0.1:9", "PARTA_IDENTITY_ADDR": "127.0.0.1:9"}
    SessionStore(tmp_path, "default").save(stale_session(access_token="access-1"))
    result = CliRunner().invoke(app, ["school", "list"], env=env)
    assert result.exit_code == 1 and "UNAVAILABLE" in result.stderr and "make run" in result.stderr


async def test_cli_login_with_the_code_typed_at_the_prompt(fakes, tmp_path: Path) -> None:
    _, endpoints = fakes
    env = {
        "PARTA_HOME": str(tmp_path),
        "PARTA_SCHOOL_ADDR": endpoints.school,
        "PARTA_IDENTITY_ADDR": endpoints.identity,
    }
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, app, ["-p", "olga", "login", "+79000000003"], "123456\n", env)
    assert result.exit_code == 0, result.output
    assert "Code from the SMS" in result.output and "+79•••••••03" in result.stdout
    assert "+79000000003" not in result.stdout
    saved = SessionStore(tmp_path, "olga").load()
    assert saved is not None and saved.access_token == "access-1"
    wrong = await asyncio.to_thread(runner.invoke, app, ["-p", "misha", "login", "+79000000011"], "000000\n", env)
    assert wrong.exit_code == 1 and "INVALID_ARGUMENT" in wrong.stderr
    assert SessionStore(tmp_path, "misha").load() is None


async def test_follow_resumes_after_the_history_page_and_counts_only_new_messages(fakes) -> None:
    _, endpoints = fakes
    live: list[bool] = []
    degraded: list[bool] = []
    async with Parta(endpoints, session=stale_session(access_token="access-1")) as parta:
        texts = [
            m.text
            async for m in follow_chat(parta, "c1", 1, 2, on_live=lambda: live.append(True), on_status=degraded.append)
        ]
    # history (last 1), the edit of an older message (shown, not counted), then two new ones
    assert texts == ["second", "first (edited)", "third", "fourth"]
    assert live == [True]
    assert degraded == [True, False]  # live delivery stopped, then came back (the CLI prints a line each)
