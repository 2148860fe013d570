"""`make run`'s demo seed (deploy/local/demo.py) against real identity, school, chat and media-signal
processes, then the printed sign-in path with the CLI: the seed finishes and prints everyone; a rerun
only prints (marker + the school still there); a forced rerun duplicates nothing; Ольга signs in with
the dev SMS file and reads 5А's history; Павел starts the seeded lesson and the class chat says so;
a worksheet uploaded into 5А downloads byte for byte for a student; Анна sees the parents' chat."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from parta_client.cli import app
from typer.testing import CliRunner

from tests.e2e.harness import ROOT, Stack

sys.path.insert(0, str(ROOT / "deploy" / "local"))
import demo
import media

DEMO = ROOT / "deploy" / "local" / "demo.py"
OPERATOR = "+79000000001"  # demo.py's operator, as stack.py configures school


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


def run_demo(env: dict[str, str], sms_file: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), "--sms-file", str(sms_file), "--state", str(state), *extra],
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


async def cli(env: dict[str, str], profile: str, *args: str) -> Any:
    """`parta --profile P --json …` in-process; the parsed JSON."""
    argv = ["--profile", profile, "--json", *args]
    result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"parta {' '.join(argv)} → {result.exit_code}\n{result.output}"
    return json.loads(result.stdout) if result.stdout.strip() else None


async def login(env: dict[str, str], profile: str, phone: str, timeout: float = 20.0) -> Any:
    """`parta login` as a person just seeded: the seed asked for their code moments ago, so the
    resend cooldown may still run — a person waits it out and asks again, and so does this."""
    argv = ["--profile", profile, "--json", "login", phone]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env, catch_exceptions=False)
        if result.exit_code == 0:
            return json.loads(result.stdout)
        if "CODE_RESEND_TOO_SOON" not in result.output or asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"parta {' '.join(argv)} → {result.exit_code}\n{result.output}")
        await asyncio.sleep(0.5)  # the server said "retry after 1 s"; poll until it lets us


async def test_demo_seed_is_complete_idempotent_and_usable_from_the_cli(stack: Stack, tmp_path: Path):
    for component in media.COMPONENTS.values():
        component.up()  # Janus and coturn (idempotent), as `make run` starts them
    identity = await stack.start("identity")
    school = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    chat = await stack.start("chat")
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
    }
    state_file = tmp_path / "demo.json"

    first = run_demo(env, stack.sms_file, state_file)
    assert first.returncode == 0, first.stdout + first.stderr
    for who in ("Ирина Петрова", "Ольга Смирнова", "Павел Орлов", "Миша Иванов", "Анна Иванова", "+79000000002"):
        assert who in first.stdout
    assert "login +79000000003 --sms-file" in first.stdout
    state = json.loads(state_file.read_text())
    assert state["lesson_room_id"] and len(state["people"]) == 13

    again = run_demo(env, stack.sms_file, state_file)
    assert again.returncode == 0 and "already seeded" in again.stdout, again.stdout + again.stderr
    forced = run_demo(env, stack.sms_file, state_file, "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert json.loads(state_file.read_text())["school_id"] == state["school_id"]  # same school, not a second one

    # The printed path: sign in with the dev SMS file, then use the seeded school.
    cli_env = {**env, "PARTA_DEV_SMS_FILE": str(stack.sms_file)}
    olga = await login(cli_env, "olga", "+79000000003")
    assert olga["schools"] == [state["school_id"]] and olga["has_profile"]
    history = await cli(cli_env, "olga", "history", "5А", "--limit", "100")  # past the timetable's notes
    texts = [message["text"] for message in history if not message.get("system")]
    assert texts == [
        "Здравствуйте, ребята! Это чат нашего 5А.",
        "Здравствуйте, Ольга Викторовна!",
        "В пятницу самостоятельная по дробям, повторите §12.",
    ]  # each once, though the seed ran three times
    school_channel = await cli(cli_env, "olga", "history", "school")
    assert len(school_channel) == 2
    members = await cli(cli_env, "olga", "school", "members", "--class", "5А")
    assert sum(1 for m in members if m.get("class_role") == "CLASS_ROLE_STUDENT") == 5
    assert sum(1 for m in members if m.get("class_role") == "CLASS_ROLE_PARENT") == 5

    # 5А's week, set once however often the seed ran, and media-signal's lessons of the next 7 days.
    week = (await cli(cli_env, "olga", "timetable", "show", "5А"))["timetable"]
    assert len(week["slots"]) == len(demo.WEEK) == state["timetable_slots"] and week["version"] == "1"
    subjects = {subject for _, _, subject, _ in demo.WEEK}
    await login(cli_env, "misha", "+79000000011")
    # Every slot once in any 7 days, unless those days run past the term (the last week of August).
    expected = len(demo.WEEK) if date.today() + timedelta(days=8) <= demo.term_end() else 0
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        lessons = [r for r in await cli(cli_env, "misha", "lesson", "list", "--class", "5А") if r["title"] in subjects]
        if len(lessons) >= expected or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.5)
    assert len(lessons) >= expected and len(lessons) <= len(demo.WEEK), [r["title"] for r in lessons]

    # Павел starts the scheduled lesson; chat posts "lesson started" into 5А (media-signal's events).
    await login(cli_env, "pavel", "+79000000004")
    room = await cli(cli_env, "pavel", "lesson", "show", state["lesson_room_id"])
    assert room["state"] == "ROOM_STATE_SCHEDULED" and room["title"] == "Математика 5А"
    started = await cli(cli_env, "pavel", "lesson", "start", state["lesson_room_id"])
    assert started["state"] == "ROOM_STATE_LIVE"
    deadline = asyncio.get_running_loop().time() + 30
    # (5А's chat also announces the timetable's lessons: wait for this lesson's own note.)
    started_note = "Урок начался: Математика 5А"
    while not any(m.get("text") == started_note for m in await cli(cli_env, "olga", "history", "5А")):
        assert asyncio.get_running_loop().time() < deadline, "chat never showed the lesson starting"
        await asyncio.sleep(0.5)

    # A worksheet into 5А, downloaded by a student byte for byte.
    worksheet = tmp_path / "дроби.pdf"
    worksheet.write_bytes(b"%PDF-1.4\n" + os.urandom(300_000))
    uploaded = await cli(cli_env, "pavel", "file", "upload", str(worksheet), "--chat", "5А", "--text", "Задания")
    file_id = uploaded["file"]["file_id"]
    assert uploaded["message"]["file_ids"] == [file_id]
    target = tmp_path / "download"
    target.mkdir()
    await cli(cli_env, "misha", "file", "download", file_id, str(target))
    assert (target / "дроби.pdf").read_bytes() == worksheet.read_bytes()

    await login(cli_env, "anna", "+79000000021")
    titles = {view["chat"]["title"] for view in await cli(cli_env, "anna", "chats", "list")}
    assert {"5А — родители", "Школа № 17"} <= titles
