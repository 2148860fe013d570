"""The client's local logic: session files, reading dev SMS codes, resolving names, reading error details."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from parta.chat.v1 import events_pb2 as chat_events
from parta_client.cli.chats import message_line, system_text
from parta_client.cli.schools import current_academic_year
from parta_client.devsms import DevSmsFile, mask_phone, normalize_phone
from parta_client.errors import describe
from parta_client.resolve import (
    Candidate,
    UsageError,
    invite_token,
    parse_class_name,
    parse_duration,
    parse_when,
    pick,
)
from parta_client.session import Session, SessionStore


def session(**overrides: object) -> Session:
    values: dict[str, object] = {
        "user_id": "u1",
        "phone": "+79000000002",
        "access_token": "a",
        "refresh_token": "r",
    }
    values.update(overrides)
    return Session(**values)  # type: ignore[arg-type]


# -- sessions ---------------------------------------------------------------------------------------


def test_session_file_is_private_and_round_trips(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "home", "olga")
    store.save(session(school_id="s1"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700
    loaded = store.load()
    assert loaded is not None and loaded.school_id == "s1" and loaded.refresh_token == "r"
    store.save(session(access_token="b"))  # replaced atomically, still private
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load().access_token == "b"  # type: ignore[union-attr]
    assert not list(store.path.parent.glob("*.tmp"))


def test_profiles_are_separate_and_clear_forgets_one(tmp_path: Path) -> None:
    SessionStore(tmp_path, "olga").save(session(user_id="olga"))
    SessionStore(tmp_path, "misha").save(session(user_id="misha"))
    assert SessionStore(tmp_path, "olga").profiles() == ["misha", "olga"]
    assert SessionStore(tmp_path, "olga").clear()
    assert SessionStore(tmp_path, "olga").load() is None
    assert SessionStore(tmp_path, "misha").load().user_id == "misha"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "x" * 65])
def test_profile_names_cannot_escape_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        SessionStore(tmp_path, name)


def test_a_damaged_session_file_reads_as_signed_out(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, "default")
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    assert store.load() is None
    store.path.write_text(json.dumps({"user_id": "u"}))  # required fields missing
    assert store.load() is None


def test_expiry_margin() -> None:
    now = datetime(2026, 9, 1, tzinfo=UTC).timestamp()
    assert session(access_expires_at=now + 10).expires_within(30, now)
    assert not session(access_expires_at=now + 600).expires_within(30, now)
    assert not session(access_expires_at=0).expires_within(30, now)  # unknown: wait for the server


# -- dev SMS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "e164"),
    [("+7 (900) 000-00-02", "+79000000002"), ("8 900 000 00 02", "+79000000002"), ("9000000002", "+79000000002")],
)
def test_phones_are_normalised_like_identity_records_them(typed: str, e164: str) -> None:
    assert normalize_phone(typed) == e164


def test_mask_hides_the_middle() -> None:
    assert mask_phone("+79000000002") == "+79•••••••02"


async def test_code_is_the_newest_for_the_phone_after_the_mark(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    path.write_text(json.dumps({"phone": "+79000000002", "code": "111111"}) + "\n")
    sms = DevSmsFile(path)
    mark = sms.mark()
    assert mark == 1
    with path.open("a") as f:
        f.write(json.dumps({"phone": "+79000000003", "code": "222222"}) + "\n")
        f.write(json.dumps({"phone": "+79000000002", "code": "333333"}) + "\n")
        f.write('{"phone": "+7900')  # a line being written
    assert await sms.wait_code("8 900 000 00 02", after_line=mark, timeout=1) == "333333"
    assert sms.find("+79000000004") is None
    with pytest.raises(TimeoutError) as missing:
        await sms.wait_code("+79000000004", after_line=mark, timeout=0.1)
    assert "+79000000004" not in str(missing.value)  # phones are masked in messages


# -- resolving what people type ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "parsed"), [("5А", (5, "А")), ("5a", (5, "А")), ("11-б", (11, "Б")), (" 9 A ", (9, "А"))]
)
def test_class_names(typed: str, parsed: tuple[int, str]) -> None:
    assert parse_class_name(typed) == parsed


@pytest.mark.parametrize("typed", ["five", "А5", "", "5 "])
def test_bad_class_names(typed: str) -> None:
    with pytest.raises(UsageError):
        parse_class_name(typed)


def test_pick_by_id_or_folded_name_and_refuses_ambiguity() -> None:
    classes = [Candidate("c1", ("5А",)), Candidate("c2", ("5Б",)), Candidate("c3", ("Ольга Смирнова",))]
    assert pick("class", "c2", classes) == "c2"
    assert pick("class", "5a", classes) == "c1"  # Latin a on an English layout
    assert pick("person", "ольга смирнова", classes) == "c3"
    with pytest.raises(UsageError, match="known: 5А, 5Б"):
        pick("class", "9А", classes[:2])
    with pytest.raises(UsageError, match="ambiguous"):
        pick("person", "Ольга", [Candidate("u1", ("Ольга",)), Candidate("u2", ("ольга",))])


def test_a_chat_title_with_a_dash_is_found_however_the_dash_is_typed() -> None:
    chats = [Candidate("cls-1", ("5А",)), Candidate("par-1", ("5А — родители",))]
    for typed in ("5А — родители", "5a - родители", "5А-родители", "5А  –  РОДИТЕЛИ"):
        assert pick("chat", typed, chats) == "par-1"
    assert pick("chat", "5А", chats) == "cls-1"


def test_system_notes_render_in_russian_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARTA_LANG", raising=False)
    note = chat_events.SystemNote(
        kind=chat_events.SYSTEM_KIND_MEMBER_JOINED, subject_user_id="u-olga", subject_name="Ольга"
    )
    message = chat_events.MessageSnapshot(seq=3, system=True, text="old body", system_note=note)
    assert message_line(message, {}).endswith("system: В чате новый участник: Ольга")
    # The current name wins over the one written into the note; English on request.
    assert system_text(note, {"u-olga": "Ольга Смирнова"}) == "В чате новый участник: Ольга Смирнова"
    monkeypatch.setenv("PARTA_LANG", "en")
    assert message_line(message, {}).endswith("system: Ольга joined")
    ended = chat_events.SystemNote(kind=chat_events.SYSTEM_KIND_LESSON_ENDED, count=4)
    assert system_text(ended, {}, "ru") == "Урок закончился, присутствовали: 4"
    # A system message without a note (written before notes existed) shows its body.
    assert message_line(chat_events.MessageSnapshot(seq=1, system=True, text="Lesson started"), {}).endswith(
        "system: Lesson started"
    )


def test_an_erased_authors_message_shows_as_a_deleted_account() -> None:
    erased = chat_events.MessageSnapshot(seq=4, sender_user_id="u-misha", author_erased=True)
    assert message_line(erased, {"u-misha": "Миша"}).endswith("deleted account: ")
    removed = chat_events.MessageSnapshot(seq=5, sender_user_id="u-misha", author_erased=True, deleted=True)
    assert message_line(removed, {}).endswith("deleted account: (deleted)")


def test_invite_token_from_link_or_token() -> None:
    assert invite_token("https://parta.local/join/-AbC_123") == "-AbC_123"
    assert invite_token("https://parta.local/join/tok?utm=x#y") == "tok"
    assert invite_token("  tok  ") == "tok"
    with pytest.raises(UsageError):
        invite_token("https://parta.local/join/")


def test_durations_and_times() -> None:
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("90m") == 5400
    with pytest.raises(UsageError):
        parse_duration("forever")
    now = datetime(2026, 9, 1, 5, 0, tzinfo=UTC)
    assert parse_when("+2h", "Europe/Moscow", now) == datetime(2026, 9, 1, 7, 0, tzinfo=UTC)
    # No offset: the school's local time (Moscow is UTC+3).
    assert parse_when("2026-09-02T09:00", "Europe/Moscow", now) == datetime(2026, 9, 2, 6, 0, tzinfo=UTC)
    assert parse_when("2026-09-02T09:00+05:00", "Europe/Moscow", now) == datetime(2026, 9, 2, 4, 0, tzinfo=UTC)
    with pytest.raises(UsageError):
        parse_when("tomorrow-ish", "Europe/Moscow", now)


def test_academic_year_turns_in_september() -> None:
    from datetime import date

    assert current_academic_year(date(2026, 8, 31)) == "2025/2026"
    assert current_academic_year(date(2026, 9, 1)) == "2026/2027"


# -- error details ----------------------------------------------------------------------------------


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, message: str, trailing: tuple[tuple[str, object], ...]):
        self._code, self._message, self._trailing = code, message, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> tuple[tuple[str, object], ...]:
        return self._trailing


def test_describe_reads_reason_violations_and_retry() -> None:
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="bad input")
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason="INVALID_ARGUMENT", domain="parta"))
    bad = error_details_pb2.BadRequest()
    bad.field_violations.add(field="birth_date", description="must not be in the future")
    status.details.add().Pack(bad)
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.seconds = 42
    status.details.add().Pack(retry)
    error = FakeRpcError(
        grpc.StatusCode.INVALID_ARGUMENT, "bad input", (("grpc-status-details-bin", status.SerializeToString()),)
    )
    failure = describe(error)
    assert failure.code == "INVALID_ARGUMENT"
    assert failure.violations == [("birth_date", "must not be in the future")]
    assert failure.retry_after_seconds == 42
    assert failure.line() == "INVALID_ARGUMENT: bad input"  # the reason is not repeated when it is the code


def test_describe_shows_a_distinct_reason_and_survives_garbage() -> None:
    status = status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message="verify first")
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason="STAFF_NOT_VERIFIED"))
    ok = FakeRpcError(
        grpc.StatusCode.PERMISSION_DENIED, "verify first", (("grpc-status-details-bin", status.SerializeToString()),)
    )
    assert describe(ok).line() == "PERMISSION_DENIED STAFF_NOT_VERIFIED: verify first"
    garbage = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "", (("grpc-status-details-bin", b"\xff\x00garbage"),))
    assert describe(garbage).line() == "UNAVAILABLE: service unreachable"
