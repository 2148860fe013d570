"""The `parta` CLI drives the seed's onboarding and a chat exchange against real identity, school and chat
processes: operator registers the school → Ирина (admin by her phone) signs in, makes a profile, class
5А and a teacher invite with its QR → Ольга joins, is verified and made class head → a student invite
that needs approval → Миша asks, Ольга approves → Анна joins by the parent invite, links to Миша and
consents → Ольга writes in 5А while Миша follows the chat live, Миша answers, history shows both;
the school channel refuses a student with its reason, and a profile with no session is told to log in.
Then media-signal: Ольга calls Миша "with the chat 5А" (the room id is posted there), Миша gets his grant,
Миша may not call the admin (CONTACT_NOT_ALLOWED); Ольга schedules a parents' meeting with Анна on stage,
starts it, Анна gets a presenter's grant, Миша is refused (NOT_IN_AUDIENCE), a student cannot schedule a
broadcast (NOT_STAFF); ends by the CLI are seen through media-signal's own API.

Every step is the CLI's own command (in-process through Typer's runner; `follow` as a real process,
since it runs beside other commands)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2
from parta_client import Endpoints, Parta, SessionStore
from parta_client.cli import app
from parta_client.signalling import SignalSession
from typer.testing import CliRunner, Result

from tests.e2e.harness import ROOT, Stack
from tests.e2e.identity_client import random_phone

sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media

OPERATOR = random_phone()


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


class Cli:
    """Runs `parta --profile NAME …` against the stack, one person per profile."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.runner = CliRunner()

    async def run(self, profile: str, *args: str, ok: bool = True) -> Result:
        argv = ["--profile", profile, *args]
        result = await asyncio.to_thread(self.runner.invoke, app, argv, env=self.env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, f"parta {' '.join(argv)} → {result.exit_code}\n{result.output}"
        return result

    async def json(self, profile: str, *args: str) -> Any:
        result = await self.run(profile, "--json", *args)
        return json.loads(result.stdout)


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    """Other services learn about memberships from Kafka: retry until they have (or fail clearly)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"never happened: {what}") from None
            await asyncio.sleep(0.4)


async def test_cli_drives_onboarding_chats_calls_and_broadcasts(stack: Stack, tmp_path: Path):
    identity = await stack.start("identity")
    school = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    chat = await stack.start("chat")
    for component in media.COMPONENTS.values():
        component.up()  # Janus and coturn, idempotent (already up when the infrastructure runs)
    m = media.env()
    rooms = await stack.start(
        "media_signal",
        {
            "MEDIA_SIGNAL_JANUS_URL": m["janus_url"],
            "MEDIA_SIGNAL_TURN_URIS": m["turn_uri"],
            "MEDIA_SIGNAL_TURN_SECRET": m["turn_secret"],
            "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": uuid.uuid4().hex * 2,
        },
    )
    env = {
        "PARTA_HOME": str(tmp_path / "home"),
        "PARTA_IDENTITY_ADDR": identity.address,
        "PARTA_SCHOOL_ADDR": school.address,
        "PARTA_CHAT_ADDR": chat.address,
        "PARTA_MEDIA_SIGNAL_ADDR": rooms.address,
        "PARTA_DEV_SMS_FILE": str(stack.sms_file),
    }
    cli = Cli(env)
    irina_phone, olga_phone, misha_phone, anna_phone = (random_phone() for _ in range(4))

    # 1. The operator registers the school with Ирина's phone.
    await cli.run("operator", "login", OPERATOR)
    registered = await cli.json("operator", "school", "register", "Школа № 17", "--admin-phone", irina_phone)
    school_id = registered["school_id"]
    session_file = tmp_path / "home" / "profiles" / "operator.json"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(session_file.parent.stat().st_mode) == 0o700

    # 2. Ирина signs in: her phone makes her the admin; she creates her profile and class 5А.
    login = await cli.run("irina", "login", irina_phone)
    assert "Школа № 17" in login.stdout and "admin" in login.stdout
    await cli.run("irina", "profile", "create", "Ирина", "Петрова", "--birth-date", "1981-04-12")
    c5a = await cli.json("irina", "class", "create", "5A")  # Latin A typed, Cyrillic А stored
    assert c5a["title"] == "5А"
    shown = await cli.run("irina", "school", "show")
    assert "Школа № 17" in shown.stdout and school_id in shown.stdout

    # 3. A teacher invite: the link, and the QR drawn in the terminal.
    invite = await cli.run("irina", "invite", "create", "--role", "teacher", "--max-uses", "50")
    link = next(line for line in invite.stdout.splitlines() if line.startswith("http"))
    assert "▀" in invite.stdout or "█" in invite.stdout  # segno's compact terminal rendering

    # 4. Ольга previews and accepts the link; Ирина verifies her and makes her class head of 5А.
    olga = await cli.json("olga", "login", olga_phone)
    assert olga["has_profile"] is False
    preview = await cli.run("olga", "invite", "preview", link)
    assert "Школа № 17" in preview.stdout and "teacher" in preview.stdout
    await cli.run("olga", "profile", "create", "Ольга", "Смирнова", "--birth-date", "1985-09-01")
    await cli.run("olga", "invite", "accept", link)

    async def olga_listed_by_name() -> None:
        members = await cli.run("irina", "school", "members")
        assert "Ольга Смирнова" in members.stdout  # identity shares names within a school (from events)

    await eventually(olga_listed_by_name, "identity learns that Ирина and Ольга share a school")
    await cli.run("irina", "school", "verify", "Ольга Смирнова")
    await cli.run("irina", "class", "head", "5А", olga["user_id"])

    # 5. A student invite that needs approval; Миша asks, Ольга approves.
    student_invite = await cli.json(
        "olga", "invite", "create", "--role", "student", "--class", "5А", "--approval", "--no-qr"
    )
    misha = await cli.json("misha", "login", misha_phone)
    await cli.run("misha", "profile", "create", "Миша", "Иванов", "--birth-date", "2015-02-03")
    # Tokens are URL-safe base64 and may start with "-": after "--" they are never taken for an option.
    asked = await cli.run("misha", "invite", "accept", "--", student_invite["token"])
    assert "Join request sent" in asked.stdout
    pending = await cli.json("olga", "requests", "list", "--class", "5А")
    assert [r["user_id"] for r in pending] == [misha["user_id"]]
    await cli.run("olga", "requests", "approve", pending[0]["join_request_id"])
    assert await cli.json("olga", "requests", "list") == []

    # 6. Анна joins by the parent invite bound to Миша, links to him (the school vouches) and consents.
    parent_invite = await cli.json(
        "olga", "invite", "create", "--role", "parent", "--class", "5А", "--child", misha["user_id"], "--no-qr"
    )
    await cli.run("anna", "login", anna_phone)
    await cli.run("anna", "profile", "create", "Анна", "Иванова", "--birth-date", "1988-06-20")
    await cli.run("anna", "invite", "accept", parent_invite["link"])

    async def anna_sees_misha() -> None:  # identity's projection of school's seats has Анна's parent seat
        members = await cli.run("anna", "school", "members", "--class", "5А")
        assert "Миша Иванов" in members.stdout

    await eventually(anna_sees_misha, "identity learns Анна's parent seat for Миша")
    link = await cli.json("anna", "guardian", "link", "--child-phone", misha_phone)
    assert link["state"] == "GUARDIAN_LINK_STATE_LINKED" and link["confirmed_by"] == "school"
    await cli.run("anna", "guardian", "consent", misha["user_id"])
    children = await cli.run("anna", "guardian", "children")
    assert "Миша Иванов" in children.stdout and "yes" in children.stdout

    # 7. The chat exchange in 5А: Миша follows live (a real process), Ольга writes, Миша answers.
    async def class_chat_ready() -> None:
        chats = await cli.json("misha", "chats", "list")
        assert any(c["chat"]["title"] == "5А" and c.get("can_post") for c in chats), chats
        olga_chats = await cli.json("olga", "chats", "list")
        assert any(c["chat"]["title"] == "5А" for c in olga_chats)

    await eventually(class_chat_ready, "chat provisions 5А with Миша and Ольга from school's events")

    follower = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "parta_client",
        "--profile",
        "misha",
        "follow",
        "5А",
        "--count",
        "1",
        "--last",
        "0",
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert follower.stderr is not None and follower.stdout is not None
        ready = await asyncio.wait_for(follower.stderr.readline(), 30)
        assert b"following" in ready, ready
        await cli.run("olga", "send", "5А", "Добро пожаловать в 5А!")
        followed, _ = await asyncio.wait_for(follower.communicate(), 30)
    finally:
        if follower.returncode is None:
            follower.kill()
            await follower.wait()
    assert follower.returncode == 0
    assert "Ольга Смирнова: Добро пожаловать в 5А!" in followed.decode()

    async def misha_answers() -> None:  # chat learns the consent from identity's events
        result = await cli.run("misha", "send", "5А", "Спасибо!", ok=False)
        assert result.exit_code == 0, result.output

    await eventually(misha_answers, "Миша may write once Анна consented")
    history = await cli.json("olga", "history", "5А", "--limit", "10")
    assert [m["text"] for m in history if not m.get("system")][-2:] == ["Добро пожаловать в 5А!", "Спасибо!"]
    assert history[-2]["sender_user_id"] == olga["user_id"] and history[-1]["sender_user_id"] == misha["user_id"]

    await calls_and_broadcasts(cli, env, tmp_path / "home", misha["user_id"], olga["user_id"])

    # 8. Refusals print the status and reason, exit non-zero, no traceback.
    await eventually(
        lambda: _assert_ok(cli.run("irina", "send", "school", "Завтра линейка в 9:00", ok=False)),
        "the school channel knows Ирина",
    )
    refused = await cli.run("misha", "send", "school", "привет всем", ok=False)
    assert refused.exit_code == 1
    assert "PERMISSION_DENIED" in refused.stderr and "Traceback" not in refused.output
    nobody = await cli.run("nobody", "chats", "list", ok=False)
    assert nobody.exit_code == 1 and "parta login" in nobody.stderr
    who = await cli.run("anna", "whoami")
    assert "Анна Иванова" in who.stdout and anna_phone not in who.stdout  # the phone is masked
    await cli.run("anna", "logout")
    signed_out = await cli.run("anna", "chats", "list", ok=False)
    assert signed_out.exit_code == 1 and "parta login" in signed_out.stderr
    assert not (tmp_path / "home" / "profiles" / "anna.json").exists()
    bad = await cli.run("irina", "class", "create", "five", ok=False)
    assert bad.exit_code == 2 and "grade and a letter" in bad.stderr
    invalid = await cli.run("irina", "profile", "create", "И", "П", "--birth-date", "3020-01-01", ok=False)
    assert invalid.exit_code == 1 and "INVALID_ARGUMENT" in invalid.stderr and "birth_date" in invalid.stderr


async def _assert_ok(pending: Awaitable[Result]) -> None:
    result = await pending
    assert result.exit_code == 0, result.output


async def room_seen_by(env: dict[str, str], home: Path, profile: str, room_id: str) -> media_signal_pb2.Room:
    """The room through media-signal's own API (GetRoom with that person's session), not the CLI."""
    endpoints = Endpoints.from_env(env)
    async with Parta(endpoints, SessionStore(home, profile)) as parta:
        reply = await parta.rooms.GetRoom(media_signal_pb2.GetRoomRequest(room_id=room_id))
        room: media_signal_pb2.Room = reply.room
        return room


async def calls_and_broadcasts(cli: Cli, env: dict[str, str], home: Path, misha_id: str, olga_id: str) -> None:
    # 9. Ольга calls Миша through the class chat: the call is live, Миша is invited, the chat carries the id.
    async def olga_calls() -> Any:  # media-signal learns seats and Ольга's verification from Kafka
        result = await cli.run("olga", "--json", "call", "start", "--chat", "5А", "--title", "Про экскурсию", ok=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    started = await eventually(olga_calls, "media-signal lets Ольга (verified class head) call Миша")
    call_id = started["room"]["room_id"]
    assert started["room"]["state"] == "ROOM_STATE_LIVE" and started["room"]["invited_user_ids"] == [misha_id]
    assert started["join"]["grants"]["is_host"] and not started["join"].get("token")  # hidden without --reveal
    assert started["join"]["ice_servers"] and not started["join"]["ice_servers"][0].get("credential")
    seen = await room_seen_by(env, home, "misha", call_id)
    assert seen.kind == room_events.ROOM_KIND_CALL and seen.state == media_signal_pb2.ROOM_STATE_LIVE
    assert list(seen.invited_user_ids) == [misha_id] and seen.host_user_id == olga_id
    ring = await cli.json("misha", "history", "5А", "--limit", "5")
    assert any(f"parta call join {call_id}" in m.get("text", "") for m in ring)
    joined = await cli.run("misha", "call", "join", call_id)
    assert "publish" in joined.stdout and "Token: hidden" in joined.stdout and "turn:" in joined.stdout
    revealed = await cli.json("misha", "call", "join", call_id, "--reveal")
    assert revealed["join"]["token"] and revealed["join"]["token"] not in joined.stdout
    # A student finds people in his own classes only (the school-wide list is for staff, docs/safety.md
    # R13): the admin, who does not teach him, is no one he can name; a usage error, no traceback.
    refused = await cli.run("misha", "call", "start", "Ирина Петрова", ok=False)
    assert refused.exit_code == 2 and "no person" in refused.stderr
    assert "Traceback" not in refused.output
    assert call_id in [r["room_id"] for r in await cli.json("misha", "call", "list")]
    await cli.run("olga", "call", "end", call_id)
    assert (await room_seen_by(env, home, "misha", call_id)).state == media_signal_pb2.ROOM_STATE_ENDED
    assert call_id not in [r["room_id"] for r in await cli.json("misha", "call", "list")]
    assert call_id in [r["room_id"] for r in await cli.json("misha", "call", "list", "--ended")]

    # 10. A parents' meeting: a student cannot hold one; Ольга schedules it with Анна on stage.
    student = await cli.run("misha", "broadcast", "schedule", "--title", "Мой стрим", ok=False)
    assert student.exit_code == 1 and "PERMISSION_DENIED NOT_STAFF" in student.stderr
    meeting = await cli.json(
        "olga", "broadcast", "schedule", "--class", "5А", "--title", "Родительское собрание", "--at", "+1d",
        "--presenter", "Анна Иванова",
    )  # fmt: skip
    room_id = meeting["room_id"]
    seen = await room_seen_by(env, home, "irina", room_id)
    assert seen.kind == room_events.ROOM_KIND_BROADCAST and seen.state == media_signal_pb2.ROOM_STATE_SCHEDULED
    assert seen.class_id and seen.title == "Родительское собрание" and seen.scheduled_for.seconds
    # Listings show it to its audience and presenters, never to a student of the class.
    assert [r["room_id"] for r in await cli.json("anna", "broadcast", "list")] == [room_id]
    assert room_id in [r["room_id"] for r in await cli.json("irina", "broadcast", "list", "--class", "5А")]
    assert await cli.json("misha", "broadcast", "list") == []
    shown = await cli.run("anna", "broadcast", "show", room_id)
    assert "Родительское собрание — broadcast, scheduled" in shown.stdout and "Presenters: Анна Иванова" in shown.stdout
    assert (await cli.json("olga", "broadcast", "start", room_id))["state"] == "ROOM_STATE_LIVE"
    presenter = await cli.json("anna", "broadcast", "join", room_id)
    assert presenter["join"]["grants"].get("can_publish") and not presenter["join"]["grants"].get("is_host")
    viewer = await cli.json("irina", "broadcast", "join", room_id)
    assert viewer["join"]["grants"].get("can_subscribe") and not viewer["join"]["grants"].get("can_publish")
    await stage(cli, env, home, room_id)
    kid = await cli.run("misha", "broadcast", "join", room_id, ok=False)
    assert kid.exit_code == 1 and "NOT_IN_AUDIENCE" in kid.stderr
    not_host = await cli.run("anna", "broadcast", "end", room_id, ok=False)
    assert not_host.exit_code == 1 and "NOT_HOST" in not_host.stderr
    assert (await room_seen_by(env, home, "irina", room_id)).state == media_signal_pb2.ROOM_STATE_LIVE
    await cli.run("olga", "broadcast", "end", room_id)
    assert (await room_seen_by(env, home, "irina", room_id)).state == media_signal_pb2.ROOM_STATE_ENDED


async def stage(cli: Cli, env: dict[str, str], home: Path, room_id: str) -> None:
    """Ирина watches (a signalling session of the SDK, no media) and raises her hand; Ольга sees it with
    `broadcast people`, puts her on stage and takes her off; Ирина's own stream is told each time."""
    async with Parta(Endpoints.from_env(env), SessionStore(home, "irina")) as parta:
        async with SignalSession(parta, room_id) as irina:
            me = irina.participant_id
            assert not irina.state.self.grants.can_publish
            await irina.call.write(
                media_signal_pb2.SignalRequest(raise_hand=media_signal_pb2.RaiseHandRequest(raised=True))
            )
            await irina.expect(lambda r: r.WhichOneof("message") == "participant_updated")
            people = await cli.json("olga", "broadcast", "people", room_id)
            assert [(p["participant_id"], p.get("hand_raised")) for p in people] == [(me, True)]
            on = await cli.run("olga", "broadcast", "stage", room_id, "Ирина Петрова")
            assert "Ирина Петрова is on stage" in on.stdout
            notice = await irina.expect(lambda r: r.WhichOneof("message") == "host_action")
            assert notice.host_action.action == media_signal_pb2.HOST_ACTION_TYPE_PROMOTE
            # The CLI's moderator seat left cleanly ("left", not a keep-alive "timeout" 15 s later).
            gone = await irina.expect(lambda r: r.WhichOneof("message") == "participant_left")
            assert gone.participant_left.reason == "left"
            await cli.run("olga", "broadcast", "stage", room_id, "Ирина Петрова", "--off")
            notice = await irina.expect(lambda r: r.WhichOneof("message") == "host_action")
            assert notice.host_action.action == media_signal_pb2.HOST_ACTION_TYPE_DEMOTE
            # Анна, a presenter but not the host, sees who is in but may not move anyone (in-stream refusal).
            assert [p["participant_id"] for p in await cli.json("anna", "broadcast", "people", room_id)] == [me]
            not_host = await cli.run("anna", "broadcast", "stage", room_id, "Ирина Петрова", ok=False)
            assert not_host.exit_code == 1 and "PERMISSION_DENIED NOT_HOST" in not_host.stderr, not_host.output
    absent = await cli.run("olga", "broadcast", "stage", room_id, "Анна Иванова", ok=False)
    assert absent.exit_code == 2 and "not in the broadcast now" in absent.stderr
